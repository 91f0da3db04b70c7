/*
 * libFuzzer target for the manifest reader: YAML bytes in, and then either a
 * reason starting "manifest " or JSON that a strict checker accepts (valid
 * UTF-8, escapes, structure) with INGEST_META_ names in [A-Z0-9_].
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "manifest.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s\n", #c); abort(); } } while (0)

struct cur {
	const unsigned char *p, *end;
};

static int json_value(struct cur *c, int depth);

static int
json_string_ok(struct cur *c)
{
	if (c->p >= c->end || *c->p != '"')
		return 0;
	for (c->p++; c->p < c->end; ) {
		unsigned ch = *c->p;
		size_t l;

		if (ch == '"') {
			c->p++;
			return 1;
		}
		if (ch < 0x20)
			return 0;
		if (ch == '\\') {
			if (c->end - c->p < 2)
				return 0;
			switch (c->p[1]) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				c->p += 2;
				continue;
			case 'u':
				if (c->end - c->p < 6)
					return 0;
				for (l = 2; l < 6; l++)
					if (!strchr("0123456789abcdefABCDEF", c->p[l]) || c->p[l] == 0)
						return 0;
				c->p += 6;
				continue;
			default:
				return 0;
			}
		}
		if ((l = utf8_seqlen(c->p, (size_t)(c->end - c->p))) == 0)
			return 0;
		c->p += l;
	}
	return 0;
}

static int
json_members(struct cur *c, int depth, char close, int keyed)
{
	c->p++;
	if (c->p < c->end && *c->p == close) {
		c->p++;
		return 1;
	}
	for (;;) {
		if (keyed && (!json_string_ok(c) || c->p >= c->end || *c->p++ != ':'))
			return 0;
		if (!json_value(c, depth + 1) || c->p >= c->end)
			return 0;
		if (*c->p == close) {
			c->p++;
			return 1;
		}
		if (*c->p++ != ',')
			return 0;
	}
}

static int
json_value(struct cur *c, int depth)
{
	if (depth > 200 || c->p >= c->end)
		return 0;
	switch (*c->p) {
	case '"':
		return json_string_ok(c);
	case '[':
		return json_members(c, depth, ']', 0);
	case '{':
		return json_members(c, depth, '}', 1);
	default:
		return 0;	/* we only ever write strings, lists and mappings */
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *keys[] = { "device_id", NULL };
	struct conf_packet p;
	struct manifest m;
	char reason[2048];
	struct cur c;
	size_t i, k;
	int r;

	log_init("fuzz", -2);
	memset(&p, 0, sizeof(p));
	p.manifest_max_bytes = 1 << 20;
	p.manifest_max_depth = 64;
	p.manifest_max_nodes = 100000;
	/* Half the inputs also need a key, so that path runs too. */
	p.manifest_keys.v = keys;
	p.manifest_keys.n = size & 1;

	r = manifest_parse((const char *)data, size, &p, &m, reason, sizeof(reason));
	if (r == MANIFEST_BAD) {
		CHECK(strncmp(reason, "manifest ", 9) == 0);
		CHECK(m.json == NULL && m.env.n == 0);
		return 0;
	}
	if (r == -1) {
		CHECK(errno == ENOMEM);
		return 0;
	}
	CHECK(r == 0);
	CHECK(m.json != NULL && m.jsonlen == strlen(m.json));
	CHECK(m.jsonlen >= 3 && m.json[0] == '{' && m.json[m.jsonlen - 1] == '\n');
	c.p = (const unsigned char *)m.json;
	c.end = c.p + m.jsonlen - 1;
	CHECK(json_value(&c, 0) && c.p == c.end);
	for (i = 0; i < m.env.n; i++) {
		const char *s = m.env.v[i], *eq = strchr(s, '=');

		CHECK(strncmp(s, "INGEST_META_", 12) == 0 && eq != NULL && eq > s + 12);
		for (k = 12; s + k < eq; k++)
			CHECK((s[k] >= 'A' && s[k] <= 'Z') || (s[k] >= '0' && s[k] <= '9') ||
			    s[k] == '_');
		CHECK(strlen(eq + 1) <= MANIFEST_ENV_VALUE_MAX);
	}
	CHECK(m.env.v == NULL || m.env.v[m.env.n] == NULL);
	manifest_free(&m);
	return 0;
}
