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
 * renamed to STEM without replacing anything (into the job's pkt/, where
 * the job goes on with it as its packet; or into the inbox), that directory
 * is fsynced, and only then is an S3 object deleted. A worker killed at any
 * point leaves either a resumable .part or a committed packet; the state,
 * and STEM in the job, tell which.
 *
 * Progress in the state is not fsynced while downloading: a killed process
 * leaves its writes in the page cache, so they are good for a resume. Only
 * a reboot can lose them, so the state records the boot id and a state from
 * another boot starts the download over.
 *
 * Large files are fetched as parallel ranges (ranges.c); the request file
 * is read by request.c, the state record by resume.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "clock.h"
#include "download.h"
#include "fetch.h"
#include "http.h"
#include "ledger.h"
#include "log.h"
#include "ranges.h"
#include "request.h"
#include "reserve.h"
#include "resume.h"
#include "s3.h"
#include "origin.h"
#include "s3_delete.h"
#include "scoreboard.h"
#include "fetch_cluster.h"
#include "digest.h"

#define RESTARTS_MAX   3

int
fetch_is_url_packet(const char *name)
{
	size_t n = strlen(name), m = strlen(FETCH_SUFFIX);

	return n > m && strcmp(name + n - m, FETCH_SUFFIX) == 0;
}

static const char *
qurl(const struct fetch *f, char *buf, size_t len)
{
	return log_quote(buf, len, f->rq.shown);
}

const char *
download_syserr(char *buf, size_t len, const char *what, const char *name, int err)
{
	char text[NAME_MAX + 300];

	snprintf(text, sizeof(text), "%s %s: %s", what, name, strerror(err));
	return log_quote(buf, len, text);
}

/* --- verification and commit ---------------------------------------------------- */

static enum fetch_result
verify(struct fetch *f)
{
	char got[DIGEST_SHA256_HEX];
	unsigned char *buf;
	struct digest ctx;
	int bad = 0;
	struct stat st;
	off_t off = 0;
	ssize_t n;

	if (fstat(f->fd, &st) == -1)
		return set_reason(f, FETCH_TEMP, "fetch error=\"stat: %s\"", strerror(errno));
	if ((uint64_t)st.st_size != f->total && ftruncate(f->fd, (off_t)f->total) == -1)
		return set_reason(f, FETCH_TEMP, "fetch error=\"truncate: %s\"", strerror(errno));
	/* An S3 object fetched under its listed ETag is as big as the GET said (ranges.c). */
	if (f->rq.size >= 0 && (uint64_t)f->rq.size != f->total &&
	    !(f->rq.src != NULL && strncmp(f->validator, "etag:", 5) == 0))
		return set_reason(f, FETCH_BAD, "fetch size_mismatch expected=%lld got=%" PRIu64,
		    f->rq.size, f->total);
	if (f->rq.sha256[0] == '\0')
		return FETCH_OK;
	if ((buf = malloc(1024 * 1024)) == NULL)
		return set_reason(f, FETCH_TEMP, "fetch error=\"out of memory\"");
	if (digest_sha256_init(&ctx) == -1) {
		free(buf);
		return set_reason(f, FETCH_TEMP, "fetch error=\"out of memory\"");
	}
	while ((n = pread(f->fd, buf, 1024 * 1024, off)) > 0) {
		bad |= digest_update(&ctx, buf, (size_t)n);
		off += n;
	}
	free(buf);
	if (n == -1) {
		digest_free(&ctx);
		return set_reason(f, FETCH_TEMP, "fetch error=\"read: %s\"", strerror(errno));
	}
	if (digest_final_hex(&ctx, got) == -1 || bad)
		return set_reason(f, FETCH_TEMP, "fetch error=\"sha256 failed\"");
	if (strcmp(got, f->rq.sha256) != 0)
		return set_reason(f, FETCH_BAD, "fetch sha256_mismatch expected=%s got=%s",
		    f->rq.sha256, got);
	return FETCH_OK;
}

/* For the handler of the packet this becomes (origin.h); without it, it only misses the variables. */
static void
note_origin(struct fetch *f)
{
	struct origin o;
	struct stat st;
	size_t n;

	memset(&o, 0, sizeof(o));
	if (fstat(f->fd, &st) == -1)
		return;
	snprintf(o.url, sizeof(o.url), "%s", f->rq.shown);
	if (f->rq.src != NULL) {
		snprintf(o.source, sizeof(o.source), "s3");
		snprintf(o.bucket, sizeof(o.bucket), "%s", f->rq.src->bucket);
		snprintf(o.key, sizeof(o.key), "%s", f->rq.key);
		n = strlen(f->rq.etag);
		if (n >= 2 && f->rq.etag[0] == '"' && f->rq.etag[n - 1] == '"')
			snprintf(o.etag, sizeof(o.etag), "%.*s", (int)(n - 2), f->rq.etag + 1);
		else
			snprintf(o.etag, sizeof(o.etag), "%s", f->rq.etag);
	} else
		snprintf(o.source, sizeof(o.source), "url");
	if (origin_write(f->s, f->stem, st.st_ino, &o) == -1)
		log_warn("event=origin name=%s", LQ(f->stem));
}

static enum fetch_result
commit(struct fetch *f)
{
	enum fetch_result rc;

	if (fsync(f->fd) == -1)
		return set_reason(f, FETCH_TEMP, "fetch error=\"fsync: %s\"", strerror(errno));
	/* Cluster: the marker is the commit point; verified and durable before it. */
	if ((rc = fetch_cluster_mark(f)) != FETCH_OK) {
		(void)resume_save(f, "verified", 1);
		return rc;
	}
	if (resume_save(f, "commit", 1) == -1)
		return set_reason(f, FETCH_TEMP, "fetch error=\"state: %s\"", strerror(errno));
	note_origin(f);
	if (renameat2(f->s->inboxfd, f->part, f->intofd, f->stem, RENAME_NOREPLACE) == -1) {
		int e = errno;
		char q[NAME_MAX * 4 + 3];

		origin_drop(f->s, f->stem);
		(void)resume_save(f, "verified", 1);
		if (e == EEXIST)
			return set_reason(f, FETCH_TEMP, "fetch name_taken name=%s",
			    log_quote(q, sizeof(q), f->stem));
		return set_reason(f, FETCH_TEMP, "fetch error=\"rename: %s\"", strerror(e));
	}
	/* One fsync: the rename out of the inbox is in the same transaction. */
	if (fsync(f->intofd) == -1)
		return set_reason(f, FETCH_TEMP, "fetch error=\"fsync %s: %s\"",
		    f->intofd == f->s->inboxfd ? "inbox" : "job", strerror(errno));
	return FETCH_OK;
}

/* --- the whole fetch ------------------------------------------------------------- */

static void
discard(struct fetch *f)
{
	(void)unlinkat(f->s->inboxfd, f->part, 0);
	(void)unlinkat(f->s->inboxfd, f->statef, 0);
}

/*
 * The packet fails for good: no space stays pinned by its .part, and the
 * source's ledger must not keep the object as handled, or a config fixed
 * later would never fetch it again.
 */
static void
given_up(struct fetch *f)
{
	int fd;

	if (f->statefd >= 0)
		discard(f);
	else if (f->stem[0] != '\0' &&
	    (fd = openat(f->s->inboxfd, f->statef, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
		/*
		 * An earlier attempt's .part, and this one failed before taking it
		 * over (its credentials could not be read): the source counts a
		 * .part as a download under way, so left here it would strand the
		 * object. Unless a download of the same name holds it right now.
		 */
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			discard(f);
		close(fd);
	}
	if (f->rq.src != NULL &&
	    ledger_fail(f->s, f->rq.src, f->rq.key, f->rq.etag, f->begun_ms) == -1)
		log_warn("event=ledger name=%s", LQ(f->stem));
}

static enum fetch_result
open_part(struct fetch *f, int fresh)
{
	char q[NAME_MAX * 4 + 300];

	if (f->fd >= 0)
		close(f->fd);
	f->allocated = 0;
	f->fd = openat(f->s->inboxfd, f->part, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
	    (fresh ? O_TRUNC : 0), 0640);
	if (f->fd == -1)
		return set_reason(f, FETCH_TEMP, "fetch error=%s",
		    download_syserr(q, sizeof(q), "open", f->part, errno));
	return FETCH_OK;
}

static enum fetch_result
run(struct fetch *f)
{
	const char *phase;
	struct stat st;
	unsigned restarts, i;
	uint64_t have;
	enum ranges_result tr;
	enum fetch_result rc;
	char q[S3_URL_MAX + 8];
	int fresh = 1;

	phase = resume_load(f);
	if (f->intofd != f->s->inboxfd &&
	    fstatat(f->intofd, f->stem, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		/*
		 * In the job already: committed before a crash. Only a record that
		 * says "commit" leaves the delete to do; without one, it was done.
		 */
		f->landed = phase == NULL || strcmp(phase, "commit") != 0;
		return FETCH_OK;
	}
	if (phase != NULL && strcmp(phase, "commit") == 0) {
		if (fstatat(f->s->inboxfd, f->part, &st, AT_SYMLINK_NOFOLLOW) == -1 &&
		    errno == ENOENT)
			return FETCH_OK;	/* renamed before a crash: only the delete is left */
		phase = "verified";
	}
	if (phase != NULL && fstatat(f->s->inboxfd, f->part, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode) && (uint64_t)st.st_size == f->total) {
		if ((rc = open_part(f, 0)) != FETCH_OK)
			return rc;
		if (strcmp(phase, "verified") == 0)
			return commit(f);
		fresh = 0;
		for (i = 0, have = 0; i < f->nseg; i++)
			have += f->seg[i].done;
		log_info("event=fetch_resume name=%s size=%llu have=%llu segments=%u", LQ(f->stem),
		    (unsigned long long)f->total, (unsigned long long)have, f->nseg);
	}
	for (restarts = 0;; restarts++) {
		if (fresh) {
			ranges_start_fresh(f);
			if ((rc = open_part(f, 1)) != FETCH_OK)
				return rc;
		}
		tr = ranges_transfer(f);
		ranges_stop_all(f);
		if (tr != RANGES_RESTART)
			break;
		if (restarts >= RESTARTS_MAX)
			return set_reason(f, FETCH_TEMP, "fetch changed restarts=%u url=%s", restarts,
			    qurl(f, q, sizeof(q)));
		log_info("event=fetch_restart name=%s why=\"changed or Range not honoured\"",
		    LQ(f->stem));
		fresh = 1;
	}
	if (tr == RANGES_FAILED) {
		if (f->failed == FETCH_INTERRUPTED || f->failed == FETCH_TEMP) {
			(void)resume_save(f, "download", 0);
			ranges_release(f);
		}
		return f->failed;
	}
	if ((rc = verify(f)) != FETCH_OK)
		return rc;
	return commit(f);
}

enum fetch_result
fetch_url_packet(const struct conf *c, const struct spool *s, const char *urlfile,
    const char *name, const struct fetch_ctl *ctl, char *reason, size_t reasonlen)
{
	struct fetch *f;
	size_t len = strlen(name) - strlen(FETCH_SUFFIX);
	char err[512], q[NAME_MAX * 4 + 300];
	enum fetch_result rc;

	if (reasonlen > 0)
		reason[0] = '\0';
	if (!fetch_is_url_packet(name))
		return FETCH_BAD;
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		snprintf(reason, reasonlen, "fetch error=\"out of memory\"");
		return FETCH_TEMP;
	}
	f->c = c;
	f->s = s;
	f->ctl = ctl;
	f->fd = f->statefd = -1;
	f->begun_ms = clock_mono_ms();	/* before the credentials are read */
	f->intofd = ctl != NULL && ctl->intofd >= 0 ? ctl->intofd : s->inboxfd;
	f->reason = reason;
	f->reasonlen = reasonlen;
	f->total = UNKNOWN;
	if (http_global_init() == -1) {
		rc = set_reason(f, FETCH_TEMP, "fetch error=\"curl_global_init failed\"");
		goto out;
	}
	/* .STEM.part.state must fit in a name. */
	if (len + strlen(".part.state") + 1 > NAME_MAX) {
		rc = set_reason(f, FETCH_BAD, "fetch name_too_long");
		goto out;
	}
	snprintf(f->stem, sizeof(f->stem), "%.*s", (int)len, name);
	snprintf(f->part, sizeof(f->part), "%s.part", f->stem);
	snprintf(f->statef, sizeof(f->statef), ".%s.part.state", f->stem);
	f->was_in = f->intofd != s->inboxfd && faccessat(f->intofd, f->stem, F_OK,
	    AT_SYMLINK_NOFOLLOW) == 0;
	switch (request_read(&f->rq, c, urlfile, reason, reasonlen)) {
	case REQUEST_OK:
		fetch_cluster_begin(f);
		break;
	case REQUEST_BAD:
		rc = FETCH_BAD;
		goto out;
	case REQUEST_TEMP:
		rc = FETCH_TEMP;
		goto out;
	}
	if (f->rq.src != NULL && s3_credentials(f->rq.src, &f->cr, err, sizeof(err)) == -1) {
		rc = set_reason(f, FETCH_TEMP, "fetch credentials error=%s",
		    log_quote(q, sizeof(q), err));
		goto out;
	}
	resume_boot_id(f->boot, sizeof(f->boot));
	if (digest_sha256_hex(f->rq.url, strlen(f->rq.url), f->urlhash) == NULL) {
		rc = set_reason(f, FETCH_TEMP, "fetch error=\"out of memory\"");
		goto out;
	}
	f->statefd = openat(s->inboxfd, f->statef, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0640);
	if (f->statefd == -1) {
		rc = set_reason(f, FETCH_TEMP, "fetch error=%s",
		    download_syserr(q, sizeof(q), "open", f->statef, errno));
		goto out;
	}
	/* A second request of the same name must not write into this .part. */
	if (flock(f->statefd, LOCK_EX | LOCK_NB) == -1) {
		rc = set_reason(f, FETCH_TEMP, "fetch busy name=%s", log_quote(q, sizeof(q), f->stem));
		close(f->statefd);
		f->statefd = -1;
		goto busy;	/* the other request's download and ledger are its own */
	}
	if ((f->multi = curl_multi_init()) == NULL) {
		rc = set_reason(f, FETCH_TEMP, "fetch error=\"curl_multi_init failed\"");
		goto out;
	}
	curl_multi_setopt(f->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
	if (ctl != NULL)
		http_set_stop(ctl->interrupted, ctl->arg);
	log_info("event=fetch name=%s url=%s", LQ(f->stem), log_quote(err, sizeof(err), f->rq.shown));
	f->deadline_ms = clock_mono_ms() + http_max_time_ms(c, f->rq.src);
	rc = run(f);
	if (rc == FETCH_BAD || (rc == FETCH_TEMP && ctl != NULL && ctl->last))
		rc = fetch_cluster_failed(f, rc);
	if (rc == FETCH_DUPLICATE) {
		discard(f);
		log_info("event=duplicate name=%s marker=%s", LQ(f->stem), LQ(f->owner));
	}
	if (rc == FETCH_OK) {
		if (f->rq.src != NULL && f->rq.src->del == SOURCE_DELETE_AFTER_COMMIT &&
		    !f->landed && s3_delete_fetched(f) == FETCH_INTERRUPTED) {
			rc = FETCH_INTERRUPTED;	/* the state says commit: only the delete is redone */
			goto out;
		}
		(void)unlinkat(s->inboxfd, f->statef, 0);
		if (!f->landed)
			log_info("event=fetched name=%s size=%llu", LQ(f->stem),
			    (unsigned long long)f->total);
	}
out:
	if (f->was_in && rc != FETCH_OK && rc != FETCH_INTERRUPTED) {
		/*
		 * The packet was committed before a crash: at most its delete was
		 * left, and that failing must not fail the packet, nor tell the
		 * ledger it failed (the object would be fetched again).
		 */
		log_warnx("event=fetch_left name=%s reason=%s", LQ(f->stem), LQ(reason));
		rc = FETCH_OK;
	}
	if (rc == FETCH_BAD || (rc == FETCH_TEMP && ctl != NULL && ctl->last))
		given_up(f);
	fetch_cluster_end(f, rc);
busy:
	http_set_stop(NULL, NULL);
	if (f->multi != NULL) {
		ranges_stop_all(f);
		curl_multi_cleanup(f->multi);
	}
	if (f->fd >= 0)
		close(f->fd);
	if (ctl != NULL)
		reserve_drop(ctl->sb, ctl->slot);	/* done, either way: the blocks are the inbox's */
	if (ctl != NULL)
		sb_download_end(ctl->sb, ctl->slot);
	if (f->statefd >= 0)
		close(f->statefd);
	explicit_bzero(&f->cr, sizeof(f->cr));
	free(f);
	return rc;
}
