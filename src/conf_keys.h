/*
 * The table of the config's keys (conf_keys.c), private to src/conf*.c:
 * conf.c, the loader and test/mancheck.sh walk it.
 */
#ifndef INGESTD_CONF_KEYS_H
#define INGESTD_CONF_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "conf_value.h"

/*
 * Every key, in the order ingestd -t prints them. A key's index is also its
 * slot in struct conf's key_line[].
 */
extern const struct key conf_keys[];
extern const size_t     conf_nkeys;

/* The index of the key with the dotted path, or -1. */
int      conf_key_index(const char *path);

/* What workers: auto means: the CPUs online, 1 to 256. */
uint64_t conf_online_cpus(void);

/* Checks that the sources: entries' keys share (struct key.check). 0, or -1 + why. */
int      conf_check_http_url(const char *v, size_t idx, char *why, size_t len);
int      conf_check_abs_path(const char *v, size_t idx, char *why, size_t len);

#endif
