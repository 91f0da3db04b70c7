/*
 * The body of a work message, one object of a bucket's listing:
 *
 *   bucket=BUCKET
 *   key=KEY        percent-encoded (s3_encode, '/' kept)
 *   etag=ETAG      as listed, "" when the listing had none
 *   size=N
 *
 * Any host may have published it, so the parser trusts nothing in it.
 */
#ifndef INGESTD_CLUSTER_MSG_H
#define INGESTD_CLUSTER_MSG_H

#include <stddef.h>
#include <stdint.h>

#define CLUSTER_MSG_MAX  (4 * 1024 + 512)

struct cluster_msg {
	char      bucket[256];
	char      key[1024 + 1];	/* decoded */
	char      etag[130];
	uint64_t  size;
};

/* Write the body into out. Its length, or -1 (ENAMETOOLONG). */
int cluster_msg_format(char *out, size_t len, const char *bucket, const char *key,
    const char *etag, uint64_t size);

/* Parse a body: every line known, once, and well formed. 0 or -1 (EINVAL). */
int cluster_msg_parse(const char *data, size_t len, struct cluster_msg *m);

#endif
