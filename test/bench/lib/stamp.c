/*
 * stamp OUT NAME
 *
 * An observing handler for the idle phase of test/bench/throughput: as
 * cheap as /bin/true, but it appends "NS NAME" to OUT (one O_APPEND write,
 * CLOCK_REALTIME read as the very last thing before _exit(0)), so the
 * benchmark can measure the filing latency from the handler's exit to the
 * packet's rename into done/ (seen by lib/observe). The stamp is taken
 * before the exit, so the figure can only come out too long, never too
 * short. Built by the benchmark with cc; no dependencies.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	char line[4096];
	struct timespec ts;
	int fd, n;

	if (argc != 3)
		return 64;
	fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1)
		return 73;
	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(line, sizeof(line), "%lld %s\n",
	    (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec, argv[2]);
	if (n < 0 || n >= (int)sizeof(line) || write(fd, line, (size_t)n) != n)
		return 74;
	_exit(0);
}
