#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

void
json_init(struct json *j)
{
	memset(j, 0, sizeof(*j));
}

static int
json_reserve(struct json *j, size_t n)
{
	size_t cap;
	char *nb;

	if (j->nomem)
		return -1;
	if (j->len + n + 1 <= j->cap)
		return 0;
	cap = j->cap ? j->cap : 256;
	while (cap < j->len + n + 1) {
		if (cap > ((size_t)-1) / 2)
			goto nomem;
		cap *= 2;
	}
	if ((nb = realloc(j->buf, cap)) == NULL)
		goto nomem;
	j->buf = nb;
	j->cap = cap;
	return 0;
nomem:
	j->nomem = 1;
	return -1;
}

void
json_raw(struct json *j, const char *s, size_t n)
{
	if (json_reserve(j, n) == -1)
		return;
	memcpy(j->buf + j->len, s, n);
	j->len += n;
}

size_t
utf8_seqlen(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len, i;
	unsigned long cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates and values past U+10FFFF are not UTF-8. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

void
json_string(struct json *j, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	size_t run;

	json_raw(j, "\"", 1);
	while (p < end) {
		/* Copy the longest run that needs no escaping in one go. */
		for (run = 0; p + run < end; run++) {
			unsigned c = p[run];

			if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80)
				break;
		}
		if (run) {
			json_raw(j, (const char *)p, run);
			p += run;
			continue;
		}
		if (*p >= 0x80) {
			size_t l = utf8_seqlen(p, (size_t)(end - p));

			if (l == 0) {
				json_raw(j, "\xef\xbf\xbd", 3);
				p++;
			} else {
				json_raw(j, (const char *)p, l);
				p += l;
			}
			continue;
		}
		switch (*p) {
		case '"':  json_raw(j, "\\\"", 2); break;
		case '\\': json_raw(j, "\\\\", 2); break;
		case '\n': json_raw(j, "\\n", 2); break;
		case '\r': json_raw(j, "\\r", 2); break;
		case '\t': json_raw(j, "\\t", 2); break;
		case '\b': json_raw(j, "\\b", 2); break;
		case '\f': json_raw(j, "\\f", 2); break;
		default: {
			char u[6] = { '\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15] };

			json_raw(j, u, sizeof(u));
		}
		}
		p++;
	}
	json_raw(j, "\"", 1);
}

char *
json_finish(struct json *j, size_t *len)
{
	char *b;

	if (json_reserve(j, 0) == -1) {
		json_free(j);
		errno = ENOMEM;
		return NULL;
	}
	j->buf[j->len] = '\0';
	b = j->buf;
	if (len)
		*len = j->len;
	j->buf = NULL;
	j->len = j->cap = 0;
	return b;
}

void
json_free(struct json *j)
{
	free(j->buf);
	json_init(j);
}
