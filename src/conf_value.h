/*
 * One value of a config key, by its type: parsed from text, checked against
 * the key's limits, printed as YAML. Private to src/conf*.c. The key tables
 * are rows of struct key; the value lives in the row's struct (struct conf,
 * or one sources: entry) at the row's offset.
 */
#ifndef INGESTD_CONF_VALUE_H
#define INGESTD_CONF_VALUE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "strv.h"

enum ktype {
	K_SECTION,      /* a mapping of further keys, e.g. handler */
	K_STR,          /* char * */
	K_BOOL,         /* int, 0 or 1 */
	K_UINT,         /* unsigned or uint64_t (by size) */
	K_DUR,          /* uint64_t milliseconds */
	K_SIZE,         /* uint64_t bytes */
	K_ENUM,         /* an enum whose values index names[] */
	K_LIST,         /* struct strv */
	K_SOURCES       /* struct conf_sources: a list of "- s3: {...}", read by its own code */
};

#define KF_NULL   0x1   /* ~ or an empty value unsets the string */
#define KF_UNIQUE 0x2   /* a list item may be given once */

struct key {
	const char   *path;             /* dotted: "handler.timeout" */
	size_t        off, size;        /* of the field in its struct */
	uint64_t      min, max;         /* K_UINT, K_DUR, K_SIZE */
	const char *const *names;       /* K_ENUM values; K_LIST allowed items */
	uint64_t    (*auto_value)(void); /* K_UINT: what the word auto means */
	/* Extra test of one value (idx: position in a list). 0, or -1 + why. */
	int         (*check)(const char *v, size_t idx, char *why, size_t len);
	enum ktype    type;
	unsigned      flags;
};

#define RANGE(lo, hi)  .min = (lo), .max = (hi)

/* The memory of k's value in c, and the numbers in it (stored as they are typed). */
static inline void *
field(void *c, const struct key *k)
{
	return (char *)c + k->off;
}

static inline const void *
cfield(const void *c, const struct key *k)
{
	return (const char *)c + k->off;
}

static inline uint64_t
load_uint(const void *c, const struct key *k)
{
	unsigned u;
	uint64_t v;

	if (k->size == sizeof(unsigned)) {
		memcpy(&u, cfield(c, k), sizeof(u));
		return u;
	}
	memcpy(&v, cfield(c, k), sizeof(v));
	return v;
}

static inline int
load_int(const void *c, const struct key *k)
{
	int i;

	memcpy(&i, cfield(c, k), sizeof(i));
	return i;
}

/* Entries of a NULL-terminated names[] list. */
size_t value_count_names(const char *const *names);

/* 0 if v is within k's range, else -1 with the reason in why. */
int  value_check_range(const struct key *k, uint64_t v, char *why, size_t len);

/*
 * Parse v (vlen bytes; is_null: a YAML null) as the value of the scalar key
 * k and store it in c. 0, or -1 with the reason, without the key, in why and
 * errno set (ENOMEM, or EINVAL for a bad value).
 */
int  value_set(void *c, const struct key *k, const char *v, size_t vlen, int is_null,
    char *why, size_t len);

/* Item v of list key k, to go after the items in sv. 0, or -1 with why. */
int  value_check_item(const struct key *k, const struct strv *sv, const char *v, char *why,
    size_t len);

/* k's value in c as YAML that reads back the same (K_SECTION, K_SOURCES: nothing). */
void value_print(const void *c, const struct key *k, FILE *fp);

#endif
