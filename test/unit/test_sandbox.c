/*
 * sandbox_call(): the limits hold whatever the function does (loops,
 * allocates, execs, writes elsewhere), a helper is kept between calls and
 * replaced after a kill.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox.h"
#include "spool.h"

struct fx {
	char dir[PATH_MAX];	/* the helper may write here */
	char other[PATH_MAX + 8];	/* and not here */
	struct sandbox s;
	struct sandbox_limits l;
	struct sandbox_result r;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");
	struct sandbox init = SANDBOX_INIT;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s/test_sandbox.XXXXXX", tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->other, sizeof(f->other), "%s.other", f->dir);
	assert_int_equal(mkdir(f->other, 0700), 0);
	f->s = init;
	f->l.max_memory = 256ULL << 20;
	f->l.max_time_ms = 1000;
	f->l.writable = f->dir;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	sandbox_stop(&f->s);
	free(f->r.out);
	assert_int_equal(spool_rmtree(AT_FDCWD, f->dir), 0);
	assert_int_equal(spool_rmtree(AT_FDCWD, f->other), 0);
	free(f);
	return 0;
}

static int
answer(struct sandbox_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
answer(struct sandbox_buf *b, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return sandbox_append(b, buf, strlen(buf));
}

/* What the request asks for, done in the helper. */
static int
work(void *arg, const char *req, size_t len, struct sandbox_buf *b)
{
	char path[PATH_MAX];
	int fd;

	(void)arg;
	(void)len;
	if (strcmp(req, "pid") == 0)
		return answer(b, "%ld", (long)getpid());
	if (strcmp(req, "loop") == 0)
		for (volatile int x = 0;; x++)
			;
	if (strcmp(req, "eat") == 0) {
		/* Allocate and touch until refused: RLIMIT_AS says no, not the OOM killer. */
		size_t n = 0;
		char *p;

		while ((p = malloc(1 << 20)) != NULL) {
			memset(p, 1, 1 << 20);
			n++;
		}
		return answer(b, "enomem after %zu MiB", n);
	}
	if (strcmp(req, "exec") == 0) {
		execl("/bin/true", "true", (char *)NULL);
		return answer(b, "exec: %d", errno);
	}
	if (strcmp(req, "socket") == 0)
		return answer(b, "socket: %d", socket(AF_INET, SOCK_STREAM, 0) == -1 ? errno : 0);
	if (strncmp(req, "write ", 6) == 0) {
		snprintf(path, sizeof(path), "%s/f", req + 6);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd == -1)
			return answer(b, "open: %d", errno);
		close(fd);
		return answer(b, "written");
	}
	if (strcmp(req, "crash") == 0)
		raise(SIGSEGV);
	if (strcmp(req, "big") == 0) {
		static char big[8192];

		memset(big, 'x', sizeof(big));
		return sandbox_append(b, big, sizeof(big));
	}
	return 1;
}

static void
call(struct fx *f, const char *req)
{
	free(f->r.out);
	f->r.out = NULL;
	assert_int_equal(sandbox_call(&f->s, 1, &f->l, work, NULL, req, strlen(req), 4096, &f->r),
	    0);
}

static void
test_helper_kept_between_calls(void **state)
{
	struct fx *f = *state;
	char first[32];

	call(f, "pid");
	assert_int_equal(f->r.end, SANDBOX_ANSWERED);
	snprintf(first, sizeof(first), "%s", f->r.out);
	assert_int_equal(atol(first), (long)f->s.pid);
	call(f, "pid");
	assert_string_equal(f->r.out, first);
	/* Another key: another helper. */
	free(f->r.out);
	assert_int_equal(sandbox_call(&f->s, 2, &f->l, work, NULL, "pid", 3, 4096, &f->r), 0);
	assert_string_not_equal(f->r.out, first);
}

static void
test_wall_clock_kills_a_loop(void **state)
{
	struct fx *f = *state;
	pid_t before;

	f->l.max_time_ms = 300;
	call(f, "pid");
	before = f->s.pid;
	call(f, "loop");
	assert_int_equal(f->r.end, SANDBOX_TIME);
	assert_true(f->r.ms >= 300 && f->r.ms < 3000);
	assert_int_equal(f->s.pid, 0);
	assert_int_equal(kill(before, 0), -1);	/* killed and reaped */
	call(f, "pid");				/* and replaced */
	assert_int_equal(f->r.end, SANDBOX_ANSWERED);
	assert_int_not_equal(atol(f->r.out), (long)before);
}

static void
test_memory_limit(void **state)
{
	struct fx *f = *state;

#if defined(__SANITIZE_ADDRESS__)
	skip();	/* no RLIMIT_AS under ASan (sandbox.h) */
#endif
	call(f, "eat");
	assert_int_equal(f->r.end, SANDBOX_ANSWERED);
	assert_int_equal(strncmp(f->r.out, "enomem after ", 13), 0);
	assert_true(atoi(f->r.out + 13) < 256);
}

static void
test_no_exec_no_socket(void **state)
{
	struct fx *f = *state;

	call(f, "exec");
	assert_string_equal(f->r.out, "exec: 1");	/* EPERM */
	call(f, "socket");
	assert_string_equal(f->r.out, "socket: 1");
}

static void
test_writes_only_below_writable(void **state)
{
	struct fx *f = *state;
	char req[PATH_MAX + 16];

	if (strcmp(sandbox_kind(), "landlock+seccomp") != 0 && strcmp(sandbox_kind(), "landlock"))
		skip();
	snprintf(req, sizeof(req), "write %s", f->dir);
	call(f, req);
	assert_string_equal(f->r.out, "written");
	snprintf(req, sizeof(req), "write %s", f->other);
	call(f, req);
	assert_string_equal(f->r.out, "open: 13");	/* EACCES */
}

static void
test_crash_and_overflow(void **state)
{
	struct fx *f = *state;

#if !defined(__SANITIZE_ADDRESS__)
	/* (ASan's own SEGV handler stays in a sanitized helper, for its report.) */
	call(f, "crash");
	assert_int_equal(f->r.end, SANDBOX_SIGNALED);
	assert_int_equal(f->r.sig, SIGSEGV);
#endif
	call(f, "big");
	assert_int_equal(f->r.end, SANDBOX_TOO_LONG);
	call(f, "nonsense");
	assert_int_equal(f->r.end, SANDBOX_EXITED);
	assert_int_equal(f->r.status, 1);
	call(f, "pid");
	assert_int_equal(f->r.end, SANDBOX_ANSWERED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_helper_kept_between_calls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wall_clock_kills_a_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_memory_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_exec_no_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writes_only_below_writable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_and_overflow, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
