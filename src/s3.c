/*
 * S3 names and requests: RFC 3986 encoding, object and listing URLs, local
 * names of keys, SigV4 signing through curl, and which source a request
 * belongs to. Credentials are in s3_creds.c, the listing parser in s3_list.c.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"
#include "digest.h"
#include "json.h"

static int
unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '.' || c == '_' || c == '~';
}

int
s3_encode(const char *s, int keep_slash, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (unreserved(c) || (keep_slash && c == '/')) {
			if (n + 1 >= len)
				goto toolong;
			out[n++] = (char)c;
		} else {
			if (n + 3 >= len)
				goto toolong;
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	if (n >= len)
		goto toolong;
	out[n] = '\0';
	return (int)n;
toolong:
	errno = ENAMETOOLONG;
	return -1;
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

int
s3_decode(const char *s, char *out, size_t len)
{
	size_t n = 0;
	int hi, lo;

	for (; *s != '\0'; s++) {
		char c = *s;

		if (c == '%') {
			if ((hi = hexval(s[1])) < 0 || (lo = hexval(s[2])) < 0 || (hi | lo) == 0) {
				errno = EINVAL;
				return -1;
			}
			c = (char)(hi << 4 | lo);
			s += 2;
		}
		if (n + 1 >= len) {
			errno = ENAMETOOLONG;
			return -1;
		}
		out[n++] = c;
	}
	out[n] = '\0';
	return (int)n;
}

/* The endpoint without a trailing '/'. */
static size_t
endpoint_len(const char *ep)
{
	size_t n = strlen(ep);

	while (n > 0 && ep[n - 1] == '/')
		n--;
	return n;
}

int
s3_object_url(const struct conf_source *src, const char *key, char *out, size_t len)
{
	char enc[3 * S3_KEY_MAX + 1];
	int n;

	if (strlen(key) > S3_KEY_MAX || s3_encode(key, 1, enc, sizeof(enc)) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	n = snprintf(out, len, "%.*s/%s/%s", (int)endpoint_len(src->endpoint), src->endpoint,
	    src->bucket, enc);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
s3_list_url(const struct conf_source *src, const char *token, unsigned max_keys, char *out,
    size_t len)
{
	char etok[3 * S3_TOKEN_MAX + 1] = "", epre[3 * S3_KEY_MAX + 1] = "";
	int n;

	/* Sorted by name: continuation-token < list-type < max-keys < prefix. */
	if ((token != NULL && s3_encode(token, 0, etok, sizeof(etok)) == -1) ||
	    (src->prefix != NULL && s3_encode(src->prefix, 0, epre, sizeof(epre)) == -1))
		return -1;
	n = snprintf(out, len, "%.*s/%s?%s%s%slist-type=2&max-keys=%u%s%s",
	    (int)endpoint_len(src->endpoint), src->endpoint, src->bucket,
	    token != NULL ? "continuation-token=" : "", etok, token != NULL ? "&" : "",
	    max_keys, epre[0] != '\0' ? "&prefix=" : "", epre);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int
name_safe(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '.' || c == '_' || c == '-' || c == '+' || c == '=' || c == ',' || c == '@';
}

static int
ends_with(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);

	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* What stands for '/' in a local name: U+FF0F FULLWIDTH SOLIDUS, as rclone maps it. */
#define NAME_SLASH     "\xEF\xBC\x8F"
#define NAME_SLASH_LEN 3

/*
 * The length of the well-formed UTF-8 sequence at s (n bytes left) when it
 * is a visible character a name may keep as it is, else 0. Left out, so
 * escaped: controls (C1 too), spaces of every width, the soft hyphen, the
 * invisible and direction-changing marks (a name must show the extension it
 * has), variation selectors, tags, private use, noncharacters, and
 * NAME_SLASH itself.
 */
static size_t
utf8_visible(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if ((len = utf8_seqlen(s, n)) < 2)
		return 0;
	cp = s[0] & (0x7Fu >> len);
	for (i = 1; i < len; i++)
		cp = (cp << 6) | (s[i] & 0x3Fu);
	if (cp <= 0xA0 || cp == 0xAD || cp == 0x34F || cp == 0x61C || cp == 0x115F ||
	    cp == 0x1160 || cp == 0x17B4 || cp == 0x17B5 || (cp >= 0x180B && cp <= 0x180F) ||
	    (cp >= 0x2000 && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F) ||
	    (cp >= 0x205F && cp <= 0x206F) || cp == 0x3000 || cp == 0x3164 ||
	    (cp >= 0xE000 && cp <= 0xF8FF) || (cp >= 0xFDD0 && cp <= 0xFDEF) ||
	    (cp >= 0xFE00 && cp <= 0xFE0F) || cp == 0xFEFF || cp == 0xFF0F || cp == 0xFFA0 ||
	    (cp & 0xFFFE) == 0xFFFE || (cp >= 0xFFF0 && cp <= 0xFFFF) ||
	    (cp >= 0xE0000 && cp <= 0xE0FFF) || cp >= 0xF0000)
		return 0;
	return len;
}

int
s3_local_name(const char *key, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	static const char *const suffixes[] = { ".url", ".part", "-downloading" };
	char esc[3 * S3_KEY_MAX + 1], digest[DIGEST_SHA256_HEX], extbuf[17];
	size_t klen = strlen(key), n = 0, i, force = (size_t)-1, cut, extlen = 0, u;
	const char *ext = "";

	if (klen == 0 || klen > S3_KEY_MAX) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (ends_with(key, klen, suffixes[i]))
			force = klen - strlen(suffixes[i]);
	for (i = 0; i < klen; i++) {
		unsigned char c = (unsigned char)key[i];

		if (name_safe(c) && !(i == 0 && c == '.') && i != force) {
			esc[n++] = (char)c;
		} else if (c == '/') {
			memcpy(esc + n, NAME_SLASH, NAME_SLASH_LEN);
			n += NAME_SLASH_LEN;
		} else if (c >= 0x80 && (u = utf8_visible((const unsigned char *)key + i,
		    klen - i)) > 0) {
			memcpy(esc + n, key + i, u);
			n += u;
			i += u - 1;
		} else {
			esc[n++] = '%';
			esc[n++] = hex[c >> 4];
			esc[n++] = hex[c & 15];
		}
	}
	esc[n] = '\0';
	if (n > S3_LOCAL_NAME_MAX) {
		/* Keep the extension: the handler may go by it. */
		const char *dot = strrchr(esc, '.');

		if (dot != NULL && dot != esc && strlen(dot) <= 16) {
			memcpy(extbuf, dot, strlen(dot) + 1);
			ext = extbuf;
			extlen = strlen(dot);
		}
		cut = S3_LOCAL_NAME_MAX - 17 - extlen;
		/* Never cut an escape or a character in half. */
		if (esc[cut - 1] == '%')
			cut -= 1;
		else if (esc[cut - 2] == '%')
			cut -= 2;
		while (cut > 0 && ((unsigned char)esc[cut] & 0xC0) == 0x80)
			cut--;
		if (digest_sha256_hex(key, klen, digest) == NULL)
			return -1;	/* errno ENOMEM: no name rather than a colliding one */
		n = (size_t)snprintf(esc + cut, sizeof(esc) - cut, "~%.16s%s", digest, ext) + cut;
	}
	if (n + 1 > len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(out, esc, n + 1);
	return 0;
}

int
s3_local_key(const char *name, char *out, size_t len)
{
	char plain[3 * S3_KEY_MAX + 1];
	size_t i, n = 0, nlen = strlen(name);

	if (strchr(name, '~') != NULL || nlen >= sizeof(plain)) {
		errno = EINVAL;	/* a shortened name: its key is not in it */
		return -1;
	}
	for (i = 0; i < nlen; i++) {
		if (strncmp(name + i, NAME_SLASH, NAME_SLASH_LEN) == 0) {
			plain[n++] = '/';
			i += NAME_SLASH_LEN - 1;
		} else {
			plain[n++] = name[i];
		}
	}
	plain[n] = '\0';
	return s3_decode(plain, out, len);
}

int
s3_source_id(const struct conf_source *src, char out[17])
{
	struct digest ctx;
	char hex[DIGEST_SHA256_HEX] = "";
	const char *pre = src->prefix != NULL ? src->prefix : "";

	if (digest_sha256_init(&ctx) == -1 ||
	    digest_update(&ctx, src->endpoint, endpoint_len(src->endpoint)) == -1 ||
	    digest_update(&ctx, "\n", 1) == -1 ||
	    digest_update(&ctx, src->bucket, strlen(src->bucket)) == -1 ||
	    digest_update(&ctx, "\n", 1) == -1 ||
	    digest_update(&ctx, pre, strlen(pre)) == -1 ||
	    digest_final_hex(&ctx, hex) == -1) {
		digest_free(&ctx);
		return -1;
	}
	memcpy(out, hex, 16);
	out[16] = '\0';
	return 0;
}

const struct conf_source *
s3_find_source(const struct conf *c, const char *endpoint, const char *bucket, const char *key)
{
	size_t i;

	for (i = 0; i < c->sources.n; i++) {
		const struct conf_source *src = &c->sources.v[i];
		const char *pre = src->prefix != NULL ? src->prefix : "";

		if (strcmp(src->bucket, bucket) != 0 || strncmp(key, pre, strlen(pre)) != 0)
			continue;
		if (endpoint != NULL && (endpoint_len(endpoint) != endpoint_len(src->endpoint) ||
		    strncmp(endpoint, src->endpoint, endpoint_len(endpoint)) != 0))
			continue;
		return src;
	}
	return NULL;
}

int
s3_curl_sign(CURL *h, const struct conf_source *src, const struct s3_creds *cr,
    struct curl_slist **hdrs)
{
	char prov[128], tok[sizeof(cr->token) + 32];
	struct curl_slist *l;

	snprintf(prov, sizeof(prov), "aws:amz:%s:s3", src->region);
	if (curl_easy_setopt(h, CURLOPT_AWS_SIGV4, prov) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_USERNAME, cr->id) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PASSWORD, cr->secret) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L) != CURLE_OK)
		return -1;
	if ((l = curl_slist_append(*hdrs, "x-amz-content-sha256: " S3_EMPTY_SHA256)) == NULL)
		return -1;
	*hdrs = l;
	if (cr->token[0] != '\0') {
		snprintf(tok, sizeof(tok), "x-amz-security-token: %s", cr->token);
		if ((l = curl_slist_append(*hdrs, tok)) == NULL)
			return -1;
		*hdrs = l;
	}
	return 0;
}
