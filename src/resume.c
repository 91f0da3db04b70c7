/*
 * The state record .STEM.part.state: one fixed-size block, rewritten in
 * place with one pwrite, so a crash leaves the old record or the new one and
 * never half of each; a checksum (SHA-256 of the text) tells a torn or
 * foreign block from ours.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "resume.h"
#include "digest.h"

#define STATE_SIZE     4096
#define STATE_MAGIC    "ingestd-fetch 1"

void
resume_boot_id(char *out, size_t len)
{
	ssize_t n;
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);

	out[0] = '\0';
	if (fd == -1)
		return;
	n = read(fd, out, len - 1);
	close(fd);
	out[n > 0 ? n : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

int
resume_save(struct fetch *f, const char *phase, int durable)
{
	char buf[STATE_SIZE], sum[DIGEST_SHA256_HEX];
	size_t off;
	unsigned i;
	int n;

	memset(buf, 0, sizeof(buf));
	n = snprintf(buf, sizeof(buf), STATE_MAGIC "\nboot=%s\nurl=%s\nvalidator=%s\n"
	    "version=%s\ntotal=%" PRIu64 "\nphase=%s\nsegments=%u\n", f->boot, f->urlhash,
	    f->validator, f->version, f->total, phase, f->nseg);
	off = (size_t)n;
	for (i = 0; i < f->nseg && off < sizeof(buf) - 200; i++) {
		n = snprintf(buf + off, sizeof(buf) - off, "seg=%" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
		    f->seg[i].start, f->seg[i].end, f->seg[i].done);
		off += (size_t)n;
	}
	if (digest_sha256_hex(buf, off, sum) == NULL)
		return -1;
	snprintf(buf + off, sizeof(buf) - off, "sum=%s\n", sum);
	if (pwrite(f->statefd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
		return -1;
	f->saved_ms = clock_mono_ms();
	return durable ? fsync(f->statefd) : 0;
}

const char *
resume_load(struct fetch *f)
{
	static char phase[16];
	char buf[STATE_SIZE + 1], sum[DIGEST_SHA256_HEX], *s, *line, *save = NULL;
	uint64_t a, b, d, expect = 0;
	unsigned nseg = 0, i;
	ssize_t n;

	n = pread(f->statefd, buf, STATE_SIZE, 0);
	if (n != STATE_SIZE)
		return NULL;
	buf[STATE_SIZE] = '\0';
	if ((s = strstr(buf, "sum=")) == NULL)
		return NULL;
	if (digest_sha256_hex(buf, (size_t)(s - buf), sum) == NULL ||
	    strncmp(s + 4, sum, 64) != 0)
		return NULL;
	*s = '\0';
	phase[0] = '\0';
	f->nseg = 0;
	for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "boot=", 5) == 0 && strcmp(line + 5, f->boot) != 0 &&
		    phase[0] == '\0')
			snprintf(phase, sizeof(phase), "otherboot");
		else if (strncmp(line, "url=", 4) == 0 && strcmp(line + 4, f->urlhash) != 0)
			return NULL;
		else if (strncmp(line, "validator=", 10) == 0)
			snprintf(f->validator, sizeof(f->validator), "%s", line + 10);
		else if (strncmp(line, "version=", 8) == 0)
			snprintf(f->version, sizeof(f->version), "%s", line + 8);
		else if (strncmp(line, "total=", 6) == 0)
			f->total = strtoull(line + 6, NULL, 10);
		else if (strncmp(line, "phase=", 6) == 0 && (strcmp(phase, "otherboot") != 0 ||
		    strcmp(line + 6, "download") != 0))
			/* Past "download" the data was fsynced: good on any boot. */
			snprintf(phase, sizeof(phase), "%s", line + 6);
		else if (strncmp(line, "seg=", 4) == 0) {
			if (nseg >= SEG_MAX || sscanf(line + 4, "%" SCNu64 " %" SCNu64 " %" SCNu64,
			    &a, &b, &d) != 3 || a != expect || b < a || d > b - a + 1)
				return NULL;
			f->seg[nseg].start = a;
			f->seg[nseg].end = b;
			f->seg[nseg].done = d;
			expect = b + 1;
			nseg++;
		}
	}
	if (strcmp(phase, "otherboot") == 0) {
		log_info("event=fetch_restart name=%s why=\"progress from another boot\"", LQ(f->stem));
		return NULL;
	}
	if (f->total == UNKNOWN || (f->total > 0 && expect != f->total) || phase[0] == '\0')
		return NULL;
	f->nseg = nseg;
	for (i = 0; i < nseg; i++) {
		f->seg[i].f = f;
		f->seg[i].finished = f->seg[i].done == f->seg[i].end - f->seg[i].start + 1;
	}
	return phase;
}

