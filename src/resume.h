/*
 * What of STEM.part is there, so a killed download resumes instead of
 * starting over: the phase ("download", "verified", "commit"), the total
 * size, the validator (ETag or Last-Modified) and each range's progress, in
 * inbox/.STEM.part.state. Progress is not fsynced while downloading (the
 * page cache outlives a killed process), so the record carries the boot id:
 * progress from another boot is discarded. Past "download" it is fsynced.
 */
#ifndef INGESTD_RESUME_H
#define INGESTD_RESUME_H

#include <stddef.h>

#include "download.h"

/* This boot's id (/proc/sys/kernel/random/boot_id) into out, "" if unknown. */
void        resume_boot_id(char *out, size_t len);

/* Save f's progress under phase; durable: fsync it too. 0 or -1 with errno. */
int         resume_save(struct fetch *f, const char *phase, int durable);

/*
 * Load what a previous run left into f. Returns the phase ("download",
 * "verified", "commit") or NULL when there is nothing usable (start over).
 */
const char *resume_load(struct fetch *f);

#endif
