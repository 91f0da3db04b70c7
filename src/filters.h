/*
 * libarchive's read filters (compression and encodings around an archive),
 * behind packet.filters, and the signatures that name what a packet is when
 * libarchive cannot read it.
 *
 * Only filters built into the library are ever enabled: for one whose
 * library is missing (lzop without liblzo2, lz4 without liblz4, ...) and for
 * grzip and lrzip, which always need one, libarchive would run an external
 * program from the worker. Those names are accepted in the configuration but
 * stay off, and a packet that needs them fails saying so.
 */
#ifndef INGESTD_FILTERS_H
#define INGESTD_FILTERS_H

#include <stddef.h>

#include "strv.h"

struct archive;

/* 1 if this libarchive runs the named filter itself, 0 if not or if it knows no such filter. */
int  filters_builtin(const char *name);

/* Enable the filters in list that are built in. Returns how many. */
int  filters_enable(struct archive *a, const struct strv *list);

/*
 * A filter signature at the start of buf (len bytes) that list does not let
 * through: writes why into why ("filter lzop is off (packet.filters)", or
 * "... needs an external program") and returns 1; else 0.
 */
int  filters_refused(const unsigned char *buf, size_t len, const struct strv *list,
    char *why, size_t whylen);

/* Bytes filters_format() may look at: iso9660 signs at 32769. */
#define FILTERS_SNIFF_LEN	(32769 + 5)

/*
 * The archive format whose signature buf starts with ("zip", "7zip", ...),
 * or NULL: tells a format packet.formats leaves off from no archive at all.
 */
const char *filters_format(const unsigned char *buf, size_t len);

#endif
