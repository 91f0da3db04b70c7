/*
 * This host's cluster claims, SPOOL/remote/claims/NAME.url: one small file
 * per object the S3 source pulled from the work stream, holding the ack
 * subject of its delivery and its id:
 *
 *   reply=SUBJECT
 *   id=BUCKET/KEY@ETAG
 *
 * The source writes it before the request file inbox/NAME.url and renews
 * the lease of every claim it finds here; the worker that finishes the
 * request acks through it and removes it. It decides nothing: a lost claim
 * costs an ack (the message comes back and finds the marker), never a
 * filing, so it is not fsynced.
 */
#ifndef INGESTD_CLAIMS_H
#define INGESTD_CLAIMS_H

#include <stddef.h>

#include "cluster.h"
#include "spool.h"

#define CLAIMS_DIR "claims"	/* under SPOOL/remote */

/* Create SPOOL/remote/claims if needed and open it. fd, or -1 with errno. */
int claims_open(const struct spool *s);

/* Write (or replace) the claim of the request name. 0 or -1 with errno. */
int claim_write(int cfd, const char *name, const char *reply, const char *id);

/* Read the claim of name. 0, or -1 with errno (ENOENT: none; EINVAL: damaged). */
int claim_read(int cfd, const char *name, char reply[CLUSTER_REPLY_MAX],
    char id[CLUSTER_ID_MAX]);

/* Remove it. 0 or -1 with errno (ENOENT: there was none). */
int claim_drop(int cfd, const char *name);

/* How many claims there are; names (when not NULL) gets them, malloc'd. -1 on error. */
int claims_list(int cfd, char ***names);

void claims_free(char **names, int n);

#endif
