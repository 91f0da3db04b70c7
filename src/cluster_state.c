#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster_state.h"

int
cluster_state_write(int rfd, const struct cluster_state *st)
{
	char buf[1024];
	int fd, n, e;

	n = snprintf(buf, sizeof(buf), "state=%s server=%s node=%s stream=%s pending=%" PRIu64
	    " unacked=%" PRIu64 " leases=%" PRIu64 " time=%" PRId64 "\n",
	    st->connected ? "connected" : "disconnected", st->server[0] ? st->server : "-",
	    st->node, st->stream, st->pending, st->unacked, st->leases, st->time_ms);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = openat(rfd, "." CLUSTER_STATE_FILE ".tmp", O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd == -1)
		return -1;
	if (write(fd, buf, (size_t)n) != n || close(fd) == -1 ||
	    renameat(rfd, "." CLUSTER_STATE_FILE ".tmp", rfd, CLUSTER_STATE_FILE) == -1) {
		e = errno;
		(void)unlinkat(rfd, "." CLUSTER_STATE_FILE ".tmp", 0);
		errno = e;
		return -1;
	}
	return 0;
}

/* Copy the value of " key=" in line (up to a space) into out. */
static int
field(const char *line, const char *key, char *out, size_t len)
{
	char pat[32];
	const char *p;
	size_t n;

	snprintf(pat, sizeof(pat), "%s=", key);
	for (p = line; (p = strstr(p, pat)) != NULL; p++)
		if (p == line || p[-1] == ' ')
			break;
	if (p == NULL)
		return -1;
	p += strlen(pat);
	n = strcspn(p, " \n");
	if (n >= len)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

static int
number(const char *line, const char *key, uint64_t *v)
{
	char buf[32], *end;

	if (field(line, key, buf, sizeof(buf)) == -1)
		return -1;
	errno = 0;
	*v = strtoull(buf, &end, 10);
	return errno != 0 || *end != '\0' || buf[0] == '\0' ? -1 : 0;
}

int
cluster_state_read(int rfd, struct cluster_state *st)
{
	char buf[1025], state[32];
	uint64_t t;
	ssize_t n;
	int fd;

	memset(st, 0, sizeof(*st));
	if ((fd = openat(rfd, CLUSTER_STATE_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		goto bad;
	buf[n] = '\0';
	if (field(buf, "state", state, sizeof(state)) == -1 ||
	    field(buf, "server", st->server, sizeof(st->server)) == -1 ||
	    field(buf, "node", st->node, sizeof(st->node)) == -1 ||
	    field(buf, "stream", st->stream, sizeof(st->stream)) == -1 ||
	    number(buf, "pending", &st->pending) == -1 ||
	    number(buf, "unacked", &st->unacked) == -1 ||
	    number(buf, "leases", &st->leases) == -1 || number(buf, "time", &t) == -1)
		goto bad;
	st->connected = strcmp(state, "connected") == 0;
	st->time_ms = (int64_t)t;
	return 0;
bad:
	memset(st, 0, sizeof(*st));
	errno = EINVAL;
	return -1;
}
