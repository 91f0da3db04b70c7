#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster_state.h"
#include "ledger.h"
#include "metrics.h"
#include "names.h"
#include "queue.h"
#include "reasons.h"

long
metrics_inbox_backlog(int inboxfd, const struct strv *ignore)
{
	struct dirent *de;
	long n = 0;
	DIR *d;
	int fd;

	fd = openat(inboxfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (name_is_valid(de->d_name) && !ignore_match(ignore, de->d_name) &&
		    strcmp(de->d_name, ".") != 0)
			n++;
	closedir(d);
	return n;
}

void
metrics_print(FILE *fp, const struct scoreboard *sb, long inbox_backlog, long queue_depth)
{
	const struct sb_header *h = &sb->hdr;
	unsigned long long cum = 0;
	unsigned busy = 0, workers = 0;
	size_t i;

	for (i = 0; i < SB_SLOTS; i++) {
		if (sb->slot[i].pid == 0 || sb->slot[i].role != SB_ROLE_WORKER)
			continue;
		if (sb->slot[i].state == SB_BUSY)
			busy++;
		workers++;
	}
	fprintf(fp,
	    "# HELP ingestd_jobs_total Jobs finished, by outcome.\n"
	    "# TYPE ingestd_jobs_total counter\n"
	    "ingestd_jobs_total{outcome=\"done\"} %llu\n"
	    "ingestd_jobs_total{outcome=\"failed\"} %llu\n"
	    "# HELP ingestd_job_retries_total Handler runs retried after exit 75 or a temporary error.\n"
	    "# TYPE ingestd_job_retries_total counter\n"
	    "ingestd_job_retries_total %llu\n"
	    "# HELP ingestd_job_crashes_total Jobs adopted after the worker holding them died.\n"
	    "# TYPE ingestd_job_crashes_total counter\n"
	    "ingestd_job_crashes_total %llu\n",
	    (unsigned long long)h->done, (unsigned long long)h->failed,
	    (unsigned long long)h->retried, (unsigned long long)h->crashes);
	fprintf(fp, "# HELP ingestd_jobs_failed_total Jobs filed failed, by the first word of their reason.\n"
	    "# TYPE ingestd_jobs_failed_total counter\n");
	for (i = 0; i < REASON_N; i++)
		fprintf(fp, "ingestd_jobs_failed_total{reason=\"%s\"} %llu\n", reason_keyword(i),
		    (unsigned long long)h->failed_by[i]);
	fprintf(fp, "# HELP ingestd_job_duration_seconds Time from claim to filing.\n"
	    "# TYPE ingestd_job_duration_seconds histogram\n");
	for (i = 0; i < SB_BUCKETS; i++) {
		cum += h->dur_bucket[i];
		if (i == SB_BUCKETS - 1)
			fprintf(fp, "ingestd_job_duration_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
		else
			fprintf(fp, "ingestd_job_duration_seconds_bucket{le=\"%g\"} %llu\n",
			    (double)sb_bucket_ms[i] / 1000.0, cum);
	}
	fprintf(fp, "ingestd_job_duration_seconds_sum %.3f\n"
	    "ingestd_job_duration_seconds_count %llu\n",
	    (double)h->dur_sum_ms / 1000.0, (unsigned long long)h->dur_count);
	fprintf(fp,
	    "# HELP ingestd_inbox_backlog Entries waiting in inbox/.\n"
	    "# TYPE ingestd_inbox_backlog gauge\n"
	    "ingestd_inbox_backlog %ld\n"
	    "# HELP ingestd_queue_depth Names waiting in the message queue.\n"
	    "# TYPE ingestd_queue_depth gauge\n"
	    "ingestd_queue_depth %ld\n"
	    "# HELP ingestd_queue_capacity Size of the message queue.\n"
	    "# TYPE ingestd_queue_capacity gauge\n"
	    "ingestd_queue_capacity %lld\n"
	    "# HELP ingestd_workers Worker processes running.\n"
	    "# TYPE ingestd_workers gauge\n"
	    "ingestd_workers %u\n"
	    "# HELP ingestd_workers_busy Workers running a job.\n"
	    "# TYPE ingestd_workers_busy gauge\n"
	    "ingestd_workers_busy %u\n"
	    "# HELP ingestd_worker_restarts_total Children respawned (crashes and recycling).\n"
	    "# TYPE ingestd_worker_restarts_total counter\n"
	    "ingestd_worker_restarts_total %llu\n"
	    "# HELP ingestd_inotify_overflows_total Inotify queue overflows (each led to a rescan).\n"
	    "# TYPE ingestd_inotify_overflows_total counter\n"
	    "ingestd_inotify_overflows_total %llu\n"
	    "# HELP ingestd_jobs_deferred Jobs waiting in defer/ for a retry.\n"
	    "# TYPE ingestd_jobs_deferred gauge\n"
	    "ingestd_jobs_deferred %llu\n"
	    "# HELP ingestd_packets_stuck Packets in the inbox that cannot be claimed now.\n"
	    "# TYPE ingestd_packets_stuck gauge\n"
	    "ingestd_packets_stuck %u\n"
	    "# HELP ingestd_hints_missed_total Job hints the full queue had no room for (offered again).\n"
	    "# TYPE ingestd_hints_missed_total counter\n"
	    "ingestd_hints_missed_total %llu\n"
	    "# HELP ingestd_start_time_seconds When the daemon started, in Unix time.\n"
	    "# TYPE ingestd_start_time_seconds gauge\n"
	    "ingestd_start_time_seconds %.3f\n",
	    inbox_backlog, queue_depth, (long long)h->queue_max, workers, busy,
	    (unsigned long long)h->restarts, (unsigned long long)h->overflows,
	    (unsigned long long)h->deferred, sb_stuck_count(sb) + (h->stuck_overflow ? 1 : 0),
	    (unsigned long long)h->hints_missed, (double)h->started_ms / 1000.0);
	fprintf(fp, "# HELP ingestd_fetched_bytes_total Bytes downloads wrote into the spool.\n"
	    "# TYPE ingestd_fetched_bytes_total counter\n"
	    "ingestd_fetched_bytes_total %llu\n", (unsigned long long)h->fetched_bytes);
}

/* Cluster mode only: what the S3 source last wrote of the cluster. */
static void
print_cluster(FILE *fp, const struct spool *s)
{
	struct cluster_state st;
	int rfd = openat(s->dirfd, REMOTE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (rfd == -1)
		return;
	if (cluster_state_read(rfd, &st) == 0)
		fprintf(fp,
		    "# HELP ingestd_cluster_connected 1 when the S3 source is connected to NATS.\n"
		    "# TYPE ingestd_cluster_connected gauge\n"
		    "ingestd_cluster_connected %d\n"
		    "# HELP ingestd_cluster_pending Objects in the work stream no host has claimed.\n"
		    "# TYPE ingestd_cluster_pending gauge\n"
		    "ingestd_cluster_pending %llu\n"
		    "# HELP ingestd_cluster_unacked Objects claimed by some host, not yet acked.\n"
		    "# TYPE ingestd_cluster_unacked gauge\n"
		    "ingestd_cluster_unacked %llu\n"
		    "# HELP ingestd_cluster_leases Objects this host holds a lease on.\n"
		    "# TYPE ingestd_cluster_leases gauge\n"
		    "ingestd_cluster_leases %llu\n", st.connected,
		    (unsigned long long)st.pending, (unsigned long long)st.unacked,
		    (unsigned long long)st.leases);
	close(rfd);
}

int
metrics_write(const char *path, const struct scoreboard *sb, const struct spool *s, mqd_t q,
    const struct strv *ignore)
{
	return metrics_write_mode(path, METRICS_MODE_DEFAULT, sb, s, q, ignore);
}

int
metrics_write_mode(const char *path, mode_t mode, const struct scoreboard *sb,
    const struct spool *s, mqd_t q, const struct strv *ignore)
{
	char tmp[PATH_MAX];
	FILE *fp;
	int fd, e;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd == -1)
		return -1;
	/* The umask (027) would take 0644's other-read away: the mode is the admin's word. */
	if (fchmod(fd, mode) == -1) {
		e = errno;
		close(fd);
		unlink(tmp);
		errno = e;
		return -1;
	}
	fp = fdopen(fd, "w");
	if (fp == NULL) {
		e = errno;
		close(fd);
		unlink(tmp);
		errno = e;
		return -1;
	}
	metrics_print(fp, sb, metrics_inbox_backlog(s->inboxfd, ignore), queue_depth(q));
	print_cluster(fp, s);
	if (fflush(fp) == EOF || fsync(fileno(fp)) == -1) {
		e = errno;
		fclose(fp);
		unlink(tmp);
		errno = e;
		return -1;
	}
	if (fclose(fp) == EOF || rename(tmp, path) == -1) {
		e = errno;
		unlink(tmp);
		errno = e;
		return -1;
	}
	return 0;
}

mode_t
metrics_mode_of(const char *octal)
{
	char *end;
	unsigned long m;

	if (octal == NULL)
		return METRICS_MODE_DEFAULT;
	m = strtoul(octal, &end, 8);
	return *octal != '\0' && *end == '\0' && (m & ~0666UL) == 0 ? (mode_t)m :
	    METRICS_MODE_DEFAULT;
}
