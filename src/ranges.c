/*
 * The transfer of one download with the curl multi interface. A fresh
 * download starts with one request for bytes 0 to segment_min-1: a small
 * file arrives whole in that one request; for a larger one its headers give
 * the size, it is dropped before its body and fetch.segments ranges start,
 * each on its own connection and written with pwrite at its offset. Every
 * response is checked before its first byte is written (status, Content-Range,
 * validator, size limits); resumed ranges carry If-Match (or
 * If-Unmodified-Since), so a file replaced meanwhile starts over instead of
 * being stitched from two versions.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <curl/curl.h>

#include "clock.h"
#include "http.h"
#include "log.h"
#include "packet.h"
#include "ranges.h"
#include "reserve.h"
#include "scoreboard.h"
#include "resume.h"

#define SEG_MIN_BYTES  (1024 * 1024)	/* no range smaller than this */
#define SAVE_EVERY_MS  1000
#define POLL_MS        100

static const char *
qurl(const struct fetch *f, char *buf, size_t len)
{
	return log_quote(buf, len, f->rq.shown);
}

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct seg *g = arg;
	size_t len = size * n, vlen;
	const char *v;

	if (len >= 5 && strncasecmp(data, "HTTP/", 5) == 0) {
		/* A new response (redirect, 100 Continue): forget the last one. */
		g->crange[0] = g->etag[0] = g->lastmod[0] = g->version[0] = '\0';
		return len;
	}
	v = memchr(data, ':', len);
	if (v == NULL)
		return len;
	vlen = len - (size_t)(v + 1 - data);
	for (v++; vlen > 0 && (*v == ' ' || *v == '\t'); v++, vlen--)
		;
	while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
		vlen--;
#define HDR(name, dst) \
	if (strncasecmp(data, name ":", strlen(name) + 1) == 0) { \
		snprintf(dst, sizeof(dst), "%.*s", (int)(vlen < sizeof(dst) ? vlen : 0), v); \
		return len; \
	}
	HDR("Content-Range", g->crange)
	HDR("ETag", g->etag)
	HDR("Last-Modified", g->lastmod)
	HDR("x-amz-version-id", g->version)
#undef HDR
	return len;
}

/* The validator this response carries: a strong ETag, else Last-Modified. */
static void
response_validator(const struct seg *g, char *out, size_t len)
{
	if (g->etag[0] != '\0' && strncmp(g->etag, "W/", 2) != 0)
		snprintf(out, len, "etag:%s", g->etag);
	else if (g->lastmod[0] != '\0')
		snprintf(out, len, "lm:%s", g->lastmod);
	else
		out[0] = '\0';
}

/*
 * Is there room for the rest of the file? A size the filesystem cannot hold
 * is refused before fallocate takes what there is and starves the spool; so
 * is one that would take the downloads running at once beyond
 * fetch.reserve_max (f->cap set, f->others what the others hold).
 */
static int
room_for(struct fetch *f)
{
	struct statvfs vfs;
	struct stat st;
	uint64_t have, need, cap;

	f->cap = 0;
	if (fstatvfs(f->fd, &vfs) == -1 || fstat(f->fd, &st) == -1)
		return 1;	/* fallocate will tell */
	have = (uint64_t)st.st_blocks * 512;
	need = f->total > have ? f->total - have : 0;
	f->free_bytes = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (need > f->free_bytes)
		return 0;
	cap = f->c->fetch.reserve_max;
	if (cap == 0)
		cap = (uint64_t)vfs.f_blocks / 10 * 9 * vfs.f_frsize;
	if (f->ctl != NULL &&
	    reserve_take(f->ctl->sb, f->ctl->slot, f->total, cap, &f->others) == -1) {
		f->cap = cap;
		return 0;
	}
	return 1;
}

/* The reason of a size refused by room_for(). */
static void
no_space(struct fetch *f)
{
	f->failed = FETCH_TEMP;
	if (f->cap != 0)
		snprintf(f->reason, f->reasonlen, "fetch no_space size=%" PRIu64 " free=%" PRIu64
		    " reserved=%" PRIu64 " max=%" PRIu64, f->total, f->free_bytes, f->others, f->cap);
	else
		snprintf(f->reason, f->reasonlen, "fetch no_space size=%" PRIu64 " free=%" PRIu64,
		    f->total, f->free_bytes);
}

static int
preallocate(struct fetch *f)
{
	int e;

	if (f->allocated || f->total == UNKNOWN || f->total == 0)
		return 0;
	if (!room_for(f)) {
		errno = ENOSPC;
		return -1;
	}
	/* Whole size now: ENOSPC shows before the download, not at its end. */
	if ((e = posix_fallocate(f->fd, 0, (off_t)f->total)) != 0) {
		errno = e;
		return -1;
	}
	f->allocated = 1;
	return 0;
}

/*
 * A version id goes into the state record (one line) and a query string
 * (encoded): printable ASCII only, anything else is not trusted as one.
 */
static int
version_ok(const char *v)
{
	const char *p;

	if (v[0] == '\0')
		return 0;
	for (p = v; *p != '\0'; p++)
		if (*p <= ' ' || *p > '~')
			return 0;
	return 1;
}

/* The first body bytes of a response: is it what this range asked for? */
static int
check_response(struct seg *g)
{
	struct fetch *f = g->f;
	uint64_t a, b, t, pos = g->start + g->done;
	char val[VALIDATOR_MAX];
	long code = 0;
	curl_off_t cl = -1;

	curl_easy_getinfo(g->h, CURLINFO_RESPONSE_CODE, &code);
	g->status = code;
	if (code >= 300 || code < 200)
		return 0;	/* judged when the transfer ends */
	response_validator(g, val, sizeof(val));
	if (f->validator[0] != '\0' && val[0] != '\0' && strcmp(val, f->validator) != 0) {
		g->why = WHY_CHANGED;
		return -1;
	}
	if (code == 206) {
		if (sscanf(g->crange, "bytes %" SCNu64 "-%" SCNu64 "/%" SCNu64, &a, &b, &t) != 3 ||
		    a != pos || b < a || (g->end != UNKNOWN && b > g->end) || b >= t) {
			g->why = WHY_NORANGE;
			return -1;
		}
		if (f->total != UNKNOWN && t != f->total) {
			g->why = WHY_CHANGED;
			return -1;
		}
		f->total = t;
	} else {
		/* 200: the whole file. Fine only for one stream from byte 0. */
		if (f->nseg > 1 || g->start != 0) {
			g->why = WHY_NORANGE;
			return -1;
		}
		g->done = 0;
		curl_easy_getinfo(g->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
		f->total = cl >= 0 ? (uint64_t)cl : UNKNOWN;
		/*
		 * A 200 to a Range request: the whole file on one connection. Some
		 * servers honour Range later (a CDN once it has the file), so a resume
		 * still asks for it.
		 */
		if (!f->no_ranges && !f->said_no_ranges && cl != 0) {
			log_info("event=fetch_no_ranges name=%s status=200 note=\"the server "
			    "answered Range with the whole file: one connection\"", LQ(f->stem));
			f->said_no_ranges = 1;
		}
		g->end = f->total == UNKNOWN ? UNKNOWN : f->total - 1;
		g->probe = 0;
	}
	if (f->validator[0] == '\0')
		snprintf(f->validator, sizeof(f->validator), "%s", val);
	/* The version the delete must name: only the exact bytes fetched may go. */
	if (f->version[0] == '\0' && version_ok(g->version))
		snprintf(f->version, sizeof(f->version), "%s", g->version);
	if (f->total != UNKNOWN && f->total > f->c->fetch.max_bytes) {
		g->why = WHY_TOOBIG;
		return -1;
	}
	/*
	 * An S3 listing's size is only what the listing saw: s3rver lists an
	 * object still being written with size 0 and its final ETag. The ETag,
	 * checked just above, names the bytes.
	 */
	if (f->total != UNKNOWN && f->rq.size >= 0 && f->total != (uint64_t)f->rq.size &&
	    !(f->rq.src != NULL && f->rq.etag[0] != '\0' && strncmp(val, "etag:", 5) == 0)) {
		g->why = WHY_SIZE;
		return -1;
	}
	if (g->probe) {
		g->probe = 0;
		if (f->total > g->end + 1 && f->c->fetch.segments > 1 &&
		    f->total >= f->c->fetch.segment_min) {
			g->why = WHY_SPLIT;
			return -1;
		}
		/* Small, or one stream wanted: this response starts the whole download. */
		g->end = f->total - 1;
	}
	if (preallocate(f) == -1) {
		g->why = errno == ENOSPC && (f->free_bytes < f->total || f->cap != 0) ?
		    WHY_NOSPACE : WHY_IO;
		g->ioerr = errno;
		return -1;
	}
	return 0;
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct seg *g = arg;
	struct fetch *f = g->f;
	size_t len = size * n, off = 0;
	ssize_t w;

	if (!g->checked) {
		g->checked = 1;
		if (check_response(g) == -1)
			return 0;
	}
	if (g->status < 200 || g->status >= 300) {
		/* An error document: keep its start for the reason (S3's <Code>). */
		size_t k = ERRBODY_MAX - 1 - g->errlen < len ? ERRBODY_MAX - 1 - g->errlen : len;

		memcpy(g->errbody + g->errlen, data, k);
		g->errlen += k;
		g->errbody[g->errlen] = '\0';
		return len;
	}
	if (g->end != UNKNOWN && g->done + len > g->end - g->start + 1) {
		g->why = WHY_NORANGE;	/* more than asked for */
		return 0;
	}
	if (g->start + g->done + len > f->c->fetch.max_bytes) {
		g->why = WHY_TOOBIG;	/* a stream of unannounced length */
		return 0;
	}
	while (off < len) {
		w = pwrite(f->fd, data + off, len - off, (off_t)(g->start + g->done + off));
		if (w <= 0) {
			if (w == -1 && errno == EINTR)
				continue;
			g->why = WHY_IO;
			g->ioerr = w == -1 ? errno : EIO;
			return 0;
		}
		off += (size_t)w;
	}
	g->done += len;
	g->got += len;
	return len;
}

static int
seg_start(struct fetch *f, struct seg *g)
{
	char range[80], cond[VALIDATOR_MAX + 40];
	struct curl_slist *l;
	CURL *h;

	g->f = f;
	g->got = 0;
	g->mark = g->start + g->done;
	g->checked = 0;
	g->status = 0;
	g->why = WHY_NONE;
	g->errlen = 0;
	g->errbody[0] = '\0';
	g->crange[0] = g->etag[0] = g->lastmod[0] = g->version[0] = '\0';
	if ((h = curl_easy_init()) == NULL)
		return -1;
	g->h = h;
	http_defaults(h, f->c);
	curl_easy_setopt(h, CURLOPT_URL, f->rq.url);
	curl_easy_setopt(h, CURLOPT_PRIVATE, g);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, g);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, g);
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)(f->c->fetch.max_bytes >
	    INT64_MAX ? INT64_MAX : f->c->fetch.max_bytes));
	/* Each range its own connection: no HTTP/2 multiplexing onto one. */
	curl_easy_setopt(h, CURLOPT_PIPEWAIT, 0L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	if (f->rq.src == NULL) {
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	}
	if (f->no_ranges)
		range[0] = '\0';
	else if (g->end == UNKNOWN)
		snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-", g->start + g->done);
	else
		snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-%" PRIu64,
		    g->start + g->done, g->end);
	g->hdrs = NULL;
	if (range[0] != '\0') {
		if ((l = curl_slist_append(NULL, range)) == NULL)
			return -1;
		g->hdrs = l;
	}
	cond[0] = '\0';
	if (strncmp(f->validator, "etag:", 5) == 0)
		snprintf(cond, sizeof(cond), "If-Match: %s", f->validator + 5);
	else if (strncmp(f->validator, "lm:", 3) == 0)
		snprintf(cond, sizeof(cond), "If-Unmodified-Since: %s", f->validator + 3);
	if (cond[0] != '\0' && (l = curl_slist_append(g->hdrs, cond)) != NULL)
		g->hdrs = l;
	if (f->rq.src != NULL && s3_curl_sign(h, f->rq.src, &f->cr, &g->hdrs) == -1)
		return -1;
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, g->hdrs);
	if (curl_multi_add_handle(f->multi, h) != CURLM_OK)
		return -1;
	return 0;
}

static void
seg_stop(struct fetch *f, struct seg *g)
{
	if (g->h != NULL) {
		curl_multi_remove_handle(f->multi, g->h);
		curl_easy_cleanup(g->h);
		g->h = NULL;
	}
	curl_slist_free_all(g->hdrs);
	g->hdrs = NULL;
}

void
ranges_stop_all(struct fetch *f)
{
	unsigned i;

	for (i = 0; i < f->nseg; i++)
		seg_stop(f, &f->seg[i]);
}

/* Split [0, total) into equal ranges, none smaller than SEG_MIN_BYTES. */
static void
plan(struct fetch *f)
{
	uint64_t n = f->c->fetch.segments, i;

	if (n > SEG_MAX)
		n = SEG_MAX;
	if (f->total / n < SEG_MIN_BYTES)
		n = f->total / SEG_MIN_BYTES > 0 ? f->total / SEG_MIN_BYTES : 1;
	memset(f->seg, 0, sizeof(f->seg));
	for (i = 0; i < n; i++) {
		f->seg[i].f = f;
		f->seg[i].start = f->total * i / n;
		f->seg[i].end = f->total * (i + 1) / n - 1;
	}
	f->nseg = (unsigned)n;
}

/* What one finished transfer means for the rest. */
enum seg_next {
	SEG_GO_ON = 50,		/* carry on with the other ranges (or this one later) */
	SEG_RESTART,		/* start over, or (WHY_SPLIT) plan the ranges */
	SEG_FAILED		/* give up: f->failed and f->reason say why */
};

/* A failure of range g that may pass: retry it later, or give up the fetch. */
static enum seg_next
seg_retry(struct fetch *f, struct seg *g, const char *what)
{
	char q[S3_URL_MAX + 8];

	/* A response that moved the range forward was progress: count again from 1. */
	g->fails = g->start + g->done > g->mark ? 1 : g->fails + 1;
	if (g->fails > f->c->fetch.retries)
		return set_failed(f, FETCH_TEMP, SEG_FAILED, "fetch %s attempts=%u url=%s", what, g->fails,
		    qurl(f, q, sizeof(q)));
	g->retry_at = clock_mono_ms() + http_backoff_ms(f->c->fetch.backoff_ms, g->fails);
	/* what: "status=N" or "error=" with its value quoted, made by seg_done */
	log_info("event=fetch_retry name=%s %s attempt=%u range=%llu- delay_ms=%llu",
	    LQ(f->stem), what, /* logcheck: safe */
	    g->fails, (unsigned long long)g->start + g->done,
	    http_backoff_ms(f->c->fetch.backoff_ms, g->fails));
	return SEG_GO_ON;
}

/* The outcome of one finished transfer. */
static enum seg_next
seg_done(struct fetch *f, struct seg *g, CURLcode res)
{
	char q[S3_URL_MAX + 8], what[512], code[64] = "", msg[256] = "", qm[NAME_MAX * 4 + 300];
	enum why why = g->why;
	long status = g->status;

	/* A response without a body (an empty file) is checked here. */
	if (res == CURLE_OK && !g->checked) {
		g->checked = 1;
		if (check_response(g) == -1)
			why = g->why;
		status = g->status;
	}
	if (status == 0)
		curl_easy_getinfo(g->h, CURLINFO_RESPONSE_CODE, &status);
	seg_stop(f, g);
	switch (why) {
	case WHY_SPLIT:
		return SEG_RESTART;	/* handled by the caller: plan the ranges */
	case WHY_NORANGE:
		/* Once per download: from here on it is one plain GET. */
		if (!f->no_ranges && !f->said_no_ranges)
			log_info("event=fetch_no_ranges name=%s status=%ld note=\"the server "
			    "does not honour Range: one connection, no resume\"", LQ(f->stem),
			    g->status);
		f->no_ranges = f->said_no_ranges = 1;
		return SEG_RESTART;
	case WHY_CHANGED:
		return SEG_RESTART;
	case WHY_TOOBIG:
		if (f->total == UNKNOWN)
			return set_failed(f, FETCH_BAD, SEG_FAILED, "fetch limit max_bytes max=%" PRIu64,
			    f->c->fetch.max_bytes);
		return set_failed(f, FETCH_BAD, SEG_FAILED, "fetch limit max_bytes size=%" PRIu64 " max=%" PRIu64,
		    f->total, f->c->fetch.max_bytes);
	case WHY_SIZE:
		return set_failed(f, FETCH_BAD, SEG_FAILED, "fetch size_mismatch expected=%lld got=%" PRIu64,
		    f->rq.size, f->total);
	case WHY_IO:
		return set_failed(f, FETCH_TEMP, SEG_FAILED, "fetch error=%s",
		    download_syserr(qm, sizeof(qm), "write", f->part, g->ioerr));
	case WHY_NOSPACE:
		no_space(f);
		return SEG_FAILED;
	case WHY_STOP:
	case WHY_NONE:
		break;
	}
	if (http_stopped(res))
		return f->failed = FETCH_INTERRUPTED, SEG_FAILED;
	if (res != CURLE_OK) {
		if (!http_transient(res))
			return set_failed(f, FETCH_BAD, SEG_FAILED, "fetch error=%s url=%s",
			    log_quote(qm, sizeof(qm), curl_easy_strerror(res)), qurl(f, q, sizeof(q)));
		snprintf(what, sizeof(what), "error=%s",
		    log_quote(qm, sizeof(qm), curl_easy_strerror(res)));
		return seg_retry(f, g, what);
	}
	if (status == 416 && g->start == 0 && g->done == 0 &&
	    strcmp(g->crange, "bytes */0") == 0) {
		f->total = 0;	/* an empty file has no byte 0 */
		g->end = 0;
		g->finished = 1;
		return SEG_GO_ON;
	}
	if (status == 412 || status == 416)
		return SEG_RESTART;	/* the file changed under us */
	if (status >= 300 || status < 200) {
		if (g->errlen > 0)
			s3_parse_error(g->errbody, g->errlen, code, sizeof(code), msg, sizeof(msg));
		snprintf(what, sizeof(what), "status=%ld%s%s", status, code[0] ? " code=" : "",
		    code[0] ? log_quote(qm, sizeof(qm), code) : "");
		if (status == 408 || status == 429 || status >= 500)
			return seg_retry(f, g, what);
		/* Refused credentials are the source's failure: the packet waits for a fix. */
		if (f->rq.src != NULL && (status == 401 || (status == 403 &&
		    s3_credentials_refused(code))))
			return set_failed(f, FETCH_TEMP, SEG_FAILED, "fetch %s url=%s%s%s", what,
			    qurl(f, q, sizeof(q)), msg[0] ? " message=" : "",
			    msg[0] ? log_quote(qm, sizeof(qm), msg) : "");
		f->gone = status == 404 || status == 410;
		return set_failed(f, FETCH_BAD, SEG_FAILED, "fetch %s url=%s%s%s", what,
		    qurl(f, q, sizeof(q)), msg[0] ? " message=" : "",
		    msg[0] ? log_quote(qm, sizeof(qm), msg) : "");
	}
	if (g->end == UNKNOWN) {
		/* One stream of unannounced length: it ends where the server stops. */
		f->total = g->done;
		g->end = g->done > 0 ? g->done - 1 : 0;
		g->finished = 1;
		return SEG_GO_ON;
	}
	if (g->done == g->end - g->start + 1) {
		g->finished = 1;
		g->fails = 0;
		return SEG_GO_ON;
	}
	if (g->start + g->done > g->mark) {
		g->retry_at = 0;	/* a shorter range than asked: ask for the rest */
		return SEG_GO_ON;
	}
	return seg_retry(f, g, "error=\"empty response\"");
}

/* Bytes in the .part so far, for status. */
static uint64_t
have_bytes(const struct fetch *f)
{
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < f->nseg; i++)
		n += f->seg[i].done;
	return n;
}

enum ranges_result
ranges_transfer(struct fetch *f)
{
	struct seg *g;
	CURLMsg *m;
	unsigned i, left;
	enum seg_next next;
	char qe[NAME_MAX * 4 + 300];
	int running, left_msgs, finished;

	for (;;) {
		uint64_t now = clock_mono_ms();

		for (left = 0, i = 0; i < f->nseg; i++) {
			g = &f->seg[i];
			if (g->finished)
				continue;
			left++;
			if (g->h == NULL && g->retry_at <= now && seg_start(f, g) == -1) {
				seg_stop(f, g);
				return set_failed(f, FETCH_TEMP, RANGES_FAILED, "fetch error=\"cannot start a "
				    "transfer\"");
			}
		}
		if (left == 0)
			return RANGES_DONE;
		if (http_orphaned() || (f->ctl != NULL && f->ctl->interrupted(f->ctl->arg)))
			return f->failed = FETCH_INTERRUPTED, RANGES_FAILED;
		if (now >= f->deadline_ms) {
			char q[S3_URL_MAX + 8];

			/* Kept for a resume: the next attempt goes on from here. */
			return set_failed(f, FETCH_TEMP, RANGES_FAILED, "fetch limit max_time "
			    "max_ms=%llu url=%s", (unsigned long long)http_max_time_ms(f->c,
			    f->rq.src), qurl(f, q, sizeof(q)));
		}
		if (curl_multi_perform(f->multi, &running) != CURLM_OK)
			return set_failed(f, FETCH_TEMP, RANGES_FAILED, "fetch error=\"curl multi failed\"");
		finished = 0;
		while ((m = curl_multi_info_read(f->multi, &left_msgs)) != NULL) {
			if (m->msg != CURLMSG_DONE)
				continue;
			finished++;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&g);
			next = seg_done(f, g, m->data.result);
			if (next == SEG_RESTART && g->why == WHY_SPLIT) {
				log_debug("event=fetch_split name=%s size=%llu", LQ(f->stem),
				    (unsigned long long)f->total);
				ranges_stop_all(f);
				plan(f);
				if (preallocate(f) == -1 && errno == ENOSPC &&
				    (f->free_bytes < f->total || f->cap != 0)) {
					no_space(f);
					return RANGES_FAILED;
				}
				if (!f->allocated)
					return set_failed(f, FETCH_TEMP, RANGES_FAILED,
					    "fetch error=%s", download_syserr(qe, sizeof(qe),
					    "allocate", f->part, errno));
				break;	/* f->seg changed: m and g are gone */
			}
			if (next == SEG_RESTART)
				return RANGES_RESTART;
			if (next == SEG_FAILED)
				return RANGES_FAILED;
		}
		if (clock_mono_ms() - f->saved_ms >= SAVE_EVERY_MS && f->total != UNKNOWN)
			(void)resume_save(f, "download", 0);
		if (f->ctl != NULL)
			sb_download(f->ctl->sb, f->ctl->slot, have_bytes(f), f->total);
		/* A range just ended: see at once whether that was the last, not a poll later. */
		if (finished > 0)
			continue;
		if (curl_multi_poll(f->multi, NULL, 0, POLL_MS, NULL) != CURLM_OK)
			return set_failed(f, FETCH_TEMP, RANGES_FAILED, "fetch error=\"curl poll failed\"");
	}
}

void
ranges_release(struct fetch *f)
{
	uint64_t from, to;
	unsigned i;

	if (f->fd < 0 || f->total == UNKNOWN || !f->allocated)
		return;
	for (i = 0; i < f->nseg; i++) {
		from = f->seg[i].start + f->seg[i].done;
		to = i + 1 < f->nseg ? f->seg[i + 1].start : f->total;
		if (to > from)
			(void)fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			    (off_t)from, (off_t)(to - from));
	}
	f->allocated = 0;	/* a resume reserves the rest again, if there is room */
	if (f->ctl != NULL)
		reserve_drop(f->ctl->sb, f->ctl->slot);
}

void
ranges_start_fresh(struct fetch *f)
{
	memset(f->seg, 0, sizeof(f->seg));
	f->nseg = 1;
	f->total = UNKNOWN;
	f->validator[0] = '\0';
	f->version[0] = '\0';
	if (f->rq.etag[0] != '\0')
		snprintf(f->validator, sizeof(f->validator), "etag:%s", f->rq.etag);
	f->seg[0].f = f;
	f->seg[0].start = 0;
	if (f->no_ranges) {
		f->seg[0].end = UNKNOWN;
		return;
	}
	f->seg[0].probe = 1;
	f->seg[0].end = f->c->fetch.segment_min - 1;
}

