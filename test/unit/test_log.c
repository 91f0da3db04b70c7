/*
 * log.c: log_time (time= first, RFC 3339 UTC with milliseconds; auto only on
 * a terminal), and that an unquoted value cannot start a line of its own.
 */
#include <fcntl.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

#define STAMP "^time=[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\\.[0-9]{3}Z "

/* What one log_info wrote to stderr, with stderr the file fd while it ran. */
static void
emit_to(int fd, int mode, char *buf, size_t len, int readfd)
{
	int saved = dup(STDERR_FILENO);
	ssize_t n;

	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	log_init("t", 0);
	log_set_time(mode);
	log_info("event=x name=%s", LQ("a b"));
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	if (readfd == fd)
		assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	n = read(readfd, buf, len - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	if (readfd == fd) {
		assert_int_equal(ftruncate(fd, 0), 0);
		assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	}
}

static int
matches(const char *re, const char *s)
{
	regex_t r;
	int m;

	assert_int_equal(regcomp(&r, re, REG_EXTENDED | REG_NOSUB), 0);
	m = regexec(&r, s, 0, NULL, 0) == 0;
	regfree(&r);
	return m;
}

static void
test_log_time(void **state)
{
	char path[] = "/tmp/ingestd-test-log.XXXXXX", buf[512], want[128];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	snprintf(want, sizeof(want), "level=info role=t pid=%ld event=x name=\"a b\"\n",
	    (long)getpid());
	emit_to(fd, LOG_TIME_ON, buf, sizeof(buf), fd);
	if (!matches(STAMP "level=info role=t pid=[0-9]+ event=x name=\"a b\"\n$", buf))
		fail_msg("on: %s", buf);
	emit_to(fd, LOG_TIME_OFF, buf, sizeof(buf), fd);
	assert_string_equal(buf, want);
	/* a file is not a terminal: svlogd's or journald's time is enough */
	emit_to(fd, LOG_TIME_AUTO, buf, sizeof(buf), fd);
	assert_string_equal(buf, want);
	close(fd);
}

static void
test_log_time_auto_terminal(void **state)
{
	char buf[512];
	int m, s;

	(void)state;
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m == -1)
		skip();	/* no pty in this sandbox: nothing to say about terminals */
	assert_int_equal(grantpt(m), 0);
	assert_int_equal(unlockpt(m), 0);
	s = open(ptsname(m), O_RDWR | O_NOCTTY);
	assert_true(s >= 0);
	emit_to(s, LOG_TIME_AUTO, buf, sizeof(buf), m);
	if (!matches(STAMP "level=info role=t pid=[0-9]+ event=x", buf))
		fail_msg("auto on a terminal: %s", buf);
	emit_to(s, LOG_TIME_OFF, buf, sizeof(buf), m);
	assert_true(strncmp(buf, "level=info ", 11) == 0);
	close(s);
	close(m);
}

/* The root cure is LQ(); this is the safety net for a call that forgot it. */
static void
test_no_forged_line(void **state)
{
	char path[] = "/tmp/ingestd-test-log.XXXXXX", buf[512];
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	ssize_t n;

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	log_set_time(LOG_TIME_OFF);
	log_info("event=x name=%s", "a\nlevel=fatal role=supervisor pid=1 event=forged"); /* logcheck: safe */
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "name=a\\x0alevel=fatal"));
	assert_ptr_equal(strchr(buf, '\n'), buf + n - 1);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_time),
		cmocka_unit_test(test_log_time_auto_terminal),
		cmocka_unit_test(test_no_forged_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
