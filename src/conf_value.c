/*
 * A config value by its type: what the YAML reader and the command line give
 * as text becomes the field of the key's row, and goes back to text for
 * ingestd -t. Nothing here knows which keys there are.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_value.h"
#include "units.h"

#define CONF_LIST_MAX   1024            /* items in one list */

static int
parse_bool(const char *s, int *b)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	size_t i;

	for (i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*b = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*b = 0;
			return 0;
		}
	}
	return -1;
}

static const char *
fmt_number(char *buf, size_t len, const struct key *k, uint64_t v)
{
	if (k->type == K_DUR)
		return units_fmt_duration(buf, len, v);
	if (k->type == K_SIZE)
		return units_fmt_size(buf, len, v);
	snprintf(buf, len, "%" PRIu64, v);
	return buf;
}

/* "a, b or c" from a names[] list, for messages. */
static const char *
join_names(char *buf, size_t len, const char *const *names)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; names[i] != NULL && off < len; i++) {
		int n = snprintf(buf + off, len - off, "%s%s",
		    i == 0 ? "" : names[i + 1] == NULL ? " or " : ", ", names[i]);

		if (n < 0)
			break;
		off += (size_t)n;
	}
	return buf;
}

size_t
value_count_names(const char *const *names)
{
	size_t n = 0;

	while (names[n] != NULL)
		n++;
	return n;
}

static int
name_index(const char *const *names, const char *s)
{
	int i;

	for (i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

static void
store_uint(void *c, const struct key *k, uint64_t v)
{
	unsigned u = (unsigned)v;

	if (k->size == sizeof(unsigned))
		memcpy(field(c, k), &u, sizeof(u));
	else
		memcpy(field(c, k), &v, sizeof(v));
}

static void
store_int(void *c, const struct key *k, int i)
{
	memcpy(field(c, k), &i, sizeof(i));
}

int
value_check_range(const struct key *k, uint64_t v, char *why, size_t len)
{
	char a[32], b[32], d[32];

	if (v >= k->min && v <= k->max)
		return 0;
	if (k->max == UINT64_MAX)
		snprintf(why, len, "%s is out of range (at least %s)",
		    fmt_number(a, sizeof(a), k, v), fmt_number(b, sizeof(b), k, k->min));
	else
		snprintf(why, len, "%s is out of range (%s to %s)",
		    fmt_number(a, sizeof(a), k, v), fmt_number(b, sizeof(b), k, k->min),
		    fmt_number(d, sizeof(d), k, k->max));
	return -1;
}

int
value_set(void *c, const struct key *k, const char *v, size_t vlen,
    int is_null, char *why, size_t len)
{
	static const char *const hint_dur = "e.g. 250ms, 90s, 10m, 1h30m, 2d";
	static const char *const hint_size = "e.g. 512, 64KiB, 1MiB, 10GiB, 1TiB";
	char q[QUOTE_BUF], names[256], *s;
	uint64_t u;
	int b, rc;

	errno = EINVAL;
	if (is_null && !(k->flags & KF_NULL)) {
		snprintf(why, len, "missing value");
		return -1;
	}
	if (strlen(v) != vlen) {
		snprintf(why, len, "the value contains a NUL character");
		return -1;
	}
	switch (k->type) {
	case K_STR:
		s = NULL;
		if (!is_null) {
			if (k->check != NULL && k->check(v, 0, why, len) == -1) {
				errno = EINVAL;
				return -1;
			}
			if ((s = strdup(v)) == NULL) {
				snprintf(why, len, "out of memory");
				return -1;
			}
		}
		free(*(char **)field(c, k));
		*(char **)field(c, k) = s;
		return 0;
	case K_BOOL:
		if (parse_bool(v, &b) == -1) {
			snprintf(why, len, "invalid boolean %s (expected true or false)",
			    units_quote(q, sizeof(q), v));
			return -1;
		}
		store_int(c, k, b);
		return 0;
	case K_UINT:
	case K_DUR:
	case K_SIZE:
		if (k->auto_value != NULL && strcmp(v, "auto") == 0) {
			u = k->auto_value();
			rc = 0;
		} else if (k->type == K_UINT)
			rc = units_parse_uint(v, &u);
		else if (k->type == K_DUR)
			rc = units_parse_duration(v, &u);
		else
			rc = units_parse_size(v, &u);
		if (rc == -1 && errno == ERANGE) {
			snprintf(why, len, "%s is out of range", units_quote(q, sizeof(q), v));
			errno = EINVAL;
			return -1;
		}
		if (rc == -1) {
			snprintf(why, len, "invalid %s %s (%s)", k->type == K_UINT ? "number" :
			    k->type == K_DUR ? "duration" : "size", units_quote(q, sizeof(q), v),
			    k->type == K_UINT ? "a whole decimal number" :
			    k->type == K_DUR ? hint_dur : hint_size);
			errno = EINVAL;
			return -1;
		}
		if (value_check_range(k, u, why, len) == -1)
			return -1;
		store_uint(c, k, u);
		return 0;
	case K_ENUM:
		if ((b = name_index(k->names, v)) == -1) {
			snprintf(why, len, "invalid value %s (expected %s)",
			    units_quote(q, sizeof(q), v),
			    join_names(names, sizeof(names), k->names));
			return -1;
		}
		store_int(c, k, b);
		return 0;
	case K_SECTION:
	case K_LIST:
	case K_SOURCES:
		break;
	}
	snprintf(why, len, "is not a single value");
	return -1;
}

int
value_check_item(const struct key *k, const struct strv *sv, const char *v, char *why,
    size_t len)
{
	char q[QUOTE_BUF], names[256];
	size_t i;

	if (sv->n >= CONF_LIST_MAX) {
		snprintf(why, len, "more than %d items", CONF_LIST_MAX);
		return -1;
	}
	if (k->names != NULL && name_index(k->names, v) == -1) {
		snprintf(why, len, "invalid value %s (expected %s)", units_quote(q, sizeof(q), v),
		    join_names(names, sizeof(names), k->names));
		return -1;
	}
	if (k->flags & KF_UNIQUE)
		for (i = 0; i < sv->n; i++)
			if (strcmp(sv->v[i], v) == 0) {
				snprintf(why, len, "%s is listed twice",
				    units_quote(q, sizeof(q), v));
				return -1;
			}
	if (k->check != NULL)
		return k->check(v, sv->n, why, len);
	return 0;
}

void
value_print(const void *c, const struct key *k, FILE *fp)
{
	const struct strv *sv;
	const char *s;
	char buf[32];
	size_t i;
	int e;

	switch (k->type) {
	case K_STR:
		if ((s = *(char *const *)cfield(c, k)) == NULL)
			fputs("~", fp);
		else
			units_put_quoted(fp, s);
		break;
	case K_BOOL:
		fputs(load_int(c, k) ? "true" : "false", fp);
		break;
	case K_UINT:
	case K_DUR:
	case K_SIZE:
		fputs(fmt_number(buf, sizeof(buf), k, load_uint(c, k)), fp);
		break;
	case K_ENUM:
		/* conf_validate refuses an out-of-range value; print what reads back. */
		e = load_int(c, k);
		fputs(e >= 0 && (size_t)e < value_count_names(k->names) ? k->names[e] : "~", fp);
		break;
	case K_LIST:
		sv = cfield(c, k);
		fputc('[', fp);
		for (i = 0; i < sv->n; i++) {
			if (i > 0)
				fputs(", ", fp);
			units_put_quoted(fp, sv->v[i]);
		}
		fputc(']', fp);
		break;
	case K_SECTION:
	case K_SOURCES:         /* conf_sources.c prints its entries */
		break;
	}
}
