#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cli_retry.h"
#include "cli_spool.h"
#include "conf.h"
#include "failures.h"
#include "journal.h"
#include "log.h"

static const char *const records[] = { ".error", ".log", ".json", ".tree" };
#define NRECORDS (sizeof(records) / sizeof(records[0]))

struct retry {
	const char    *spool;
	int            dirfd, failedfd, inboxfd;
	struct journal jl;
	const char    *reason;	/* --reason GLOB, or NULL */
	unsigned       done;
};

static int
is_job_id(const char *s)
{
	return strlen(s) == 16 && strspn(s, "0123456789abcdef") == 16;
}

/* Rename STEM's records to STEM.retried-J.*, or back (undo). Returns how many moved, or -1. */
static int
move_records(struct retry *r, const char *stem, const char *id, int undo, size_t upto)
{
	char a[NAME_MAX + 64], b[NAME_MAX + 64];
	size_t i;

	for (i = 0; i < NRECORDS && i < upto; i++) {
		snprintf(a, sizeof(a), "%s%s", stem, records[i]);
		snprintf(b, sizeof(b), "%s" FAILURES_RETRIED "%s%s", stem, id, records[i]);
		if (undo) {
			(void)renameat2(r->failedfd, b, r->failedfd, a, RENAME_NOREPLACE);
			continue;
		}
		if (renameat2(r->failedfd, a, r->failedfd, b, RENAME_NOREPLACE) == -1 &&
		    errno != ENOENT) {
			int e = errno;

			fprintf(stderr, "ingestd: cannot rename %s/failed/%s to %s: %s\n", r->spool,
			    a, b, strerror(e));
			(void)move_records(r, stem, id, 1, i);
			errno = e;
			return -1;
		}
	}
	return 0;
}

/*
 * Hold the journal shared, as the daemon's appends do, so that a rotation
 * (which holds it exclusive, then renames it to journal.1) never finds our
 * line after it declared the old file final: when the file we hold is no
 * longer the one named journal, move on to the new one.
 */
static int
hold_current(struct retry *r)
{
	struct stat a, b;
	int fd;

	for (;;) {
		if (flock(r->jl.fd, LOCK_SH) == -1)
			return -1;
		if (fstat(r->jl.fd, &a) == 0 && fstatat(r->dirfd, JOURNAL_FILE, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
		    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			return 0;
		(void)flock(r->jl.fd, LOCK_UN);
		fd = openat(r->dirfd, JOURNAL_FILE, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
		if (fd == -1)
			return -1;
		close(r->jl.fd);
		r->jl.fd = fd;
		if (r->jl.rw >= 0) {
			close(r->jl.rw);
			r->jl.rw = -1;
		}
	}
}

/* The journal's word on it: one line, appended and synced; a reader that counts jobs skips it. */
static void
journal_retried(struct retry *r, const char *name, const char *stem, const char *id)
{
	char ts[40], line[JOURNAL_LINE_MAX], from[NAME_MAX + 16], rec[NAME_MAX + 48];
	off_t at, upto;
	int n, rc, e;

	journal_timestamp(ts, sizeof(ts));
	snprintf(from, sizeof(from), "failed/%s", stem);
	snprintf(rec, sizeof(rec), "failed/%s" FAILURES_RETRIED "%s", stem, id);
	n = snprintf(line, sizeof(line), "ts=%s event=retried name=%s from=%s records=%s\n", ts,
	    LQ(name), LQ(from), LQ(rec));
	if (n < 0 || (size_t)n >= sizeof(line) || hold_current(r) == -1)
		goto fail;
	rc = journal_append(&r->jl, line, (size_t)n, &at);
	e = errno;
	(void)flock(r->jl.fd, LOCK_UN);
	errno = e;
	if (rc == 0 && journal_sync(&r->jl, &upto) == 0)
		return;
fail:
	fprintf(stderr, "ingestd: %s/journal: the retried line of %s: %s\n", r->spool,
	    LQ(name), strerror(errno));
}

/* Put one failure back. 0, or an exit status with the reason on stderr. */
static int
retry_one(struct retry *r, const struct failure *f)
{
	char id[24], inbox[NAME_MAX + 16];
	const char *name = f->name;
	struct stat st;
	int e;

	if (!f->packet) {
		fprintf(stderr, "ingestd: %s/failed/%s: the packet is gone, only its records are "
		    "left\n", r->spool, LQ(f->stem));
		return EX_NOINPUT;
	}
	/* The name it arrived under is what its handler and producer know. */
	if (strchr(name, '/') != NULL || name[0] == '.' || name[0] == '\0')
		name = f->stem;
	if (is_job_id(f->job))
		snprintf(id, sizeof(id), "%s", f->job);
	else {
		struct timespec now;

		/* No line to name the job: a time-ordered id of the same shape. */
		clock_gettime(CLOCK_REALTIME, &now);
		snprintf(id, sizeof(id), "%016llx",
		    (unsigned long long)now.tv_sec * 1000000000ULL + (unsigned long long)now.tv_nsec);
	}
	snprintf(inbox, sizeof(inbox), "inbox/%s", name);
	if (fstatat(r->inboxfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		fprintf(stderr, "ingestd: %s/%s exists: %s not retried\n", r->spool, LQ(inbox),
		    LQ(f->stem));
		return EX_CANTCREAT;
	}
	if (move_records(r, f->stem, id, 0, NRECORDS) == -1)
		return cli_spool_status(errno);
	/* The producer protocol: a rename into inbox/ counts at once. Never a copy. */
	if (renameat2(r->failedfd, f->stem, r->inboxfd, name, RENAME_NOREPLACE) == -1) {
		e = errno;
		fprintf(stderr, "ingestd: cannot rename %s/failed/%s to %s: %s\n", r->spool,
		    LQ(f->stem), LQ(inbox), strerror(e));
		(void)move_records(r, f->stem, id, 1, NRECORDS);
		return e == EEXIST ? EX_CANTCREAT : cli_spool_status(e);
	}
	journal_retried(r, name, f->stem, id);
	if (fsync(r->inboxfd) == -1 || fsync(r->failedfd) == -1)
		fprintf(stderr, "ingestd: %s: sync: %s\n", r->spool, strerror(errno));
	printf("retried failed/%s -> %s (records: failed/%s" FAILURES_RETRIED "%s.*)\n",
	    LQ(f->stem), LQ(inbox), LQ(f->stem), id);
	r->done++;
	return 0;
}

static int
wanted(const struct retry *r, const struct failure *f)
{
	return r->reason == NULL || (f->from != 0 && fnmatch(r->reason, f->reason, 0) == 0);
}

static int
open_dirs(struct retry *r)
{
	static const char *const sub[] = { "failed", "inbox" };
	int *fds[] = { &r->failedfd, &r->inboxfd };
	size_t i;

	for (i = 0; i < 2; i++)
		if ((*fds[i] = openat(r->dirfd, sub[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
			fprintf(stderr, "ingestd: cannot open %s/%s: %s\n", r->spool, sub[i],
			    strerror(errno));
			return cli_spool_status(errno);
		}
	/*
	 * Never create it: made by root here, the daemon could not append to it.
	 * journal_append() blanks an append a full disk cuts short, as the daemon's.
	 */
	r->jl.dirfd = r->dirfd;
	r->jl.rw = -1;
	r->jl.gen = NULL;	/* rotations are seen by inode instead: hold_current() */
	r->jl.fd = openat(r->dirfd, JOURNAL_FILE, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (r->jl.fd == -1) {
		fprintf(stderr, "ingestd: cannot open %s/%s for writing: %s\n", r->spool,
		    JOURNAL_FILE, strerror(errno));
		return cli_spool_status(errno);
	}
	return 0;
}

static int
run(struct retry *r, int all, char **names, int n)
{
	struct failures fs;
	struct failure f;
	int i, rc = 0, one;
	size_t k;

	if (all) {
		if (failures_list(r->dirfd, &fs) == -1) {
			fprintf(stderr, "ingestd: cannot read %s/failed: %s\n", r->spool, strerror(errno));
			return cli_spool_status(errno);
		}
		for (k = 0; k < fs.n; k++)
			if (fs.v[k].packet && wanted(r, &fs.v[k]) && (one = retry_one(r, &fs.v[k])) != 0)
				rc = one;
		failures_free(&fs);
		return rc;
	}
	for (i = 0; i < n; i++) {
		if (failures_get(r->dirfd, names[i], &f) == -1) {
			fprintf(stderr, "ingestd: no failed packet %s in %s/failed%s%s\n", LQ(names[i]),
			    r->spool, errno == ENOENT ? "" : ": ", errno == ENOENT ? "" : strerror(errno));
			rc = errno == ENOENT ? EX_NOINPUT : cli_spool_status(errno);
			continue;
		}
		if (!wanted(r, &f))
			fprintf(stderr, "ingestd: %s: its reason does not match --reason %s: not retried\n",
			    LQ(names[i]), LQ(r->reason));
		else if ((one = retry_one(r, &f)) != 0)
			rc = one;
		failure_clear(&f);
	}
	return rc;
}

int
cli_retry_main(int argc, char *argv[])
{
	static const char usage[] =
	    "usage: ingestd retry [-c FILE | -d SPOOL] [--reason GLOB] NAME...\n"
	    "       ingestd retry [-c FILE | -d SPOOL] [--reason GLOB] --all\n"
	    "Put failed packets back into SPOOL/inbox/ by rename; their old records are kept\n"
	    "as failed/NAME.retried-JOB.error (.log, .json) and the journal says event=retried.\n"
	    "  -c FILE        the spool is spool: of FILE (default: /etc/ingestd/ingestd.yml)\n"
	    "  -d SPOOL       the spool directory\n"
	    "  --all          every packet in failed/\n"
	    "  --reason GLOB  only those whose reason matches GLOB, e.g. 'timeout*'\n"
	    "  --help         this text\n";
	static const struct option longopts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "reason", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL, *dir = NULL;
	struct retry r;
	struct conf c;
	int ch, all = 0, rc;

	memset(&r, 0, sizeof(r));
	r.dirfd = r.failedfd = r.inboxfd = r.jl.fd = r.jl.rw = -1;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:d:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'a':
			all = 1;
			break;
		case 'r':
			r.reason = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			printf("ingestd %s\n", INGESTD_VERSION);
			return 0;
		default:
			fputs(usage, stderr);
			return EX_USAGE;
		}
	}
	if (all == (optind < argc)) {
		fprintf(stderr, "ingestd retry: name the packets, or give --all\n%s", usage);
		return EX_USAGE;
	}
	if ((rc = cli_spool_find(file, dir, &c, &r.spool)) != 0)
		return rc;
	if ((r.dirfd = cli_spool_open(r.spool, &rc)) != -1 && (rc = open_dirs(&r)) == 0) {
		rc = run(&r, all, argv + optind, argc - optind);
		if (r.done == 0 && rc == 0)
			fprintf(stderr, "ingestd: nothing to retry in %s/failed\n", r.spool);
	}
	journal_close(&r.jl);
	if (r.failedfd >= 0)
		close(r.failedfd);
	if (r.inboxfd >= 0)
		close(r.inboxfd);
	if (r.dirfd >= 0)
		close(r.dirfd);
	conf_free(&c);
	return rc;
}
