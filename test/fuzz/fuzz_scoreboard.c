/*
 * libFuzzer target for what `ingestd status` reads: SPOOL/scoreboard, a file
 * any member of the daemon's group may read, torn by a crash or corrupt on
 * disk. The input is laid over the scoreboard (magic and version forced, so
 * the bytes reach the printers): the header's counters, the first stuck
 * entries, then the first worker slots. status and status --json run on it.
 * Beyond "no crash, no overflow, no read out of bounds":
 *   - both exit 0;
 *   - no byte of the output is a control character but the newlines, so
 *     neither a name nor a job id can move the cursor or forge a line;
 *   - every text line is one of status's own; the JSON is one line.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scoreboard.h"
#include "spool.h"
#include "status.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s\n", #c); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char spool[64];
static int spoolfd = -1, outfd = -1;
static struct scoreboard *sb;

static void
setup(void)
{
	char path[128];
	int lockfd;

	snprintf(spool, sizeof(spool), "/tmp/ingestd-fuzz-sb.XXXXXX");
	CHECK(mkdtemp(spool) != NULL);
	spoolfd = open(spool, O_RDONLY | O_DIRECTORY);
	CHECK(spoolfd >= 0);
	CHECK(mkdirat(spoolfd, "inbox", 0700) == 0 && mkdirat(spoolfd, "defer", 0700) == 0);
	/* A daemon holds the lock: status only reads a spool somebody runs. */
	snprintf(path, sizeof(path), "%s/%s", spool, SPOOL_LOCK_FILE);
	lockfd = open(path, O_RDWR | O_CREAT, 0600);
	CHECK(lockfd >= 0 && flock(lockfd, LOCK_EX) == 0);
	sb = calloc(1, sizeof(*sb));
	CHECK(sb != NULL);
	/* Its output, checked after each run. */
	outfd = memfd_create("status", 0);
	CHECK(outfd >= 0);
	fflush(stdout);
	CHECK(dup2(outfd, STDOUT_FILENO) == STDOUT_FILENO);
}

/* Lay the bytes over the fields status prints, in this order. */
static void
lay(const uint8_t *data, size_t size)
{
	size_t head = offsetof(struct sb_header, stuck), n, i;

	memset(sb, 0, sizeof(*sb));
	n = size < head ? size : head;
	memcpy(sb, data, n);
	data += n;
	size -= n;
	for (i = 0; i < 2 && size > 0; i++, data += n, size -= n) {
		n = size < sizeof(sb->hdr.stuck[i]) ? size : sizeof(sb->hdr.stuck[i]);
		memcpy(&sb->hdr.stuck[i], data, n);
	}
	for (i = 0; i < SB_SLOTS && size > 0; i++, data += n, size -= n) {
		n = size < sizeof(sb->slot[i]) ? size : sizeof(sb->slot[i]);
		memcpy(&sb->slot[i], data, n);
	}
	sb->hdr.magic = SB_MAGIC;
	sb->hdr.version = SB_VERSION;
}

static const char *const prefixes[] = {
	"ingestd on ", "queue: ", "inbox: ", "workers: ", "  ", "totals: ", "deferred: ",
	"stuck: ", "downloads:", "cluster: ", NULL,
};

static void
check_output(int json)
{
	off_t len = lseek(outfd, 0, SEEK_END);
	char *out, *line, *nl;
	size_t i;

	CHECK(len > 0);
	out = malloc((size_t)len + 1);
	CHECK(out != NULL && pread(outfd, out, (size_t)len, 0) == len);
	out[len] = '\0';
	for (i = 0; i < (size_t)len; i++)
		CHECK((unsigned char)out[i] >= 0x20 || out[i] == '\n');
	CHECK(out[len - 1] == '\n');
	if (json) {
		CHECK(out[0] == '{' && memchr(out, '\n', (size_t)len) == out + len - 1);
	} else {
		for (line = out; *line; line = nl + 1) {
			size_t k, ok = 0;

			nl = strchr(line, '\n');
			for (k = 0; prefixes[k] && !ok; k++)
				ok = strncmp(line, prefixes[k], strlen(prefixes[k])) == 0;
			if (!ok)
				fprintf(stderr, "not a status line: %.*s\n", (int)(nl - line), line);
			CHECK(ok);
		}
	}
	free(out);
	CHECK(ftruncate(outfd, 0) == 0 && lseek(outfd, 0, SEEK_SET) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char a0[] = "status", a1[] = "-d", a2[] = "--json";
	char *argv_text[] = { a0, a1, spool, NULL };
	char *argv_json[] = { a0, a2, a1, spool, NULL };
	int fd;

	if (spoolfd == -1)
		setup();
	lay(data, size);
	fd = openat(spoolfd, SB_FILE, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && write(fd, sb, sizeof(*sb)) == (ssize_t)sizeof(*sb));
	close(fd);

	optind = 0;	/* getopt starts afresh */
	CHECK(status_main(3, argv_text) == 0);
	fflush(stdout);
	check_output(0);
	optind = 0;
	CHECK(status_main(4, argv_json) == 0);
	fflush(stdout);
	check_output(1);
	return 0;
}
