#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "json.h"
#include "log.h"
#include "manifest.h"

#define ENV_PREFIX "INGEST_META_"

/* One open collection. Keys of every mapping live in one hash set, tagged by map id. */
struct frame {
	int       map;		/* 1 mapping, 0 sequence */
	int       want_key;	/* mapping: the next scalar is a key */
	int       first;	/* no member written yet: no comma */
	uint64_t  id;
};

struct keyslot {
	uint64_t  map;
	uint64_t  hash;
	char     *key;		/* NULL: free slot */
	size_t    len;
};

struct mparse {
	const struct conf_packet *p;
	struct json   out;
	struct frame *stack;
	size_t        depth, stackcap;
	uint64_t      nodes, next_id;
	struct keyslot *keys;
	size_t        nkeys, keycap;
	/* The top-level key waiting for its value. */
	char         *topkey;
	size_t        topkeylen;
	size_t        envbytes;
	struct strv   env;
	int           docs;
	char         *reason;
	size_t        reasonlen;
};

static uint64_t
hash_key(uint64_t map, const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL ^ map;	/* FNV-1a */
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static struct keyslot *
key_find(struct mparse *mp, uint64_t map, const char *s, size_t n, uint64_t h)
{
	size_t i, mask = mp->keycap - 1;

	for (i = h & mask;; i = (i + 1) & mask) {
		struct keyslot *k = &mp->keys[i];

		if (k->key == NULL ||
		    (k->map == map && k->hash == h && k->len == n && memcmp(k->key, s, n) == 0))
			return k;
	}
}

/* Returns 1 if the key was new, 0 if it was there already, -1 on ENOMEM. */
static int
key_add(struct mparse *mp, uint64_t map, const char *s, size_t n)
{
	uint64_t h = hash_key(map, s, n);
	struct keyslot *k;

	if ((mp->nkeys + 1) * 2 > mp->keycap) {
		size_t oldcap = mp->keycap, i;
		struct keyslot *old = mp->keys;

		mp->keycap = oldcap ? oldcap * 2 : 64;
		mp->keys = calloc(mp->keycap, sizeof(*mp->keys));
		if (mp->keys == NULL) {
			mp->keys = old;
			mp->keycap = oldcap;
			return -1;
		}
		for (i = 0; i < oldcap; i++)
			if (old[i].key)
				*key_find(mp, old[i].map, old[i].key, old[i].len, old[i].hash) = old[i];
		free(old);
	}
	k = key_find(mp, map, s, n, h);
	if (k->key)
		return 0;
	if ((k->key = malloc(n ? n : 1)) == NULL)
		return -1;
	memcpy(k->key, s, n);
	k->len = n;
	k->map = map;
	k->hash = h;
	mp->nkeys++;
	return 1;
}

static int
key_has(struct mparse *mp, uint64_t map, const char *s, size_t n)
{
	if (mp->keycap == 0)
		return 0;
	return key_find(mp, map, s, n, hash_key(map, s, n))->key != NULL;
}

static int
bad_at(struct mparse *mp, const yaml_mark_t *mk, const char *what)
{
	char q[512];

	snprintf(mp->reason, mp->reasonlen, "manifest line=%zu column=%zu error=%s",
	    mk->line + 1, mk->column + 1, log_quote(q, sizeof(q), what));
	return MANIFEST_BAD;
}

int
manifest_env_name(const char *key, size_t keylen, char *out, size_t outlen)
{
	const unsigned char *k = (const unsigned char *)key;
	size_t o = sizeof(ENV_PREFIX) - 1, i = 0;

	if (outlen < o + 1)
		return -1;
	memcpy(out, ENV_PREFIX, o);
	while (i < keylen) {
		unsigned c = k[i];
		size_t l = c < 0x80 ? 1 : utf8_seqlen(k + i, keylen - i);

		if (o + 1 >= outlen)
			return -1;
		if (c >= 'a' && c <= 'z')
			out[o++] = (char)(c - 'a' + 'A');
		else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')
			out[o++] = (char)c;
		else
			out[o++] = '_';	/* one '_' per character, not per byte */
		i += l ? l : 1;
	}
	out[o] = '\0';
	return 0;
}

static int
env_add(struct mparse *mp, const char *key, size_t keylen, const char *val, size_t vallen)
{
	char q[256], qw[64], *s, **nv;
	size_t namecap = sizeof(ENV_PREFIX) + keylen, i, nl;
	const char *why = NULL;

	if (keylen == 0)
		why = "empty key";
	else if (vallen > MANIFEST_ENV_VALUE_MAX)
		why = "value longer than 64KiB";
	else if (mp->envbytes + namecap + vallen + 1 > MANIFEST_ENV_TOTAL_MAX)
		why = "INGEST_META_ variables past 512KiB";
	if (why) {
		log_info("event=manifest_env_skip key=%s reason=%s", log_quote(q, sizeof(q), key),
		    log_quote(qw, sizeof(qw), why));
		return 0;
	}
	if ((s = malloc(namecap + 1 + vallen + 1)) == NULL)
		return -1;
	if (manifest_env_name(key, keylen, s, namecap) == -1) {
		free(s);
		errno = EOVERFLOW;
		return -1;
	}
	nl = strlen(s);
	/* "a-b" and "a_b" meet in one name: the first one wins. */
	for (i = 0; i < mp->env.n; i++)
		if (strncmp(mp->env.v[i], s, nl) == 0 && mp->env.v[i][nl] == '=') {
			log_info("event=manifest_env_skip key=%s reason=\"same name as an earlier key\"",
			    log_quote(q, sizeof(q), key));
			free(s);
			return 0;
		}
	s[nl] = '=';
	memcpy(s + nl + 1, val, vallen);
	s[nl + 1 + vallen] = '\0';
	if ((nv = realloc(mp->env.v, (mp->env.n + 2) * sizeof(*nv))) == NULL) {
		free(s);
		return -1;
	}
	mp->env.v = nv;
	nv[mp->env.n++] = s;
	nv[mp->env.n] = NULL;
	mp->envbytes += nl + 1 + vallen + 1;
	return 0;
}

/* Refuse what a manifest has no use for; returns 0 or MANIFEST_BAD. */
static int
check_node(struct mparse *mp, const yaml_event_t *ev, const yaml_char_t *anchor,
    const yaml_char_t *tag)
{
	if (anchor)
		return bad_at(mp, &ev->start_mark, "anchors are not allowed");
	if (tag)
		return bad_at(mp, &ev->start_mark, "tags are not allowed");
	if (mp->p->manifest_max_nodes && ++mp->nodes > mp->p->manifest_max_nodes)
		return bad_at(mp, &ev->start_mark, "more nodes than manifest_max_nodes");
	if (mp->depth == 0 && ev->type != YAML_MAPPING_START_EVENT)
		return bad_at(mp, &ev->start_mark, ev->type == YAML_SEQUENCE_START_EVENT ?
		    "the top level is a list, not a mapping" :
		    "the top level is a scalar, not a mapping");
	if (mp->depth && mp->stack[mp->depth - 1].map && mp->stack[mp->depth - 1].want_key &&
	    ev->type != YAML_SCALAR_EVENT)
		return bad_at(mp, &ev->start_mark, "a key must be a scalar");
	return 0;
}

/* Comma and bookkeeping before a member of the current collection. */
static void
member(struct mparse *mp)
{
	struct frame *f;

	if (mp->depth == 0)
		return;
	f = &mp->stack[mp->depth - 1];
	if (f->map && !f->want_key) {
		json_raw(&mp->out, ":", 1);
		f->want_key = 1;
		return;
	}
	if (!f->first)
		json_raw(&mp->out, ",", 1);
	f->first = 0;
	if (f->map)
		f->want_key = 0;
}

static int
on_scalar(struct mparse *mp, const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	struct frame *f;
	int r;

	if ((r = check_node(mp, ev, ev->data.scalar.anchor, ev->data.scalar.tag)) != 0)
		return r;
	/* "\0" is a valid YAML escape, but a NUL cannot travel in a C string or an env value. */
	if (memchr(v, '\0', n))
		return bad_at(mp, &ev->start_mark, "NUL byte in a scalar");
	f = &mp->stack[mp->depth - 1];
	if (f->map && f->want_key) {
		r = key_add(mp, f->id, v, n);
		if (r == -1)
			return -1;
		if (r == 0) {
			char q[256], msg[300];

			snprintf(msg, sizeof(msg), "duplicate key %s", log_quote(q, sizeof(q), v));
			return bad_at(mp, &ev->start_mark, msg);
		}
		if (mp->depth == 1) {
			free(mp->topkey);
			if ((mp->topkey = malloc(n + 1)) == NULL)
				return -1;
			memcpy(mp->topkey, v, n);
			mp->topkey[n] = '\0';
			mp->topkeylen = n;
		}
	} else if (f->map && mp->depth == 1 && env_add(mp, mp->topkey, mp->topkeylen, v, n) == -1)
		return -1;
	member(mp);
	json_string(&mp->out, v, n);
	return 0;
}

static int
on_start(struct mparse *mp, const yaml_event_t *ev, int map)
{
	const yaml_char_t *anchor, *tag;
	struct frame *f;
	int r;

	if (map) {
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
	} else {
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
	}
	if ((r = check_node(mp, ev, anchor, tag)) != 0)
		return r;
	if (mp->p->manifest_max_depth && mp->depth + 1 > mp->p->manifest_max_depth)
		return bad_at(mp, &ev->start_mark, "nested deeper than manifest_max_depth");
	member(mp);
	if (mp->depth == mp->stackcap) {
		size_t cap = mp->stackcap ? mp->stackcap * 2 : 16;
		struct frame *ns = realloc(mp->stack, cap * sizeof(*ns));

		if (ns == NULL)
			return -1;
		mp->stack = ns;
		mp->stackcap = cap;
	}
	f = &mp->stack[mp->depth++];
	f->map = map;
	f->want_key = map;
	f->first = 1;
	f->id = ++mp->next_id;
	json_raw(&mp->out, map ? "{" : "[", 1);
	return 0;
}

/* libyaml reports reader errors (bad UTF-8, control bytes) by offset only. */
static void
offset_mark(const char *buf, size_t len, size_t off, yaml_mark_t *mk)
{
	size_t i;

	mk->line = mk->column = 0;
	for (i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			mk->line++;
			mk->column = 0;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80)
			mk->column++;	/* count characters, as libyaml does */
	}
}

static int
parser_error(struct mparse *mp, yaml_parser_t *yp, const char *buf, size_t len)
{
	yaml_mark_t mk;

	if (yp->error == YAML_MEMORY_ERROR) {
		errno = ENOMEM;
		return -1;
	}
	if (yp->error == YAML_READER_ERROR)
		offset_mark(buf, len, yp->problem_offset, &mk);
	else
		mk = yp->problem_mark;
	return bad_at(mp, &mk, yp->problem ? yp->problem : "unknown YAML error");
}

static int
run(struct mparse *mp, yaml_parser_t *yp, const char *buf, size_t len)
{
	yaml_event_t ev;
	int r = 0, done = 0;

	while (!done && r == 0) {
		if (!yaml_parser_parse(yp, &ev))
			return parser_error(mp, yp, buf, len);
		switch (ev.type) {
		case YAML_DOCUMENT_START_EVENT:
			if (++mp->docs > 1)
				r = bad_at(mp, &ev.start_mark, "more than one document");
			break;
		case YAML_STREAM_END_EVENT:
			if (mp->docs == 0)
				r = bad_at(mp, &ev.start_mark, "empty document: expected a mapping");
			done = 1;
			break;
		case YAML_ALIAS_EVENT:
			r = bad_at(mp, &ev.start_mark, "aliases are not allowed");
			break;
		case YAML_SCALAR_EVENT:
			r = on_scalar(mp, &ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			r = on_start(mp, &ev, ev.type == YAML_MAPPING_START_EVENT);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			json_raw(&mp->out, ev.type == YAML_MAPPING_END_EVENT ? "}" : "]", 1);
			mp->depth--;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (mp->out.nomem) {
			errno = ENOMEM;
			return -1;
		}
	}
	return r;
}

static void
mparse_free(struct mparse *mp)
{
	size_t i;

	for (i = 0; i < mp->keycap; i++)
		free(mp->keys[i].key);
	free(mp->keys);
	free(mp->stack);
	free(mp->topkey);
	json_free(&mp->out);
	for (i = 0; i < mp->env.n; i++)
		free(mp->env.v[i]);
	free(mp->env.v);
}

int
manifest_parse(const char *buf, size_t len, const struct conf_packet *p, struct manifest *m,
    char *reason, size_t reasonlen)
{
	struct mparse mp;
	yaml_parser_t yp;
	size_t i;
	int r, e;

	memset(m, 0, sizeof(*m));
	memset(&mp, 0, sizeof(mp));
	if (reasonlen)
		reason[0] = '\0';
	mp.p = p;
	mp.reason = reason;
	mp.reasonlen = reasonlen;
	json_init(&mp.out);
	if (p->manifest_max_bytes && len > p->manifest_max_bytes) {
		snprintf(reason, reasonlen, "manifest error=\"larger than manifest_max_bytes\" "
		    "size=%zu max=%llu", len, (unsigned long long)p->manifest_max_bytes);
		return MANIFEST_BAD;
	}
	if (!yaml_parser_initialize(&yp)) {
		errno = ENOMEM;
		return -1;
	}
	/* JSON and the environment want UTF-8: a UTF-16 manifest is an error, not a surprise. */
	yaml_parser_set_encoding(&yp, YAML_UTF8_ENCODING);
	yaml_parser_set_input_string(&yp, (const unsigned char *)buf, len);
	r = run(&mp, &yp, buf, len);
	yaml_parser_delete(&yp);
	for (i = 0; r == 0 && i < p->manifest_keys.n; i++) {
		const char *k = p->manifest_keys.v[i];

		if (!key_has(&mp, 1, k, strlen(k))) {
			char q[256];

			snprintf(reason, reasonlen, "manifest missing_key=%s",
			    log_quote(q, sizeof(q), k));
			r = MANIFEST_BAD;
		}
	}
	if (r == 0) {
		json_raw(&mp.out, "\n", 1);
		if ((m->json = json_finish(&mp.out, &m->jsonlen)) == NULL)
			r = -1;
	}
	if (r == 0) {
		m->env = mp.env;
		mp.env.v = NULL;
		mp.env.n = 0;
	}
	e = errno;
	mparse_free(&mp);
	errno = e;
	return r;
}

int
manifest_read_fd(int fd, const struct conf_packet *p, struct manifest *m, char *reason,
    size_t reasonlen)
{
	uint64_t max = p->manifest_max_bytes;
	size_t cap, len = 0;
	struct stat st;
	char *buf;
	ssize_t n;
	int r, e;

	memset(m, 0, sizeof(*m));
	if (fstat(fd, &st) == -1)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		snprintf(reason, reasonlen, "manifest error=\"not a regular file\"");
		return MANIFEST_BAD;
	}
	/* The size decides before a byte is read: a 100 MB manifest costs nothing. */
	if (max && (uint64_t)st.st_size > max) {
		snprintf(reason, reasonlen, "manifest error=\"larger than manifest_max_bytes\" "
		    "size=%lld max=%llu", (long long)st.st_size, (unsigned long long)max);
		return MANIFEST_BAD;
	}
	cap = (size_t)st.st_size + 1;
	if ((buf = malloc(cap)) == NULL)
		return -1;
	for (;;) {
		if (len == cap) {
			/* It grew while we read: read on, up to the limit. */
			char *nb;

			if (max && len > max)
				break;
			if ((nb = realloc(buf, cap * 2)) == NULL) {
				free(buf);
				return -1;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			e = errno;
			free(buf);
			errno = e;
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	r = manifest_parse(buf, len, p, m, reason, reasonlen);
	e = errno;
	free(buf);
	errno = e;
	return r;
}

int
manifest_read(const char *path, const struct conf_packet *p, struct manifest *m, char *reason,
    size_t reasonlen)
{
	int fd, r, e;

	memset(m, 0, sizeof(*m));
	/* O_NONBLOCK: a FIFO planted under the manifest's name must not hang us. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ELOOP) {
			snprintf(reason, reasonlen, "manifest error=\"a symlink, not a regular file\"");
			return MANIFEST_BAD;
		}
		return -1;
	}
	r = manifest_read_fd(fd, p, m, reason, reasonlen);
	e = errno;
	close(fd);
	errno = e;
	return r;
}

void
manifest_free(struct manifest *m)
{
	size_t i;

	free(m->json);
	for (i = 0; i < m->env.n; i++)
		free(m->env.v[i]);
	free(m->env.v);
	memset(m, 0, sizeof(*m));
}
