/*
 * SHA-256 (FIPS 180-4), for the sha256= line of URL packets, S3 payload
 * hashes and short names. Small and dependency-free: libcurl's OpenSSL is
 * not linked directly.
 */
#ifndef INGESTD_SHA256_H
#define INGESTD_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32
#define SHA256_HEX (2 * SHA256_LEN + 1)

struct sha256 {
	uint32_t      h[8];
	uint64_t      bytes;
	unsigned char buf[64];
	size_t        nbuf;
};

void sha256_init(struct sha256 *ctx);
void sha256_update(struct sha256 *ctx, const void *data, size_t len);
void sha256_final(struct sha256 *ctx, unsigned char out[SHA256_LEN]);

/* Lowercase hex of a digest into out (SHA256_HEX bytes); returns out. */
char *sha256_hex(const unsigned char d[SHA256_LEN], char *out);

/* Hex digest of a buffer into out (SHA256_HEX bytes); returns out. */
char *sha256_hex_of(const void *data, size_t len, char *out);

#endif
