#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_msg.h"
#include "s3.h"

int
cluster_msg_format(char *out, size_t len, const char *bucket, const char *key,
    const char *etag, uint64_t size)
{
	char enc[3 * 1024 + 1];
	int n;

	if (s3_encode(key, 1, enc, sizeof(enc)) == -1)
		return -1;
	n = snprintf(out, len, "bucket=%s\nkey=%s\netag=%s\nsize=%" PRIu64 "\n", bucket, enc,
	    etag, size);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return n;
}

/* A value may hold no byte below ' ' and no DEL. */
static int
clean(const char *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)v[i] < ' ' || v[i] == 0x7f)
			return 0;
	return 1;
}

int
cluster_msg_parse(const char *data, size_t len, struct cluster_msg *m)
{
	char buf[CLUSTER_MSG_MAX + 1], *line, *save = NULL, *end;
	unsigned seen = 0;
	size_t vl;

	memset(m, 0, sizeof(*m));
	if (data == NULL || len == 0 || len > CLUSTER_MSG_MAX || memchr(data, '\0', len) != NULL)
		goto bad;
	memcpy(buf, data, len);
	buf[len] = '\0';
	for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(line, '=');

		if (v == NULL)
			goto bad;
		*v++ = '\0';
		vl = strlen(v);
		if (!clean(v, vl))
			goto bad;
		if (strcmp(line, "bucket") == 0 && !(seen & 1) && vl > 0 && vl < sizeof(m->bucket)) {
			memcpy(m->bucket, v, vl + 1);
			seen |= 1;
		} else if (strcmp(line, "key") == 0 && !(seen & 2)) {
			if (s3_decode(v, m->key, sizeof(m->key)) <= 0)
				goto bad;
			seen |= 2;
		} else if (strcmp(line, "etag") == 0 && !(seen & 4) && vl < sizeof(m->etag)) {
			memcpy(m->etag, v, vl + 1);
			seen |= 4;
		} else if (strcmp(line, "size") == 0 && !(seen & 8) && vl > 0 &&
		    strspn(v, "0123456789") == vl && vl <= 19) {
			errno = 0;
			m->size = strtoull(v, &end, 10);
			if (errno != 0 || *end != '\0')
				goto bad;
			seen |= 8;
		} else
			goto bad;
	}
	if (seen != 15)
		goto bad;
	return 0;
bad:
	memset(m, 0, sizeof(*m));
	errno = EINVAL;
	return -1;
}
