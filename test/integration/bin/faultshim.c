/*
 * faultshim.so: make chosen system calls of ingestd fail, a given number of
 * times, for the job-core tests in jobcore.bats.
 *
 *   FAULTSHIM=CALL:NAME:ERROR:COUNT[:SKIP][,...]
 *       CALL   write, renameat2, fdatasync or read
 *       NAME   the base name the call is about: of the file the descriptor
 *              is open on (write, fdatasync, read), of the old name (renameat2)
 *       ERROR  ENOSPC, EIO or EACCES; for write also "short": write half of
 *              the bytes and return that count, as a disk filling up does
 *       COUNT  how many such calls fail, for all processes together
 *       SKIP   how many such calls succeed first (default 0)
 *   FAULTSHIM_READ=OFF  read is wrapped only then (it is the busiest call), and
 *                       fails only at file offsets from OFF on: a reader that
 *                       got its first block and then fails, as a bad sector does
 *   FAULTSHIM_DIR=DIR   where the counts are kept (one file per rule); the
 *                       rules apply only while DIR/armed exists (a process
 *                       that may not write DIR, such as ingestd's sandboxed
 *                       extraction, fails every call while armed: disarm it)
 *
 * Build: cc -shared -fPIC -o faultshim.so faultshim.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum call { C_WRITE, C_RENAMEAT2, C_FDATASYNC, C_READ };

static const char *
base(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static int
fd_name(int fd, char *out, size_t len)
{
	char link[64], path[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return -1;
	path[n] = '\0';
	snprintf(out, len, "%s", base(path));
	return 0;
}

/* The error to inject for this call, 0 for none; -2 for a short write. */
static int
fault(enum call call, const char *name)
{
	static const char *const calls[] = { "write", "renameat2", "fdatasync", "read" };
	const char *spec = getenv("FAULTSHIM"), *dir = getenv("FAULTSHIM_DIR");
	char buf[1024], armed[PATH_MAX], count[PATH_MAX], *rule, *save = NULL;
	int idx = 0;

	if (spec == NULL || dir == NULL || name == NULL)
		return 0;
	snprintf(armed, sizeof(armed), "%s/armed", dir);
	if (access(armed, F_OK) != 0)
		return 0;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (rule = strtok_r(buf, ",", &save); rule; rule = strtok_r(NULL, ",", &save), idx++) {
		char c[32], n[256], e[32];
		unsigned max, skip = 0;
		struct stat st;
		int fd, err, got;

		got = sscanf(rule, "%31[^:]:%255[^:]:%31[^:]:%u:%u", c, n, e, &max, &skip);
		if (got < 4 || strcmp(c, calls[call]) != 0 || strcmp(n, name) != 0)
			continue;
		snprintf(count, sizeof(count), "%s/count.%d", dir, idx);
		if (stat(count, &st) == 0 && (unsigned long long)st.st_size >= max + skip)
			continue;
		if (skip > 0 && (stat(count, &st) == -1 || (unsigned long long)st.st_size < skip)) {
			/* One of the calls let through: counted with a '-'. */
			fd = open(count, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
			if (fd >= 0) {
				ssize_t (*realw)(int, const void *, size_t) =
				    (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");

				(void)realw(fd, "-", 1);
				close(fd);
			}
			return 0;
		}
		err = strcmp(e, "short") == 0 ? -2 : strcmp(e, "EIO") == 0 ? EIO :
		    strcmp(e, "EACCES") == 0 ? EACCES : ENOSPC;
		fd = open(count, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd >= 0) {
			ssize_t (*real)(int, const void *, size_t) =
			    (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");

			(void)real(fd, "x", 1);
			close(fd);
		}
		return err;
	}
	return 0;
}

ssize_t
write(int fd, const void *buf, size_t len)
{
	ssize_t (*real)(int, const void *, size_t) =
	    (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	char name[256];
	int err = 0;

	if (fd > 2 && len > 1 && fd_name(fd, name, sizeof(name)) == 0)
		err = fault(C_WRITE, name);
	if (err == -2) {
		ssize_t n = real(fd, buf, len / 2);

		errno = ENOSPC;
		return n;
	}
	if (err > 0) {
		errno = err;
		return -1;
	}
	return real(fd, buf, len);
}

int
renameat2(int ofd, const char *old, int nfd, const char *new, unsigned flags)
{
	int (*real)(int, const char *, int, const char *, unsigned) =
	    (int (*)(int, const char *, int, const char *, unsigned))dlsym(RTLD_NEXT, "renameat2");
	int err = fault(C_RENAMEAT2, old ? base(old) : NULL);

	if (err > 0) {
		errno = err;
		return -1;
	}
	return real(ofd, old, nfd, new, flags);
}

int
fdatasync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	char name[256];
	int err = 0;

	if (fd_name(fd, name, sizeof(name)) == 0)
		err = fault(C_FDATASYNC, name);
	if (err > 0) {
		errno = err;
		return -1;
	}
	return real(fd);
}

ssize_t
read(int fd, void *buf, size_t len)
{
	ssize_t (*real)(int, void *, size_t) =
	    (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
	char name[256];
	int err = 0;
	const char *from = getenv("FAULTSHIM_READ");

	if (fd > 2 && from && lseek(fd, 0, SEEK_CUR) >= atoll(from) &&
	    fd_name(fd, name, sizeof(name)) == 0)
		err = fault(C_READ, name);
	if (err > 0) {
		errno = err;
		return -1;
	}
	return real(fd, buf, len);
}
