#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
sb_job_finished(struct scoreboard *sb, int slot, int failed, uint64_t dur_ms)
{
	size_t b;

	if (sb == NULL)
		return;
	for (b = 0; b < SB_BUCKETS - 1 && dur_ms > sb_bucket_ms[b]; b++)
		;
	__atomic_add_fetch(&sb->hdr.dur_bucket[b], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&sb->hdr.dur_count, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&sb->hdr.dur_sum_ms, dur_ms, __ATOMIC_RELAXED);
	__atomic_add_fetch(failed ? &sb->hdr.failed : &sb->hdr.done, 1, __ATOMIC_RELAXED);
	if (slot >= 0 && slot < SB_SLOTS) {
		struct sb_slot *s = &sb->slot[slot];

		if (failed)
			s->jobs_failed++;
		else
			s->jobs_done++;
	}
}
