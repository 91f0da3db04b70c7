/*
 * An S3 source's ledger, SPOOL/remote/source-ID.ledger: which objects (key
 * and ETag) were handed off as request files, so an object that stays in
 * the bucket (delete: never, a failed fetch, a failed delete) is not fetched
 * again until it changes. Lines, appended with one write each:
 *
 *   + ETAG KEY     handed off (both percent-encoded)
 *   - KEY          fetched and deleted: the key is new if it appears again
 *   ! ETAG KEY     its packet failed: not queued again while this source
 *                  runs, forgotten when it starts (a HUP or a restart), so a
 *                  config fixed since fetches it again
 *
 * The source appends "+" lines and keeps the table in memory; workers append
 * "-" lines (ledger_forget) and the source reads them on its next poll.
 */
#ifndef INGESTD_LEDGER_H
#define INGESTD_LEDGER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf.h"
#include "s3.h"
#include "spool.h"

#define REMOTE_DIR "remote"	/* SPOOL/remote: ledgers, the notifier's offset */

/* Create SPOOL/remote if needed and open it (O_DIRECTORY). fd or -1. */
int remote_dir(const struct spool *s);

struct ledger_entry {
	char                *key;
	char                 etag[S3_ETAG_MAX + 1];	/* "-" when the listing had none */
	int                  seen;	/* listed in the current pass */
	int                  failed;	/* a "!" line: forgotten at the next start */
	uint64_t             when;	/* clock_mono_ms of the hand-off, or of the read */
	struct ledger_entry *next;
};

struct ledger {
	int                   rfd;	/* SPOOL/remote, not owned */
	int                   lfd;	/* the ledger, O_APPEND */
	off_t                 loff;	/* read up to here */
	char                  name[64];
	int                   starting;	/* ledger_open's read: "!" lines forget */
	/* When it was opened (clock_mono_ms): a "!" of an attempt begun before forgets. */
	unsigned long long    since_ms;
	struct ledger_entry **b;
	size_t                nb, n;
};

/* Open (create) src's ledger in rfd and read it. 0 or -1 with errno. */
int  ledger_open(struct ledger *lg, int rfd, const struct conf_source *src);

/* Close the ledger's file and free its table; lg is left empty. */
void ledger_close(struct ledger *lg);

/* Apply what was appended since the last read (by us or by workers). */
void ledger_read(struct ledger *lg);

struct ledger_entry *ledger_lookup(const struct ledger *lg, const char *key);

/*
 * key was handed off with etag ("" when none): in the table always, and
 * appended to the file. 0, or -1 with errno when the append failed.
 */
int  ledger_add(struct ledger *lg, const char *key, const char *etag);

/* Before a listing pass: no entry seen yet. */
void ledger_unsee(struct ledger *lg);

/*
 * After a complete pass: when many entries were not seen, drop them by
 * writing a fresh ledger. Returns how many were dropped (0: nothing done).
 */
size_t ledger_compact(struct ledger *lg);

/*
 * Tell src's ledger that key was fetched and deleted, so the same key
 * uploaded again is new. Called by workers; 0 or -1 with errno.
 */
int  ledger_forget(const struct spool *s, const struct conf_source *src, const char *key);

/*
 * Tell src's ledger that the packet of key (etag as handed off) failed, in
 * an attempt begun at begun_ms (clock_mono_ms). A source started after that
 * forgets it, as it forgets every failure it finds at its start: the
 * attempt ran with what the source's start may have mended (credentials).
 * Called by workers; 0 or -1 with errno.
 */
int  ledger_fail(const struct spool *s, const struct conf_source *src, const char *key,
    const char *etag, unsigned long long begun_ms);

#endif
