/*
 * Configuration: built-in defaults, then one YAML file read with libyaml's
 * event API, then command-line overrides (main.c), then conf_validate().
 * The keys are the rows of conf_keys[] (conf_keys.c), and what a value of
 * each type accepts is conf_value.c.
 *
 * The YAML is held to what the table can describe: one document, a mapping
 * at the top, no anchors, aliases or tags, every key known and given once.
 * Nothing is skipped, so every byte of the file either means something or is
 * an error with its line.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "units.h"

#define CONF_FILE_MAX   (1024 * 1024)   /* bytes of YAML we agree to read */

/* --- defaults, free, validate, print, set ------------------------------------- */

int
conf_defaults(struct conf *c)
{
	static const char *const ignore[] = { "*-downloading", "*.part", ".*" };
	size_t i;

	memset(c, 0, sizeof(*c));
	c->workers = (unsigned)conf_online_cpus();
	c->settle_ms = 2 * SEC;
	c->shutdown_grace_ms = 5 * SEC;
	c->fsync = 1;
	c->metrics_interval_ms = 5 * SEC;
	c->handler.timeout_ms = HOUR;
	c->handler.retries = 3;
	c->handler.backoff_ms = 10 * SEC;
	c->handler.backoff_max_ms = 10 * MIN;
	c->handler.log_max = MiB;
	c->packet.plain = PLAIN_FAIL;
	c->packet.links = LINKS_REFUSE;
	c->packet.on_success = ON_SUCCESS_ARCHIVE;
	c->packet.max_bytes = TiB;
	c->packet.max_entries = 100000;
	c->packet.max_file_bytes = TiB;
	c->packet.max_ratio = 1000;
	c->packet.max_depth = 32;
	c->packet.manifest_required = 1;
	c->packet.manifest_max_bytes = MiB;
	c->packet.manifest_max_depth = 64;
	c->packet.manifest_max_nodes = 100000;
	c->fetch.segments = 4;
	c->fetch.segment_min = 16 * MiB;
	c->fetch.connect_timeout_ms = 10 * SEC;
	c->fetch.low_speed_limit = KiB;
	c->fetch.low_speed_time_ms = 30 * SEC;
	c->fetch.retries = 5;
	c->fetch.backoff_ms = SEC;
	c->fetch.max_bytes = TiB;
	c->fetch.tls_verify = 1;
	c->notify.timeout_ms = 10 * SEC;
	c->notify.retries = 5;
	c->notify.backoff_ms = SEC;
	if ((c->spool = strdup("/var/spool/ingestd")) == NULL ||
	    (c->packet.manifest = strdup("data_info.yml")) == NULL)
		goto fail;
	for (i = 0; i < sizeof(ignore) / sizeof(ignore[0]); i++)
		if (strv_push(&c->ignore, ignore[i]) == -1)
			goto fail;
	if (strv_push(&c->packet.formats, "zip") == -1 ||
	    strv_push(&c->packet.formats, "tar") == -1 ||
	    strv_push(&c->fetch.protocols, "http") == -1 ||
	    strv_push(&c->fetch.protocols, "https") == -1)
		goto fail;
	for (i = 0; i < conf_nkeys; i++)
		if (conf_keys[i].type == K_LIST && strv_ready(field(c, &conf_keys[i])) == -1)
			goto fail;
	return 0;
fail:
	conf_free(c);
	errno = ENOMEM;
	return -1;
}

void
conf_free(struct conf *c)
{
	size_t i;

	for (i = 0; i < conf_nkeys; i++)
		if (conf_keys[i].type == K_STR) {
			free(*(char **)field(c, &conf_keys[i]));
			*(char **)field(c, &conf_keys[i]) = NULL;
		} else if (conf_keys[i].type == K_LIST)
			strv_free(field(c, &conf_keys[i]));
		else if (conf_keys[i].type == K_SOURCES)
			sources_free(field(c, &conf_keys[i]));
	free(c->file);
	c->file = NULL;
}

/* "FILE:LINE: " when key idx came from the file, else nothing. */
static void
where(const struct conf *c, size_t idx, char *buf, size_t len)
{
	if (c->file != NULL && c->key_line[idx] != 0)
		snprintf(buf, len, "%s:%u: ", c->file, c->key_line[idx]);
	else
		buf[0] = '\0';
}

/*
 * The value held now for key k, checked as if it had just been read. For a
 * list, *item is the index of the bad item (SIZE_MAX: not an item).
 */
static int
check_current(const struct conf *c, const struct key *k, size_t *item, char *why,
    size_t len)
{
	const struct strv *sv;
	struct strv seen = { NULL, 0 };
	const char *s;
	size_t i;
	int rc = 0;

	*item = SIZE_MAX;
	switch (k->type) {
	case K_STR:
		s = *(char *const *)cfield(c, k);
		if (s == NULL && !(k->flags & KF_NULL)) {
			snprintf(why, len, "not set");
			return -1;
		}
		return s != NULL && k->check != NULL ? k->check(s, 0, why, len) : 0;
	case K_UINT:
	case K_DUR:
	case K_SIZE:
		return value_check_range(k, load_uint(c, k), why, len);
	case K_ENUM:
		if ((unsigned)load_int(c, k) < value_count_names(k->names))
			return 0;
		snprintf(why, len, "invalid value %d", load_int(c, k));
		return -1;
	case K_LIST:
		/* check_item wants the items before this one: show it a prefix. */
		sv = cfield(c, k);
		for (i = 0; i < sv->n && rc == 0; i++) {
			seen.v = sv->v;
			seen.n = i;
			if ((rc = value_check_item(k, &seen, sv->v[i], why, len)) == -1)
				*item = i;
		}
		return rc;
	case K_BOOL:
	case K_SECTION:
	case K_SOURCES:         /* sources_validate(): each entry has its own line */
		break;
	}
	return 0;
}

int
conf_validate(const struct conf *c, char *err, size_t errlen)
{
	char at[64 + PATH_MAX], why[512], a[32], b[32], idx[24];
	size_t n, item;
	int i, j;

	for (n = 0; n < conf_nkeys; n++)
		if (check_current(c, &conf_keys[n], &item, why, sizeof(why)) == -1) {
			where(c, n, at, sizeof(at));
			idx[0] = '\0';
			if (item != SIZE_MAX)
				snprintf(idx, sizeof(idx), "[%zu]", item);
			snprintf(err, errlen, "%s%s%s: %s", at, conf_keys[n].path, idx, why);
			errno = EINVAL;
			return -1;
		}
	if (c->handler.backoff_max_ms < c->handler.backoff_ms) {
		/* Point at whichever of the two the file set last. */
		i = conf_key_index("handler.backoff_max");
		j = conf_key_index("handler.backoff");
		where(c, (size_t)(c->key_line[j] > c->key_line[i] ? j : i), at, sizeof(at));
		snprintf(err, errlen, "%shandler.backoff_max: %s is less than handler.backoff (%s)",
		    at, units_fmt_duration(a, sizeof(a), c->handler.backoff_max_ms),
		    units_fmt_duration(b, sizeof(b), c->handler.backoff_ms));
		errno = EINVAL;
		return -1;
	}
	return sources_validate(c, err, errlen);
}

int
conf_set(struct conf *c, const char *key, const char *value, char *err, size_t errlen)
{
	char why[512];
	int idx = conf_key_index(key);

	if (idx == -1 || conf_keys[idx].type == K_SECTION || conf_keys[idx].type == K_LIST ||
	    conf_keys[idx].type == K_SOURCES) {
		snprintf(err, errlen, "%s: %s", key, idx == -1 ? "unknown key" :
		    "cannot be set from the command line");
		errno = EINVAL;
		return -1;
	}
	if (value_set(c, &conf_keys[idx], value, strlen(value), 0, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: %s", key, why);
		return -1;
	}
	c->key_line[idx] = 0;
	return 0;
}

/* The sources: list is not one value: its entries are printed by its own code. */
static void
print_key(const struct conf *c, const struct key *k, FILE *fp)
{
	if (k->type == K_SOURCES)
		sources_print(cfield(c, k), fp);
	else
		value_print(c, k, fp);
}

void
conf_print(const struct conf *c, FILE *fp)
{
	size_t i, j, plen;

	fputs("# ingestd effective settings: built-in defaults", fp);
	if (c->file != NULL) {
		fputs(", then ", fp);
		units_put_quoted(fp, c->file);
	}
	fputc('\n', fp);
	for (i = 0; i < conf_nkeys; i++) {
		if (strchr(conf_keys[i].path, '.') != NULL)
			continue;
		fprintf(fp, "%s:", conf_keys[i].path);
		if (conf_keys[i].type != K_SECTION) {
			fputc(' ', fp);
			print_key(c, &conf_keys[i], fp);
			fputc('\n', fp);
			continue;
		}
		fputc('\n', fp);
		plen = strlen(conf_keys[i].path);
		for (j = 0; j < conf_nkeys; j++)
			if (strncmp(conf_keys[j].path, conf_keys[i].path, plen) == 0 &&
			    conf_keys[j].path[plen] == '.') {
				fprintf(fp, "  %s: ", conf_keys[j].path + plen + 1);
				print_key(c, &conf_keys[j], fp);
				fputc('\n', fp);
			}
	}
}

/* --- the YAML reader ---------------------------------------------------------- */

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

static int
unknown_key(struct parser *p, const yaml_event_t *ev, const char *section)
{
	const char *v = (const char *)ev->data.scalar.value, *dot;
	char q[QUOTE_BUF];
	size_t i;

	if (section == NULL && (dot = strchr(v, '.')) != NULL && conf_key_index(v) != -1)
		return parser_fail(p, &ev->start_mark, "unknown key %s (write it nested: %.*s: on "
		    "one line, %s: indented below it)", units_quote(q, sizeof(q), v),
		    (int)(dot - v), v, dot + 1);
	if (v[0] == '\0' || strlen(v) > 64 || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_") !=
	    strlen(v))
		return parser_fail(p, &ev->start_mark,
		    "unknown key %s%s%s", units_quote(q, sizeof(q), v),
		    section != NULL ? " in " : "", section != NULL ? section : "");
	/* The same name elsewhere is most likely what was meant. */
	for (i = 0; i < conf_nkeys; i++) {
		dot = strrchr(conf_keys[i].path, '.');
		if (strcmp(dot != NULL ? dot + 1 : conf_keys[i].path, v) == 0)
			return parser_fail(p, &ev->start_mark,
			    "%s%s%s: unknown key (did you mean %s?)",
			    section != NULL ? section : "", section != NULL ? "." : "", v,
			    conf_keys[i].path);
	}
	return parser_fail(p, &ev->start_mark,
	    "%s%s%s: unknown key", section != NULL ? section : "",
	    section != NULL ? "." : "", v);
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
