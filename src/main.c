/* ingestd: the command line, then the supervisor, a check or a command. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli_check.h"
#include "cli_failed.h"
#include "cli_retry.h"
#include "conf.h"
#include "status.h"
#include "supervisor.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: ingestd [-c FILE] [-d SPOOL] [-w WORKERS] [-v | -q]\n"
	    "       ingestd -t | -T [-c FILE] [-d SPOOL] [-w WORKERS]\n"
	    "       ingestd status [-c FILE | -d SPOOL] [--json]\n"
	    "       ingestd failed [-c FILE | -d SPOOL] [--json]\n"
	    "       ingestd show [-c FILE | -d SPOOL] NAME\n"
	    "       ingestd retry [-c FILE | -d SPOOL] [--reason GLOB] NAME... | --all\n"
	    "       ingestd -V | --version | -h | --help\n"
	    "  -c FILE     configuration file (YAML; default: built-in settings)\n"
	    "  -d SPOOL    spool directory (overrides `spool:`)\n"
	    "  -w WORKERS  number of worker processes (overrides `workers:`)\n"
	    "  -v / -q     more / less logging\n"
	    "  -t          check the configuration, its user, handler and spool; say OK or why not\n"
	    "  -T          the same, then print the effective settings\n"
	    "  -V          print the version\n"
	    "Commands take --help. See ingestd(8) and ingestd.yml(5).\n");
}

/* The commands: each reads the spool, none needs the daemon. */
static const struct {
	const char *name;
	int       (*main)(int, char **);
} commands[] = {
	{ "status", status_main },
	{ "failed", cli_failed_main },
	{ "show", cli_show_main },
	{ "retry", cli_retry_main },
};

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct conf_overrides ov;
	struct conf c;
	char err[PATH_MAX + 512], abs[PATH_MAX], cwd[PATH_MAX], *end;
	const char *file = NULL, *spool = NULL;
	long workers = 0;
	int ch, test = 0, verbosity = 0;
	size_t i;

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

		sigemptyset(&set);
		for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			sigaddset(&set, sigs[i]);
		for (i = 0; argc > 1 && i < sizeof(commands) / sizeof(commands[0]); i++)
			if (strcmp(argv[1], commands[i].name) == 0) {
				/* A command, not the daemon: ^C must work as anywhere else. */
				sigprocmask(SIG_UNBLOCK, &set, NULL);
				return commands[i].main(argc - 1, argv + 1);
			}
		sigprocmask(SIG_BLOCK, &set, NULL);
	}
	/* libarchive converts every entry's time with mktime(); without TZ glibc
	 * stats /etc/localtime each time. Handlers get their own environment. */
	if (getenv("TZ") == NULL)
		(void)setenv("TZ", ":/etc/localtime", 0);
	while ((ch = getopt_long(argc, argv, "c:d:w:vqtTVh", longopts, NULL)) != -1) {
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
		case 'T':
			test = 2;
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
	if (test) {
		sigset_t all;

		sigfillset(&all);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		return cli_check_main(file, &ov, test == 2);
	}
	if (conf_read(&c, file, &ov, err, sizeof(err)) == -1) {
		cli_config_error(file, err);
		return EX_CONFIG;
	}
	ch = supervisor_run(&c, &ov);
	conf_free(&c);
	return ch;
}
