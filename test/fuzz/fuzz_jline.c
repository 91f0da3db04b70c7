/*
 * libFuzzer target for the journal-line reader of `ingestd failed`, `show`
 * and `retry` (jline.c), which reads failed/STEM.error and the journal as
 * any user who may read the spool. Beyond "no crash, no read out of bounds":
 *   - a job's line has a job, a name and an outcome, and an event line an
 *     event; every field is NUL-terminated within its buffer;
 *   - leading spaces never change the verdict (a torn append, blanked);
 *   - a line of only spaces is blank, never a job.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jline.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s\n", #c); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct jline a, b;
	enum jline_kind k, k2;
	char *padded;
	size_t sp;

	k = jline_parse((const char *)data, size, &a);
	CHECK(k >= JLINE_BAD && k <= JLINE_EVENT);
	if (k == JLINE_JOB)
		CHECK(a.job[0] && a.name[0] && a.outcome[0] && a.event[0] == '\0');
	if (k == JLINE_EVENT)
		CHECK(a.event[0] != '\0');
	if (k == JLINE_JOB || k == JLINE_EVENT) {
		CHECK(memchr(a.name, '\0', sizeof(a.name)) != NULL);
		CHECK(memchr(a.reason, '\0', sizeof(a.reason)) != NULL);
		CHECK(memchr(a.filed, '\0', sizeof(a.filed)) != NULL);
		CHECK(a.attempts >= -1);
	}
	for (sp = 0; sp < size && data[sp] == ' '; sp++)
		;
	if (sp == size)
		CHECK(k == JLINE_BLANK);
	if ((padded = malloc(size + 3)) == NULL)
		return 0;
	memcpy(padded, "   ", 3);
	memcpy(padded + 3, data, size);
	k2 = jline_parse(padded, size + 3, &b);
	/* Three more spaces can only push a line past the length limit. */
	CHECK(k2 == k || (k2 == JLINE_BAD && size + 3 - sp > JOURNAL_LINE_MAX));
	if (k2 == k && k == JLINE_JOB)
		CHECK(strcmp(a.name, b.name) == 0 && strcmp(a.reason, b.reason) == 0);
	free(padded);
	return 0;
}
