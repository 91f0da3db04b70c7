#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "queue.h"

void
queue_name(const char *spool, char *buf, size_t len)
{
	/* FNV-1a: stable, and keeps the name short whatever the path length. */
	uint64_t h = 0xcbf29ce484222325ULL;
	const unsigned char *p;

	for (p = (const unsigned char *)spool; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	snprintf(buf, len, "/ingestd.%016llx", (unsigned long long)h);
}

static long
read_long(const char *path, long dflt)
{
	FILE *fp = fopen(path, "re");
	long v;

	if (fp == NULL)
		return dflt;
	if (fscanf(fp, "%ld", &v) != 1)
		v = dflt;
	fclose(fp);
	return v;
}

mqd_t
queue_create(const char *name, long *depth, char *why, size_t whylen)
{
	struct mq_attr attr;
	struct rlimit rl;
	long msg_max, msgsize_max, want;
	mqd_t q;

	msg_max = read_long("/proc/sys/fs/mqueue/msg_max", 10);
	msgsize_max = read_long("/proc/sys/fs/mqueue/msgsize_max", 8192);
	if (msgsize_max < 128) {
		errno = EINVAL;
		snprintf(why, whylen, "fs.mqueue.msgsize_max=%ld is below 128", msgsize_max);
		return (mqd_t)-1;
	}
	/* Without CAP_SYS_RESOURCE the soft limit may still be raised to the hard one. */
	if (getrlimit(RLIMIT_MSGQUEUE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_MSGQUEUE, &rl);
	}
	want = msg_max;
	/* A deep queue only buys a little latency: 1024 is plenty. */
	if (want > 1024)
		want = 1024;
	snprintf(why, whylen, "fs.mqueue.msg_max=%ld", msg_max);

	(void)mq_unlink(name);
	memset(&attr, 0, sizeof(attr));
	attr.mq_msgsize = QUEUE_MSGSIZE < msgsize_max ? QUEUE_MSGSIZE : msgsize_max;
	for (;;) {
		attr.mq_maxmsg = want;
		q = mq_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attr);
		if (q != (mqd_t)-1)
			break;
		/* EMFILE: RLIMIT_MSGQUEUE is spent; EINVAL: above msg_max. Shrink. */
		if ((errno == EMFILE || errno == EINVAL || errno == ENOMEM) && want > 1) {
			snprintf(why, whylen, "%s when %ld deep (RLIMIT_MSGQUEUE=%llu)",
			    errno == EMFILE ? "EMFILE" : errno == EINVAL ? "EINVAL" : "ENOMEM",
			    want, (unsigned long long)(getrlimit(RLIMIT_MSGQUEUE, &rl) == 0 ?
			    rl.rlim_cur : 0));
			want /= 2;
			continue;
		}
		if (errno == EEXIST)	/* another run recreated it between unlink and open */
			(void)mq_unlink(name);
		if (errno == EEXIST && want > 0)
			continue;
		snprintf(why, whylen, "mq_open %s: %s (fs.mqueue.msg_max=%ld, "
		    "RLIMIT_MSGQUEUE=%llu)", name, strerror(errno), msg_max,
		    (unsigned long long)(getrlimit(RLIMIT_MSGQUEUE, &rl) == 0 ? rl.rlim_cur : 0));
		return (mqd_t)-1;
	}
	*depth = want;
	return q;
}

/* A message is counted bytes, not a C string: type byte, then the name. */
static ssize_t
build(char *msg, size_t len, char type, const char *name)
{
	size_t n = strlen(name);

	if (n + 1 > len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	msg[0] = type;
	memcpy(msg + 1, name, n); // NOLINT(bugprone-not-null-terminated-result)
	return (ssize_t)n + 1;
}

static unsigned
prio(char type)
{
	return type == QUEUE_MSG_PACKET ? 0 : 1;
}

int
queue_send(mqd_t q, char type, const char *name)
{
	char msg[QUEUE_MSGSIZE];
	ssize_t n = build(msg, sizeof(msg), type, name);

	if (n == -1)
		return -1;
	while (mq_send(q, msg, (size_t)n, prio(type)) == -1)
		if (errno != EINTR)
			return -1;
	return 0;
}

int
queue_offer(mqd_t q, char type, const char *name, unsigned wait_ms)
{
	char msg[QUEUE_MSGSIZE];
	struct timespec until = { 0, 0 };	/* in the past: never blocks */
	ssize_t n = build(msg, sizeof(msg), type, name);

	if (n == -1)
		return -1;
	if (wait_ms > 0) {
		/*
		 * A sender that waits is given the next free place before the one
		 * that was waiting before it sends again: so a hint gets in even
		 * while the watcher keeps a full queue full.
		 */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
		until.tv_sec += wait_ms / 1000 + until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
	}
	while (mq_timedsend(q, msg, (size_t)n, prio(type), &until) == -1)
		if (errno != EINTR)
			return -1;
	return 0;
}

int
queue_take(mqd_t q, char *type, char *name, size_t namelen)
{
	char msg[QUEUE_MSGSIZE + 1];
	struct timespec now = { 0, 0 };	/* in the past: never blocks */
	ssize_t n;

	n = mq_timedreceive(q, msg, sizeof(msg), NULL, &now);
	if (n == -1)
		return (errno == ETIMEDOUT || errno == EAGAIN || errno == EINTR) ? 0 : -1;
	if (n < 2 || (size_t)n > namelen) {
		errno = EBADMSG;
		return -1;
	}
	*type = msg[0];
	memcpy(name, msg + 1, (size_t)n - 1);
	name[n - 1] = '\0';
	return 1;
}

long
queue_depth(mqd_t q)
{
	struct mq_attr a;

	if (mq_getattr(q, &a) == -1)
		return -1;
	return a.mq_curmsgs;
}
