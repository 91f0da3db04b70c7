#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"

static const char *const placeholder[] = { "name", "path", "dir" };
#define NPLACEHOLDER (sizeof(placeholder) / sizeof(placeholder[0]))

/* The bad placeholder goes into a log line: keep it short and printable. */
static void
describe(char *buf, size_t len, const char *s, size_t n)
{
	size_t i, j = 0;

	for (i = 0; i < n && i < 32 && j + 1 < len; i++)
		buf[j++] = (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"') ? s[i] : '?';
	if (i < n && j + 4 < len) {
		memcpy(buf + j, "...", 3);
		j += 3;
	}
	if (len)
		buf[j] = '\0';
}

/*
 * One pass over t for both jobs: with out == NULL it only checks and
 * measures (*len gets the expanded length without the NUL); with out it also
 * writes. vals == NULL checks syntax only. Returns 0 or -1 with errno EINVAL.
 */
static int
walk(const char *t, const char *const *vals, char *out, size_t *len, char *err,
    size_t errlen)
{
	size_t n = 0, i = 0;

	while (t[i] != '\0') {
		const char *piece;
		size_t plen;

		if ((t[i] == '{' && t[i + 1] == '{') || (t[i] == '}' && t[i + 1] == '}')) {
			piece = t + i;
			plen = 1;
			i += 2;
		} else if (t[i] == '}') {
			snprintf(err, errlen, "single \"}\" at offset %zu (write \"}}\" for a "
			    "literal brace)", i);
			goto fail;
		} else if (t[i] == '{') {
			const char *name = t + i + 1, *end = strchr(name, '}');
			size_t k, nlen;
			char what[48];

			if (end == NULL) {
				snprintf(err, errlen, "unclosed \"{\" at offset %zu (write \"{{\" "
				    "for a literal brace)", i);
				goto fail;
			}
			nlen = (size_t)(end - name);
			for (k = 0; k < NPLACEHOLDER; k++)
				if (strlen(placeholder[k]) == nlen &&
				    memcmp(placeholder[k], name, nlen) == 0)
					break;
			if (k == NPLACEHOLDER) {
				describe(what, sizeof(what), name, nlen);
				snprintf(err, errlen, "unknown placeholder \"{%s}\" (known: {name} "
				    "{path} {dir}; {{ and }} are literal braces)", what);
				goto fail;
			}
			if (vals != NULL && vals[k] == NULL) {
				snprintf(err, errlen, "no value for {%s}", placeholder[k]);
				goto fail;
			}
			piece = vals != NULL ? vals[k] : "";
			plen = strlen(piece);
			i += nlen + 2;
		} else {
			piece = t + i;
			plen = strcspn(piece, "{}");
			i += plen;
		}
		if (plen > SIZE_MAX - 1 - n) {
			snprintf(err, errlen, "expansion too long");
			goto fail;
		}
		if (out != NULL)
			memcpy(out + n, piece, plen);
		n += plen;
	}
	*len = n;
	return 0;
fail:
	errno = EINVAL;
	return -1;
}

int
template_check(const char *tmpl, char *err, size_t errlen)
{
	size_t len;

	return walk(tmpl, NULL, NULL, &len, err, errlen);
}

char *
template_expand(const char *tmpl, const char *name, const char *path,
    const char *dir)
{
	const char *vals[NPLACEHOLDER] = { name, path, dir };
	char err[160], *out;
	size_t len;

	if (walk(tmpl, vals, NULL, &len, err, sizeof(err)) == -1)
		return NULL;
	if ((out = malloc(len + 1)) == NULL)
		return NULL;
	(void)walk(tmpl, vals, out, &len, err, sizeof(err));
	out[len] = '\0';
	return out;
}
