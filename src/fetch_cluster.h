/*
 * The cluster side of one fetch (cluster.h): an object of an S3 source in
 * cluster mode is filed only by the host whose marker create wins. The
 * marker is created after the download is verified and fsynced and before
 * it is renamed into the inbox; then the delivery is acked through this
 * host's claim record (claims.h), if it has one.
 */
#ifndef INGESTD_FETCH_CLUSTER_H
#define INGESTD_FETCH_CLUSTER_H

#include "download.h"

/* After the request is read: is this a cluster object? Sets f->clustered, f->cid. */
void fetch_cluster_begin(struct fetch *f);

/*
 * Before the rename: FETCH_OK when the marker is ours (created now or
 * before a crash), FETCH_DUPLICATE when another host's (f->owner), or
 * FETCH_PAUSED when NATS cannot say. Reason set unless FETCH_OK.
 */
enum fetch_result fetch_cluster_mark(struct fetch *f);

/*
 * A fetch that failed (FETCH_BAD, or the last FETCH_TEMP): FETCH_DUPLICATE
 * when another host filed the object meanwhile (it deleted it: a 404), else rc.
 */
enum fetch_result fetch_cluster_failed(struct fetch *f, enum fetch_result rc);

/* The fetch is over with rc: answer the delivery and drop the claim. */
void fetch_cluster_end(struct fetch *f, enum fetch_result rc);

#endif
