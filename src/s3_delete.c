/*
 * Why not DELETE with If-Match alone: radosgw answers 204 to a DELETE whose
 * If-Match is wrong, and deletes. A key uploaded again between the GET and
 * the DELETE (or while the daemon was down after its commit) would be
 * deleted unseen. A version id is exact on every server that gives one; the
 * HEAD narrows the race to the time between two requests, and If-Match is
 * still sent for servers that honour it (AWS, MinIO), which close it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "clock.h"
#include "http.h"
#include "ledger.h"
#include "log.h"
#include "s3_delete.h"

#define POLL_MS        100

struct reply {
	long     status;
	CURLcode res;
	char     etag[S3_ETAG_MAX + 1];
	char     version[VERSION_MAX];
	int      marker;	/* x-amz-delete-marker: true */
};

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = size * n, vlen;
	const char *v;

	if (len >= 5 && strncasecmp(data, "HTTP/", 5) == 0) {
		r->etag[0] = r->version[0] = '\0';
		r->marker = 0;
		return len;
	}
	if ((v = memchr(data, ':', len)) == NULL)
		return len;
	vlen = len - (size_t)(v + 1 - data);
	for (v++; vlen > 0 && (*v == ' ' || *v == '\t'); v++, vlen--)
		;
	while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
		vlen--;
	if (strncasecmp(data, "ETag:", 5) == 0 && vlen < sizeof(r->etag))
		snprintf(r->etag, sizeof(r->etag), "%.*s", (int)vlen, v);
	else if (strncasecmp(data, "x-amz-version-id:", 17) == 0 && vlen < sizeof(r->version))
		snprintf(r->version, sizeof(r->version), "%.*s", (int)vlen, v);
	else if (strncasecmp(data, "x-amz-delete-marker:", 20) == 0)
		r->marker = vlen == 4 && strncasecmp(v, "true", 4) == 0;
	return len;
}

/* One request; r->res and r->status say how it went. */
static void
once(struct fetch *f, const char *method, const char *url, const char *ifmatch, struct reply *r)
{
	struct curl_slist *hdrs = NULL, *l;
	char cond[S3_ETAG_MAX + 16];
	CURL *h;

	memset(r, 0, sizeof(*r));
	r->res = CURLE_OUT_OF_MEMORY;
	if ((h = curl_easy_init()) == NULL)
		return;
	http_defaults(h, f->c);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	if (strcmp(method, "HEAD") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)f->c->fetch.request_timeout_ms);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	if (ifmatch != NULL && ifmatch[0] != '\0') {
		snprintf(cond, sizeof(cond), "If-Match: %s", ifmatch);
		if ((l = curl_slist_append(hdrs, cond)) != NULL)
			hdrs = l;
	}
	if (s3_curl_sign(h, f->rq.src, &f->cr, &hdrs) == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
		r->res = curl_easy_perform(h);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	}
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
}

enum ask {
	ASKED = 60,	/* a final answer: r->status */
	ASK_FAILED,	/* no final answer after the retries: r says the last */
	ASK_STOPPED	/* interrupted */
};

/* once(), again after backoff while the failure may pass. */
static enum ask
ask(struct fetch *f, const char *method, const char *url, const char *ifmatch, struct reply *r)
{
	unsigned attempt;
	uint64_t until;

	for (attempt = 1;; attempt++) {
		once(f, method, url, ifmatch, r);
		if (http_stopped(r->res))
			return ASK_STOPPED;
		if (r->res == CURLE_OK && r->status != 429 && r->status < 500)
			return ASKED;
		if ((r->res != CURLE_OK && !http_transient(r->res)) || attempt > f->c->fetch.retries)
			return ASK_FAILED;
		until = clock_mono_ms() + http_backoff_ms(f->c->fetch.backoff_ms, attempt);
		while (clock_mono_ms() < until) {
			if (http_orphaned() || (f->ctl != NULL && f->ctl->interrupted(f->ctl->arg)))
				return ASK_STOPPED;
			usleep(POLL_MS * 1000);
		}
	}
}

/* "abc" and abc are one ETag: servers and listings differ in the quotes. */
static int
same_etag(const char *a, const char *b)
{
	size_t la, lb;

	if (*a == '"')
		a++;
	if (*b == '"')
		b++;
	la = strcspn(a, "\"");
	lb = strcspn(b, "\"");
	return la == lb && strncmp(a, b, la) == 0;
}

static void
forget(struct fetch *f)
{
	if (ledger_forget(f->s, f->rq.src, f->rq.key) == -1)
		log_warn("event=ledger name=%s", LQ(f->stem));
}

static void
failed(struct fetch *f, const char *method, const struct reply *r)
{
	char q[300];

	/* method: HEAD or DELETE, ours */
	log_warnx("event=s3_delete_failed name=%s url=%s request=%s status=%ld error=%s",
	    LQ(f->stem), LQ(f->rq.shown), method, r->status, /* logcheck: safe */
	    log_quote(q, sizeof(q), curl_easy_strerror(r->res)));
}

enum fetch_result
s3_delete_fetched(struct fetch *f)
{
	char url[S3_URL_MAX + 3 * VERSION_MAX + 16], enc[3 * VERSION_MAX + 1];
	char qk[3 * S3_KEY_MAX + 8], qe[2 * S3_ETAG_MAX + 8], qv[2 * VERSION_MAX + 8];
	const char *want = f->rq.etag;
	struct reply r;

	/* "null" is the version a suspended bucket overwrites: not exact, HEAD it. */
	if (f->version[0] != '\0' && strcmp(f->version, "null") != 0 &&
	    s3_encode(f->version, 0, enc, sizeof(enc)) != -1) {
		snprintf(url, sizeof(url), "%s?versionId=%s", f->rq.url, enc);
		switch (ask(f, "DELETE", url, NULL, &r)) {
		case ASK_STOPPED:
			return FETCH_INTERRUPTED;
		case ASK_FAILED:
			failed(f, "DELETE", &r);
			return FETCH_OK;
		case ASKED:
			break;
		}
		if (r.status != 200 && r.status != 204 && r.status != 404) {
			failed(f, "DELETE", &r);
			return FETCH_OK;
		}
		log_info("event=s3_delete name=%s key=%s version=%s status=%ld", LQ(f->stem), log_quote(qk, sizeof(qk), f->rq.key),
		    log_quote(qv, sizeof(qv), f->version), r.status);
		forget(f);	/* an older version may be current now: it is new to us */
		return FETCH_OK;
	}
	if (want[0] == '\0' && strncmp(f->validator, "etag:", 5) == 0)
		want = f->validator + 5;
	switch (ask(f, "HEAD", f->rq.url, NULL, &r)) {
	case ASK_STOPPED:
		return FETCH_INTERRUPTED;
	case ASK_FAILED:
		failed(f, "HEAD", &r);
		return FETCH_OK;
	case ASKED:
		break;
	}
	if (r.status == 404) {
		log_info("event=s3_delete name=%s key=%s status=404 why=\"already gone\"",
		    LQ(f->stem), log_quote(qk, sizeof(qk), f->rq.key));
		forget(f);
		return FETCH_OK;
	}
	if (r.status != 200) {
		failed(f, "HEAD", &r);
		return FETCH_OK;
	}
	if (want[0] != '\0' && !same_etag(want, r.etag)) {
		/* Uploaded again since: not ours to delete; the listing brings it as new. */
		log_warnx("event=s3_delete_skipped name=%s key=%s why=changed fetched=%s now=%s",
		    LQ(f->stem), log_quote(qk, sizeof(qk), f->rq.key), log_quote(qe, sizeof(qe), want), LQ(r.etag));
		forget(f);
		return FETCH_OK;
	}
	switch (ask(f, "DELETE", f->rq.url, want, &r)) {
	case ASK_STOPPED:
		return FETCH_INTERRUPTED;	/* the state says commit: HEAD and DELETE again */
	case ASK_FAILED:
		failed(f, "DELETE", &r);
		return FETCH_OK;
	case ASKED:
		break;
	}
	if (r.status == 412) {
		log_warnx("event=s3_delete_skipped name=%s key=%s why=changed status=412",
		    LQ(f->stem), log_quote(qk, sizeof(qk), f->rq.key));
		forget(f);
		return FETCH_OK;
	}
	if (r.status != 200 && r.status != 204 && r.status != 404) {
		failed(f, "DELETE", &r);
		return FETCH_OK;
	}
	/* On a versioned bucket the data stays: the log says so. */
	log_info("event=s3_delete name=%s key=%s status=%ld marker=%s version=%s", LQ(f->stem),
	    log_quote(qk, sizeof(qk), f->rq.key), r.status, r.marker ? "true" : "false",
	    log_quote(qv, sizeof(qv), r.version[0] ? r.version : "-"));
	forget(f);
	return FETCH_OK;
}
