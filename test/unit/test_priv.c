/*
 * priv_drop() paths an unprivileged process can take. Started as root (as in
 * CI), the program first becomes nobody for good, so the same paths run
 * everywhere; the root paths (switching users, refusing root handlers) are
 * tested against the real daemon in test/integration/priv.bats.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "log.h"
#include "priv.h"

static char self[256];

static mode_t
current_umask(void)
{
	mode_t m = umask(0);

	umask(m);
	return m;
}

static void
test_no_user_sets_umask(void **state)
{
	char err[256];

	(void)state;
	umask(0);
	assert_int_equal(priv_drop(NULL, 0, 1, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(current_umask(), 027);
}

static void
test_empty_user_is_no_user(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(priv_drop("", 0, 1, err, sizeof(err)), 0);
}

static void
test_same_user_accepted(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(priv_drop(self, 0, 1, err, sizeof(err)), 0);
	assert_int_equal(current_umask(), 027);
}

static void
test_other_user_refused(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(priv_drop("root", 0, 0, err, sizeof(err)), EX_NOPERM);
	assert_non_null(strstr(err, "user root"));
	assert_non_null(strstr(err, "chpst -u root"));
	/* nothing changed: still the same unprivileged user */
	assert_int_not_equal(geteuid(), 0);
}

static void
test_unknown_user_is_config_error(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(priv_drop("ingestd-no-such-user", 0, 0, err, sizeof(err)),
	    EX_CONFIG);
	assert_string_equal(err, "user ingestd-no-such-user: no such user");
}

static void
test_short_buffer_truncates(void **state)
{
	char err[8];

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(priv_drop("ingestd-no-such-user", 0, 0, err, sizeof(err)),
	    EX_CONFIG);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	/* errlen 0: no write at all, the status still tells what happened */
	assert_int_equal(priv_drop("ingestd-no-such-user", 0, 0, NULL, 0), EX_CONFIG);
}

/* Become nobody for good when started as root, so the paths above are the
 * unprivileged ones. Returns 0 or -1 after printing why. */
static int
unprivileged(void)
{
	const struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	if ((pw = getpwnam("nobody")) == NULL) {
		fprintf(stderr, "test_priv: no user nobody to drop to\n");
		return -1;
	}
	if (setgroups(0, NULL) == -1 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		perror("test_priv: dropping to nobody");
		return -1;
	}
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_user_sets_umask),
		cmocka_unit_test(test_empty_user_is_no_user),
		cmocka_unit_test(test_same_user_accepted),
		cmocka_unit_test(test_other_user_refused),
		cmocka_unit_test(test_unknown_user_is_config_error),
		cmocka_unit_test(test_short_buffer_truncates),
	};
	const struct passwd *pw;

	log_init("test", -1);
	if (unprivileged() == -1)
		return 1;
	if ((pw = getpwuid(getuid())) == NULL) {
		fprintf(stderr, "test_priv: uid %lu has no passwd entry\n",
		    (unsigned long)getuid());
		return 1;
	}
	snprintf(self, sizeof(self), "%s", pw->pw_name);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
