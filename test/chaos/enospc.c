/*
 * enospc.so: an LD_PRELOAD shim that makes write, rename and fsync fail
 * with ENOSPC on demand, as a full disk would.
 *
 *   CHAOS_ENOSPC_CTL=FILE   FILE holds a probability, 0 to 1 ("1" = every call
 *                           fails); no FILE or an unreadable one = off. Read at
 *                           most every 20 ms, so the test flips it at run time.
 *   CHAOS_ENOSPC_LOG=FILE   one byte is appended per injected failure (count
 *                           with stat), with the real write.
 *
 * Only calls that a full disk fails are touched: write/pwrite/writev on a
 * regular file other than stdin/stdout/stderr (the daemon's log stays
 * readable), rename/renameat/renameat2, fsync/fdatasync. Reads, pipes and
 * message queues are left alone. Built by test/chaos/run with cc -shared.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_renameat2)(int, const char *, int, const char *, unsigned int);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);

static double prob;		/* current failure probability */
static long long next_check_ms;	/* when to read the control file again */
static unsigned long long rnd = 88172645463325252ULL;

static void
resolve(void)
{
	real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	real_pwrite = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
	real_pwrite64 = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT,
	    "pwrite64");
	real_writev = (ssize_t (*)(int, const struct iovec *, int))dlsym(RTLD_NEXT, "writev");
	real_rename = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
	real_renameat = (int (*)(int, const char *, int, const char *))dlsym(RTLD_NEXT,
	    "renameat");
	real_renameat2 = (int (*)(int, const char *, int, const char *, unsigned int))dlsym(
	    RTLD_NEXT, "renameat2");
	real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
}

/* Before main(); the lazy call covers another library's constructor writing first. */
__attribute__((constructor)) static void
init(void)
{
	resolve();
}

#define REAL(name) (real_##name != NULL ? real_##name : (resolve(), real_##name))

static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
refresh(void)
{
	const char *ctl = getenv("CHAOS_ENOSPC_CTL");
	char buf[32];
	long long now = mono_ms();
	ssize_t n;
	int fd;

	if (now < next_check_ms)
		return;
	next_check_ms = now + 20;
	prob = 0;
	if (ctl == NULL)
		return;
	fd = open(ctl, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		prob = strtod(buf, NULL);
	}
}

/* Decide one call; counts what it injects. */
static int
inject(void)
{
	int saved = errno;
	const char *log;

	refresh();
	if (prob <= 0)
		goto no;
	if (prob < 1) {
		/* xorshift64: cheap, and no state shared with the program's rand() */
		rnd ^= rnd << 13;
		rnd ^= rnd >> 7;
		rnd ^= rnd << 17;
		if ((double)(rnd % 1000000) / 1e6 >= prob)
			goto no;
	}
	if ((log = getenv("CHAOS_ENOSPC_LOG")) != NULL) {
		int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

		if (fd != -1) {
			REAL(write)(fd, "x", 1);
			close(fd);
		}
	}
	errno = ENOSPC;
	return 1;
no:
	errno = saved;
	return 0;
}

static int
disk_fd(int fd)
{
	struct stat st;
	int saved = errno, r;

	if (fd <= 2)
		return 0;
	r = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	errno = saved;
	return r;
}

ssize_t
write(int fd, const void *buf, size_t len)
{
	if (len > 0 && disk_fd(fd) && inject())
		return -1;
	return REAL(write)(fd, buf, len);
}

ssize_t
pwrite(int fd, const void *buf, size_t len, off_t off)
{
	if (len > 0 && disk_fd(fd) && inject())
		return -1;
	return REAL(pwrite)(fd, buf, len, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	if (len > 0 && disk_fd(fd) && inject())
		return -1;
	return REAL(pwrite64)(fd, buf, len, off);
}

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
	if (cnt > 0 && disk_fd(fd) && inject())
		return -1;
	return REAL(writev)(fd, iov, cnt);
}

int
rename(const char *a, const char *b)
{
	if (inject())
		return -1;
	return REAL(rename)(a, b);
}

int
renameat(int da, const char *a, int db, const char *b)
{
	if (inject())
		return -1;
	return REAL(renameat)(da, a, db, b);
}

int
renameat2(int da, const char *a, int db, const char *b, unsigned int flags)
{
	if (inject())
		return -1;
	return REAL(renameat2)(da, a, db, b, flags);
}

int
fsync(int fd)
{
	if (inject())
		return -1;
	return REAL(fsync)(fd);
}

int
fdatasync(int fd)
{
	if (inject())
		return -1;
	return REAL(fdatasync)(fd);
}
