/*
 * manifest_parse() and friends: the JSON and environment a good manifest
 * gives, and a precise reason (with line and column) for each bad one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "manifest.h"

static char *keys[4];

static void
defaults(struct conf_packet *p)
{
	memset(p, 0, sizeof(*p));
	p->manifest_max_bytes = 1 << 20;
	p->manifest_max_depth = 64;
	p->manifest_max_nodes = 100000;
	p->manifest_keys.v = keys;
	p->manifest_keys.n = 0;
}

static int
parse(const char *yaml, const struct conf_packet *p, struct manifest *m, char *reason)
{
	return manifest_parse(yaml, strlen(yaml), p, m, reason, 1024);
}

static void
expect_json(const char *yaml, const char *json)
{
	struct conf_packet p;
	struct manifest m;
	char reason[1024];
	int r;

	defaults(&p);
	r = parse(yaml, &p, &m, reason);
	if (r != 0)
		fail_msg("%s: %d %s", yaml, r, reason);
	assert_string_equal(m.json, json);
	assert_int_equal(m.jsonlen, strlen(json));
	manifest_free(&m);
}

static void
expect_bad_p(const char *yaml, size_t len, const struct conf_packet *p, const char *want)
{
	struct manifest m;
	char reason[1024];
	int r;

	r = manifest_parse(yaml, len, p, &m, reason, sizeof(reason));
	if (r != MANIFEST_BAD || strcmp(reason, want) != 0)
		fail_msg("want \"%s\", got %d \"%s\"", want, r, reason);
	assert_null(m.json);
	assert_int_equal(m.env.n, 0);
}

static void
expect_bad(const char *yaml, const char *want)
{
	struct conf_packet p;

	defaults(&p);
	expect_bad_p(yaml, strlen(yaml), &p, want);
}

static void
test_json_of_a_manifest(void **state)
{
	(void)state;
	expect_json("device_id: cam7\nfiles:\n  - a.mp4\n  - b.mp4\nmeta: {fps: 30, ok: true}\n"
	    "empty:\nnull: ~\n",
	    "{\"device_id\":\"cam7\",\"files\":[\"a.mp4\",\"b.mp4\"],"
	    "\"meta\":{\"fps\":\"30\",\"ok\":\"true\"},\"empty\":\"\",\"null\":\"~\"}\n");
	expect_json("{}", "{}\n");
	expect_json("a: []\nb: {}\nc: [[], [x]]\n", "{\"a\":[],\"b\":{},\"c\":[[],[\"x\"]]}\n");
	expect_json("---\nk: v\n...\n", "{\"k\":\"v\"}\n");
	/* Keys may repeat in different mappings. */
	expect_json("a: {x: 1}\nb: {x: 2}\n", "{\"a\":{\"x\":\"1\"},\"b\":{\"x\":\"2\"}}\n");
}

static void
test_json_escapes(void **state)
{
	(void)state;
	expect_json("q: \"say \\\"hi\\\" \\\\ \\t \\n \\x01 \\x7f \\u00e9 \\U0001F600\"\n",
	    "{\"q\":\"say \\\"hi\\\" \\\\ \\t \\n \\u0001 \x7f \xc3\xa9 \xf0\x9f\x98\x80\"}\n");
	expect_json("\"k\\re\\by\\f\": |\n  line1\n  line2\n",
	    "{\"k\\re\\by\\f\":\"line1\\nline2\\n\"}\n");
	expect_json("gr\xc3\xb6\xc3\x9f" "e: \xe2\x82\xac\n", "{\"gr\xc3\xb6\xc3\x9f" "e\":\"\xe2\x82\xac\"}\n");
}

/* The writer itself: whatever it is given, valid UTF-8 comes out. */
static void
test_json_string_repairs_utf8(void **state)
{
	struct json j;
	char *s;

	(void)state;
	json_init(&j);
	json_string(&j, "a\xff" "b\xc3" "\xed\xa0\x80" "\xc0\xaf" "\xf4\x90\x80\x80" "\xc3\xa9", 15);
	s = json_finish(&j, NULL);
	assert_non_null(s);
	assert_string_equal(s, "\"a\xef\xbf\xbd" "b\xef\xbf\xbd" "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbd\xef\xbf\xbd" "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "\xc3\xa9\"");
	free(s);
}

static int
env_has(const struct manifest *m, const char *want)
{
	size_t i;

	for (i = 0; i < m->env.n; i++)
		if (strcmp(m->env.v[i], want) == 0)
			return 1;
	return 0;
}

static void
test_env(void **state)
{
	struct conf_packet p;
	struct manifest m;
	char reason[1024], *big;
	size_t n;

	(void)state;
	defaults(&p);
	assert_int_equal(parse("device_id: cam7\ndevice-id: other\nGr\xc3\xb6\xc3\x9f" "e: 3\n"
	    "list: [1]\nmap: {a: b}\n\"\": empty\nmulti: \"a\\nb\"\n9lives: x\n", &p, &m, reason), 0);
	assert_true(env_has(&m, "INGEST_META_DEVICE_ID=cam7"));
	assert_false(env_has(&m, "INGEST_META_DEVICE_ID=other"));	/* the first wins */
	assert_true(env_has(&m, "INGEST_META_GR__E=3"));	/* one '_' per character */
	assert_true(env_has(&m, "INGEST_META_MULTI=a\nb"));
	assert_true(env_has(&m, "INGEST_META_9LIVES=x"));
	assert_int_equal(m.env.n, 4);	/* no list, map or empty key */
	assert_null(m.env.v[m.env.n]);
	manifest_free(&m);

	/* A value past 64 KiB stays in the JSON only. */
	n = MANIFEST_ENV_VALUE_MAX + 1;
	big = malloc(n + 32);
	assert_non_null(big);
	memcpy(big, "big: ", 5);
	memset(big + 5, 'x', n);
	strcpy(big + 5 + n, "\nsmall: y\n");
	assert_int_equal(parse(big, &p, &m, reason), 0);
	assert_int_equal(m.env.n, 1);
	assert_string_equal(m.env.v[0], "INGEST_META_SMALL=y");
	assert_true(m.jsonlen > n);
	manifest_free(&m);
	free(big);
}

static void
test_env_name(void **state)
{
	char out[32];

	(void)state;
	assert_int_equal(manifest_env_name("a.b-c d", 7, out, sizeof(out)), 0);
	assert_string_equal(out, "INGEST_META_A_B_C_D");
	assert_int_equal(manifest_env_name("x", 1, out, 13), -1);
	assert_int_equal(manifest_env_name("\xe2\x82\xac", 3, out, sizeof(out)), 0);
	assert_string_equal(out, "INGEST_META__");
}

static void
test_required_keys(void **state)
{
	struct conf_packet p;
	struct manifest m;
	char reason[1024];

	(void)state;
	defaults(&p);
	keys[0] = "device_id";
	keys[1] = "shot at";
	p.manifest_keys.n = 2;
	assert_int_equal(parse("device_id: 1\nshot at: now\n", &p, &m, reason), 0);
	manifest_free(&m);
	expect_bad_p("device_id: 1\nnested: {shot at: x}\n", 34, &p,
	    "manifest missing_key=\"shot at\"");
	expect_bad_p("other: 1\n", 9, &p, "manifest missing_key=device_id");
}

static void
test_refused_shapes(void **state)
{
	(void)state;
	expect_bad("- a\n- b\n",
	    "manifest line=1 column=1 error=\"the top level is a list, not a mapping\"");
	expect_bad("just a string\n",
	    "manifest line=1 column=1 error=\"the top level is a scalar, not a mapping\"");
	expect_bad("", "manifest line=1 column=1 error=\"empty document: expected a mapping\"");
	expect_bad("# only a comment\n",
	    "manifest line=2 column=1 error=\"empty document: expected a mapping\"");
	expect_bad("a: 1\n---\nb: 2\n", "manifest line=2 column=1 error=\"more than one document\"");
	expect_bad("a: 1\nb: 2\na: 3\n", "manifest line=3 column=1 error=\"duplicate key a\"");
	expect_bad("x:\n  \"k\": 1\n  k: 2\n", "manifest line=3 column=3 error=\"duplicate key k\"");
	expect_bad("? [a]\n: 1\n", "manifest line=1 column=3 error=\"a key must be a scalar\"");
	expect_bad("a: \"nul\\0here\"\n", "manifest line=1 column=4 error=\"NUL byte in a scalar\"");
}

static void
test_aliases_anchors_tags(void **state)
{
	(void)state;
	expect_bad("a: &x [1, 2]\nb: [*x, *x]\n",
	    "manifest line=1 column=4 error=\"anchors are not allowed\"");
	expect_bad("a: *x\n", "manifest line=1 column=4 error=\"aliases are not allowed\"");
	expect_bad("a: !!binary aGVsbG8=\n", "manifest line=1 column=4 error=\"tags are not allowed\"");
	expect_bad("!!map {a: 1}\n", "manifest line=1 column=1 error=\"tags are not allowed\"");
	expect_bad("a: !custom {b: 1}\n", "manifest line=1 column=4 error=\"tags are not allowed\"");
}

static void
test_limits(void **state)
{
	struct conf_packet p;
	struct manifest m;
	char *deep, reason[1024];
	size_t i, n = 10000;

	(void)state;
	defaults(&p);
	/* 10,000 levels: stopped at the 65th, long before libyaml's quadratic cost shows. */
	deep = malloc(3 + 2 * n + 2);
	assert_non_null(deep);
	memcpy(deep, "a: ", 3);
	for (i = 0; i < n; i++)
		deep[3 + i] = '[';
	for (i = 0; i < n; i++)
		deep[3 + n + i] = ']';
	deep[3 + 2 * n] = '\0';
	expect_bad_p(deep, strlen(deep), &p,
	    "manifest line=1 column=67 error=\"nested deeper than manifest_max_depth\"");
	free(deep);
	p.manifest_max_depth = 2;
	expect_bad_p("a: {b: {c: 1}}\n", 15, &p,
	    "manifest line=1 column=8 error=\"nested deeper than manifest_max_depth\"");
	defaults(&p);
	p.manifest_max_nodes = 4;
	expect_bad_p("a: 1\nb: 2\n", 10, &p,
	    "manifest line=2 column=4 error=\"more nodes than manifest_max_nodes\"");
	p.manifest_max_nodes = 5;	/* the mapping and four scalars */
	assert_int_equal(parse("a: 1\nb: 2\n", &p, &m, reason), 0);
	manifest_free(&m);
}

static void
test_size_limit(void **state)
{
	struct conf_packet p;

	(void)state;
	defaults(&p);
	p.manifest_max_bytes = 8;
	expect_bad_p("a: 12345\n", 9, &p,
	    "manifest error=\"larger than manifest_max_bytes\" size=9 max=8");
}

static void
test_syntax_errors_have_positions(void **state)
{
	(void)state;
	expect_bad("a: 1\n\tb: 2\n",
	    "manifest line=2 column=1 error=\"found a tab character that violates indentation\"");
	expect_bad("a: 1\n@b: 2\n",
	    "manifest line=2 column=1 error=\"found character that cannot start any token\"");
	expect_bad("a: [1, 2\nb: 3\n",
	    "manifest line=2 column=2 error=\"did not find expected ',' or ']'\"");
	expect_bad("a: b: c\n",
	    "manifest line=1 column=5 error=\"mapping values are not allowed in this context\"");
	expect_bad("a: 1\nb: caf\xe9\n",
	    "manifest line=2 column=7 error=\"incomplete UTF-8 octet sequence\"");
	expect_bad("a: 1\nbb: \xc3\xa9\x80\n",
	    "manifest line=2 column=6 error=\"invalid leading UTF-8 octet\"");
	expect_bad("a: 1\nb: \x01\n",
	    "manifest line=2 column=4 error=\"control characters are not allowed\"");
	expect_bad("\xff\xfe" "a\0:\0 \0" "1\0",
	    "manifest line=1 column=1 error=\"invalid leading UTF-8 octet\"");
}

/* Binary garbage: whatever the bytes, a reason and no crash. */
static void
test_garbage(void **state)
{
	struct conf_packet p;
	struct manifest m;
	char buf[4096], reason[1024];
	unsigned seed = 7;
	size_t i;
	int k;

	(void)state;
	defaults(&p);
	for (k = 0; k < 200; k++) {
		for (i = 0; i < sizeof(buf); i++)
			buf[i] = (char)(rand_r(&seed) & 0xff);
		if (manifest_parse(buf, sizeof(buf), &p, &m, reason, sizeof(reason)) == 0)
			manifest_free(&m);
		else
			assert_memory_equal(reason, "manifest ", 9);
	}
}

static void
test_read_files(void **state)
{
	struct conf_packet p;
	struct manifest m;
	char dir[] = "/tmp/test_manifest.XXXXXX", path[PATH_MAX], link[PATH_MAX], reason[1024];
	int fd;

	(void)state;
	defaults(&p);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/data_info.yml", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "k: v\n", 5), 5);
	close(fd);
	assert_int_equal(manifest_read(path, &p, &m, reason, sizeof(reason)), 0);
	assert_string_equal(m.json, "{\"k\":\"v\"}\n");
	manifest_free(&m);

	/* 100 MB (sparse): refused on its size, before a byte is read. */
	assert_int_equal(truncate(path, 100 << 20), 0);
	assert_int_equal(manifest_read(path, &p, &m, reason, sizeof(reason)), MANIFEST_BAD);
	assert_string_equal(reason,
	    "manifest error=\"larger than manifest_max_bytes\" size=104857600 max=1048576");

	snprintf(link, sizeof(link), "%s/link.yml", dir);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(manifest_read(link, &p, &m, reason, sizeof(reason)), MANIFEST_BAD);
	assert_string_equal(reason, "manifest error=\"a symlink, not a regular file\"");
	assert_int_equal(unlink(link), 0);

	/* A FIFO neither blocks nor passes. */
	assert_int_equal(mkfifo(link, 0600), 0);
	assert_int_equal(manifest_read(link, &p, &m, reason, sizeof(reason)), MANIFEST_BAD);
	assert_string_equal(reason, "manifest error=\"not a regular file\"");
	assert_int_equal(unlink(link), 0);

	assert_int_equal(manifest_read(link, &p, &m, reason, sizeof(reason)), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_of_a_manifest),
		cmocka_unit_test(test_json_escapes),
		cmocka_unit_test(test_json_string_repairs_utf8),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_env_name),
		cmocka_unit_test(test_required_keys),
		cmocka_unit_test(test_refused_shapes),
		cmocka_unit_test(test_aliases_anchors_tags),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_syntax_errors_have_positions),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_read_files),
	};

	setlocale(LC_CTYPE, "C.UTF-8");
	log_init("test", -1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
