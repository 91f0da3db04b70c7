/*
 * crashshim.so: make ingestd's workers die right after they start, for the
 * crash-loop test in supervision.bats.
 *
 * Only a worker opens the journal for appending (journal_open() in
 * src/journal.c: openat(spooldirfd, "journal", O_WRONLY|O_APPEND|...)), and it
 * does so first thing, before it touches any job. This shim intercepts that
 * one call and, while the file named by CRASHSHIM_FLAG exists, kills the
 * process: abort() (default, CRASHSHIM_MODE=abort) or _exit(1)
 * (CRASHSHIM_MODE=exit). With the flag file gone it does nothing, so the test
 * can end the crash loop without restarting the daemon.
 *
 * Build: cc -shared -fPIC -o crashshim.so crashshim.c -ldl
 * Under an ASan build the daemon also needs ASAN_OPTIONS=verify_asan_link_order=0.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

typedef int (*openat_fn)(int, const char *, int, ...);

static int
armed(void)
{
	const char *flag = getenv("CRASHSHIM_FLAG");

	return flag != NULL && *flag != '\0' && access(flag, F_OK) == 0;
}

static void
maybe_crash(int dirfd, const char *path, int flags)
{
	const char *mode;
	char msg[160];
	int n;

	if (dirfd == AT_FDCWD || path == NULL || strcmp(path, "journal") != 0 ||
	    !(flags & O_APPEND) || !armed())
		return;
	mode = getenv("CRASHSHIM_MODE");
	n = snprintf(msg, sizeof(msg), "crashshim: pid %ld opens the journal: %s\n",
	    (long)getpid(), mode != NULL && strcmp(mode, "exit") == 0 ? "_exit(1)" : "abort()");
	if (n > 0)
		(void)!write(2, msg, (size_t)n);
	if (mode != NULL && strcmp(mode, "exit") == 0)
		_exit(1);
	abort();
}

static int
call_real(const char *sym, int dirfd, const char *path, int flags, mode_t m)
{
	openat_fn real = (openat_fn)dlsym(RTLD_NEXT, sym);

	if (real == NULL)
		abort();
	return real(dirfd, path, flags, m);
}

static mode_t
mode_arg(int flags, va_list ap)
{
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
		return (mode_t)va_arg(ap, int);
	return 0;
}

int
openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t m;

	va_start(ap, flags);
	m = mode_arg(flags, ap);
	va_end(ap);
	maybe_crash(dirfd, path, flags);
	return call_real("openat", dirfd, path, flags, m);
}

int
openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t m;

	va_start(ap, flags);
	m = mode_arg(flags, ap);
	va_end(ap);
	maybe_crash(dirfd, path, flags);
	return call_real("openat64", dirfd, path, flags, m);
}
