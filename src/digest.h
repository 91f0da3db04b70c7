/*
 * SHA-256 through OpenSSL's EVP interface (libcrypto): the sha256= line of
 * URL packets, the checksum of the download state record, short local
 * names of long S3 keys and a source's ledger id. (SigV4 itself is signed by
 * libcurl, CURLOPT_AWS_SIGV4.)
 */
#ifndef INGESTD_DIGEST_H
#define INGESTD_DIGEST_H

#include <stddef.h>

#define DIGEST_SHA256_LEN 32
#define DIGEST_SHA256_HEX (2 * DIGEST_SHA256_LEN + 1)

struct digest {
	void *ctx;	/* an EVP_MD_CTX; NULL once finished or freed */
};

/* Start a SHA-256. 0, or -1 with errno ENOMEM. */
int   digest_sha256_init(struct digest *d);

/* Add len bytes. 0, or -1 (then only digest_free is left to do). */
int   digest_update(struct digest *d, const void *data, size_t len);

/* The lowercase hex digest into out (DIGEST_SHA256_HEX bytes); frees d. 0 or -1. */
int   digest_final_hex(struct digest *d, char *out);

/* Free an unfinished digest; harmless on a finished one. */
void  digest_free(struct digest *d);

/*
 * Hex digest of one buffer into out (DIGEST_SHA256_HEX bytes); returns out,
 * or NULL with out "" when libcrypto failed (out of memory).
 */
char *digest_sha256_hex(const void *data, size_t len, char *out);

#endif
