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

/* curl_global_init, once per process (never in the supervisor before fork). 0 or -1. */
int  http_global_init(void);

/*
 * The fetch.* settings every transfer shares (connect timeout, low-speed
 * limit, TLS verification and CA file, allowed protocols, no signals).
 */
void http_defaults(CURL *h, const struct conf *c);

/* 1 when a transfer that failed with res may succeed if tried again. */
int  http_transient(CURLcode res);

/* Delay before retry n (1, 2, ...): base, doubled each time, at most a minute. */
unsigned long long http_backoff_ms(unsigned long long base, unsigned n);

/* url with any user:password@ removed, for logs and reasons. */
void http_redact(const char *url, char *out, size_t len);

#endif
