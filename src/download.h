/*
 * One download in progress: what fetch.c (the steps: request, resume,
 * verify, commit, delete), ranges.c (the transfer) and resume.c (the state
 * record) share. Not an interface for anything else.
 */
#ifndef INGESTD_DOWNLOAD_H
#define INGESTD_DOWNLOAD_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <curl/curl.h>

#include "conf.h"
#include "fetch_result.h"
#include "cluster.h"
#include "request.h"
#include "s3.h"
#include "digest.h"
#include "spool.h"

#define SEG_MAX        64
#define ERRBODY_MAX    2048
#define VALIDATOR_MAX  256
#define VERSION_MAX    256	/* an S3 version id (x-amz-version-id) */
#define UNKNOWN        UINT64_MAX

enum why {
	WHY_NONE = 0,
	WHY_SPLIT,	/* the probe saw a large file: ranges take over */
	WHY_CHANGED,	/* another version of the file: start over */
	WHY_NORANGE,	/* Range not honoured: start over as one stream */
	WHY_TOOBIG,	/* over fetch.max_bytes */
	WHY_SIZE,	/* not the size= of the request */
	WHY_IO,		/* pwrite/fallocate failed */
	WHY_NOSPACE,	/* larger than the spool's free space */
	WHY_STOP	/* interrupted */
};

struct fetch;

struct seg {
	struct fetch      *f;
	CURL              *h;		/* NULL: not running */
	struct curl_slist *hdrs;
	uint64_t           start, end;	/* inclusive; end UNKNOWN: to the end */
	uint64_t           done;	/* bytes in .part from start */
	uint64_t           got;		/* body bytes of the current response */
	uint64_t           mark;	/* start + done when the response began */
	unsigned           fails;	/* consecutive failures */
	uint64_t           retry_at;	/* when idle: start at (ms) */
	int                finished;
	int                probe;	/* the first request of a fresh download */
	int                checked;	/* status and range of this response checked */
	long               status;
	enum why           why;
	int                ioerr;
	char               crange[96];
	char               etag[VALIDATOR_MAX - 16];
	char               lastmod[64];
	char               version[VERSION_MAX];
	char               errbody[ERRBODY_MAX];
	size_t             errlen;
};

struct fetch {
	const struct conf      *c;
	const struct spool     *s;
	const struct fetch_ctl *ctl;
	struct request          rq;
	struct s3_creds         cr;
	CURLM                  *multi;
	char                    stem[NAME_MAX + 1], part[NAME_MAX + 16], statef[NAME_MAX + 16];
	int                     fd, statefd;
	int                     intofd;		/* where STEM.part becomes STEM (fetch_ctl) */
	int                     landed;		/* STEM was there already: committed before */
	int                     was_in;		/* ... seen so before anything was tried */
	struct seg              seg[SEG_MAX];
	unsigned                nseg;
	uint64_t                total;		/* UNKNOWN until a response says */
	int                     no_ranges;	/* the server mishandles Range: one plain GET */
	int                     said_no_ranges;	/* event=fetch_no_ranges logged */
	int                     allocated;
	uint64_t                free_bytes;	/* the spool's, at the last preallocation */
	uint64_t                others;		/* reserved by other downloads, when refused */
	uint64_t                cap;		/* fetch.reserve_max, resolved; 0: not refused by it */
	char                    validator[VALIDATOR_MAX];	/* "etag:..." or "lm:..." or "" */
	char                    version[VERSION_MAX];	/* S3: the version fetched, "" when none */
	uint64_t                saved_ms;
	uint64_t                deadline_ms;	/* of this attempt (clock_mono_ms) */
	uint64_t                begun_ms;	/* when it began, for the ledger */
	char                    boot[64];
	char                    urlhash[DIGEST_SHA256_HEX];
	enum fetch_result       failed;		/* after RANGES_FAILED: how */
	int                     gone;		/* the server said 404 or 410 */
	int                     clustered;	/* an object of a source in cluster mode */
	char                    cid[CLUSTER_ID_MAX];	/* its id (cluster.h) */
	char                    owner[CLUSTER_NODE_MAX + 300];	/* the marker's, when not ours */
	char                   *reason;
	size_t                  reasonlen;
};

/*
 * Write the reason and give rc. A macro, not a varargs function: clang-tidy 14
 * reports va_list false positives when it checks several files in one run.
 */
#define set_reason(f, rc, ...) \
	(snprintf((f)->reason, (f)->reasonlen, __VA_ARGS__), (rc))

/* "what NAME: strerror(err)" as one quoted logfmt value, for reasons. */
const char *download_syserr(char *buf, size_t len, const char *what, const char *name, int err);

/* The same for a step that reports failure as ret, the result (rc) in f->failed. */
#define set_failed(f, rc, ret, ...) \
	((f)->failed = (rc), snprintf((f)->reason, (f)->reasonlen, __VA_ARGS__), (ret))

#endif
