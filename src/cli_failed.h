/*
 * `ingestd failed` and `ingestd show`: what failed and why, read from the
 * spool (failed/, done/, the journal) as any user who may read it, whether a
 * daemon runs or not.
 */
#ifndef INGESTD_CLI_FAILED_H
#define INGESTD_CLI_FAILED_H

/* argv[0] is "failed". Returns an exit status (sysexits.h). */
int cli_failed_main(int argc, char *argv[]);

/* argv[0] is "show". Returns an exit status (sysexits.h). */
int cli_show_main(int argc, char *argv[]);

#endif
