/*
 * SPOOL/remote/cluster.state: what the S3 source in cluster mode last saw of
 * the cluster, rewritten (by rename) about once a second, read by status and
 * the metrics. One line of key=value pairs:
 *
 *   state=connected server=URL node=NODE stream=NAME pending=N unacked=N
 *   leases=N time=MS
 */
#ifndef INGESTD_CLUSTER_STATE_H
#define INGESTD_CLUSTER_STATE_H

#include <stdint.h>

#define CLUSTER_STATE_FILE "cluster.state"	/* in SPOOL/remote */

struct cluster_state {
	int       connected;
	char      server[256];
	char      node[65];
	char      stream[40];
	uint64_t  pending;	/* in the stream, not yet delivered (consumer's view) */
	uint64_t  unacked;	/* delivered to some host, not yet acked */
	uint64_t  leases;	/* claims this host holds */
	int64_t   time_ms;	/* wall clock of the write */
};

/* Write st into the remote directory rfd. 0 or -1 with errno. */
int cluster_state_write(int rfd, const struct cluster_state *st);

/* Read it. 0, or -1 with errno (ENOENT: no cluster source has run). */
int cluster_state_read(int rfd, struct cluster_state *st);

#endif
