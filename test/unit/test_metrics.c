/*
 * metrics.c: the metrics file gets the configured mode whatever the umask;
 * failures are counted by the first word of their reason (reasons.c).
 */
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

#include "metrics.h"
#include "reasons.h"

static void
test_mode_of(void **state)
{
	(void)state;
	assert_int_equal(metrics_mode_of(NULL), 0640);
	assert_int_equal(metrics_mode_of("0644"), 0644);
	assert_int_equal(metrics_mode_of("600"), 0600);
	assert_int_equal(metrics_mode_of("0755"), 0640);
	assert_int_equal(metrics_mode_of(""), 0640);
	assert_int_equal(metrics_mode_of("64x"), 0640);
}

static mode_t
written_mode(const char *dir, mode_t mode, int use_default)
{
	struct scoreboard *sb;
	struct strv none = { NULL, 0 };
	struct spool s;
	char path[PATH_MAX];
	struct stat st;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);

	assert_true(dfd >= 0);
	sb = sb_create(dfd);
	assert_non_null(sb);
	memset(&s, 0, sizeof(s));
	s.inboxfd = dfd;
	snprintf(path, sizeof(path), "%s/m.prom", dir);
	if (use_default)
		assert_int_equal(metrics_write(path, sb, &s, (mqd_t)-1, &none), 0);
	else
		assert_int_equal(metrics_write_mode(path, mode, sb, &s, (mqd_t)-1, &none), 0);
	assert_int_equal(stat(path, &st), 0);
	sb_unmap(sb);
	close(dfd);
	return st.st_mode & 07777;
}

static void
test_file_mode(void **state)
{
	char dir[] = "/tmp/ingestd-test-metrics.XXXXXX";
	int dfd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	umask(027);	/* the daemon's */
	assert_int_equal(written_mode(dir, 0, 1), 0640);
	assert_int_equal(written_mode(dir, 0644, 0), 0644);	/* over an existing file too */
	assert_int_equal(written_mode(dir, 0600, 0), 0600);
	assert_int_equal(written_mode(dir, 0, 1), 0640);
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_int_equal(unlinkat(dfd, "m.prom", 0), 0);
	assert_int_equal(unlinkat(dfd, "scoreboard", 0), 0);
	close(dfd);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_reason_class(void **state)
{
	static const struct { const char *reason, *kw; } cases[] = {
		{ "exit status=3", "exit" },
		{ "fetch status=404 code=NoSuchKey", "fetch" },
		{ "\"fetch duplicate\"", "fetch" },
		{ "tempfail attempts=3 last=\"exit status=75\"", "tempfail" },
		{ "crashed crashes=2", "crashed" },
		{ "permission", "permission" },
		{ "symlink\n", "symlink" },
		{ "exits status=3", "other" },	/* a word, not a prefix */
		{ "exi", "other" },
		{ "", "other" },
		{ "\"", "other" },
		{ "bogus", "other" },
	};
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(reason_keyword(reason_class(cases[i].reason)), cases[i].kw);
	assert_string_equal(reason_keyword(reason_class(NULL)), "other");
	assert_string_equal(reason_keyword(REASON_N + 5), "other");
	/* Every keyword is its own class, and the names are distinct. */
	for (i = 0; i < REASON_N; i++) {
		assert_int_equal(reason_class(reason_keyword(i)), i);
		for (k = 0; k < i; k++)
			assert_string_not_equal(reason_keyword(i), reason_keyword(k));
	}
}

static void
test_failed_by_reason(void **state)
{
	char dir[] = "/tmp/ingestd-test-metrics.XXXXXX", *buf = NULL, line[128];
	struct scoreboard *sb;
	size_t len = 0, i;
	FILE *fp;
	int dfd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	sb = sb_create(dfd);
	assert_non_null(sb);
	sb_job_finished(sb, -1, NULL, 5);
	sb_job_finished(sb, -1, "exit status=3", 5);
	sb_job_finished(sb, -1, "exit status=4", 5);
	sb_job_finished(sb, -1, "fetch status=404", 5);
	sb_job_finished(sb, -1, "", 5);
	fp = open_memstream(&buf, &len);
	assert_non_null(fp);
	metrics_print(fp, sb, 0, 0);
	fclose(fp);
	assert_non_null(strstr(buf, "ingestd_jobs_total{outcome=\"done\"} 1\n"));
	assert_non_null(strstr(buf, "ingestd_jobs_total{outcome=\"failed\"} 4\n"));
	assert_non_null(strstr(buf, "# TYPE ingestd_jobs_failed_total counter\n"));
	for (i = 0; i < REASON_N; i++) {
		const char *kw = reason_keyword(i);
		int want = strcmp(kw, "exit") == 0 ? 2 :
		    strcmp(kw, "fetch") == 0 || strcmp(kw, "other") == 0 ? 1 : 0;

		/* Every class is written, zeros too: a rate() needs the series before its first failure. */
		snprintf(line, sizeof(line), "ingestd_jobs_failed_total{reason=\"%s\"} %d\n", kw, want);
		assert_non_null(strstr(buf, line));
	}
	free(buf);
	sb_unmap(sb);
	assert_int_equal(unlinkat(dfd, "scoreboard", 0), 0);
	close(dfd);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mode_of),
		cmocka_unit_test(test_reason_class),
		cmocka_unit_test(test_failed_by_reason),
		cmocka_unit_test(test_file_mode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
