/*
 * libFuzzer target for the ListObjectsV2 parser, which reads what a bucket
 * server sends. Beyond "no crash, no leak": a parsed page holds only keys of
 * 1 to 1024 bytes without NUL, ETags within bounds, a token when truncated;
 * every key maps to a local name that is a single, visible path component,
 * never a URL packet or a partial download, and that decodes back to the key
 * unless it was shortened; an error is one printable line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "s3.h"

static void
check_name(const char *key)
{
	char name[S3_LOCAL_NAME_MAX + 1], back[S3_KEY_MAX + 1];
	size_t n;

	if (s3_local_name(key, name, sizeof(name)) != 0)
		abort();
	n = strlen(name);
	if (!name_is_valid(name) || n > S3_LOCAL_NAME_MAX || name[0] == '.' ||
	    (n >= 4 && strcmp(name + n - 4, ".url") == 0) ||
	    (n >= 5 && strcmp(name + n - 5, ".part") == 0))
		abort();
	/* Readable, and still the key: a name not shortened decodes back to it. */
	if (strchr(name, '~') == NULL &&
	    (s3_local_key(name, back, sizeof(back)) <= 0 || strcmp(back, key) != 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct s3_listing l;
	char err[256], code[64], msg[128];
	size_t i;

	s3_parse_error((const char *)data, size, code, sizeof(code), msg, sizeof(msg));
	if (s3_parse_listing((const char *)data, size, &l, err, sizeof(err)) == -1) {
		for (i = 0; err[i] != '\0'; i++)
			if ((unsigned char)err[i] < ' ')
				abort();
		if (l.v != NULL || l.n != 0)
			abort();
		return 0;
	}
	if (l.truncated && l.next_token == NULL)
		abort();
	for (i = 0; i < l.n; i++) {
		size_t klen = strlen(l.v[i].key);

		if (klen == 0 || klen > S3_KEY_MAX || strlen(l.v[i].etag) > S3_ETAG_MAX)
			abort();
		check_name(l.v[i].key);
	}
	s3_listing_free(&l);
	return 0;
}
