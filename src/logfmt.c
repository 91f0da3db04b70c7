#include <errno.h>
#include <string.h>

#include "json.h"
#include "logfmt.h"

/* What log_quote() leaves bare; keys are made of the same bytes. */
static int
plain(unsigned char c)
{
	return c > ' ' && c < 0x7f && c != '"' && c != '=' && c != '\\';
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void
logfmt_init(struct logfmt *lf, const char *line, size_t len, const char *rest)
{
	memset(lf, 0, sizeof(*lf));
	if (len > 0 && line[len - 1] == '\n')
		len--;
	lf->line = line;
	lf->len = len;
	lf->rest = rest;
}

static int
fail(struct logfmt *lf, size_t at, int e)
{
	lf->pos = at;
	lf->broken = 1;
	errno = e;
	return LOGFMT_ERROR;
}

/*
 * The quoted value whose opening quote is at *at: decoded into out (NULL:
 * only checked), its length into *vlen, *at past the closing quote. 0, or
 * -1 with the offending offset in *at.
 */
static int
unquote(const struct logfmt *lf, size_t *at, char *out, size_t *vlen)
{
	const unsigned char *s = (const unsigned char *)lf->line;
	size_t i = *at + 1, n = 0, k;
	int hi, lo;

	for (;;) {
		unsigned char c;

		if (i >= lf->len)
			goto bad;	/* no closing quote */
		c = s[i];
		if (c == '"')
			break;
		if (c == '\\') {
			if (i + 1 >= lf->len)
				goto bad;
			switch (s[i + 1]) {
			case '"':
			case '\\':
				c = s[i + 1];
				i += 2;
				break;
			case 'n':
				c = '\n';
				i += 2;
				break;
			case 'x':
				if (i + 3 >= lf->len || (hi = hexval(s[i + 2])) < 0 ||
				    (lo = hexval(s[i + 3])) < 0 || (hi | lo) == 0)
					goto bad;
				c = (unsigned char)(hi << 4 | lo);
				i += 4;
				break;
			default:
				goto bad;
			}
			if (out != NULL)
				out[n] = (char)c;
			n++;
			continue;
		}
		if (c < ' ' || c == 0x7f)
			goto bad;
		/* log_quote() keeps valid UTF-8 as is and escapes every other high byte. */
		k = c < 0x80 ? 1 : utf8_seqlen(s + i, lf->len - i);
		if (k == 0)
			goto bad;
		if (out != NULL)
			memcpy(out + n, s + i, k);
		n += k;
		i += k;
	}
	i++;
	if (i < lf->len && s[i] != ' ')
		goto bad;
	if (out != NULL)
		out[n] = '\0';
	*vlen = n;
	*at = i;
	return 0;
bad:
	*at = i;
	return -1;
}

int
logfmt_next(struct logfmt *lf, struct logfmt_pair *kv, char *buf, size_t buflen)
{
	enum { BARE, QUOTED, REST } how;
	const char *s = lf->line;
	size_t i = lf->pos, v, end;

	if (lf->broken)
		return fail(lf, lf->pos, EINVAL);
	memset(kv, 0, sizeof(*kv));
	while (i < lf->len && s[i] == ' ')
		i++;
	if (i >= lf->len) {
		lf->pos = i;
		return LOGFMT_END;
	}
	kv->key = s + i;
	while (i < lf->len && plain((unsigned char)s[i]))
		i++;
	kv->klen = (size_t)(s + i - kv->key);
	if (kv->klen == 0)
		return fail(lf, i, EINVAL);
	if (i >= lf->len || s[i] == ' ') {
		kv->bare = 1;
		if (buf != NULL) {
			if (buflen < 1)
				return fail(lf, i, ERANGE);
			buf[0] = '\0';
			kv->value = buf;
		}
		lf->pos = i;
		return LOGFMT_PAIR;
	}
	if (s[i] != '=')
		return fail(lf, i, EINVAL);
	v = ++i;
	if (lf->rest != NULL && kv->klen == strlen(lf->rest) &&
	    memcmp(kv->key, lf->rest, kv->klen) == 0) {
		how = REST;
		for (end = v; end < lf->len; end++)
			if (s[end] == '\0' || s[end] == '\n')
				return fail(lf, end, EINVAL);
		kv->vlen = lf->len - v;
		lf->pos = lf->len;
	} else if (i < lf->len && s[i] == '"') {
		how = QUOTED;
		end = i;
		if (unquote(lf, &end, NULL, &kv->vlen) == -1)
			return fail(lf, end, EINVAL);
		lf->pos = end;
	} else {
		how = BARE;
		while (i < lf->len && plain((unsigned char)s[i]))
			i++;
		if (i < lf->len && s[i] != ' ')
			return fail(lf, i, EINVAL);	/* '=', '"' or '\\' in a bare value */
		kv->vlen = i - v;
		lf->pos = i;
	}
	if (buf == NULL)
		return LOGFMT_PAIR;
	if (kv->vlen + 1 > buflen)
		return fail(lf, v, ERANGE);
	kv->value = buf;
	if (how == QUOTED) {
		end = v;
		(void)unquote(lf, &end, buf, &kv->vlen);
	} else {
		memcpy(buf, s + v, kv->vlen);
		buf[kv->vlen] = '\0';
	}
	return LOGFMT_PAIR;
}

ssize_t
logfmt_get(const char *line, size_t len, const char *rest, const char *key, char *buf,
    size_t buflen)
{
	struct logfmt lf, at;
	struct logfmt_pair kv;
	size_t klen = strlen(key);
	int rc, found = 0;

	logfmt_init(&lf, line, len, rest);
	memset(&at, 0, sizeof(at));
	for (;;) {
		struct logfmt here = lf;

		if ((rc = logfmt_next(&lf, &kv, NULL, 0)) == LOGFMT_ERROR)
			return -1;
		if (rc == LOGFMT_END)
			break;
		if (kv.klen != klen || memcmp(kv.key, key, klen) != 0)
			continue;
		if (found++) {
			errno = EINVAL;	/* which one would the writer have meant? */
			return -1;
		}
		at = here;
	}
	if (!found) {
		errno = ENOENT;
		return -1;
	}
	if (logfmt_next(&at, &kv, buf, buflen) != LOGFMT_PAIR)
		return -1;
	return (ssize_t)kv.vlen;
}
