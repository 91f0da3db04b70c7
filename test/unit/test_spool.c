/* spool.c, job.c, journal.c, log.c: naming in done/, job dirs, the journal, logfmt quoting. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "job.h"
#include "journal.h"
#include "log.h"
#include "spool.h"

static char tmpl[] = "/tmp/ingestd-test-spool.XXXXXX";

static int
touch(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

	return fd == -1 ? -1 : close(fd);
}

static int
setup(void **state)
{
	struct spool *s = calloc(1, sizeof(*s));
	char err[512], path[PATH_MAX];

	strcpy(tmpl + strlen(tmpl) - 6, "XXXXXX");
	if (s == NULL || mkdtemp(tmpl) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/spool", tmpl);
	if (spool_open(s, path, 0, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	struct spool *s = *state;
	int top = open("/tmp", O_RDONLY | O_DIRECTORY);

	spool_close(s);
	free(s);
	(void)spool_rmtree(top, strrchr(tmpl, '/') + 1);
	close(top);
	return 0;
}

/* Nothing already filed is ever reused: name, then name.~1~, name.~2~, ... */
static void
test_pick_stem_numbers(void **state)
{
	struct spool *s = *state;
	char stem[NAME_MAX + 1];
	unsigned n = 0;

	assert_int_equal(spool_pick_stem(s->donefd, "x.zip", &n, stem, sizeof(stem)), 0);
	assert_string_equal(stem, "x.zip");
	assert_int_equal(touch(s->donefd, "x.zip"), 0);
	n = 0;
	assert_int_equal(spool_pick_stem(s->donefd, "x.zip", &n, stem, sizeof(stem)), 0);
	assert_string_equal(stem, "x.zip.~1~");
	/* A record of that stem is as taken as the packet itself. */
	assert_int_equal(touch(s->donefd, "x.zip.~1~.error"), 0);
	n = 0;
	assert_int_equal(spool_pick_stem(s->donefd, "x.zip", &n, stem, sizeof(stem)), 0);
	assert_string_equal(stem, "x.zip.~2~");
	/* A packet named like another's record does not take that record's place. */
	assert_int_equal(touch(s->donefd, "y.log"), 0);
	n = 0;
	assert_int_equal(spool_pick_stem(s->donefd, "y", &n, stem, sizeof(stem)), 0);
	assert_string_equal(stem, "y.~1~");
}

/* A 255-byte name is shortened so that STEM.error still fits NAME_MAX. */
static void
test_pick_stem_long_name(void **state)
{
	struct spool *s = *state;
	char name[NAME_MAX + 1], stem[NAME_MAX + 1], rec[NAME_MAX + 8];
	unsigned n = 0;

	memset(name, 'a', NAME_MAX);
	name[NAME_MAX] = '\0';
	assert_int_equal(spool_pick_stem(s->failedfd, name, &n, stem, sizeof(stem)), 0);
	assert_true(strlen(stem) + SPOOL_RECORD_SUFFIX_MAX <= NAME_MAX);
	snprintf(rec, sizeof(rec), "%s.error", stem);
	assert_int_equal(touch(s->failedfd, rec), 0);
	assert_int_equal(touch(s->failedfd, stem), 0);
	n = 0;
	assert_int_equal(spool_pick_stem(s->failedfd, name, &n, stem, sizeof(stem)), 0);
	assert_true(strlen(stem) + SPOOL_RECORD_SUFFIX_MAX <= NAME_MAX);
	assert_non_null(strstr(stem, ".~1~"));
}

/* A claim is a rename; the loser of a race gets ENOENT; a job is adopted only when free. */
static void
test_job_claim_and_adopt(void **state)
{
	struct spool *s = *state;
	struct job a, b, c;

	assert_int_equal(touch(s->inboxfd, "p.zip"), 0);
	assert_int_equal(job_new(s, &a), 0);
	assert_int_equal(job_new(s, &b), 0);
	assert_true(job_is_id(a.id));
	assert_string_not_equal(a.id, b.id);
	assert_int_equal(job_claim(s, &a, "p.zip"), 0);
	assert_int_equal(job_claim(s, &b, "p.zip"), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(faccessat(s->inboxfd, "p.zip", F_OK, 0), -1);
	/* Held by a (here: by a) live owner: not adoptable. */
	assert_int_equal(job_adopt(s, a.id, &c), 0);
	a.attempts = 2;
	a.crashes = 1;
	assert_int_equal(job_save_state(&a), 0);
	job_release(&a);
	/* Its owner gone, the job is taken over with its packet and counters. */
	assert_int_equal(job_adopt(s, a.id, &c), 1);
	assert_string_equal(c.name, "p.zip");
	assert_int_equal(c.attempts, 2);
	assert_int_equal(c.crashes, 1);
	assert_int_equal(job_remove(s, &c), 0);
	assert_int_equal(job_remove(s, &b), 0);
	assert_int_equal(faccessat(s->workfd, a.id, F_OK, 0), -1);
}

static void
test_journal_has_job(void **state)
{
	struct spool *s = *state;
	char line[256];
	off_t off;
	int fd, i, n;

	fd = journal_open(s->dirfd);
	assert_true(fd >= 0);
	for (i = 0; i < 3000; i++) {
		n = snprintf(line, sizeof(line), "ts=x job=%016x name=p%d outcome=done\n", i, i);
		assert_int_equal(journal_append(fd, line, (size_t)n, 0), 0);
	}
	off = journal_size(fd);
	n = snprintf(line, sizeof(line), "ts=x job=%016x name=last outcome=done\n", 99999);
	assert_int_equal(journal_append(fd, line, (size_t)n, 0), 0);
	assert_int_equal(journal_has_job(s->dirfd, 0, "00000000000005dc"), 1);
	assert_int_equal(journal_has_job(s->dirfd, off, "00000000000005dc"), 0);
	assert_int_equal(journal_has_job(s->dirfd, off, "000000000001869f"), 1);
	assert_int_equal(journal_has_job(s->dirfd, 0, "ffffffffffffffff"), 0);
	close(fd);
}

static void
test_log_quote(void **state)
{
	char buf[128];

	(void)state;
	assert_string_equal(log_quote(buf, sizeof(buf), "x.zip"), "x.zip");
	assert_string_equal(log_quote(buf, sizeof(buf), ""), "\"\"");
	assert_string_equal(log_quote(buf, sizeof(buf), "a b"), "\"a b\"");
	assert_string_equal(log_quote(buf, sizeof(buf), "a=\"b\"\n"), "\"a=\\\"b\\\"\\n\"");
	/* Valid UTF-8 stays readable; other bytes never reach a log line raw. */
	assert_string_equal(log_quote(buf, sizeof(buf), "caf\xc3\xa9"), "\"caf\xc3\xa9\"");
	assert_string_equal(log_quote(buf, sizeof(buf), "a\xff"), "\"a\\xff\"");
	/* Truncated, still quoted and terminated. */
	assert_int_equal(log_quote(buf, 8, "0123456789 abc")[0], '"');
	assert_true(strlen(buf) < 8);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pick_stem_numbers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pick_stem_long_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_job_claim_and_adopt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_has_job, setup, teardown),
		cmocka_unit_test(test_log_quote),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
