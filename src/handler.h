/*
 * Running the site's handler command for one job: execve (no shell), its own
 * process group, stdin /dev/null, stdout+stderr into a bounded job log, a
 * deadline, and nothing it started left running afterwards.
 */
#ifndef INGESTD_HANDLER_H
#define INGESTD_HANDLER_H

#include <stdint.h>

enum handler_how {
	HANDLER_EXITED,		/* code = exit status */
	HANDLER_SIGNALED,	/* code = signal number */
	HANDLER_TIMEOUT,	/* killed at the deadline */
	HANDLER_EXEC_FAILED,	/* code = errno of execve or chdir */
	HANDLER_ABANDONED	/* the caller asked to stop: killed, not its fault */
};

struct handler_ctx {
	char *const *argv;	/* expanded, NULL-terminated */
	char *const *envp;	/* complete environment, NULL-terminated */
	const char  *cwd;
	uint64_t     timeout_ms;	/* 0: none */
	uint64_t     log_max;	/* bytes of output kept: head and tail */
	int          logfd;	/* where the output goes */
	int          sigfd;	/* caller's signalfd, watched while waiting; -1: none */
	/* Called when sigfd is readable; returns 1 to abandon the job now. */
	int        (*on_signal)(void *arg);
	void        *arg;
};

struct handler_result {
	enum handler_how how;
	int          code;
	uint64_t     dur_ms;
	uint64_t     log_bytes;	/* output produced */
	uint64_t     log_omitted;	/* output dropped from the middle */
};

/*
 * Run the handler and wait for it. Whatever the outcome, every process it
 * started is killed before this returns (the caller must be a child
 * subreaper). Returns 0 with *r filled, or -1 with errno when it could not
 * even be started (fork, pipe).
 */
int handler_run(const struct handler_ctx *h, struct handler_result *r);

/* Short logfmt reason for a failed run, e.g. "exit status=3". */
void handler_reason(const struct handler_result *r, uint64_t timeout_ms, char *buf, size_t len);

#endif
