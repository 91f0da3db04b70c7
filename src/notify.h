/*
 * The webhook notifier: a long-lived child of the supervisor that follows
 * SPOOL/journal, the durable outbox, and POSTs one JSON document per
 * finished job to notify.url:
 *
 *   {"job": ..., "name": ..., "outcome": "done"|"failed", "attempts": N,
 *    "duration_ms": N, "reason": ... or null, "filed": ..., "ts": ...,
 *    "manifest": {the manifest's top-level scalars}}
 *
 * Workers only append to the journal, so a slow or dead receiver never
 * slows them. Its place in the journal is kept in SPOOL/remote/notify.offset
 * (written by rename), so a restart resends at most the line in flight. A
 * document still refused after notify.retries is logged, counted, and
 * appended to SPOOL/remote/notify.failed for a later replay.
 */
#ifndef INGESTD_NOTIFY_H
#define INGESTD_NOTIFY_H

#include "conf.h"
#include "spool.h"

#define NOTIFY_OFFSET_FILE "notify.offset"
#define NOTIFY_FAILED_FILE "notify.failed"

/* Never returns. */
void  notify_main(const struct conf *c, const struct spool *s) __attribute__((noreturn));

/*
 * The JSON document for one journal line (without its '\n'); the manifest
 * JSON (a top-level object, or NULL) gives its scalars. Heap string or NULL.
 */
char *notify_document(const char *line, const char *manifest_json, size_t manifest_len);

#endif
