/*
 * The config's text: whole numbers, durations ("1h30m") and sizes ("64KiB")
 * as ingestd.yml(5) spells them, and YAML double-quoted strings for what
 * ingestd -t prints and for values quoted in error messages.
 */
#ifndef INGESTD_UNITS_H
#define INGESTD_UNITS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define KiB  1024ULL
#define MiB  (1024 * KiB)
#define GiB  (1024 * MiB)
#define TiB  (1024 * GiB)
#define SEC  1000ULL            /* durations are in milliseconds */
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
#define DAY  (24 * HOUR)
/* A year keeps any duration in ms far from overflowing when turned into ns. */
#define DUR_MAX (365 * DAY)

/* Room for units_quote() of any string: 64 bytes, each escaped, and "...". */
#define QUOTE_BUF 300

/*
 * Decimal digits only, no sign, no leading zero (YAML 1.1 reads 010 as
 * octal). 0, or -1 with errno EINVAL (not a number) or ERANGE (over 2^64-1).
 */
int  units_parse_uint(const char *s, uint64_t *out);

/*
 * "90s", "10m", "1h30m", "250ms", "2d": each unit at most once, largest
 * first; a bare number is seconds. 0, or -1 with errno EINVAL or ERANGE.
 */
int  units_parse_duration(const char *s, uint64_t *ms);

/* "512", "64KiB", "1MiB", "10GiB", "1k", "1M", "1G", "1T" (powers of 1024). Same returns. */
int  units_parse_size(const char *s, uint64_t *bytes);

/* The canonical spelling units_parse_duration reads back: 0, 250ms, 1h30m. Returns buf. */
const char *units_fmt_duration(char *buf, size_t len, uint64_t ms);

/* The largest unit that divides b exactly: 1MiB, 1536KiB, 1000. Returns buf. */
const char *units_fmt_size(char *buf, size_t len, uint64_t b);

/*
 * s as a YAML double-quoted string that libyaml reads back as s. A byte that
 * is not UTF-8 can only be written as \xNN, which reads back as U+00NN.
 */
void units_put_quoted(FILE *fp, const char *s);

/*
 * s double-quoted as units_put_quoted writes it, for messages: into buf,
 * cut with "..." after 64 bytes of s or when buf is full (QUOTE_BUF holds
 * the whole cut). Returns buf.
 */
const char *units_quote(char *buf, size_t len, const char *s);

#endif
