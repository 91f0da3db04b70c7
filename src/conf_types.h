/*
 * What a configuration holds: the types alone, no functions. The key table
 * (conf_keys.c) and the sources: list (conf_sources.c) lay their values into
 * these by offset; conf.c, which works on whole configurations, uses both.
 * Keeping the types here lets the table sit below conf.c instead of beside it.
 */
#ifndef INGESTD_CONF_TYPES_H
#define INGESTD_CONF_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "strv.h"

#define CONF_DEFAULT_PATH "/etc/ingestd/ingestd.yml"

/* The smallest journal_max: a journal that rotates every few lines helps nobody. */
#define JOURNAL_MAX_MIN (64 * 1024)

/* Room for the line numbers of this many keys (conf_keys.c asserts its table fits). */
#define CONF_MAX_KEYS 128

enum packet_plain { PLAIN_FAIL = 0, PLAIN_PASS };
enum packet_links { LINKS_REFUSE = 0, LINKS_INSIDE };
enum packet_on_success { ON_SUCCESS_ARCHIVE = 0, ON_SUCCESS_DELETE };
enum source_delete { SOURCE_DELETE_AFTER_COMMIT = 0, SOURCE_DELETE_NEVER };

struct conf_handler {
	struct strv command;    /* argv template; n == 0: no handler */
	uint64_t    timeout_ms; /* 0: no limit */
	unsigned    retries;    /* extra attempts after EX_TEMPFAIL or a crash */
	uint64_t    backoff_ms; /* first retry delay; doubles each time */
	uint64_t    backoff_max_ms;
	struct strv env;        /* names passed through from our environment */
	uint64_t    log_max;    /* bytes of handler output kept per job */
};

struct conf_packet {
	struct strv formats;    /* libarchive format names allowed */
	struct strv filters;    /* libarchive read filters allowed (filters.h) */
	uint64_t    max_time_ms;    /* extraction + manifest, wall clock; 0: none */
	uint64_t    max_memory;     /* what that child may map beyond the worker; 0: none */
	enum packet_plain plain;
	enum packet_links links;
	enum packet_on_success on_success;
	int         keep_extracted;
	uint64_t    max_bytes;      /* total extracted bytes */
	uint64_t    max_entries;
	uint64_t    max_file_bytes;
	uint64_t    max_ratio;      /* extracted / compressed, whole packet */
	uint64_t    max_depth;      /* path components */
	char       *manifest;       /* file name at the tree root */
	int         manifest_required;
	struct strv manifest_keys;
	uint64_t    manifest_max_bytes;
	uint64_t    manifest_max_depth;
	uint64_t    manifest_max_nodes;
};

/* URL packets and S3 objects (fetch.c). */
struct conf_fetch {
	unsigned    segments;       /* parallel ranges for one large file */
	uint64_t    segment_min;    /* files smaller than this: one connection */
	uint64_t    connect_timeout_ms;
	uint64_t    low_speed_limit;    /* bytes/s; below it for low_speed_time: cut */
	uint64_t    low_speed_time_ms;
	unsigned    retries;        /* in-transfer retries of 5xx, 429, cut connections */
	uint64_t    backoff_ms;     /* first retry delay; doubles each time */
	uint64_t    max_bytes;      /* largest file fetched */
	uint64_t    reserve_max;    /* all downloads' preallocations; 0: 90% of the spool's filesystem */
	uint64_t    max_time_ms;    /* one download attempt; 0: from max_bytes (http_max_time_ms) */
	uint64_t    request_timeout_ms; /* a HEAD, DELETE or listing page, start to end */
	int         tls_verify;
	char       *ca_file;        /* NULL: the system's CAs */
	struct strv protocols;      /* "http", "https" */
};

/* One "- s3:" entry of sources: (source.c). */
struct conf_source {
	char       *endpoint;       /* http(s)://host[:port], path-style requests */
	char       *region;
	char       *bucket;
	char       *prefix;         /* NULL: the whole bucket */
	uint64_t    poll_ms;
	enum source_delete del;
	char       *credentials_file;   /* NULL: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY */
	uint64_t    max_time_ms;    /* its downloads; 0: fetch.max_time */
	unsigned    line;           /* of the entry in the file; 0: not from a file */
};

struct conf_sources {
	struct conf_source *v;
	size_t              n;
};

/* How long filed packets are kept (janitor.c); 0: for ever. */
struct conf_retention {
	uint64_t    done_ms;
	uint64_t    failed_ms;
};

/* Several hosts draining one bucket through NATS JetStream (cluster.c). */
struct conf_cluster {
	struct strv nats;           /* server URLs; n == 0: no cluster */
	char       *name;           /* stream NAME, KV bucket NAME-filed */
	char       *node;           /* NULL: the host name */
	uint64_t    lease_ms;       /* ack wait of a claim */
	unsigned    replicas;
	unsigned    max_deliver;
	char       *credentials_file;   /* NULL: none */
};

/* The webhook (notify.c). */
struct conf_notify {
	char       *url;            /* NULL: no notifier */
	uint64_t    timeout_ms;     /* one POST */
	unsigned    retries;
	uint64_t    backoff_ms;     /* first retry delay; doubles each time */
};

struct conf {
	char       *file;           /* NULL: built-in defaults only */
	char       *spool;
	unsigned    workers;
	uint64_t    settle_ms;
	struct strv ignore;
	uint64_t    shutdown_grace_ms;
	int         fsync;          /* 1: make every filing durable */
	char       *user;           /* drop to this user when started as root */
	int         allow_root;
	int         log_time;		/* LOG_TIME_* (log.h): auto, on, off */
	unsigned    max_jobs_per_worker;	/* 0: no limit */
	char       *metrics_file;		/* NULL: none */
	uint64_t    metrics_interval_ms;
	char       *metrics_mode;		/* octal text, checked: "0640" */
	uint64_t    journal_max;		/* rotate the journal at this size; 0: never */
	unsigned    journal_keep;		/* rotated journals kept */
	struct conf_handler handler;
	struct conf_packet  packet;
	struct conf_fetch   fetch;
	struct conf_sources sources;
	struct conf_notify  notify;
	struct conf_cluster cluster;
	struct conf_retention retention;
	int         verbosity;      /* -1 quiet, 0 info, 1 debug */
	/* Line in file where each key of conf_keys.c's table was set; 0: not from file. */
	unsigned    key_line[CONF_MAX_KEYS];
};

#endif
