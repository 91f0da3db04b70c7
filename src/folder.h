/*
 * Folder packets: a tree that arrives already unpacked, held to the rules of
 * extract.h (types, links, max_entries, max_depth, max_file_bytes,
 * max_bytes).
 *
 * A folder stays writable by whoever renamed it in (an inbox is group
 * writable), so a check in place proves nothing by the time a handler runs:
 * a symlink planted after it would be followed. folder_copy() therefore
 * checks each entry through the descriptor it copies from, and the handler
 * gets the copy, which lives in the job directory where no producer can write.
 */
#ifndef INGESTD_FOLDER_H
#define INGESTD_FOLDER_H

#include <stddef.h>

#include "conf.h"
#include "extract.h"

/*
 * Copy the folder open on dirfd into dest (created 0700, must not exist):
 * regular files (0644, or 0755 when any x bit is set) and directories (0755),
 * symlinks only with packet.links: inside and only when they stay in the
 * tree; the byte limits count the bytes really copied. Returns 0,
 * EXTRACT_BAD with a reason, or -1 with errno; on anything but 0 dest is
 * removed again.
 */
int  folder_copy(int dirfd, const char *dest, const struct conf_packet *p,
    struct extract_stats *st, char *reason, size_t reasonlen);

/* The same rules checked in place, changing nothing (by st_size). */
int  folder_check(int dirfd, const struct conf_packet *p, struct extract_stats *st,
    char *reason, size_t reasonlen);

#endif
