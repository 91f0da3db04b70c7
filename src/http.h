/*
 * What every HTTP transfer of the remote paths shares (URL downloads, S3
 * listings and deletes, webhook POSTs): libcurl's global set-up, the fetch.*
 * settings on an easy handle, retry backoff, and URLs with their passwords
 * removed for logs. fetch.c, source.c and notify.c depend on this module and
 * on none of each other.
 */
#ifndef INGESTD_HTTP_H
#define INGESTD_HTTP_H

#include <stddef.h>

#include <curl/curl.h>

#include "conf.h"

/*
 * curl_global_init, once per process (never in the supervisor before fork:
 * each child calls it). It also notes the parent, for http_orphaned().
 * 0 or -1.
 */
int  http_global_init(void);

/*
 * The fetch.* settings every transfer shares (connect timeout, low-speed
 * limit, TLS verification and CA file, allowed protocols, no signals), and
 * a progress callback that aborts the transfer (CURLE_ABORTED_BY_CALLBACK)
 * once http_orphaned() or the stop hook says so. libcurl calls it about once
 * a second even while nothing arrives, so a call blocked on a server that
 * never answers ends within a second of the supervisor's death, whatever the
 * signal mask.
 */
void http_defaults(CURL *h, const struct conf *c);

/*
 * The process's stop hook, polled (at most every 100 ms) by the progress
 * callback of every transfer: a worker passes the check of its signalfd.
 * NULL: none.
 */
void http_set_stop(int (*stop)(void *), void *arg);

/* 1 when the parent http_global_init() saw is gone (we were re-parented). */
int  http_orphaned(void);

/* 1 when a transfer ended with res because the progress callback stopped it. */
int  http_stopped(CURLcode res);

/* 1 when a transfer that failed with res may succeed if tried again. */
int  http_transient(CURLcode res);

/* Delay before retry n (1, 2, ...): base, doubled each time, at most a minute. */
unsigned long long http_backoff_ms(unsigned long long base, unsigned n);

/*
 * How long one download attempt of src's object (src NULL: a URL packet) may
 * take: the source's max_time, else fetch.max_time, else fetch.max_bytes at
 * 1 MiB/s but at least an hour, so that a server trickling just above the
 * low-speed limit cannot hold a worker for good.
 */
uint64_t http_max_time_ms(const struct conf *c, const struct conf_source *src);

/* url with any user:password@ removed, for logs and reasons. */
void http_redact(const char *url, char *out, size_t len);

#endif
