/*
 * The notifier's document for one journal line. The line is read with the
 * logfmt reader (logfmt.c), the one that decodes exactly what the daemon's
 * log_quote() wrote, so a value can never pose as a key: a packet named
 * "ok outcome=failed attempts=99" is one name, posted as that name. Decoded
 * values are escaped again for JSON (json.c: invalid UTF-8 becomes U+FFFD).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "json.h"
#include "logfmt.h"
#include "notify_doc.h"

static void
put_key(struct json *j, const char *key, int *first)
{
	if (!*first)
		json_raw(j, ",", 1);
	*first = 0;
	json_string(j, key, strlen(key));
	json_raw(j, ":", 1);
}

static void
put_str(struct json *j, const char *key, const char *v, int *first)
{
	put_key(j, key, first);
	json_string(j, v, strlen(v));
}

static void
put_num(struct json *j, const char *key, const char *v, int *first)
{
	put_key(j, key, first);
	if (v[0] != '\0' && strspn(v, "0123456789") == strlen(v) && strlen(v) < 20)
		json_raw(j, v, strlen(v));
	else
		json_raw(j, "null", 4);
}

/* Skip one JSON value at p (already validated by its writer, json.c). */
static const char *
skip_value(const char *p, const char *end)
{
	int depth = 0, str = 0;

	for (; p < end; p++) {
		if (str) {
			if (*p == '\\')
				p++;
			else if (*p == '"')
				str = 0;
			if (!str && depth == 0)
				return p + 1;
			continue;
		}
		switch (*p) {
		case '"':
			str = 1;
			break;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (depth == 0)
				return p;	/* end of the enclosing object */
			if (--depth == 0)
				return p + 1;
			break;
		case ',':
			if (depth == 0)
				return p;
			break;
		default:
			break;
		}
	}
	return NULL;
}

static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
		p++;
	return p;
}

/* The top-level scalars of a JSON object, copied as they are. */
static void
put_manifest(struct json *j, const char *m, size_t len, int *first)
{
	const char *p = m, *end = m + len, *k, *ke, *v, *ve;
	int mfirst = 1;

	p = skip_ws(p, end);
	if (p >= end || *p != '{')
		return;
	put_key(j, "manifest", first);
	json_raw(j, "{", 1);
	for (p++;;) {
		p = skip_ws(p, end);
		if (p >= end || *p != '"')
			break;
		k = p;
		if ((ke = skip_value(k, end)) == NULL)
			break;
		p = skip_ws(ke, end);
		if (p >= end || *p != ':')
			break;
		v = skip_ws(p + 1, end);
		if ((ve = skip_value(v, end)) == NULL)
			break;
		if (v < end && *v != '{' && *v != '[') {
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\n' || ve[-1] == '\t' ||
			    ve[-1] == '\r'))
				ve--;
			if (!mfirst)
				json_raw(j, ",", 1);
			mfirst = 0;
			json_raw(j, k, (size_t)(ke - k));
			json_raw(j, ":", 1);
			json_raw(j, v, (size_t)(ve - v));
		}
		p = skip_ws(ve, end);
		if (p >= end || *p != ',')
			break;
		p++;
	}
	json_raw(j, "}", 1);
}

/* Decoded value of key into v (JOURNAL_LINE_MAX + 1 bytes). 1 found, 0 not, -1 malformed. */
static int
get(const char *line, size_t len, const char *key, char *v, size_t vlen)
{
	if (logfmt_get(line, len, LOGFMT_JOURNAL_REST, key, v, vlen) >= 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

enum notify_line
notify_line_kind(const char *line, size_t len)
{
	struct logfmt lf;
	struct logfmt_pair kv;
	int outcome = 0, rc;

	/* A continuation of the line before (a long reason), never a record. */
	if (len == 0 || line[0] == ' ')
		return NOTIFY_LINE_SKIP;
	logfmt_init(&lf, line, len, LOGFMT_JOURNAL_REST);
	while ((rc = logfmt_next(&lf, &kv, NULL, 0)) == LOGFMT_PAIR) {
		if (kv.klen == 5 && memcmp(kv.key, "event", 5) == 0)
			return NOTIFY_LINE_SKIP;	/* refiled, retried: not a finished job */
		if (kv.klen == 7 && memcmp(kv.key, "outcome", 7) == 0)
			outcome = 1;
	}
	if (rc == LOGFMT_ERROR)
		return NOTIFY_LINE_BAD;
	return outcome ? NOTIFY_LINE_JOB : NOTIFY_LINE_SKIP;
}

char *
notify_document(const char *line, size_t len, const char *manifest_json, size_t manifest_len)
{
	static const struct { const char *key, *as; int num; } fields[] = {
		{ "job", "job", 0 }, { "name", "name", 0 }, { "outcome", "outcome", 0 },
		{ "attempts", "attempts", 1 }, { "dur_ms", "duration_ms", 1 },
		{ "reason", "reason", 0 }, { "filed", "filed", 0 }, { "ts", "ts", 0 },
	};
	char *v;
	struct json j;
	size_t i;
	int first = 1, got;

	if ((v = malloc(len + 1)) == NULL)
		return NULL;
	json_init(&j);
	json_raw(&j, "{", 1);
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if ((got = get(line, len, fields[i].key, v, len + 1)) == -1) {
			free(v);
			free(json_finish(&j, NULL));
			errno = EINVAL;
			return NULL;
		}
		if (strcmp(fields[i].key, "reason") == 0) {
			/* Always there: null for a job that was done. */
			put_key(&j, "reason", &first);
			if (got)
				json_string(&j, v, strlen(v));
			else
				json_raw(&j, "null", 4);
		} else if (got && fields[i].num) {
			put_num(&j, fields[i].as, v, &first);
		} else if (got) {
			put_str(&j, fields[i].as, v, &first);
		}
	}
	free(v);
	if (manifest_json != NULL)
		put_manifest(&j, manifest_json, manifest_len, &first);
	json_raw(&j, "}", 1);
	return json_finish(&j, NULL);
}
