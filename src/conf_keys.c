/*
 * The config's keys: one row of conf_keys[] per key, with its dotted path,
 * its type, where it lives in struct conf and what it accepts, and the
 * checks of single values that rows name. The loader (conf_load.c),
 * conf_validate, conf_print (ingestd -t), conf_free and test/mancheck.sh
 * all work from this table, so a new key is a row here (and a check function
 * if its values need one), a default in conf_defaults (conf.c), a paragraph
 * in ingestd.yml(5) and a line in etc/ingestd.yml. The keys of one sources:
 * entry are conf_sources.c's own table.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf_types.h"
#include "conf_keys.h"
#include "log.h"
#include "names.h"
#include "template.h"
#include "units.h"

#define SPOOL_PATH_MAX  1024            /* leaves room for work/J/pkt/NAME in PATH_MAX */
#define USER_NAME_MAX   256
#define ENV_NAME_MAX    255
#define URL_MAX         2048

static int check_spool(const char *, size_t, char *, size_t);
static int check_user(const char *, size_t, char *, size_t);
static int check_pattern(const char *, size_t, char *, size_t);
static int check_command(const char *, size_t, char *, size_t);
static int check_env_name(const char *, size_t, char *, size_t);
static int check_file_name(const char *, size_t, char *, size_t);
static int check_nonempty(const char *, size_t, char *, size_t);
static int check_file_mode(const char *, size_t, char *, size_t);
static int check_nats_url(const char *, size_t, char *, size_t);
static int check_cluster_name(const char *, size_t, char *, size_t);
static int check_node_name(const char *, size_t, char *, size_t);

static const char *const plain_names[] = { "fail", "pass", NULL };
static const char *const links_names[] = { "refuse", "inside", NULL };
static const char *const on_success_names[] = { "archive", "delete", NULL };
static const char *const protocol_names[] = { "http", "https", NULL };
/* In the order of log.h's LOG_TIME_*. */
static const char *const log_time_names[] = { "auto", "on", "off", NULL };
static const char *const format_names[] = {
	"zip", "tar", "7zip", "cpio", "iso9660", "rar", "rar5", "xar", "lha", "cab",
	"warc", "ar", NULL
};

/* libarchive 3.6.2's read filters; grzip and lrzip only ever run external programs. */
static const char *const filter_names[] = {
	"bzip2", "compress", "gzip", "lz4", "lzip", "lzma", "lzop", "rpm", "uu", "xz", "zstd",
	NULL
};

/* The enums are stored through an int: they must be int-sized. */
_Static_assert(sizeof(enum packet_plain) == sizeof(int), "enum size");
_Static_assert(sizeof(enum packet_links) == sizeof(int), "enum size");
_Static_assert(sizeof(enum packet_on_success) == sizeof(int), "enum size");
_Static_assert(LOG_TIME_AUTO == 0 && LOG_TIME_ON == 1 && LOG_TIME_OFF == 2, "log_time_names");
#define KEY(p, t, member, ...) { .path = (p), .type = (t),			\
	.off = offsetof(struct conf, member),					\
	.size = sizeof(((struct conf *)0)->member), __VA_ARGS__ }
#define SECTION(p)     { .path = (p), .type = K_SECTION }

/* test/mancheck.sh reads the KEY("...") and SECTION("...") lines: one per line. */
const struct key conf_keys[] = {
	KEY("spool",                 K_STR,  spool, .check = check_spool),
	KEY("workers",               K_UINT, workers, RANGE(1, 256),
	    .auto_value = conf_online_cpus),
	KEY("settle",                K_DUR,  settle_ms, RANGE(0, DUR_MAX)),
	KEY("ignore",                K_LIST, ignore, .check = check_pattern),
	KEY("shutdown_grace",        K_DUR,  shutdown_grace_ms, RANGE(0, DUR_MAX)),
	KEY("fsync",                 K_BOOL, fsync),
	KEY("user",                  K_STR,  user, .flags = KF_NULL, .check = check_user),
	KEY("allow_root",            K_BOOL, allow_root),
	KEY("log_time",              K_ENUM, log_time, .names = log_time_names),
	KEY("max_jobs_per_worker",   K_UINT, max_jobs_per_worker, RANGE(0, UINT32_MAX)),
	KEY("metrics_file",          K_STR,  metrics_file, .flags = KF_NULL, .check = check_spool),
	KEY("metrics_interval",      K_DUR,  metrics_interval_ms, RANGE(SEC, HOUR)),
	KEY("metrics_mode",          K_STR,  metrics_mode, .check = check_file_mode),
	KEY("journal_max",           K_SIZE, journal_max, RANGE(0, TiB)),
	KEY("journal_keep",          K_UINT, journal_keep, RANGE(1, 1000)),
	SECTION("retention"),
	KEY("retention.done",        K_DUR,  retention.done_ms, RANGE(0, DUR_MAX)),
	KEY("retention.failed",      K_DUR,  retention.failed_ms, RANGE(0, DUR_MAX)),
	SECTION("handler"),
	KEY("handler.command",       K_LIST, handler.command, .check = check_command),
	KEY("handler.timeout",       K_DUR,  handler.timeout_ms, RANGE(0, DUR_MAX)),
	KEY("handler.retries",       K_UINT, handler.retries, RANGE(0, 100)),
	KEY("handler.backoff",       K_DUR,  handler.backoff_ms, RANGE(0, DUR_MAX)),
	KEY("handler.backoff_max",   K_DUR,  handler.backoff_max_ms, RANGE(0, DUR_MAX)),
	KEY("handler.env",           K_LIST, handler.env, .flags = KF_UNIQUE,
	    .check = check_env_name),
	KEY("handler.log_max",       K_SIZE, handler.log_max, RANGE(4 * KiB, GiB)),
	SECTION("packet"),
	KEY("packet.formats",        K_LIST, packet.formats, .flags = KF_UNIQUE,
	    .names = format_names),
	KEY("packet.filters",        K_LIST, packet.filters, .flags = KF_UNIQUE,
	    .names = filter_names),
	KEY("packet.max_time",       K_DUR,  packet.max_time_ms, RANGE(0, DUR_MAX)),
	KEY("packet.max_memory",     K_SIZE, packet.max_memory, RANGE(0, TiB)),
	KEY("packet.plain",          K_ENUM, packet.plain, .names = plain_names),
	KEY("packet.links",          K_ENUM, packet.links, .names = links_names),
	KEY("packet.on_success",     K_ENUM, packet.on_success, .names = on_success_names),
	KEY("packet.keep_extracted", K_BOOL, packet.keep_extracted),
	KEY("packet.max_bytes",      K_SIZE, packet.max_bytes, RANGE(1, UINT64_MAX)),
	KEY("packet.max_entries",    K_UINT, packet.max_entries, RANGE(1, UINT64_MAX)),
	KEY("packet.max_file_bytes", K_SIZE, packet.max_file_bytes, RANGE(1, UINT64_MAX)),
	KEY("packet.max_ratio",      K_UINT, packet.max_ratio, RANGE(1, 1000000)),
	KEY("packet.max_depth",      K_UINT, packet.max_depth, RANGE(1, 1024)),
	KEY("packet.manifest",       K_STR,  packet.manifest, .check = check_file_name),
	KEY("packet.manifest_required", K_BOOL, packet.manifest_required),
	KEY("packet.manifest_keys",  K_LIST, packet.manifest_keys, .flags = KF_UNIQUE,
	    .check = check_nonempty),
	KEY("packet.manifest_max_bytes", K_SIZE, packet.manifest_max_bytes, RANGE(1, GiB)),
	KEY("packet.manifest_max_depth", K_UINT, packet.manifest_max_depth, RANGE(1, 1024)),
	KEY("packet.manifest_max_nodes", K_UINT, packet.manifest_max_nodes,
	    RANGE(1, UINT64_MAX)),
	SECTION("fetch"),
	KEY("fetch.segments",        K_UINT, fetch.segments, RANGE(1, 64)),
	KEY("fetch.segment_min",     K_SIZE, fetch.segment_min, RANGE(64 * KiB, TiB)),
	KEY("fetch.connect_timeout", K_DUR,  fetch.connect_timeout_ms, RANGE(100, HOUR)),
	KEY("fetch.low_speed_limit", K_SIZE, fetch.low_speed_limit, RANGE(0, GiB)),
	KEY("fetch.low_speed_time",  K_DUR,  fetch.low_speed_time_ms, RANGE(SEC, HOUR)),
	KEY("fetch.retries",         K_UINT, fetch.retries, RANGE(0, 100)),
	KEY("fetch.backoff",         K_DUR,  fetch.backoff_ms, RANGE(0, HOUR)),
	KEY("fetch.max_bytes",       K_SIZE, fetch.max_bytes, RANGE(1, UINT64_MAX)),
	KEY("fetch.reserve_max",     K_SIZE, fetch.reserve_max, RANGE(0, UINT64_MAX)),
	KEY("fetch.max_time",        K_DUR,  fetch.max_time_ms, RANGE(0, DUR_MAX)),
	KEY("fetch.request_timeout", K_DUR,  fetch.request_timeout_ms, RANGE(SEC, HOUR)),
	KEY("fetch.tls_verify",      K_BOOL, fetch.tls_verify),
	KEY("fetch.ca_file",         K_STR,  fetch.ca_file, .flags = KF_NULL,
	    .check = conf_check_abs_path),
	KEY("fetch.protocols",       K_LIST, fetch.protocols, .flags = KF_UNIQUE,
	    .names = protocol_names),
	KEY("sources",               K_SOURCES, sources),
	SECTION("notify"),
	KEY("notify.url",            K_STR,  notify.url, .flags = KF_NULL,
	    .check = conf_check_http_url),
	KEY("notify.timeout",        K_DUR,  notify.timeout_ms, RANGE(100, HOUR)),
	KEY("notify.retries",        K_UINT, notify.retries, RANGE(0, 100)),
	KEY("notify.backoff",        K_DUR,  notify.backoff_ms, RANGE(0, HOUR)),
	SECTION("cluster"),
	KEY("cluster.nats",          K_LIST, cluster.nats, .flags = KF_UNIQUE,
	    .check = check_nats_url),
	KEY("cluster.name",          K_STR,  cluster.name, .check = check_cluster_name),
	KEY("cluster.node",          K_STR,  cluster.node, .flags = KF_NULL,
	    .check = check_node_name),
	KEY("cluster.lease",         K_DUR,  cluster.lease_ms, RANGE(2 * SEC, HOUR)),
	KEY("cluster.replicas",      K_UINT, cluster.replicas, RANGE(1, 5)),
	KEY("cluster.max_deliver",   K_UINT, cluster.max_deliver, RANGE(1, 1000)),
	KEY("cluster.credentials_file", K_STR, cluster.credentials_file, .flags = KF_NULL,
	    .check = conf_check_abs_path),
};
const size_t conf_nkeys = sizeof(conf_keys) / sizeof(conf_keys[0]);
_Static_assert(sizeof(conf_keys) / sizeof(conf_keys[0]) <= CONF_MAX_KEYS,
    "raise CONF_MAX_KEYS in conf.h");

int
conf_key_index(const char *path)
{
	size_t i;

	for (i = 0; i < conf_nkeys; i++)
		if (strcmp(conf_keys[i].path, path) == 0)
			return (int)i;
	return -1;
}

uint64_t
conf_online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 256 ? 256 : (uint64_t)n;
}

static int
check_spool(const char *v, size_t idx, char *why, size_t len)
{
	char q[QUOTE_BUF];

	(void)idx;
	/* Handlers run in the packet's directory: a relative spool would break. */
	if (v[0] != '/')
		snprintf(why, len, "%s is not an absolute path", units_quote(q, sizeof(q), v));
	else if (strlen(v) > SPOOL_PATH_MAX)
		snprintf(why, len, "longer than %d bytes", SPOOL_PATH_MAX);
	else
		return 0;
	return -1;
}

static int
check_user(const char *v, size_t idx, char *why, size_t len)
{
	char q[QUOTE_BUF];
	size_t i;

	(void)idx;
	if (v[0] == '\0' || strlen(v) > USER_NAME_MAX) {
		snprintf(why, len, "%s is not a user name (write ~ for none)",
		    units_quote(q, sizeof(q), v));
		return -1;
	}
	for (i = 0; v[i] != '\0'; i++)
		if ((unsigned char)v[i] <= ' ' || v[i] == ':' || v[i] == '/' || v[i] == 0x7f) {
			snprintf(why, len, "%s is not a user name", units_quote(q, sizeof(q), v));
			return -1;
		}
	return 0;
}

static int
check_pattern(const char *v, size_t idx, char *why, size_t len)
{
	char q[QUOTE_BUF];

	(void)idx;
	if (v[0] == '\0')
		snprintf(why, len, "empty pattern");
	else if (strchr(v, '/') != NULL)
		snprintf(why, len, "%s contains '/' but is matched against single names",
		    units_quote(q, sizeof(q), v));
	else
		return 0;
	return -1;
}

static int
check_command(const char *v, size_t idx, char *why, size_t len)
{
	if (idx == 0 && v[0] == '\0') {
		snprintf(why, len, "the program must not be empty");
		return -1;
	}
	return template_check(v, why, len);
}

static int
check_env_name(const char *v, size_t idx, char *why, size_t len)
{
	char q[QUOTE_BUF];

	(void)idx;
	if (strlen(v) <= ENV_NAME_MAX && ((v[0] >= 'A' && v[0] <= 'Z') ||
	    (v[0] >= 'a' && v[0] <= 'z') || v[0] == '_') &&
	    strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ==
	    strlen(v))
		return 0;
	snprintf(why, len, "%s is not a variable name (letters, digits and _, "
	    "not starting with a digit)", units_quote(q, sizeof(q), v));
	return -1;
}

static int
check_file_name(const char *v, size_t idx, char *why, size_t len)
{
	char q[QUOTE_BUF];

	(void)idx;
	if (name_is_valid(v))
		return 0;
	snprintf(why, len, "%s is not a file name (no '/', not . or .., 1 to 255 bytes)",
	    units_quote(q, sizeof(q), v));
	return -1;
}

/*
 * A file's permissions in octal, as chmod(1) takes them: read and write bits
 * only. An executable or set-id metrics file is never what was meant.
 */
static int
check_file_mode(const char *v, size_t idx, char *why, size_t len)
{
	char q[QUOTE_BUF];
	size_t n = strspn(v, "01234567");

	(void)idx;
	if (n >= 3 && n <= 4 && v[n] == '\0' && (n == 3 || v[0] == '0') &&
	    (strtoul(v, NULL, 8) & ~0666UL) == 0)
		return 0;
	snprintf(why, len, "%s is not a file mode (octal, read and write bits only, e.g. 0640)",
	    units_quote(q, sizeof(q), v));
	return -1;
}

static int
check_nonempty(const char *v, size_t idx, char *why, size_t len)
{
	(void)idx;
	if (v[0] != '\0')
		return 0;
	snprintf(why, len, "empty value");
	return -1;
}

int
conf_check_http_url(const char *v, size_t idx, char *why, size_t len)
{
	char q[QUOTE_BUF];
	const char *host;
	size_t i;

	(void)idx;
	host = strncmp(v, "http://", 7) == 0 ? v + 7 : strncmp(v, "https://", 8) == 0 ? v + 8 :
	    NULL;
	if (host == NULL) {
		snprintf(why, len, "%s is not an http:// or https:// URL",
		    units_quote(q, sizeof(q), v));
		return -1;
	}
	if (strlen(v) > URL_MAX) {
		snprintf(why, len, "longer than %d bytes", URL_MAX);
		return -1;
	}
	for (i = 0; v[i] != '\0'; i++)
		if ((unsigned char)v[i] <= ' ' || v[i] == 0x7f) {
			snprintf(why, len, "%s contains a space or a control character (write %%20)",
			    units_quote(q, sizeof(q), v));
			return -1;
		}
	if (host[0] == '\0' || host[0] == '/' || host[0] == ':') {
		snprintf(why, len, "%s has no host", units_quote(q, sizeof(q), v));
		return -1;
	}
	return 0;
}

int
conf_check_abs_path(const char *v, size_t idx, char *why, size_t len)
{
	char q[QUOTE_BUF];

	(void)idx;
	if (v[0] == '/' && strlen(v) < PATH_MAX)
		return 0;
	snprintf(why, len, "%s is not an absolute path", units_quote(q, sizeof(q), v));
	return -1;
}

/* nats://HOST[:PORT] or tls://HOST[:PORT], optionally with user:password@. */
static int
check_nats_url(const char *v, size_t idx, char *why, size_t len)
{
	char q[QUOTE_BUF];
	const char *h;

	(void)idx;
	if (strncmp(v, "nats://", 7) == 0)
		h = v + 7;
	else if (strncmp(v, "tls://", 6) == 0)
		h = v + 6;
	else {
		snprintf(why, len, "%s is not a nats:// or tls:// URL", units_quote(q, sizeof(q), v));
		return -1;
	}
	if (*h == '\0' || *h == ':' || *h == '/' || strlen(v) > URL_MAX ||
	    strpbrk(v, " \t\r\n") != NULL) {
		snprintf(why, len, "%s names no host", units_quote(q, sizeof(q), v));
		return -1;
	}
	return 0;
}

/* The stream is NAME and the KV bucket NAME-filed: letters, digits, - and _ only. */
static int
check_cluster_name(const char *v, size_t idx, char *why, size_t len)
{
	char q[QUOTE_BUF];
	size_t n = strlen(v);

	(void)idx;
	if (n == 0 || n > 32 || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_") != n) {
		snprintf(why, len, "%s: 1 to 32 letters, digits, '-' or '_'",
		    units_quote(q, sizeof(q), v));
		return -1;
	}
	return 0;
}

/* A node id is written into markers and logs: a host-name-like token. */
static int
check_node_name(const char *v, size_t idx, char *why, size_t len)
{
	char q[QUOTE_BUF];
	size_t n = strlen(v);

	(void)idx;
	if (n == 0 || n > 64 || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_.") != n) {
		snprintf(why, len, "%s: 1 to 64 letters, digits, '-', '_' or '.'",
		    units_quote(q, sizeof(q), v));
		return -1;
	}
	return 0;
}
