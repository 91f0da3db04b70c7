/*
 * What a URL packet's fetch gives back, and how its caller stops it: shared
 * by fetch.h (the interface) and download.h (the steps inside), so neither
 * includes the other.
 */
#ifndef INGESTD_FETCH_RESULT_H
#define INGESTD_FETCH_RESULT_H

/* What became of a URL packet. Its own range: never mistaken for a PACKET_ value. */
enum fetch_result {
	FETCH_OK = 30,		/* the download is in the inbox under its name, verified */
	FETCH_BAD,		/* the request or the remote file is at fault: file it failed */
	FETCH_TEMP,		/* the network, the server or the system: retry later */
	FETCH_INTERRUPTED,	/* ctl->interrupted said stop: nothing lost, resume later */
	FETCH_DUPLICATE,	/* cluster: another host filed this object; nothing here */
	FETCH_PAUSED		/* cluster: NATS could not be asked; retry, no attempt spent */
};

struct scoreboard;
struct cluster;

struct fetch_ctl {
	/* Polled during transfers; returns 1 to stop now (shutdown). */
	int  (*interrupted)(void *arg);
	void  *arg;
	/*
	 * 1: this is the last attempt, a FETCH_TEMP is filed failed. The download
	 * then gives back its disk space and an S3 source's ledger is told.
	 */
	int    last;
	/* Where the download's reservation is counted (reserve.h); sb NULL: nowhere. */
	struct scoreboard *sb;
	int    slot;
	/* Cluster mode: the worker's connection (cluster.h); NULL: none. */
	struct cluster *cl;
	/*
	 * The directory the finished download is renamed into, as STEM: the
	 * job's pkt/, so that the download goes on as the same job; -1: the
	 * inbox, where it becomes a packet of its own.
	 */
	int    intofd;
};

#endif
