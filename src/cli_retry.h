/*
 * `ingestd retry`: put failed packets back into the inbox, by rename, as a
 * producer would deliver them, keeping their old records under
 * STEM.retried-J.* and saying so in the journal (event=retried). Works with
 * or without a daemon running, as any user who may write the spool.
 */
#ifndef INGESTD_CLI_RETRY_H
#define INGESTD_CLI_RETRY_H

/* argv[0] is "retry". Returns an exit status (sysexits.h). */
int cli_retry_main(int argc, char *argv[]);

#endif
