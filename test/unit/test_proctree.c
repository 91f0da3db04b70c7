/*
 * proctree.c: which processes a clean-up selects (descendants by parentage,
 * never a group id that may have been reused), that it stays linear, and on
 * real processes that a setsid() grandchild dies while a process that merely
 * carries a matching group id does not.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "proctree.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int
picked(const struct proctree_proc *v, const size_t *out, ssize_t n, pid_t pid)
{
	ssize_t i;

	for (i = 0; i < n; i++)
		if (v[out[i]].pid == pid)
			return (int)i + 1;	/* its position, 1-based */
	return 0;
}

/*
 * The daemon (100) ran a handler (101), reaped now, whose child 102 started
 * 103, which setsid()'d. Afterwards pid 101 was reused by an unrelated
 * process that leads its own group (pgid 101), and 300 joined that group.
 */
static const struct proctree_proc table[] = {
	{ 103, 102, 103, 'S' },		/* listed before its parents on purpose */
	{ 1, 0, 1, 'S' },
	{ 100, 1, 100, 'S' },
	{ 102, 100, 101, 'S' },		/* reparented to us, the subreaper */
	{ 104, 103, 103, 'Z' },
	{ 101, 1, 101, 'S' },		/* the reused pid */
	{ 300, 101, 101, 'S' },
	{ 400, 401, 400, 'S' },		/* a torn snapshot: a cycle */
	{ 401, 400, 400, 'S' },
};

static void
test_select_descendants_only(void **state)
{
	size_t out[N(table)];
	ssize_t n;

	(void)state;
	n = proctree_select(table, N(table), 100, 0, 100, NULL, 0, out);
	assert_int_equal(n, 3);
	assert_true(picked(table, out, n, 102));
	assert_true(picked(table, out, n, 103));
	assert_true(picked(table, out, n, 104));
	/* parents first: each pidfd is checked against its parent's */
	assert_true(picked(table, out, n, 102) < picked(table, out, n, 103));
	assert_true(picked(table, out, n, 103) < picked(table, out, n, 104));
	/* neither the reused pid nor its group, nor the daemon, nor init */
	assert_false(picked(table, out, n, 101));
	assert_false(picked(table, out, n, 300));
	assert_false(picked(table, out, n, 100));
	assert_false(picked(table, out, n, 1));
}

static void
test_select_keep_and_group(void **state)
{
	static const pid_t keep[] = { 103 };
	size_t out[N(table)];
	ssize_t n;

	(void)state;
	n = proctree_select(table, N(table), 100, 0, 100, keep, N(keep), out);
	assert_int_equal(n, 1);
	assert_true(picked(table, out, n, 102));
	/* a group is selected only when asked, i.e. the caller's own (pgid 100) */
	n = proctree_select(table, N(table), 100, 100, 100, NULL, 0, out);
	assert_int_equal(n, 3);
	assert_false(picked(table, out, n, 100));
	n = proctree_select(table, N(table), 100, 400, 100, NULL, 0, out);
	assert_int_equal(n, 5);
	assert_true(picked(table, out, n, 400) && picked(table, out, n, 401));
}

/* A chain of 200,000, children first: repeated passes would take hours. */
static void
test_select_linear(void **state)
{
	enum { LEN = 200000 };
	struct proctree_proc *v = calloc(LEN, sizeof(*v));
	size_t *out = calloc(LEN, sizeof(*out)), i;
	struct timespec a, b;
	ssize_t n;

	(void)state;
	assert_non_null(v);
	assert_non_null(out);
	for (i = 0; i < LEN; i++) {
		v[i].pid = (pid_t)(LEN + 10 - i);
		v[i].ppid = (pid_t)(LEN + 9 - i);	/* the last one's parent: 10, the root */
		v[i].pgid = v[i].pid;
		v[i].state = 'S';
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	n = proctree_select(v, LEN, 10, 0, 10, NULL, 0, out);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_int_equal(n, LEN);
	assert_int_equal(v[out[0]].pid, 11);
	assert_int_equal(v[out[LEN - 1]].pid, LEN + 10 - 0);
	assert_true((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 2000);
	free(v);
	free(out);
}

/* fork: in the child, p's work is done and exits 0 when the check held. */
static void
in_child(int (*p)(void))
{
	int st;
	pid_t c = fork();

	assert_true(c >= 0);
	if (c == 0)
		_exit(p());
	assert_int_equal(waitpid(c, &st, 0), c);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* A grandchild that setsid()'s; its parent exits. Its pid comes back on a pipe. */
static pid_t
escapee(void)
{
	int p[2];
	pid_t a, x = -1;

	if (pipe(p) == -1 || (a = fork()) == -1)
		return -1;
	if (a == 0) {
		if (fork() == 0) {
			pid_t me;

			setsid();
			me = getpid();
			(void)!write(p[1], &me, sizeof(me));
			for (;;)
				pause();
		}
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &x, sizeof(x)) != (ssize_t)sizeof(x))
		x = -1;
	close(p[0]);
	waitpid(a, NULL, 0);
	return x;
}

static int
kills_setsid_grandchild(void)
{
	pid_t x;

	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1 || (x = escapee()) <= 0)
		return 10;
	if (getpgid(x) != x)
		return 11;	/* not in a group of its own: not the case under test */
	if (proctree_kill(getpid(), 0, NULL, 0, 1, 2000) < 1)
		return 12;
	/* reap was set: gone, not even a zombie */
	return kill(x, 0) == -1 && errno == ESRCH ? 0 : 13;
}

static void
test_kill_setsid_grandchild(void **state)
{
	(void)state;
	in_child(kills_setsid_grandchild);
}

/*
 * Not a subreaper: the escapee is someone else's now, and it leads a group
 * whose id is the one we pass. A caller that does not lead its group (a
 * forked child) asking for its own group kills nothing either: not its
 * parent, the test runner, in that group (setpgid failed: the shutdown guard).
 */
static int
spares_strangers(void)
{
	pid_t x;
	int rc = 0;

	if ((x = escapee()) <= 0)
		return 20;
	if (getpgrp() == getpid() && setpgid(0, getppid()) == -1)
		rc = 21;	/* we must not lead our group for the guard to be tested */
	if (rc == 0 && proctree_kill(getpid(), 1, NULL, 0, 1, 500) != 0)
		rc = 22;
	if (rc == 0 && kill(x, 0) == -1)
		rc = 23;
	if (rc == 0 && kill(getppid(), 0) == -1)
		rc = 24;
	(void)kill(x, SIGKILL);	/* it is alive: checked just above */
	return rc;
}

static void
test_spares_strangers(void **state)
{
	(void)state;
	in_child(spares_strangers);
}

static void
test_method(void **state)
{
	(void)state;
	assert_string_equal(proctree_method(), "pidfd");	/* Debian 12's kernel has it */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_select_descendants_only),
		cmocka_unit_test(test_select_keep_and_group),
		cmocka_unit_test(test_select_linear),
		cmocka_unit_test(test_kill_setsid_grandchild),
		cmocka_unit_test(test_spares_strangers),
		cmocka_unit_test(test_method),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
