/*
 * An S3 source: a long-lived child of the supervisor that lists one bucket
 * prefix every poll and hands each new object to the workers as a request
 * file inbox/NAME.url (first line s3://BUCKET/KEY), renamed in so the
 * watcher queues it like any packet. A worker then fetches it (fetch.c) and,
 * with delete: after_commit, deletes the object once the packet is durably
 * in the inbox.
 *
 * SPOOL/remote/source-ID.ledger remembers which objects (key and ETag) were
 * handed off, so an object that stays in the bucket (delete: never, a failed
 * fetch, a failed delete) is not fetched again until it changes.
 */
#ifndef INGESTD_SOURCE_H
#define INGESTD_SOURCE_H

#include <stddef.h>

#include "conf.h"
#include "spool.h"

#define REMOTE_DIR "remote"	/* SPOOL/remote: ledgers, the notifier's offset */

/* Run source idx of c->sources. Never returns. */
void source_main(const struct conf *c, const struct spool *s, size_t idx)
    __attribute__((noreturn));

/*
 * Tell src's ledger that key was fetched and deleted, so the same key
 * uploaded again is new. Called by workers; 0 or -1 with errno.
 */
int  source_forget(const struct spool *s, const struct conf_source *src, const char *key);

/* Create SPOOL/remote if needed and open it (O_DIRECTORY). fd or -1. */
int  remote_dir(const struct spool *s);

#endif
