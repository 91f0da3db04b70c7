/* template.c: handler.command placeholders. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "template.h"

static void
expands(const char *tmpl, const char *want)
{
	char *got = template_expand(tmpl, "x y.zip", "/s/work/J/pkt/x y.zip", "/s/work/J/tree");

	if (got == NULL) {
		fail_msg("\"%s\" should expand", tmpl);
		return;
	}
	if (strcmp(got, want) != 0)
		fail_msg("\"%s\" expanded to \"%s\", want \"%s\"", tmpl, got, want);
	free(got);
}

static void
test_expand(void **state)
{
	(void)state;
	expands("", "");
	expands("plain", "plain");
	expands("{name}", "x y.zip");
	expands("{path}", "/s/work/J/pkt/x y.zip");
	expands("{dir}", "/s/work/J/tree");
	expands("--in={dir}/{name}.d", "--in=/s/work/J/tree/x y.zip.d");
	expands("{name}{name}", "x y.zipx y.zip");
	expands("{{", "{");
	expands("}}", "}");
	expands("{{name}}", "{name}");
	expands("{{{name}}}", "{x y.zip}");
	expands("{{{name}", "{x y.zip");
	expands("${{HOME}}", "${HOME}");
	expands("a{{b}}c{dir}", "a{b}c/s/work/J/tree");
	expands("$(rm -rf /);'\"", "$(rm -rf /);'\"");
}

/* Values go in verbatim: braces or quotes in a name are not read again. */
static void
test_values_verbatim(void **state)
{
	char *got;

	(void)state;
	got = template_expand("<{name}>", "{path}}{ '$x'", "P", "D");
	assert_non_null(got);
	assert_string_equal(got, "<{path}}{ '$x'>");
	free(got);
	got = template_expand("{name}", "", "P", "D");
	assert_non_null(got);
	assert_string_equal(got, "");
	free(got);
	/* A value that is not used may be NULL. */
	got = template_expand("{name}", "n", NULL, NULL);
	assert_non_null(got);
	assert_string_equal(got, "n");
	free(got);
	errno = 0;
	assert_null(template_expand("{dir}", "n", "p", NULL));
	assert_int_equal(errno, EINVAL);
}

static void
test_check_errors(void **state)
{
	static const struct {
		const char *tmpl;
		const char *why;
	} bad[] = {
		{ "{foo}", "unknown placeholder \"{foo}\" (known: {name} {path} {dir}; {{ and }} are "
		  "literal braces)" },
		{ "{}", "unknown placeholder \"{}\"" },
		{ "{Name}", "unknown placeholder \"{Name}\"" },
		{ "{ name}", "unknown placeholder \"{ name}\"" },
		{ "a{name", "unclosed \"{\" at offset 1 (write \"{{\" for a literal brace)" },
		{ "{", "unclosed \"{\" at offset 0" },
		{ "x}", "single \"}\" at offset 1 (write \"}}\" for a literal brace)" },
		{ "}", "single \"}\" at offset 0" },
		{ "{name}}", "single \"}\" at offset 6" },
		{ "{na{me}", "unknown placeholder \"{na{me}\"" },
		{ "{\x01\n\"}", "unknown placeholder \"{???}\"" },
		{ "{aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}",
		  "unknown placeholder \"{aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...}\"" },
	};
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		errno = 0;
		if (template_check(bad[i].tmpl, err, sizeof(err)) != -1)
			fail_msg("\"%s\" should be refused", bad[i].tmpl);
		assert_int_equal(errno, EINVAL);
		if (strstr(err, bad[i].why) == NULL)
			fail_msg("\"%s\": got \"%s\", want \"%s\"", bad[i].tmpl, err, bad[i].why);
		errno = 0;
		assert_null(template_expand(bad[i].tmpl, "n", "p", "d"));
		assert_int_equal(errno, EINVAL);
	}
	assert_int_equal(template_check("", err, sizeof(err)), 0);
	assert_int_equal(template_check("{name}{path}{dir}{{}}", err, sizeof(err)), 0);
	/* A short error buffer is cut, never overrun. */
	assert_int_equal(template_check("{foo}", err, 8), -1);
	assert_int_equal(strlen(err), 7);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_values_verbatim),
		cmocka_unit_test(test_check_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
