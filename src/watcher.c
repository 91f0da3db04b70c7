#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inotifytools/inotify.h>
#include <inotifytools/inotifytools.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "names.h"
#include "queue.h"
#include "watcher.h"

/*
 * Files written in place wait here for `settle`. Bounded: when it is full,
 * the entry is dropped and a rescan is scheduled, which finds it again.
 */
#define PENDING_MAX 1024

struct pending {
	char     name[NAME_MAX + 1];
	uint64_t due;	/* CLOCK_MONOTONIC ms */
};

struct watcher {
	const struct conf  *c;
	const struct spool *s;
	mqd_t               q;
	char                inbox[PATH_MAX];
	struct pending     *pend;	/* PENDING_MAX slots, allocated when first needed */
	size_t              npend;
	int                 rescan;	/* a rescan is owed */
	unsigned long long  sent, overflows;
	struct scoreboard  *sb;
};

static uint64_t
age_ms(const struct stat *st)
{
	struct timespec now;
	int64_t d;

	clock_gettime(CLOCK_REALTIME, &now);
	d = ((int64_t)now.tv_sec - (int64_t)st->st_mtim.tv_sec) * 1000 +
	    ((int64_t)now.tv_nsec - (int64_t)st->st_mtim.tv_nsec) / 1000000;
	return d < 0 ? 0 : (uint64_t)d;
}

static void
send_name(struct watcher *w, const char *name)
{
	/* Blocks while the queue is full: that is the back-pressure. */
	if (queue_send(w->q, QUEUE_MSG_PACKET, name) == -1) {
		log_warn("event=queue_send name=%s", LQ(name));
		return;
	}
	w->sent++;
	__atomic_store_n(&w->sb->hdr.queue_depth, queue_depth(w->q), __ATOMIC_RELAXED);
	log_debug("event=queued name=%s", LQ(name));
}

static struct pending *
pending_find(struct watcher *w, const char *name)
{
	size_t i;

	for (i = 0; i < w->npend; i++)
		if (strcmp(w->pend[i].name, name) == 0)
			return &w->pend[i];
	return NULL;
}

static void
pending_set(struct watcher *w, const char *name, uint64_t due)
{
	struct pending *p = pending_find(w, name);

	if (p != NULL) {
		p->due = due;
		return;
	}
	if (w->pend == NULL && (w->pend = calloc(PENDING_MAX, sizeof(*w->pend))) == NULL) {
		w->rescan = 1;
		return;
	}
	if (w->npend == PENDING_MAX) {
		w->rescan = 1;
		return;
	}
	p = &w->pend[w->npend++];
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->due = due;
}

static void
pending_del(struct watcher *w, struct pending *p)
{
	*p = w->pend[--w->npend];
}

static int
wanted(const struct watcher *w, const char *name)
{
	return name_is_valid(name) && !name_is_internal(name) &&
	    !ignore_match(&w->c->ignore, name);
}

/* A regular file counts once unchanged for settle; anything else at once. */
static void
consider(struct watcher *w, const char *name, int dtype)
{
	struct stat st;
	uint64_t age;

	if (dtype == DT_REG || dtype == DT_UNKNOWN) {
		if (fstatat(w->s->inboxfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			return;
		if (S_ISREG(st.st_mode) && (age = age_ms(&st)) < w->c->settle_ms) {
			pending_set(w, name, clock_mono_ms() + (w->c->settle_ms - age));
			return;
		}
	}
	send_name(w, name);
}

/* Streams the inbox: memory does not grow with the backlog. */
static void
scan(struct watcher *w, const char *why)
{
	struct dirent *de;
	unsigned long long before = w->sent;
	DIR *d;
	int fd;

	w->rescan = 0;
	fd = openat(w->s->inboxfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		log_warn("event=scan path=%s", LQ(w->inbox));
		if (fd >= 0)
			close(fd);
		w->rescan = 1;
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (wanted(w, de->d_name))
			consider(w, de->d_name, de->d_type);
	closedir(d);
	log_info("event=scan why=%s queued=%llu pending=%zu", LQ(why), w->sent - before, w->npend);
}

static void
expire(struct watcher *w)
{
	uint64_t now = clock_mono_ms();
	size_t i = 0;

	while (i < w->npend) {
		struct pending *p = &w->pend[i];
		struct stat st;
		uint64_t age;

		if (p->due > now) {
			i++;
			continue;
		}
		if (fstatat(w->s->inboxfd, p->name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			pending_del(w, p);	/* gone or renamed away */
			continue;
		}
		/* An IN_MODIFY may have been lost to an overflow: trust the mtime. */
		if (S_ISREG(st.st_mode) && (age = age_ms(&st)) < w->c->settle_ms) {
			p->due = now + (w->c->settle_ms - age);
			i++;
			continue;
		}
		send_name(w, p->name);
		pending_del(w, p);
	}
}

static long
next_timeout_s(const struct watcher *w)
{
	uint64_t now = clock_mono_ms(), first = UINT64_MAX;
	size_t i;

	if (w->rescan)
		return 1;
	for (i = 0; i < w->npend; i++)
		if (w->pend[i].due < first)
			first = w->pend[i].due;
	if (first == UINT64_MAX)
		return 0;	/* libinotifytools: 0 blocks until an event */
	/* Whole seconds only (a library limit): round up, at least 1. */
	return first <= now ? 1 : (long)((first - now + 999) / 1000);
}

int
watcher_request_rescan(int inboxfd)
{
	int fd = openat(inboxfd, WATCHER_RESCAN_NAME, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0640);

	if (fd == -1)
		return -1;
	return close(fd);	/* IN_CLOSE_WRITE is the request */
}

/*
 * The one flag a signal handler sets (WATCHER_SIG_RESCAN): the loop reads it
 * after the wait the signal interrupts.
 */
static volatile sig_atomic_t rescan_asked;

static void
on_rescan(int sig)
{
	(void)sig;
	rescan_asked = 1;
}

void
watcher_main(const struct conf *c, const struct spool *s, mqd_t q, int readyfd, pid_t supervisor,
    struct scoreboard *sb)
{
	struct watcher w;
	const int mask = IN_MOVED_TO | IN_CLOSE_WRITE | IN_MODIFY | IN_CREATE | IN_DELETE_SELF |
	    IN_MOVE_SELF | IN_UNMOUNT | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK;

	memset(&w, 0, sizeof(w));
	w.c = c;
	w.s = s;
	w.q = q;
	w.sb = sb;
	snprintf(w.inbox, sizeof(w.inbox), "%s/inbox", s->path);

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != supervisor)
		_exit(0);
	{
		struct sigaction sa;
		sigset_t none;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_rescan;	/* no SA_RESTART: the wait must end */
		sigemptyset(&sa.sa_mask);
		sigaction(WATCHER_SIG_RESCAN, &sa, NULL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
	}
	if (!inotifytools_initialize())
		fatalx("event=inotify_init error=%s", LQ(strerror(inotifytools_error())));
	if (!inotifytools_watch_file(w.inbox, mask))
		fatalx("event=watch path=%s error=%s", LQ(w.inbox), LQ(strerror(inotifytools_error())));
	/* From here on every drop is seen, by the scan or by an event. */
	(void)!write(readyfd, "R", 1);
	close(readyfd);
	scan(&w, "start");

	for (;;) {
		struct inotify_event *ev;
		long timeout = next_timeout_s(&w);

		ev = inotifytools_next_event(timeout);
		if (ev == NULL) {
			int e = inotifytools_error();

			if (e != 0 && e != EINTR)
				fatalx("event=inotify_read error=%s", LQ(strerror(e)));
		} else if (ev->mask & IN_Q_OVERFLOW) {
			w.overflows++;
			__atomic_add_fetch(&w.sb->hdr.overflows, 1, __ATOMIC_RELAXED);
			log_warnx("event=overflow count=%llu action=rescan", w.overflows);
			w.rescan = 1;
		} else if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT | IN_IGNORED)) {
			/* The supervisor restarts us; a new watcher sets a new watch. */
			log_warnx("event=inbox_gone path=%s mask=0x%x", LQ(w.inbox), ev->mask);
			exit(EX_OSERR);
		} else if (ev->len > 0 && (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) &&
		    strcmp(ev->name, WATCHER_RESCAN_NAME) == 0) {
			(void)unlinkat(s->inboxfd, WATCHER_RESCAN_NAME, 0);
			log_info("event=rescan_requested");
			w.rescan = 1;
		} else if (ev->len > 0 && wanted(&w, ev->name)) {
			if (ev->mask & IN_MOVED_TO) {
				struct pending *p = w.npend ? pending_find(&w, ev->name) : NULL;

				if (p != NULL)
					pending_del(&w, p);
				send_name(&w, ev->name);
			} else if ((ev->mask & IN_CLOSE_WRITE) && !(ev->mask & IN_ISDIR)) {
				pending_set(&w, ev->name, clock_mono_ms() + c->settle_ms);
			} else if ((ev->mask & IN_CREATE) && !(ev->mask & IN_ISDIR)) {
				struct stat st;

				/*
				 * A symlink, FIFO or device made in place is whole
				 * at once and never closed after writing: it is
				 * sent now, to be filed failed, not left for a rescan.
				 */
				if (fstatat(s->inboxfd, ev->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
				    !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
					send_name(&w, ev->name);
			} else if (ev->mask & IN_MODIFY) {
				struct pending *p = w.npend ? pending_find(&w, ev->name) : NULL;

				if (p != NULL)
					p->due = clock_mono_ms() + c->settle_ms;
			}
		}
		if (rescan_asked) {
			rescan_asked = 0;
			w.rescan = 1;
		}
		if (w.npend)
			expire(&w);
		if (w.rescan && w.npend < PENDING_MAX)
			scan(&w, w.overflows ? "overflow" : "requested");
	}
}
