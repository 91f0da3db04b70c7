/*
 * Parsing untrusted input in a helper process under hard limits that do not
 * depend on the parser behaving (OpenBSD's privilege separation): the worker
 * forks a helper, sends it one request at a time over a socket and waits for
 * the answer with a deadline; a helper that overruns is SIGKILLed and the
 * next call forks a fresh one.
 *
 * A helper is kept between calls because a fork is the dearest part of a
 * small packet: the daemon maps some 45 libraries, and fork, exit and wait
 * of a process that size cost ~1.2 ms here (a bare process: 0.26 ms), more
 * than the rest of a 4 KiB packet's work.
 *
 * In the helper: RLIMIT_AS at what it mapped when it started plus
 * max_memory, RLIMIT_CPU max_time (plus a second) past the CPU time used
 * before each request (a backstop: the wall clock fires first), no core
 * files, PR_SET_PDEATHSIG SIGKILL (it never outlives its worker), no
 * descriptor but 0-2 and its socket, no new privileges, a seccomp filter
 * that refuses what a parser never needs (exec, fork, sockets, ptrace,
 * mounts, signals to others, ...) and, where the kernel has Landlock, no
 * write outside the directory `writable`. A helper that grew by more than
 * half of max_memory exits after its answer, so that one packet's heap is
 * never the next one's limit.
 */
#ifndef INGESTD_SANDBOX_H
#define INGESTD_SANDBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sandbox_limits {
	uint64_t    max_memory;	/* bytes the helper may map beyond its start; 0: none */
	uint64_t    max_time_ms;	/* wall clock per call; 0: none */
	const char *writable;	/* the one tree it may write in; NULL: no Landlock rule */
};

/* The helper's work: answer one request by appending to *ans (see sandbox_append). */
struct sandbox_buf {
	char   *p;
	size_t  len, cap;
};
typedef int (*sandbox_fn)(void *arg, const char *req, size_t reqlen, struct sandbox_buf *ans);

struct sandbox {
	pid_t       pid;	/* 0: no helper */
	int         sock;
	uint64_t    key;	/* what the helper was made for: another key forks anew */
	uint64_t    calls;
};

enum sandbox_end {
	SANDBOX_ANSWERED = 0,	/* out holds the answer */
	SANDBOX_TIME,		/* killed at the wall-clock deadline */
	SANDBOX_CPU,		/* killed by RLIMIT_CPU */
	SANDBOX_SIGNALED,	/* died of another signal (sig) */
	SANDBOX_EXITED,		/* exited without an answer (status) */
	SANDBOX_TOO_LONG,	/* answered more than maxout bytes: killed */
};

struct sandbox_result {
	enum sandbox_end end;
	int         status;
	int         sig;
	uint64_t    ms;		/* wall clock of the call */
	char       *out;	/* the answer, NUL-terminated; free() it */
	size_t      outlen;
};

#define SANDBOX_INIT { 0, -1, 0, 0 }

/*
 * Run fn(arg, req) in s's helper, forking one first when there is none or it
 * was made for another key (fn, arg and the limits are the helper's own from
 * then on: a new key is how a caller changes them). Returns 0 with res
 * filled, or -1 with errno when no helper could be run or talked to (EAGAIN,
 * ENOMEM, EMFILE: the system's fault).
 */
int  sandbox_call(struct sandbox *s, uint64_t key, const struct sandbox_limits *l,
    sandbox_fn fn, void *arg, const void *req, size_t reqlen, size_t maxout,
    struct sandbox_result *res);

/* End s's helper, if any, and reap it. */
void sandbox_stop(struct sandbox *s);

/* Append len bytes to b. 0, or -1 (ENOMEM). */
int  sandbox_append(struct sandbox_buf *b, const void *p, size_t len);

/* "landlock+seccomp", "seccomp", "landlock" or "rlimits": what a helper gets here. */
const char *sandbox_kind(void);

#endif
