/*
 * A small JSON writer into a growing buffer. It only builds text; callers
 * emit the structure. Strings are escaped per RFC 8259 and always come out as
 * valid UTF-8: a byte sequence that is not UTF-8 becomes U+FFFD.
 */
#ifndef INGESTD_JSON_H
#define INGESTD_JSON_H

#include <stddef.h>

struct json {
	char   *buf;
	size_t  len;
	size_t  cap;
	int     nomem;	/* an allocation failed: the text is incomplete */
};

void  json_init(struct json *j);
/* Append n bytes as they are (punctuation, numbers). */
void  json_raw(struct json *j, const char *s, size_t n);
/* Append s[0..n) as a quoted, escaped JSON string. */
void  json_string(struct json *j, const char *s, size_t n);
/* The NUL-terminated text, now owned by the caller; NULL and ENOMEM if any append failed. */
char *json_finish(struct json *j, size_t *len);
void  json_free(struct json *j);

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if none starts there. */
size_t utf8_seqlen(const unsigned char *s, size_t n);

#endif
