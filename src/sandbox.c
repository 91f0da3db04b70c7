/*
 * See sandbox.h. Fork without exec: the helper already holds the parsers and
 * the configuration, and an exec of the daemon (45 libraries to map) would
 * cost more still than the fork. Requests and answers are framed as a
 * 32-bit length and that many bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>

#include "clock.h"
#include "sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#if defined(__x86_64__)
#define SECCOMP_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SECCOMP_ARCH AUDIT_ARCH_AARCH64
#endif


#ifdef SECCOMP_ARCH
/*
 * Refused with EPERM. A deny-list, not an allow-list: libc and libarchive
 * use a wide set of calls that changes with their versions (a missed one
 * would fail good packets after an upgrade), while what is listed here is
 * what turns a parser bug into more than a wrong answer: running programs,
 * talking to the network, touching other processes, changing the system.
 */
static const int denied[] = {
	__NR_execve, __NR_execveat, __NR_clone, __NR_clone3,
#ifdef __NR_fork
	__NR_fork, __NR_vfork,
#endif
	__NR_socket, __NR_socketpair, __NR_connect, __NR_bind, __NR_listen, __NR_accept,
	__NR_accept4, __NR_ptrace, __NR_process_vm_readv, __NR_process_vm_writev, __NR_kill,
	__NR_tkill, __NR_pidfd_send_signal, __NR_pidfd_open, __NR_rt_sigqueueinfo,
	__NR_rt_tgsigqueueinfo, __NR_mount, __NR_umount2, __NR_pivot_root, __NR_chroot,
	__NR_setuid, __NR_setgid, __NR_setreuid, __NR_setregid, __NR_setresuid,
	__NR_setresgid, __NR_setgroups, __NR_setns, __NR_unshare, __NR_bpf,
	__NR_perf_event_open, __NR_keyctl, __NR_add_key, __NR_request_key, __NR_init_module,
	__NR_finit_module, __NR_delete_module, __NR_reboot, __NR_kexec_load,
	__NR_kexec_file_load, __NR_swapon, __NR_swapoff, __NR_io_uring_setup,
	__NR_userfaultfd, __NR_open_by_handle_at, __NR_name_to_handle_at, __NR_personality,
	__NR_mknodat, __NR_fchownat, __NR_fchown, __NR_quotactl, __NR_acct,
	__NR_settimeofday, __NR_clock_settime, __NR_adjtimex, __NR_sethostname,
	__NR_setdomainname,
#ifdef __NR_mknod
	__NR_mknod, __NR_chown, __NR_lchown,
#endif
};

#define NDENIED	 (sizeof(denied) / sizeof(denied[0]))
#define ARG(n)	 (offsetof(struct seccomp_data, args) + (n) * sizeof(__u64))

static int
install_seccomp(pid_t self)
{
	/* arch, nr (+ x32), each denied call, tgkill to ourselves only, ioctl TIOCSTI, allow */
	struct sock_filter f[4 + 2 + 2 * NDENIED + 4 + 4 + 1];
	struct sock_fprog prog;
	size_t n = 0, i;

	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_ARCH, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, nr));
#ifdef __x86_64__
	/* The x32 ABI's numbers would slip past a list of x86_64 ones. */
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
#endif
	for (i = 0; i < NDENIED; i++) {
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
		    (unsigned)denied[i], 0, 1);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
		    SECCOMP_RET_ERRNO | EPERM);
	}
	/* abort() signals itself with tgkill: that one target only. */
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_tgkill, 0, 3);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG(0));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)self, 5, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
	/* TIOCSTI would type into the terminal the daemon was started from. */
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 3);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG(1));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCSTI, 0, 1);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	prog.len = (unsigned short)n;
	prog.filter = f;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}
#else
static int
install_seccomp(pid_t self)
{
	(void)self;
	return 0;
}
#endif

/* Rights that change the file system; reads stay open (the packet is read by path). */
static int
install_landlock(const char *writable)
{
	struct landlock_ruleset_attr ra = { 0 };
	struct landlock_path_beneath_attr pb = { 0 };
	long abi;
	int rs, dfd, r = -1;

	if (writable == NULL)
		return 0;
	abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1)
		return 0;	/* no Landlock here: seccomp and the rlimits still hold */
	ra.handled_access_fs = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
	    LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
	    LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
	    LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
	    LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
#ifdef LANDLOCK_ACCESS_FS_REFER
	if (abi >= 2)
		ra.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
#endif
#ifdef LANDLOCK_ACCESS_FS_TRUNCATE
	if (abi >= 3)
		ra.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
#endif
	rs = (int)syscall(SYS_landlock_create_ruleset, &ra, sizeof(ra), 0);
	if (rs == -1)
		return -1;
	dfd = open(writable, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd != -1) {
		pb.allowed_access = ra.handled_access_fs;
		pb.parent_fd = dfd;
		if (syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) == 0 &&
		    syscall(SYS_landlock_restrict_self, rs, 0) == 0)
			r = 0;
		close(dfd);
	}
	close(rs);
	return r;
}

const char *
sandbox_kind(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

#ifdef SECCOMP_ARCH
	return abi >= 1 ? "landlock+seccomp" : "seccomp";
#else
	return abi >= 1 ? "landlock" : "rlimits";
#endif
}

/* Pages mapped now, from /proc/self/statm: RLIMIT_AS counts them too. */
static uint64_t
mapped_bytes(void)
{
	char buf[128];
	ssize_t n;
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtoull(buf, NULL, 10) * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Close every descriptor above 2 but keep. */
static int
close_all_but(int keep)
{
	if (keep > 3 && syscall(SYS_close_range, 3U, (unsigned)keep - 1, 0U) == -1)
		return -1;
	return (int)syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0U);
}

static void
set_limit(int res, uint64_t soft, uint64_t hard)
{
	struct rlimit rl = { .rlim_cur = (rlim_t)soft, .rlim_max = (rlim_t)hard };

	(void)setrlimit(res, &rl);
}

/* RLIMIT_CPU's soft limit max_time past what was used so far; SIGXCPU ends the helper. */
static void
cpu_limit(const struct sandbox_limits *l)
{
	struct rusage ru;
	struct rlimit rl;
	uint64_t soft;

	if (l->max_time_ms == 0 || getrusage(RUSAGE_SELF, &ru) == -1 ||
	    getrlimit(RLIMIT_CPU, &rl) == -1)
		return;
	soft = (uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec + 2 +
	    (l->max_time_ms + 999) / 1000;
	if (rl.rlim_max != RLIM_INFINITY && soft > (uint64_t)rl.rlim_max)
		soft = (uint64_t)rl.rlim_max;
	rl.rlim_cur = (rlim_t)soft;
	(void)setrlimit(RLIMIT_CPU, &rl);
}

static int
io_full(int fd, void *buf, size_t len, int out)
{
	char *p = buf;
	ssize_t n;

	while (len) {
		n = out ? write(fd, p, len) : read(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
sandbox_append(struct sandbox_buf *b, const void *p, size_t len)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *n;

	while (cap < b->len + len + 1)
		cap *= 2;
	if (cap != b->cap) {
		if ((n = realloc(b->p, cap)) == NULL)
			return -1;
		b->p = n;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
	b->p[b->len] = '\0';
	return 0;
}

/* The helper's side: set-up, then one request after the other until the socket closes. */
static void __attribute__((noreturn))
helper(const struct sandbox_limits *l, sandbox_fn fn, void *arg, int sock, pid_t parent)
{
	struct sandbox_buf ans;
	uint64_t base = 0;
	uint32_t n;
	sigset_t xcpu;
	char *req;
	int rc;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
		_exit(127);
	/* The journal, the queue, the job locks: nothing of the worker's is the parser's. */
	if (close_all_but(sock) == -1)
		_exit(127);
	/* The worker's blocked signals stay blocked (a SIGTERM is the worker's to act on); */
	/* SIGXCPU must end the helper, whatever the worker did with it. */
	signal(SIGXCPU, SIG_DFL);
#ifndef UNDER_ASAN
	/* A parser's crash ends the helper with its signal, whoever caught it in the worker. */
	signal(SIGSEGV, SIG_DFL);
	signal(SIGBUS, SIG_DFL);
	signal(SIGILL, SIG_DFL);
	signal(SIGFPE, SIG_DFL);
	signal(SIGABRT, SIG_DFL);
#endif
	sigemptyset(&xcpu);
	sigaddset(&xcpu, SIGXCPU);
	sigprocmask(SIG_UNBLOCK, &xcpu, NULL);
	set_limit(RLIMIT_CORE, 0, 0);
	if (l->max_memory) {
		base = mapped_bytes();
#ifndef UNDER_ASAN
		/* ASan reserves terabytes of shadow: only the wall clock bounds a sanitized build. */
		set_limit(RLIMIT_AS, base + l->max_memory, base + l->max_memory);
#endif
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 || install_landlock(l->writable) == -1 ||
	    install_seccomp(getpid()) == -1)
		_exit(127);
	for (;;) {
		if (io_full(sock, &n, sizeof(n), 0) == -1)
			_exit(0);	/* the worker is done with us */
		if ((req = malloc((size_t)n + 1)) == NULL || io_full(sock, req, n, 0) == -1)
			_exit(126);
		req[n] = '\0';
		cpu_limit(l);
		memset(&ans, 0, sizeof(ans));
		rc = fn(arg, req, n, &ans);
		free(req);
		n = (uint32_t)ans.len;
		if (rc != 0 || ans.len > UINT32_MAX || io_full(sock, &n, sizeof(n), 1) == -1 ||
		    io_full(sock, ans.p, ans.len, 1) == -1)
			_exit(rc ? rc : 125);
		free(ans.p);
		malloc_trim(0);
		if (l->max_memory && mapped_bytes() > base + l->max_memory / 2)
			_exit(0);	/* grown: the next call gets a fresh helper */
	}
}

static int
spawn(struct sandbox *s, uint64_t key, const struct sandbox_limits *l, sandbox_fn fn, void *arg)
{
	pid_t pid, parent = getpid();
	int sv[2], e;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		e = errno;
		close(sv[0]);
		close(sv[1]);
		errno = e;
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		helper(l, fn, arg, sv[1], parent);
	}
	close(sv[1]);
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) == -1) {
		e = errno;
		close(sv[0]);
		kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
		errno = e;
		return -1;
	}
	s->pid = pid;
	s->sock = sv[0];
	s->key = key;
	s->calls = 0;
	return 0;
}

/* Reap the helper (dead, or killed here first); what ended it goes into res. */
static void
reap(struct sandbox *s, const struct sandbox_limits *l, int killit, struct sandbox_result *res)
{
	struct rusage ru;
	int status = 0;
	pid_t r;

	if (s->pid == 0)
		return;
	if (killit)
		kill(s->pid, SIGKILL);
	close(s->sock);
	s->sock = -1;
	memset(&ru, 0, sizeof(ru));
	while ((r = wait4(s->pid, &status, 0, &ru)) == -1 && errno == EINTR)
		;
	s->pid = 0;
	if (res == NULL || killit || r == -1)
		return;
	if (WIFSIGNALED(status)) {
		res->sig = WTERMSIG(status);
		/* SIGXCPU at RLIMIT_CPU's soft limit; a SIGKILL past it is its hard one. */
		res->end = res->sig == SIGXCPU || (res->sig == SIGKILL && l->max_time_ms &&
		    (uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec >=
		    (l->max_time_ms + 999) / 1000) ? SANDBOX_CPU : SANDBOX_SIGNALED;
	} else {
		res->end = SANDBOX_EXITED;
		res->status = WEXITSTATUS(status);
	}
}

void
sandbox_stop(struct sandbox *s)
{
	/* Closing its socket ends an idle helper; SIGKILL also ends a busy one. */
	reap(s, NULL, 1, NULL);
}

/* An idle helper has nothing to say: readable means it exited (EOF). */
static int
gone(const struct sandbox *s)
{
	struct pollfd pfd = { .fd = s->sock, .events = POLLIN };

	return poll(&pfd, 1, 0) != 0;
}

/* Read want bytes into buf by deadline (0: none). 1 done, 0 EOF, -1 error, -2 deadline. */
static int
recv_by(int fd, void *buf, size_t want, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char *p = buf;
	uint64_t now;
	ssize_t n;
	int t;

	while (want) {
		n = read(fd, p, want);
		if (n > 0) {
			p += n;
			want -= (size_t)n;
			continue;
		}
		if (n == 0)
			return 0;
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		t = -1;
		if (deadline) {
			now = clock_mono_ms();
			if (now >= deadline)
				return -2;
			t = (int)(deadline - now);
		}
		if (poll(&pfd, 1, t) == -1 && errno != EINTR)
			return -1;
	}
	return 1;
}

int
sandbox_call(struct sandbox *s, uint64_t key, const struct sandbox_limits *l, sandbox_fn fn,
    void *arg, const void *req, size_t reqlen, size_t maxout, struct sandbox_result *res)
{
	uint64_t start = clock_mono_ms(), deadline = 0;
	uint32_t n = (uint32_t)reqlen;
	int r, e;

	memset(res, 0, sizeof(res[0]));
	if (reqlen > UINT32_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (s->pid && (s->key != key || gone(s)))
		reap(s, l, s->key != key, NULL);
	if (s->pid == 0 && spawn(s, key, l, fn, arg) == -1)
		return -1;
	/* Small requests into an idle socket's buffer: these do not block. */
	if (send(s->sock, &n, sizeof(n), MSG_NOSIGNAL) != (ssize_t)sizeof(n) ||
	    send(s->sock, req, reqlen, MSG_NOSIGNAL) != (ssize_t)reqlen) {
		e = errno;
		reap(s, l, 1, NULL);
		errno = e == EAGAIN ? EIO : e;
		return -1;
	}
	s->calls++;
	if (l->max_time_ms)
		deadline = start + l->max_time_ms;
	r = recv_by(s->sock, &n, sizeof(n), deadline);
	if (r == 1 && n > maxout) {
		res->end = SANDBOX_TOO_LONG;
		r = -3;
	}
	if (r == 1) {
		if ((res->out = malloc((size_t)n + 1)) == NULL) {
			reap(s, l, 1, NULL);
			errno = ENOMEM;
			return -1;
		}
		r = recv_by(s->sock, res->out, n, deadline);
		res->outlen = n;
		res->out[n] = '\0';
	}
	res->ms = clock_mono_ms() - start;
	switch (r) {
	case 1:
		return 0;
	case 0:		/* it died on this request: how? */
		reap(s, l, 0, res);
		if (res->end == SANDBOX_ANSWERED)
			res->end = SANDBOX_EXITED;
		break;
	case -2:
		res->end = SANDBOX_TIME;
		/* FALLTHROUGH */
	case -3:
		reap(s, l, 1, NULL);
		break;
	default:
		e = errno;
		reap(s, l, 1, NULL);
		free(res->out);
		res->out = NULL;
		errno = e;
		return -1;
	}
	free(res->out);
	res->out = NULL;
	res->outlen = 0;
	return 0;
}
