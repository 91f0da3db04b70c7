/*
 * The YAML events of a config file (conf_yaml.c), private to src/conf*.c:
 * the loader (conf_load.c) and the sources: list (conf_sources.c) read
 * their values through them.
 */
#ifndef INGESTD_CONF_YAML_H
#define INGESTD_CONF_YAML_H

#include <stddef.h>
#include <yaml.h>

struct conf;

struct parser {
	yaml_parser_t  yp;
	struct conf   *c;
	const char    *name;    /* of the file, for messages */
	const char    *buf;
	size_t         len;
	char          *err;
	size_t         errlen;
	int            depth;
	int            oserr;   /* errno to return when not a content error */
};

/* Write "NAME:LINE: " and the message at m into p->err. Returns -1. */
int         parser_fail(struct parser *p, const yaml_mark_t *m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * The next event, refusing what this format never uses. 0, or -1 with the
 * message in p->err and no event to delete.
 */
int         parser_next(struct parser *p, yaml_event_t *ev);

/* 1 if ev is a plain scalar that YAML reads as null (~, null, nothing), else 0. */
int         event_is_null(const yaml_event_t *ev);

/* What ev is, for messages: "a list", "a mapping", "a single value", "nothing". */
const char *event_kind(const yaml_event_t *ev);

#endif
