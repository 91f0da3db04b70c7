/* ingestd configuration: defaults, YAML file, command-line overrides. */
#ifndef INGESTD_CONF_H
#define INGESTD_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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
	struct conf_retention retention;
	int         verbosity;      /* -1 quiet, 0 info, 1 debug */
	/* Line in file where each key of conf_keys.c's table was set; 0: not from file. */
	unsigned    key_line[CONF_MAX_KEYS];
};

/*
 * Fill c with the built-in defaults. c is overwritten and must not own memory
 * (zeroed, or conf_free'd). Returns 0, or -1 with errno (ENOMEM).
 */
int  conf_defaults(struct conf *c);

/*
 * Read the YAML file at path on top of the defaults already in c. A key in
 * the file replaces the value (lists too: they are not appended to).
 * Returns 0, or -1 and writes "FILE:LINE: reason" (no newline) into err;
 * errno is the OS error when the file cannot be read ("FILE: reason"), EFBIG
 * when it is over 1 MiB, EINVAL when its content is wrong. After an error c
 * may hold some of the file's values: conf_free it rather than use it.
 */
int  conf_load(struct conf *c, const char *path, char *err, size_t errlen);

/* Same as conf_load on an in-memory buffer; name is used in messages. */
int  conf_load_buf(struct conf *c, const char *name, const char *buf, size_t len,
    char *err, size_t errlen);

/*
 * Set one scalar key ("workers", "handler.timeout") from text, with the same
 * parsing and checks as the file; for command-line overrides. 0, or -1 with
 * "KEY: reason" in err.
 */
int  conf_set(struct conf *c, const char *key, const char *value, char *err,
    size_t errlen);

/*
 * Checks every value again (command-line overrides skip the file's checks)
 * and those that need several keys (handler.backoff_max >= handler.backoff).
 * 0, or -1 with "FILE:LINE: reason" in err (just "reason" when the value did
 * not come from the file).
 */
int  conf_validate(const struct conf *c, char *err, size_t errlen);

/* Print the effective settings as YAML that conf_load accepts. */
void conf_print(const struct conf *c, FILE *fp);

void conf_free(struct conf *c);

/* What the command line sets over the config file; kept for reloads. */
struct conf_overrides {
	const char *spool;	/* NULL: from the file */
	unsigned    workers;	/* 0: from the file */
	int         verbosity;
};

/*
 * Defaults, then file (NULL: none), then the overrides, then validation.
 * 0, or -1 with "FILE:LINE: reason" in err (c is then freed).
 */
int  conf_read(struct conf *c, const char *file, const struct conf_overrides *ov, char *err,
    size_t errlen);

#endif
