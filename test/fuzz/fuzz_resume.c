/*
 * libFuzzer target for a download's resume record (resume_load), which a
 * restarted worker reads back from inbox/.STEM.part.state: the input is the
 * record's body, sealed with its own checksum as resume_save writes it, so
 * the fuzzer reaches the parser instead of the checksum test. Whatever the
 * bytes: no crash, and a record is taken only when its ranges follow one
 * another from 0, each no more done than it is long, and cover the total.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "digest.h"
#include "resume.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s\n", #c); abort(); } } while (0)
#define STATE_SIZE 4096	/* as resume.c */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fetch f;
	char rec[STATE_SIZE], sum[DIGEST_SHA256_HEX];
	const char *phase;
	uint64_t expect = 0;
	unsigned i;
	int fd;

	if (size > STATE_SIZE - 80)
		return 0;
	memset(rec, ' ', sizeof(rec));
	memcpy(rec, data, size);
	if (digest_sha256_hex(rec, size, sum) == NULL)
		return 0;
	snprintf(rec + size, sizeof(rec) - size, "sum=%s\n", sum);
	fd = memfd_create("state", MFD_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(write(fd, rec, sizeof(rec)) == (ssize_t)sizeof(rec));
	memset(&f, 0, sizeof(f));
	f.statefd = fd;
	f.total = UINT64_MAX;	/* UNKNOWN: nothing known before the record */
	snprintf(f.stem, sizeof(f.stem), "fuzz.zip");
	snprintf(f.boot, sizeof(f.boot), "b00t");
	snprintf(f.urlhash, sizeof(f.urlhash), "u");
	phase = resume_load(&f);
	if (phase != NULL) {
		CHECK(f.nseg <= sizeof(f.seg) / sizeof(f.seg[0]));
		for (i = 0; i < f.nseg; i++) {
			CHECK(f.seg[i].start == expect);
			CHECK(f.seg[i].end >= f.seg[i].start);
			CHECK(f.seg[i].done <= f.seg[i].end - f.seg[i].start + 1);
			expect = f.seg[i].end + 1;
		}
		CHECK(f.total == 0 || expect == f.total);
	}
	close(fd);
	return 0;
}
