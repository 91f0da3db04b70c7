/*
 * Safe extraction of a packet archive with libarchive, and the same rules
 * applied to a folder that arrives already unpacked.
 *
 * The rules: only regular files and directories (links only with
 * packet.links: inside, and only when they provably stay in the tree); no
 * absolute paths, no "..", no owners, no setuid/setgid/sticky bits (files
 * become 0644 or 0755, directories 0755, both under the umask); limits from
 * struct conf_packet counted on the bytes really written, never on what a
 * header claims (0 turns a limit off). The ratio limit compares the bytes
 * written so far with the archive's size on disk, and only once more than
 * EXTRACT_RATIO_FLOOR bytes are out, so a small archive of text is never
 * refused for compressing well; a bomb therefore writes at most
 * max(EXTRACT_RATIO_FLOOR, max_ratio x archive size) before it is stopped.
 */
#ifndef INGESTD_EXTRACT_H
#define INGESTD_EXTRACT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

/* extract_archive()'s results besides 0 and -1 (errno), 20-24 (see packet.h). */
enum extract_rc {
	EXTRACT_BAD   = 20,	/* the archive is at fault: reason says why */
	EXTRACT_PLAIN = 21,	/* not an archive at all: reason starts with "plain" */
};

#define EXTRACT_RATIO_FLOOR	(1024 * 1024)
/* Read size handed to libarchive: large reads are most of the speed. */
#define EXTRACT_BLOCK		(1024 * 1024)

struct extract_stats {
	uint64_t entries;
	uint64_t bytes;		/* file bytes written, holes included */
};

/*
 * Extract the archive open on fd (a regular file, read from offset 0) into
 * dest, which this creates with mode 0700 and must not exist yet. Only the
 * formats in p->formats and the filters in p->filters are read (see
 * filters.h). Returns 0; EXTRACT_BAD with a logfmt reason whose first word is
 * archive, limit, link, type, path, format or manifest (a second entry named
 * packet.manifest at the root); EXTRACT_PLAIN when fd holds no archive; or -1
 * with errno when the system is at fault (ENOSPC, EIO, ...: also a read of
 * fd that failed, whatever libarchive made of it), the reason then saying
 * "system [entry=...] error=...". The ar format's "/" and "//" tables are
 * skipped, not extracted.
 * On anything but 0, dest is removed again. The working directory is changed
 * while extracting (archive_write_disk works relative to it) and restored.
 */
int  extract_archive(int fd, const char *dest, const struct conf_packet *p,
    struct extract_stats *st, char *reason, size_t reasonlen);

/*
 * A reason as the extraction writes them, "KEYWORD [entry=NAME] [more]": the
 * name (from the packet) quoted and cut so the reason fits a journal line.
 * Returns EXTRACT_BAD, for "return extract_vreason(...)".
 */
int  extract_vreason(char *reason, size_t len, const char *kw, const char *entry, const char *fmt,
    va_list ap) __attribute__((format(printf, 5, 0)));

/*
 * 1 when a symlink at entry (a relative path in the tree) pointing at target
 * provably resolves inside the tree: target relative, its ".." components
 * all first, no more of them than there are directories above the link.
 */
int  extract_symlink_inside(const char *entry, const char *target);

/*
 * 1 if name is a libarchive format ingestd can enable (zip, tar, 7zip, ar,
 * cab, cpio, iso9660, lha, rar, rar5, warc, xar), else 0. mtree is never
 * one: its entries can name files on our own disk as their contents.
 */
int  extract_format_known(const char *name);

#endif
