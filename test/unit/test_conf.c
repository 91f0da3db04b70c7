/*
 * conf.c: every key's happy path and errors (with their line), the value
 * syntaxes, YAML features that are refused, the round trip through
 * conf_print, validation, and the packaged config files.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "log.h"
#include "suggest.h"
#include "units.h"

#define KiB 1024ULL
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)
#define TiB (1024 * GiB)

static int
load(struct conf *c, const char *yaml, char *err, size_t errlen)
{
	assert_int_equal(conf_defaults(c), 0);
	return conf_load_buf(c, "t.yml", yaml, strlen(yaml), err, errlen);
}

/* yaml must load; c is left for the caller to inspect and free. */
static void
loads(struct conf *c, const char *yaml)
{
	char err[1024] = "";

	if (load(c, yaml, err, sizeof(err)) != 0)
		fail_msg("yaml <<%s>> should load, got: %s", yaml, err);
}

/* yaml must fail with "t.yml:LINE: " and text somewhere in the message. */
static void
fails_at(const char *yaml, unsigned line, const char *text)
{
	struct conf c;
	char err[1024] = "", prefix[32];

	errno = 0;
	if (load(&c, yaml, err, sizeof(err)) != -1)
		fail_msg("yaml <<%s>> should fail with \"%s\"", yaml, text);
	assert_int_equal(errno, EINVAL);
	snprintf(prefix, sizeof(prefix), "t.yml:%u: ", line);
	if (strncmp(err, prefix, strlen(prefix)) != 0 || strstr(err, text) == NULL)
		fail_msg("yaml <<%s>>: got \"%s\", want \"%s...%s\"", yaml, err, prefix, text);
	conf_free(&c);
}

static void
assert_strv(const struct strv *sv, size_t n, ...)
{
	va_list ap;
	size_t i;

	assert_non_null(sv->v);
	assert_int_equal(sv->n, n);
	va_start(ap, n);
	for (i = 0; i < n; i++)
		assert_string_equal(sv->v[i], va_arg(ap, const char *));
	va_end(ap);
	assert_null(sv->v[n]);
}

static int
strv_equal(const struct strv *a, const struct strv *b)
{
	size_t i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return 0;
	return 1;
}

static int
str_equal(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Every setting, field by field (not file, key_line, verbosity). */
static void
assert_conf_equal(const struct conf *a, const struct conf *b)
{
	assert_true(str_equal(a->spool, b->spool));
	assert_int_equal(a->workers, b->workers);
	assert_int_equal(a->settle_ms, b->settle_ms);
	assert_true(strv_equal(&a->ignore, &b->ignore));
	assert_int_equal(a->shutdown_grace_ms, b->shutdown_grace_ms);
	assert_int_equal(a->fsync, b->fsync);
	assert_true(str_equal(a->user, b->user));
	assert_int_equal(a->allow_root, b->allow_root);
	assert_true(strv_equal(&a->handler.command, &b->handler.command));
	assert_int_equal(a->handler.timeout_ms, b->handler.timeout_ms);
	assert_int_equal(a->handler.retries, b->handler.retries);
	assert_int_equal(a->handler.backoff_ms, b->handler.backoff_ms);
	assert_int_equal(a->handler.backoff_max_ms, b->handler.backoff_max_ms);
	assert_true(strv_equal(&a->handler.env, &b->handler.env));
	assert_int_equal(a->handler.log_max, b->handler.log_max);
	assert_true(strv_equal(&a->packet.formats, &b->packet.formats));
	assert_int_equal(a->packet.plain, b->packet.plain);
	assert_int_equal(a->packet.links, b->packet.links);
	assert_int_equal(a->packet.on_success, b->packet.on_success);
	assert_int_equal(a->packet.keep_extracted, b->packet.keep_extracted);
	assert_int_equal(a->packet.max_bytes, b->packet.max_bytes);
	assert_int_equal(a->packet.max_entries, b->packet.max_entries);
	assert_int_equal(a->packet.max_file_bytes, b->packet.max_file_bytes);
	assert_int_equal(a->packet.max_ratio, b->packet.max_ratio);
	assert_int_equal(a->packet.max_depth, b->packet.max_depth);
	assert_true(str_equal(a->packet.manifest, b->packet.manifest));
	assert_int_equal(a->packet.manifest_required, b->packet.manifest_required);
	assert_true(strv_equal(&a->packet.manifest_keys, &b->packet.manifest_keys));
	assert_int_equal(a->packet.manifest_max_bytes, b->packet.manifest_max_bytes);
	assert_int_equal(a->packet.manifest_max_depth, b->packet.manifest_max_depth);
	assert_int_equal(a->packet.manifest_max_nodes, b->packet.manifest_max_nodes);
	assert_true(str_equal(a->metrics_mode, b->metrics_mode));
	assert_int_equal(a->log_time, b->log_time);
}

static char *
print_to_string(const struct conf *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	assert_non_null(fp);
	conf_print(c, fp);
	assert_int_equal(fclose(fp), 0);
	return buf;
}

/* Print c, load that text on fresh defaults, compare; prints must match too. */
static void
assert_round_trip(const struct conf *c)
{
	struct conf back;
	char err[1024] = "", *text, *again;

	text = print_to_string(c);
	assert_int_equal(conf_defaults(&back), 0);
	if (conf_load_buf(&back, "printed", text, strlen(text), err, sizeof(err)) != 0)
		fail_msg("printed config does not load: %s\n%s", err, text);
	assert_conf_equal(c, &back);
	again = print_to_string(&back);
	/* The header names the source; compare from the first setting on. */
	assert_string_equal(strchr(text, '\n'), strchr(again, '\n'));
	free(text);
	free(again);
	conf_free(&back);
}

static const char all_keys[] =
    "spool: /srv/spool\n"                               /* 1 */
    "workers: 7\n"
    "settle: 250ms\n"
    "ignore: [\"*.tmp\", \"~*\"]\n"
    "shutdown_grace: 3s\n"                              /* 5 */
    "fsync: no\n"
    "user: ingestd\n"
    "allow_root: yes\n"
    "handler:\n"
    "  command: [/usr/bin/handle, \"{path}\", \"--name={name}\", \"{{literal}}\", \"\"]\n" /* 10 */
    "  timeout: 1h30m\n"
    "  retries: 0\n"
    "  backoff: 2s\n"
    "  backoff_max: 1m\n"
    "  env: [HOME, LANG, _x9]\n"                        /* 15 */
    "  log_max: 64KiB\n"
    "packet:\n"
    "  formats: [zip, 7zip, cab]\n"
    "  plain: pass\n"
    "  links: inside\n"                                 /* 20 */
    "  on_success: delete\n"
    "  keep_extracted: true\n"
    "  max_bytes: 10GiB\n"
    "  max_entries: 5\n"
    "  max_file_bytes: 1G\n"                            /* 25 */
    "  max_ratio: 50\n"
    "  max_depth: 4\n"
    "  manifest: meta.yaml\n"
    "  manifest_required: off\n"
    "  manifest_keys:\n"                                /* 30 */
    "    - id\n"
    "    - camera\n"
    "  manifest_max_bytes: 4k\n"
    "  manifest_max_depth: 8\n"
    "  manifest_max_nodes: 1000\n";                     /* 35 */

/* --- defaults and empty input ---------------------------------------------------- */

static void
test_defaults(void **state)
{
	struct conf c;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	char err[256];

	(void)state;
	assert_int_equal(conf_defaults(&c), 0);
	assert_null(c.file);
	assert_string_equal(c.spool, "/var/spool/ingestd");
	assert_int_equal(c.workers, cpus < 1 ? 1 : cpus > 256 ? 256 : cpus);
	assert_int_equal(c.settle_ms, 2000);
	assert_strv(&c.ignore, 3, "*-downloading", "*.part", ".*");
	assert_int_equal(c.shutdown_grace_ms, 5000);
	assert_int_equal(c.fsync, 1);
	assert_null(c.user);
	assert_int_equal(c.allow_root, 0);
	assert_strv(&c.handler.command, 0);
	assert_int_equal(c.handler.timeout_ms, 3600 * 1000);
	assert_int_equal(c.handler.retries, 3);
	assert_int_equal(c.handler.backoff_ms, 10000);
	assert_int_equal(c.handler.backoff_max_ms, 600000);
	assert_strv(&c.handler.env, 0);
	assert_int_equal(c.handler.log_max, MiB);
	assert_strv(&c.packet.formats, 2, "zip", "tar");
	assert_strv(&c.packet.filters, 11, "bzip2", "compress", "gzip", "lz4", "lzip", "lzma",
	    "lzop", "rpm", "uu", "xz", "zstd");
	assert_int_equal(c.packet.max_time_ms, 5 * 60 * 1000);
	assert_int_equal(c.packet.max_memory, GiB);
	assert_int_equal(c.packet.plain, PLAIN_FAIL);
	assert_int_equal(c.packet.links, LINKS_REFUSE);
	assert_int_equal(c.packet.on_success, ON_SUCCESS_ARCHIVE);
	assert_int_equal(c.packet.keep_extracted, 0);
	assert_int_equal(c.packet.max_bytes, TiB);
	assert_int_equal(c.packet.max_entries, 100000);
	assert_int_equal(c.packet.max_file_bytes, TiB);
	assert_int_equal(c.packet.max_ratio, 1000);
	assert_int_equal(c.packet.max_depth, 32);
	assert_string_equal(c.packet.manifest, "data_info.yml");
	assert_int_equal(c.packet.manifest_required, 1);
	assert_strv(&c.packet.manifest_keys, 0);
	assert_int_equal(c.packet.manifest_max_bytes, MiB);
	assert_int_equal(c.packet.manifest_max_depth, 64);
	assert_int_equal(c.packet.manifest_max_nodes, 100000);
	assert_int_equal(conf_validate(&c, err, sizeof(err)), 0);
	conf_free(&c);
	assert_null(c.spool);
	conf_free(&c);         /* twice is harmless */
}

static void
test_empty_inputs(void **state)
{
	static const char *const empty[] = {
		"", "\n", "# only a comment\n", "---\n", "---\n...\n", "~\n", "null\n",
		"\xef\xbb\xbf# a BOM, then a comment\n", "{}\n",
		"handler:\npacket:\n",          /* sections with every key commented out */
		"handler: {}\npacket: ~\n",
	};
	struct conf c, d;
	size_t i;

	(void)state;
	assert_int_equal(conf_defaults(&d), 0);
	for (i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		loads(&c, empty[i]);
		assert_string_equal(c.file, "t.yml");
		assert_conf_equal(&c, &d);
		conf_free(&c);
	}
	conf_free(&d);
}

/* --- every key ------------------------------------------------------------------- */

static void
test_all_keys(void **state)
{
	struct conf c;
	char err[256];

	(void)state;
	loads(&c, all_keys);
	assert_string_equal(c.spool, "/srv/spool");
	assert_int_equal(c.workers, 7);
	assert_int_equal(c.settle_ms, 250);
	assert_strv(&c.ignore, 2, "*.tmp", "~*");
	assert_int_equal(c.shutdown_grace_ms, 3000);
	assert_int_equal(c.fsync, 0);
	assert_string_equal(c.user, "ingestd");
	assert_int_equal(c.allow_root, 1);
	assert_strv(&c.handler.command, 5, "/usr/bin/handle", "{path}", "--name={name}",
	    "{{literal}}", "");
	assert_int_equal(c.handler.timeout_ms, 5400 * 1000);
	assert_int_equal(c.handler.retries, 0);
	assert_int_equal(c.handler.backoff_ms, 2000);
	assert_int_equal(c.handler.backoff_max_ms, 60000);
	assert_strv(&c.handler.env, 3, "HOME", "LANG", "_x9");
	assert_int_equal(c.handler.log_max, 64 * KiB);
	assert_strv(&c.packet.formats, 3, "zip", "7zip", "cab");
	assert_int_equal(c.packet.plain, PLAIN_PASS);
	assert_int_equal(c.packet.links, LINKS_INSIDE);
	assert_int_equal(c.packet.on_success, ON_SUCCESS_DELETE);
	assert_int_equal(c.packet.keep_extracted, 1);
	assert_int_equal(c.packet.max_bytes, 10 * GiB);
	assert_int_equal(c.packet.max_entries, 5);
	assert_int_equal(c.packet.max_file_bytes, GiB);
	assert_int_equal(c.packet.max_ratio, 50);
	assert_int_equal(c.packet.max_depth, 4);
	assert_string_equal(c.packet.manifest, "meta.yaml");
	assert_int_equal(c.packet.manifest_required, 0);
	assert_strv(&c.packet.manifest_keys, 2, "id", "camera");
	assert_int_equal(c.packet.manifest_max_bytes, 4 * KiB);
	assert_int_equal(c.packet.manifest_max_depth, 8);
	assert_int_equal(c.packet.manifest_max_nodes, 1000);
	assert_int_equal(conf_validate(&c, err, sizeof(err)), 0);
	conf_free(&c);
}

/* Issue 11: the parse's limits and the filters. */
static void
test_packet_parse_keys(void **state)
{
	struct conf c;
	char err[256];

	(void)state;
	loads(&c, "packet:\n  filters: [gzip, xz]\n  max_time: 30s\n  max_memory: 2GiB\n");
	assert_strv(&c.packet.filters, 2, "gzip", "xz");
	assert_int_equal(c.packet.max_time_ms, 30 * 1000);
	assert_int_equal(c.packet.max_memory, 2 * GiB);
	assert_int_equal(conf_validate(&c, err, sizeof(err)), 0);
	conf_free(&c);
	loads(&c, "packet:\n  filters: []\n  max_time: 0\n  max_memory: 0\n");
	assert_strv(&c.packet.filters, 0);
	assert_int_equal(c.packet.max_time_ms, 0);
	assert_int_equal(c.packet.max_memory, 0);
	conf_free(&c);
}

static void
test_lists_replace_defaults(void **state)
{
	struct conf c;

	(void)state;
	loads(&c, "ignore: []\npacket:\n  formats:\n  - tar\n");
	assert_strv(&c.ignore, 0);
	assert_strv(&c.packet.formats, 1, "tar");
	conf_free(&c);
	loads(&c, "ignore: [\"*.x\"]\n");
	assert_strv(&c.ignore, 1, "*.x");
	conf_free(&c);
}

static void
test_scalars_by_text(void **state)
{
	struct conf c;

	(void)state;
	/* Quoting does not change what a value means: the key's type decides. */
	loads(&c, "workers: \"3\"\nfsync: 'off'\nsettle: \"1s\"\nuser: \"1000\"\n"
	    "packet:\n  manifest_keys: [no, 'yes', \"null\", ~x]\n  plain: \"pass\"\n");
	assert_int_equal(c.workers, 3);
	assert_int_equal(c.fsync, 0);
	assert_int_equal(c.settle_ms, 1000);
	assert_string_equal(c.user, "1000");
	assert_strv(&c.packet.manifest_keys, 4, "no", "yes", "null", "~x");
	assert_int_equal(c.packet.plain, PLAIN_PASS);
	conf_free(&c);
	/* Block scalars are single values as well. */
	loads(&c, "spool: >-\n  /srv/folded\nhandler:\n  command:\n    - |-\n      two\n      lines\n");
	assert_string_equal(c.spool, "/srv/folded");
	assert_strv(&c.handler.command, 1, "two\nlines");
	conf_free(&c);
}

static void
test_user_null(void **state)
{
	static const char *const none[] = { "user: ~\n", "user:\n", "user: null\n",
		"user: NULL\n", "user: Null\n" };
	struct conf c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		loads(&c, none[i]);
		assert_null(c.user);
		conf_free(&c);
	}
	loads(&c, "user: \"~\"\n");        /* quoted: a name, not null */
	assert_string_equal(c.user, "~");
	conf_free(&c);
}

static void
test_workers_auto(void **state)
{
	struct conf c, d;

	(void)state;
	assert_int_equal(conf_defaults(&d), 0);
	loads(&c, "workers: auto\n");
	assert_int_equal(c.workers, d.workers);
	conf_free(&c);
	conf_free(&d);
	fails_at("settle: auto\n", 1, "settle: invalid duration \"auto\"");
	fails_at("handler:\n  retries: auto\n", 2, "invalid number \"auto\"");
}

/* --- errors, each with its line ------------------------------------------------- */

static const struct {
	const char *yaml;
	unsigned    line;
	const char *text;
} bad[] = {
	/* spool */
	{ "spool: relative/x\n", 1, "spool: \"relative/x\" is not an absolute path" },
	{ "spool:\n", 1, "spool: missing value" },
	{ "spool: ''\n", 1, "spool: \"\" is not an absolute path" },
	{ "spool: \"/a\\0b\"\n", 1, "spool: the value contains a NUL character" },
	{ "spool: [/a]\n", 1, "spool: expected a single value, found a list" },
	{ "spool: {a: b}\n", 1, "spool: expected a single value, found a mapping" },
	/* workers and integers */
	{ "\n\nworkers: 0\n", 3, "workers: 0 is out of range (1 to 256)" },
	{ "workers: 257\n", 1, "workers: 257 is out of range (1 to 256)" },
	{ "workers: -1\n", 1, "workers: invalid number \"-1\"" },
	{ "workers: +1\n", 1, "workers: invalid number \"+1\"" },
	{ "workers: 010\n", 1, "workers: invalid number \"010\"" },
	{ "workers: 0x10\n", 1, "workers: invalid number \"0x10\"" },
	{ "workers: 4.0\n", 1, "workers: invalid number \"4.0\"" },
	{ "workers: 1_000\n", 1, "workers: invalid number \"1_000\"" },
	{ "workers: ' 4'\n", 1, "workers: invalid number \" 4\"" },
	{ "workers: ''\n", 1, "workers: invalid number \"\"" },
	{ "workers:\n", 1, "workers: missing value" },
	{ "workers: ~\n", 1, "workers: missing value" },
	{ "workers: 18446744073709551616\n", 1, "\"18446744073709551616\" is out of range" },
	{ "workers: 18446744073709551615\n", 1, "is out of range (1 to 256)" },
	{ "workers: 4294967297\n", 1, "workers: 4294967297 is out of range (1 to 256)" },
	/* durations */
	{ "settle: 9x\n", 1, "settle: invalid duration \"9x\"" },
	{ "handler:\n  timeout: 9x\n", 2, "handler.timeout: invalid duration \"9x\"" },
	{ "settle: 366d\n", 1, "settle: 366d is out of range (0 to 365d)" },
	{ "settle: 1.5s\n", 1, "invalid duration \"1.5s\"" },
	{ "settle: 30m1h\n", 1, "invalid duration \"30m1h\"" },
	{ "settle: 1h1h\n", 1, "invalid duration \"1h1h\"" },
	{ "settle: -1\n", 1, "invalid duration \"-1\"" },
	{ "settle: 1 s\n", 1, "invalid duration \"1 s\"" },
	{ "settle: 1S\n", 1, "invalid duration \"1S\"" },
	{ "settle: s\n", 1, "invalid duration \"s\"" },
	{ "settle: 1h30\n", 1, "invalid duration \"1h30\"" },
	{ "settle: 99999999999999999999ms\n", 1, "settle: \"99999999999999999999ms\" is out of range" },
	{ "shutdown_grace: 213503982335d\n", 1, "is out of range" },
	{ "shutdown_grace: [1]\n", 1, "shutdown_grace: expected a single value, found a list" },
	/* sizes */
	{ "handler:\n  log_max: 1k\n", 2, "handler.log_max: 1KiB is out of range (4KiB to 1GiB)" },
	{ "handler:\n  log_max: 1KB\n", 2, "handler.log_max: invalid size \"1KB\"" },
	{ "handler:\n  log_max: 2GiB\n", 2, "handler.log_max: 2GiB is out of range (4KiB to 1GiB)" },
	{ "handler:\n  log_max: 1m\n", 2, "invalid size \"1m\"" },
	{ "handler:\n  log_max: 1.5M\n", 2, "invalid size \"1.5M\"" },
	{ "handler:\n  log_max: MiB\n", 2, "invalid size \"MiB\"" },
	{ "packet:\n  max_bytes: 16777216T\n", 2, "packet.max_bytes: \"16777216T\" is out of range" },
	{ "packet:\n  max_bytes: 0\n", 2, "packet.max_bytes: 0 is out of range (at least 1)" },
	/* booleans */
	{ "fsync: maybe\n", 1, "fsync: invalid boolean \"maybe\" (expected true or false)" },
	{ "allow_root: 1\n", 1, "allow_root: invalid boolean \"1\"" },
	{ "fsync: {a: 1}\n", 1, "fsync: expected a single value, found a mapping" },
	{ "packet:\n  keep_extracted:\n", 2, "packet.keep_extracted: missing value" },
	/* lists */
	{ "ignore: '*.tmp'\n", 1, "ignore: expected a list such as [a, b], found a single value" },
	{ "ignore:\n", 1, "ignore: expected a list such as [a, b] or [], found nothing" },
	{ "ignore: {a: b}\n", 1, "ignore: expected a list such as [a, b], found a mapping" },
	{ "ignore: ['']\n", 1, "ignore[0]: empty pattern" },
	{ "ignore: [a, b/c]\n", 1, "ignore[1]: \"b/c\" contains '/'" },
	{ "ignore: [[a]]\n", 1, "ignore[0]: expected a single value, found a list" },
	{ "ignore:\n  - a\n  - {b: c}\n", 3, "ignore[1]: expected a single value, found a mapping" },
	{ "handler:\n  command: [sh, {path}]\n", 2, "handler.command[1]: expected a single value, "
	  "found a mapping (quote an item that starts with a brace: \"{path}\")" },
	{ "ignore:\n  - a\n  -\n", 3, "ignore[1]: empty item" },
	{ "ignore: [a, \"b\\0\"]\n", 1, "ignore[1]: the value contains a NUL character" },
	/* user */
	{ "user: ''\n", 1, "user: \"\" is not a user name" },
	{ "user: 'a b'\n", 1, "user: \"a b\" is not a user name" },
	{ "user: 'a:b'\n", 1, "user: \"a:b\" is not a user name" },
	/* handler */
	{ "handler: 5\n", 1, "handler: expected a mapping of keys, found a single value" },
	{ "handler: [a]\n", 1, "handler: expected a mapping of keys, found a list" },
	{ "handler:\n  command: echo\n", 2, "handler.command: expected a list such as [a, b]" },
	{ "handler:\n  command: ['']\n", 2, "handler.command[0]: the program must not be empty" },
	{ "handler:\n  command:\n    - a\n    - '{foo}'\n", 4,
	  "handler.command[1]: unknown placeholder \"{foo}\"" },
	{ "handler:\n  command: [a, '{name']\n", 2, "handler.command[1]: unclosed \"{\" at offset 0" },
	{ "handler:\n  command: [a, 'x}']\n", 2, "handler.command[1]: single \"}\" at offset 1" },
	{ "handler:\n  command: [a, '{}']\n", 2, "unknown placeholder \"{}\"" },
	{ "handler:\n  command: [a, '{NAME}']\n", 2, "unknown placeholder \"{NAME}\"" },
	{ "handler:\n  retries: 101\n", 2, "handler.retries: 101 is out of range (0 to 100)" },
	{ "handler:\n  env: [1BAD]\n", 2, "handler.env[0]: \"1BAD\" is not a variable name" },
	{ "handler:\n  env: [A-B]\n", 2, "handler.env[0]: \"A-B\" is not a variable name" },
	{ "handler:\n  env: ['']\n", 2, "handler.env[0]: \"\" is not a variable name" },
	{ "handler:\n  env: [A, B, A]\n", 2, "handler.env[2]: \"A\" is listed twice" },
	{ "handler:\n  backoff: 1y\n", 2, "handler.backoff: invalid duration \"1y\"" },
	{ "handler:\n  backoff_max: x\n", 2, "handler.backoff_max: invalid duration \"x\"" },
	/* packet */
	{ "packet:\n  formats: [zip, rar4]\n", 2,
	  "packet.formats[1]: invalid value \"rar4\" (expected zip, tar, 7zip, cpio, iso9660, rar, "
	  "rar5, xar, lha, cab, warc or ar)" },
	{ "packet:\n  formats: [zip, ZIP]\n", 2, "packet.formats[1]: invalid value \"ZIP\"" },
	{ "packet:\n  formats: [zip, zip]\n", 2, "packet.formats[1]: \"zip\" is listed twice" },
	{ "packet:\n  filters: [gzip, lrzip]\n", 2, "packet.filters[1]: invalid value \"lrzip\"" },
	{ "packet:\n  max_memory: 2TiB\n", 2, "packet.max_memory: " },
	{ "packet:\n  plain: maybe\n", 2, "packet.plain: invalid value \"maybe\" (expected fail or pass)" },
	{ "packet:\n  links: follow\n", 2, "packet.links: invalid value \"follow\" (expected refuse or inside)" },
	{ "packet:\n  on_success: keep\n", 2,
	  "packet.on_success: invalid value \"keep\" (expected archive or delete)" },
	{ "packet:\n  max_entries: 0\n", 2, "packet.max_entries: 0 is out of range (at least 1)" },
	{ "packet:\n  max_file_bytes: 0\n", 2, "packet.max_file_bytes: 0 is out of range" },
	{ "packet:\n  max_ratio: 1000001\n", 2, "packet.max_ratio: 1000001 is out of range (1 to 1000000)" },
	{ "packet:\n  max_depth: 0\n", 2, "packet.max_depth: 0 is out of range (1 to 1024)" },
	{ "packet:\n  manifest: a/b.yml\n", 2, "packet.manifest: \"a/b.yml\" is not a file name" },
	{ "packet:\n  manifest: '..'\n", 2, "packet.manifest: \"..\" is not a file name" },
	{ "packet:\n  manifest_required: sometimes\n", 2, "packet.manifest_required: invalid boolean" },
	{ "packet:\n  manifest_keys: ['']\n", 2, "packet.manifest_keys[0]: empty value" },
	{ "packet:\n  manifest_keys: [a, a]\n", 2, "packet.manifest_keys[1]: \"a\" is listed twice" },
	{ "packet:\n  manifest_max_bytes: 2GiB\n", 2, "packet.manifest_max_bytes: 2GiB is out of range" },
	{ "packet:\n  manifest_max_depth: 1025\n", 2, "packet.manifest_max_depth: 1025 is out of range" },
	{ "packet:\n  manifest_max_nodes: 0\n", 2, "packet.manifest_max_nodes: 0 is out of range" },
	/* unknown keys */
	{ "colour: red\n", 1, "unknown key \"colour\"" },
	{ "wrokers: 2\n", 1, "unknown key \"wrokers\" (did you mean \"workers\"?)" },
	{ "spol: /x\n", 1, "unknown key \"spol\" (did you mean \"spool\"?)" },
	{ "shutdown_grase: 1s\n", 1, "unknown key \"shutdown_grase\" (did you mean \"shutdown_grace\"?)" },
	{ "spool: /x\ntimeout: 5s\n", 2, "unknown key \"timeout\" (did you mean \"handler.timeout\"?)" },
	{ "handler:\n  colour: red\n", 2, "unknown key \"handler.colour\"" },
	{ "handler:\n  retires: 2\n", 2, "unknown key \"handler.retires\" (did you mean \"handler.retries\"?)" },
	{ "packet:\n  manifest_requird: no\n", 2, "(did you mean \"packet.manifest_required\"?)" },
	{ "handler:\n  max_bytes: 1\n", 2, "unknown key \"handler.max_bytes\" (did you mean \"packet.max_bytes\"?)" },
	{ "packet:\n  spool: /x\n", 2, "unknown key \"packet.spool\" (did you mean \"spool\"?)" },
	{ "'a b': 1\n", 1, "unknown key \"a b\"" },
	{ "Spool: /x\n", 1, "unknown key \"Spool\" (did you mean \"spool\"?)" },
	{ "handler:\n  'x\\ny': 1\n", 2, "unknown key \"handler.x\\\\ny\"" },
	{ "handler.timeout: 5s\n", 1, "unknown key \"handler.timeout\" (write it nested" },
	{ "'': 1\n", 1, "unknown key \"\"" },
	{ "? [a]\n: b\n", 1, "expected a key name, found a list" },
	{ "handler:\n  ? {a: b}\n  : c\n", 2, "handler: expected a key name, found a mapping" },
	/* duplicates */
	{ "spool: /a\nspool: /b\n", 2, "spool: duplicate key (first given at line 1)" },
	{ "handler:\n  retries: 1\n  retries: 2\n", 3,
	  "handler.retries: duplicate key (first given at line 2)" },
	{ "handler: {}\npacket: {}\nhandler: {}\n", 3, "handler: duplicate key (first given at line 1)" },
	{ "{spool: /a, spool: /a}\n", 1, "spool: duplicate key" },
	/* YAML features we refuse */
	{ "spool: &a /x\n", 1, "anchors (&name) are not allowed" },
	{ "spool: /x\nuser: *a\n", 2, "aliases (*name) are not allowed" },
	{ "ignore: &l [a]\n", 1, "anchors (&name) are not allowed" },
	{ "spool: !!str /x\n", 1, "tags (!name) are not allowed" },
	{ "spool: !foo /x\n", 1, "tags (!name) are not allowed" },
	{ "!!map {}\n", 1, "tags (!name) are not allowed" },
	{ "- a\n- b\n", 1, "expected a mapping of keys (key: value), found a list" },
	{ "hello\n", 1, "expected a mapping of keys (key: value), found a single value" },
	{ "spool: /a\n---\nspool: /b\n", 2, "only one document is allowed" },
	{ "---\n...\n---\n", 3, "only one document is allowed" },
	/* syntax and encoding */
	{ "spool: /x\nhandler:\n  command: [a\n", 4,
	  "syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 3)" },
	{ "handler:\n  command: [--name={name}]\n", 2, "syntax error" },
	{ "spool: /a\n\tworkers: 2\n", 2, "syntax error: found a tab character that violates indentation" },
	{ "spool: /a\nuser: \"\xff\"\n", 2, "invalid leading UTF-8 octet" },
	{ "spool: /a\n\nuser: x\x01y\n", 3, "control characters are not allowed" },
	{ "spool: /a\nspool\n", 3, "syntax error" },
	{ "spool: \"/a\n", 2, "syntax error: found unexpected end of stream" },
};

static void
test_errors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		fails_at(bad[i].yaml, bad[i].line, bad[i].text);
}

/* log_time: auto (the default), on, off; YAML 1.1's other booleans are not its words. */
static void
test_log_time(void **state)
{
	struct conf c;

	(void)state;
	assert_int_equal(conf_defaults(&c), 0);
	assert_int_equal(c.log_time, LOG_TIME_AUTO);
	conf_free(&c);
	loads(&c, "log_time: on\n");
	assert_int_equal(c.log_time, LOG_TIME_ON);
	conf_free(&c);
	loads(&c, "log_time: off\n");
	assert_int_equal(c.log_time, LOG_TIME_OFF);
	conf_free(&c);
	loads(&c, "log_time: auto\n");
	assert_int_equal(c.log_time, LOG_TIME_AUTO);
	conf_free(&c);
	fails_at("spool: /a\nlog_time: yes\n", 2, "invalid value \"yes\" (expected auto, on or off)");
	fails_at("log_time: true\n", 1, "invalid value \"true\"");
}

/* metrics_mode: octal read and write bits, plain or quoted; 0640 by default. */
static void
test_metrics_mode(void **state)
{
	static const char *const bad[] = {
		"0755", "0744", "4644", "1640", "06440", "64", "0o644", "0x1a4", "abc", "\"\"",
		"-644", "0648",
	};
	struct conf c;
	char yaml[64];
	size_t i;

	(void)state;
	assert_int_equal(conf_defaults(&c), 0);
	assert_string_equal(c.metrics_mode, "0640");
	conf_free(&c);
	loads(&c, "metrics_mode: 0644\n");
	assert_string_equal(c.metrics_mode, "0644");
	conf_free(&c);
	loads(&c, "metrics_mode: \"600\"\n");
	assert_string_equal(c.metrics_mode, "600");
	conf_free(&c);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(yaml, sizeof(yaml), "metrics_mode: %s\n", bad[i]);
		fails_at(yaml, 1, "is not a file mode (octal, read and write bits only, e.g. 0640)");
	}
}

/* A guess only when it is near: whole messages, so that no guess can hide. */
static void
test_unknown_key_guess(void **state)
{
	static const struct {
		const char *yaml, *err;
	} t[] = {
		{ "colour: red\n", "t.yml:1: unknown key \"colour\"" },
		{ "handler:\n  colour: red\n", "t.yml:2: unknown key \"handler.colour\"" },
		{ "wrokers: 2\n", "t.yml:1: unknown key \"wrokers\" (did you mean \"workers\"?)" },
		{ "usr: x\n", "t.yml:1: unknown key \"usr\" (did you mean \"user\"?)" },
		{ "xy: 1\n", "t.yml:1: unknown key \"xy\"" },
		{ "handler:\n  tmeout: 1s\n",
		  "t.yml:2: unknown key \"handler.tmeout\" (did you mean \"handler.timeout\"?)" },
	};
	struct conf c;
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(load(&c, t[i].yaml, err, sizeof(err)), -1);
		assert_string_equal(err, t[i].err);
		conf_free(&c);
	}
	assert_int_equal(suggest_distance("wrokers", "workers"), 1);
	assert_int_equal(suggest_distance("", "abc"), 3);
	assert_int_equal(suggest_distance("kitten", "sitting"), 3);
	assert_int_equal(suggest_distance("ca", "abc"), 3);	/* OSA: no edit of a swapped pair */
}

/* Whatever came before the error stays freeable; nothing leaks (ASan). */
static void
test_error_after_values(void **state)
{
	struct conf c;
	char err[256];

	(void)state;
	assert_int_equal(load(&c, "spool: /a\nignore: [x]\nhandler:\n  command: [a, b]\n"
	    "  env: [A, '1']\n", err, sizeof(err)), -1);
	assert_string_equal(err, "t.yml:5: handler.env[1]: \"1\" is not a variable name "
	    "(letters, digits and _, not starting with a digit)");
	conf_free(&c);
}

/* Bytes that are not text come back escaped, never raw into a log line. */
static void
test_error_quoting(void **state)
{
	struct conf c;
	char err[512], yaml[512];

	(void)state;
	assert_int_equal(load(&c, "fsync: \"a\\nb\\x01\\\"c\\u2028\"\n", err, sizeof(err)), -1);
	assert_string_equal(err, "t.yml:1: fsync: invalid boolean \"a\\nb\\x01\\\"c\\u2028\" "
	    "(expected true or false)");
	conf_free(&c);
	/* Long values are cut. */
	snprintf(yaml, sizeof(yaml), "fsync: %0300d\n", 0);
	assert_int_equal(load(&c, yaml, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "0...\""));
	assert_true(strlen(err) < 200);
	conf_free(&c);
}

/* --- values -------------------------------------------------------------------- */

static void
test_durations(void **state)
{
	static const struct {
		const char *s;
		uint64_t    ms;
	} good[] = {
		{ "0", 0 }, { "1", 1000 }, { "90", 90000 }, { "0s", 0 }, { "250ms", 250 },
		{ "90s", 90000 }, { "10m", 600000 }, { "1h", 3600000 }, { "1h30m", 5400000 },
		{ "2d", 172800000 }, { "1d2h3m4s5ms", 93784005 }, { "1h05m", 3900000 },
		{ "1m1ms", 60001 }, { "1000ms", 1000 }, { "90m", 5400000 },
		{ "18446744073709551615ms", UINT64_MAX },
		{ "18446744073709551s", 18446744073709551000ULL },
	};
	static const char *const bad_dur[] = {
		"", "x", "1x", "1.5s", "-1", "+1", " 1", "1 ", "1s ", "s", "ms", "1h1h",
		"30m1h", "1ms1s", "1sm", "1mss", "1H", "1M", "010", "1e3", "18446744073709551616",
		"18446744073709552s", "213503982335d", "1h30", "5ms5", "0x10",
	};
	uint64_t ms;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ms = 42;
		if (units_parse_duration(good[i].s, &ms) != 0)
			fail_msg("duration \"%s\" should parse", good[i].s);
		assert_int_equal(ms, good[i].ms);
	}
	for (i = 0; i < sizeof(bad_dur) / sizeof(bad_dur[0]); i++) {
		ms = 42;
		errno = 0;
		if (units_parse_duration(bad_dur[i], &ms) != -1)
			fail_msg("duration \"%s\" should not parse", bad_dur[i]);
		assert_true(errno == EINVAL || errno == ERANGE);
		assert_int_equal(ms, 42);
	}
	errno = 0;
	assert_int_equal(units_parse_duration("18446744073709551616", &ms), -1);
	assert_int_equal(errno, ERANGE);
	errno = 0;
	assert_int_equal(units_parse_duration("9999999999999999999d", &ms), -1);
	assert_int_equal(errno, ERANGE);
}

static void
test_sizes(void **state)
{
	static const struct {
		const char *s;
		uint64_t    b;
	} good[] = {
		{ "0", 0 }, { "512", 512 }, { "1k", KiB }, { "1K", KiB }, { "64KiB", 64 * KiB },
		{ "1M", MiB }, { "1MiB", MiB }, { "10G", 10 * GiB }, { "10GiB", 10 * GiB },
		{ "1T", TiB }, { "1TiB", TiB }, { "007", 7 }, { "16777215TiB", 16777215 * TiB },
		{ "18446744073709551615", UINT64_MAX },
	};
	static const char *const bad_size[] = {
		"", "k", "KiB", "1KB", "1kb", "1kib", "1m", "1mib", "1g", "1t", "1Ki", "1 K",
		"1.5M", "-1", "+1", "1B", "1e3", "16777216TiB", "18446744073709551616", "0x10",
		"1P", "1PiB", " 1",
	};
	uint64_t b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		b = 42;
		if (units_parse_size(good[i].s, &b) != 0)
			fail_msg("size \"%s\" should parse", good[i].s);
		assert_int_equal(b, good[i].b);
	}
	for (i = 0; i < sizeof(bad_size) / sizeof(bad_size[0]); i++) {
		b = 42;
		if (units_parse_size(bad_size[i], &b) != -1)
			fail_msg("size \"%s\" should not parse", bad_size[i]);
		assert_int_equal(b, 42);
	}
	errno = 0;
	assert_int_equal(units_parse_size("16777216T", &b), -1);
	assert_int_equal(errno, ERANGE);
}

static void
test_booleans(void **state)
{
	static const struct {
		const char *s;
		int         v;
	} forms[] = {
		{ "true", 1 }, { "True", 1 }, { "TRUE", 1 }, { "yes", 1 }, { "Yes", 1 }, { "on", 1 },
		{ "ON", 1 }, { "false", 0 }, { "False", 0 }, { "no", 0 }, { "NO", 0 }, { "off", 0 },
		{ "Off", 0 }, { "\"yes\"", 1 }, { "'false'", 0 },
	};
	static const char *const bad_bool[] = { "1", "0", "y", "n", "tru", "truee", "enable",
		"\"\"", "nope" };
	struct conf c;
	char yaml[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		snprintf(yaml, sizeof(yaml), "fsync: %s\nallow_root: %s\n", forms[i].s, forms[i].s);
		loads(&c, yaml);
		assert_int_equal(c.fsync, forms[i].v);
		assert_int_equal(c.allow_root, forms[i].v);
		conf_free(&c);
	}
	for (i = 0; i < sizeof(bad_bool) / sizeof(bad_bool[0]); i++) {
		snprintf(yaml, sizeof(yaml), "\nfsync: %s\n", bad_bool[i]);
		fails_at(yaml, 2, "fsync: invalid boolean");
	}
}

static void
test_integer_limits(void **state)
{
	struct conf c;

	(void)state;
	loads(&c, "workers: 256\nhandler:\n  retries: 100\npacket:\n"
	    "  max_entries: 18446744073709551615\n  max_ratio: 1000000\n  max_depth: 1024\n"
	    "  manifest_max_depth: 1\n  manifest_max_nodes: 1\n  max_bytes: 1\n"
	    "  max_file_bytes: 18446744073709551615\n  manifest_max_bytes: 1GiB\n");
	assert_int_equal(c.workers, 256);
	assert_int_equal(c.handler.retries, 100);
	assert_int_equal(c.packet.max_entries, UINT64_MAX);
	assert_int_equal(c.packet.max_ratio, 1000000);
	assert_int_equal(c.packet.max_depth, 1024);
	assert_int_equal(c.packet.manifest_max_depth, 1);
	assert_int_equal(c.packet.manifest_max_nodes, 1);
	assert_int_equal(c.packet.max_bytes, 1);
	assert_int_equal(c.packet.max_file_bytes, UINT64_MAX);
	assert_int_equal(c.packet.manifest_max_bytes, GiB);
	conf_free(&c);
	loads(&c, "workers: 1\nsettle: 0\nshutdown_grace: 365d\nhandler:\n  timeout: 0\n"
	    "  retries: 0\n  log_max: 4KiB\n");
	assert_int_equal(c.workers, 1);
	assert_int_equal(c.settle_ms, 0);
	assert_int_equal(c.shutdown_grace_ms, 365ULL * 86400 * 1000);
	assert_int_equal(c.handler.timeout_ms, 0);
	assert_int_equal(c.handler.log_max, 4 * KiB);
	conf_free(&c);
}

/* --- hostile shapes ------------------------------------------------------------ */

static double
seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * libyaml's cost grows with the square of the depth: a megabyte of brackets
 * fully parsed would take many minutes. The loader must stop at the first
 * bracket it cannot use.
 */
static void
test_deep_nesting(void **state)
{
	static const char *const shapes[][3] = {
		{ "ignore: ", "[", "ignore[0]: expected a single value, found a list" },
		{ "", "[", "expected a mapping of keys (key: value), found a list" },
		{ "", "{", "expected a key name, found a mapping" },
		{ "handler: ", "{", "handler: expected a key name, found a mapping" },
		{ "spool: ", "[", "spool: expected a single value, found a list" },
		{ "ignore:\n", "- ", "ignore[0]: expected a single value, found a list" },
	};
	const size_t len = 1024 * 1024 - 64;
	struct timespec t0;
	struct conf c;
	char err[256], prefix[32], *yaml;
	size_t i, off, plen;

	(void)state;
	yaml = malloc(len + 1);
	assert_non_null(yaml);
	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		plen = strlen(shapes[i][0]);
		memcpy(yaml, shapes[i][0], plen);
		for (off = plen; off + strlen(shapes[i][1]) <= len; off += strlen(shapes[i][1]))
			memcpy(yaml + off, shapes[i][1], strlen(shapes[i][1]));
		yaml[off] = '\0';
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(load(&c, yaml, err, sizeof(err)), -1);
		if (seconds_since(&t0) > 5)
			fail_msg("shape %zu took %.1f s", i, seconds_since(&t0));
		/* Each shape's first bracket is on the last line of its prefix. */
		snprintf(prefix, sizeof(prefix), "t.yml:%d: ", 1 + (strchr(shapes[i][0], '\n') != NULL));
		if (strncmp(err, prefix, strlen(prefix)) != 0 || strstr(err, shapes[i][2]) == NULL)
			fail_msg("shape %zu: got \"%s\"", i, err);
		conf_free(&c);
	}
	free(yaml);
}

static void
test_size_cap(void **state)
{
	struct conf c;
	char err[256], *yaml;
	size_t len = 1024 * 1024;

	(void)state;
	yaml = malloc(len + 2);
	assert_non_null(yaml);
	/* Exactly 1 MiB of comment is fine... */
	memset(yaml, ' ', len);
	yaml[0] = '#';
	yaml[len - 1] = '\n';
	yaml[len] = '\0';
	assert_int_equal(load(&c, yaml, err, sizeof(err)), 0);
	conf_free(&c);
	/* ...one byte more is not. */
	yaml[len] = '\n';
	yaml[len + 1] = '\0';
	errno = 0;
	assert_int_equal(load(&c, yaml, err, sizeof(err)), -1);
	assert_int_equal(errno, EFBIG);
	assert_string_equal(err, "t.yml: larger than 1024 KiB");
	conf_free(&c);
	free(yaml);
}

static void
test_list_cap(void **state)
{
	struct conf c;
	char err[256], yaml[16 * 1100];
	size_t i, off;

	(void)state;
	off = (size_t)snprintf(yaml, sizeof(yaml), "ignore: [");
	for (i = 0; i <= 1024; i++)
		off += (size_t)snprintf(yaml + off, sizeof(yaml) - off, "p%04zu, ", i);
	snprintf(yaml + off, sizeof(yaml) - off, "]\n");
	assert_int_equal(load(&c, yaml, err, sizeof(err)), -1);
	assert_string_equal(err, "t.yml:1: ignore[1024]: more than 1024 items");
	conf_free(&c);
	/* 1024 is fine. */
	off = (size_t)snprintf(yaml, sizeof(yaml), "ignore: [");
	for (i = 0; i < 1024; i++)
		off += (size_t)snprintf(yaml + off, sizeof(yaml) - off, "p%04zu, ", i);
	snprintf(yaml + off, sizeof(yaml) - off, "]\n");
	loads(&c, yaml);
	assert_int_equal(c.ignore.n, 1024);
	conf_free(&c);
}

/* --- printing ---------------------------------------------------------------- */

static void
test_round_trip_defaults(void **state)
{
	struct conf c;

	(void)state;
	assert_int_equal(conf_defaults(&c), 0);
	assert_round_trip(&c);
	conf_free(&c);
}

static void
test_round_trip_all_keys(void **state)
{
	struct conf c;

	(void)state;
	loads(&c, all_keys);
	assert_round_trip(&c);
	conf_free(&c);
}

static void
test_round_trip_odd_strings(void **state)
{
	struct conf c;

	(void)state;
	loads(&c,
	    "spool: \"/srv/sp ool/\\\"q\\\"/back\\\\slash/#not-a-comment: x\"\n"
	    "user: \"d\\u00e9j\\u00e0\"\n"
	    "ignore: [\"*\", \"[!a-z]*\", \"- x\", \"? y\", \"a: b\", \"&x\", \"*y\", \"!t\", \"%p\", \"@\", \"`\"]\n"
	    "handler:\n"
	    "  command: [\"/bin/x\", \"q\\\"b\\\\s\\nt\\tc\\x01d\\x7f\\r\", "
	    "\"\\u00e9\\x85\\u2028\\u2029\\ufeff\\U0001F600\\x80\\uFFFE\", \"{{x}} {name}\", \"\", "
	    "\"~\", \"null\", \"yes\", \"[1]\", \"{{}}\", \"'\", \"  lead and trail  \"]\n"
	    "packet:\n"
	    "  manifest: \"\\u00fcber \\\"m\\\".yml\"\n"
	    "  manifest_keys: [\"a\\tb\", \"#\", \"\\U0010FFFF\"]\n");
	assert_string_equal(c.spool, "/srv/sp ool/\"q\"/back\\slash/#not-a-comment: x");
	assert_string_equal(c.handler.command.v[1], "q\"b\\s\nt\tc\x01" "d\x7f\r");
	assert_string_equal(c.handler.command.v[2],
	    "\xc3\xa9\xc2\x85\xe2\x80\xa8\xe2\x80\xa9\xef\xbb\xbf\xf0\x9f\x98\x80\xc2\x80\xef\xbf\xbe");
	assert_round_trip(&c);
	conf_free(&c);
}

static void
test_print_format(void **state)
{
	struct conf c;
	char *text;

	(void)state;
	loads(&c, "spool: \"/a\\nb\"\nuser: x\nhandler:\n  command: [sh, -c, 'echo \"$X\"']\n"
	    "  timeout: 90m\n  backoff: 1500ms\n  log_max: 1536KiB\npacket:\n  max_bytes: 1000\n");
	text = print_to_string(&c);
	/* The source is named, escaped like any value. */
	assert_non_null(strstr(text, "# ingestd effective settings: built-in defaults, then \"t.yml\"\n"));
	assert_non_null(strstr(text, "\nspool: \"/a\\nb\"\n"));
	assert_non_null(strstr(text, "\nuser: \"x\"\n"));
	assert_non_null(strstr(text, "\nhandler:\n  command: [\"sh\", \"-c\", \"echo \\\"$X\\\"\"]\n"));
	assert_non_null(strstr(text, "\n  timeout: 1h30m\n"));
	assert_non_null(strstr(text, "\n  backoff: 1s500ms\n"));
	assert_non_null(strstr(text, "\n  log_max: 1536KiB\n"));
	assert_non_null(strstr(text, "\n  max_bytes: 1000\n"));
	assert_non_null(strstr(text, "\n  max_file_bytes: 1TiB\n"));
	assert_non_null(strstr(text, "\n  plain: fail\n"));
	assert_non_null(strstr(text, "\nfsync: true\n"));
	assert_non_null(strstr(text, "\n  env: []\n"));
	free(text);
	conf_free(&c);
	/* No user prints as null, which reads back as none. */
	assert_int_equal(conf_defaults(&c), 0);
	text = print_to_string(&c);
	assert_non_null(strstr(text, "# ingestd effective settings: built-in defaults\n"));
	assert_non_null(strstr(text, "\nuser: ~\n"));
	assert_non_null(strstr(text, "\n  timeout: 1h\n"));
	free(text);
	conf_free(&c);
}

/* -d can give a path that is not UTF-8: the output must still load. */
static void
test_print_not_utf8(void **state)
{
	struct conf c, back;
	char err[256], *text;

	(void)state;
	assert_int_equal(conf_defaults(&c), 0);
	free(c.spool);
	c.spool = strdup("/srv/\xff\xc3(\xe2\x82");
	assert_non_null(c.spool);
	text = print_to_string(&c);
	assert_non_null(strstr(text, "spool: \"/srv/\\xFF\\xC3(\\xE2\\x82\"\n"));
	assert_int_equal(conf_defaults(&back), 0);
	assert_int_equal(conf_load_buf(&back, "p", text, strlen(text), err, sizeof(err)), 0);
	assert_string_equal(back.spool, "/srv/\xc3\xbf\xc3\x83(\xc3\xa2\xc2\x82");
	free(text);
	conf_free(&back);
	conf_free(&c);
}

/* --- validate and set ---------------------------------------------------------- */

static void
test_validate(void **state)
{
	struct conf c;
	char err[512];

	(void)state;
	/* The message points at whichever of the two keys came last. */
	loads(&c, "handler:\n  backoff: 1m\n  backoff_max: 30s\n");
	assert_int_equal(conf_validate(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "t.yml:3: handler.backoff_max: 30s is less than handler.backoff (1m)");
	conf_free(&c);
	loads(&c, "handler:\n  backoff_max: 30s\n  backoff: 1m\n");
	assert_int_equal(conf_validate(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "t.yml:3: handler.backoff_max: 30s is less than handler.backoff (1m)");
	conf_free(&c);
	loads(&c, "\nhandler:\n  backoff: 1h\n");         /* against the default 10m */
	assert_int_equal(conf_validate(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "t.yml:3: handler.backoff_max: 10m is less than handler.backoff (1h)");
	conf_free(&c);
	loads(&c, "handler:\n  backoff: 1m\n  backoff_max: 1m\n");
	assert_int_equal(conf_validate(&c, err, sizeof(err)), 0);
	conf_free(&c);

	/* Values set after loading (command line) are checked too, without a line. */
	loads(&c, "spool: /srv/x\n");
	c.workers = 0;
	assert_int_equal(conf_validate(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "workers: 0 is out of range (1 to 256)");
	c.workers = 2;
	free(c.spool);
	c.spool = strdup("relative");
	assert_int_equal(conf_validate(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "t.yml:1: spool: \"relative\" is not an absolute path");
	free(c.spool);
	c.spool = NULL;
	assert_int_equal(conf_validate(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "t.yml:1: spool: not set");
	conf_free(&c);

	assert_int_equal(conf_defaults(&c), 0);
	c.packet.plain = (enum packet_plain)7;
	assert_int_equal(conf_validate(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "packet.plain: invalid value 7");
	c.packet.plain = PLAIN_PASS;
	assert_int_equal(strv_push(&c.handler.command, "x{bad}"), 0);
	assert_int_equal(conf_validate(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "handler.command[0]: unknown placeholder \"{bad}\""));
	conf_free(&c);
}

static void
test_conf_set(void **state)
{
	struct conf c;
	char err[512];

	(void)state;
	loads(&c, "workers: 3\nspool: /a\n");
	assert_int_equal(conf_set(&c, "workers", "5", err, sizeof(err)), 0);
	assert_int_equal(c.workers, 5);
	assert_int_equal(conf_set(&c, "spool", "/b", err, sizeof(err)), 0);
	assert_string_equal(c.spool, "/b");
	assert_int_equal(conf_set(&c, "handler.timeout", "2m", err, sizeof(err)), 0);
	assert_int_equal(c.handler.timeout_ms, 120000);
	assert_int_equal(conf_set(&c, "packet.plain", "pass", err, sizeof(err)), 0);
	assert_int_equal(c.packet.plain, PLAIN_PASS);
	assert_int_equal(conf_set(&c, "workers", "0", err, sizeof(err)), -1);
	assert_string_equal(err, "workers: 0 is out of range (1 to 256)");
	assert_int_equal(c.workers, 5);
	assert_int_equal(conf_set(&c, "spool", "rel", err, sizeof(err)), -1);
	assert_string_equal(err, "spool: \"rel\" is not an absolute path");
	assert_int_equal(conf_set(&c, "ignore", "x", err, sizeof(err)), -1);
	assert_string_equal(err, "ignore: cannot be set from the command line");
	assert_int_equal(conf_set(&c, "handler", "x", err, sizeof(err)), -1);
	assert_int_equal(conf_set(&c, "nope", "x", err, sizeof(err)), -1);
	assert_string_equal(err, "nope: unknown key");
	/* An override is no longer blamed on the file's line. */
	c.handler.backoff_max_ms = 0;
	assert_int_equal(conf_set(&c, "handler.backoff_max", "0", err, sizeof(err)), 0);
	assert_int_equal(conf_validate(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "handler.backoff_max: 0 is less than handler.backoff (10s)");
	conf_free(&c);
}

/* --- files ------------------------------------------------------------------- */

static void
test_load_file(void **state)
{
	char dir[] = "/tmp/test_conf.XXXXXX", path[128], err[512];
	struct conf c;
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ingestd.yml", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("# test\nworkers: 2\nhandler:\n  timeout: 9x\n", fp);
	assert_int_equal(fclose(fp), 0);

	assert_int_equal(conf_defaults(&c), 0);
	errno = 0;
	assert_int_equal(conf_load(&c, path, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_true(strncmp(err, path, strlen(path)) == 0);
	assert_string_equal(err + strlen(path),
	    ":4: handler.timeout: invalid duration \"9x\" (e.g. 250ms, 90s, 10m, 1h30m, 2d)");
	conf_free(&c);

	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("workers: 2\n", fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(conf_defaults(&c), 0);
	assert_int_equal(conf_load(&c, path, err, sizeof(err)), 0);
	assert_string_equal(c.file, path);
	assert_int_equal(c.workers, 2);
	conf_free(&c);

	/* Too big: read no further than needed to know it. */
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 2 * 1024 * 1024, SEEK_SET), 0);
	fputc('\n', fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(conf_defaults(&c), 0);
	errno = 0;
	assert_int_equal(conf_load(&c, path, err, sizeof(err)), -1);
	assert_int_equal(errno, EFBIG);
	assert_non_null(strstr(err, ": larger than 1024 KiB"));
	conf_free(&c);
	assert_int_equal(unlink(path), 0);

	assert_int_equal(conf_defaults(&c), 0);
	errno = 0;
	assert_int_equal(conf_load(&c, path, err, sizeof(err)), -1);
	assert_int_equal(errno, ENOENT);
	assert_string_equal(err + strlen(path), ": No such file or directory");
	errno = 0;
	assert_int_equal(conf_load(&c, dir, err, sizeof(err)), -1);
	assert_int_equal(errno, EISDIR);
	conf_free(&c);
	assert_int_equal(rmdir(dir), 0);
}

/* The shipped file is the defaults written out: it must say nothing else. */
static void
test_packaged_config(void **state)
{
	struct conf c, d;
	char err[512], *text, *defaults;

	(void)state;
	assert_int_equal(conf_defaults(&c), 0);
	if (conf_load(&c, "etc/ingestd.yml", err, sizeof(err)) != 0)
		fail_msg("etc/ingestd.yml: %s", err);
	assert_int_equal(conf_validate(&c, err, sizeof(err)), 0);
	assert_int_equal(conf_defaults(&d), 0);
	assert_conf_equal(&c, &d);
	/* Printed, every key counts, including those this test does not name. */
	text = print_to_string(&c);
	defaults = print_to_string(&d);
	assert_string_equal(strchr(text, '\n'), strchr(defaults, '\n'));
	free(text);
	free(defaults);
	assert_round_trip(&c);
	conf_free(&c);
	conf_free(&d);
}

static void
test_demo_config(void **state)
{
	struct conf c;
	char err[512];

	(void)state;
	assert_int_equal(conf_defaults(&c), 0);
	if (conf_load(&c, "etc/demo.yml", err, sizeof(err)) != 0)
		fail_msg("etc/demo.yml: %s", err);
	assert_int_equal(conf_validate(&c, err, sizeof(err)), 0);
	assert_int_equal(c.workers, 2);
	assert_int_equal(c.settle_ms, 1000);
	assert_strv(&c.handler.command, 4, "sh", "-c",
	    "out=$(echo \"demo handler: $INGEST_NAME in $INGEST_DIR\"; ls -la \"$INGEST_DIR\"); "
	    "printf \"%s\\n\" \"$out\"; (printf \"%s\\n\" \"$out\" >/dev/tty) 2>/dev/null; exit 0", "demo");
	assert_int_equal(c.packet.manifest_required, 0);
	conf_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty_inputs),
		cmocka_unit_test(test_all_keys),
		cmocka_unit_test(test_packet_parse_keys),
		cmocka_unit_test(test_lists_replace_defaults),
		cmocka_unit_test(test_scalars_by_text),
		cmocka_unit_test(test_user_null),
		cmocka_unit_test(test_workers_auto),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_metrics_mode),
		cmocka_unit_test(test_log_time),
		cmocka_unit_test(test_unknown_key_guess),
		cmocka_unit_test(test_error_after_values),
		cmocka_unit_test(test_error_quoting),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_integer_limits),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_size_cap),
		cmocka_unit_test(test_list_cap),
		cmocka_unit_test(test_round_trip_defaults),
		cmocka_unit_test(test_round_trip_all_keys),
		cmocka_unit_test(test_round_trip_odd_strings),
		cmocka_unit_test(test_print_format),
		cmocka_unit_test(test_print_not_utf8),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_conf_set),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_packaged_config),
		cmocka_unit_test(test_demo_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
