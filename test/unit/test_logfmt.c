/*
 * logfmt.c: the reader of the daemon's own lines. It must give back exactly
 * what log_quote() was given, for every byte, and refuse what log_quote()
 * never writes, so that no value can pose as a key.
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

#include "log.h"
#include "logfmt.h"

/* The value of key, or NULL (errno set); in a static buffer. */
static const char *
get(const char *line, const char *rest, const char *key)
{
	static char buf[8192];

	if (logfmt_get(line, strlen(line), rest, key, buf, sizeof(buf)) == -1)
		return NULL;
	return buf;
}

static void
test_journal_line(void **state)
{
	static const char line[] = "ts=2026-11-22T02:30:00.123Z job=00000000000000ac "
	    "name=\"a b.zip\" outcome=failed attempts=1 dur_ms=5 wait_ms=0 worker=77 "
	    "filed=\"failed/a b.zip\" reason=manifest line=3 error=\"bad \\\"x\\\"\"\n";

	(void)state;
	assert_string_equal(get(line, LOGFMT_JOURNAL_REST, "name"), "a b.zip");
	assert_string_equal(get(line, LOGFMT_JOURNAL_REST, "outcome"), "failed");
	assert_string_equal(get(line, LOGFMT_JOURNAL_REST, "filed"), "failed/a b.zip");
	/* The reason is the rest of the line, as written, without the '\n'. */
	assert_string_equal(get(line, LOGFMT_JOURNAL_REST, "reason"),
	    "manifest line=3 error=\"bad \\\"x\\\"\"");
	/* What is inside the reason is not a field of the line. */
	assert_null(get(line, LOGFMT_JOURNAL_REST, "line"));
	assert_int_equal(errno, ENOENT);
	assert_null(get(line, LOGFMT_JOURNAL_REST, "error"));
	/* Read as a plain logfmt line, the fragment's pairs are pairs. */
	assert_string_equal(get(line, NULL, "line"), "3");
	assert_string_equal(get(line, NULL, "reason"), "manifest");
}

static void
test_forged_name(void **state)
{
	char qname[512], line[1024];
	const char *name = "ok outcome=failed attempts=99 dur_ms=7 reason=forged.zip";

	(void)state;
	snprintf(line, sizeof(line), "ts=x job=1 name=%s outcome=done attempts=1 dur_ms=12 "
	    "filed=done/ok.zip", log_quote(qname, sizeof(qname), name));
	assert_string_equal(get(line, LOGFMT_JOURNAL_REST, "name"), name);
	assert_string_equal(get(line, LOGFMT_JOURNAL_REST, "outcome"), "done");
	assert_string_equal(get(line, LOGFMT_JOURNAL_REST, "attempts"), "1");
	assert_string_equal(get(line, LOGFMT_JOURNAL_REST, "dur_ms"), "12");
	assert_null(get(line, LOGFMT_JOURNAL_REST, "reason"));
	assert_int_equal(errno, ENOENT);
	/* A name that reaches a line unquoted (a forgotten LQ) is refused, not split. */
	snprintf(line, sizeof(line), "ts=x job=1 name=%s outcome=done", "a=b");
	assert_null(get(line, LOGFMT_JOURNAL_REST, "outcome"));
	assert_int_equal(errno, EINVAL);
	/* log.c's last defence turns a raw newline into \x0a: still refused. */
	assert_null(get("event=claim name=x\\x0alevel=fatal", NULL, "event"));
	assert_int_equal(errno, EINVAL);
}

static void
refused(const char *line, const char *rest, size_t pos)
{
	struct logfmt lf;
	struct logfmt_pair kv;
	char buf[256];
	int rc;

	logfmt_init(&lf, line, strlen(line), rest);
	while ((rc = logfmt_next(&lf, &kv, buf, sizeof(buf))) == LOGFMT_PAIR)
		;
	if (rc != LOGFMT_ERROR)
		fail_msg("<<%s>> should be refused", line);
	assert_int_equal(errno, EINVAL);
	if (lf.pos != pos)
		fail_msg("<<%s>>: refused at %zu, want %zu", line, lf.pos, pos);
	/* Once broken, always broken. */
	assert_int_equal(logfmt_next(&lf, &kv, buf, sizeof(buf)), LOGFMT_ERROR);
	/* logfmt_get checks the whole line, not only up to its key. */
	assert_int_equal(logfmt_get(line, strlen(line), rest, "a", buf, sizeof(buf)), -1);
	assert_int_equal(errno, EINVAL);
}

static void
test_refused(void **state)
{
	(void)state;
	refused("a=1 =2", NULL, 4);			/* no key */
	refused("a=1 b=x=y", NULL, 7);			/* '=' in a bare value */
	refused("a=1 b=x\"y", NULL, 7);			/* quote in a bare value */
	refused("a=1 b=x\\y", NULL, 7);			/* backslash in a bare value */
	refused("a=1 b\"=2", NULL, 5);			/* quote in a key */
	refused("a=1 b=\"x", NULL, 8);			/* no closing quote */
	refused("a=1 b=\"x\"y", NULL, 9);		/* text after the closing quote */
	refused("a=1 b=\"x\\t\"", NULL, 8);		/* escape log_quote never writes */
	refused("a=1 b=\"x\\x0\"", NULL, 8);		/* short \x */
	refused("a=1 b=\"x\\xzz\"", NULL, 8);		/* not hex */
	refused("a=1 b=\"x\\x00\"", NULL, 8);		/* NUL */
	refused("a=1 b=\"x\\", NULL, 8);		/* escape at the end */
	refused("a=1 b=\"x\ty\"", NULL, 8);		/* raw tab */
	refused("a=1 b=\"x\x7fy\"", NULL, 8);		/* raw DEL */
	refused("a=1 b=\"\xff\"", NULL, 7);		/* not UTF-8 */
	refused("a=1 b=\"\xc3\"", NULL, 7);		/* cut UTF-8 */
	refused("a=1 b=\"\xed\xa0\x80\"", NULL, 7);	/* a surrogate */
	refused("a=1 b=\"\xc0\x80\"", NULL, 7);		/* overlong */
	refused("a=1 b=\xc3\xa9", NULL, 6);		/* high byte in a bare value */
	refused("a=1\tb=2", NULL, 3);			/* tab between pairs */
	refused("a=1\r", NULL, 3);			/* CR at the end */
	refused("a=1\n\n", NULL, 3);			/* more than one line */
	refused("a=1 reason=x\ny", "reason", 12);	/* the rest holds a newline */
}

/* Inputs that are not NUL-terminated: the reader stays within len. */
static void
test_bounds(void **state)
{
	static const char *const cut[] = { "a=\"x\\", "a=\"x\\x4", "a=\"\xe6\x97", "a=\"", "a" };
	struct logfmt lf;
	struct logfmt_pair kv;
	char buf[16];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
		char *p;

		n = strlen(cut[i]);
		p = malloc(n);
		assert_non_null(p);
		memcpy(p, cut[i], n);	/* ASan reports a read past p[n - 1] */
		logfmt_init(&lf, p, n, NULL);
		while (logfmt_next(&lf, &kv, buf, sizeof(buf)) == LOGFMT_PAIR)
			;
		free(p);
	}
	/* An embedded NUL is refused wherever it is. */
	assert_int_equal(logfmt_get("a=1\0b=2", 7, NULL, "a", buf, sizeof(buf)), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(logfmt_get("reason=1\0b=2", 12, "reason", "reason", buf, sizeof(buf)),
	    -1);
	assert_int_equal(errno, EINVAL);
}

static void
test_get_errors(void **state)
{
	char buf[4];

	(void)state;
	assert_null(get("a=1 b=2 a=3", NULL, "a"));
	assert_int_equal(errno, EINVAL);	/* ambiguous */
	assert_null(get("a=1 b=2", NULL, "c"));
	assert_int_equal(errno, ENOENT);
	assert_null(get("a=1 b=2", NULL, ""));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(logfmt_get("a=\"long\"", 8, NULL, "a", buf, sizeof(buf)), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(logfmt_get("a=\"abc\"", 7, NULL, "a", buf, sizeof(buf)), 3);
	assert_string_equal(buf, "abc");
	assert_null(get("", NULL, "x"));
	assert_int_equal(errno, ENOENT);
}

static void
test_iterate(void **state)
{
	static const char frag[] = "  exit  status=3 e=\"\" last=";
	static const char *const keys[] = { "exit", "status", "e", "last" };
	static const char *const vals[] = { "", "3", "", "" };
	struct logfmt lf;
	struct logfmt_pair kv;
	char buf[64];
	size_t i = 0;
	int rc;

	(void)state;
	logfmt_init(&lf, frag, strlen(frag), NULL);
	while ((rc = logfmt_next(&lf, &kv, buf, sizeof(buf))) == LOGFMT_PAIR) {
		assert_true(i < 4);
		assert_int_equal(kv.klen, strlen(keys[i]));
		assert_memory_equal(kv.key, keys[i], kv.klen);
		assert_string_equal(kv.value, vals[i]);
		assert_int_equal(kv.bare, i == 0);
		i++;
	}
	assert_int_equal(rc, LOGFMT_END);
	assert_int_equal(i, 4);
	/* Without a buffer: checked and measured only. */
	logfmt_init(&lf, "k=\"a\\x09b\"", 10, NULL);
	assert_int_equal(logfmt_next(&lf, &kv, NULL, 0), LOGFMT_PAIR);
	assert_null(kv.value);
	assert_int_equal(kv.vlen, 3);
	assert_int_equal(logfmt_next(&lf, &kv, NULL, 0), LOGFMT_END);
}

/* log_quote(s) read back gives s. */
static void
round_trip(const char *s)
{
	char q[LOG_QUOTE_MAX], line[LOG_QUOTE_MAX + 64], out[LOG_QUOTE_MAX];
	ssize_t n;

	assert_true(strlen(s) * 4 + 3 < sizeof(q));
	log_quote(q, sizeof(q), s);
	snprintf(line, sizeof(line), "k=1 v=%s z=2\n", q);
	n = logfmt_get(line, strlen(line), NULL, "v", out, sizeof(out));
	if (n < 0 || (size_t)n != strlen(s) || strcmp(out, s) != 0)
		fail_msg("round trip of <<%s>> via <<%s>>: %zd <<%s>>", s, q, n, n >= 0 ? out : "");
	assert_string_equal(get(line, NULL, "z"), "2");
}

static void
test_round_trip_bytes(void **state)
{
	char s[8];
	int b;

	(void)state;
	round_trip("");
	round_trip("plain");
	for (b = 1; b < 256; b++) {
		s[0] = (char)b;
		s[1] = '\0';
		round_trip(s);
		snprintf(s, sizeof(s), "a%cb", b);
		round_trip(s);
		snprintf(s, sizeof(s), "%c%c=", b, b);
		round_trip(s);
	}
	round_trip("tab\there.zip");
	round_trip("cr\rhere.zip");
	round_trip("esc\x1b[31mred.zip");
	round_trip("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80");
	round_trip("bad\xff\xfe utf8 \xc0\x80 \xed\xa0\x80 \xe6\x97");
	round_trip("\\x41 is not A; \\\" and \\\\ stay");
	round_trip("\nlevel=fatal role=supervisor pid=1 event=forged");
}

static void
test_round_trip_random(void **state)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	char s[200];
	int i, n, k;

	(void)state;
	for (i = 0; i < 20000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = (int)(x % 190);
		for (k = 0; k < n; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			/* Mostly the bytes that matter: specials, controls, high bytes. */
			s[k] = (char)(x % 4 == 0 ? " \"=\\\n\t\x7f\xc3\xa9"[x / 4 % 9] :
			    (int)(x / 4 % 255) + 1);
		}
		s[n] = '\0';
		round_trip(s);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_journal_line),
		cmocka_unit_test(test_forged_name),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_get_errors),
		cmocka_unit_test(test_iterate),
		cmocka_unit_test(test_round_trip_bytes),
		cmocka_unit_test(test_round_trip_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
