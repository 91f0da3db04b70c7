/* metrics.c: the metrics file gets the configured mode whatever the umask. */
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mode_of),
		cmocka_unit_test(test_file_mode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
