/*
 * The sources: list (conf_sources.c), private to src/conf*.c: conf.c and
 * the loader hand the key of type K_SOURCES to these.
 */
#ifndef INGESTD_CONF_SOURCES_H
#define INGESTD_CONF_SOURCES_H

#include <stddef.h>
#include <stdio.h>

#include "conf_types.h"
#include "conf_value.h"

struct parser;

/*
 * The list after its SEQUENCE_START, into the field of key k in p->c,
 * replacing what was there. 0, or -1 with the message in p->err.
 */
int  sources_parse(struct parser *p, const struct key *k);

/*
 * Each entry's keys as conf_validate checks the others', and no two entries
 * listing the same objects. 0, or -1 with "FILE:LINE: sources[i].s3.KEY:
 * reason" in err and errno EINVAL.
 */
int  sources_validate(const struct conf *c, char *err, size_t errlen);

/*
 * 1 when url's scheme is one of fetch.protocols; else 0, with the scheme
 * and the allowed list, for a message, in why.
 */
int  conf_scheme_allowed(const struct conf *c, const char *url, char *why, size_t len);

/* On one line, as conf_load reads it back: [{s3: {endpoint: "...", ...}}, ...]. */
void sources_print(const struct conf_sources *ss, FILE *fp);

/* Free every entry and the list; ss is left empty. */
void sources_free(struct conf_sources *ss);

#endif
