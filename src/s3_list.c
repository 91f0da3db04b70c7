/*
 * The ListObjectsV2 XML of an untrusted server, and its error documents.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"

#define XML_DEPTH_MAX 8
#define XML_NAME_MAX  64
#define XML_TEXT_MAX  S3_TOKEN_MAX	/* longest value we keep: tokens, keys (1024 bytes) */

static int
unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '.' || c == '_' || c == '~';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

struct xml {
	const char *p, *end;
	char        stack[XML_DEPTH_MAX][XML_NAME_MAX + 1];
	int         depth;
	char        text[XML_TEXT_MAX + 1];
	size_t      tlen;
	int         overflow;	/* text longer than XML_TEXT_MAX */
	int         nul;	/* text held a NUL (&#0; or a raw one) */
	char       *err;
	size_t      errlen;
};

static int
xml_fail(struct xml *x, const char *what)
{
	snprintf(x->err, x->errlen, "malformed listing: %s at byte %zu", what,
	    (size_t)(x->end - x->p));
	return -1;
}

static void
text_add(struct xml *x, const char *s, size_t n)
{
	if (memchr(s, '\0', n) != NULL)
		x->nul = 1;
	if (x->tlen + n > XML_TEXT_MAX) {
		x->overflow = 1;
		return;
	}
	memcpy(x->text + x->tlen, s, n);
	x->tlen += n;
	x->text[x->tlen] = '\0';
}

static void
text_add_cp(struct xml *x, unsigned long cp)
{
	char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | cp >> 12);
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | cp >> 18);
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	text_add(x, b, n);
}

/* Character data up to the next '<', entities decoded. */
static int
xml_text(struct xml *x)
{
	static const struct { const char *name; char c; } ents[] = {
		{ "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' }, { "quot;", '"' }, { "apos;", '\'' },
	};
	const char *p = x->p;
	size_t i;

	while (p < x->end && *p != '<') {
		const char *amp = memchr(p, '&', (size_t)(x->end - p));
		const char *lt = memchr(p, '<', (size_t)(x->end - p));
		const char *stop = lt != NULL ? lt : x->end;

		if (amp == NULL || amp > stop) {
			text_add(x, p, (size_t)(stop - p));
			p = stop;
			break;
		}
		text_add(x, p, (size_t)(amp - p));
		p = amp + 1;
		for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
			size_t n = strlen(ents[i].name);

			if ((size_t)(x->end - p) >= n && memcmp(p, ents[i].name, n) == 0) {
				text_add(x, &ents[i].c, 1);
				p += n;
				break;
			}
		}
		if (i < sizeof(ents) / sizeof(ents[0]))
			continue;
		if (p < x->end && *p == '#') {
			unsigned long cp = 0;
			int hexa = p + 1 < x->end && p[1] == 'x', digits = 0, d;

			for (p += hexa ? 2 : 1; p < x->end && *p != ';'; p++, digits++) {
				d = hexa ? hexval(*p) : (*p >= '0' && *p <= '9' ? *p - '0' : -1);
				if (d < 0 || digits > 8) {
					x->p = p;
					return xml_fail(x, "bad character reference");
				}
				cp = cp * (hexa ? 16 : 10) + (unsigned long)d;
			}
			if (p >= x->end || digits == 0 || cp > 0x10ffff ||
			    (cp >= 0xd800 && cp <= 0xdfff)) {
				x->p = p;
				return xml_fail(x, "bad character reference");
			}
			if (cp == 0)
				x->nul = 1;
			else
				text_add_cp(x, cp);
			p++;
			continue;
		}
		x->p = p;
		return xml_fail(x, "unknown entity");
	}
	x->p = p;
	return 0;
}

static int
skip_past(struct xml *x, const char *what)
{
	const char *q = memmem(x->p, (size_t)(x->end - x->p), what, strlen(what));

	if (q == NULL)
		return xml_fail(x, "unterminated markup");
	x->p = q + strlen(what);
	return 0;
}

static int
xml_name(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!unreserved((unsigned char)s[i]) && s[i] != ':')
			return 0;
	return 1;
}

static int
is(const struct xml *x, int d, const char *name)
{
	return x->depth > d && strcmp(x->stack[d], name) == 0;
}

/* A leaf element closed: take its text if it is one the listing needs. */
static int
leaf(struct xml *x, struct s3_listing *l, struct s3_object *cur, char *err, size_t errlen)
{
	const char *name = x->stack[x->depth - 1];
	char *end;

	if (!is(x, 0, "ListBucketResult"))
		return 0;
	if (x->depth == 2 && strcmp(name, "IsTruncated") == 0) {
		l->truncated = strcmp(x->text, "true") == 0;
	} else if (x->depth == 2 && strcmp(name, "NextContinuationToken") == 0) {
		if (x->overflow || x->nul || x->tlen == 0) {
			snprintf(err, errlen, "malformed listing: bad NextContinuationToken");
			return -1;
		}
		free(l->next_token);
		if ((l->next_token = strdup(x->text)) == NULL)
			goto nomem;
	} else if (x->depth == 3 && is(x, 1, "Contents")) {
		if (strcmp(name, "Key") == 0) {
			if (x->overflow || x->nul || x->tlen == 0 || x->tlen > S3_KEY_MAX) {
				snprintf(err, errlen, "malformed listing: a key is empty, longer than "
				    "%d bytes or holds a NUL", S3_KEY_MAX);
				return -1;
			}
			free(cur->key);
			if ((cur->key = strdup(x->text)) == NULL)
				goto nomem;
		} else if (strcmp(name, "ETag") == 0) {
			if (x->overflow || x->nul || x->tlen > S3_ETAG_MAX) {
				snprintf(err, errlen, "malformed listing: ETag too long");
				return -1;
			}
			memcpy(cur->etag, x->text, x->tlen + 1);
		} else if (strcmp(name, "Size") == 0) {
			errno = 0;
			cur->size = strtoull(x->text, &end, 10);
			if (x->tlen == 0 || *end != '\0' || errno != 0 || x->text[0] == '-') {
				snprintf(err, errlen, "malformed listing: bad Size");
				return -1;
			}
		}
	}
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

int
s3_parse_listing(const char *xml, size_t len, struct s3_listing *l, char *err, size_t errlen)
{
	struct xml x;
	struct s3_object cur;
	int root_seen = 0;

	memset(l, 0, sizeof(*l));
	memset(&cur, 0, sizeof(cur));
	memset(&x, 0, sizeof(x));
	x.p = xml;
	x.end = xml + len;
	x.err = err;
	x.errlen = errlen;
	while (x.p < x.end) {
		if (*x.p != '<') {
			if (xml_text(&x) == -1)
				goto fail;
			if (x.depth == 0 && x.tlen > 0 && strspn(x.text, " \t\r\n") != x.tlen) {
				xml_fail(&x, "text outside the document");
				goto fail;
			}
			continue;
		}
		if (x.end - x.p >= 2 && x.p[1] == '?') {
			if (skip_past(&x, "?>") == -1)
				goto fail;
		} else if (x.end - x.p >= 4 && memcmp(x.p, "<!--", 4) == 0) {
			if (skip_past(&x, "-->") == -1)
				goto fail;
		} else if (x.end - x.p >= 9 && memcmp(x.p, "<![CDATA[", 9) == 0) {
			const char *s = x.p + 9;

			if (skip_past(&x, "]]>") == -1)
				goto fail;
			text_add(&x, s, (size_t)(x.p - 3 - s));
		} else if (x.end - x.p >= 2 && x.p[1] == '!') {
			/* A DTD could declare entities: nothing here needs one. */
			xml_fail(&x, "DTDs are not accepted");
			goto fail;
		} else if (x.end - x.p >= 2 && x.p[1] == '/') {
			const char *n = x.p + 2, *gt = memchr(n, '>', (size_t)(x.end - n));
			size_t nl;

			if (gt == NULL || x.depth == 0) {
				xml_fail(&x, "unexpected end tag");
				goto fail;
			}
			nl = (size_t)(gt - n);
			while (nl > 0 && strchr(" \t\r\n", n[nl - 1]) != NULL)
				nl--;
			if (nl != strlen(x.stack[x.depth - 1]) ||
			    memcmp(n, x.stack[x.depth - 1], nl) != 0) {
				xml_fail(&x, "mismatched end tag");
				goto fail;
			}
			if (leaf(&x, l, &cur, err, errlen) == -1)
				goto fail;
			if (x.depth == 2 && is(&x, 1, "Contents") && is(&x, 0, "ListBucketResult")) {
				struct s3_object *v;

				if (cur.key == NULL) {
					snprintf(err, errlen, "malformed listing: Contents without a Key");
					goto fail;
				}
				if (l->n >= S3_PAGE_MAX) {
					snprintf(err, errlen, "listing page with more than %d objects",
					    S3_PAGE_MAX);
					goto fail;
				}
				if ((v = reallocarray(l->v, l->n + 1, sizeof(*v))) == NULL) {
					snprintf(err, errlen, "out of memory");
					goto fail;
				}
				l->v = v;
				l->v[l->n++] = cur;
				memset(&cur, 0, sizeof(cur));
			}
			x.depth--;
			x.tlen = 0;
			x.text[0] = '\0';
			x.overflow = x.nul = 0;
			x.p = gt + 1;
		} else {
			const char *n = x.p + 1, *q = n;
			int self = 0;
			char quote = 0;

			while (q < x.end && strchr(" \t\r\n/>", *q) == NULL)
				q++;
			/* S3 uses plain ASCII names; anything else is not a listing. */
			if (q == n || q - n > XML_NAME_MAX || !xml_name(n, (size_t)(q - n))) {
				xml_fail(&x, "bad element name");
				goto fail;
			}
			if (x.depth >= XML_DEPTH_MAX) {
				xml_fail(&x, "nested too deep");
				goto fail;
			}
			if (x.depth == 0 && root_seen) {
				xml_fail(&x, "more than one root element");
				goto fail;
			}
			root_seen = 1;
			memcpy(x.stack[x.depth], n, (size_t)(q - n));
			x.stack[x.depth][q - n] = '\0';
			for (; q < x.end; q++) {
				if (quote) {
					if (*q == quote)
						quote = 0;
				} else if (*q == '"' || *q == '\'') {
					quote = *q;
				} else if (*q == '>') {
					break;
				}
			}
			if (q >= x.end) {
				xml_fail(&x, "unterminated tag");
				goto fail;
			}
			self = q[-1] == '/';
			x.depth++;
			x.tlen = 0;
			x.text[0] = '\0';
			x.overflow = x.nul = 0;
			x.p = q + 1;
			if (self) {
				if (leaf(&x, l, &cur, err, errlen) == -1)
					goto fail;
				x.depth--;
			}
		}
	}
	if (x.depth != 0 || !root_seen) {
		xml_fail(&x, "truncated document");
		goto fail;
	}
	if (strcmp(x.stack[0], "ListBucketResult") != 0) {
		snprintf(err, errlen, "not a listing: root element <%s>", x.stack[0]);
		goto fail;
	}
	if (l->truncated && l->next_token == NULL) {
		snprintf(err, errlen, "malformed listing: IsTruncated without NextContinuationToken");
		goto fail;
	}
	return 0;
fail:
	free(cur.key);
	s3_listing_free(l);
	return -1;
}

void
s3_listing_free(struct s3_listing *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].key);
	free(l->v);
	free(l->next_token);
	memset(l, 0, sizeof(*l));
}

/* Text of the first <tag>...</tag> in xml, cut to len and made printable. */
static void
find_tag(const char *xml, size_t xlen, const char *tag, char *out, size_t len)
{
	char open[40], close[40];
	const char *a, *b;
	size_t n, i;

	out[0] = '\0';
	if (len == 0)
		return;
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	if ((a = memmem(xml, xlen, open, strlen(open))) == NULL)
		return;
	a += strlen(open);
	if ((b = memmem(a, xlen - (size_t)(a - xml), close, strlen(close))) == NULL)
		return;
	n = (size_t)(b - a) < len - 1 ? (size_t)(b - a) : len - 1;
	for (i = 0; i < n; i++)
		out[i] = (unsigned char)a[i] < ' ' || a[i] == 0x7f ? ' ' : a[i];
	out[n] = '\0';
}

void
s3_parse_error(const char *xml, size_t len, char *code, size_t codelen, char *msg,
    size_t msglen)
{
	find_tag(xml, len, "Code", code, codelen);
	find_tag(xml, len, "Message", msg, msglen);
}

