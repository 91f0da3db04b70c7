#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "http.h"
#include "journal.h"
#include "json.h"
#include "log.h"
#include "ledger.h"
#include "notify.h"

#define IDLE_MS        200
#define MANIFEST_MAX   (1024 * 1024)

struct notifier {
	const struct conf  *c;
	const struct spool *s;
	int                 rfd;
	int                 jfd;	/* the journal, -1 until it exists */
	ino_t               ino;
	off_t               off;	/* first byte not yet sent */
	unsigned long long  sent, undelivered;
	CURL               *h;
};

/* --- the document ------------------------------------------------------------------ */

/* Value of field key in a logfmt line, unquoted, into out. 1 found, 0 not. */
static int
field(const char *line, const char *key, char *out, size_t len)
{
	size_t klen = strlen(key), n = 0;
	const char *p = line;

	for (;;) {
		if (strncmp(p, key, klen) == 0 && p[klen] == '=' && (p == line || p[-1] == ' '))
			break;
		if ((p = strchr(p, ' ')) == NULL)
			return 0;
		p++;
		if (*p == '\0')
			return 0;
	}
	p += klen + 1;
	if (*p != '"') {
		n = strcspn(p, " ");
		snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), p);
		return 1;
	}
	for (p++; *p != '\0' && *p != '"' && n + 1 < len; p++) {
		if (*p == '\\' && p[1] != '\0') {
			p++;
			out[n++] = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p == 'r' ? '\r' : *p;
		} else {
			out[n++] = *p;
		}
	}
	out[n] = '\0';
	return 1;
}

static void
put_key(struct json *j, const char *key, int *first)
{
	if (!*first)
		json_raw(j, ",", 1);
	*first = 0;
	json_string(j, key, strlen(key));
	json_raw(j, ":", 1);
}

static void
put_str(struct json *j, const char *key, const char *v, int *first)
{
	put_key(j, key, first);
	json_string(j, v, strlen(v));
}

static void
put_num(struct json *j, const char *key, const char *v, int *first)
{
	put_key(j, key, first);
	if (v[0] != '\0' && strspn(v, "0123456789") == strlen(v) && strlen(v) < 20)
		json_raw(j, v, strlen(v));
	else
		json_raw(j, "null", 4);
}

/* Skip one JSON value at p (already validated by its writer, json.c). */
static const char *
skip_value(const char *p, const char *end)
{
	int depth = 0, str = 0;

	for (; p < end; p++) {
		if (str) {
			if (*p == '\\')
				p++;
			else if (*p == '"')
				str = 0;
			if (!str && depth == 0)
				return p + 1;
			continue;
		}
		switch (*p) {
		case '"':
			str = 1;
			break;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (depth == 0)
				return p;	/* end of the enclosing object */
			if (--depth == 0)
				return p + 1;
			break;
		case ',':
			if (depth == 0)
				return p;
			break;
		default:
			break;
		}
	}
	return NULL;
}

static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
		p++;
	return p;
}

/* The top-level scalars of a JSON object, copied as they are. */
static void
put_manifest(struct json *j, const char *m, size_t len, int *first)
{
	const char *p = m, *end = m + len, *k, *ke, *v, *ve;
	int mfirst = 1;

	p = skip_ws(p, end);
	if (p >= end || *p != '{')
		return;
	put_key(j, "manifest", first);
	json_raw(j, "{", 1);
	for (p++;;) {
		p = skip_ws(p, end);
		if (p >= end || *p != '"')
			break;
		k = p;
		if ((ke = skip_value(k, end)) == NULL)
			break;
		p = skip_ws(ke, end);
		if (p >= end || *p != ':')
			break;
		v = skip_ws(p + 1, end);
		if ((ve = skip_value(v, end)) == NULL)
			break;
		if (v < end && *v != '{' && *v != '[') {
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\n' || ve[-1] == '\t' ||
			    ve[-1] == '\r'))
				ve--;
			if (!mfirst)
				json_raw(j, ",", 1);
			mfirst = 0;
			json_raw(j, k, (size_t)(ke - k));
			json_raw(j, ":", 1);
			json_raw(j, v, (size_t)(ve - v));
		}
		p = skip_ws(ve, end);
		if (p >= end || *p != ',')
			break;
		p++;
	}
	json_raw(j, "}", 1);
}

char *
notify_document(const char *line, const char *manifest_json, size_t manifest_len)
{
	char v[JOURNAL_LINE_MAX];
	const char *r;
	struct json j;
	int first = 1;

	json_init(&j);
	json_raw(&j, "{", 1);
	if (field(line, "job", v, sizeof(v)))
		put_str(&j, "job", v, &first);
	if (field(line, "name", v, sizeof(v)))
		put_str(&j, "name", v, &first);
	if (field(line, "outcome", v, sizeof(v)))
		put_str(&j, "outcome", v, &first);
	if (field(line, "attempts", v, sizeof(v)))
		put_num(&j, "attempts", v, &first);
	if (field(line, "dur_ms", v, sizeof(v)))
		put_num(&j, "duration_ms", v, &first);
	put_key(&j, "reason", &first);
	/* reason= is last and a logfmt fragment of its own: the rest of the line. */
	if ((r = strstr(line, " reason=")) != NULL)
		json_string(&j, r + 8, strlen(r + 8));
	else
		json_raw(&j, "null", 4);
	if (field(line, "filed", v, sizeof(v)))
		put_str(&j, "filed", v, &first);
	if (field(line, "ts", v, sizeof(v)))
		put_str(&j, "ts", v, &first);
	if (manifest_json != NULL)
		put_manifest(&j, manifest_json, manifest_len, &first);
	json_raw(&j, "}", 1);
	return json_finish(&j, NULL);
}

/* --- delivery ---------------------------------------------------------------------- */

/* SPOOL/FILED.json, where the worker put the manifest. Heap or NULL. */
static char *
read_manifest(struct notifier *n, const char *line, size_t *len)
{
	char filed[JOURNAL_LINE_MAX], path[JOURNAL_LINE_MAX + 8];
	char *buf;
	ssize_t r;
	int fd;

	*len = 0;
	if (!field(line, "filed", filed, sizeof(filed)) || strcmp(filed, "-") == 0 ||
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

/* POST doc until the receiver says 2xx or the retries are spent. 0 or -1. */
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
		log_debug("event=notify_retry attempt=%u status=%ld error=\"%s\"", attempt, status,
		    curl_easy_strerror(res));
		sleep_ms(http_backoff_ms(n->c->notify.backoff_ms, attempt));
	}
	curl_slist_free_all(hdrs);
	if (res != CURLE_OK)
		snprintf(why, whylen, "attempts=%u error=\"%s\"", attempt, curl_easy_strerror(res));
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
give_up(struct notifier *n, const char *line, const char *doc, const char *why)
{
	char name[JOURNAL_LINE_MAX] = "", q[JOURNAL_LINE_MAX + 8];
	int fd;

	n->undelivered++;
	(void)field(line, "name", name, sizeof(name));
	log_warnx("event=notify_failed name=%s %s undelivered=%llu", log_quote(q, sizeof(q), name),
	    why, n->undelivered);
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
one_line(struct notifier *n, const char *line)
{
	char why[256], *manifest, *doc;
	size_t mlen;

	manifest = read_manifest(n, line, &mlen);
	doc = notify_document(line, manifest, mlen);
	free(manifest);
	if (doc == NULL) {
		log_warnx("event=notify error=\"out of memory\"");
		return;
	}
	if (deliver(n, doc, why, sizeof(why)) == 0)
		n->sent++;
	else
		give_up(n, line, doc, why);
	free(doc);
}

/* Open the journal when it exists; a new file (rotated) starts at 0. */
static int
open_journal(struct notifier *n)
{
	struct stat st;

	if (n->jfd >= 0) {
		if (fstatat(n->s->dirfd, JOURNAL_FILE, &st, 0) == 0 && st.st_ino == n->ino)
			return 0;
		close(n->jfd);
		n->jfd = -1;
	}
	n->jfd = openat(n->s->dirfd, JOURNAL_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (n->jfd == -1)
		return -1;
	if (fstat(n->jfd, &st) == -1)
		return -1;
	if (st.st_ino != n->ino) {
		n->ino = st.st_ino;
		n->off = 0;
		save_offset(n);
	}
	return 0;
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

void
notify_main(const struct conf *c, const struct spool *s)
{
	struct notifier n;
	char *buf, *p, *nl, qu[600];
	struct stat st;
	ssize_t r;

	memset(&n, 0, sizeof(n));
	n.c = c;
	n.s = s;
	n.jfd = -1;
	if (http_global_init() == -1 || (n.h = curl_easy_init()) == NULL)
		fatalx("event=curl_init");
	if ((n.rfd = remote_dir(s)) == -1)
		fatal("event=open path=%s/%s", s->path, REMOTE_DIR);
	if ((buf = malloc(JOURNAL_LINE_MAX + 1)) == NULL)
		fatalx("event=alloc");
	load_offset(&n);
	log_info("event=start url=%s offset=%lld", log_quote(qu, sizeof(qu), c->notify.url),
	    (long long)n.off);
	for (;;) {
		if (open_journal(&n) == -1 || fstat(n.jfd, &st) == -1) {
			sleep_ms(IDLE_MS);
			continue;
		}
		if (st.st_size < n.off) {
			log_warnx("event=notify_journal_truncated offset=%lld size=%lld",
			    (long long)n.off, (long long)st.st_size);
			n.off = 0;
		}
		if (st.st_size == n.off) {
			sleep_ms(IDLE_MS);
			continue;
		}
		r = pread(n.jfd, buf, JOURNAL_LINE_MAX, n.off);
		if (r <= 0) {
			sleep_ms(IDLE_MS);
			continue;
		}
		buf[r] = '\0';
		if ((nl = memchr(buf, '\n', (size_t)r)) == NULL) {
			if (r == JOURNAL_LINE_MAX) {	/* not a journal line: skip it */
				n.off += r;
				save_offset(&n);
			} else {
				sleep_ms(IDLE_MS);	/* a line being written */
			}
			continue;
		}
		*nl = '\0';
		p = buf;
		if (*p != '\0')
			one_line(&n, p);
		n.off += nl + 1 - buf;
		save_offset(&n);
	}
}
