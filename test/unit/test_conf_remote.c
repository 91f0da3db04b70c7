/*
 * The remote keys of conf.c: fetch:, sources: (a list of "- s3:" mappings
 * with a table of their own), notify:, their defaults, their errors with the
 * line, validation across sources, and the round trip through conf_print.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "http.h"

static int
load(struct conf *c, const char *yaml, char *err, size_t errlen)
{
	assert_int_equal(conf_defaults(c), 0);
	return conf_load_buf(c, "t.yml", yaml, strlen(yaml), err, errlen);
}

static void
loads(struct conf *c, const char *yaml)
{
	char err[1024] = "";

	if (load(c, yaml, err, sizeof(err)) != 0)
		fail_msg("yaml <<%s>> should load, got: %s", yaml, err);
	if (conf_validate(c, err, sizeof(err)) != 0)
		fail_msg("yaml <<%s>> should validate, got: %s", yaml, err);
}

/* yaml must fail (load or validate) with "t.yml:LINE: " and text. */
static void
fails_at(const char *yaml, unsigned line, const char *text)
{
	struct conf c;
	char err[1024] = "", prefix[32];

	if (load(&c, yaml, err, sizeof(err)) == 0 && conf_validate(&c, err, sizeof(err)) == 0)
		fail_msg("yaml <<%s>> should fail with \"%s\"", yaml, text);
	assert_int_equal(errno, EINVAL);
	snprintf(prefix, sizeof(prefix), "t.yml:%u: ", line);
	if (strncmp(err, prefix, strlen(prefix)) != 0 || strstr(err, text) == NULL)
		fail_msg("yaml <<%s>>: got \"%s\", want \"%s...%s\"", yaml, err, prefix, text);
	conf_free(&c);
}

static void
test_defaults(void **state)
{
	struct conf c;

	(void)state;
	assert_int_equal(conf_defaults(&c), 0);
	assert_int_equal(c.fetch.segments, 4);
	assert_int_equal(c.fetch.segment_min, 16 * 1024 * 1024);
	assert_int_equal(c.fetch.connect_timeout_ms, 10000);
	assert_int_equal(c.fetch.retries, 5);
	assert_int_equal(c.fetch.backoff_ms, 1000);
	assert_int_equal(c.fetch.max_time_ms, 0);
	assert_int_equal(c.fetch.request_timeout_ms, 60000);
	/* 1TiB at 1MiB/s: 12 days; a small max_bytes still gets an hour. */
	assert_int_equal(http_max_time_ms(&c, NULL), 1048576000ULL);
	c.fetch.max_bytes = 1024;
	assert_int_equal(http_max_time_ms(&c, NULL), 3600000ULL);
	assert_true(c.fetch.tls_verify);
	assert_null(c.fetch.ca_file);
	assert_int_equal(c.fetch.protocols.n, 2);
	assert_string_equal(c.fetch.protocols.v[0], "http");
	assert_string_equal(c.fetch.protocols.v[1], "https");
	assert_int_equal(c.sources.n, 0);
	assert_null(c.notify.url);
	assert_int_equal(c.notify.retries, 5);
	assert_int_equal(c.notify.timeout_ms, 10000);
	conf_free(&c);
}

static void
test_keys(void **state)
{
	struct conf c;

	(void)state;
	loads(&c, "fetch:\n"
	    "  segments: 8\n"
	    "  segment_min: 1MiB\n"
	    "  connect_timeout: 250ms\n"
	    "  low_speed_limit: 0\n"
	    "  low_speed_time: 2s\n"
	    "  retries: 0\n"
	    "  backoff: 0\n"
	    "  max_bytes: 10GiB\n"
	    "  tls_verify: false\n"
	    "  ca_file: /etc/ssl/ca.pem\n"
	    "  protocols: [https]\n"
	    "notify:\n"
	    "  url: https://hooks.example.com/x?y=1\n"
	    "  timeout: 3s\n"
	    "  retries: 2\n"
	    "  backoff: 10s\n");
	assert_int_equal(c.fetch.segments, 8);
	assert_int_equal(c.fetch.segment_min, 1024 * 1024);
	assert_int_equal(c.fetch.connect_timeout_ms, 250);
	assert_int_equal(c.fetch.low_speed_limit, 0);
	assert_int_equal(c.fetch.low_speed_time_ms, 2000);
	assert_int_equal(c.fetch.retries, 0);
	assert_false(c.fetch.tls_verify);
	assert_string_equal(c.fetch.ca_file, "/etc/ssl/ca.pem");
	assert_int_equal(c.fetch.protocols.n, 1);
	assert_string_equal(c.notify.url, "https://hooks.example.com/x?y=1");
	assert_int_equal(c.notify.timeout_ms, 3000);
	conf_free(&c);
}

static void
test_sources(void **state)
{
	struct conf c;
	const struct conf_source *s;

	(void)state;
	loads(&c, "sources:\n"
	    "  - s3:\n"
	    "      endpoint: https://s3.eu-west-1.amazonaws.com\n"
	    "      region: eu-west-1\n"
	    "      bucket: uploads\n"
	    "      prefix: video_\n"
	    "      poll: 2s\n"
	    "      max_time: 90s\n"
	    "      delete: never\n"
	    "      credentials_file: /etc/ingestd/aws\n"
	    "  - s3: {endpoint: \"http://127.0.0.1:9000\", bucket: other}\n");
	assert_int_equal(c.sources.n, 2);
	s = &c.sources.v[0];
	assert_string_equal(s->endpoint, "https://s3.eu-west-1.amazonaws.com");
	assert_string_equal(s->region, "eu-west-1");
	assert_string_equal(s->bucket, "uploads");
	assert_string_equal(s->prefix, "video_");
	assert_int_equal(s->poll_ms, 2000);
	assert_int_equal(s->del, SOURCE_DELETE_NEVER);
	assert_string_equal(s->credentials_file, "/etc/ingestd/aws");
	assert_int_equal(s->line, 2);
	s = &c.sources.v[1];
	assert_string_equal(s->region, "us-east-1");
	assert_null(s->prefix);
	assert_int_equal(s->poll_ms, 10000);
	assert_int_equal(s->del, SOURCE_DELETE_AFTER_COMMIT);
	assert_null(s->credentials_file);
	assert_int_equal(s->line, 11);
	assert_int_equal(s->max_time_ms, 0);
	assert_int_equal(http_max_time_ms(&c, s), http_max_time_ms(&c, NULL));
	assert_int_equal(http_max_time_ms(&c, &c.sources.v[0]), 90000);
	conf_free(&c);
	assert_int_equal(c.sources.n, 0);
	assert_null(c.sources.v);
	/* Given twice in two files: the second list replaces the first. */
	loads(&c, "sources: []\n");
	assert_int_equal(c.sources.n, 0);
	conf_free(&c);
}

static void
test_errors(void **state)
{
	(void)state;
	fails_at("fetch:\n  segments: 0\n", 2, "fetch.segments: 0 is out of range (1 to 64)");
	fails_at("fetch:\n  segment_min: 1KiB\n", 2, "fetch.segment_min");
	fails_at("fetch:\n  protocols: [http, ftp]\n", 2, "invalid value \"ftp\"");
	fails_at("fetch:\n  protocols: [http, http]\n", 2, "listed twice");
	fails_at("fetch:\n  ca_file: relative.pem\n", 2, "not an absolute path");
	fails_at("notify:\n  url: ftp://x\n", 2, "not an http:// or https:// URL");
	fails_at("notify:\n  url: http://a b\n", 2, "space");
	fails_at("notify:\n  url: http://\n", 2, "no host");
	fails_at("sources: 3\n", 1, "expected a list of sources");
	fails_at("sources:\n  - 3\n", 2, "sources[0]: expected a source");
	fails_at("sources:\n  - gcs: {}\n", 2, "unknown kind of source \"gcs\"");
	fails_at("sources:\n  - s3: x\n", 2, "sources[0].s3: expected a mapping");
	fails_at("sources:\n  - s3: {bucket: b, endpoint: \"http://h\"}\n    s3: {}\n", 3,
	    "one source per item");
	fails_at("sources:\n  - s3:\n      bucket: b\n      buckett: c\n", 4,
	    "sources[0].s3: unknown key \"buckett\" (did you mean \"bucket\"?)");
	fails_at("sources:\n  - s3:\n      colour: red\n", 3,
	    "sources[0].s3: unknown key \"colour\" (expected endpoint, region");
	fails_at("sources:\n  - s3:\n      bucket: b\n      bucket: c\n", 4,
	    "sources[0].s3.bucket: duplicate key (first given at line 3)");
	fails_at("sources:\n  - s3:\n      endpoint: http://h/path\n", 3, "no path");
	fails_at("sources:\n  - s3:\n      endpoint: http://u:p@h\n", 3, "no path, query or user");
	fails_at("sources:\n  - s3:\n      bucket: \"a/b\"\n", 3, "not a bucket name");
	fails_at("sources:\n  - s3:\n      region: \"eu west\"\n", 3, "not a region name");
	fails_at("sources:\n  - s3:\n      poll: 10ms\n", 3, "sources[0].s3.poll: 10ms is out of range");
	fails_at("sources:\n  - s3:\n      delete: always\n", 3,
	    "invalid value \"always\" (expected after_commit or never)");
	fails_at("sources:\n  - s3:\n      endpoint: [a]\n", 3, "expected a single value");
	fails_at("sources:\n  - s3:\n      credentials_file: aws.txt\n", 3, "absolute path");
	/* Required keys: found by validation, at the entry's line. */
	fails_at("workers: 1\nsources:\n  - s3:\n      endpoint: http://h\n", 3,
	    "sources[0].s3.bucket: is required");
	fails_at("sources:\n  - s3: {bucket: b}\n", 2, "sources[0].s3.endpoint: is required");
	/* Two sources that would list the same objects. */
	fails_at("sources:\n"
	    "  - s3: {endpoint: \"http://h\", bucket: b, prefix: video_}\n"
	    "  - s3: {endpoint: \"http://h\", bucket: b, prefix: video_2026}\n", 3,
	    "sources[1].s3: overlaps sources[0]");
	fails_at("sources:\n"
	    "  - s3: {endpoint: \"http://h\", bucket: b}\n"
	    "  - s3: {endpoint: \"http://h\", bucket: b, prefix: x}\n", 3, "overlaps");
}

/* A scheme fetch.protocols refuses would fail every request: it fails the start instead. */
static void
test_protocols_cover_urls(void **state)
{
	struct conf c;

	(void)state;
	fails_at("fetch:\n  protocols: [https]\nnotify:\n  url: http://h/hook\n", 4,
	    "notify.url: scheme \"http\" is not in fetch.protocols (https)");
	fails_at("fetch:\n  protocols: [https]\nsources:\n"
	    "  - s3: {endpoint: \"http://h\", bucket: b}\n", 4,
	    "sources[0].s3.endpoint: scheme \"http\" is not in fetch.protocols (https)");
	loads(&c, "fetch:\n  protocols: [https]\nnotify:\n  url: https://h/hook\nsources:\n"
	    "  - s3: {endpoint: \"https://h\", bucket: b}\n");
	conf_free(&c);
}

static void
test_no_overlap(void **state)
{
	struct conf c;

	(void)state;
	loads(&c, "sources:\n"
	    "  - s3: {endpoint: \"http://h\", bucket: b, prefix: video_}\n"
	    "  - s3: {endpoint: \"http://h\", bucket: b, prefix: audio_}\n"
	    "  - s3: {endpoint: \"http://other\", bucket: b, prefix: video_}\n");
	assert_int_equal(c.sources.n, 3);
	conf_free(&c);
}

static void
test_set_refuses_sources(void **state)
{
	struct conf c;
	char err[256];

	(void)state;
	assert_int_equal(conf_defaults(&c), 0);
	assert_int_equal(conf_set(&c, "sources", "[]", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot be set from the command line"));
	assert_int_equal(conf_set(&c, "fetch.segments", "16", err, sizeof(err)), 0);
	assert_int_equal(c.fetch.segments, 16);
	conf_free(&c);
}

static void
test_print_round_trip(void **state)
{
	struct conf a, b;
	char *buf = NULL, err[1024];
	size_t len = 0;
	FILE *fp;

	(void)state;
	loads(&a, "sources:\n"
	    "  - s3:\n"
	    "      endpoint: http://127.0.0.1:9000\n"
	    "      bucket: uploads\n"
	    "      prefix: \"a \\\"quoted\\\" pr\\u00e9fix\"\n"
	    "      delete: never\n"
	    "  - s3: {endpoint: \"http://h\", bucket: two, poll: 1h30m}\n"
	    "notify:\n"
	    "  url: http://127.0.0.1:1/hook\n");
	fp = open_memstream(&buf, &len);
	conf_print(&a, fp);
	fclose(fp);
	assert_non_null(strstr(buf, "sources: [{s3: {endpoint: \"http://127.0.0.1:9000\""));
	assert_int_equal(conf_defaults(&b), 0);
	if (conf_load_buf(&b, "printed", buf, len, err, sizeof(err)) != 0)
		fail_msg("conf_print output does not load: %s\n%s", err, buf);
	assert_int_equal(b.sources.n, 2);
	assert_string_equal(b.sources.v[0].prefix, "a \"quoted\" pr\xc3\xa9" "fix");
	assert_int_equal(b.sources.v[0].del, SOURCE_DELETE_NEVER);
	assert_null(b.sources.v[1].prefix);
	assert_int_equal(b.sources.v[1].poll_ms, 5400000);
	assert_string_equal(b.notify.url, "http://127.0.0.1:1/hook");
	free(buf);
	conf_free(&a);
	conf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_sources),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_no_overlap),
		cmocka_unit_test(test_protocols_cover_urls),
		cmocka_unit_test(test_set_refuses_sources),
		cmocka_unit_test(test_print_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
