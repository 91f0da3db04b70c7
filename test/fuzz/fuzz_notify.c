/*
 * libFuzzer target for the notifier's journal line -> JSON document path
 * (notify_doc.c), which reads lines a packet's name flows into. The input is
 * LINE, optionally followed by a NUL and a manifest's JSON. Beyond "no
 * crash, no leak" (for any manifest: the real one is the daemon's own json.c
 * output, whose scalars are copied as they are), for a line alone:
 *   - a document is one JSON object of valid UTF-8 with no raw control byte;
 *   - it has a "name" exactly when logfmt_get finds one in the line, and a
 *     line the logfmt reader refuses gives no document at all (nothing is
 *     guessed from a mangled line);
 *   - "attempts" and "duration_ms" are numbers or null, never strings.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logfmt.h"
#include "notify_doc.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static void
check_utf8_json(const char *d)
{
	const unsigned char *p = (const unsigned char *)d;
	int instr = 0;

	CHECK(*p == '{');
	for (; *p != '\0'; p++) {
		CHECK(*p >= 0x20);
		if (instr && *p == '\\') {
			p++;
			CHECK(*p != '\0');
			continue;
		}
		if (*p == '"')
			instr = !instr;
		if (*p >= 0x80) {
			size_t n = (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 :
			    (*p & 0xf8) == 0xf0 ? 4 : 0;
			size_t i;

			CHECK(n != 0);
			for (i = 1; i < n; i++)
				CHECK((p[i] & 0xc0) == 0x80);
			p += n - 1;
		}
	}
	CHECK(!instr);
	CHECK(p[-1] == '}');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data, *man = NULL, *a;
	size_t llen = size, mlen = 0;
	const uint8_t *z = memchr(data, '\0', size);
	char *doc, *buf;
	ssize_t got;

	if (z != NULL) {
		llen = (size_t)(z - data);
		man = (const char *)z + 1;
		mlen = size - llen - 1;
	}
	if (memchr(line, '\n', llen) != NULL)
		return 0;	/* the notifier hands over one line at a time */
	(void)notify_line_kind(line, llen);
	if ((buf = malloc(llen + 1)) == NULL)
		return 0;
	got = logfmt_get(line, llen, LOGFMT_JOURNAL_REST, "name", buf, llen + 1);
	doc = notify_document(line, llen, man, mlen);
	if (doc == NULL) {
		/* Refused: the line is malformed or a key is there twice. */
		CHECK(errno == EINVAL || errno == ENOMEM);
		free(buf);
		return 0;
	}
	if (man != NULL) {
		free(doc);
		free(buf);
		return 0;
	}
	check_utf8_json(doc);
	CHECK((got >= 0) == (strstr(doc, "{\"job\"") == doc ? strstr(doc, ",\"name\":") != NULL :
	    strncmp(doc, "{\"name\":", 8) == 0 || strstr(doc, ",\"name\":") != NULL));
	if ((a = strstr(doc, "\"attempts\":")) != NULL)
		CHECK(a[11] == 'n' || (a[11] >= '0' && a[11] <= '9'));
	free(doc);
	free(buf);
	return 0;
}
