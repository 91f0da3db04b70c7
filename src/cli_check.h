/*
 * ingestd -t and -T: check a configuration as the daemon would start with
 * it (the file, then whether its user exists, whether the handler program
 * can be run and the spool written by that user), and report config errors
 * the same way whether a person or a service manager reads them.
 */
#ifndef INGESTD_CLI_CHECK_H
#define INGESTD_CLI_CHECK_H

#include "supervisor.h"

/*
 * Load file (NULL: the built-in defaults) with the overrides. -t (dump 0)
 * checks it against this machine as the service user and prints "FILE:
 * configuration OK" on stdout; -T (dump 1) prints the effective settings as
 * YAML and checks nothing outside the file. Each error is one line on
 * stderr. Returns 0, or EX_CONFIG when anything is wrong.
 */
int  cli_check_main(const char *file, const struct conf_overrides *ov, int dump);

/*
 * Report err, a config error as conf_load() writes it ("FILE:LINE: reason",
 * file being the path it was given), on stderr: as it is on a terminal, else
 * as one logfmt line, level=fatal event=config file=FILE line=LINE error=ERR,
 * for a log that a supervisor collects.
 */
void cli_config_error(const char *file, const char *err);

#endif
