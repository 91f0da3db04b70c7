/*
 * Long-lived children for remote packets, besides the watcher and the
 * workers: one per configured source (S3 poller) and the webhook notifier.
 * The supervisor spawns remote_children() of them and respawns them like the
 * others.
 */
#ifndef INGESTD_REMOTE_H
#define INGESTD_REMOTE_H

#include <mqueue.h>
#include <sys/types.h>

#include "conf.h"
#include "spool.h"

/* How many such children the config asks for. */
int         remote_children(const struct conf *c);

/* Role name of child idx for logs ("source", "notifier"). */
const char *remote_role(const struct conf *c, int idx);

/* Never returns. */
void        remote_main(const struct conf *c, const struct spool *s, mqd_t q, int idx,
    pid_t supervisor) __attribute__((noreturn));

#endif
