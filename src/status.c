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

#include "conf.h"
#include "json.h"
#include "metrics.h"
#include "queue.h"
#include "scoreboard.h"
#include "spool.h"
#include "status.h"

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
	    (long long)(now - h->started_ms) / 1000, h->generation);
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
		    s->retiring ? (busy ? "busy,ret" : "retiring") : state_name(s->state), busy ? (long long)(now - s->job_started_ms) / 1000 : 0LL,
		    (unsigned long long)s->jobs_done, (unsigned long long)s->jobs_failed,
		    busy && job[0] ? job : "-", busy && name[0] ? name : "-");
	}
	printf("totals: done %llu, failed %llu, retried %llu, restarted %llu, crashed %llu, "
	    "inotify overflows %llu\n", (unsigned long long)h->done, (unsigned long long)h->failed,
	    (unsigned long long)h->retried, (unsigned long long)h->restarts,
	    (unsigned long long)h->crashes, (unsigned long long)h->overflows);
}

static void
jnum(struct json *j, const char *key, long long v, int comma)
{
	char buf[96];
	int n = snprintf(buf, sizeof(buf), "\"%s\":%lld%s", key, v, comma ? "," : "");

	json_raw(j, buf, (size_t)n);
}

static int
print_json(const struct scoreboard *sb, const char *spool, long backlog, int64_t now)
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
	jnum(&j, "uptime_s", (now - h->started_ms) / 1000, 1);
	jnum(&j, "generation", h->generation, 1);
	json_raw(&j, "\"queue\":{", 9);
	jnum(&j, "depth", h->queue_depth, 1);
	jnum(&j, "size", h->queue_max, 0);
	json_raw(&j, "},", 2);
	jnum(&j, "inbox_backlog", backlog, 1);
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
		jnum(&j, "seconds", busy ? (now - s->job_started_ms) / 1000 : 0, 1);
		jnum(&j, "generation", s->generation, 1);
		json_raw(&j, s->retiring ? "\"retiring\":true," : "\"retiring\":false,", s->retiring ? 16 : 17);
		jnum(&j, "jobs_done", (long long)s->jobs_done, 1);
		jnum(&j, "jobs_failed", (long long)s->jobs_failed, 0);
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
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL, *spool = NULL;
	char err[PATH_MAX + 512], pid[32] = "";
	const struct scoreboard *sb;
	struct conf c;
	int ch, json = 0, dirfd, inboxfd, lockfd, rc;
	long backlog;

	while ((ch = getopt_long(argc, argv, "c:d:", longopts, NULL)) != -1) {
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
		default:
			fprintf(stderr, "usage: ingestd status [-c FILE | -d SPOOL] [--json]\n");
			return EX_USAGE;
		}
	}
	if (conf_defaults(&c) == -1)
		return EX_OSERR;
	if (spool == NULL) {
		if (file == NULL && access(CONF_DEFAULT_PATH, R_OK) == 0)
			file = CONF_DEFAULT_PATH;
		if (file != NULL && conf_load(&c, file, err, sizeof(err)) == -1) {
			fprintf(stderr, "%s\n", err);
			conf_free(&c);
			return EX_CONFIG;
		}
		spool = c.spool;
	}
	dirfd = open(spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd == -1) {
		fprintf(stderr, "ingestd: cannot open spool %s: %s\n", spool, strerror(errno));
		conf_free(&c);
		return errno == EACCES ? EX_NOPERM : EX_NOINPUT;
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
	if (json)
		rc = print_json(sb, spool, backlog, sb_now_ms()) == 0 ? 0 : EX_OSERR;
	else {
		print_text(sb, spool, backlog, sb_now_ms());
		rc = 0;
	}
	sb_unmap(sb);
out:
	if (lockfd >= 0)
		close(lockfd);
	close(dirfd);
	conf_free(&c);
	return rc;
}
