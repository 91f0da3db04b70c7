/*
 * extract_bench ARCHIVE DEST: extract ARCHIVE into DEST (which must not
 * exist) with ingestd's extraction code, limits off, and print the seconds
 * it took. Built and run by test/bench/extract; not part of make check.
 */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "extract.h"
#include "log.h"

static const char *filters_all[] = { "bzip2", "compress", "gzip", "lz4", "lzip", "lzma", "lzop", "rpm", "uu", "xz", "zstd" };

int
main(int argc, char **argv)
{
	static char *fmts[] = { "zip", "tar", NULL };
	struct conf_packet p;
	struct extract_stats st;
	struct timespec a, b;
	char reason[2048];
	int fd, r;

	if (argc != 3) {
		fprintf(stderr, "usage: extract_bench ARCHIVE DEST\n");
		return 64;
	}
	setlocale(LC_CTYPE, "C.UTF-8");
	log_init("bench", 0);
	memset(&p, 0, sizeof(p));	/* every limit 0: off */
	p.formats.v = fmts;
	p.formats.n = 2;
	p.filters.v = (char **)filters_all;
	p.filters.n = sizeof(filters_all) / sizeof(filters_all[0]);
	if ((fd = open(argv[1], O_RDONLY | O_CLOEXEC)) == -1) {
		perror(argv[1]);
		return 66;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	r = extract_archive(fd, argv[2], &p, &st, reason, sizeof(reason));
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (r != 0) {
		fprintf(stderr, "extract_bench: %d %s (%s)\n", r, reason, r == -1 ? strerror(errno) : "");
		return 1;
	}
	printf("%.6f %llu %llu\n", (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9,
	    (unsigned long long)st.entries, (unsigned long long)st.bytes);
	return 0;
}
