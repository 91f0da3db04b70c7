/*
 * fetch.c without a server: what a URL packet may hold, the reasons it fails
 * with, connection errors that are temporary, the protocols allowed, the
 * backoff, and that no failed fetch leaves a file under the final name.
 * (Transfers against real servers are in test/integration/remote_fetch.bats.)
 * Also the notifier's JSON document, built from a journal line.
 */
#include <errno.h>
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

#include "conf.h"
#include "fetch.h"
#include "http.h"
#include "notify_doc.h"
#include "packet.h"
#include "spool.h"

struct fixture {
	char        dir[64];
	struct conf c;
	struct spool s;
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char err[512], spool[128];

	assert_non_null(fx);
	strcpy(fx->dir, "/tmp/test_fetchXXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	assert_int_equal(conf_defaults(&fx->c), 0);
	fx->c.fetch.retries = 0;
	fx->c.fetch.connect_timeout_ms = 2000;
	snprintf(spool, sizeof(spool), "%s/spool", fx->dir);
	assert_int_equal(spool_open(&fx->s, spool, 0, err, sizeof(err)), 0);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];

	spool_close(&fx->s);
	conf_free(&fx->c);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

/* Write a request file and fetch it as NAME; returns the result, reason in buf. */
static int
fetch(struct fixture *fx, const char *name, const char *content, char *reason, size_t len)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", fx->dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(content, fp);
	fclose(fp);
	return fetch_url_packet(&fx->c, &fx->s, path, name, NULL, reason, len);
}

static int
in_inbox(struct fixture *fx, const char *name)
{
	return faccessat(fx->s.inboxfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

static void
test_names(void **state)
{
	(void)state;
	assert_true(fetch_is_url_packet("a.url"));
	assert_true(fetch_is_url_packet("x.zip.url"));
	assert_false(fetch_is_url_packet(".url"));
	assert_false(fetch_is_url_packet("a.URL"));
	assert_false(fetch_is_url_packet("a.url.part"));
	assert_false(fetch_is_url_packet("url"));
}

static void
test_backoff(void **state)
{
	(void)state;
	assert_int_equal(http_backoff_ms(1000, 1), 1000);
	assert_int_equal(http_backoff_ms(1000, 2), 2000);
	assert_int_equal(http_backoff_ms(1000, 4), 8000);
	assert_int_equal(http_backoff_ms(1000, 30), 60000);
	assert_int_equal(http_backoff_ms(0, 5), 0);
	assert_int_equal(http_backoff_ms(120000, 3), 120000);
}

static void
test_redact(void **state)
{
	char out[128];

	(void)state;
	http_redact("https://user:pw@host:8/a@b?c", out, sizeof(out));
	assert_string_equal(out, "https://host:8/a@b?c");
	http_redact("http://host/p", out, sizeof(out));
	assert_string_equal(out, "http://host/p");
}

static void
bad(struct fixture *fx, const char *content, const char *want)
{
	char reason[1024] = "";
	int rc = fetch(fx, "p.zip.url", content, reason, sizeof(reason));

	if (rc != FETCH_BAD || strstr(reason, want) == NULL)
		fail_msg("<<%s>>: got %d \"%s\", want FETCH_BAD \"%s\"", content, rc, reason, want);
	assert_false(in_inbox(fx, "p.zip"));
	assert_false(in_inbox(fx, "p.zip.part"));
}

static void
test_bad_requests(void **state)
{
	struct fixture *fx = *state;

	bad(fx, "", "fetch bad_request line=0 error=\"no URL\"");
	bad(fx, "# just a comment\n\n", "no URL");
	bad(fx, "ftp://host/x\n", "only http://, https:// and s3://");
	bad(fx, "http://host/a b\n", "must be escaped");
	bad(fx, "http://host/x\nsha256=abc\n", "line=2 error=\"sha256= wants 64 hex digits\"");
	bad(fx, "http://host/x\nsize=-1\n", "size= wants a number");
	bad(fx, "http://host/x\nmd5=abc\n", "line=2 error=\"unknown line");
	bad(fx, "size=3\n", "no URL");
	bad(fx, "s3://bucket/key\n", "no configured source");
	bad(fx, "s3://nokey\n", "expected s3://BUCKET/KEY");
}

static void
test_protocols(void **state)
{
	struct fixture *fx = *state;
	char reason[1024];
	int rc;

	strv_free(&fx->c.fetch.protocols);
	assert_int_equal(strv_push(&fx->c.fetch.protocols, "https"), 0);
	rc = fetch(fx, "p.zip.url", "http://127.0.0.1:1/x\n", reason, sizeof(reason));
	assert_int_equal(rc, FETCH_BAD);
	assert_non_null(strstr(reason, "fetch error="));
	assert_non_null(strstr(reason, "url=http://127.0.0.1:1/x"));
}

static void
test_refused_is_temporary(void **state)
{
	struct fixture *fx = *state;
	char reason[1024];
	int rc;

	/* Nothing listens on port 1: a connection error, worth a retry later. */
	rc = fetch(fx, "p.zip.url", "http://127.0.0.1:1/x\nsize=10\n", reason, sizeof(reason));
	assert_int_equal(rc, FETCH_TEMP);
	assert_non_null(strstr(reason, "fetch error="));
	assert_non_null(strstr(reason, "attempts=1"));
	assert_false(in_inbox(fx, "p.zip"));
	/* The state stays for a resume; it is hidden from the watcher. */
	assert_true(in_inbox(fx, ".p.zip.part.state"));
}

static void
test_name_too_long(void **state)
{
	struct fixture *fx = *state;
	char name[NAME_MAX + 1], reason[256], path[512];
	int rc;

	memset(name, 'n', 250);
	strcpy(name + 250, ".url");
	snprintf(path, sizeof(path), "%s/x", fx->dir);
	rc = fetch_url_packet(&fx->c, &fx->s, path, name, NULL, reason, sizeof(reason));
	assert_int_equal(rc, FETCH_BAD);
	assert_string_equal(reason, "fetch name_too_long");
}

static void
test_notify_document(void **state)
{
	static const char done[] = "ts=2026-11-22T02:30:00.123Z job=00000000000000ab "
	    "name=\"a b.zip\" outcome=done attempts=2 dur_ms=12 wait_ms=3 worker=77 "
	    "filed=\"done/a b.zip\"";
	static const char failed[] = "ts=2026-11-22T02:30:00.123Z job=00000000000000ac "
	    "name=x.zip outcome=failed attempts=1 dur_ms=5 wait_ms=0 worker=77 "
	    "filed=failed/x.zip reason=manifest line=3 column=1 error=\"bad \\\"x\\\"\"";
	static const char manifest[] = "{\"id\": \"v1\", \"n\": 3, \"ok\": true, \"none\": null,"
	    " \"tags\": [\"a\", {\"b\": 1}], \"sub\": {\"k\": \"}\"}, \"last\": \"x,y\"}";
	char *doc;

	(void)state;
	doc = notify_document(done, strlen(done), manifest, strlen(manifest));
	assert_non_null(doc);
	assert_string_equal(doc, "{\"job\":\"00000000000000ab\",\"name\":\"a b.zip\","
	    "\"outcome\":\"done\",\"attempts\":2,\"duration_ms\":12,\"reason\":null,"
	    "\"filed\":\"done/a b.zip\",\"ts\":\"2026-11-22T02:30:00.123Z\","
	    "\"manifest\":{\"id\":\"v1\",\"n\":3,\"ok\":true,\"none\":null,\"last\":\"x,y\"}}");
	free(doc);
	doc = notify_document(failed, strlen(failed), NULL, 0);
	assert_non_null(doc);
	assert_non_null(strstr(doc, "\"outcome\":\"failed\""));
	assert_non_null(strstr(doc, "\"reason\":\"manifest line=3 column=1 error=\\\"bad "
	    "\\\\\\\"x\\\\\\\"\\\"\""));
	assert_null(strstr(doc, "manifest\":"));
	free(doc);
	/* A manifest that is not an object is left out. */
	doc = notify_document(done, strlen(done), "[1]", 3);
	assert_null(strstr(doc, "\"manifest\""));
	free(doc);
}

static enum notify_line
kind(const char *line)
{
	return notify_line_kind(line, strlen(line));
}

/* Issue 11: a value is never read as keys, and escapes are decoded before JSON. */
static void
test_notify_forged(void **state)
{
	static const char forged[] = "ts=2026-11-22T02:30:00.123Z job=00000000000000ad "
	    "name=\"ok outcome=failed attempts=99 dur_ms=7 reason=forged.zip\" outcome=done "
	    "attempts=1 dur_ms=4 wait_ms=0 worker=77 "
	    "filed=\"done/ok outcome=failed attempts=99 dur_ms=7 reason=forged.zip\"";
	static const char escaped[] = "ts=2026-11-22T02:30:00.123Z job=00000000000000ae "
	    "name=\"tab\\x09here\\x0d\\x1b\\xff.zip\" outcome=done attempts=3 dur_ms=4 "
	    "wait_ms=0 worker=77 filed=\"done/tab\\x09here\\x0d\\x1b\\xff.zip\"";
	static const char twice[] = "ts=x job=1 name=a outcome=done outcome=failed attempts=1";
	char *doc;

	(void)state;
	doc = notify_document(forged, strlen(forged), NULL, 0);
	assert_non_null(doc);
	assert_non_null(strstr(doc, "\"name\":\"ok outcome=failed attempts=99 dur_ms=7 "
	    "reason=forged.zip\",\"outcome\":\"done\",\"attempts\":1,\"duration_ms\":4,"
	    "\"reason\":null,"));
	free(doc);
	doc = notify_document(escaped, strlen(escaped), NULL, 0);
	assert_non_null(doc);
	assert_non_null(strstr(doc, "\"name\":\"tab\\there\\r\\u001b\xef\xbf\xbd.zip\""));
	assert_non_null(strstr(doc, "\"attempts\":3"));
	free(doc);
	/* Ambiguous or malformed: refused, never guessed at. */
	assert_null(notify_document(twice, strlen(twice), NULL, 0));
	assert_null(notify_document("name=\"open", 10, NULL, 0));
	assert_int_equal(notify_line_kind(forged, strlen(forged)), NOTIFY_LINE_JOB);
	assert_int_equal(kind(" status=3"), NOTIFY_LINE_SKIP);
	assert_int_equal(kind("ts=x job=1 event=refiled name=a filed=done/a"), NOTIFY_LINE_SKIP);
	assert_int_equal(kind("ts=x job=1 name=\"a\x01\" outcome=done"), NOTIFY_LINE_BAD);
	assert_int_equal(kind("ts=x job=1 name=a"), NOTIFY_LINE_SKIP);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_redact),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_protocols, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_is_temporary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_too_long, setup, teardown),
		cmocka_unit_test(test_notify_document),
		cmocka_unit_test(test_notify_forged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
