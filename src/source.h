/*
 * An S3 source: a long-lived child of the supervisor that lists one bucket
 * prefix every poll and hands each new object to the workers as a request
 * file inbox/NAME.url (first line s3://BUCKET/KEY), renamed in so the
 * watcher queues it like any packet. A worker then fetches it (fetch.c) and,
 * with delete: after_commit, deletes the object once the packet is durably
 * in the inbox.
 *
 * Its ledger (ledger.h) remembers which objects were handed off.
 */
#ifndef INGESTD_SOURCE_H
#define INGESTD_SOURCE_H

#include <stddef.h>

#include "conf.h"
#include "spool.h"

/* Run source idx of c->sources. Never returns. */
void source_main(const struct conf *c, const struct spool *s, size_t idx)
    __attribute__((noreturn));

#endif
