#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "clock.h"
#include "http.h"
#include "units.h"

#define STOP_CHECK_MS 100

/*
 * One hook per process, not per handle: a process has one reason to stop
 * (its job is abandoned, or its parent died), and the easy handle's option
 * then needs no data that must outlive it.
 */
static int       curl_ready;
static pid_t     parent;
static int     (*stop_fn)(void *);
static void     *stop_arg;
static uint64_t  stop_checked_ms;
static int       stop_said;

int
http_global_init(void)
{
	if (curl_ready)
		return 0;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	parent = getppid();
	curl_ready = 1;
	return 0;
}

int
http_orphaned(void)
{
	/* The parent-death signal can be blocked or lost; the pid cannot lie. */
	return parent > 1 && getppid() != parent;
}

void
http_set_stop(int (*stop)(void *), void *arg)
{
	stop_fn = stop;
	stop_arg = arg;
	stop_said = 0;
	stop_checked_ms = 0;
}

int
http_stopped(CURLcode res)
{
	return res == CURLE_ABORTED_BY_CALLBACK;
}

static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	uint64_t now;

	(void)arg;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (stop_said)
		return 1;
	/* Called for every chunk of a fast transfer: look at most every 100 ms. */
	now = clock_mono_ms();
	if (now - stop_checked_ms < STOP_CHECK_MS)
		return 0;
	stop_checked_ms = now;
	stop_said = http_orphaned() || (stop_fn != NULL && stop_fn(stop_arg));
	return stop_said;
}

void
http_defaults(CURL *h, const struct conf *c)
{
	char protos[64] = "";
	size_t i;

	for (i = 0; i < c->fetch.protocols.n; i++) {
		if (i > 0)
			strncat(protos, ",", sizeof(protos) - strlen(protos) - 1);
		strncat(protos, c->fetch.protocols.v[i], sizeof(protos) - strlen(protos) - 1);
	}
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protos[0] ? protos : "https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, protos[0] ? protos : "https");
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->fetch.connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, (long)c->fetch.low_speed_limit);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)((c->fetch.low_speed_time_ms + 999) / 1000));
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->fetch.tls_verify ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->fetch.tls_verify ? 2L : 0L);
	if (c->fetch.ca_file != NULL) {
		/* Only the given file: Debian's libcurl would also read /etc/ssl/certs. */
		curl_easy_setopt(h, CURLOPT_CAINFO, c->fetch.ca_file);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	}
	curl_easy_setopt(h, CURLOPT_USERAGENT, "ingestd/" INGESTD_VERSION);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
}

int
http_transient(CURLcode res)
{
	switch (res) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_READ_ERROR:
		return 1;
	default:
		return 0;
	}
}

unsigned long long
http_backoff_ms(unsigned long long base, unsigned n)
{
	unsigned long long d = base, cap = base > 60000 ? base : 60000;

	while (n-- > 1 && d < cap)
		d *= 2;
	return d > cap ? cap : d;
}

uint64_t
http_max_time_ms(const struct conf *c, const struct conf_source *src)
{
	uint64_t t;

	if (src != NULL && src->max_time_ms > 0)
		return src->max_time_ms;
	if (c->fetch.max_time_ms > 0)
		return c->fetch.max_time_ms;
	t = c->fetch.max_bytes / MiB * SEC;
	return t > HOUR ? t : HOUR;
}

void
http_redact(const char *url, char *out, size_t len)
{
	const char *host = strstr(url, "://"), *at, *end;

	if (host == NULL) {
		snprintf(out, len, "%s", url);
		return;
	}
	host += 3;
	end = host + strcspn(host, "/?#");
	at = memchr(host, '@', (size_t)(end - host));
	if (at == NULL)
		snprintf(out, len, "%s", url);
	else
		snprintf(out, len, "%.*s%s", (int)(host - url), url, at + 1);
}
