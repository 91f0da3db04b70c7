/*
 * libFuzzer target for what recovery reads back from the spool: a job's
 * state record (job_state_parse), a defer/ entry name (job_parse_deferred)
 * and a journal line's time (journal_line_ms); and the journal search
 * itself (journal_find) over a journal made of the input. Whatever the
 * bytes: no crash, no read past the end, and a record or a line is taken
 * only when whole.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "job.h"
#include "journal.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s\n", #c); abort(); } } while (0)

static int spooldir = -1;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char id[] = "0123456789abcdef";
	char name[300], id2[JOB_ID_LEN + 1], line[JOURNAL_LINE_MAX];
	struct job j;
	long long due;
	off_t off;
	int fd, rc;

	/* The state record: whole and this job's, or nothing changes. */
	memset(&j, 0, sizeof(j));
	j.attempts = 7;
	if (job_state_parse((const char *)data, size, id, &j) == 0) {
		CHECK(size > 0 && data[size - 1] == '\n');
		CHECK(memmem(data, size, id, JOB_ID_LEN) != NULL);
	} else {
		CHECK(j.attempts == 7);
	}

	/* A defer/ entry name. */
	if (size < sizeof(name)) {
		memcpy(name, data, size);
		name[size] = '\0';
		if (job_parse_deferred(name, &due, id2) == 1) {
			CHECK(job_is_id(id2));
			CHECK(due >= 0);
		}
		(void)journal_line_ms(name, size);
	}

	/* The journal: a line is found only whole and only for its job. */
	if (spooldir == -1) {
		char tmpl[] = "/tmp/ingestd-fuzz-journal.XXXXXX";

		CHECK(mkdtemp(tmpl) != NULL);
		spooldir = open(tmpl, O_RDONLY | O_DIRECTORY);
		CHECK(spooldir >= 0);
	}
	fd = openat(spooldir, JOURNAL_FILE, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, data, size) == (ssize_t)size);
	close(fd);
	rc = journal_find(spooldir, id, 0, size > 8 ? (off_t)(data[0] * 3) : -1, -1, 0, line,
	    sizeof(line), &off);
	CHECK(rc == 0 || rc == 1);
	if (rc == 1) {
		size_t n = strlen(line);

		CHECK(n > 0 && line[n - 1] == '\n');
		CHECK(strstr(line, " job=0123456789abcdef ") != NULL);
		CHECK(off >= 0 && (size_t)off + n <= size);
		CHECK(memcmp(data + off, line, n) == 0);
	}
	return 0;
}
