/*
 * The sources: list, whose entries are not one value each but a mapping of
 * their own ("- s3: {endpoint: ..., bucket: ...}"): its key table, read
 * from YAML events, checked, printed and freed with conf_value.c's code
 * for each key.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "conf_types.h"
#include "conf_keys.h"
#include "conf_sources.h"
#include "conf_value.h"
#include "conf_yaml.h"
#include "suggest.h"
#include "units.h"

#define SOURCES_MAX  64
#define S3_KEY_MAX   1024    /* bytes of an S3 object key */

/* Requests are path-style (ENDPOINT/BUCKET/KEY): the endpoint is only a base. */
static int
check_endpoint(const char *v, size_t idx, char *why, size_t len)
{
	const char *host, *path;
	char q[QUOTE_BUF];

	if (conf_check_http_url(v, idx, why, len) == -1)
		return -1;
	host = strstr(v, "://") + 3;
	path = host + strcspn(host, "/?#");
	if (strchr(v, '?') != NULL || strchr(v, '#') != NULL || strchr(host, '@') != NULL ||
	    (path[0] == '/' && path[1] != '\0'))
		snprintf(why, len, "%s: give only scheme, host and port, e.g. https://s3.eu-west-1."
		    "amazonaws.com (no path, query or user)", units_quote(q, sizeof(q), v));
	else
		return 0;
	return -1;
}

/* Non-empty, at most max bytes, every byte in set: then 0, else -1 and why. */
static int
check_charset(const char *v, size_t max, const char *set, const char *what, char *why,
    size_t len)
{
	char q[QUOTE_BUF];

	if (v[0] != '\0' && strlen(v) <= max && strspn(v, set) == strlen(v))
		return 0;
	snprintf(why, len, "%s is not %s", units_quote(q, sizeof(q), v), what);
	return -1;
}

#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

/* S3 allows 3-63 of [a-z0-9.-]; compatible servers are laxer. It goes in URLs as is. */
static int
check_bucket(const char *v, size_t idx, char *why, size_t len)
{
	(void)idx;
	return check_charset(v, 255, ALNUM "._-",
	    "a bucket name (letters, digits, '.', '-' and '_')", why, len);
}

static int
check_region(const char *v, size_t idx, char *why, size_t len)
{
	(void)idx;
	return check_charset(v, 64, ALNUM "-_", "a region name such as eu-west-1", why, len);
}

static int
check_prefix(const char *v, size_t idx, char *why, size_t len)
{
	(void)idx;
	if (strlen(v) <= S3_KEY_MAX)
		return 0;
	snprintf(why, len, "longer than %d bytes", S3_KEY_MAX);
	return -1;
}

static const char *const delete_names[] = { "after_commit", "never", NULL };
_Static_assert(sizeof(enum source_delete) == sizeof(int), "enum size");

#define SKEY(p, t, member, ...) { .path = (p), .type = (t),			\
	.off = offsetof(struct conf_source, member),				\
	.size = sizeof(((struct conf_source *)0)->member), __VA_ARGS__ }

/* The keys of one "- s3:" entry, read and printed by conf_value.c like the others. */
static const struct key s3_keys[] = {
	SKEY("endpoint",         K_STR,  endpoint, .check = check_endpoint),
	SKEY("region",           K_STR,  region, .check = check_region),
	SKEY("bucket",           K_STR,  bucket, .check = check_bucket),
	SKEY("prefix",           K_STR,  prefix, .flags = KF_NULL, .check = check_prefix),
	SKEY("poll",             K_DUR,  poll_ms, RANGE(100, DAY)),
	SKEY("delete",           K_ENUM, del, .names = delete_names),
	SKEY("max_time",         K_DUR,  max_time_ms, RANGE(0, DUR_MAX)),
	SKEY("credentials_file", K_STR,  credentials_file, .flags = KF_NULL,
	    .check = conf_check_abs_path),
};
#define NS3KEYS (sizeof(s3_keys) / sizeof(s3_keys[0]))

static void
source_free(struct conf_source *src)
{
	size_t i;

	for (i = 0; i < NS3KEYS; i++)
		if (s3_keys[i].type == K_STR) {
			free(*(char **)field(src, &s3_keys[i]));
			*(char **)field(src, &s3_keys[i]) = NULL;
		}
}

void
sources_free(struct conf_sources *ss)
{
	size_t i;

	for (i = 0; i < ss->n; i++)
		source_free(&ss->v[i]);
	free(ss->v);
	ss->v = NULL;
	ss->n = 0;
}

/* "FILE:LINE: sources[i].s3" for messages about entry i. */
static void
source_where(const struct conf *c, size_t i, char *buf, size_t len)
{
	if (c->file != NULL && c->sources.v[i].line != 0)
		snprintf(buf, len, "%s:%u: sources[%zu].s3", c->file, c->sources.v[i].line, i);
	else
		snprintf(buf, len, "sources[%zu].s3", i);
}

int
sources_validate(const struct conf *c, char *err, size_t errlen)
{
	const struct conf_source *a, *b;
	char at[64 + PATH_MAX], why[512];
	size_t i, j, k;
	const char *pa, *pb;

	for (i = 0; i < c->sources.n; i++) {
		a = &c->sources.v[i];
		for (k = 0; k < NS3KEYS; k++) {
			const struct key *sk = &s3_keys[k];
			const char *s;

			if (sk->type == K_STR) {
				s = *(char *const *)cfield(a, sk);
				if (s == NULL && !(sk->flags & KF_NULL))
					snprintf(why, sizeof(why), "is required");
				else if (s == NULL || sk->check(s, 0, why, sizeof(why)) == 0)
					continue;
			} else if (sk->type == K_DUR) {
				if (value_check_range(sk, load_uint(a, sk), why, sizeof(why)) == 0)
					continue;
			} else if ((unsigned)load_int(a, sk) < value_count_names(sk->names))
				continue;
			else
				snprintf(why, sizeof(why), "invalid value");
			source_where(c, i, at, sizeof(at));
			snprintf(err, errlen, "%s.%s: %s", at, sk->path, why);
			errno = EINVAL;
			return -1;
		}
		/* Refused at every request otherwise: better said at start, with its line. */
		if (!conf_scheme_allowed(c, a->endpoint, why, sizeof(why))) {
			source_where(c, i, at, sizeof(at));
			snprintf(err, errlen, "%s.endpoint: %s", at, why);
			errno = EINVAL;
			return -1;
		}
		/* Two sources that list the same object would fetch it twice. */
		for (j = 0; j < i; j++) {
			b = &c->sources.v[j];
			pa = a->prefix != NULL ? a->prefix : "";
			pb = b->prefix != NULL ? b->prefix : "";
			if (strcmp(a->endpoint, b->endpoint) != 0 || strcmp(a->bucket, b->bucket) != 0 ||
			    (strncmp(pa, pb, strlen(pb)) != 0 && strncmp(pb, pa, strlen(pa)) != 0))
				continue;
			source_where(c, i, at, sizeof(at));
			snprintf(err, errlen, "%s: overlaps sources[%zu] (same endpoint and bucket, and "
			    "one prefix starts with the other)", at, j);
			errno = EINVAL;
			return -1;
		}
	}
	return 0;
}

int
conf_scheme_allowed(const struct conf *c, const char *url, char *why, size_t len)
{
	const char *e = strstr(url, "://");
	size_t i, n = e != NULL ? (size_t)(e - url) : 0, off;

	if (c->fetch.protocols.n == 0)	/* what http_defaults allows then */
		return n == 5 && strncasecmp(url, "https", 5) == 0 ? 1 :
		    (snprintf(why, len, "scheme \"%.*s\" is not in fetch.protocols (https)", (int)n,
		    url), 0);
	for (i = 0; i < c->fetch.protocols.n; i++)
		if (strlen(c->fetch.protocols.v[i]) == n &&
		    strncasecmp(url, c->fetch.protocols.v[i], n) == 0)
			return 1;
	off = (size_t)snprintf(why, len, "scheme \"%.*s\" is not in fetch.protocols (", (int)n,
	    url);
	for (i = 0; i < c->fetch.protocols.n && off < len; i++)
		off += (size_t)snprintf(why + off, len - off, "%s%s", i > 0 ? ", " : "",
		    c->fetch.protocols.v[i]);
	if (off < len)
		snprintf(why + off, len - off, ")");
	return 0;
}

void
sources_print(const struct conf_sources *ss, FILE *fp)
{
	size_t i, k;

	fputc('[', fp);
	for (i = 0; i < ss->n; i++) {
		fputs(i > 0 ? ", {s3: {" : "{s3: {", fp);
		for (k = 0; k < NS3KEYS; k++) {
			fprintf(fp, "%s%s: ", k > 0 ? ", " : "", s3_keys[k].path);
			value_print(&ss->v[i], &s3_keys[k], fp);
		}
		fputs("}}", fp);
	}
	fputc(']', fp);
}

static int
source_defaults(struct conf_source *src, unsigned line)
{
	memset(src, 0, sizeof(*src));
	src->poll_ms = 10 * SEC;
	src->del = SOURCE_DELETE_AFTER_COMMIT;
	src->line = line;
	return (src->region = strdup("us-east-1")) == NULL ? -1 : 0;
}

/* The mapping of s3 keys of entry idx, after its MAPPING_START. */
static int
parse_s3_keys(struct parser *p, struct conf_source *src, size_t idx)
{
	unsigned seen[NS3KEYS] = { 0 };
	yaml_event_t ev;
	const char *name;
	char why[512];
	size_t k;

	for (;;) {
		if (parser_next(p, &ev) == -1)
			return -1;
		if (ev.type == YAML_MAPPING_END_EVENT)
			break;
		if (ev.type != YAML_SCALAR_EVENT) {
			parser_fail(p, &ev.start_mark,
			    "sources[%zu].s3: expected a key name, found %s", idx,
			    event_kind(&ev));
			goto fail;
		}
		name = (const char *)ev.data.scalar.value;
		for (k = 0; k < NS3KEYS; k++)
			if (strcmp(name, s3_keys[k].path) == 0 &&
			    strlen(name) == ev.data.scalar.length)
				break;
		if (k == NS3KEYS) {
			char q[QUOTE_BUF], g[QUOTE_BUF];
			struct suggest sg;

			suggest_init(&sg, name);
			for (k = 0; k < NS3KEYS; k++)
				suggest_offer(&sg, s3_keys[k].path);
			if (sg.best != NULL)
				parser_fail(p, &ev.start_mark,
				    "sources[%zu].s3: unknown key %s (did you mean %s?)", idx,
				    units_quote(q, sizeof(q), name), units_quote(g, sizeof(g), sg.best));
			else
				parser_fail(p, &ev.start_mark,
				    "sources[%zu].s3: unknown key %s (expected endpoint, "
				    "region, bucket, prefix, poll, delete, max_time or credentials_file)", idx,
				    units_quote(q, sizeof(q), name));
			goto fail;
		}
		if (seen[k]) {
			parser_fail(p, &ev.start_mark,
			    "sources[%zu].s3.%s: duplicate key (first given at "
			    "line %u)", idx, s3_keys[k].path, seen[k]);
			goto fail;
		}
		seen[k] = (unsigned)ev.start_mark.line + 1;
		yaml_event_delete(&ev);
		if (parser_next(p, &ev) == -1)
			return -1;
		if (ev.type != YAML_SCALAR_EVENT) {
			parser_fail(p, &ev.start_mark,
			    "sources[%zu].s3.%s: expected a single value, found %s",
			    idx, s3_keys[k].path, event_kind(&ev));
			goto fail;
		}
		if (value_set(src, &s3_keys[k], (const char *)ev.data.scalar.value,
		    ev.data.scalar.length, event_is_null(&ev), why, sizeof(why)) == -1) {
			if (errno == ENOMEM)
				p->oserr = ENOMEM;
			parser_fail(p, &ev.start_mark,
			    "sources[%zu].s3.%s: %s", idx, s3_keys[k].path, why);
			goto fail;
		}
		yaml_event_delete(&ev);
	}
	yaml_event_delete(&ev);
	return 0;
fail:
	yaml_event_delete(&ev);
	return -1;
}

/* One item of sources: a mapping with the single key s3. */
static int
parse_source(struct parser *p, struct conf_source *src, size_t idx)
{
	yaml_event_t ev;
	char q[QUOTE_BUF];

	if (parser_next(p, &ev) == -1)
		return -1;
	if (ev.type == YAML_MAPPING_END_EVENT) {
		parser_fail(p, &ev.start_mark, "sources[%zu]: empty entry (expected \"s3:\")", idx);
		goto fail;
	}
	if (ev.type != YAML_SCALAR_EVENT || strcmp((const char *)ev.data.scalar.value, "s3") != 0) {
		parser_fail(p, &ev.start_mark,
		    "sources[%zu]: unknown kind of source %s (expected s3)", idx,
		    ev.type == YAML_SCALAR_EVENT ? units_quote(q, sizeof(q),
		    (const char *)ev.data.scalar.value) : event_kind(&ev));
		goto fail;
	}
	yaml_event_delete(&ev);
	if (parser_next(p, &ev) == -1)
		return -1;
	if (ev.type != YAML_MAPPING_START_EVENT) {
		parser_fail(p, &ev.start_mark,
		    "sources[%zu].s3: expected a mapping of keys (endpoint, "
		    "bucket, ...), found %s", idx, event_kind(&ev));
		goto fail;
	}
	yaml_event_delete(&ev);
	if (parse_s3_keys(p, src, idx) == -1)
		return -1;
	if (parser_next(p, &ev) == -1)
		return -1;
	if (ev.type != YAML_MAPPING_END_EVENT) {
		parser_fail(p, &ev.start_mark,
		    "sources[%zu]: one source per item (start the next one "
		    "with \"- s3:\")", idx);
		goto fail;
	}
	yaml_event_delete(&ev);
	return 0;
fail:
	yaml_event_delete(&ev);
	return -1;
}

int
sources_parse(struct parser *p, const struct key *k)
{
	struct conf_sources ss = { NULL, 0 };
	struct conf_source *v;
	yaml_event_t ev;
	int rc = -1;

	for (;;) {
		if (parser_next(p, &ev) == -1)
			goto out;
		if (ev.type == YAML_SEQUENCE_END_EVENT)
			break;
		if (ev.type != YAML_MAPPING_START_EVENT) {
			parser_fail(p, &ev.start_mark,
			    "%s[%zu]: expected a source such as \"- s3: {endpoint: "
			    "..., bucket: ...}\", found %s", k->path, ss.n, event_kind(&ev));
			goto fail;
		}
		if (ss.n >= SOURCES_MAX) {
			parser_fail(p, &ev.start_mark,
			    "%s: more than %d sources", k->path, SOURCES_MAX);
			goto fail;
		}
		if ((v = reallocarray(ss.v, ss.n + 1, sizeof(*v))) == NULL)
			goto nomem;
		ss.v = v;
		if (source_defaults(&ss.v[ss.n], (unsigned)ev.start_mark.line + 1) == -1)
			goto nomem;
		ss.n++;
		yaml_event_delete(&ev);
		if (parse_source(p, &ss.v[ss.n - 1], ss.n - 1) == -1)
			goto out;
	}
	yaml_event_delete(&ev);
	sources_free(field(p->c, k));
	*(struct conf_sources *)field(p->c, k) = ss;
	ss.v = NULL;
	ss.n = 0;
	rc = 0;
	goto out;
nomem:
	p->oserr = ENOMEM;
	parser_fail(p, &ev.start_mark, "out of memory");
fail:
	yaml_event_delete(&ev);
out:
	sources_free(&ss);
	return rc;
}
