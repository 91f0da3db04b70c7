/*
 * The watcher process: turns inbox events into names on the queue.
 *
 * Producer protocol: an entry renamed into the inbox (IN_MOVED_TO) counts at
 * once, file or folder; a file written in place counts once it was closed
 * after writing and then left unchanged for `settle`; names matching
 * `ignore` wait until they are renamed. The watch is set before the inbox is
 * scanned, so nothing dropped during start-up is missed; an inotify overflow
 * leads to a rescan that streams the directory.
 */
#ifndef INGESTD_WATCHER_H
#define INGESTD_WATCHER_H

#include <mqueue.h>
#include <signal.h>

#include "conf.h"

/*
 * Closing or renaming in a file of this name (ignored like any dot name)
 * makes the watcher rescan the inbox. The supervisor uses it when a worker
 * died holding a name it had taken off the queue; an operator may too.
 */
#define WATCHER_RESCAN_NAME ".ingestd-rescan"
#include "scoreboard.h"
#include "spool.h"

/* The supervisor's way to ask for a rescan: it needs no file, so it works on a full disk. */
#define WATCHER_SIG_RESCAN SIGUSR1

/* Ask the running watcher to rescan the inbox through the file. 0 or -1 with errno. */
int  watcher_request_rescan(int inboxfd);

/* Never returns. Writes one byte to readyfd once the watch is in place. */
void watcher_main(const struct conf *c, const struct spool *s, mqd_t q, int readyfd,
    pid_t supervisor, struct scoreboard *sb) __attribute__((noreturn));

#endif
