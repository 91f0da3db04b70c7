/*
 * `ingestd status`: what a running daemon on a spool is doing, read from its
 * scoreboard and spool, as any user who may read the spool.
 */
#ifndef INGESTD_STATUS_H
#define INGESTD_STATUS_H

/* argv[0] is "status". Returns an exit status: 0, EX_UNAVAILABLE when no daemon runs. */
int status_main(int argc, char *argv[]);

#endif
