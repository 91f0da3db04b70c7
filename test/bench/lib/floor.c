/*
 * floor ROOT WORKERS NAMES_FILE
 *
 * The bare work of ingestd with no daemon around it, durable one packet at a
 * time: the floor that group commit must beat (issue 10). WORKERS processes
 * are forked; process i takes every WORKERS-th name of NAMES_FILE (one a
 * line) starting at i, and for each, on its own directories:
 *
 *   1. claim:    rename ROOT/inbox/NAME -> ROOT/work-i/NAME (waits, polling
 *                every 100 us, until the name has been dropped);
 *   2. extract:  libarchive, secure flags, into ROOT/work-i/tree/ (the
 *                process's working directory is work-i/);
 *   3. manifest: read tree/data_info.yml, require a "name:" key;
 *   4. journal:  append one line to ROOT/journal-i (one write) + fdatasync;
 *   5. file:     rename work-i/NAME -> ROOT/done-i/NAME + fsync(done-i/);
 *   6. clean up: remove the tree.
 *
 * Two syncs per packet (the journal, the directory it was filed in), the
 * order GROUP-COMMIT.md calls write-ahead. No fsync of the claim: a lost
 * claim only means the packet is processed again. Journal lines are
 * "ts=... name=NAME outcome=done claim=S.US filed=S.US" as bench.peer_journal reads,
 * with filed= read just before step 4. Exits 0 when every process handled
 * its share. Built by test/bench/throughput: cc -O2 floor.c -larchive.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *root;

static void
die(const char *what)
{
	fprintf(stderr, "floor[%ld]: %s: %s\n", (long)getpid(), what, strerror(errno));
	_exit(1);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
extract(const char *zip, const char *tree)
{
	struct archive *a = archive_read_new(), *w = archive_write_disk_new();
	struct archive_entry *e;
	char path[PATH_MAX + 32];
	int r, rc = 0;

	archive_read_support_format_zip(a);
	archive_write_disk_set_options(w, ARCHIVE_EXTRACT_SECURE_NODOTDOT |
	    ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
	if (archive_read_open_filename(a, zip, 16384) != ARCHIVE_OK) {
		rc = -1;
		goto out;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const void *buf;
		size_t len;
		la_int64_t off;

		snprintf(path, sizeof(path), "%s/%s", tree, archive_entry_pathname(e));
		archive_entry_set_pathname(e, path);
		if (archive_write_header(w, e) != ARCHIVE_OK) {
			rc = -1;
			break;
		}
		while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK)
			if (archive_write_data_block(w, buf, len, off) != ARCHIVE_OK)
				break;
		if (r != ARCHIVE_EOF || archive_write_finish_entry(w) != ARCHIVE_OK) {
			rc = -1;
			break;
		}
	}
	if (r != ARCHIVE_EOF)
		rc = -1;
out:
	archive_read_free(a);
	archive_write_free(w);
	return rc;
}

static int
manifest_ok(const char *tree)
{
	char path[PATH_MAX + 32], buf[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/data_info.yml", tree);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strncmp(buf, "name:", 5) == 0 || strstr(buf, "\nname:") != NULL;
}

static void
rmtree(const char *tree)
{
	/* The packets are flat: data_info.yml and data.bin. */
	static const char *const f[] = { "data_info.yml", "data.bin" };
	char path[PATH_MAX + 32];
	size_t i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tree, f[i]);
		unlink(path);
	}
	if (rmdir(tree) == -1 && errno != ENOENT)
		die(tree);
}

static void
work(int me, int nw, char **names, size_t count)
{
	char in[PATH_MAX], wk[PATH_MAX], out[PATH_MAX], line[PATH_MAX + 128];
	const char *tree = "tree";
	char dir[PATH_MAX];
	int jfd, dfd;
	size_t i;

	snprintf(dir, sizeof(dir), "%s/journal-%d", root, me);
	jfd = open(dir, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	snprintf(dir, sizeof(dir), "%s/done-%d", root, me);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (jfd == -1 || dfd == -1)
		die("open");
	/* Relative paths for the extraction: SECURE_NOABSOLUTEPATHS refuses others. */
	snprintf(dir, sizeof(dir), "%s/work-%d", root, me);
	if (chdir(dir) == -1)
		die(dir);
	for (i = (size_t)me; i < count; i += (size_t)nw) {
		const char *n = names[i];
		double claim, filed;
		const char *outcome = "done";
		int len;

		snprintf(in, sizeof(in), "%s/inbox/%s", root, n);
		snprintf(wk, sizeof(wk), "%s/work-%d/%s", root, me, n);
		while (rename(in, wk) == -1) {
			if (errno != ENOENT)
				die(in);
			usleep(100);	/* not dropped yet */
		}
		claim = now();
		if (extract(wk, tree) == -1 || !manifest_ok(tree))
			outcome = "failed";
		filed = now();
		len = snprintf(line, sizeof(line),
		    "ts=%.3f name=%s outcome=%s claim=%.6f filed=%.6f pid=%ld\n",
		    filed, n, outcome, claim, filed, (long)getpid());
		if (write(jfd, line, (size_t)len) != len || fdatasync(jfd) == -1)
			die("journal");
		snprintf(out, sizeof(out), "%s/done-%d/%s", root, me, n);
		if (rename(wk, out) == -1 || fsync(dfd) == -1)
			die(out);
		rmtree(tree);
	}
	_exit(0);
}

int
main(int argc, char **argv)
{
	char **names = NULL, buf[PATH_MAX], dir[PATH_MAX];
	size_t count = 0, cap = 0;
	int nw, i, rc = 0, st;
	FILE *f;

	if (argc != 4 || (nw = atoi(argv[2])) < 1) {
		fprintf(stderr, "usage: floor ROOT WORKERS NAMES_FILE\n");
		return 64;
	}
	root = realpath(argv[1], NULL);	/* each worker chdirs */
	if (root == NULL)
		die(argv[1]);
	f = fopen(argv[3], "r");
	if (f == NULL)
		die(argv[3]);
	while (fgets(buf, sizeof(buf), f) != NULL) {
		buf[strcspn(buf, "\n")] = '\0';
		if (count == cap) {
			cap = cap ? cap * 2 : 1024;
			names = realloc(names, cap * sizeof(*names));
			if (names == NULL)
				die("realloc");
		}
		names[count++] = strdup(buf);
	}
	fclose(f);
	for (i = 0; i < nw; i++) {
		snprintf(dir, sizeof(dir), "%s/work-%d", root, i);
		if (mkdir(dir, 0750) == -1 && errno != EEXIST)
			die(dir);
		snprintf(dir, sizeof(dir), "%s/done-%d", root, i);
		if (mkdir(dir, 0750) == -1 && errno != EEXIST)
			die(dir);
	}
	printf("ready\n");
	fflush(stdout);
	for (i = 0; i < nw; i++) {
		pid_t p = fork();

		if (p == -1)
			die("fork");
		if (p == 0)
			work(i, nw, names, count);
	}
	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			rc = 1;
	return rc;
}
