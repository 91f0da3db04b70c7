/*
 * Where a downloaded packet came from, for its handler: SPOOL/remote/origin/
 * NAME, written by the fetch just before it renames NAME into the inbox and
 * read by the worker that runs NAME's handler, which passes it on as
 *
 *   INGEST_SOURCE     s3, url, or inbox (dropped in by a producer)
 *   INGEST_S3_BUCKET, INGEST_S3_KEY, INGEST_S3_ETAG   (s3)
 *   INGEST_URL        (url, without any password)
 *
 * The record names the inode it was written for: a producer's file of the
 * same name, dropped in later, is not taken for the download. Removed when
 * the packet is filed. The directory is the daemon's: producers cannot
 * write there.
 */
#ifndef INGESTD_ORIGIN_H
#define INGESTD_ORIGIN_H

#include <sys/types.h>

#include "s3.h"
#include "spool.h"
#include "strv.h"

struct origin {
	char  source[8];	/* "s3", "url" */
	char  bucket[256];
	char  key[1024 + 1];
	char  etag[130];
	char  url[S3_URL_MAX];
};

/* Record o for the file of inode ino that is about to be NAME. 0 or -1 with errno. */
int  origin_write(const struct spool *s, const char *name, ino_t ino, const struct origin *o);

/* Push the INGEST_SOURCE... variables of the packet NAME at path onto env. */
void origin_env(const struct spool *s, const char *name, const char *path, struct strv *env);

/* The packet NAME is filed: forget its origin. */
void origin_drop(const struct spool *s, const char *name);

#endif
