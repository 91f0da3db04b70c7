/* ingestd configuration: defaults, YAML file, command-line overrides. */
#ifndef INGESTD_CONF_H
#define INGESTD_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf_types.h"
#include "strv.h"

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
