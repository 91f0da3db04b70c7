/* names.c: the ignore: globs and name_is_valid. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "names.h"

static void
test_default_patterns(void **state)
{
	static const char *const ignored[] = {
		"x.zip-downloading", "-downloading", "x.zip.part", ".part", ".hidden", ".",
		"..", ".x.zip", "a b.part",
	};
	static const char *const taken[] = {
		"x.zip", "downloading", "x-downloading.zip", "x.partial", "x.part.zip", "part",
		"x.PART", "a.zip-Downloading", "data.", "a.b.c",
	};
	struct conf c;
	size_t i;

	(void)state;
	assert_int_equal(conf_defaults(&c), 0);
	for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		if (ignore_match(&c.ignore, ignored[i]) != 1)
			fail_msg("\"%s\" should be ignored", ignored[i]);
	for (i = 0; i < sizeof(taken) / sizeof(taken[0]); i++)
		if (ignore_match(&c.ignore, taken[i]) != 0)
			fail_msg("\"%s\" should not be ignored", taken[i]);
	conf_free(&c);
}

static void
test_fnmatch_semantics(void **state)
{
	char *star[] = { "*", NULL }, *set[] = { "[!a-m]*.zip", NULL },
	    *q[] = { "?.tmp", NULL }, *esc[] = { "\\*x", NULL }, *br[] = { "[", NULL };
	struct strv s_star = { star, 1 }, s_set = { set, 1 }, s_q = { q, 1 },
	    s_esc = { esc, 1 }, s_br = { br, 1 }, none = { NULL, 0 };

	(void)state;
	/* No FNM_PERIOD: "*" and "?" match a leading dot too. */
	assert_int_equal(ignore_match(&s_star, ".dot"), 1);
	assert_int_equal(ignore_match(&s_star, "x"), 1);
	assert_int_equal(ignore_match(&s_q, ".tmp"), 0);
	assert_int_equal(ignore_match(&s_q, "..tmp"), 1);
	assert_int_equal(ignore_match(&s_q, "a.tmp"), 1);
	assert_int_equal(ignore_match(&s_set, "x.zip"), 1);
	assert_int_equal(ignore_match(&s_set, "b.zip"), 0);
	assert_int_equal(ignore_match(&s_esc, "*x"), 1);
	assert_int_equal(ignore_match(&s_esc, "ax"), 0);
	/* An unclosed bracket is a literal, not an error. */
	assert_int_equal(ignore_match(&s_br, "["), 1);
	assert_int_equal(ignore_match(&s_br, "a"), 0);
	assert_int_equal(ignore_match(&none, "x"), 0);
	assert_int_equal(ignore_match(NULL, "x"), 0);
}

static void
test_name_is_valid(void **state)
{
	char long_name[300];

	(void)state;
	assert_int_equal(name_is_valid("x.zip"), 1);
	assert_int_equal(name_is_valid(".hidden"), 1);
	assert_int_equal(name_is_valid("..."), 1);
	assert_int_equal(name_is_valid("a b\nc"), 1);
	assert_int_equal(name_is_valid("\xff"), 1);
	assert_int_equal(name_is_valid(""), 0);
	assert_int_equal(name_is_valid("."), 0);
	assert_int_equal(name_is_valid(".."), 0);
	assert_int_equal(name_is_valid("a/b"), 0);
	assert_int_equal(name_is_valid("/"), 0);
	assert_int_equal(name_is_valid("a/"), 0);
	assert_int_equal(name_is_valid(NULL), 0);
	memset(long_name, 'a', sizeof(long_name));
	long_name[255] = '\0';
	assert_int_equal(name_is_valid(long_name), 1);
	long_name[255] = 'a';
	long_name[256] = '\0';
	assert_int_equal(name_is_valid(long_name), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_patterns),
		cmocka_unit_test(test_fnmatch_semantics),
		cmocka_unit_test(test_name_is_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
