#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jline.h"
#include "logfmt.h"

/*
 * Copy value v into dst (cap bytes). -1 when it does not fit, or when dst was
 * set already: which of two names would the writer have meant?
 */
static int
put(char *dst, size_t cap, const char *v, size_t vlen)
{
	if (vlen + 1 > cap || dst[0] != '\0')
		return -1;
	memcpy(dst, v, vlen + 1);
	return 0;
}

static int
number(const char *v, long *out)
{
	char *end;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	*out = strtol(v, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : 0;
}

enum jline_kind
jline_parse(const char *line, size_t len, struct jline *out)
{
	char buf[JOURNAL_LINE_MAX + 1];
	struct logfmt lf;
	struct logfmt_pair kv;
	size_t skip = 0;
	int rc, bad = 0;

	memset(out, 0, sizeof(*out));
	out->attempts = -1;
	while (skip < len && line[skip] == ' ')
		skip++;
	if (skip == len || (skip + 1 == len && line[skip] == '\n'))
		return JLINE_BLANK;
	if (len - skip > JOURNAL_LINE_MAX)
		return JLINE_BAD;
	logfmt_init(&lf, line + skip, len - skip, LOGFMT_JOURNAL_REST);
	while ((rc = logfmt_next(&lf, &kv, buf, sizeof(buf))) == LOGFMT_PAIR) {
#define IS(k) (kv.klen == sizeof(k) - 1 && memcmp(kv.key, k, kv.klen) == 0)
		if (IS("ts"))
			bad |= put(out->ts, sizeof(out->ts), kv.value, kv.vlen);
		else if (IS("job"))
			bad |= put(out->job, sizeof(out->job), kv.value, kv.vlen);
		else if (IS("event"))
			bad |= kv.vlen == 0 || put(out->event, sizeof(out->event), kv.value, kv.vlen);
		else if (IS("name"))
			bad |= put(out->name, sizeof(out->name), kv.value, kv.vlen);
		else if (IS("outcome"))
			bad |= put(out->outcome, sizeof(out->outcome), kv.value, kv.vlen);
		else if (IS("filed"))
			bad |= put(out->filed, sizeof(out->filed), kv.value, kv.vlen);
		else if (IS("from"))
			bad |= put(out->from, sizeof(out->from), kv.value, kv.vlen);
		else if (IS("attempts"))
			bad |= out->attempts != -1 || number(kv.value, &out->attempts);
		else if (IS("reason"))
			bad |= put(out->reason, sizeof(out->reason), kv.value, kv.vlen);
#undef IS
	}
	if (rc == LOGFMT_ERROR || bad)
		return JLINE_BAD;
	if (out->event[0] != '\0')
		return JLINE_EVENT;
	if (out->job[0] == '\0' || out->name[0] == '\0' || out->outcome[0] == '\0')
		return JLINE_BAD;
	return JLINE_JOB;
}
