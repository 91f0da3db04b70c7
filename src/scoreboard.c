#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "scoreboard.h"

const uint64_t sb_bucket_ms[SB_BUCKETS] = {
	5, 10, 25, 50, 100, 250, 500, 1000, 5000, 30000, 300000, UINT64_MAX
};

int64_t
sb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct scoreboard *
sb_create(int spooldirfd)
{
	struct scoreboard *sb;
	int fd, e;

	/* A fresh file each run: a reader never sees a dead run's numbers as live. */
	(void)unlinkat(spooldirfd, SB_FILE, 0);
	fd = openat(spooldirfd, SB_FILE, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd == -1)
		return NULL;
	if (ftruncate(fd, sizeof(*sb)) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return NULL;
	}
	sb = mmap(NULL, sizeof(*sb), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	e = errno;
	close(fd);
	if (sb == MAP_FAILED) {
		errno = e;
		return NULL;
	}
	sb->hdr.magic = SB_MAGIC;
	sb->hdr.version = SB_VERSION;
	sb->hdr.nslots = SB_SLOTS;
	sb->hdr.supervisor_pid = (int32_t)getpid();
	sb->hdr.started_ms = sb_now_ms();
	return sb;
}

const struct scoreboard *
sb_open_ro(int spooldirfd)
{
	struct scoreboard *sb;
	struct stat st;
	int fd, e;

	fd = openat(spooldirfd, SB_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || (size_t)st.st_size < sizeof(*sb)) {
		close(fd);
		errno = EINVAL;
		return NULL;
	}
	sb = mmap(NULL, sizeof(*sb), PROT_READ, MAP_SHARED, fd, 0);
	e = errno;
	close(fd);
	if (sb == MAP_FAILED) {
		errno = e;
		return NULL;
	}
	if (sb->hdr.magic != SB_MAGIC || sb->hdr.version != SB_VERSION) {
		munmap(sb, sizeof(*sb));
		errno = EINVAL;
		return NULL;
	}
	return sb;
}

void
sb_unmap(const struct scoreboard *sb)
{
	if (sb != NULL)
		munmap((void *)(uintptr_t)sb, sizeof(*sb));
}

void
sb_download(struct scoreboard *sb, int slot, uint64_t have, uint64_t total)
{
	struct sb_slot *s;
	uint64_t was;

	if (sb == NULL || slot < 0 || slot >= SB_SLOTS)
		return;
	s = &sb->slot[slot];
	if (__atomic_load_n(&s->dl_started_ms, __ATOMIC_RELAXED) == 0) {
		__atomic_store_n(&s->dl_base, have, __ATOMIC_RELAXED);
		__atomic_store_n(&s->dl_have, have, __ATOMIC_RELAXED);
		__atomic_store_n(&s->dl_started_ms, clock_real_ms(), __ATOMIC_RELAXED);
	}
	was = __atomic_exchange_n(&s->dl_have, have, __ATOMIC_RELAXED);
	if (have > was)
		__atomic_add_fetch(&sb->hdr.fetched_bytes, have - was, __ATOMIC_RELAXED);
	__atomic_store_n(&s->dl_total, total, __ATOMIC_RELAXED);
}

void
sb_download_end(struct scoreboard *sb, int slot)
{
	struct sb_slot *s;

	if (sb == NULL || slot < 0 || slot >= SB_SLOTS)
		return;
	s = &sb->slot[slot];
	__atomic_store_n(&s->dl_started_ms, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->dl_have, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->dl_total, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->dl_base, 0, __ATOMIC_RELAXED);
}

void
sb_job_finished(struct scoreboard *sb, int slot, const char *reason, uint64_t dur_ms)
{
	int failed = reason != NULL;
	size_t b;

	if (sb == NULL)
		return;
	for (b = 0; b < SB_BUCKETS - 1 && dur_ms > sb_bucket_ms[b]; b++)
		;
	__atomic_add_fetch(&sb->hdr.dur_bucket[b], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&sb->hdr.dur_count, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&sb->hdr.dur_sum_ms, dur_ms, __ATOMIC_RELAXED);
	__atomic_add_fetch(failed ? &sb->hdr.failed : &sb->hdr.done, 1, __ATOMIC_RELAXED);
	if (failed)
		__atomic_add_fetch(&sb->hdr.failed_by[reason_class(reason)], 1, __ATOMIC_RELAXED);
	if (slot >= 0 && slot < SB_SLOTS) {
		struct sb_slot *s = &sb->slot[slot];

		if (failed)
			s->jobs_failed++;
		else
			s->jobs_done++;
	}
}

void
sb_journal_synced(struct scoreboard *sb, int64_t off)
{
	int64_t cur;

	if (sb == NULL)
		return;
	cur = __atomic_load_n(&sb->hdr.journal_synced, __ATOMIC_RELAXED);
	while (off > cur && !__atomic_compare_exchange_n(&sb->hdr.journal_synced, &cur, off, 0,
	    __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		;
}

static uint64_t
name_hash(const char *name)
{
	/* FNV-1a; never 0, which marks a free entry. */
	uint64_t h = 0xcbf29ce484222325ULL;
	const unsigned char *p;

	for (p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	return h ? h : 1;
}

static struct sb_stuck *
stuck_find(struct scoreboard *sb, uint64_t h)
{
	size_t i;

	for (i = 0; i < SB_STUCK; i++)
		if (__atomic_load_n(&sb->hdr.stuck[i].hash, __ATOMIC_ACQUIRE) == h)
			return &sb->hdr.stuck[i];
	return NULL;
}

int
sb_stuck_note(struct scoreboard *sb, const char *name, int err, int64_t now_ms, int64_t retry_ms,
    unsigned *tries)
{
	uint64_t h = name_hash(name), zero;
	struct sb_stuck *e;
	int64_t last;
	size_t i;

	*tries = 1;
	if (sb == NULL)
		return 1;
	if ((e = stuck_find(sb, h)) != NULL) {
		*tries = __atomic_add_fetch(&e->count, 1, __ATOMIC_RELAXED);
		e->error = err;
		__atomic_store_n(&e->next_ms, now_ms + retry_ms, __ATOMIC_RELAXED);
		last = __atomic_load_n(&e->last_ms, __ATOMIC_RELAXED);
		/* Of several workers, the one that moves last_ms on reports. */
		return now_ms - last >= 60000 && __atomic_compare_exchange_n(&e->last_ms, &last,
		    now_ms, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	}
	for (i = 0; i < SB_STUCK; i++) {
		e = &sb->hdr.stuck[i];
		zero = 0;
		if (__atomic_load_n(&e->hash, __ATOMIC_RELAXED) != 0 ||
		    !__atomic_compare_exchange_n(&e->hash, &zero, h, 0, __ATOMIC_ACQ_REL,
		    __ATOMIC_RELAXED))
			continue;
		snprintf(e->name, sizeof(e->name), "%s", name);
		e->first_ms = e->last_ms = now_ms;
		e->next_ms = now_ms + retry_ms;
		e->error = err;
		e->count = 1;
		return 1;
	}
	/* Full: count it (the supervisor rescans the inbox); report one in a thousand. */
	return __atomic_fetch_add(&sb->hdr.stuck_overflow, 1, __ATOMIC_RELAXED) % 1000 == 0;
}

unsigned
sb_stuck_tries(struct scoreboard *sb, const char *name)
{
	struct sb_stuck *e = sb == NULL ? NULL : stuck_find(sb, name_hash(name));

	return e == NULL ? 0 : __atomic_load_n(&e->count, __ATOMIC_RELAXED);
}

void
sb_stuck_forget(struct scoreboard *sb, const char *name)
{
	struct sb_stuck *e;
	size_t i;
	int any = 0;

	if (sb == NULL)
		return;
	for (i = 0; i < SB_STUCK && !any; i++)
		any = __atomic_load_n(&sb->hdr.stuck[i].hash, __ATOMIC_RELAXED) != 0;
	if (!any)
		return;
	if ((e = stuck_find(sb, name_hash(name))) != NULL)
		__atomic_store_n(&e->hash, 0, __ATOMIC_RELEASE);
}

unsigned
sb_stuck_count(const struct scoreboard *sb)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < SB_STUCK; i++)
		if (__atomic_load_n(&sb->hdr.stuck[i].hash, __ATOMIC_RELAXED) != 0)
			n++;
	return n;
}
