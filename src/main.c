/* ingestd: command line, then the supervisor. */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sysexits.h>
#include <unistd.h>

#include "conf.h"
#include "status.h"
#include "supervisor.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: ingestd [-c FILE] [-d SPOOL] [-w WORKERS] [-v | -q]\n"
	    "       ingestd -t [-c FILE] [-d SPOOL] [-w WORKERS]\n"
	    "       ingestd status [-c FILE | -d SPOOL] [--json]\n"
	    "       ingestd -V | -h\n"
	    "  -c FILE     configuration file (YAML; default: built-in settings)\n"
	    "  -d SPOOL    spool directory (overrides `spool:`)\n"
	    "  -w WORKERS  number of worker processes (overrides `workers:`)\n"
	    "  -v / -q     more / less logging\n"
	    "  -t          check the configuration, print the effective settings, exit\n"
	    "  -V          print the version\n");
}

int
main(int argc, char *argv[])
{
	struct overrides ov;
	struct conf c;
	char err[PATH_MAX + 512], abs[PATH_MAX], cwd[PATH_MAX], *end;
	const char *file = NULL, *spool = NULL;
	long workers = 0;
	int ch, test = 0, verbosity = 0;

	/* runit starts us in the C locale; archive names are UTF-8 all the same. */
	if (setlocale(LC_CTYPE, "C.UTF-8") == NULL)
		(void)setlocale(LC_CTYPE, "");

	/* The launcher came first: ps and top should still say ingestd. */
	(void)prctl(PR_SET_NAME, "ingestd");
	{
		/*
		 * Before anything else: a TERM that arrives while we read the config
		 * must wait for the supervisor's signalfd and end in a clean exit 0,
		 * not kill us by its default action. The launcher (src/launcher/)
		 * blocked them already; this holds when the core is run directly.
		 */
		static const int sigs[] = { SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGCHLD, SIGUSR1,
		    SIGUSR2, SIGTTIN, SIGTTOU };
		sigset_t set;
		size_t i;

		sigemptyset(&set);
		for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			sigaddset(&set, sigs[i]);
		if (argc > 1 && strcmp(argv[1], "status") == 0) {
			/* A command, not the daemon: ^C must work as anywhere else. */
			sigprocmask(SIG_UNBLOCK, &set, NULL);
			return status_main(argc - 1, argv + 1);
		}
		sigprocmask(SIG_BLOCK, &set, NULL);
	}
	/* libarchive converts every entry's time with mktime(); without TZ glibc
	 * stats /etc/localtime each time. Handlers get their own environment. */
	if (getenv("TZ") == NULL)
		(void)setenv("TZ", ":/etc/localtime", 0);
	while ((ch = getopt(argc, argv, "c:d:w:vqtVh")) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'd':
			spool = optarg;
			break;
		case 'w':
			errno = 0;
			workers = strtol(optarg, &end, 10);
			if (errno || *end || workers < 1 || workers > 256) {
				fprintf(stderr, "ingestd: -w %s: expected a number from 1 to 256\n", optarg);
				return EX_USAGE;
			}
			break;
		case 'v':
			verbosity = 1;
			break;
		case 'q':
			verbosity = -1;
			break;
		case 't':
			test = 1;
			break;
		case 'V':
			printf("ingestd %s\n", INGESTD_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ingestd: unexpected argument: %s\n", argv[optind]);
		usage(stderr);
		return EX_USAGE;
	}

	ov.spool = spool;
	ov.workers = (unsigned)workers;
	ov.verbosity = verbosity;
	if (spool != NULL && *spool != '/') {
		/* Children, reloads and `status` need the same path whatever the cwd. */
		if (getcwd(cwd, sizeof(cwd)) == NULL ||
		    snprintf(abs, sizeof(abs), "%s/%s", cwd, spool) >= (int)sizeof(abs)) {
			fprintf(stderr, "ingestd: -d %s: path too long\n", spool);
			return EX_USAGE;
		}
		ov.spool = abs;
	}
	if (supervisor_load_config(file, &ov, &c, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		return EX_CONFIG;
	}
	if (test) {
		sigset_t all;

		sigfillset(&all);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		conf_print(&c, stdout);
		fprintf(stderr, "%s: configuration OK\n", c.file ? c.file : "(built-in defaults)");
		conf_free(&c);
		return 0;
	}
	ch = supervisor_run(&c, &ov);
	conf_free(&c);
	return ch;
}
