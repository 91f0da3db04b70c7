/*
 * libFuzzer target for the logfmt reader (logfmt.c), which reads journal
 * lines back (the notifier, journal recovery). Beyond "no crash, no read out
 * of bounds":
 *   - every pair of an accepted line has a non-empty key of plain bytes and
 *     a value without NUL, and writing the pairs again with log_quote()
 *     gives a line that reads back to the same pairs;
 *   - logfmt_get agrees with the iterator, or says the key is ambiguous;
 *   - the input taken as one value survives log_quote() and back.
 * The first byte picks whether "reason" takes the rest of the line.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "logfmt.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s\n", #c); abort(); } } while (0)
#define PAIRS_MAX 64

struct pair {
	char   key[64];
	char  *value;
	size_t vlen;
	int    bare;
};

static int
plain(unsigned char c)
{
	return c > ' ' && c < 0x7f && c != '"' && c != '=' && c != '\\';
}

/* Read line into p[]; the number of pairs, or -1 when refused. */
static int
read_pairs(const char *line, size_t len, const char *rest, struct pair *p, char *buf)
{
	struct logfmt lf;
	struct logfmt_pair kv;
	int n = 0, rc;
	size_t i;

	logfmt_init(&lf, line, len, rest);
	while ((rc = logfmt_next(&lf, &kv, buf, len + 1)) == LOGFMT_PAIR) {
		CHECK(kv.klen > 0 && kv.value == buf && strlen(kv.value) == kv.vlen);
		for (i = 0; i < kv.klen; i++)
			CHECK(plain((unsigned char)kv.key[i]));
		CHECK(!kv.bare || kv.vlen == 0);
		if (n == PAIRS_MAX || kv.klen >= sizeof(p[n].key)) {
			while (n-- > 0)
				free(p[n].value);
			return -2;	/* too many or too long to compare: fine, stop here */
		}
		memcpy(p[n].key, kv.key, kv.klen);
		p[n].key[kv.klen] = '\0';
		if ((p[n].value = strdup(kv.value)) == NULL)
			abort();
		p[n].vlen = kv.vlen;
		p[n].bare = kv.bare;
		n++;
	}
	CHECK(rc == LOGFMT_END || rc == LOGFMT_ERROR);
	CHECK(rc != LOGFMT_ERROR || errno == EINVAL);
	CHECK(lf.pos <= lf.len);
	if (rc == LOGFMT_END)
		return n;
	while (n-- > 0)
		free(p[n].value);
	return -1;
}

static void
free_pairs(struct pair *p, int n)
{
	while (n-- > 0)
		free(p[n].value);
}

static void
check_line(const char *line, size_t len, const char *rest)
{
	struct pair a[PAIRS_MAX], b[PAIRS_MAX];
	char *buf = malloc(len + 1), *again, *gbuf;
	size_t cap, off = 0;
	int n, m, i;
	ssize_t g;

	if (buf == NULL)
		abort();
	n = read_pairs(line, len, rest, a, buf);
	if (n < 0) {
		free(buf);
		return;
	}
	/* Write the pairs again: the same pairs come back. */
	cap = 16 + (size_t)n * (64 + LOG_QUOTE_MAX);
	if ((again = malloc(cap)) == NULL || (gbuf = malloc(len + 1)) == NULL)
		abort();
	for (i = 0; i < n; i++) {
		char q[LOG_QUOTE_MAX];
		int last = rest != NULL && strcmp(a[i].key, rest) == 0;

		if (a[i].vlen * 4 + 3 >= sizeof(q))
			goto out;	/* log_quote would cut it */
		off += (size_t)snprintf(again + off, cap - off, "%s%s%s%s", i ? " " : "", a[i].key,
		    a[i].bare ? "" : "=", a[i].bare ? "" : last ? a[i].value :
		    log_quote(q, sizeof(q), a[i].value));
		/* logfmt_get finds the same value, or refuses a key given twice. */
		g = logfmt_get(line, len, rest, a[i].key, gbuf, len + 1);
		CHECK(g >= 0 || errno == EINVAL);
		CHECK(g < 0 || ((size_t)g == a[i].vlen && strcmp(gbuf, a[i].value) == 0));
	}
	m = read_pairs(again, off, rest, b, buf);
	CHECK(m == n);
	for (i = 0; i < n; i++) {
		CHECK(strcmp(a[i].key, b[i].key) == 0 && b[i].bare == a[i].bare);
		CHECK(a[i].vlen == b[i].vlen && strcmp(a[i].value, b[i].value) == 0);
	}
	free_pairs(b, m);
out:
	free(again);
	free(gbuf);
	free_pairs(a, n);
	free(buf);
}

static void
check_value(const uint8_t *data, size_t size)
{
	char s[200], q[LOG_QUOTE_MAX], line[LOG_QUOTE_MAX + 16], out[LOG_QUOTE_MAX];
	size_t n = 0;
	ssize_t g;

	while (n < size && n < sizeof(s) - 1 && data[n] != 0) {
		s[n] = (char)data[n];
		n++;
	}
	s[n] = '\0';
	snprintf(line, sizeof(line), "k=%s x=1", log_quote(q, sizeof(q), s));
	g = logfmt_get(line, strlen(line), NULL, "k", out, sizeof(out));
	CHECK(g == (ssize_t)n && strcmp(out, s) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line;

	if (size == 0)
		return 0;
	check_value(data + 1, size - 1);
	/* An exact-size copy: ASan sees any read past the end. */
	if ((line = malloc(size - 1 ? size - 1 : 1)) == NULL)
		abort();
	memcpy(line, data + 1, size - 1);
	check_line(line, size - 1, data[0] & 1 ? LOGFMT_JOURNAL_REST : NULL);
	free(line);
	return 0;
}
