/*
 * The janitor: a child of the supervisor, started when retention.done or
 * retention.failed is set, that removes packets filed longer ago than that,
 * with their records (STEM.log, STEM.json, STEM.error, STEM.tree). It runs
 * at the lowest CPU and I/O priority and removes at most JANITOR_RATE
 * entries a second: every removal costs the workers' next inode allocations
 * (ext4 skips over inodes deleted in the last minutes), so it is paced.
 */
#ifndef INGESTD_JANITOR_H
#define INGESTD_JANITOR_H

#include <stdint.h>
#include <sys/types.h>

#include "conf.h"
#include "spool.h"

#define JANITOR_RATE 200	/* removals a second at most */

/* 1 if c asks for a janitor. */
int  janitor_wanted(const struct conf *c);

/* How often it looks, for a retention of ms: a tenth, 1 s to 1 h. */
uint64_t janitor_interval_ms(uint64_t retention_ms);

/*
 * One pass over dirfd (done/ or failed/): remove what was filed before
 * now_ms - retention_ms, sleeping as the rate says. Returns the number of
 * packets removed, or -1 with errno.
 */
long janitor_pass(int dirfd, uint64_t retention_ms, int64_t now_ms);

/* Never returns. */
void janitor_main(const struct conf *c, const struct spool *s, pid_t supervisor)
    __attribute__((noreturn));

#endif
