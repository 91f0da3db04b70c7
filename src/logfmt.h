/*
 * A reader for the logfmt lines the daemon writes: log lines (log.c) and
 * journal lines (journal.h). It decodes exactly what log_quote() encodes and
 * refuses the rest, so a value can never pose as a key:
 *
 *   key      1+ bytes of 0x21-0x7e but '"', '=' and '\'
 *   value    bare: 0+ bytes of the same set (log_quote writes "" for empty)
 *            or quoted: '"' ... '"' with only \" \\ \n and \xNN (NN not 00)
 *            as escapes; any other byte 0x20-0x7e as is, bytes >= 0x80 only
 *            as valid UTF-8
 *   pair     key=value, or a bare key (reason fragments: "exit status=3")
 *   line     pairs separated by spaces; one final '\n' is ignored
 *
 * A raw control byte, NUL or DEL anywhere, a '=' in a bare value, an unknown
 * escape, a quote not followed by a space or the end: the line is refused
 * (EINVAL), never guessed at. Decoded values never hold a NUL.
 *
 * One key may take the rest of the line verbatim: a journal line ends in
 * reason=, itself a logfmt fragment (... filed=failed/x.zip reason=exit
 * status=3). Pass LOGFMT_JOURNAL_REST as rest for journal lines; NULL for
 * log lines. The rest may hold any byte but NUL and '\n'.
 */
#ifndef INGESTD_LOGFMT_H
#define INGESTD_LOGFMT_H

#include <stddef.h>
#include <sys/types.h>

#define LOGFMT_JOURNAL_REST "reason"

enum logfmt_rc {
	LOGFMT_ERROR = -1,	/* errno EINVAL: malformed at pos; ERANGE: buf too small */
	LOGFMT_END = 0,		/* no more pairs */
	LOGFMT_PAIR = 1		/* *kv holds the next pair */
};

struct logfmt {
	const char *line;
	size_t      len;	/* without the final '\n' */
	size_t      pos;	/* next byte; after LOGFMT_ERROR, the offending one */
	const char *rest;	/* key whose value is the rest of the line, or NULL */
	int         broken;	/* an error was returned: every later call fails */
};

struct logfmt_pair {
	const char *key;	/* into the line, klen bytes, not NUL-terminated */
	size_t      klen;
	char       *value;	/* decoded and NUL-terminated in the caller's buf, or NULL */
	size_t      vlen;	/* decoded length (also when value is NULL) */
	int         bare;	/* a key without '=': value is "" */
};

/* Start reading line[0..len) (a final '\n' is dropped). rest may be NULL. */
void    logfmt_init(struct logfmt *lf, const char *line, size_t len, const char *rest);

/*
 * The next pair, its value decoded into buf (buflen bytes; len + 1 of the
 * line always suffices). buf NULL: the value is checked and measured, not
 * copied. Returns LOGFMT_PAIR, LOGFMT_END, or LOGFMT_ERROR with errno
 * EINVAL (malformed, lf->pos says where) or ERANGE (buf too small); after
 * an error the iterator stays at LOGFMT_ERROR.
 */
int     logfmt_next(struct logfmt *lf, struct logfmt_pair *kv, char *buf, size_t buflen);

/*
 * The decoded value of key in line[0..len) into buf (NUL-terminated). The
 * whole line is checked first. Returns the value's length, or -1 with errno
 * EINVAL (malformed line, or key given twice: ambiguous), ENOENT (no such
 * key) or ERANGE (buf too small).
 */
ssize_t logfmt_get(const char *line, size_t len, const char *rest, const char *key, char *buf,
    size_t buflen);

#endif
