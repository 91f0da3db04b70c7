#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger.h"
#include "origin.h"
#include "s3.h"

#define ORIGIN_DIR  "origin"	/* under SPOOL/remote */
#define ORIGIN_MAX  (64 * 1024)

static int
origin_dir(const struct spool *s, int create)
{
	int rfd, fd;

	/* Only a download makes SPOOL/remote: a spool without one stays as it was. */
	if (!create)
		return openat(s->dirfd, REMOTE_DIR "/" ORIGIN_DIR, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC);
	if ((rfd = remote_dir(s)) == -1)
		return -1;
	if (create && mkdirat(rfd, ORIGIN_DIR, 0750) == -1 && errno != EEXIST) {
		close(rfd);
		return -1;
	}
	fd = openat(rfd, ORIGIN_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(rfd);
	return fd;
}

int
origin_write(const struct spool *s, const char *name, ino_t ino, const struct origin *o)
{
	char body[ORIGIN_MAX], key[3 * 1024 + 1], url[3 * S3_URL_MAX + 1], tmp[NAME_MAX + 16];
	int dfd, fd, n, e;

	if (s3_encode(o->key, 1, key, sizeof(key)) == -1 || s3_encode(o->url, 1, url,
	    sizeof(url)) == -1)
		return -1;
	n = snprintf(body, sizeof(body), "ino=%" PRIu64 "\nsource=%s\nbucket=%s\nkey=%s\n"
	    "etag=%s\nurl=%s\n", (uint64_t)ino, o->source, o->bucket, key, o->etag, url);
	if (n < 0 || (size_t)n >= sizeof(body) || strchr(o->bucket, '\n') ||
	    strchr(o->etag, '\n') || strchr(o->source, '\n')) {
		errno = EINVAL;
		return -1;
	}
	if ((dfd = origin_dir(s, 1)) == -1)
		return -1;
	snprintf(tmp, sizeof(tmp), ".%.*s.tmp", NAME_MAX - 6, name);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd == -1 || write(fd, body, (size_t)n) != n || close(fd) == -1 ||
	    renameat(dfd, tmp, dfd, name) == -1) {
		e = errno;
		(void)unlinkat(dfd, tmp, 0);
		close(dfd);
		errno = e;
		return -1;
	}
	close(dfd);
	return 0;
}

/* The value of "key=" at the start of a line of buf, into out. */
static int
value(const char *buf, const char *key, char *out, size_t len)
{
	size_t kl = strlen(key), n;
	const char *p;

	for (p = buf; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			p += kl + 1;
			n = strcspn(p, "\n");
			if (n >= len)
				return -1;
			memcpy(out, p, n);
			out[n] = '\0';
			return 0;
		}
	return -1;
}

void
origin_env(const struct spool *s, const char *name, const char *path, struct strv *env)
{
	char buf[ORIGIN_MAX + 1], ino[32], enc[3 * S3_URL_MAX + 1], var[S3_URL_MAX + 32];
	struct origin o;
	struct stat st;
	ssize_t n;
	int dfd, fd;

	memset(&o, 0, sizeof(o));
	if (stat(path, &st) == -1 || (dfd = origin_dir(s, 0)) == -1)
		goto inbox;
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	close(dfd);
	if (fd == -1)
		goto inbox;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		goto inbox;
	buf[n] = '\0';
	if (value(buf, "ino", ino, sizeof(ino)) == -1 ||
	    strtoull(ino, NULL, 10) != (unsigned long long)st.st_ino ||
	    value(buf, "source", o.source, sizeof(o.source)) == -1)
		goto inbox;	/* not the file the download made */
	snprintf(var, sizeof(var), "INGEST_SOURCE=%s", o.source);
	(void)strv_push(env, var);
	if (value(buf, "url", enc, sizeof(enc)) == 0 && enc[0] != '\0' &&
	    s3_decode(enc, o.url, sizeof(o.url)) > 0) {
		snprintf(var, sizeof(var), "INGEST_URL=%s", o.url);
		(void)strv_push(env, var);
	}
	if (strcmp(o.source, "s3") != 0)
		return;
	if (value(buf, "bucket", o.bucket, sizeof(o.bucket)) == 0) {
		snprintf(var, sizeof(var), "INGEST_S3_BUCKET=%s", o.bucket);
		(void)strv_push(env, var);
	}
	if (value(buf, "key", enc, sizeof(enc)) == 0 && s3_decode(enc, o.key, sizeof(o.key)) > 0) {
		snprintf(var, sizeof(var), "INGEST_S3_KEY=%s", o.key);
		(void)strv_push(env, var);
	}
	if (value(buf, "etag", o.etag, sizeof(o.etag)) == 0) {
		snprintf(var, sizeof(var), "INGEST_S3_ETAG=%s", o.etag);
		(void)strv_push(env, var);
	}
	return;
inbox:
	(void)strv_push(env, "INGEST_SOURCE=inbox");
}

void
origin_drop(const struct spool *s, const char *name)
{
	int dfd = origin_dir(s, 0);

	if (dfd == -1)
		return;
	(void)unlinkat(dfd, name, 0);
	close(dfd);
}
