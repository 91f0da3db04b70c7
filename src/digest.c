#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "digest.h"

static void
to_hex(const unsigned char *md, unsigned n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * n] = '\0';
}

int
digest_sha256_init(struct digest *d)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	d->ctx = NULL;
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		errno = ENOMEM;
		return -1;
	}
	d->ctx = ctx;
	return 0;
}

int
digest_update(struct digest *d, const void *data, size_t len)
{
	if (d->ctx == NULL || EVP_DigestUpdate(d->ctx, data, len) != 1)
		return -1;
	return 0;
}

int
digest_final_hex(struct digest *d, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	int rc = -1;

	out[0] = '\0';
	if (d->ctx != NULL && EVP_DigestFinal_ex(d->ctx, md, &n) == 1 &&
	    n == DIGEST_SHA256_LEN) {
		to_hex(md, n, out);
		rc = 0;
	}
	digest_free(d);
	return rc;
}

void
digest_free(struct digest *d)
{
	EVP_MD_CTX_free(d->ctx);
	d->ctx = NULL;
}

char *
digest_sha256_hex(const void *data, size_t len, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != DIGEST_SHA256_LEN) {
		out[0] = '\0';
		return NULL;
	}
	to_hex(md, n, out);
	return out;
}
