/*
 * Several hosts draining one bucket through NATS JetStream (cluster: in the
 * config). One connection per process that needs it: the S3 source publishes
 * what it lists and claims work; a worker creates the marker that commits a
 * download and acks it. The objects, created if missing by whichever host
 * comes first:
 *
 *   stream NAME          subjects NAME.work.SID, work-queue retention, file
 *                        storage, cluster.replicas, duplicates window
 *   consumer NAME-SID    durable pull consumer of one source (SID: 16 hex of
 *                        sha256("BUCKET\nPREFIX")): ack wait = cluster.lease,
 *                        MaxDeliver = cluster.max_deliver
 *   KV bucket NAME-filed the markers: key sha256(ID), value "node=N name=STEM",
 *                        created only if absent; the commit point of a filing
 *
 * ID is BUCKET/KEY@ETAG, the message id that deduplicates publishes.
 * Delivery is at least once and a late ack is still accepted
 * (nats-server#4786), so an ack never decides anything: the marker does.
 */
#ifndef INGESTD_CLUSTER_H
#define INGESTD_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

#define CLUSTER_ID_MAX     (256 + 3 * 1024 + 130)	/* BUCKET/KEY@ETAG */
#define CLUSTER_REPLY_MAX  256
#define CLUSTER_NODE_MAX   65

struct cluster;

/*
 * Start connecting to c->cluster.nats (in the background: servers that are
 * down are retried for ever). role names the connection on the server.
 * NULL with errno when the options are refused (a bad credentials file).
 */
struct cluster *cluster_open(const struct conf *c, const char *role, char *err, size_t errlen);
void            cluster_close(struct cluster *cl);

/* 1 when connected (url: the server, may be NULL), else 0. */
int  cluster_connected(struct cluster *cl, char *url, size_t len);

/* This host's node id: cluster.node, or the host name. */
const char *cluster_node(const struct cluster *cl);

/*
 * The stream, src's consumer and the markers' bucket exist and are bound.
 * 0 or -1; on 0, err is "" or a warning (an existing stream or consumer
 * that could not take this config's settings, used as it is).
 */
int  cluster_setup_source(struct cluster *cl, const struct conf_source *src, char *err,
    size_t errlen);

/* 1 when a source has delete: never: its objects stay listed, markers never expire. */
int  cluster_keeps_objects(const struct conf *c);

/* The stream's duplicates window: 2 minutes, or twice the longest source poll. */
uint64_t cluster_window_ms(const struct conf *c);

/* The markers' bucket is bound (creating it if missing). 0 or -1. */
int  cluster_setup_markers(struct cluster *cl, char *err, size_t errlen);

/* BUCKET/KEY@ETAG (quotes around the ETag dropped). -1: too long. */
int  cluster_id(const char *bucket, const char *key, const char *etag, char *out, size_t len);

enum cluster_pub {
	CLUSTER_PUBLISHED,	/* in the stream */
	CLUSTER_DUPLICATE,	/* another host published it within the window */
	CLUSTER_PUB_ERROR	/* not stored: err says why */
};

/* Publish one listed object of the source set up last. */
enum cluster_pub cluster_publish(struct cluster *cl, const char *id, const char *key,
    const char *etag, uint64_t size, char *err, size_t errlen);

/* One claimed message, as cluster_claim hands it over. */
struct cluster_claim {
	char      id[CLUSTER_ID_MAX];
	char      key[1024 + 1];
	char      etag[130];
	uint64_t  size;
	char      reply[CLUSTER_REPLY_MAX];	/* the ack subject of this delivery */
	uint64_t  delivered;			/* 1 the first time */
};

/*
 * Pull up to max messages, waiting at most wait_ms; cb is called for each
 * (a message whose body is not ours is terminated and skipped). Returns how
 * many were handed to cb, or -1 (err) when the pull failed.
 */
int  cluster_claim(struct cluster *cl, int max, int64_t wait_ms,
    void (*cb)(void *arg, const struct cluster_claim *m), void *arg, char *err, size_t errlen);

/* Answer a delivery: "+ACK", "+WPI" (renew the lease), "+NAK", "+TERM". 0 or -1. */
int  cluster_reply(struct cluster *cl, const char *reply, const char *what);

enum cluster_marker {
	MARKER_OURS,	/* created now, or ours from before (same node and name) */
	MARKER_THEIRS,	/* another node (or name) holds it: owner says which */
	MARKER_ABSENT,	/* cluster_marker_get only: nobody has filed it */
	MARKER_ERROR	/* NATS could not answer: try again later */
};

/* Create the marker of id for (this node, name) only if absent. */
enum cluster_marker cluster_mark(struct cluster *cl, const char *id, const char *name,
    char *owner, size_t olen);

/* Who holds the marker of id, without creating it. */
enum cluster_marker cluster_marker_get(struct cluster *cl, const char *id, const char *name,
    char *owner, size_t olen);

/* The source's consumer: messages not yet delivered and deliveries not yet acked. */
int  cluster_pending(struct cluster *cl, uint64_t *pending, uint64_t *unacked);

#endif
