/*
 * libyaml's events as the config reads them: held to what its tables can
 * describe (no anchors, aliases or tags, no deep nesting), with every error
 * written as "FILE:LINE: reason".
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "conf_yaml.h"

#define CONF_DEPTH_MAX  16              /* nested lists/mappings (the table needs 3) */


int
parser_fail(struct parser *p, const yaml_mark_t *m, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(p->err, p->errlen, "%s:%zu: ", p->name, m->line + 1);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int
syntax_error(struct parser *p)
{
	const yaml_parser_t *yp = &p->yp;
	size_t i, line = 1;

	switch (yp->error) {
	case YAML_MEMORY_ERROR:
		p->oserr = ENOMEM;
		snprintf(p->err, p->errlen, "%s: out of memory", p->name);
		return -1;
	case YAML_READER_ERROR:
		/* No mark for bad bytes, only their offset: count the lines. */
		for (i = 0; i < yp->problem_offset && i < p->len; i++)
			line += p->buf[i] == '\n';
		snprintf(p->err, p->errlen, "%s:%zu: %s", p->name, line,
		    yp->problem != NULL ? yp->problem : "unreadable input");
		return -1;
	default:
		if (yp->context != NULL)
			return parser_fail(p, &yp->problem_mark,
			    "syntax error: %s (%s at line %zu)",
			    yp->problem != NULL ? yp->problem : "?", yp->context,
			    yp->context_mark.line + 1);
		return parser_fail(p, &yp->problem_mark, "syntax error: %s",
		    yp->problem != NULL ? yp->problem : "?");
	}
}

int
parser_next(struct parser *p, yaml_event_t *ev)
{
	const yaml_char_t *anchor = NULL, *tag = NULL;

	if (!yaml_parser_parse(&p->yp, ev))
		return syntax_error(p);
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		parser_fail(p, &ev->start_mark, "aliases (*name) are not allowed");
		goto refuse;
	case YAML_SCALAR_EVENT:
		anchor = ev->data.scalar.anchor;
		tag = ev->data.scalar.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		p->depth--;
		break;
	default:
		break;
	}
	if (anchor != NULL) {
		parser_fail(p, &ev->start_mark, "anchors (&name) are not allowed");
		goto refuse;
	}
	if (tag != NULL) {
		parser_fail(p, &ev->start_mark, "tags (!name) are not allowed");
		goto refuse;
	}
	if (ev->type == YAML_SEQUENCE_START_EVENT || ev->type == YAML_MAPPING_START_EVENT) {
		if (++p->depth > CONF_DEPTH_MAX) {
			parser_fail(p, &ev->start_mark,
			    "nested deeper than %d levels", CONF_DEPTH_MAX);
			goto refuse;
		}
	}
	return 0;
refuse:
	yaml_event_delete(ev);
	return -1;
}

int
event_is_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;

	return ev->type == YAML_SCALAR_EVENT && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	    strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0);
}

const char *
event_kind(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SEQUENCE_START_EVENT:
		return "a list";
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	case YAML_SCALAR_EVENT:
		return event_is_null(ev) ? "nothing" : "a single value";
	default:
		return "something else";
	}
}
