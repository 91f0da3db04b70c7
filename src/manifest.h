/*
 * Packet manifests (data_info.yml): YAML read with libyaml's event API under
 * limits, turned into JSON for handlers and INGEST_META_<KEY> variables.
 *
 * What is accepted: one document whose top level is a mapping; keys are
 * scalars and unique within their mapping; no anchors, aliases or tags (an
 * alias is how a billion-laughs bomb works; tags are refused so that no YAML
 * type magic ever matters: every scalar is a string); no NUL byte in any
 * scalar; at most packet.manifest_max_bytes bytes, manifest_max_depth levels
 * of nesting and manifest_max_nodes scalars and collections (0: no limit).
 */
#ifndef INGESTD_MANIFEST_H
#define INGESTD_MANIFEST_H

#include <stddef.h>

#include "conf.h"

/* The manifest readers' result besides 0 and -1 (errno): 25 (see packet.h). */
enum manifest_rc {
	MANIFEST_BAD = 25,	/* the manifest is at fault: reason says why */
};

/* A top-level value longer than this is left out of the environment (it stays in the JSON). */
#define MANIFEST_ENV_VALUE_MAX	(64 * 1024)
/* ... and so is every value once the INGEST_META_ variables reach this many bytes in all. */
#define MANIFEST_ENV_TOTAL_MAX	(512 * 1024)

struct manifest {
	char       *json;	/* the whole document as JSON, scalars as strings, '\n' at the end */
	size_t      jsonlen;
	struct strv env;	/* "INGEST_META_KEY=value" for each top-level scalar */
};

/*
 * Parse len bytes of YAML. Returns 0 and fills m; MANIFEST_BAD with a logfmt
 * reason such as `manifest line=3 column=1 error="..."` or
 * `manifest missing_key=device_id`; or -1 with errno (ENOMEM).
 */
int  manifest_parse(const char *buf, size_t len, const struct conf_packet *p,
    struct manifest *m, char *reason, size_t reasonlen);

/* The same on an open file, which must be a regular file within the size limit. */
int  manifest_read_fd(int fd, const struct conf_packet *p, struct manifest *m,
    char *reason, size_t reasonlen);

/* The same on a path; a symlink is refused, never followed. */
int  manifest_read(const char *path, const struct conf_packet *p, struct manifest *m,
    char *reason, size_t reasonlen);

void manifest_free(struct manifest *m);

/* Write "INGEST_META_" + key mangled to [A-Z0-9_] into out. Returns 0, or -1 if it does not fit. */
int  manifest_env_name(const char *key, size_t keylen, char *out, size_t outlen);

#endif
