#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "request.h"

#define REQ_FILE_MAX   8192

static enum request_result
bad_request(char *reason, size_t len, unsigned line, const char *what)
{
	snprintf(reason, len, "fetch bad_request line=%u error=%s", line, LQ(what));
	return REQUEST_BAD;
}

static int
is_hex64(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdefABCDEF") == 64;
}

/* s3://BUCKET/KEY (KEY percent-encoded as a path) */
static enum request_result
parse_s3(struct request *r, const struct conf *c, const char *line, const char *endpoint,
    unsigned lineno, char *reason, size_t len)
{
	char bucket[256];
	const char *p = line + 5, *slash = strchr(p, '/');

	if (slash == NULL || slash == p || (size_t)(slash - p) >= sizeof(bucket))
		return bad_request(reason, len, lineno, "expected s3://BUCKET/KEY");
	memcpy(bucket, p, (size_t)(slash - p));
	bucket[slash - p] = '\0';
	if (s3_decode(slash + 1, r->key, sizeof(r->key)) <= 0)
		return bad_request(reason, len, lineno, "bad key in s3://BUCKET/KEY");
	r->src = s3_find_source(c, endpoint, bucket, r->key);
	if (r->src == NULL)
		return bad_request(reason, len, lineno,
		    "no configured source has this bucket and prefix");
	if (s3_object_url(r->src, r->key, r->url, sizeof(r->url)) == -1)
		return bad_request(reason, len, lineno, "key too long");
	snprintf(r->shown, sizeof(r->shown), "%s", line);
	return REQUEST_OK;
}

enum request_result
request_read(struct request *r, const struct conf *c, const char *path, char *reason,
    size_t rlen)
{
	char buf[REQ_FILE_MAX + 1], *line, *save = NULL, *end;
	char first[S3_URL_MAX] = "", endpoint[S3_URL_MAX] = "";
	unsigned lineno = 0, firstline = 0;
	ssize_t n;
	size_t len = 0;
	int fd;

	memset(r, 0, sizeof(*r));
	r->size = -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		snprintf(reason, rlen, "fetch error=\"cannot open the request: %s\"",
		    strerror(errno));
		return REQUEST_TEMP;
	}
	while (len < sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (len > REQ_FILE_MAX)
		return bad_request(reason, rlen, 0, "larger than 8 KiB");
	if (memchr(buf, '\0', len) != NULL)
		return bad_request(reason, rlen, 0, "holds a NUL byte");
	buf[len] = '\0';
	for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		line[strcspn(line, "\r")] = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line == '\0' || *line == '#')
			continue;
		if (strncmp(line, "sha256=", 7) == 0) {
			if (!is_hex64(line + 7))
				return bad_request(reason, rlen, lineno, "sha256= wants 64 hex digits");
			for (n = 0; n < 64; n++)
				r->sha256[n] = (char)(line[7 + n] | 0x20);
			r->sha256[64] = '\0';
		} else if (strncmp(line, "size=", 5) == 0) {
			errno = 0;
			r->size = strtoll(line + 5, &end, 10);
			if (line[5] < '0' || line[5] > '9' || *end != '\0' || errno != 0)
				return bad_request(reason, rlen, lineno,
				    "size= wants a number of bytes");
		} else if (strncmp(line, "etag=", 5) == 0) {
			if (strlen(line + 5) > S3_ETAG_MAX)
				return bad_request(reason, rlen, lineno, "etag= too long");
			snprintf(r->etag, sizeof(r->etag), "%s", line + 5);
		} else if (strncmp(line, "endpoint=", 9) == 0) {
			snprintf(endpoint, sizeof(endpoint), "%s", line + 9);
		} else if (first[0] == '\0' && strstr(line, "://") != NULL) {
			if (strlen(line) >= sizeof(first))
				return bad_request(reason, rlen, lineno, "URL too long");
			snprintf(first, sizeof(first), "%s", line);
			firstline = lineno;
		} else {
			return bad_request(reason, rlen, lineno, first[0] ? "unknown line (expected "
			    "sha256=, size= or etag=)" : "expected a URL");
		}
	}
	if (first[0] == '\0')
		return bad_request(reason, rlen, lineno, "no URL");
	if (strncmp(first, "s3://", 5) == 0)
		return parse_s3(r, c, first, endpoint[0] ? endpoint : NULL, firstline, reason, rlen);
	if (strncmp(first, "http://", 7) != 0 && strncmp(first, "https://", 8) != 0)
		return bad_request(reason, rlen, firstline, "only http://, https:// and s3:// URLs");
	if (strpbrk(first, " \t\"<>\\^`{|}") != NULL)
		return bad_request(reason, rlen, firstline,
		    "the URL has characters that must be escaped");
	snprintf(r->url, sizeof(r->url), "%s", first);
	http_redact(first, r->shown, sizeof(r->shown));
	return REQUEST_OK;
}

enum request_write_result
request_write(int inboxfd, const char *name, const struct conf_source *src, const char *key,
    const char *etag, uint64_t size)
{
	char tmp[NAME_MAX + 32], req[NAME_MAX + 16], body[S3_URL_MAX + 512];
	char enc[3 * S3_KEY_MAX + 1];
	int fd, n, e;

	if (s3_encode(key, 1, enc, sizeof(enc)) == -1)
		return REQUEST_WRITE_ERROR;
	n = snprintf(body, sizeof(body), "s3://%s/%s\nendpoint=%s\nsize=%llu\n%s%s%s",
	    src->bucket, enc, src->endpoint, (unsigned long long)size,
	    etag[0] ? "etag=" : "", etag, etag[0] ? "\n" : "");
	if (n < 0 || (size_t)n >= sizeof(body)) {
		errno = ENAMETOOLONG;
		return REQUEST_WRITE_ERROR;
	}
	snprintf(tmp, sizeof(tmp), ".s3.%s.url.tmp", name);
	snprintf(req, sizeof(req), "%s.url", name);
	fd = openat(inboxfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd == -1)
		return REQUEST_WRITE_ERROR;
	if (write(fd, body, (size_t)n) != n || close(fd) == -1) {
		e = errno;
		(void)unlinkat(inboxfd, tmp, 0);
		errno = e;
		return REQUEST_WRITE_ERROR;
	}
	if (renameat2(inboxfd, tmp, inboxfd, req, RENAME_NOREPLACE) == -1) {
		e = errno;
		(void)unlinkat(inboxfd, tmp, 0);
		errno = e;
		return e == EEXIST ? REQUEST_TAKEN : REQUEST_WRITE_ERROR;
	}
	return REQUEST_WRITTEN;
}
