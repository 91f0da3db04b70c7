/* spool.c, job.c, journal.c, filing.c, log.c: job dirs, the journal, filing and its recovery. */
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

#include "conf.h"
#include "filing.h"
#include "job.h"
#include "journal.h"
#include "scoreboard.h"
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

static void
init_conf(struct conf *c)
{
	assert_int_equal(conf_defaults(c), 0);
}

/* A claim is two renames; the loser of a race gets ENOENT; a job is adopted only when free. */
static void
test_job_claim_and_adopt(void **state)
{
	struct spool *s = *state;
	struct job a, b, c;
	char spare_id[JOB_ID_LEN + 1];

	assert_int_equal(touch(s->inboxfd, "p.zip"), 0);
	assert_int_equal(job_spare(s, &a), 0);
	assert_int_equal(job_spare(s, &b), 0);
	assert_true(job_is_id(a.id));
	assert_string_not_equal(a.id, b.id);
	memcpy(spare_id, a.id, sizeof(spare_id));
	assert_int_equal(job_claim(s, &a, "p.zip"), 0);
	/* A fresh id for the job, the spare's own is gone. */
	assert_string_not_equal(a.id, spare_id);
	assert_int_equal(faccessat(s->workfd, spare_id, F_OK, 0), -1);
	assert_int_equal(job_claim(s, &b, "p.zip"), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(faccessat(s->inboxfd, "p.zip", F_OK, 0), -1);
	/* Held by a live owner: not adoptable. */
	assert_int_equal(job_adopt(s, a.id, &c), 0);
	a.attempts = 2;
	a.interrupted = 1;
	assert_int_equal(job_save_state(&a), 0);
	job_release(&a);
	/* Its owner gone, the job is taken over with its packet and counters. */
	assert_int_equal(job_adopt(s, a.id, &c), 1);
	assert_string_equal(c.name, "p.zip");
	assert_int_equal(c.attempts, 2);
	assert_int_equal(c.interrupted, 1);
	assert_int_equal(job_classify(&c, 0), JOB_OPEN);
	assert_int_equal(job_classify(&c, 1), JOB_COMMITTED);
	assert_int_equal(job_remove(s, &c), 0);
	assert_int_equal(job_adopt(s, b.id, &c), 0);	/* b is still held */
	job_release(&b);
	assert_int_equal(job_adopt(s, b.id, &c), 1);
	assert_int_equal(job_classify(&c, 0), JOB_SPARE);
	assert_int_equal(job_remove(s, &c), 0);
}

/* The state record is whole and the job's own, or it does not count. */
static void
test_job_state_record(void **state)
{
	struct job j;
	char buf[224];
	int n;

	(void)state;
	memset(&j, 0, sizeof(j));
	n = snprintf(buf, sizeof(buf), "v1 job=0123456789abcdef attempts=3 ftries=1 interrupted=0 "
	    "unsynced=1 line_at=42 from=-1 jino=77");
	memset(buf + n, ' ', sizeof(buf) - 1 - (size_t)n);
	buf[sizeof(buf) - 1] = '\n';
	assert_int_equal(job_state_parse(buf, sizeof(buf), "0123456789abcdef", &j), 0);
	assert_int_equal(j.attempts, 3);
	assert_int_equal(j.unsynced, 1);
	assert_int_equal(j.line_at, 42);
	assert_int_equal(j.journal_from, -1);
	assert_true(j.journal_ino == 77);
	/* another job's (a reused directory) */
	assert_int_equal(job_state_parse(buf, sizeof(buf), "fedcba9876543210", &j), -1);
	/* torn */
	buf[sizeof(buf) - 1] = ' ';
	assert_int_equal(job_state_parse(buf, sizeof(buf), "0123456789abcdef", &j), -1);
	assert_int_equal(job_state_parse(buf, 10, "0123456789abcdef", &j), -1);
}

static void
test_deferred_names(void **state)
{
	char id[JOB_ID_LEN + 1];
	long long due;

	(void)state;
	assert_int_equal(job_parse_deferred("1796190000123.0123456789abcdef", &due, id), 1);
	assert_true(due == 1796190000123LL);
	assert_string_equal(id, "0123456789abcdef");
	assert_int_equal(job_parse_deferred(".0123456789abcdef", &due, id), 0);
	assert_int_equal(job_parse_deferred("12x.0123456789abcdef", &due, id), 0);
	assert_int_equal(job_parse_deferred("12.0123456789abcdeg", &due, id), 0);
	assert_int_equal(job_parse_deferred("12.0123456789abcdef0", &due, id), 0);
	assert_int_equal(job_parse_deferred("1234567890123456789.0123456789abcdef", &due, id), 0);
}

/* Deferred, a job is out of work/, unlocked, and taken back whole. */
static void
test_defer_undefer(void **state)
{
	struct spool *s = *state;
	struct job a, b;
	char entry[64];

	assert_int_equal(touch(s->inboxfd, "d.zip"), 0);
	assert_int_equal(job_spare(s, &a), 0);
	assert_int_equal(job_claim(s, &a, "d.zip"), 0);
	a.attempts = 1;
	snprintf(entry, sizeof(entry), "1234.%s", a.id);
	assert_int_equal(job_defer(s, &a, 1234), 0);
	assert_int_equal(a.fd, -1);
	assert_int_equal(faccessat(s->deferfd, entry, F_OK, 0), 0);
	assert_int_equal(job_undefer(s, entry, &b), 1);
	assert_string_equal(b.name, "d.zip");
	assert_int_equal(b.attempts, 1);
	assert_int_equal(faccessat(s->deferfd, entry, F_OK, 0), -1);
	/* taken already */
	assert_int_equal(job_undefer(s, entry, &a), 0);
	assert_int_equal(job_remove(s, &b), 0);
}

static void
append(struct journal *jl, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	assert_int_equal(journal_append(jl, line, (size_t)n, NULL), 0);
}

#define TS "ts=2026-11-22T02:30:00.123Z"

static void
test_journal_find(void **state)
{
	struct spool *s = *state;
	struct journal jl;
	char line[JOURNAL_LINE_MAX];
	off_t off, mid;
	int i;

	assert_int_equal(journal_open(&jl, s->dirfd, NULL), 0);
	for (i = 0; i < 3000; i++)
		append(&jl, TS " job=%016x name=p%d outcome=done attempts=0 dur_ms=1 wait_ms=1 "
		    "worker=1 filed=done/p%d\n", i, i, i);
	mid = journal_size(&jl);
	append(&jl, TS " job=%016x event=refiled name=p1 filed=done/p1.~x~\n", 1);
	/* what is left of a torn append, then a whole line */
	append(&jl, "      " TS " job=%016x name=\"a b\" outcome=failed attempts=1 dur_ms=1 "
	    "wait_ms=1 worker=1 filed=failed/x reason=exit status=3\n", 99999);
	assert_int_equal(journal_find(s->dirfd, "00000000000005dc", 0, -1, -1, 0, line, sizeof(line),
	    &off), 1);
	assert_non_null(strstr(line, "name=p1500 "));
	/* the hint is taken when it points at the line */
	assert_int_equal(journal_find(s->dirfd, "00000000000005dc", journal_ino(&jl), off, -1, 0,
	    line, sizeof(line), &off), 1);
	/* from bounds the search, in the file it was taken in */
	assert_int_equal(journal_find(s->dirfd, "00000000000005dc", journal_ino(&jl), -1, mid, 0,
	    line, sizeof(line), &off), 0);
	assert_int_equal(journal_find(s->dirfd, "00000000000005dc", journal_ino(&jl) + 1, -1, mid, 0,
	    line, sizeof(line), &off), 1);
	/* a refiled line is not the job's line */
	assert_int_equal(journal_find(s->dirfd, "0000000000000001", journal_ino(&jl), -1, mid, 0,
	    line, sizeof(line), &off), 0);
	assert_int_equal(journal_find(s->dirfd, "000000000001869f", 0, -1, -1, 0, line, sizeof(line),
	    &off), 1);
	assert_true(strncmp(line, "ts=", 3) == 0);
	assert_int_equal(journal_find(s->dirfd, "ffffffffffffffff", 0, -1, -1, 0, line, sizeof(line),
	    &off), 0);
	/* since: lines stamped before are not searched */
	assert_int_equal(journal_find(s->dirfd, "00000000000005dc", 0, -1, -1,
	    journal_line_ms(TS, strlen(TS)) + 1, line, sizeof(line), &off), 0);
	/* a fragment without its end is no line */
	assert_int_equal(write(jl.fd, TS " job=00000000deadbeef name=x outcome=done filed=d", 60),
	    60);
	assert_int_equal(journal_find(s->dirfd, "00000000deadbeef", 0, -1, -1, 0, line, sizeof(line),
	    &off), 0);
	journal_close(&jl);
}

/* Rotation: journal.N shift, appends move on, lines are found across files. */
static void
test_journal_rotate(void **state)
{
	struct spool *s = *state;
	struct journal a, b;
	uint64_t gen = 0;
	char line[JOURNAL_LINE_MAX];
	off_t off;
	int i;

	assert_int_equal(journal_open(&a, s->dirfd, &gen), 0);
	assert_int_equal(journal_open(&b, s->dirfd, &gen), 0);
	for (i = 0; i < 3; i++) {
		append(&a, TS " job=%016x name=a%d outcome=done attempts=0 dur_ms=1 wait_ms=1 "
		    "worker=1 filed=done/a%d\n", 0x100 + i, i, i);
		/* not full yet */
		assert_int_equal(journal_rotate(&a, 1 << 20, 2, 0), 0);
		/* full: rotated, once */
		assert_int_equal(journal_rotate(&a, 1, 2, 0), 1);
		assert_true(gen == (uint64_t)i + 1);
		/* the other appender moves on by itself */
		append(&b, TS " job=%016x name=b%d outcome=done attempts=0 dur_ms=1 wait_ms=1 "
		    "worker=1 filed=done/b%d\n", 0x200 + i, i, i);
	}
	/* keep 2: journal.1 and journal.2, the oldest gone */
	assert_int_equal(faccessat(s->dirfd, "journal.2", F_OK, 0), 0);
	assert_int_equal(faccessat(s->dirfd, "journal.3", F_OK, 0), -1);
	assert_int_equal(journal_find(s->dirfd, "0000000000000202", 0, -1, -1, 0, line,
	    sizeof(line), &off), 1);	/* in journal */
	assert_int_equal(journal_find(s->dirfd, "0000000000000102", 0, -1, -1, 0, line,
	    sizeof(line), &off), 1);	/* in journal.1 */
	assert_int_equal(journal_find(s->dirfd, "0000000000000101", 0, -1, -1, 0, line,
	    sizeof(line), &off), 1);	/* in journal.2 */
	assert_int_equal(journal_find(s->dirfd, "0000000000000100", 0, -1, -1, 0, line,
	    sizeof(line), &off), 0);	/* rotated away */
	journal_close(&a);
	journal_close(&b);
}

static struct scoreboard *
board(struct spool *s)
{
	struct scoreboard *sb = sb_create(s->dirfd);

	assert_non_null(sb);
	return sb;
}

static int
claim(struct filer *f, struct job *j, const char *name)
{
	struct spool *s = (struct spool *)f->s;

	if (touch(s->inboxfd, name) == -1 || filing_spare(f, j) == -1)
		return -1;
	return job_claim(s, j, name);
}

/* Staged, committed: filed under NAME, else NAME.~J~; the line says where. */
static void
test_filing_stems(void **state)
{
	struct spool *s = *state;
	struct scoreboard *sb = board(s);
	struct filer f;
	struct conf c;
	struct job j;
	char line[JOURNAL_LINE_MAX], alt[64];
	off_t off;

	init_conf(&c);
	assert_int_equal(filing_init(&f, &c, s, sb, -1, -1), 0);
	assert_int_equal(claim(&f, &j, "x.zip"), 0);
	assert_int_equal(filing_stage(&f, &j, 0, NULL, 1, 0), FILING_STAGED);
	assert_int_equal(claim(&f, &j, "x.zip"), 0);
	snprintf(alt, sizeof(alt), "x.zip.~%s~", j.id);
	assert_int_equal(journal_find(s->dirfd, j.id, 0, -1, -1, 0, line, sizeof(line), &off), 0);
	/* Both staged before either is filed: the second one's name was free at its stage. */
	assert_int_equal(filing_stage(&f, &j, 1, "exit status=3", 1, 0), FILING_STAGED);
	filing_commit(&f);
	assert_int_equal(faccessat(s->donefd, "x.zip", F_OK, 0), 0);
	assert_int_equal(faccessat(s->failedfd, "x.zip", F_OK, 0), 0);
	assert_int_equal(faccessat(s->failedfd, "x.zip.error", F_OK, 0), 0);
	assert_int_equal(claim(&f, &j, "x.zip"), 0);
	snprintf(alt, sizeof(alt), "x.zip.~%s~", j.id);
	assert_int_equal(filing_stage(&f, &j, 0, NULL, 1, 0), FILING_STAGED);
	filing_commit(&f);
	assert_int_equal(faccessat(s->donefd, alt, F_OK, 0), 0);
	assert_true(sb->hdr.done == 2 && sb->hdr.failed == 1);
	assert_true(sb->hdr.journal_synced > 0);
	filing_close(&f);
	conf_free(&c);
	sb_unmap(sb);
}

/* Each row of the state table, taken over as a dead worker left it. */
static void
test_filing_recover(void **state)
{
	struct spool *s = *state;
	struct scoreboard *sb = board(s);
	struct filer f, g;
	struct conf c;
	struct job j, k;
	char id[JOB_ID_LEN + 1];

	init_conf(&c);
	assert_int_equal(filing_init(&f, &c, s, sb, -1, -1), 0);
	assert_int_equal(filing_init(&g, &c, s, sb, -1, -1), 0);

	/* COMMITTED: a line, the packet still in pkt/ */
	assert_int_equal(claim(&f, &j, "c.zip"), 0);
	memcpy(id, j.id, sizeof(id));
	assert_int_equal(filing_stage(&f, &j, 0, NULL, 1, 0), FILING_STAGED);
	filing_let_go(&f, &f.v[0].j);	/* the worker dies before its commit */
	f.n = 0;
	assert_int_equal(job_adopt(s, id, &k), 1);
	assert_int_equal(filing_recover(&g, &k), FILING_STAGED);
	filing_commit(&g);
	assert_int_equal(faccessat(s->donefd, "c.zip", F_OK, 0), 0);

	/* OPEN: no line */
	assert_int_equal(claim(&f, &j, "o.zip"), 0);
	memcpy(id, j.id, sizeof(id));
	job_release(&j);
	assert_int_equal(job_adopt(s, id, &k), 1);
	assert_int_equal(filing_recover(&g, &k), FILING_RUN);
	assert_int_equal(job_remove(s, &k), 0);

	/* LOST: records, no packet, no line */
	assert_int_equal(filing_spare(&f, &j), 0);
	memcpy(id, j.id, sizeof(id));
	assert_int_equal(touch(j.fd, JOB_LOG), 0);
	job_release(&j);
	assert_int_equal(job_adopt(s, id, &k), 1);
	assert_int_equal(filing_recover(&g, &k), FILING_GONE);
	{
		char lost[64];

		snprintf(lost, sizeof(lost), "%s%s", id, JOB_LOST_SUFFIX);
		assert_int_equal(faccessat(s->workfd, lost, F_OK, 0), 0);
	}

	/* SPARE: removed */
	assert_int_equal(filing_spare(&f, &j), 0);
	memcpy(id, j.id, sizeof(id));
	job_release(&j);
	assert_int_equal(job_adopt(s, id, &k), 1);
	assert_int_equal(filing_recover(&g, &k), FILING_GONE);
	assert_int_equal(faccessat(s->workfd, id, F_OK, 0), -1);

	filing_close(&f);
	filing_close(&g);
	conf_free(&c);
	sb_unmap(sb);
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
		cmocka_unit_test_setup_teardown(test_job_claim_and_adopt, setup, teardown),
		cmocka_unit_test(test_job_state_record),
		cmocka_unit_test(test_deferred_names),
		cmocka_unit_test_setup_teardown(test_defer_undefer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_rotate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_filing_stems, setup, teardown),
		cmocka_unit_test_setup_teardown(test_filing_recover, setup, teardown),
		cmocka_unit_test(test_log_quote),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
