/*
 * Reading a config file into struct conf with libyaml's event API, key by
 * key from conf_keys[].
 *
 * The YAML is held to what the table can describe: one document, a mapping
 * at the top, no anchors, aliases or tags, every key known and given once.
 * Nothing is skipped, so every byte of the file either means something or is
 * an error with its line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "conf.h"
#include "conf_keys.h"
#include "conf_sources.h"
#include "conf_value.h"
#include "conf_yaml.h"
#include "strv.h"
#include "suggest.h"
#include "units.h"

#define CONF_FILE_MAX   (1024 * 1024)   /* bytes of YAML we agree to read */

static int parse_mapping(struct parser *p, const char *section);

static int
parse_list(struct parser *p, const struct key *k)
{
	struct strv sv = { NULL, 0 };
	yaml_event_t ev;
	char why[512];
	int rc = -1;

	for (;;) {
		if (parser_next(p, &ev) == -1)
			goto out;
		if (ev.type == YAML_SEQUENCE_END_EVENT)
			break;
		if (ev.type != YAML_SCALAR_EVENT)
			/* [a, {path}] reads {path} as a mapping: the likely slip. */
			parser_fail(p, &ev.start_mark,
			    "%s[%zu]: expected a single value, found %s%s",
			    k->path, sv.n, event_kind(&ev), ev.type == YAML_MAPPING_START_EVENT ?
			    " (quote an item that starts with a brace: \"{path}\")" : "");
		else if (event_is_null(&ev))
			parser_fail(p, &ev.start_mark,
			    "%s[%zu]: empty item (write \"\" for an empty "
			    "string)", k->path, sv.n);
		else if (strlen((const char *)ev.data.scalar.value) != ev.data.scalar.length)
			parser_fail(p, &ev.start_mark,
			    "%s[%zu]: the value contains a NUL character",
			    k->path, sv.n);
		else if (value_check_item(k, &sv, (const char *)ev.data.scalar.value, why,
		    sizeof(why)) == -1)
			parser_fail(p, &ev.start_mark, "%s[%zu]: %s", k->path, sv.n, why);
		else if (strv_push(&sv, (const char *)ev.data.scalar.value) == -1) {
			p->oserr = ENOMEM;
			parser_fail(p, &ev.start_mark, "out of memory");
		} else {
			yaml_event_delete(&ev);
			continue;
		}
		yaml_event_delete(&ev);
		goto out;
	}
	yaml_event_delete(&ev);
	if (strv_ready(&sv) == -1) {
		p->oserr = ENOMEM;
		snprintf(p->err, p->errlen, "%s: out of memory", p->name);
		goto out;
	}
	strv_free(field(p->c, k));
	*(struct strv *)field(p->c, k) = sv;
	sv.v = NULL;
	sv.n = 0;
	rc = 0;
out:
	strv_free(&sv);
	return rc;
}

static int
parse_value(struct parser *p, const struct key *k)
{
	yaml_event_t ev;
	char why[512];
	int rc = 0;

	if (parser_next(p, &ev) == -1)
		return -1;
	switch (k->type) {
	case K_SECTION:
		/* "handler:" with every key commented out is an empty section. */
		if (ev.type == YAML_MAPPING_START_EVENT)
			rc = parse_mapping(p, k->path);
		else if (!event_is_null(&ev))
			rc = parser_fail(p, &ev.start_mark,
			    "%s: expected a mapping of keys, found %s",
			    k->path, event_kind(&ev));
		break;
	case K_SOURCES:
		if (ev.type == YAML_SEQUENCE_START_EVENT)
			rc = sources_parse(p, k);
		else
			rc = parser_fail(p, &ev.start_mark,
			    "%s: expected a list of sources such as "
			    "\"- s3: {endpoint: ..., bucket: ...}\" or [], found %s", k->path,
			    event_kind(&ev));
		break;
	case K_LIST:
		if (ev.type == YAML_SEQUENCE_START_EVENT)
			rc = parse_list(p, k);
		else
			rc = parser_fail(p, &ev.start_mark, "%s: expected a list such as [a, b]%s, "
			    "found %s", k->path, event_is_null(&ev) ? " or []" : "",
			    event_kind(&ev));
		break;
	default:
		if (ev.type != YAML_SCALAR_EVENT)
			rc = parser_fail(p, &ev.start_mark, "%s: expected a single value, found %s",
			    k->path, event_kind(&ev));
		else if (value_set(p->c, k, (const char *)ev.data.scalar.value,
		    ev.data.scalar.length, event_is_null(&ev), why, sizeof(why)) == -1) {
			if (errno == ENOMEM)
				p->oserr = ENOMEM;
			rc = parser_fail(p, &ev.start_mark, "%s: %s", k->path, why);
		}
		break;
	}
	yaml_event_delete(&ev);
	return rc;
}

/* The key named v inside section (NULL: top level), or -1. */
static int
lookup(const char *section, const char *v, size_t vlen)
{
	size_t i, slen = section != NULL ? strlen(section) : 0;
	const char *leaf;

	if (strlen(v) != vlen || strchr(v, '.') != NULL)
		return -1;
	for (i = 0; i < conf_nkeys; i++) {
		leaf = conf_keys[i].path;
		if (section != NULL) {
			if (strncmp(leaf, section, slen) != 0 || leaf[slen] != '.')
				continue;
			leaf += slen + 1;
		} else if (strchr(leaf, '.') != NULL)
			continue;
		if (strcmp(leaf, v) == 0)
			return (int)i;
	}
	return -1;
}

/*
 * The key meant by v in section, as a dotted path into buf: the same name in
 * another section, else the nearest name of this one ("wrokers": "workers").
 * NULL when nothing is near enough to be worth a guess.
 */
static const char *
meant(const char *section, const char *v, char *buf, size_t len)
{
	size_t i, slen = section != NULL ? strlen(section) : 0;
	const char *dot, *leaf;
	struct suggest s;

	for (i = 0; i < conf_nkeys; i++) {
		dot = strrchr(conf_keys[i].path, '.');
		if (strcmp(dot != NULL ? dot + 1 : conf_keys[i].path, v) == 0)
			return conf_keys[i].path;
	}
	suggest_init(&s, v);
	for (i = 0; i < conf_nkeys; i++) {
		leaf = conf_keys[i].path;
		if (section != NULL) {
			if (strncmp(leaf, section, slen) != 0 || leaf[slen] != '.')
				continue;
			leaf += slen + 1;
		} else if (strchr(leaf, '.') != NULL)
			continue;
		suggest_offer(&s, leaf);
	}
	if (s.best == NULL)
		return NULL;
	if (section == NULL)
		return s.best;
	snprintf(buf, len, "%s.%s", section, s.best);
	return buf;
}

static int
unknown_key(struct parser *p, const yaml_event_t *ev, const char *section)
{
	const char *v = (const char *)ev->data.scalar.value, *dot, *guess;
	char q[QUOTE_BUF], g[QUOTE_BUF], path[2 * SUGGEST_MAX + 2], full[QUOTE_BUF + 64];

	if (section == NULL && (dot = strchr(v, '.')) != NULL && conf_key_index(v) != -1)
		return parser_fail(p, &ev->start_mark, "unknown key %s (write it nested: %.*s: on "
		    "one line, %s: indented below it)", units_quote(q, sizeof(q), v),
		    (int)(dot - v), v, dot + 1);
	/* Name it by its whole path, as the rest of the messages do. */
	if (section != NULL && strlen(v) <= SUGGEST_MAX && strchr(v, '.') == NULL) {
		snprintf(full, sizeof(full), "%s.%s", section, v);
		units_quote(q, sizeof(q), full);
	} else {
		units_quote(q, sizeof(q), v);
	}
	guess = v[0] != '\0' && strlen(v) <= SUGGEST_MAX ? meant(section, v, path, sizeof(path)) :
	    NULL;
	if (guess == NULL)
		return parser_fail(p, &ev->start_mark, "unknown key %s%s%s", q,
		    section != NULL && strchr(v, '.') != NULL ? " in " : "",
		    section != NULL && strchr(v, '.') != NULL ? section : "");
	return parser_fail(p, &ev->start_mark, "unknown key %s (did you mean %s?)", q,
	    units_quote(g, sizeof(g), guess));
}

static int
parse_mapping(struct parser *p, const char *section)
{
	yaml_event_t ev;
	size_t line;
	int idx;

	for (;;) {
		if (parser_next(p, &ev) == -1)
			return -1;
		if (ev.type == YAML_MAPPING_END_EVENT)
			break;
		if (ev.type != YAML_SCALAR_EVENT) {
			parser_fail(p, &ev.start_mark, "%s%sexpected a key name, found %s",
			    section != NULL ? section : "", section != NULL ? ": " : "",
			    event_kind(&ev));
			goto fail;
		}
		idx = lookup(section, (const char *)ev.data.scalar.value, ev.data.scalar.length);
		if (idx == -1) {
			unknown_key(p, &ev, section);
			goto fail;
		}
		line = ev.start_mark.line + 1;
		if (p->c->key_line[idx] != 0) {
			parser_fail(p, &ev.start_mark, "%s: duplicate key (first given at line %u)",
			    conf_keys[idx].path, p->c->key_line[idx]);
			goto fail;
		}
		p->c->key_line[idx] = line > UINT32_MAX ? UINT32_MAX : (unsigned)line;
		yaml_event_delete(&ev);
		if (parse_value(p, &conf_keys[idx]) == -1)
			return -1;
	}
	yaml_event_delete(&ev);
	return 0;
fail:
	yaml_event_delete(&ev);
	return -1;
}

static int
parse_stream(struct parser *p)
{
	yaml_event_t ev;
	int rc = 0;

	if (parser_next(p, &ev) == -1)   /* STREAM_START */
		return -1;
	yaml_event_delete(&ev);
	if (parser_next(p, &ev) == -1)
		return -1;
	if (ev.type == YAML_STREAM_END_EVENT) {         /* empty: all defaults */
		yaml_event_delete(&ev);
		return 0;
	}
	yaml_event_delete(&ev);                         /* DOCUMENT_START */
	if (parser_next(p, &ev) == -1)
		return -1;
	if (ev.type == YAML_MAPPING_START_EVENT)
		rc = parse_mapping(p, NULL);
	else if (!event_is_null(&ev))         /* a lone "---" is an empty document */
		rc = parser_fail(p, &ev.start_mark, "expected a mapping of keys (key: value), "
		    "found %s", event_kind(&ev));
	yaml_event_delete(&ev);
	if (rc == -1 || parser_next(p, &ev) == -1)       /* DOCUMENT_END */
		return -1;
	yaml_event_delete(&ev);
	if (parser_next(p, &ev) == -1)
		return -1;
	if (ev.type != YAML_STREAM_END_EVENT)
		rc = parser_fail(p, &ev.start_mark, "only one document is allowed");
	yaml_event_delete(&ev);
	return rc;
}

int
conf_load_buf(struct conf *c, const char *name, const char *buf, size_t len,
    char *err, size_t errlen)
{
	struct parser p;
	char *copy;
	int rc;

	if (len > CONF_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %d KiB", name, CONF_FILE_MAX / 1024);
		errno = EFBIG;
		return -1;
	}
	if ((copy = strdup(name)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	free(c->file);
	c->file = copy;
	memset(c->key_line, 0, sizeof(c->key_line));

	memset(&p, 0, sizeof(p));
	p.c = c;
	p.name = name;
	p.buf = buf;
	p.len = len;
	p.err = err;
	p.errlen = errlen;
	if (!yaml_parser_initialize(&p.yp)) {
		snprintf(err, errlen, "%s: out of memory", name);
		errno = ENOMEM;
		return -1;
	}
	yaml_parser_set_input_string(&p.yp, (const unsigned char *)buf, len);
	yaml_parser_set_encoding(&p.yp, YAML_UTF8_ENCODING);
	rc = parse_stream(&p);
	yaml_parser_delete(&p.yp);
	if (rc == -1)
		errno = p.oserr != 0 ? p.oserr : EINVAL;
	return rc;
}

int
conf_load(struct conf *c, const char *path, char *err, size_t errlen)
{
	size_t len = 0;
	ssize_t n;
	char *buf;
	int fd, rc, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		saved = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(saved));
		errno = saved;
		return -1;
	}
	/* One byte more than allowed, so that too big is seen, not cut. */
	if ((buf = malloc(CONF_FILE_MAX + 1)) == NULL) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		errno = ENOMEM;
		return -1;
	}
	while (len <= CONF_FILE_MAX) {
		n = read(fd, buf + len, CONF_FILE_MAX + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			saved = errno;
			snprintf(err, errlen, "%s: %s", path, strerror(saved));
			free(buf);
			close(fd);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	rc = conf_load_buf(c, path, buf, len, err, errlen);
	saved = errno;
	free(buf);
	errno = saved;
	return rc;
}

int
conf_read(struct conf *c, const char *file, const struct conf_overrides *ov, char *err,
    size_t errlen)
{
	if (conf_defaults(c) == -1) {
		snprintf(err, errlen, "ingestd: out of memory");
		return -1;
	}
	if (file != NULL && conf_load(c, file, err, errlen) == -1)
		goto fail;
	if (ov->spool != NULL) {
		free(c->spool);
		if ((c->spool = strdup(ov->spool)) == NULL) {
			snprintf(err, errlen, "ingestd: out of memory");
			goto fail;
		}
	}
	if (ov->workers > 0)
		c->workers = ov->workers;
	c->verbosity = ov->verbosity;
	if (conf_validate(c, err, errlen) == -1)
		goto fail;
	return 0;
fail:
	conf_free(c);
	return -1;
}
