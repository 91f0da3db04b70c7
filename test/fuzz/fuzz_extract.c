/*
 * libFuzzer target for the extraction step: archive bytes in, files in a temp
 * dir out, limits on. After every input: the working directory is the same,
 * nothing appeared beside the tree, the canary is intact, a failure left no
 * tree, and a tree holds only what the rules allow (regular files and
 * directories, links only inside with packet.links: inside, no set-id bits).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "extract.h"
#include "log.h"
#include "spool.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s\n", #c); abort(); } } while (0)
#define CANARY "do not touch\n"

static char base[PATH_MAX], in[PATH_MAX + 8], tree[PATH_MAX + 8], canary[PATH_MAX + 16];
static char cwd[PATH_MAX];

static void
cleanup(void)
{
	(void)spool_rmtree(AT_FDCWD, base);
}

static void
init(void)
{
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	int fd;

	setlocale(LC_CTYPE, "C.UTF-8");
	log_init("fuzz", -2);
	snprintf(base, sizeof(base), "%s/fuzz_extract.XXXXXX", tmp);
	CHECK(mkdtemp(base) != NULL);
	snprintf(in, sizeof(in), "%s/in", base);
	snprintf(tree, sizeof(tree), "%s/tree", base);
	snprintf(canary, sizeof(canary), "%s/canary", base);
	CHECK(mkdir(canary, 0755) == 0);
	strcat(canary, "/file");
	fd = open(canary, O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0 && write(fd, CANARY, strlen(CANARY)) == (ssize_t)strlen(CANARY));
	close(fd);
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	atexit(cleanup);
}

/* Every entry of the tree obeys the rules. */
static void
check_tree(int dfd, int links)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	struct stat st;

	CHECK(d != NULL);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		CHECK(fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0);
		CHECK((st.st_mode & 07000) == 0);
		if (S_ISDIR(st.st_mode))
			check_tree(openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW),
			    links);
		else
			CHECK(S_ISREG(st.st_mode) || (links && S_ISLNK(st.st_mode)));
	}
	closedir(d);
}

static void
check_outside(void)
{
	char buf[64], now[PATH_MAX];
	struct dirent *de;
	ssize_t n;
	DIR *d;
	int fd;

	CHECK(getcwd(now, sizeof(now)) != NULL && strcmp(now, cwd) == 0);
	d = opendir(base);
	CHECK(d != NULL);
	while ((de = readdir(d)) != NULL)
		CHECK(strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, "in") == 0 || strcmp(de->d_name, "canary") == 0);
	closedir(d);
	fd = open(canary, O_RDONLY | O_NOFOLLOW);
	CHECK(fd >= 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	CHECK(n == (ssize_t)strlen(CANARY) && memcmp(buf, CANARY, (size_t)n) == 0);
}

static const char *filters_all[] = { "bzip2", "compress", "gzip", "lz4", "lzip", "lzma", "lzop", "rpm", "uu", "xz", "zstd" };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *fmts[] = { "zip", "tar", NULL };
	struct conf_packet p;
	struct extract_stats st;
	char reason[2048];
	int fd, r, e;

	if (base[0] == '\0')
		init();
	fd = open(in, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, data, size) == (ssize_t)size);

	memset(&p, 0, sizeof(p));
	p.formats.v = fmts;
	p.formats.n = 2;
	p.filters.v = (char **)filters_all;
	p.filters.n = sizeof(filters_all) / sizeof(filters_all[0]);
	p.links = (size & 1) ? LINKS_INSIDE : LINKS_REFUSE;
	p.max_bytes = 16 << 20;
	p.max_entries = 2000;
	p.max_file_bytes = 8 << 20;
	p.max_ratio = 1000;
	p.max_depth = 16;

	r = extract_archive(fd, tree, &p, &st, reason, sizeof(reason));
	e = errno;
	close(fd);
	if (r == 0) {
		check_tree(open(tree, O_RDONLY | O_DIRECTORY | O_NOFOLLOW), p.links == LINKS_INSIDE);
		CHECK(st.bytes <= p.max_bytes && st.entries <= p.max_entries);
		CHECK(spool_rmtree(AT_FDCWD, tree) == 0);
	} else {
		CHECK(access(tree, F_OK) == -1);
		if (r == -1) {
			fprintf(stderr, "system error %d (%s): %s\n", e, strerror(e), reason);
			abort();
		}
		CHECK(r == EXTRACT_BAD || r == EXTRACT_PLAIN);
		CHECK(reason[0] != '\0' && strchr(reason, '\n') == NULL);
	}
	check_outside();
	return 0;
}
