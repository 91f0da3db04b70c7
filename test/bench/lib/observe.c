/*
 * observe OUT TAG=DIR[:from|:to]...
 *
 * Timestamps renames in a few directories from outside, the same way for
 * ingestd and for every peer: a claim is a rename out of inbox/ (IN_MOVED_FROM),
 * a filing a rename into done/ or failed/ (IN_MOVED_TO). Each event becomes a
 * line "NS TAG NAME" in OUT (CLOCK_REALTIME, read right after read(2)
 * returned, so never earlier than the event). An inotify overflow is written
 * as "NS OVERFLOW -": the caller then knows some packets went unobserved.
 * Prints "ready" on stdout once every watch is set; SIGTERM/SIGINT flush and
 * exit 0. Built by the benchmarks with cc; no dependencies.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#define MAXW 8

static volatile sig_atomic_t stop;

static void
on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

int
main(int argc, char **argv)
{
	char buf[256 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	char *tags[MAXW];
	int wds[MAXW], nw = 0, fd, i;
	struct sigaction sa;
	FILE *out;

	if (argc < 3 || argc - 2 > MAXW) {
		fprintf(stderr, "usage: observe OUT TAG=DIR[:from|:to]...\n");
		return 64;
	}
	out = fopen(argv[1], "w");
	if (out == NULL) {
		perror(argv[1]);
		return 73;
	}
	setvbuf(out, NULL, _IOFBF, 1 << 20);
	fd = inotify_init1(IN_CLOEXEC);
	if (fd == -1) {
		perror("inotify_init1");
		return 71;
	}
	for (i = 2; i < argc; i++, nw++) {
		char *eq = strchr(argv[i], '='), *colon;
		uint32_t mask = IN_MOVED_FROM | IN_MOVED_TO;

		if (eq == NULL) {
			fprintf(stderr, "observe: %s: want TAG=DIR\n", argv[i]);
			return 64;
		}
		*eq = '\0';
		tags[nw] = argv[i];
		colon = strrchr(eq + 1, ':');
		if (colon != NULL && strcmp(colon, ":from") == 0) {
			mask = IN_MOVED_FROM;
			*colon = '\0';
		} else if (colon != NULL && strcmp(colon, ":to") == 0) {
			mask = IN_MOVED_TO;
			*colon = '\0';
		}
		wds[nw] = inotify_add_watch(fd, eq + 1, mask | IN_ONLYDIR);
		if (wds[nw] == -1) {
			perror(eq + 1);
			return 66;
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;	/* no SA_RESTART: read(2) returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	printf("ready\n");
	fflush(stdout);

	while (!stop) {
		struct timespec ts;
		long long ns;
		ssize_t n = read(fd, buf, sizeof(buf));
		char *p;

		if (n == -1) {
			if (errno == EINTR)
				continue;
			perror("read");
			break;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ns = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
		for (p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;

			if (ev->mask & IN_Q_OVERFLOW) {
				fprintf(out, "%lld OVERFLOW -\n", ns);
			} else if (ev->len > 0) {
				for (i = 0; i < nw; i++)
					if (wds[i] == ev->wd)
						break;
				if (i < nw)
					fprintf(out, "%lld %s%s %s\n", ns, tags[i],
					    (ev->mask & IN_MOVED_FROM) ? "-" : "+", ev->name);
			}
			p += sizeof(*ev) + ev->len;
		}
	}
	fclose(out);
	return 0;
}
