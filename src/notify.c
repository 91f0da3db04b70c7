/*
 * Following the journal: the notifier keeps (inode, offset) of the next byte
 * to post. When the journal is rotated (journal -> journal.1, journal.c) it
 * reads the old file to its end through the descriptor it holds, or, after a
 * restart, finds the old file again as journal.1 by its inode; only then
 * does it go on to the new journal at offset 0.
 *
 * A line is posted only once it is committed: up to the scoreboard's
 * journal_synced while that offset is about the file being read (no rotation
 * yet in this daemon's run); else the notifier makes what it read durable
 * itself (fdatasync), which is what the workers' commit does, before posting
 * it. A rotated journal is durable as a whole (journal_rotate syncs it).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "http.h"
#include "journal.h"
#include "ledger.h"
#include "log.h"
#include "logfmt.h"
#include "notify.h"
#include "notify_doc.h"
#include "scoreboard.h"

#define IDLE_MS        200
#define MANIFEST_MAX   (1024 * 1024)

struct notifier {
	const struct conf       *c;
	const struct spool      *s;
	const struct scoreboard *sb;	/* read-only; NULL: none (then we sync ourselves) */
	int                      rfd;
	int                      jfd;	/* the file of inode ino, -1 until open */
	int                      rotated;	/* jfd is no longer the journal: read it to its end */
	ino_t                    ino;
	off_t                    off;	/* first byte not yet sent */
	off_t                    durable;	/* what we made durable ourselves, in jfd */
	unsigned long long       sent, undelivered, skipped;
	CURL                    *h;
};

/* --- delivery ---------------------------------------------------------------------- */

/* SPOOL/FILED.json, where the worker put the manifest. Heap or NULL. */
static char *
read_manifest(struct notifier *n, const char *line, size_t llen, size_t *len)
{
	char filed[JOURNAL_LINE_MAX + 1], path[JOURNAL_LINE_MAX + 8];
	char *buf;
	ssize_t r;
	int fd;

	*len = 0;
	if (logfmt_get(line, llen, LOGFMT_JOURNAL_REST, "filed", filed, sizeof(filed)) < 0 ||
	    strcmp(filed, "-") == 0 ||
	    (strncmp(filed, "done/", 5) != 0 && strncmp(filed, "failed/", 7) != 0) ||
	    strstr(filed, "..") != NULL)
		return NULL;
	snprintf(path, sizeof(path), "%s.json", filed);
	if ((fd = openat(n->s->dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return NULL;
	if ((buf = malloc(MANIFEST_MAX + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	while (*len < MANIFEST_MAX && (r = read(fd, buf + *len, MANIFEST_MAX - *len)) > 0)
		*len += (size_t)r;
	close(fd);
	buf[*len] = '\0';
	return buf;
}

static void
sleep_ms(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static size_t
discard_body(char *data, size_t size, size_t nmemb, void *arg)
{
	(void)data;
	(void)arg;
	return size * nmemb;
}

static int
deliver(struct notifier *n, const char *doc, char *why, size_t whylen)
{
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	unsigned attempt;
	long status = 0;
	CURLcode res = CURLE_OK;

	for (attempt = 1;; attempt++) {
		curl_easy_reset(n->h);
		http_defaults(n->h, n->c);
		curl_easy_setopt(n->h, CURLOPT_URL, n->c->notify.url);
		curl_easy_setopt(n->h, CURLOPT_POSTFIELDS, doc);
		curl_easy_setopt(n->h, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(n->h, CURLOPT_TIMEOUT_MS, (long)n->c->notify.timeout_ms);
		curl_easy_setopt(n->h, CURLOPT_CONNECTTIMEOUT_MS, (long)(n->c->notify.timeout_ms <
		    n->c->fetch.connect_timeout_ms ? n->c->notify.timeout_ms :
		    n->c->fetch.connect_timeout_ms));
		curl_easy_setopt(n->h, CURLOPT_WRITEFUNCTION, discard_body);
		res = curl_easy_perform(n->h);
		if (http_stopped(res) && http_orphaned())
			_exit(0);	/* nothing of ours is in flight: the offset is on disk */
		status = 0;
		curl_easy_getinfo(n->h, CURLINFO_RESPONSE_CODE, &status);
		if (res == CURLE_OK && status >= 200 && status < 300) {
			curl_slist_free_all(hdrs);
			return 0;
		}
		if (attempt > n->c->notify.retries)
			break;
		log_debug("event=notify_retry attempt=%u status=%ld error=%s", attempt, status,
		    LQ(curl_easy_strerror(res)));
		sleep_ms(http_backoff_ms(n->c->notify.backoff_ms, attempt));
	}
	curl_slist_free_all(hdrs);
	if (res != CURLE_OK)
		snprintf(why, whylen, "attempts=%u error=%s", attempt, LQ(curl_easy_strerror(res)));
	else
		snprintf(why, whylen, "attempts=%u status=%ld", attempt, status);
	return -1;
}

static void
save_offset(struct notifier *n)
{
	char buf[64];
	int fd, len;

	len = snprintf(buf, sizeof(buf), "%llu %lld\n", (unsigned long long)n->ino,
	    (long long)n->off);
	fd = openat(n->rfd, NOTIFY_OFFSET_FILE ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0640);
	if (fd == -1 || write(fd, buf, (size_t)len) != len || close(fd) == -1 ||
	    renameat(n->rfd, NOTIFY_OFFSET_FILE ".tmp", n->rfd, NOTIFY_OFFSET_FILE) == -1)
		log_warn("event=notify_offset");
}

static void
load_offset(struct notifier *n)
{
	unsigned long long ino;
	long long off;
	char buf[64];
	struct stat st;
	ssize_t r;
	int fd;

	fd = openat(n->rfd, NOTIFY_OFFSET_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		r = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[r > 0 ? r : 0] = '\0';
		if (sscanf(buf, "%llu %lld", &ino, &off) == 2 && off >= 0) {
			n->ino = (ino_t)ino;
			n->off = (off_t)off;
			return;
		}
	}
	/* First start: jobs finished before the notifier existed are not sent. */
	if (fstatat(n->s->dirfd, JOURNAL_FILE, &st, 0) == 0) {
		n->ino = st.st_ino;
		n->off = st.st_size;
	}
	save_offset(n);
}

static void
give_up(struct notifier *n, const char *line, size_t llen, const char *doc, const char *why)
{
	char name[JOURNAL_LINE_MAX + 1] = "";
	int fd;

	n->undelivered++;
	if (logfmt_get(line, llen, LOGFMT_JOURNAL_REST, "name", name, sizeof(name)) < 0)
		name[0] = '\0';
	/* why: "attempts=N status=N" or "attempts=N error=" quoted, made by deliver() */
	log_warnx("event=notify_failed name=%s %s undelivered=%llu", LQ(name),
	    why, /* logcheck: safe */
	    n->undelivered);
	fd = openat(n->rfd, NOTIFY_FAILED_FILE, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0640);
	if (fd >= 0) {
		size_t len = strlen(doc);

		if (write(fd, doc, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
			log_warn("event=notify_failed_record");
		close(fd);
	}
}

static void
one_line(struct notifier *n, const char *line, size_t len)
{
	char why[256], *manifest, *doc;
	size_t mlen;

	switch (notify_line_kind(line, len)) {
	case NOTIFY_LINE_JOB:
		break;
	case NOTIFY_LINE_SKIP:
		return;
	case NOTIFY_LINE_BAD:
		n->skipped++;
		log_warnx("event=notify_skip offset=%lld why=\"not a journal line\" skipped=%llu",
		    (long long)n->off, n->skipped);
		return;
	}
	manifest = read_manifest(n, line, len, &mlen);
	doc = notify_document(line, len, manifest, mlen);
	free(manifest);
	if (doc == NULL) {
		n->skipped++;
		log_warnx("event=notify_skip offset=%lld why=%s skipped=%llu", (long long)n->off,
		    errno == ENOMEM ? "\"out of memory\"" : "\"not a journal line\"", n->skipped);
		return;
	}
	if (deliver(n, doc, why, sizeof(why)) == 0)
		n->sent++;
	else
		give_up(n, line, len, doc, why);
	free(doc);
}

/* Start reading the journal of inode ino (or a new one: offset 0). */
static void
go_to(struct notifier *n, int fd, ino_t ino, int rotated)
{
	if (n->jfd >= 0)
		close(n->jfd);
	n->jfd = fd;
	n->rotated = rotated;
	n->durable = 0;
	if (ino != n->ino) {
		n->ino = ino;
		n->off = 0;
		save_offset(n);
	}
}

/*
 * Have n->jfd be the file of n->ino while it has lines to send: the journal,
 * or the journal it was before a rotation. 0, or -1 when there is no
 * journal yet.
 */
static int
open_journal(struct notifier *n)
{
	struct stat cur, old;
	int fd;

	if (fstatat(n->s->dirfd, JOURNAL_FILE, &cur, AT_SYMLINK_NOFOLLOW) == -1)
		cur.st_ino = 0;
	if (n->jfd >= 0) {
		if (!n->rotated && cur.st_ino != n->ino)
			n->rotated = 1;		/* renamed away: what it holds is final */
		return 0;
	}
	if (n->ino != 0 && cur.st_ino != n->ino &&
	    (fd = openat(n->s->dirfd, JOURNAL_FILE ".1", O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
		if (fstat(fd, &old) == 0 && old.st_ino == n->ino) {
			go_to(n, fd, n->ino, 1);	/* a restart after a rotation */
			return 0;
		}
		close(fd);
	}
	if ((fd = openat(n->s->dirfd, JOURNAL_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	if (fstat(fd, &cur) == -1) {
		close(fd);
		return -1;
	}
	if (n->ino != 0 && cur.st_ino != n->ino)
		log_warnx("event=notify_journal_lost offset=%lld why=\"the journal it was in is "
		    "gone\"", (long long)n->off);
	go_to(n, fd, cur.st_ino, 0);
	return 0;
}

/* How far the journal may be posted: what is committed. */
static off_t
committed(struct notifier *n, off_t size)
{
	int64_t synced;

	if (n->rotated)
		return size;
	if (n->sb != NULL && __atomic_load_n(&n->sb->hdr.journal_gen, __ATOMIC_ACQUIRE) == 0) {
		/* No rotation in this run: the offset is about this file. */
		synced = __atomic_load_n(&n->sb->hdr.journal_synced, __ATOMIC_ACQUIRE);
		return synced < size ? (off_t)synced : size;
	}
	if (!n->s->fsync)
		return size;	/* the daemon promises no durability: nothing to wait for */
	if (n->durable < size) {
		if (fdatasync(n->jfd) == -1)
			return n->durable;
		n->durable = size;
	}
	return n->durable;
}

void
notify_main(const struct conf *c, const struct spool *s)
{
	struct notifier n;
	char *buf, *nl, shown[2048];
	struct stat st;
	off_t limit;
	ssize_t r;

	memset(&n, 0, sizeof(n));
	n.c = c;
	n.s = s;
	n.jfd = -1;
	if (http_global_init() == -1 || (n.h = curl_easy_init()) == NULL)
		fatalx("event=curl_init");
	if ((n.rfd = remote_dir(s)) == -1)
		fatal("event=open path=%s/%s", LQ(s->path), REMOTE_DIR);
	if ((buf = malloc(JOURNAL_LINE_MAX + 1)) == NULL)
		fatalx("event=alloc");
	if ((n.sb = sb_open_ro(s->dirfd)) == NULL)
		log_warn("event=scoreboard why=\"lines are synced by the notifier\"");
	load_offset(&n);
	http_redact(c->notify.url, shown, sizeof(shown));
	log_info("event=start url=%s offset=%lld", LQ(shown), (long long)n.off);
	for (;;) {
		if (open_journal(&n) == -1 || fstat(n.jfd, &st) == -1) {
			sleep_ms(IDLE_MS);
			continue;
		}
		if (st.st_size < n.off) {
			log_warnx("event=notify_journal_truncated offset=%lld size=%lld",
			    (long long)n.off, (long long)st.st_size);
			n.off = 0;
			n.durable = 0;
		}
		limit = committed(&n, st.st_size);
		if (limit <= n.off) {
			if (n.rotated && n.off >= st.st_size) {
				close(n.jfd);	/* done with the old journal: on to the new one */
				n.jfd = -1;
				n.ino = 0;
				continue;
			}
			sleep_ms(IDLE_MS);
			continue;
		}
		r = pread(n.jfd, buf, (size_t)(limit - n.off < JOURNAL_LINE_MAX ? limit - n.off :
		    JOURNAL_LINE_MAX), n.off);
		if (r <= 0) {
			sleep_ms(IDLE_MS);
			continue;
		}
		if ((nl = memchr(buf, '\n', (size_t)r)) == NULL) {
			if (r == JOURNAL_LINE_MAX) {	/* not a journal line: skip it */
				n.off += r;
				save_offset(&n);
			} else {
				sleep_ms(IDLE_MS);	/* a line not yet complete or committed */
			}
			continue;
		}
		one_line(&n, buf, (size_t)(nl - buf));
		n.off += nl + 1 - buf;
		save_offset(&n);
	}
}
