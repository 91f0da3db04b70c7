/* ingestd: command line, then the supervisor. */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "conf.h"
#include "supervisor.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: ingestd [-c FILE] [-d SPOOL] [-w WORKERS] [-v | -q]\n"
	    "       ingestd -t [-c FILE] [-d SPOOL] [-w WORKERS]\n"
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
	struct conf c;
	char err[PATH_MAX + 512], *end;
	const char *file = NULL, *spool = NULL;
	long workers = 0;
	int ch, test = 0, verbosity = 0;

	/* runit starts us in the C locale; archive names are UTF-8 all the same. */
	if (setlocale(LC_CTYPE, "C.UTF-8") == NULL)
		(void)setlocale(LC_CTYPE, "");

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

	if (conf_defaults(&c) == -1) {
		fprintf(stderr, "ingestd: out of memory\n");
		return EX_OSERR;
	}
	if (file != NULL && conf_load(&c, file, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		conf_free(&c);
		return EX_CONFIG;
	}
	if (spool != NULL) {
		char abs[PATH_MAX], cwd[PATH_MAX];

		/* Children and `status` need the same absolute path whatever the cwd. */
		if (*spool != '/') {
			if (getcwd(cwd, sizeof(cwd)) == NULL ||
			    snprintf(abs, sizeof(abs), "%s/%s", cwd, spool) >= (int)sizeof(abs)) {
				fprintf(stderr, "ingestd: -d %s: path too long\n", spool);
				conf_free(&c);
				return EX_USAGE;
			}
			spool = abs;
		}
		free(c.spool);
		c.spool = strdup(spool);
		if (c.spool == NULL) {
			conf_free(&c);
			return EX_OSERR;
		}
	}
	if (workers > 0)
		c.workers = (unsigned)workers;
	c.verbosity = verbosity;
	if (conf_validate(&c, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		conf_free(&c);
		return EX_CONFIG;
	}
	if (test) {
		conf_print(&c, stdout);
		fprintf(stderr, "%s: configuration OK\n", c.file ? c.file : "(built-in defaults)");
		conf_free(&c);
		return 0;
	}
	ch = supervisor_run(&c);
	conf_free(&c);
	return ch;
}
