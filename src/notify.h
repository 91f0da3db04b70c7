/*
 * The webhook notifier: a long-lived child of the supervisor that follows
 * SPOOL/journal, the durable outbox, and POSTs one JSON document per
 * finished job to notify.url (notify_doc.h), once its line is committed.
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

#endif
