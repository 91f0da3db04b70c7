/*
 * URL packets: inbox/NAME.url holds one http(s) URL (and optional sha256=,
 * size= lines), or an s3://BUCKET/KEY line written by an S3 source. The
 * worker that claims it downloads to inbox/NAME.part and, once complete and
 * verified, fsyncs it and renames it to NAME in the job's pkt/, where the
 * same job goes on with it as its packet (or to inbox/NAME, without a job).
 * Resumes instead of starting over.
 */
#ifndef INGESTD_FETCH_H
#define INGESTD_FETCH_H

#include <stddef.h>

#include "conf.h"
#include "fetch_result.h"
#include "spool.h"

#define FETCH_SUFFIX ".url"

/* 1 if name is a URL packet (ends in ".url" with a non-empty stem). */
int fetch_is_url_packet(const char *name);

/*
 * Fetch the packet described by the file at urlfile (the claimed NAME.url)
 * as NAME (the name without ".url") into ctl->intofd, or into the inbox when
 * ctl is NULL or intofd is -1. NAME already there is a download committed
 * before a crash: FETCH_OK, with only what was left after it done. FETCH_BAD and FETCH_TEMP
 * come with a reason, a logfmt fragment (e.g. "fetch status=404 url=...").
 */
enum fetch_result fetch_url_packet(const struct conf *c, const struct spool *s, const char *urlfile,
    const char *name, const struct fetch_ctl *ctl, char *reason, size_t reasonlen);

#endif
