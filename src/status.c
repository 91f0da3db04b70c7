#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli_spool.h"
#include "conf.h"
#include "job.h"
#include "clock.h"
#include "cluster_state.h"
#include "json.h"
#include "ledger.h"
#include "log.h"
#include "metrics.h"
#include "queue.h"
#include "scoreboard.h"
#include "spool.h"
#include "status.h"
#include "units.h"

static const char *
state_name(int32_t st)
{
	switch (st) {
	case SB_IDLE:
		return "idle";
	case SB_BUSY:
		return "busy";
	case SB_TAKING:
		return "taking";
	default:
		return "free";
	}
}

/* Copy a slot's string field, which a worker may be rewriting right now. */
static void
field(char *dst, const char *src, size_t len)
{
	memcpy(dst, src, len);
	dst[len - 1] = '\0';
}

/*
 * Seconds from then to now. The scoreboard is a file: a torn or corrupt one
 * may hold any number, and a difference that overflows is no age at all.
 */
static long long
secs_since(int64_t now, int64_t then)
{
	int64_t d;

	return __builtin_sub_overflow(now, then, &d) ? 0 : (long long)(d / 1000);
}

/*
 * A packet name or job id for the terminal: quoted and escaped as in the
 * log, so that a name holding a newline or an escape sequence is shown, not
 * obeyed.
 */
#define SHOW(s) log_quote((char[4 * 256 + 3]){ 0 }, 4 * 256 + 3, (s))

/* What status shows of the jobs in defer/ at most (their count is always whole). */
#define DEFERRED_SHOWN 1000

struct deferred {
	char      id[JOB_ID_LEN + 1];
	char      name[NAME_MAX + 1];
	long long due_ms;
	unsigned  attempts;
};

struct deferred_list {
	struct deferred *v;
	size_t           n, total;
};

static int
by_due(const void *a, const void *b)
{
	const struct deferred *x = a, *y = b;

	return x->due_ms < y->due_ms ? -1 : x->due_ms > y->due_ms;
}

/* A deferred job's packet name and attempts, read from its directory. */
static void
read_deferred(int deferfd, const char *entry, struct deferred *d)
{
	struct dirent *de;
	struct job j;
	char buf[256];
	ssize_t n;
	int fd, pfd;
	DIR *pd;

	fd = openat(deferfd, entry, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return;
	pfd = openat(fd, JOB_PKT, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (pfd >= 0 && (pd = fdopendir(pfd)) != NULL) {
		while ((de = readdir(pd)) != NULL)
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
				snprintf(d->name, sizeof(d->name), "%s", de->d_name);
				break;
			}
		closedir(pd);
	} else if (pfd >= 0) {
		close(pfd);
	}
	pfd = openat(fd, JOB_STATE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (pfd >= 0) {
		memset(&j, 0, sizeof(j));
		n = pread(pfd, buf, sizeof(buf), 0);
		if (n > 0 && job_state_parse(buf, (size_t)n, d->id, &j) == 0)
			d->attempts = j.attempts;
		close(pfd);
	}
	close(fd);
}

/* The jobs in defer/, first due first. */
static void
list_deferred(int dirfd, struct deferred_list *dl)
{
	struct dirent *de;
	int fd;
	DIR *d;

	memset(dl, 0, sizeof(*dl));
	fd = openat(dirfd, "defer", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		struct deferred x, *nv;

		memset(&x, 0, sizeof(x));
		if (!job_parse_deferred(de->d_name, &x.due_ms, x.id))
			continue;
		dl->total++;
		if (dl->n == DEFERRED_SHOWN)
			continue;
		if ((nv = reallocarray(dl->v, dl->n + 1, sizeof(*nv))) == NULL)
			continue;
		dl->v = nv;
		read_deferred(fd, de->d_name, &x);
		dl->v[dl->n++] = x;
	}
	closedir(d);
	if (dl->n > 1)
		qsort(dl->v, dl->n, sizeof(*dl->v), by_due);
}

static void
print_deferred_text(const struct deferred_list *dl, int64_t now)
{
	size_t i;

	printf("deferred: %zu", dl->total);
	if (dl->n > 0)
		printf(", the first due in %llds", secs_since(dl->v[0].due_ms, now));
	printf("\n");
	if (dl->n == 0)
		return;
	printf("  %-17s %-9s %-8s %s\n", "JOB", "DUE_IN_S", "ATTEMPTS", "PACKET");
	for (i = 0; i < dl->n && i < 20; i++)
		printf("  %-17s %-9lld %-8u %s\n", dl->v[i].id, secs_since(dl->v[i].due_ms, now),
		    dl->v[i].attempts, dl->v[i].name[0] ? SHOW(dl->v[i].name) : "-");
	if (dl->total > 20)
		printf("  ... and %zu more\n", dl->total - 20);
}

static void
print_stuck_text(const struct scoreboard *sb, int64_t now)
{
	unsigned n = sb_stuck_count(sb);
	size_t i;

	printf("stuck: %u%s", n, sb->hdr.stuck_overflow ? " (and more, not remembered)" : "");
	printf("\n");
	if (n == 0)
		return;
	printf("  %-7s %-6s %-24s %s\n", "SINCE_S", "TRIES", "ERROR", "PACKET");
	for (i = 0; i < SB_STUCK; i++) {
		const struct sb_stuck *e = &sb->hdr.stuck[i];
		char name[sizeof(e->name)];

		if (__atomic_load_n(&e->hash, __ATOMIC_ACQUIRE) == 0)
			continue;
		field(name, e->name, sizeof(name));
		printf("  %-7lld %-6u %-24s %s\n", secs_since(now, e->first_ms), e->count,
		    strerror(e->error), SHOW(name));
	}
}

/* A download's rate (bytes/s over this attempt) and seconds left; -1: not known. */
static void
download_rate(const struct sb_slot *s, int64_t now, uint64_t *rate, long long *eta)
{
	/* The scoreboard is outside input to status: no subtraction may overflow. */
	int64_t ms = s->dl_started_ms > 0 && s->dl_started_ms < now ? now - s->dl_started_ms : 0;
	uint64_t got = s->dl_have > s->dl_base ? s->dl_have - s->dl_base : 0;

	*rate = ms > 0 ? got * 1000 / (uint64_t)ms : 0;
	*eta = -1;
	if (*rate > 0 && s->dl_total != UINT64_MAX && s->dl_total >= s->dl_have)
		*eta = (long long)((s->dl_total - s->dl_have) / *rate);
}

static void
print_downloads(const struct scoreboard *sb, int64_t now)
{
	char have[32], total[32], rate[32], eta[32], name[sizeof(sb->slot[0].name)];
	uint64_t r;
	long long e;
	size_t i;
	int n = 0;

	for (i = 0; i < SB_SLOTS; i++) {
		const struct sb_slot *s = &sb->slot[i];

		if (!s->pid || s->role != SB_ROLE_WORKER || s->dl_started_ms == 0)
			continue;
		if (n++ == 0)
			printf("downloads:\n  %-5s %-10s %-10s %-10s %-7s %s\n", "SLOT", "HAVE",
			    "TOTAL", "RATE/S", "ETA_S", "PACKET");
		download_rate(s, now, &r, &e);
		field(name, s->name, sizeof(name));
		units_fmt_size(have, sizeof(have), s->dl_have);
		if (s->dl_total == UINT64_MAX)
			snprintf(total, sizeof(total), "?");
		else
			units_fmt_size(total, sizeof(total), s->dl_total);
		units_fmt_size(rate, sizeof(rate), r);
		if (e < 0)
			snprintf(eta, sizeof(eta), "?");
		else
			snprintf(eta, sizeof(eta), "%lld", e);
		printf("  %-5zu %-10s %-10s %-10s %-7s %s\n", i, have, total, rate, eta,
		    name[0] ? SHOW(name) : "-");
	}
}

static void
print_text(const struct scoreboard *sb, const char *spool, long backlog, int64_t now)
{
	const struct sb_header *h = &sb->hdr;
	unsigned workers = 0;
	size_t i;

	for (i = 0; i < SB_SLOTS; i++)
		if (sb->slot[i].pid && sb->slot[i].role == SB_ROLE_WORKER)
			workers++;
	printf("ingestd on %s: pid %d, up %llds, generation %u\n", spool, h->supervisor_pid,
	    secs_since(now, h->started_ms), h->generation);
	printf("queue: %lld waiting, size %lld\n", (long long)h->queue_depth,
	    (long long)h->queue_max);
	printf("inbox: %ld waiting\n", backlog);
	printf("workers: %u running, target %u\n", workers, h->workers_target);
	printf("  %-5s %-8s %-9s %-6s %-8s %-8s %-17s %s\n", "SLOT", "PID", "STATE", "SECS",
	    "DONE", "FAILED", "JOB", "PACKET");
	for (i = 0; i < SB_SLOTS; i++) {
		const struct sb_slot *s = &sb->slot[i];
		char job[sizeof(s->job)], name[sizeof(s->name)];
		int busy = s->state == SB_BUSY;

		if (!s->pid || s->role != SB_ROLE_WORKER)
			continue;
		field(job, s->job, sizeof(job));
		field(name, s->name, sizeof(name));
		printf("  %-5zu %-8d %-9s %-6lld %-8llu %-8llu %-17s %s\n", i, s->pid,
		    s->retiring ? (busy ? "busy,ret" : "retiring") : state_name(s->state),
		    busy ? secs_since(now, s->job_started_ms) : 0LL,
		    (unsigned long long)s->jobs_done, (unsigned long long)s->jobs_failed,
		    busy && job[0] ? SHOW(job) : "-", busy && name[0] ? SHOW(name) : "-");
	}
	print_downloads(sb, now);
	printf("totals: done %llu, failed %llu, retried %llu, restarted %llu, crashed %llu, "
	    "inotify overflows %llu\n", (unsigned long long)h->done, (unsigned long long)h->failed,
	    (unsigned long long)h->retried, (unsigned long long)h->restarts,
	    (unsigned long long)h->crashes, (unsigned long long)h->overflows);
}

static void
print_extra_text(const struct scoreboard *sb, const struct deferred_list *dl, int64_t now,
    const struct cluster_state *cs)
{
	print_deferred_text(dl, now);
	print_stuck_text(sb, now);
	if (cs != NULL)
		printf("cluster: %s server=%s node=%s stream=%s pending=%llu unacked=%llu "
		    "leases=%llu\n", cs->connected ? "connected" : "disconnected",
		    SHOW(cs->server), SHOW(cs->node), SHOW(cs->stream),
		    (unsigned long long)cs->pending, (unsigned long long)cs->unacked,
		    (unsigned long long)cs->leases);
}

/* The S3 source's view of the cluster; NULL when not in cluster mode. */
static const struct cluster_state *
read_cluster(int dirfd, const struct conf *c, struct cluster_state *cs)
{
	int rfd, rc;

	if ((rfd = openat(dirfd, REMOTE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return NULL;
	rc = cluster_state_read(rfd, cs);
	close(rfd);
	if (rc == -1)
		return NULL;
	/* With -d the config is not known: a file the source rewrites now says enough. */
	if (c->cluster.nats.n == 0 && clock_real_ms() - cs->time_ms > 10000)
		return NULL;
	return cs;
}


static void
jnum(struct json *j, const char *key, long long v, int comma)
{
	char buf[96];
	int n = snprintf(buf, sizeof(buf), "\"%s\":%lld%s", key, v, comma ? "," : "");

	json_raw(j, buf, (size_t)n);
}

static void
jstr(struct json *j, const char *key, const char *v, int comma)
{
	json_raw(j, "\"", 1);
	json_raw(j, key, strlen(key));
	json_raw(j, "\":", 2);
	if (v == NULL)
		json_raw(j, "null", 4);
	else
		json_string(j, v, strlen(v));
	if (comma)
		json_raw(j, ",", 1);
}

static void
deferred_json(struct json *j, const struct deferred_list *dl, int64_t now)
{
	size_t i;

	jnum(j, "deferred_total", (long long)dl->total, 1);
	json_raw(j, "\"deferred\":[", 12);
	for (i = 0; i < dl->n; i++) {
		json_raw(j, i ? ",{" : "{", i ? 2 : 1);
		jstr(j, "job", dl->v[i].id, 1);
		jstr(j, "packet", dl->v[i].name[0] ? dl->v[i].name : NULL, 1);
		jnum(j, "due_ms", dl->v[i].due_ms, 1);
		jnum(j, "due_in_s", secs_since(dl->v[i].due_ms, now), 1);
		jnum(j, "attempts", dl->v[i].attempts, 0);
		json_raw(j, "}", 1);
	}
	json_raw(j, "],", 2);
}

static void
stuck_json(struct json *j, const struct scoreboard *sb, int64_t now)
{
	size_t i;
	int first = 1;

	json_raw(j, "\"stuck\":[", 9);
	for (i = 0; i < SB_STUCK; i++) {
		const struct sb_stuck *e = &sb->hdr.stuck[i];
		char name[sizeof(e->name)];

		if (__atomic_load_n(&e->hash, __ATOMIC_ACQUIRE) == 0)
			continue;
		field(name, e->name, sizeof(name));
		json_raw(j, first ? "{" : ",{", first ? 1 : 2);
		first = 0;
		jstr(j, "packet", name, 1);
		jstr(j, "error", strerror(e->error), 1);
		jnum(j, "tries", e->count, 1);
		jnum(j, "since_s", secs_since(now, e->first_ms), 0);
		json_raw(j, "}", 1);
	}
	json_raw(j, "],", 2);
	jnum(j, "stuck_more", (long long)(sb->hdr.stuck_overflow ? 1 : 0), 1);
}

static void
download_json(struct json *j, const struct sb_slot *s, int64_t now)
{
	uint64_t r;
	long long e;

	if (s->dl_started_ms == 0) {
		json_raw(j, "\"download\":null", 15);
		return;
	}
	download_rate(s, now, &r, &e);
	json_raw(j, "\"download\":{", 12);
	jnum(j, "have", (long long)s->dl_have, 1);
	jnum(j, "total", s->dl_total == UINT64_MAX ? -1 : (long long)s->dl_total, 1);
	jnum(j, "rate", (long long)r, 1);
	jnum(j, "eta_s", e, 0);
	json_raw(j, "}", 1);
}

static void
cluster_json(struct json *j, const struct cluster_state *cs)
{
	if (cs == NULL) {
		json_raw(j, "\"cluster\":null,", 15);
		return;
	}
	json_raw(j, "\"cluster\":{", 11);
	jstr(j, "state", cs->connected ? "connected" : "disconnected", 1);
	jstr(j, "server", cs->server, 1);
	jstr(j, "node", cs->node, 1);
	jstr(j, "stream", cs->stream, 1);
	jnum(j, "pending", (long long)cs->pending, 1);
	jnum(j, "unacked", (long long)cs->unacked, 1);
	jnum(j, "leases", (long long)cs->leases, 0);
	json_raw(j, "},", 2);
}

static int
print_json(const struct scoreboard *sb, const char *spool, long backlog, int64_t now,
    const struct deferred_list *dl, const struct cluster_state *cs)
{
	const struct sb_header *h = &sb->hdr;
	struct json j;
	char *out;
	size_t i, len;
	int first = 1;

	json_init(&j);
	json_raw(&j, "{\"spool\":", 9);
	json_string(&j, spool, strlen(spool));
	json_raw(&j, ",", 1);
	jnum(&j, "pid", h->supervisor_pid, 1);
	jnum(&j, "uptime_s", secs_since(now, h->started_ms), 1);
	jnum(&j, "generation", h->generation, 1);
	json_raw(&j, "\"queue\":{", 9);
	jnum(&j, "depth", h->queue_depth, 1);
	jnum(&j, "size", h->queue_max, 0);
	json_raw(&j, "},", 2);
	jnum(&j, "inbox_backlog", backlog, 1);
	deferred_json(&j, dl, now);
	stuck_json(&j, sb, now);
	cluster_json(&j, cs);
	jnum(&j, "workers_target", h->workers_target, 1);
	json_raw(&j, "\"workers\":[", 11);
	for (i = 0; i < SB_SLOTS; i++) {
		const struct sb_slot *s = &sb->slot[i];
		char job[sizeof(s->job)], name[sizeof(s->name)];
		int busy = s->state == SB_BUSY;
		const char *st = state_name(s->state);

		if (!s->pid || s->role != SB_ROLE_WORKER)
			continue;
		field(job, s->job, sizeof(job));
		field(name, s->name, sizeof(name));
		json_raw(&j, first ? "{" : ",{", first ? 1 : 2);
		first = 0;
		jnum(&j, "slot", (long long)i, 1);
		jnum(&j, "pid", s->pid, 1);
		json_raw(&j, "\"state\":", 8);
		json_string(&j, st, strlen(st));
		json_raw(&j, ",\"packet\":", 10);
		if (busy && name[0])
			json_string(&j, name, strlen(name));
		else
			json_raw(&j, "null", 4);
		json_raw(&j, ",\"job\":", 7);
		if (busy && job[0])
			json_string(&j, job, strlen(job));
		else
			json_raw(&j, "null", 4);
		json_raw(&j, ",", 1);
		jnum(&j, "seconds", busy ? secs_since(now, s->job_started_ms) : 0, 1);
		jnum(&j, "generation", s->generation, 1);
		json_raw(&j, s->retiring ? "\"retiring\":true," : "\"retiring\":false,", s->retiring ? 16 : 17);
		jnum(&j, "jobs_done", (long long)s->jobs_done, 1);
		jnum(&j, "jobs_failed", (long long)s->jobs_failed, 1);
		download_json(&j, s, now);
		json_raw(&j, "}", 1);
	}
	json_raw(&j, "],\"totals\":{", 12);
	jnum(&j, "done", (long long)h->done, 1);
	jnum(&j, "failed", (long long)h->failed, 1);
	jnum(&j, "retried", (long long)h->retried, 1);
	jnum(&j, "restarted", (long long)h->restarts, 1);
	jnum(&j, "crashed", (long long)h->crashes, 1);
	jnum(&j, "inotify_overflows", (long long)h->overflows, 0);
	json_raw(&j, "}}\n", 3);
	out = json_finish(&j, &len);
	if (out == NULL) {
		json_free(&j);
		return -1;
	}
	fwrite(out, 1, len, stdout);
	free(out);
	return 0;
}

int
status_main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL, *spool = NULL;
	char pid[32] = "";
	const struct scoreboard *sb;
	struct deferred_list dl;
	struct cluster_state cs;
	const struct cluster_state *csp;
	struct conf c;
	int ch, json = 0, dirfd, inboxfd, lockfd, rc;
	long backlog;

	while ((ch = getopt_long(argc, argv, "c:d:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'd':
			spool = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			printf("usage: ingestd status [-c FILE | -d SPOOL] [--json]\n"
			    "What the daemon running on the spool is doing; see ingestd(8) STATUS.\n");
			return 0;
		case 'V':
			printf("ingestd %s\n", INGESTD_VERSION);
			return 0;
		default:
			fprintf(stderr, "usage: ingestd status [-c FILE | -d SPOOL] [--json]\n");
			return EX_USAGE;
		}
	}
	if ((rc = cli_spool_find(file, spool, &c, &spool)) != 0)
		return rc;
	if ((dirfd = cli_spool_open(spool, &rc)) == -1) {
		conf_free(&c);
		return rc;
	}
	/* The daemon holds an exclusive flock; if ours succeeds, nobody is running. */
	lockfd = openat(dirfd, SPOOL_LOCK_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (lockfd == -1 && errno != ENOENT) {
		fprintf(stderr, "ingestd: cannot open %s/%s: %s\n", spool, SPOOL_LOCK_FILE,
		    strerror(errno));
		rc = errno == EACCES ? EX_NOPERM : EX_OSERR;
		goto out;
	}
	if (lockfd == -1 || flock(lockfd, LOCK_SH | LOCK_NB) == 0) {
		/* Let go at once: a daemon starting now must not find it taken. */
		if (lockfd >= 0)
			(void)flock(lockfd, LOCK_UN);
		fprintf(stderr, "ingestd: no daemon is running on spool %s\n", spool);
		rc = EX_UNAVAILABLE;
		goto out;
	}
	(void)!pread(lockfd, pid, sizeof(pid) - 1, 0);
	sb = sb_open_ro(dirfd);
	if (sb == NULL) {
		fprintf(stderr, "ingestd: cannot read %s/%s: %s\n", spool, SB_FILE, strerror(errno));
		rc = errno == EACCES ? EX_NOPERM : EX_UNAVAILABLE;
		goto out;
	}
	inboxfd = openat(dirfd, "inbox", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	backlog = inboxfd >= 0 ? metrics_inbox_backlog(inboxfd, &c.ignore) : -1;
	if (inboxfd >= 0)
		close(inboxfd);
	list_deferred(dirfd, &dl);
	csp = read_cluster(dirfd, &c, &cs);
	if (json)
		rc = print_json(sb, spool, backlog, sb_now_ms(), &dl, csp) == 0 ? 0 : EX_OSERR;
	else {
		print_text(sb, spool, backlog, sb_now_ms());
		print_extra_text(sb, &dl, sb_now_ms(), csp);
		rc = 0;
	}
	free(dl.v);
	sb_unmap(sb);
out:
	if (lockfd >= 0)
		close(lockfd);
	close(dirfd);
	conf_free(&c);
	return rc;
}
