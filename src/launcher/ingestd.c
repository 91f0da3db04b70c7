/*
 * ingestd: block the signals the daemon handles, then execute the daemon.
 *
 * The daemon links some 45 shared libraries (libcurl, libarchive and theirs),
 * and the dynamic loader takes about 4 ms to map them before any of the
 * daemon's code runs. A SIGTERM in those milliseconds would kill it by the
 * signal's default action, and `kill -TERM` right after a start would end in
 * "killed by signal 15" instead of a clean exit 0. This program links libc
 * alone, so that window shrinks to the kernel's exec itself. The signal mask
 * survives execve(2): the daemon finds such a signal pending on its signalfd
 * and stops cleanly.
 *
 * The daemon is INGESTD-core beside this program (a build tree), else the
 * installed one.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#ifndef INGESTD_CORE
#define INGESTD_CORE "/usr/libexec/ingestd/ingestd-core"
#endif

int
main(int argc, char *argv[])
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2,
	    SIGTTIN, SIGTTOU };
	char self[PATH_MAX];
	sigset_t set;
	ssize_t n;
	size_t i;

	sigemptyset(&set);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&set, sigs[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	(void)argc;

	n = readlink("/proc/self/exe", self, sizeof(self) - sizeof("-core"));
	if (n > 0) {
		memcpy(self + n, "-core", sizeof("-core"));
		execv(self, argv);
		if (errno != ENOENT) {
			fprintf(stderr, "ingestd: cannot run %s: %s\n", self, strerror(errno));
			return EX_OSFILE;
		}
	}
	execv(INGESTD_CORE, argv);
	fprintf(stderr, "ingestd: cannot run %s: %s\n", INGESTD_CORE, strerror(errno));
	return EX_OSFILE;
}
