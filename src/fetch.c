/*
 * URL packets and S3 objects, downloaded by the worker that claimed the
 * request file NAME.url. For the stem STEM (NAME without .url) the inbox
 * holds, while it runs:
 *
 *   STEM.part           the download, preallocated once the size is known
 *   .STEM.part.state    what of STEM.part is there: one fixed-size record,
 *                       rewritten in place (pwrite) about once a second
 *
 * Both names are ignored by the watcher (*.part, .*). When every byte is in
 * and verified (size, Content-Length/Content-Range, sha256= when given),
 * STEM.part is fsynced, the state says "commit" (fsynced), STEM.part is
 * renamed to STEM without replacing anything, the inbox is fsynced, and only
 * then is an S3 object deleted. A worker killed at any point leaves either
 * a resumable .part or a committed packet; the state tells which.
 *
 * Progress in the state is not fsynced while downloading: a killed process
 * leaves its writes in the page cache, so they are good for a resume. Only
 * a reboot can lose them, so the state records the boot id and a state from
 * another boot starts the download over.
 *
 * Large files (>= fetch.segment_min, from servers that honour Range) are
 * fetched as fetch.segments ranges in parallel with the curl multi
 * interface, each written with pwrite at its offset. The first request asks
 * for bytes 0 to segment_min-1: a small file arrives whole in that one
 * request; for a larger one its headers give the size, it is dropped before
 * its body and the ranges start. Resumed ranges carry If-Match (or
 * If-Unmodified-Since), so a file replaced meanwhile starts over instead of
 * being stitched from two versions.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "fetch.h"
#include "http.h"
#include "ledger.h"
#include "log.h"
#include "packet.h"
#include "s3.h"
#include "sha256.h"

#define REQ_FILE_MAX   8192
#define STATE_SIZE     4096
#define STATE_MAGIC    "ingestd-fetch 1"
#define SEG_MAX        64
#define SEG_MIN_BYTES  (1024 * 1024)	/* no range smaller than this */
#define SAVE_EVERY_MS  1000
#define POLL_MS        100
#define RESTARTS_MAX   3
#define ERRBODY_MAX    2048
#define VALIDATOR_MAX  256
#define UNKNOWN        UINT64_MAX

enum why {
	WHY_NONE = 0,
	WHY_SPLIT,	/* the probe saw a large file: ranges take over */
	WHY_CHANGED,	/* another version of the file: start over */
	WHY_NORANGE,	/* Range not honoured: start over as one stream */
	WHY_TOOBIG,	/* over fetch.max_bytes */
	WHY_SIZE,	/* not the size= of the request */
	WHY_IO,		/* pwrite/fallocate failed */
	WHY_STOP	/* interrupted */
};

struct request {
	char  url[S3_URL_MAX];		/* what is fetched */
	char  shown[S3_URL_MAX];	/* for reasons: as written, no password */
	const struct conf_source *src;	/* S3: sign with this source */
	char  key[S3_KEY_MAX + 1];
	char  etag[S3_ETAG_MAX + 1];	/* S3: the listed version */
	char  sha256[SHA256_HEX];	/* "" when not given */
	long long size;			/* -1 when not given */
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
	struct seg              seg[SEG_MAX];
	unsigned                nseg;
	uint64_t                total;		/* UNKNOWN until a response says */
	int                     no_ranges;	/* the server mishandles Range: one plain GET */
	int                     allocated;
	char                    validator[VALIDATOR_MAX];	/* "etag:..." or "lm:..." or "" */
	uint64_t                saved_ms;
	char                    boot[64];
	char                    urlhash[SHA256_HEX];
	char                    protocols[64];
	char                   *reason;
	size_t                  reasonlen;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
fetch_is_url_packet(const char *name)
{
	size_t n = strlen(name), m = strlen(FETCH_SUFFIX);

	return n > m && strcmp(name + n - m, FETCH_SUFFIX) == 0;
}

/* --- reasons ----------------------------------------------------------------- */

/*
 * Write the reason and give rc. A macro, not a varargs function: clang-tidy 14
 * reports va_list false positives when it checks several files in one run.
 */
#define set_reason(f, rc, ...) \
	(snprintf((f)->reason, (f)->reasonlen, __VA_ARGS__), (rc))

static const char *
qurl(const struct fetch *f, char *buf, size_t len)
{
	return log_quote(buf, len, f->rq.shown);
}

/* --- the request file ----------------------------------------------------------- */

static int
bad_request(struct fetch *f, unsigned line, const char *what)
{
	char q[256];

	return set_reason(f, PACKET_BAD, "fetch bad_request line=%u error=%s", line,
	    log_quote(q, sizeof(q), what));
}

static int
is_hex64(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdefABCDEF") == 64;
}

/* s3://BUCKET/KEY (KEY percent-encoded as a path) */
static int
parse_s3(struct fetch *f, const char *line, const char *endpoint, unsigned lineno)
{
	struct request *r = &f->rq;
	char bucket[256];
	const char *p = line + 5, *slash = strchr(p, '/');

	if (slash == NULL || slash == p || (size_t)(slash - p) >= sizeof(bucket))
		return bad_request(f, lineno, "expected s3://BUCKET/KEY");
	memcpy(bucket, p, (size_t)(slash - p));
	bucket[slash - p] = '\0';
	if (s3_decode(slash + 1, r->key, sizeof(r->key)) <= 0)
		return bad_request(f, lineno, "bad key in s3://BUCKET/KEY");
	r->src = s3_find_source(f->c, endpoint, bucket, r->key);
	if (r->src == NULL)
		return bad_request(f, lineno, "no configured source has this bucket and prefix");
	if (s3_object_url(r->src, r->key, r->url, sizeof(r->url)) == -1)
		return bad_request(f, lineno, "key too long");
	snprintf(r->shown, sizeof(r->shown), "%s", line);
	return 0;
}

static int
read_request(struct fetch *f, const char *path)
{
	struct request *r = &f->rq;
	char buf[REQ_FILE_MAX + 1], *line, *save = NULL, *end;
	char first[S3_URL_MAX] = "", endpoint[S3_URL_MAX] = "";
	unsigned lineno = 0, firstline = 0;
	ssize_t n;
	size_t len = 0;
	int fd;

	r->size = -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return set_reason(f, PACKET_TEMP, "fetch error=\"cannot open the request: %s\"",
		    strerror(errno));
	while (len < sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (len > REQ_FILE_MAX)
		return bad_request(f, 0, "larger than 8 KiB");
	if (memchr(buf, '\0', len) != NULL)
		return bad_request(f, 0, "holds a NUL byte");
	buf[len] = '\0';
	for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		line[strcspn(line, "\r")] = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line == '\0' || *line == '#')
			continue;
		if (strncmp(line, "sha256=", 7) == 0) {
			if (!is_hex64(line + 7))
				return bad_request(f, lineno, "sha256= wants 64 hex digits");
			for (n = 0; n < 64; n++)
				r->sha256[n] = (char)(line[7 + n] | 0x20);
			r->sha256[64] = '\0';
		} else if (strncmp(line, "size=", 5) == 0) {
			errno = 0;
			r->size = strtoll(line + 5, &end, 10);
			if (line[5] < '0' || line[5] > '9' || *end != '\0' || errno != 0)
				return bad_request(f, lineno, "size= wants a number of bytes");
		} else if (strncmp(line, "etag=", 5) == 0) {
			if (strlen(line + 5) > S3_ETAG_MAX)
				return bad_request(f, lineno, "etag= too long");
			snprintf(r->etag, sizeof(r->etag), "%s", line + 5);
		} else if (strncmp(line, "endpoint=", 9) == 0) {
			snprintf(endpoint, sizeof(endpoint), "%s", line + 9);
		} else if (first[0] == '\0' && strstr(line, "://") != NULL) {
			if (strlen(line) >= sizeof(first))
				return bad_request(f, lineno, "URL too long");
			snprintf(first, sizeof(first), "%s", line);
			firstline = lineno;
		} else {
			return bad_request(f, lineno, first[0] ? "unknown line (expected sha256=, "
			    "size= or etag=)" : "expected a URL");
		}
	}
	if (first[0] == '\0')
		return bad_request(f, lineno, "no URL");
	if (strncmp(first, "s3://", 5) == 0)
		return parse_s3(f, first, endpoint[0] ? endpoint : NULL, firstline);
	if (strncmp(first, "http://", 7) != 0 && strncmp(first, "https://", 8) != 0)
		return bad_request(f, firstline, "only http://, https:// and s3:// URLs");
	if (strpbrk(first, " \t\"<>\\^`{|}") != NULL)
		return bad_request(f, firstline, "the URL has characters that must be escaped");
	snprintf(r->url, sizeof(r->url), "%s", first);
	http_redact(first, r->shown, sizeof(r->shown));
	return 0;
}

/* --- the state record ------------------------------------------------------------ */

static void
read_boot_id(char *out, size_t len)
{
	ssize_t n;
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);

	out[0] = '\0';
	if (fd == -1)
		return;
	n = read(fd, out, len - 1);
	close(fd);
	out[n > 0 ? n : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

/* Write the state record in place: one pwrite of STATE_SIZE bytes. */
static int
state_save(struct fetch *f, const char *phase, int durable)
{
	char buf[STATE_SIZE], sum[SHA256_HEX];
	size_t off;
	unsigned i;
	int n;

	memset(buf, 0, sizeof(buf));
	n = snprintf(buf, sizeof(buf), STATE_MAGIC "\nboot=%s\nurl=%s\nvalidator=%s\n"
	    "total=%" PRIu64 "\nphase=%s\nsegments=%u\n", f->boot, f->urlhash, f->validator,
	    f->total, phase, f->nseg);
	off = (size_t)n;
	for (i = 0; i < f->nseg && off < sizeof(buf) - 200; i++) {
		n = snprintf(buf + off, sizeof(buf) - off, "seg=%" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
		    f->seg[i].start, f->seg[i].end, f->seg[i].done);
		off += (size_t)n;
	}
	sha256_hex_of(buf, off, sum);
	snprintf(buf + off, sizeof(buf) - off, "sum=%s\n", sum);
	if (pwrite(f->statefd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
		return -1;
	f->saved_ms = now_ms();
	return durable ? fsync(f->statefd) : 0;
}

/*
 * Load what a previous run left. Returns the phase ("download", "verified",
 * "commit") or NULL when there is nothing usable (then start over).
 */
static const char *
state_load(struct fetch *f)
{
	static char phase[16];
	char buf[STATE_SIZE + 1], sum[SHA256_HEX], *s, *line, *save = NULL;
	uint64_t a, b, d, expect = 0;
	unsigned nseg = 0, i;
	ssize_t n;

	n = pread(f->statefd, buf, STATE_SIZE, 0);
	if (n != STATE_SIZE)
		return NULL;
	buf[STATE_SIZE] = '\0';
	if ((s = strstr(buf, "sum=")) == NULL)
		return NULL;
	sha256_hex_of(buf, (size_t)(s - buf), sum);
	if (strncmp(s + 4, sum, 64) != 0)
		return NULL;
	*s = '\0';
	phase[0] = '\0';
	f->nseg = 0;
	for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "boot=", 5) == 0 && strcmp(line + 5, f->boot) != 0 &&
		    phase[0] == '\0')
			snprintf(phase, sizeof(phase), "otherboot");
		else if (strncmp(line, "url=", 4) == 0 && strcmp(line + 4, f->urlhash) != 0)
			return NULL;
		else if (strncmp(line, "validator=", 10) == 0)
			snprintf(f->validator, sizeof(f->validator), "%s", line + 10);
		else if (strncmp(line, "total=", 6) == 0)
			f->total = strtoull(line + 6, NULL, 10);
		else if (strncmp(line, "phase=", 6) == 0 && (strcmp(phase, "otherboot") != 0 ||
		    strcmp(line + 6, "download") != 0))
			/* Past "download" the data was fsynced: good on any boot. */
			snprintf(phase, sizeof(phase), "%s", line + 6);
		else if (strncmp(line, "seg=", 4) == 0) {
			if (nseg >= SEG_MAX || sscanf(line + 4, "%" SCNu64 " %" SCNu64 " %" SCNu64,
			    &a, &b, &d) != 3 || a != expect || b < a || d > b - a + 1)
				return NULL;
			f->seg[nseg].start = a;
			f->seg[nseg].end = b;
			f->seg[nseg].done = d;
			expect = b + 1;
			nseg++;
		}
	}
	if (strcmp(phase, "otherboot") == 0) {
		log_info("event=fetch_restart name=%s why=\"progress from another boot\"", f->stem);
		return NULL;
	}
	if (f->total == UNKNOWN || (f->total > 0 && expect != f->total) || phase[0] == '\0')
		return NULL;
	f->nseg = nseg;
	for (i = 0; i < nseg; i++) {
		f->seg[i].f = f;
		f->seg[i].finished = f->seg[i].done == f->seg[i].end - f->seg[i].start + 1;
	}
	return phase;
}

/* --- one response ---------------------------------------------------------------- */

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct seg *g = arg;
	size_t len = size * n, vlen;
	const char *v;

	if (len >= 5 && strncasecmp(data, "HTTP/", 5) == 0) {
		/* A new response (redirect, 100 Continue): forget the last one. */
		g->crange[0] = g->etag[0] = g->lastmod[0] = '\0';
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

static int
preallocate(struct fetch *f)
{
	int e;

	if (f->allocated || f->total == UNKNOWN || f->total == 0)
		return 0;
	/* Whole size now: ENOSPC shows before the download, not at its end. */
	if ((e = posix_fallocate(f->fd, 0, (off_t)f->total)) != 0) {
		errno = e;
		return -1;
	}
	f->allocated = 1;
	return 0;
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
		g->end = f->total == UNKNOWN ? UNKNOWN : f->total - 1;
		g->probe = 0;
	}
	if (f->validator[0] == '\0')
		snprintf(f->validator, sizeof(f->validator), "%s", val);
	if (f->total != UNKNOWN && f->total > f->c->fetch.max_bytes) {
		g->why = WHY_TOOBIG;
		return -1;
	}
	if (f->total != UNKNOWN && f->rq.size >= 0 && f->total != (uint64_t)f->rq.size) {
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
		g->why = WHY_IO;
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
	g->crange[0] = g->etag[0] = g->lastmod[0] = '\0';
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

static void
stop_all(struct fetch *f)
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

static int
transient_curl(CURLcode res)
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

/* Besides PACKET_OK/BAD/TEMP and FETCH_INTERRUPTED, which they must not equal: */
enum { GO_ON = 10, RESTART = 11 };

/* A failure of range g that may pass: retry it later, or give up the fetch. */
static int
seg_retry(struct fetch *f, struct seg *g, const char *what)
{
	char q[S3_URL_MAX + 8];

	/* A response that moved the range forward was progress: count again from 1. */
	g->fails = g->start + g->done > g->mark ? 1 : g->fails + 1;
	if (g->fails > f->c->fetch.retries)
		return set_reason(f, PACKET_TEMP, "fetch %s attempts=%u url=%s", what, g->fails,
		    qurl(f, q, sizeof(q)));
	g->retry_at = now_ms() + http_backoff_ms(f->c->fetch.backoff_ms, g->fails);
	log_info("event=fetch_retry name=%s %s attempt=%u range=%" PRIu64 "- delay_ms=%llu",
	    f->stem, what, g->fails, g->start + g->done,
	    http_backoff_ms(f->c->fetch.backoff_ms, g->fails));
	return GO_ON;
}

/* The outcome of one finished transfer: GO_ON, RESTART or a PACKET_ result. */
static int
seg_done(struct fetch *f, struct seg *g, CURLcode res)
{
	char q[S3_URL_MAX + 8], what[512], code[64] = "", msg[256] = "", qm[300];
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
		return RESTART;	/* handled by the caller: plan the ranges */
	case WHY_NORANGE:
		f->no_ranges = 1;
		return RESTART;
	case WHY_CHANGED:
		return RESTART;
	case WHY_TOOBIG:
		if (f->total == UNKNOWN)
			return set_reason(f, PACKET_BAD, "fetch limit max_bytes max=%" PRIu64,
			    f->c->fetch.max_bytes);
		return set_reason(f, PACKET_BAD, "fetch limit max_bytes size=%" PRIu64 " max=%" PRIu64,
		    f->total, f->c->fetch.max_bytes);
	case WHY_SIZE:
		return set_reason(f, PACKET_BAD, "fetch size_mismatch expected=%lld got=%" PRIu64,
		    f->rq.size, f->total);
	case WHY_IO:
		return set_reason(f, PACKET_TEMP, "fetch error=\"write %s: %s\"", f->part,
		    strerror(g->ioerr));
	case WHY_STOP:
	case WHY_NONE:
		break;
	}
	if (res != CURLE_OK) {
		if (!transient_curl(res))
			return set_reason(f, PACKET_BAD, "fetch error=%s url=%s",
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
		return GO_ON;
	}
	if (status == 412 || status == 416)
		return RESTART;	/* the file changed under us */
	if (status >= 300 || status < 200) {
		if (g->errlen > 0)
			s3_parse_error(g->errbody, g->errlen, code, sizeof(code), msg, sizeof(msg));
		snprintf(what, sizeof(what), "status=%ld%s%s", status, code[0] ? " code=" : "",
		    code[0] ? log_quote(qm, sizeof(qm), code) : "");
		if (status == 408 || status == 429 || status >= 500)
			return seg_retry(f, g, what);
		return set_reason(f, PACKET_BAD, "fetch %s url=%s%s%s", what,
		    qurl(f, q, sizeof(q)), msg[0] ? " message=" : "",
		    msg[0] ? log_quote(qm, sizeof(qm), msg) : "");
	}
	if (g->end == UNKNOWN) {
		/* One stream of unannounced length: it ends where the server stops. */
		f->total = g->done;
		g->end = g->done > 0 ? g->done - 1 : 0;
		g->finished = 1;
		return GO_ON;
	}
	if (g->done == g->end - g->start + 1) {
		g->finished = 1;
		g->fails = 0;
		return GO_ON;
	}
	if (g->start + g->done > g->mark) {
		g->retry_at = 0;	/* a shorter range than asked: ask for the rest */
		return GO_ON;
	}
	return seg_retry(f, g, "error=\"empty response\"");
}

/*
 * Run the ranges until all are in. Returns PACKET_OK, PACKET_BAD, PACKET_TEMP,
 * FETCH_INTERRUPTED or RESTART (start over: the file changed, or Range was
 * not honoured).
 */
static int
transfer(struct fetch *f)
{
	struct seg *g;
	CURLMsg *m;
	unsigned i, left;
	int running, rc, left_msgs;

	for (;;) {
		uint64_t now = now_ms();

		for (left = 0, i = 0; i < f->nseg; i++) {
			g = &f->seg[i];
			if (g->finished)
				continue;
			left++;
			if (g->h == NULL && g->retry_at <= now && seg_start(f, g) == -1) {
				seg_stop(f, g);
				return set_reason(f, PACKET_TEMP, "fetch error=\"cannot start a "
				    "transfer\"");
			}
		}
		if (left == 0)
			return PACKET_OK;
		if (f->ctl != NULL && f->ctl->interrupted(f->ctl->arg))
			return FETCH_INTERRUPTED;
		if (curl_multi_perform(f->multi, &running) != CURLM_OK)
			return set_reason(f, PACKET_TEMP, "fetch error=\"curl multi failed\"");
		while ((m = curl_multi_info_read(f->multi, &left_msgs)) != NULL) {
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&g);
			rc = seg_done(f, g, m->data.result);
			if (rc == RESTART && g->why == WHY_SPLIT) {
				log_debug("event=fetch_split name=%s size=%" PRIu64, f->stem, f->total);
				stop_all(f);
				plan(f);
				if (preallocate(f) == -1)
					return set_reason(f, PACKET_TEMP, "fetch error=\"allocate %s: %s\"",
					    f->part, strerror(errno));
				break;	/* f->seg changed: m and g are gone */
			}
			if (rc != GO_ON)
				return rc;
		}
		if (now_ms() - f->saved_ms >= SAVE_EVERY_MS && f->total != UNKNOWN)
			(void)state_save(f, "download", 0);
		if (curl_multi_poll(f->multi, NULL, 0, POLL_MS, NULL) != CURLM_OK)
			return set_reason(f, PACKET_TEMP, "fetch error=\"curl poll failed\"");
	}
}

/* --- verification and commit ---------------------------------------------------- */

static int
verify(struct fetch *f)
{
	char got[SHA256_HEX];
	unsigned char d[SHA256_LEN], *buf;
	struct sha256 ctx;
	struct stat st;
	off_t off = 0;
	ssize_t n;

	if (fstat(f->fd, &st) == -1)
		return set_reason(f, PACKET_TEMP, "fetch error=\"stat: %s\"", strerror(errno));
	if ((uint64_t)st.st_size != f->total && ftruncate(f->fd, (off_t)f->total) == -1)
		return set_reason(f, PACKET_TEMP, "fetch error=\"truncate: %s\"", strerror(errno));
	if (f->rq.size >= 0 && (uint64_t)f->rq.size != f->total)
		return set_reason(f, PACKET_BAD, "fetch size_mismatch expected=%lld got=%" PRIu64,
		    f->rq.size, f->total);
	if (f->rq.sha256[0] == '\0')
		return PACKET_OK;
	if ((buf = malloc(1024 * 1024)) == NULL)
		return set_reason(f, PACKET_TEMP, "fetch error=\"out of memory\"");
	sha256_init(&ctx);
	while ((n = pread(f->fd, buf, 1024 * 1024, off)) > 0) {
		sha256_update(&ctx, buf, (size_t)n);
		off += n;
	}
	free(buf);
	if (n == -1)
		return set_reason(f, PACKET_TEMP, "fetch error=\"read: %s\"", strerror(errno));
	sha256_final(&ctx, d);
	sha256_hex(d, got);
	if (strcmp(got, f->rq.sha256) != 0)
		return set_reason(f, PACKET_BAD, "fetch sha256_mismatch expected=%s got=%s",
		    f->rq.sha256, got);
	return PACKET_OK;
}

/* DELETE the object now that the packet is durably in the inbox. Never fails the packet. */
static int
s3_delete(struct fetch *f)
{
	struct curl_slist *hdrs = NULL, *l;
	char cond[S3_ETAG_MAX + 16], q[S3_URL_MAX + 8], qk[3 * S3_KEY_MAX];
	unsigned attempt;
	long status = 0;
	CURLcode res = CURLE_OK;
	CURL *h;

	for (attempt = 1;; attempt++) {
		if ((h = curl_easy_init()) == NULL)
			break;
		http_defaults(h, f->c);
		curl_easy_setopt(h, CURLOPT_URL, f->rq.url);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 60000L);
		hdrs = NULL;
		/* Servers that know conditional deletes keep a version uploaded since. */
		if (f->rq.etag[0] != '\0') {
			snprintf(cond, sizeof(cond), "If-Match: %s", f->rq.etag);
			if ((l = curl_slist_append(hdrs, cond)) != NULL)
				hdrs = l;
		}
		if (s3_curl_sign(h, f->rq.src, &f->cr, &hdrs) == 0) {
			curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
			res = curl_easy_perform(h);
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		}
		curl_easy_cleanup(h);
		curl_slist_free_all(hdrs);
		if (res == CURLE_OK && (status == 200 || status == 204 || status == 404)) {
			log_info("event=s3_delete name=%s key=%s status=%ld", f->stem,
			    log_quote(qk, sizeof(qk), f->rq.key), status);
			if (ledger_forget(f->s, f->rq.src, f->rq.key) == -1)
				log_warn("event=ledger name=%s", f->stem);
			return 0;
		}
		if (!(res != CURLE_OK ? transient_curl(res) : status == 429 || status >= 500) ||
		    attempt > f->c->fetch.retries)
			break;
		{
			uint64_t until = now_ms() + http_backoff_ms(f->c->fetch.backoff_ms, attempt);

			while (now_ms() < until) {
				if (f->ctl != NULL && f->ctl->interrupted(f->ctl->arg))
					return FETCH_INTERRUPTED;
				usleep(POLL_MS * 1000);
			}
		}
	}
	log_warnx("event=s3_delete_failed name=%s url=%s status=%ld error=%s", f->stem,
	    qurl(f, q, sizeof(q)), status, log_quote(qk, sizeof(qk), curl_easy_strerror(res)));
	return 0;
}

static int
commit(struct fetch *f)
{
	if (fsync(f->fd) == -1)
		return set_reason(f, PACKET_TEMP, "fetch error=\"fsync: %s\"", strerror(errno));
	if (state_save(f, "commit", 1) == -1)
		return set_reason(f, PACKET_TEMP, "fetch error=\"state: %s\"", strerror(errno));
	if (renameat2(f->s->inboxfd, f->part, f->s->inboxfd, f->stem, RENAME_NOREPLACE) == -1) {
		int e = errno;
		char q[NAME_MAX * 4 + 3];

		(void)state_save(f, "verified", 1);
		if (e == EEXIST)
			return set_reason(f, PACKET_TEMP, "fetch name_taken name=%s",
			    log_quote(q, sizeof(q), f->stem));
		return set_reason(f, PACKET_TEMP, "fetch error=\"rename: %s\"", strerror(e));
	}
	if (fsync(f->s->inboxfd) == -1)
		return set_reason(f, PACKET_TEMP, "fetch error=\"fsync inbox: %s\"", strerror(errno));
	return PACKET_OK;
}

/* --- the whole fetch ------------------------------------------------------------- */

static void
discard(struct fetch *f)
{
	(void)unlinkat(f->s->inboxfd, f->part, 0);
	(void)unlinkat(f->s->inboxfd, f->statef, 0);
}

static int
open_part(struct fetch *f, int fresh)
{
	if (f->fd >= 0)
		close(f->fd);
	f->allocated = 0;
	f->fd = openat(f->s->inboxfd, f->part, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
	    (fresh ? O_TRUNC : 0), 0640);
	if (f->fd == -1)
		return set_reason(f, PACKET_TEMP, "fetch error=\"open %s: %s\"", f->part,
		    strerror(errno));
	return PACKET_OK;
}

static void
start_fresh(struct fetch *f)
{
	memset(f->seg, 0, sizeof(f->seg));
	f->nseg = 1;
	f->total = UNKNOWN;
	f->validator[0] = '\0';
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

static int
run(struct fetch *f)
{
	const char *phase;
	struct stat st;
	unsigned restarts;
	int rc, fresh = 1;

	phase = state_load(f);
	if (phase != NULL && strcmp(phase, "commit") == 0) {
		if (fstatat(f->s->inboxfd, f->part, &st, AT_SYMLINK_NOFOLLOW) == -1 &&
		    errno == ENOENT)
			return PACKET_OK;	/* renamed before a crash: only the delete is left */
		phase = "verified";
	}
	if (phase != NULL && fstatat(f->s->inboxfd, f->part, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode) && (uint64_t)st.st_size == f->total) {
		if ((rc = open_part(f, 0)) != PACKET_OK)
			return rc;
		f->allocated = 1;
		if (strcmp(phase, "verified") == 0)
			return commit(f);
		fresh = 0;
		log_info("event=fetch_resume name=%s size=%" PRIu64 " segments=%u", f->stem, f->total,
		    f->nseg);
	}
	for (restarts = 0;; restarts++) {
		if (fresh) {
			start_fresh(f);
			if ((rc = open_part(f, 1)) != PACKET_OK)
				return rc;
		}
		rc = transfer(f);
		stop_all(f);
		if (rc != RESTART)
			break;
		if (restarts >= RESTARTS_MAX)
			return set_reason(f, PACKET_TEMP, "fetch changed restarts=%u url=%s", restarts,
			    f->rq.shown);
		log_info("event=fetch_restart name=%s why=\"changed or Range not honoured\"",
		    f->stem);
		fresh = 1;
	}
	if (rc != PACKET_OK) {
		if (rc == FETCH_INTERRUPTED || rc == PACKET_TEMP)
			(void)state_save(f, "download", 0);
		return rc;
	}
	if ((rc = verify(f)) != PACKET_OK)
		return rc;
	return commit(f);
}

int
fetch_url_packet(const struct conf *c, const struct spool *s, const char *urlfile,
    const char *name, const struct fetch_ctl *ctl, char *reason, size_t reasonlen)
{
	struct fetch *f;
	size_t len = strlen(name) - strlen(FETCH_SUFFIX);
	char err[512], q[NAME_MAX * 4 + 3];
	int rc;

	if (reasonlen > 0)
		reason[0] = '\0';
	if (!fetch_is_url_packet(name))
		return PACKET_BAD;
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		snprintf(reason, reasonlen, "fetch error=\"out of memory\"");
		return PACKET_TEMP;
	}
	f->c = c;
	f->s = s;
	f->ctl = ctl;
	f->fd = f->statefd = -1;
	f->reason = reason;
	f->reasonlen = reasonlen;
	f->total = UNKNOWN;
	if (http_global_init() == -1) {
		rc = set_reason(f, PACKET_TEMP, "fetch error=\"curl_global_init failed\"");
		goto out;
	}
	/* .STEM.part.state must fit in a name. */
	if (len + strlen(".part.state") + 1 > NAME_MAX) {
		rc = set_reason(f, PACKET_BAD, "fetch name_too_long");
		goto out;
	}
	snprintf(f->stem, sizeof(f->stem), "%.*s", (int)len, name);
	snprintf(f->part, sizeof(f->part), "%s.part", f->stem);
	snprintf(f->statef, sizeof(f->statef), ".%s.part.state", f->stem);
	if ((rc = read_request(f, urlfile)) != PACKET_OK)
		goto out;
	if (f->rq.src != NULL && s3_credentials(f->rq.src, &f->cr, err, sizeof(err)) == -1) {
		rc = set_reason(f, PACKET_TEMP, "fetch credentials error=%s",
		    log_quote(q, sizeof(q), err));
		goto out;
	}
	read_boot_id(f->boot, sizeof(f->boot));
	sha256_hex_of(f->rq.url, strlen(f->rq.url), f->urlhash);
	f->statefd = openat(s->inboxfd, f->statef, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0640);
	if (f->statefd == -1) {
		rc = set_reason(f, PACKET_TEMP, "fetch error=\"open %s: %s\"", f->statef,
		    strerror(errno));
		goto out;
	}
	/* A second request of the same name must not write into this .part. */
	if (flock(f->statefd, LOCK_EX | LOCK_NB) == -1) {
		rc = set_reason(f, PACKET_TEMP, "fetch busy name=%s", log_quote(q, sizeof(q), f->stem));
		close(f->statefd);
		f->statefd = -1;
		goto out;
	}
	if ((f->multi = curl_multi_init()) == NULL) {
		rc = set_reason(f, PACKET_TEMP, "fetch error=\"curl_multi_init failed\"");
		goto out;
	}
	curl_multi_setopt(f->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
	log_info("event=fetch name=%s url=%s", f->stem, log_quote(err, sizeof(err), f->rq.shown));
	rc = run(f);
	if (rc == PACKET_OK) {
		if (f->rq.src != NULL && f->rq.src->del == SOURCE_DELETE_AFTER_COMMIT &&
		    s3_delete(f) == FETCH_INTERRUPTED) {
			rc = FETCH_INTERRUPTED;	/* the state says commit: only the delete is redone */
			goto out;
		}
		(void)unlinkat(s->inboxfd, f->statef, 0);
		log_info("event=fetched name=%s size=%" PRIu64, f->stem, f->total);
	} else if (rc == PACKET_BAD) {
		discard(f);
	}
out:
	if (f->multi != NULL) {
		stop_all(f);
		curl_multi_cleanup(f->multi);
	}
	if (f->fd >= 0)
		close(f->fd);
	if (f->statefd >= 0)
		close(f->statefd);
	explicit_bzero(&f->cr, sizeof(f->cr));
	free(f);
	return rc;
}
