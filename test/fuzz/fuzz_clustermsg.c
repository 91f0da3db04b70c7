/*
 * libFuzzer target for a work message's body (cluster_msg_parse), which any
 * host on the cluster may have published. Whatever the bytes: no crash, and
 * a body that parses has every field, no control byte in them, and comes
 * out the same when formatted and parsed again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_msg.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s\n", #c); abort(); } } while (0)

static int
clean(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cluster_msg m, again;
	char out[CLUSTER_MSG_MAX + 1];
	int n;

	if (cluster_msg_parse((const char *)data, size, &m) == -1)
		return 0;
	CHECK(m.bucket[0] != '\0' && m.key[0] != '\0');
	CHECK(clean(m.bucket) && clean(m.etag));
	n = cluster_msg_format(out, sizeof(out), m.bucket, m.key, m.etag, m.size);
	if (n < 0)
		return 0;	/* a key that decodes longer than a message holds */
	CHECK(cluster_msg_parse(out, (size_t)n, &again) == 0);
	CHECK(strcmp(again.bucket, m.bucket) == 0 && strcmp(again.key, m.key) == 0 &&
	    strcmp(again.etag, m.etag) == 0 && again.size == m.size);
	return 0;
}
