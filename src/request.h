/*
 * The request file of a URL packet, inbox/NAME.url: one http(s) URL, or an
 * s3://BUCKET/KEY line (KEY percent-encoded as a path) written by an S3
 * source, and optional lines
 *
 *   sha256=HEX      the digest the download must have
 *   size=N          the size it must have
 *   etag=ETAG       S3: the version listed (If-Match, conditional delete)
 *   endpoint=URL    S3: which source's endpoint
 *
 * Blank lines and '#' comments are ignored; anything else is refused. The
 * file comes from a producer: it is read with a size cap and trusted in
 * nothing.
 */
#ifndef INGESTD_REQUEST_H
#define INGESTD_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "s3.h"
#include "digest.h"

struct request {
	char  url[S3_URL_MAX];		/* what is fetched */
	char  shown[S3_URL_MAX];	/* for reasons: as written, no password */
	const struct conf_source *src;	/* S3: sign with this source */
	char  key[S3_KEY_MAX + 1];
	char  etag[S3_ETAG_MAX + 1];	/* S3: the listed version */
	char  sha256[DIGEST_SHA256_HEX];	/* "" when not given */
	long long size;			/* -1 when not given */
};

enum request_result {
	REQUEST_OK = 0,
	REQUEST_BAD,	/* the file is at fault: reason says what and on which line */
	REQUEST_TEMP	/* it could not be read (errno in reason): try again later */
};

/* Read and check the request file at path (r is filled anew). */
enum request_result request_read(struct request *r, const struct conf *c, const char *path,
    char *reason, size_t reasonlen);

enum request_write_result {
	REQUEST_WRITTEN,	/* inbox/NAME.url is there */
	REQUEST_TAKEN,		/* a request of that name is already there */
	REQUEST_WRITE_ERROR	/* errno says why */
};

/*
 * Write the request of an S3 object as inbox/NAME.url (through a hidden
 * temporary name, renamed in without replacing anything).
 */
enum request_write_result request_write(int inboxfd, const char *name,
    const struct conf_source *src, const char *key, const char *etag, uint64_t size);

#endif
