/*
 * S3 without an SDK: URLs built already canonical for SigV4 (curl 7.88 signs
 * the path and query exactly as given: CURLOPT_AWS_SIGV4 neither sorts nor
 * encodes them), object keys mapped to safe local names, credentials, and
 * the ListObjectsV2 XML parsed with expat, trusting nothing in it.
 */
#ifndef INGESTD_S3_H
#define INGESTD_S3_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "conf.h"

#define S3_KEY_MAX        1024	/* bytes of an object key */
#define S3_ETAG_MAX       128
#define S3_URL_MAX        (4 * S3_KEY_MAX + 512)
#define S3_LOCAL_NAME_MAX 200	/* leaves room for .url, .part, .~N~, .error */
#define S3_PAGE_MAX       10000	/* objects accepted in one listing page */
#define S3_TOKEN_MAX      4096	/* bytes of a continuation token */
/* The payload hash of an empty body, sent as x-amz-content-sha256. */
#define S3_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/*
 * RFC 3986 encoding as SigV4 wants it: A-Z a-z 0-9 - . _ ~ kept, every other
 * byte %XX with uppercase hex; '/' kept when keep_slash (paths). Returns the
 * length, or -1 with ENAMETOOLONG when out (len bytes) is too small.
 */
int  s3_encode(const char *s, int keep_slash, char *out, size_t len);

/* Reverse of s3_encode (any %XX). -1 with EINVAL on a bad escape or %00. */
int  s3_decode(const char *s, char *out, size_t len);

/* ENDPOINT/BUCKET/KEY with the key encoded. 0 or -1 (ENAMETOOLONG). */
int  s3_object_url(const struct conf_source *src, const char *key, char *out, size_t len);

/*
 * A ListObjectsV2 URL whose query is canonical: parameters sorted by name,
 * names and values encoded. token NULL: the first page. 0 or -1.
 */
int  s3_list_url(const struct conf_source *src, const char *token, unsigned max_keys,
    char *out, size_t len);

/*
 * The local name of key, readable and one-to-one: A-Z a-z 0-9 . _ - + = , @
 * and visible UTF-8 characters (letters of any script) stay as they are; '/'
 * becomes U+FF0F FULLWIDTH SOLIDUS; every other byte becomes %XX (a space,
 * '%', '~', controls, invalid UTF-8, invisible or direction-changing marks,
 * U+FF0F itself), and so do a leading '.' and the '.' or '-' of a trailing
 * .url, .part or -downloading, so the name is never hidden, never a URL
 * packet and never ignored. Longer than S3_LOCAL_NAME_MAX: the middle is cut
 * (never inside a character or an escape) and "~" plus 16 hex digits of the
 * key's SHA-256 mark it ('~' never occurs otherwise). 0 or -1 (EINVAL: empty
 * key; ENOMEM: no digest).
 */
int  s3_local_name(const char *key, char *out, size_t len);

/* The key a local name stands for; -1 with EINVAL for a shortened name. */
int  s3_local_key(const char *name, char *out, size_t len);

struct s3_creds {
	char id[256];
	char secret[256];
	char token[4096];	/* session token, "" when none */
};

/*
 * The source's credentials: from its credentials_file (the AWS shared
 * credentials format, [default] profile or the only one), else from
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN. 0, or -1
 * with a reason in err.
 */
int  s3_credentials(const struct conf_source *src, struct s3_creds *cr, char *err,
    size_t errlen);

/*
 * 1 when an S3 error code says the request's credentials were refused
 * (SignatureDoesNotMatch, InvalidAccessKeyId, ExpiredToken, InvalidToken,
 * TokenRefreshRequired, RequestTimeTooSkewed, AccessDenied): a failure of
 * the source's configuration or clock, not of the object, so it may pass.
 */
int  s3_credentials_refused(const char *code);

struct s3_object {
	char     *key;
	char      etag[S3_ETAG_MAX + 1];	/* as sent, quotes included */
	uint64_t  size;
};

struct s3_listing {
	struct s3_object *v;
	size_t            n;
	int               truncated;
	char             *next_token;	/* NULL when none */
};

/*
 * Parse one ListObjectsV2 page. 0, or -1 with a reason in err (malformed,
 * too large, keys too long). l is filled anew; free it with s3_listing_free.
 */
int  s3_parse_listing(const char *xml, size_t len, struct s3_listing *l, char *err,
    size_t errlen);
void s3_listing_free(struct s3_listing *l);

/* <Error><Code>...</Code><Message>...</Message>: fills what it finds ("" else). */
void s3_parse_error(const char *xml, size_t len, char *code, size_t codelen, char *msg,
    size_t msglen);

/*
 * Sign a curl request with SigV4 for src (CURLOPT_AWS_SIGV4, x-amz-content-sha256
 * of the empty body set by us, the session token if any) and send the path
 * as is, so no "." or ".." segment of a key is rewritten. Appends to *hdrs,
 * which the caller sets as CURLOPT_HTTPHEADER and frees. 0 or -1.
 */
int  s3_curl_sign(CURL *h, const struct conf_source *src, const struct s3_creds *cr,
    struct curl_slist **hdrs);

/* The source's identity for its ledger file: 16 hex digits. 0, or -1 (ENOMEM). */
int  s3_source_id(const struct conf_source *src, char out[17]);

/* The source whose endpoint (NULL: any), bucket and prefix match, or NULL. */
const struct conf_source *s3_find_source(const struct conf *c, const char *endpoint,
    const char *bucket, const char *key);

#endif
