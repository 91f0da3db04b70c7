#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "handoff.h"
#include "log.h"
#include "queue.h"

#define OFFERS_MIN 256

int
handoff_init(struct handoff *h, const struct spool *s, mqd_t q, struct scoreboard *sb)
{
	memset(h, 0, sizeof(*h));
	h->s = s;
	h->q = q;
	h->sb = sb;
	h->noffers = OFFERS_MIN;
	h->offers = calloc(h->noffers, sizeof(*h->offers));
	return h->offers == NULL ? -1 : 0;
}

void
handoff_free(struct handoff *h)
{
	free(h->offers);
	h->offers = NULL;
}

static size_t
slot_of(const char *id, size_t n)
{
	/* Ids are time-ordered hex: their low digits are as good as a hash. */
	return n ? (size_t)strtoull(id + JOB_ID_LEN - 8, NULL, 16) % n : 0;
}

static struct handoff_offer *
offer_find(struct handoff *h, const char *id, int add)
{
	size_t i, k = slot_of(id, h->noffers);

	for (i = 0; i < h->noffers; i++, k = (k + 1) % h->noffers) {
		struct handoff_offer *o = &h->offers[k];

		if (o->at != 0 && strcmp(o->id, id) == 0)
			return o;
		if (o->at == 0) {
			if (!add)
				return NULL;
			memcpy(o->id, id, JOB_ID_LEN + 1);
			return o;
		}
	}
	return NULL;	/* full: offered, but not remembered */
}

/* Rebuild the table with only the entries seen in this sweep (and grow it if needed). */
static void
offers_prune(struct handoff *h)
{
	struct handoff_offer *old = h->offers, *o;
	size_t n = h->noffers, live = 0, i;

	for (i = 0; i < n; i++)
		live += old[i].at != 0 && old[i].seen;
	h->noffers = live * 2 > OFFERS_MIN ? live * 2 : OFFERS_MIN;
	h->offers = calloc(h->noffers, sizeof(*h->offers));
	if (h->offers == NULL) {
		h->offers = old;	/* keep the old one; it only remembers too much */
		h->noffers = n;
		return;
	}
	for (i = 0; i < n; i++)
		if (old[i].at != 0 && old[i].seen && (o = offer_find(h, old[i].id, 1)) != NULL) {
			o->at = old[i].at;
			o->seen = 0;
		}
	free(old);
}

static struct handoff_crash *
crash_find(struct handoff *h, const char *id)
{
	size_t i;

	for (i = 0; i < HANDOFF_CRASHES; i++)
		if (h->crash[i].n && strcmp(h->crash[i].id, id) == 0)
			return &h->crash[i];
	return NULL;
}

void
handoff_crash(struct handoff *h, const char *id)
{
	struct handoff_crash *c = crash_find(h, id);
	size_t i;

	if (!job_is_id(id))
		return;
	if (c == NULL)
		for (i = 0; i < HANDOFF_CRASHES && c == NULL; i++)
			if (h->crash[i].n == 0)
				c = &h->crash[i];
	if (c == NULL)
		c = &h->crash[slot_of(id, HANDOFF_CRASHES)];	/* full: forget one */
	if (c->n == 0 || strcmp(c->id, id) != 0) {
		memcpy(c->id, id, JOB_ID_LEN + 1);
		c->n = 0;
	}
	c->n++;
	c->seen = 1;
	handoff_soon(h);
}

void
handoff_soon(struct handoff *h)
{
	h->next_ms = 0;
}

int
handoff_timeout_ms(const struct handoff *h)
{
	uint64_t now = clock_mono_ms();

	return h->next_ms <= now ? 0 : (int)(h->next_ms - now);
}

/* Offer one hint; 0 offered, -1 not now (the queue stays full: stop this sweep). */
static int
offer(struct handoff *h, char type, const char *id, const char *msg, unsigned crashes)
{
	struct handoff_offer *o;
	uint64_t now = clock_mono_ms();

	o = offer_find(h, id, 1);
	if (o != NULL) {
		o->seen = 1;
		if (o->at != 0 && now - o->at < HANDOFF_AGAIN_MS)
			return 0;	/* offered just now: its taker may be on it */
	}
	if (h->full || queue_offer(h->q, type, msg, HANDOFF_WAIT_MS) == -1) {
		h->full = 1;
		__atomic_add_fetch(&h->sb->hdr.hints_missed, 1, __ATOMIC_RELAXED);
		if (o != NULL && o->at == 0)
			o->id[0] = '\0';
		return -1;
	}
	if (o != NULL && o->at == 0) {
		if (type == QUEUE_MSG_JOB)
			log_info("event=offer job=%s crashes=%u", id, crashes);
		else
			log_debug("event=offer job=%s deferred=%s", id, LQ(msg));
	}
	if (o != NULL)
		o->at = now;
	return 0;
}

/* Nobody holds work/name? (A probe: the lock is dropped at once.) */
static int
unowned(int workfd, const char *name)
{
	int fd = openat(workfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), free_;

	if (fd == -1)
		return 0;
	free_ = flock(fd, LOCK_EX | LOCK_NB) == 0;
	close(fd);
	return free_;
}

static DIR *
open_list(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (fd == -1)
		return NULL;
	if ((d = fdopendir(fd)) == NULL)
		close(fd);
	return d;
}

static void
sweep_work(struct handoff *h)
{
	struct handoff_crash *c;
	struct dirent *de;
	char msg[JOB_ID_LEN + 16];
	DIR *d = open_list(h->s->workfd);
	size_t i;

	if (d == NULL) {
		log_warn("event=sweep dir=work");
		return;
	}
	for (i = 0; i < HANDOFF_CRASHES; i++)
		h->crash[i].seen = 0;
	while ((de = readdir(d)) != NULL) {
		if (!job_is_id(de->d_name))
			continue;
		if ((c = crash_find(h, de->d_name)) != NULL)
			c->seen = 1;
		if (!unowned(h->s->workfd, de->d_name))
			continue;
		if (c != NULL)
			snprintf(msg, sizeof(msg), "%.*s:%u", JOB_ID_LEN, de->d_name, c->n);
		else
			snprintf(msg, sizeof(msg), "%.*s", JOB_ID_LEN, de->d_name);
		(void)offer(h, QUEUE_MSG_JOB, de->d_name, msg, c != NULL ? c->n : 0);
	}
	closedir(d);
	/* A job no longer in work/ is filed (or deferred: it counts again if it crashes again). */
	for (i = 0; i < HANDOFF_CRASHES; i++)
		if (h->crash[i].n && !h->crash[i].seen)
			h->crash[i].n = 0;
}

static void
sweep_defer(struct handoff *h)
{
	char id[JOB_ID_LEN + 1];
	struct dirent *de;
	int64_t now = clock_real_ms(), next = 0;
	uint64_t count = 0;
	long long due;
	DIR *d = open_list(h->s->deferfd);

	if (d == NULL) {
		log_warn("event=sweep dir=defer");
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (!job_parse_deferred(de->d_name, &due, id))
			continue;
		count++;
		if (due <= now)
			(void)offer(h, QUEUE_MSG_DEFERRED, id, de->d_name, 0);
		else if (next == 0 || due < next)
			next = due;
	}
	closedir(d);
	h->sb->hdr.deferred = count;
	h->sb->hdr.deferred_next_ms = next;
	if (next != 0 && (uint64_t)(next - now) < h->next_ms - clock_mono_ms())
		h->next_ms = clock_mono_ms() + (uint64_t)(next - now);
}

/* Stuck packets whose time has come are offered again; those gone are forgotten. */
static void
sweep_stuck(struct handoff *h)
{
	int64_t now = clock_real_ms();
	struct stat st;
	size_t i;

	for (i = 0; i < SB_STUCK && !h->full; i++) {
		struct sb_stuck *e = &h->sb->hdr.stuck[i];
		char name[sizeof(e->name)];

		if (__atomic_load_n(&e->hash, __ATOMIC_ACQUIRE) == 0 ||
		    __atomic_load_n(&e->next_ms, __ATOMIC_RELAXED) > now)
			continue;
		memcpy(name, e->name, sizeof(name));
		name[sizeof(name) - 1] = '\0';
		if (name[0] == '\0')
			continue;
		if (fstatat(h->s->inboxfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			__atomic_store_n(&e->hash, 0, __ATOMIC_RELEASE);	/* gone */
			continue;
		}
		/* Until a worker says how it went: not offered again every second. */
		__atomic_store_n(&e->next_ms, now + HANDOFF_STUCK_MS, __ATOMIC_RELAXED);
		if (queue_offer(h->q, QUEUE_MSG_PACKET, name, HANDOFF_WAIT_MS) == -1) {
			__atomic_store_n(&e->next_ms, now, __ATOMIC_RELAXED);
			h->full = 1;
		}
	}
	/* More than the table holds: the watcher finds them all again. */
	if (h->sb->hdr.stuck_overflow != h->overflow_seen && !h->full) {
		h->overflow_seen = h->sb->hdr.stuck_overflow;
		h->rescan = 1;
	}
}

int
handoff_tidy(struct handoff *h)
{
	struct dirent *de;
	struct job j;
	int synced = 0, removed = 0;
	DIR *d = open_list(h->s->workfd);

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (!job_is_id(de->d_name) || job_adopt(h->s, de->d_name, &j) != 1)
			continue;
		if (j.name[0] != '\0' || j.has_log || j.has_manifest || j.has_verdict) {
			job_release(&j);
			continue;
		}
		/* A filed job's rename may not be durable yet: its directory goes after. */
		if (!synced && h->s->fsync) {
			if (fsync(h->s->donefd) == -1 || fsync(h->s->failedfd) == -1) {
				log_warn("event=tidy");
				job_release(&j);
				break;
			}
			synced = 1;
		}
		if (job_remove(h->s, &j) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}

void
handoff_sweep(struct handoff *h)
{
	uint64_t now = clock_mono_ms();
	size_t i;

	h->full = 0;
	h->next_ms = now + HANDOFF_SWEEP_MS;
	for (i = 0; i < h->noffers; i++)
		h->offers[i].seen = 0;
	sweep_work(h);
	sweep_defer(h);
	sweep_stuck(h);
	offers_prune(h);
	if (h->full && now - h->missed_logged >= 60000) {
		/* Not lost: offered again at the next sweep. */
		log_info("event=queue_full action=\"offer the jobs again in a second\" missed=%llu",
		    (unsigned long long)h->sb->hdr.hints_missed);
		h->missed_logged = now;
	}
	if (h->full)
		h->next_ms = now + HANDOFF_SWEEP_MS / 4;
}
