/*
 * The S3 source process. Each poll: read what workers appended to the ledger,
 * note which request files are still pending (inbox/NAME.url, inbox/NAME.part,
 * work/J/pkt/NAME.url), list the bucket prefix page by page, and for each
 * object that is neither pending nor in the ledger with the same ETag, write
 * inbox/.s3.NAME.url.tmp, rename it to inbox/NAME.url without replacing
 * anything, and add it to the ledger (ledger.c). The watcher queues it; a
 * worker fetches it. After a complete listing, entries for keys no longer
 * listed are dropped from the ledger when they are many.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "clock.h"
#include "fetch.h"
#include "http.h"
#include "ledger.h"
#include "log.h"
#include "request.h"
#include "s3.h"
#include "source.h"
#include "source_cluster.h"

#define LIST_BODY_MAX  (32 * 1024 * 1024)
#define PAGE_KEYS      1000

struct names {		/* pending request names under work/, sorted */
	char  **v;
	size_t  n;
};

struct source {
	const struct conf        *c;
	const struct spool       *s;
	const struct conf_source *src;
	size_t                    idx;
	int                       rfd;		/* SPOOL/remote */
	struct ledger             lg;
	struct s3_creds           cr;
	char                      lasterr[1024];
	CURL                     *h;
	struct scl               *scl;		/* cluster mode, else NULL */
};

/* --- pending requests ---------------------------------------------------------------- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
names_free(struct names *w)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		free(w->v[i]);
	free(w->v);
	w->v = NULL;
	w->n = 0;
}

/* Add the request files of dfd's jobs (J/pkt/NAME.url) to w. */
static void
job_names(int dfd, struct names *w)
{
	struct dirent *de, *pe;
	DIR *d, *pd;
	char **v;
	int fd, pfd;

	if ((fd = dup(dfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		pfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pfd == -1)
			continue;
		fd = openat(pfd, "pkt", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		close(pfd);
		if (fd == -1 || (pd = fdopendir(fd)) == NULL) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		while ((pe = readdir(pd)) != NULL) {
			if (!fetch_is_url_packet(pe->d_name))
				continue;
			if ((v = reallocarray(w->v, w->n + 1, sizeof(*v))) == NULL)
				break;
			w->v = v;
			if ((w->v[w->n] = strdup(pe->d_name)) != NULL)
				w->n++;
		}
		closedir(pd);
	}
	closedir(d);
}

/*
 * Names of request files claimed by workers: work/J/pkt/NAME.url, and
 * defer/DUE.J/pkt/NAME.url for a download waiting to be tried again. A job
 * moves from work/ to defer/ and back: work/ is read before and after
 * defer/, so that a job moved while they are read is seen in one of them.
 */
static void
work_names(struct source *so, struct names *w)
{
	job_names(so->s->workfd, w);
	job_names(so->s->deferfd, w);
	job_names(so->s->workfd, w);
	if (w->n > 1)
		qsort(w->v, w->n, sizeof(*w->v), cmp_str);
}

static int
pending(struct source *so, const struct names *w, const char *name)
{
	char n[NAME_MAX + 16];
	const char *p = n;

	snprintf(n, sizeof(n), "%s.url", name);
	if (faccessat(so->s->inboxfd, n, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
	    (w->n > 0 && bsearch(&p, w->v, w->n, sizeof(*w->v), cmp_str) != NULL))
		return 1;
	snprintf(n, sizeof(n), "%s.part", name);
	return faccessat(so->s->inboxfd, n, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* --- listing ------------------------------------------------------------------------- */

struct body {
	char   *p;
	size_t  len;
	int     toolong;
};

static size_t
on_list_body(char *data, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t len = size * n;
	char *p;

	if (b->len + len > LIST_BODY_MAX) {
		b->toolong = 1;
		return 0;
	}
	if ((p = realloc(b->p, b->len + len + 1)) == NULL)
		return 0;
	b->p = p;
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return len;
}

/*
 * Log an error once, until it changes: a poll every few seconds must not
 * flood. msg is a whole log line whose outside values its callers quoted.
 */
static void
complain(struct source *so, const char *msg)
{
	if (strcmp(msg, so->lasterr) == 0) {
		log_debug("%s", msg); /* logcheck: safe */
		return;
	}
	snprintf(so->lasterr, sizeof(so->lasterr), "%s", msg);
	log_warnx("%s", msg); /* logcheck: safe */
}

static int
list_page(struct source *so, const char *token, struct s3_listing *l)
{
	char url[S3_URL_MAX], msg[512], code[64], text[256], qc[80], qt[300], err[256];
	struct curl_slist *hdrs = NULL;
	struct body b = { NULL, 0, 0 };
	long status = 0;
	CURLcode res;
	int rc = -1;

	if (s3_list_url(so->src, token, PAGE_KEYS, url, sizeof(url)) == -1) {
		complain(so, "event=list error=\"continuation token too long\"");
		return -1;
	}
	curl_easy_reset(so->h);
	http_defaults(so->h, so->c);
	curl_easy_setopt(so->h, CURLOPT_URL, url);
	curl_easy_setopt(so->h, CURLOPT_TIMEOUT_MS, (long)so->c->fetch.request_timeout_ms);
	curl_easy_setopt(so->h, CURLOPT_WRITEFUNCTION, on_list_body);
	curl_easy_setopt(so->h, CURLOPT_WRITEDATA, &b);
	if (s3_curl_sign(so->h, so->src, &so->cr, &hdrs) == -1) {
		complain(so, "event=list error=\"cannot sign the request\"");
		goto out;
	}
	curl_easy_setopt(so->h, CURLOPT_HTTPHEADER, hdrs);
	res = curl_easy_perform(so->h);
	if (http_stopped(res) && http_orphaned())
		_exit(0);	/* the supervisor is gone: so is the reason to list */
	curl_easy_getinfo(so->h, CURLINFO_RESPONSE_CODE, &status);
	if (res != CURLE_OK) {
		snprintf(msg, sizeof(msg), "event=list source=%zu bucket=%s error=%s", so->idx,
		    LQ(so->src->bucket), log_quote(qt, sizeof(qt), b.toolong ? "listing too large" :
		    curl_easy_strerror(res)));
		complain(so, msg);
		goto out;
	}
	if (status != 200) {
		s3_parse_error(b.p ? b.p : "", b.len, code, sizeof(code), text, sizeof(text));
		snprintf(msg, sizeof(msg), "event=list source=%zu bucket=%s status=%ld code=%s "
		    "message=%s", so->idx, LQ(so->src->bucket), status, log_quote(qc, sizeof(qc), code),
		    log_quote(qt, sizeof(qt), text));
		complain(so, msg);
		goto out;
	}
	if (s3_parse_listing(b.p ? b.p : "", b.len, l, err, sizeof(err)) == -1) {
		snprintf(msg, sizeof(msg), "event=list source=%zu bucket=%s error=%s", so->idx,
		    LQ(so->src->bucket), log_quote(qt, sizeof(qt), err));
		complain(so, msg);
		goto out;
	}
	so->lasterr[0] = '\0';
	rc = 0;
out:
	curl_slist_free_all(hdrs);
	free(b.p);
	return rc;
}

enum hand_off {
	HANDED_OFF,		/* in the ledger, and in the inbox or the work stream */
	HAND_OFF_TAKEN,		/* a request of that name is already there */
	HAND_OFF_ERROR,		/* errno says why */
	HAND_OFF_FAILED		/* the work stream refused it: logged */
};

/* Hand obj off: as inbox/NAME.url, or into the cluster's work stream. */
static enum hand_off
hand_off(struct source *so, const struct s3_object *obj, const char *name)
{
	char qk[3 * S3_KEY_MAX + 8], qn[NAME_MAX * 4 + 3], req[NAME_MAX + 16];

	if (so->scl != NULL) {
		if (scl_offer(so->scl, obj) == -1)
			return HAND_OFF_FAILED;
	} else {
		switch (request_write(so->s->inboxfd, name, so->src, obj->key, obj->etag,
		    obj->size)) {
		case REQUEST_WRITTEN:
			break;
		case REQUEST_TAKEN:
			return HAND_OFF_TAKEN;
		case REQUEST_WRITE_ERROR:
			return HAND_OFF_ERROR;
		}
		snprintf(req, sizeof(req), "%s.url", name);
		log_info("event=queued source=%zu key=%s name=%s size=%llu", so->idx,
		    log_quote(qk, sizeof(qk), obj->key), log_quote(qn, sizeof(qn), req),
		    (unsigned long long)obj->size);
	}
	if (ledger_add(&so->lg, obj->key, obj->etag) == -1)
		log_warn("event=ledger source=%zu", so->idx);
	return HANDED_OFF;
}

/*
 * Cluster mode, delete: after_commit: an object still listed this long
 * after it was published is published again. The work stream is not the spool: a stream lost with
 * its only server, or purged, must not strand what the bucket still holds.
 * A message that finds its marker is acked and skipped, so a republish
 * costs a message, and a download only when the first is still under way.
 */
static uint64_t
republish_ms(const struct source *so)
{
	uint64_t t = 10 * so->c->cluster.lease_ms;

	return t > 3600 * 1000 ? t : 3600 * 1000;
}

/* One pass over the whole prefix. 0 when every page was read. */
static int
poll_once(struct source *so)
{
	const char *pre = so->src->prefix != NULL ? so->src->prefix : "";
	struct s3_listing l;
	struct names w = { NULL, 0 };
	struct ledger_entry *e;
	char *token = NULL, name[S3_LOCAL_NAME_MAX + 1], qk[3 * S3_KEY_MAX + 8];
	size_t i, queued = 0, pages = 0, dropped;
	int rc = 0;

	ledger_read(&so->lg);
	work_names(so, &w);
	ledger_unsee(&so->lg);
	do {
		if (list_page(so, token, &l) == -1) {
			rc = -1;
			break;
		}
		pages++;
		for (i = 0; i < l.n; i++) {
			const struct s3_object *obj = &l.v[i];
			size_t klen = strlen(obj->key);

			if (strncmp(obj->key, pre, strlen(pre)) != 0 || obj->key[klen - 1] == '/')
				continue;	/* not ours, or a "folder" marker */
			if ((e = ledger_lookup(&so->lg, obj->key)) != NULL) {
				e->seen = 1;
				if (strcmp(e->etag, obj->etag[0] ? obj->etag : "-") == 0 &&
				    !(so->scl != NULL && !e->failed &&
				    so->src->del == SOURCE_DELETE_AFTER_COMMIT &&
				    clock_mono_ms() - e->when >= republish_ms(so)))
					continue;
			}
			if (s3_local_name(obj->key, name, sizeof(name)) == -1) {
				log_warnx("event=skip source=%zu key=%s error=\"no local name\"", so->idx,
				    log_quote(qk, sizeof(qk), obj->key));
				continue;
			}
			if (pending(so, &w, name))
				continue;
			switch (hand_off(so, obj, name)) {
			case HANDED_OFF:
				queued++;
				if ((e = ledger_lookup(&so->lg, obj->key)) != NULL)
					e->seen = 1;
				break;
			case HAND_OFF_ERROR:
				log_warn("event=queue source=%zu key=%s", so->idx,
				    log_quote(qk, sizeof(qk), obj->key));
				break;
			case HAND_OFF_TAKEN:
			case HAND_OFF_FAILED:	/* logged: tried again next poll */
				break;
			}
		}
		free(token);
		token = l.truncated && l.next_token != NULL ? strdup(l.next_token) : NULL;
		s3_listing_free(&l);
	} while (token != NULL);
	free(token);
	names_free(&w);
	if (rc == 0) {
		log_debug("event=listed source=%zu pages=%zu queued=%zu", so->idx, pages, queued);
		if ((dropped = ledger_compact(&so->lg)) > 0)
			log_info("event=ledger_compact source=%zu dropped=%zu kept=%zu", so->idx,
			    dropped, so->lg.n);
	}
	return rc;
}

struct renew_arg {
	struct source *so;
	struct names   w;
};

static int
still_pending(void *arg, const char *stem)
{
	struct renew_arg *ra = arg;

	return pending(ra->so, &ra->w, stem);
}

/*
 * For a delivery: does a job of this host hold stem already (a redelivery
 * after a lease ran out while NATS was away)? Read afresh, inbox first: a
 * request moves from the inbox into work/, so it is seen in one of them.
 */
static int
held_now(void *arg, const char *stem)
{
	struct source *so = arg;
	struct names w = { NULL, 0 };
	char n[NAME_MAX + 16];
	int rc;

	snprintf(n, sizeof(n), "%s.url", stem);
	if (faccessat(so->s->inboxfd, n, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	work_names(so, &w);
	rc = pending(so, &w, stem);
	names_free(&w);
	return rc;
}

/* Read the credentials; 0, or -1 complained about. */
static int
credentials(struct source *so)
{
	char err[512], msg[600], q[520];

	if (s3_credentials(so->src, &so->cr, err, sizeof(err)) == 0)
		return 0;
	snprintf(msg, sizeof(msg), "event=credentials source=%zu error=%s", so->idx,
	    log_quote(q, sizeof(q), err));
	complain(so, msg);
	return -1;
}

/*
 * A listing made while the work stream holds a backlog only adds to its
 * back: what it finds is claimed after the backlog either way. So while
 * the stream holds more than this host's workers would claim in a few
 * rounds, polls do not list (every host lists the whole prefix, and S3
 * bills each LIST). Every LIST_EVERY_NTH poll lists regardless, for what
 * must be republished and for a changed object's new ETag.
 */
#define LIST_EVERY_NTH 10

static int
backlog_covers_poll(struct source *so)
{
	uint64_t enough = 4 * (uint64_t)so->c->workers;

	return scl_backlog(so->scl) >= (enough > 8 ? enough : 8);
}

/*
 * Cluster mode: list each poll into the work stream (unless it holds a
 * backlog), and between polls claim from it as slots free up. Nothing is
 * listed or claimed while NATS is away; the local inbox does not depend on it.
 */
static void __attribute__((noreturn))
cluster_loop(struct source *so)
{
	struct renew_arg ra = { so, { NULL, 0 } };
	uint64_t next_poll = 0, now;
	unsigned skipped = 0;
	struct timespec ts = { 0, 200 * 1000000L };

	for (;;) {
		now = clock_mono_ms();
		if (scl_ready(so->scl)) {
			if (now >= next_poll && (skipped + 1 >= LIST_EVERY_NTH ||
			    !backlog_covers_poll(so))) {
				if (credentials(so) == 0)
					(void)poll_once(so);
				explicit_bzero(&so->cr, sizeof(so->cr));
				skipped = 0;
				next_poll = clock_mono_ms() + so->src->poll_ms;
			} else if (now >= next_poll) {
				log_debug("event=list_skipped source=%zu reason=backlog", so->idx);
				skipped++;
				next_poll = now + so->src->poll_ms;
			}
			scl_claim(so->scl, 200, held_now, so);
			work_names(so, &ra.w);
			scl_renew(so->scl, still_pending, &ra);
			names_free(&ra.w);
		} else {
			ts.tv_nsec = 200 * 1000000L;
			while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
				;
		}
		scl_state(so->scl);
	}
}

void
source_main(const struct conf *c, const struct spool *s, size_t idx)
{
	struct source so;
	char err[512], msg[600], q[520];
	struct timespec ts;

	memset(&so, 0, sizeof(so));
	so.c = c;
	so.s = s;
	so.src = &c->sources.v[idx];
	so.idx = idx;
	if (http_global_init() == -1 || (so.h = curl_easy_init()) == NULL)
		fatalx("event=curl_init");
	if ((so.rfd = remote_dir(s)) == -1)
		fatal("event=open path=%s/%s", LQ(s->path), REMOTE_DIR);
	if (ledger_open(&so.lg, so.rfd, so.src) == -1)
		fatal("event=open path=%s/%s/%s", LQ(s->path), REMOTE_DIR, LQ(so.lg.name));
	http_redact(so.src->endpoint, msg, sizeof(msg));
	log_info("event=start source=%zu endpoint=%s bucket=%s prefix=%s delete=%s", idx,
	    LQ(msg), LQ(so.src->bucket), log_quote(q, sizeof(q), so.src->prefix ?
	    so.src->prefix : ""), so.src->del == SOURCE_DELETE_NEVER ? "never" : "after_commit");
	if (c->cluster.nats.n > 0) {
		if ((so.scl = scl_open(c, s, idx, err, sizeof(err))) == NULL)
			fatalx("event=cluster source=%zu error=%s", idx, LQ(err));
		cluster_loop(&so);
	}
	for (;;) {
		/* Credentials are read each poll: a rotated file is picked up. */
		if (s3_credentials(so.src, &so.cr, err, sizeof(err)) == -1) {
			snprintf(msg, sizeof(msg), "event=credentials source=%zu error=%s", idx,
			    log_quote(q, sizeof(q), err));
			complain(&so, msg);
		} else {
			(void)poll_once(&so);
		}
		explicit_bzero(&so.cr, sizeof(so.cr));
		ts.tv_sec = (time_t)(so.src->poll_ms / 1000);
		ts.tv_nsec = (long)(so.src->poll_ms % 1000) * 1000000L;
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
	}
}
