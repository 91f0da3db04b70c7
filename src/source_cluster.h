/*
 * An S3 source in cluster mode (cluster.h): what it lists goes into the work
 * stream instead of the inbox, and what it claims from the stream becomes
 * inbox/NAME.url with a claim record (claims.h) beside it. It also renews
 * the leases of its claims and writes SPOOL/remote/cluster.state for status
 * and the metrics (cluster_state.h).
 */
#ifndef INGESTD_SOURCE_CLUSTER_H
#define INGESTD_SOURCE_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "s3.h"
#include "spool.h"

struct scl;

/* Start connecting. NULL (err says why) when the options are refused. */
struct scl *scl_open(const struct conf *c, const struct spool *s, size_t idx, char *err,
    size_t errlen);

/*
 * 1 when connected and the stream, consumer and markers are set up: the
 * source may list and claim. Logs each change of state once.
 */
int  scl_ready(struct scl *sc);

/* Publish one listed object. 0, or -1 (logged). */
int  scl_offer(struct scl *sc, const struct s3_object *obj);

/*
 * How many messages of the work stream no host has been sent yet; 0 when
 * that cannot be read now (the caller then lists, as with no backlog).
 */
uint64_t scl_backlog(struct scl *sc);

/*
 * Claim what free slots allow, waiting up to wait_ms for work. A delivery
 * whose request a job of this host holds already (is_held(arg, stem))
 * only moves the claim to that delivery: one host never runs two
 * jobs for one object.
 */
void scl_claim(struct scl *sc, int64_t wait_ms, int (*is_held)(void *arg, const char *stem),
    void *arg);

/*
 * Renew the lease of every claim whose request pending() still sees (about
 * every lease/3); a claim unseen twice in a row is dropped.
 */
void scl_renew(struct scl *sc, int (*pending)(void *arg, const char *stem), void *arg);

/* Write SPOOL/remote/cluster.state, about once a second. */
void scl_state(struct scl *sc);

#endif
