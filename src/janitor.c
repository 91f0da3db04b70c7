#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "janitor.h"
#include "log.h"

static const char *const suffixes[] = { ".log", ".json", ".error", ".tree" };

int
janitor_wanted(const struct conf *c)
{
	return c->retention.done_ms > 0 || c->retention.failed_ms > 0;
}

uint64_t
janitor_interval_ms(uint64_t retention_ms)
{
	uint64_t t = retention_ms / 10;

	return t < 1000 ? 1000 : t > 3600000 ? 3600000 : t;
}

static void
pause_ms(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* A record's packet stem, or NULL when name is no record. */
static const char *
record_of(const char *name, char *stem, size_t len)
{
	size_t n = strlen(name), i, k;

	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		k = strlen(suffixes[i]);
		if (n > k && strcmp(name + n - k, suffixes[i]) == 0) {
			snprintf(stem, len, "%.*s", (int)(n - k), name);
			return stem;
		}
	}
	return NULL;
}

static int64_t
ctime_ms(const struct stat *st)
{
	return (int64_t)st->st_ctim.tv_sec * 1000 + st->st_ctim.tv_nsec / 1000000;
}

long
janitor_pass(int dirfd, uint64_t retention_ms, int64_t now_ms)
{
	char stem[NAME_MAX + 1], rec[NAME_MAX + 16];
	int64_t before = now_ms - (int64_t)retention_ms;
	struct dirent *de;
	struct stat st;
	unsigned budget = JANITOR_RATE;
	long removed = 0;
	size_t i;
	int fd;
	DIR *d;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		const char *r;

		if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
		    (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 || ctime_ms(&st) >= before)
			continue;
		r = record_of(de->d_name, stem, sizeof(stem));
		/* A record goes with its packet; alone, by its own age. */
		if (r != NULL && fstatat(dirfd, stem, &st, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		if (spool_rmtree(dirfd, de->d_name) == -1) {
			log_warn("event=retention name=%s", LQ(de->d_name));
			continue;
		}
		if (r == NULL) {
			removed++;
			for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
				snprintf(rec, sizeof(rec), "%s%s", de->d_name, suffixes[i]);
				(void)spool_rmtree(dirfd, rec);
			}
		}
		if (--budget == 0) {
			pause_ms(1000);
			budget = JANITOR_RATE;
		}
	}
	closedir(d);
	return removed;
}

void
janitor_main(const struct conf *c, const struct spool *s, pid_t supervisor)
{
	uint64_t next_done = 0, next_failed = 0;
	sigset_t none;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != supervisor)
		_exit(0);
	signal(SIGTERM, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Last in line for the CPU and the disk (IOPRIO_CLASS_IDLE). */
	(void)setpriority(PRIO_PROCESS, 0, 19);
	(void)syscall(SYS_ioprio_set, 1, 0, 3 << 13);
	for (;;) {
		uint64_t now = clock_mono_ms(), wake;
		long n;

		if (c->retention.done_ms && now >= next_done) {
			if ((n = janitor_pass(s->donefd, c->retention.done_ms, clock_real_ms())) > 0)
				log_info("event=retention dir=done removed=%ld", n);
			next_done = clock_mono_ms() + janitor_interval_ms(c->retention.done_ms);
		}
		if (c->retention.failed_ms && now >= next_failed) {
			if ((n = janitor_pass(s->failedfd, c->retention.failed_ms, clock_real_ms())) > 0)
				log_info("event=retention dir=failed removed=%ld", n);
			next_failed = clock_mono_ms() + janitor_interval_ms(c->retention.failed_ms);
		}
		wake = UINT64_MAX;
		if (c->retention.done_ms)
			wake = next_done;
		if (c->retention.failed_ms && next_failed < wake)
			wake = next_failed;
		now = clock_mono_ms();
		pause_ms(wake > now ? wake - now : 0);
	}
}
