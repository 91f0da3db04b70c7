/*
 * The POSIX message queue between the watcher and the workers. It carries
 * only hints (packet names); the spool is the truth, so a lost message costs
 * time, never a packet.
 */
#ifndef INGESTD_QUEUE_H
#define INGESTD_QUEUE_H

#include <mqueue.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * A message is one type byte followed by a file name (no NUL). Job hints go
 * at a higher priority than names: a job that waits is older than any name.
 */
#define QUEUE_MSG_PACKET   'P'	/* a name in inbox/ */
#define QUEUE_MSG_JOB      'J'	/* "ID" or "ID:CRASHES": a job in work/ that nobody holds */
#define QUEUE_MSG_DEFERRED 'D'	/* "DUE.ID": a job in defer/ that is due */
#define QUEUE_MSGSIZE      512	/* NAME_MAX + type, rounded; must fit msgsize_max */

/* "/ingestd.<16 hex>" derived from the spool's real path: stable across runs. */
void   queue_name(const char *spool, char *buf, size_t len);

/*
 * Unlink any queue left by a crashed run and create a fresh one, mode 0600,
 * as deep as the system allows (msg_max, RLIMIT_MSGQUEUE after raising the
 * soft limit to the hard one). Never fails because limits are small: it
 * shrinks to what fits and says so in *depth and why. Returns the descriptor
 * (close-on-exec) or (mqd_t)-1 with errno and a reason in why.
 */
mqd_t  queue_create(const char *name, long *depth, char *why, size_t whylen);

/*
 * Send, waiting at most wait_ms for room (0: not at all): 0, or -1 with
 * errno (ETIMEDOUT/EAGAIN when full).
 */
int    queue_offer(mqd_t q, char type, const char *name, unsigned wait_ms);

/* Blocking send of one name; retries on EINTR. 0 or -1 with errno. */
int    queue_send(mqd_t q, char type, const char *name);

/*
 * Take one message without blocking: fills type and name (NUL-terminated).
 * Returns 1 when a message was taken, 0 when the queue is empty, -1 on error.
 */
int    queue_take(mqd_t q, char *type, char *name, size_t namelen);

/* Messages waiting now, or -1. */
long   queue_depth(mqd_t q);

#endif
