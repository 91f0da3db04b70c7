/*
 * Inbox names: which ones the watcher leaves alone (the ignore: globs) and
 * which ones are usable as a single path component at all.
 */
#ifndef INGESTD_NAMES_H
#define INGESTD_NAMES_H

#include "strv.h"

/*
 * 1 if name matches any of the glob patterns, else 0. fnmatch(3) with no
 * flags: "*" and "?" also match a leading dot, so ".*" catches dotfiles and
 * "*" catches everything.
 */
int ignore_match(const struct strv *patterns, const char *name);

/*
 * 1 for names the daemon itself makes in the inbox and that no ignore:
 * setting may expose: dot names (resume records, the rescan trigger) and
 * downloads in progress (*.part).
 */
int name_is_internal(const char *name);

/* 1 if name is non-empty, not "." or "..", has no '/' and is <= 255 bytes. */
int name_is_valid(const char *name);

#endif
