/*
 * Packet preparation: turn a claimed packet into the tree the handler works on.
 * An archive is extracted (see extract.h), a folder holding NAME.zip is extracted,
 * a plain folder is used as it is, and the manifest is read (see manifest.h).
 */
#ifndef INGESTD_PACKET_H
#define INGESTD_PACKET_H

#include <limits.h>
#include <sys/types.h>

#include "conf.h"

/*
 * packet_prepare()'s results, 10-19: a range of their own, apart from
 * extract_archive()'s (20-29), manifest_parse()'s (25) and the fetch's
 * (30-39, fetch_result.h), so a value passed up unchanged is never misread.
 */
enum packet_rc {
	PACKET_OK   = 0,	/* ready: run the handler */
	PACKET_BAD  = 10,	/* the packet is at fault: file it in failed/ with reason */
	PACKET_TEMP = 11,	/* our fault or the system's (ENOSPC, EIO): retry later, errno set */
};

struct packet_result {
	char        dir[PATH_MAX];      /* INGEST_DIR: extracted tree or the packet folder */
	char        manifest[PATH_MAX]; /* INGEST_MANIFEST, "" when there is none */
	struct strv env;                /* "INGEST_META_KEY=value" entries for the handler */
};

/*
 * Prepare the packet jobdir/pkt/NAME. An archive (recognised by content), or
 * NAME/NAME.zip, is extracted to jobdir/tree; a folder without one is checked
 * in place by the same rules (see extract.h); a plain file fails, or with
 * packet.plain: pass is handed over as jobdir/pkt. The manifest (at the
 * tree's root, else beside NAME.zip) goes as JSON to jobdir/manifest.json,
 * and r->env gets INGEST_MANIFEST, INGEST_MANIFEST_JSON and INGEST_META_*.
 * On PACKET_BAD, reason holds a logfmt fragment whose first word is archive,
 * limit, link, type, path, manifest, plain or format, such as
 * "limit max_ratio entry=a/b.bin" or "manifest line=3 column=1 error=...";
 * on PACKET_TEMP errno is set and reason starts with "system". Either way
 * nothing half-made is left: no tree, no JSON, r->env empty. Leftovers of an
 * earlier attempt are removed first. The working directory is changed while
 * extracting and restored.
 */
int  packet_prepare(const struct conf *c, const char *jobdir, const char *name,
    struct packet_result *r, char *reason, size_t reasonlen);

/*
 * packet_prepare() parses in a helper process of this one (sandbox.h), kept
 * between packets unless a handler is configured; this ends it.
 */
void packet_helper_stop(void);

/* The helper's pid, 0 when there is none: a clean-up of the worker's children may spare it. */
pid_t packet_helper_pid(void);

/* Remove jobdir/tree unless packet.keep_extracted; free r. Safe to call twice. */
void packet_cleanup(const struct conf *c, const char *jobdir, struct packet_result *r);

#endif
