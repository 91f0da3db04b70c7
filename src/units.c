/*
 * The config's text: numbers, durations and sizes read and written in the
 * spelling ingestd.yml(5) documents, and strings quoted so that what
 * ingestd -t prints reads back as the same value.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "units.h"

/* Leading zeros are refused because YAML 1.1 would read them as octal. */
int
units_parse_uint(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0' || (s[0] == '0' && s[1] != '\0'))
		goto invalid;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			goto invalid;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) {
			errno = ERANGE;
			return -1;
		}
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
invalid:
	errno = EINVAL;
	return -1;
}

/* Digits at *sp (at least one, leading zeros fine: units say it is decimal). */
static int
parse_digits(const char **sp, uint64_t *out)
{
	const char *s = *sp;
	uint64_t v = 0;

	if (*s < '0' || *s > '9') {
		errno = EINVAL;
		return -1;
	}
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) {
			errno = ERANGE;
			return -1;
		}
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*sp = s;
	*out = v;
	return 0;
}

static int
mul_add(uint64_t *acc, uint64_t n, uint64_t unit)
{
	if (n > UINT64_MAX / unit || *acc > UINT64_MAX - n * unit) {
		errno = ERANGE;
		return -1;
	}
	*acc += n * unit;
	return 0;
}

static const struct {
	const char *name;
	uint64_t    ms;
} dur_units[] = {       /* largest first: a duration lists them in this order */
	{ "d", DAY }, { "h", HOUR }, { "m", MIN }, { "s", SEC }, { "ms", 1 },
};
#define NDUR (sizeof(dur_units) / sizeof(dur_units[0]))

int
units_parse_duration(const char *s, uint64_t *ms)
{
	uint64_t total = 0, n;
	size_t next = 0, u;

	if (s[0] != '\0' && strspn(s, "0123456789") == strlen(s)) {
		if (units_parse_uint(s, &n) == -1 || mul_add(&total, n, SEC) == -1)
			return -1;
		*ms = total;
		return 0;
	}
	do {
		if (parse_digits(&s, &n) == -1)
			return -1;
		/* "ms" before "m", and each unit once, largest first: 1h30m, not 30m1h. */
		for (u = next; u < NDUR; u++) {
			size_t len = strlen(dur_units[u].name);

			if (strncmp(s, dur_units[u].name, len) == 0 &&
			    (dur_units[u].name[len - 1] != 'm' || s[len] != 's'))
				break;
		}
		if (u == NDUR) {
			errno = EINVAL;
			return -1;
		}
		if (mul_add(&total, n, dur_units[u].ms) == -1)
			return -1;
		s += strlen(dur_units[u].name);
		next = u + 1;
	} while (*s != '\0');
	*ms = total;
	return 0;
}

static const struct {
	const char *name;
	uint64_t    bytes;
} size_units[] = {
	{ "", 1 }, { "k", KiB }, { "K", KiB }, { "KiB", KiB }, { "M", MiB }, { "MiB", MiB },
	{ "G", GiB }, { "GiB", GiB }, { "T", TiB }, { "TiB", TiB },
};

int
units_parse_size(const char *s, uint64_t *bytes)
{
	uint64_t n, total = 0;
	size_t u;

	if (parse_digits(&s, &n) == -1)
		return -1;
	for (u = 0; u < sizeof(size_units) / sizeof(size_units[0]); u++)
		if (strcmp(s, size_units[u].name) == 0) {
			if (mul_add(&total, n, size_units[u].bytes) == -1)
				return -1;
			*bytes = total;
			return 0;
		}
	errno = EINVAL;
	return -1;
}

const char *
units_fmt_duration(char *buf, size_t len, uint64_t ms)
{
	size_t u, off = 0;

	if (ms == 0)
		snprintf(buf, len, "0");
	for (u = 0; u < NDUR && ms > 0; u++)
		if (ms >= dur_units[u].ms) {
			int n = snprintf(buf + off, len - off, "%" PRIu64 "%s",
			    ms / dur_units[u].ms, dur_units[u].name);

			if (n < 0 || (size_t)n >= len - off)
				break;
			off += (size_t)n;
			ms %= dur_units[u].ms;
		}
	return buf;
}

const char *
units_fmt_size(char *buf, size_t len, uint64_t b)
{
	static const char *const name[] = { "TiB", "GiB", "MiB", "KiB" };
	static const uint64_t unit[] = { TiB, GiB, MiB, KiB };
	size_t u;

	for (u = 0; u < 4; u++)
		if (b != 0 && b % unit[u] == 0) {
			snprintf(buf, len, "%" PRIu64 "%s", b / unit[u], name[u]);
			return buf;
		}
	snprintf(buf, len, "%" PRIu64, b);
	return buf;
}

/* Length of the UTF-8 sequence at s and its code point, or 0 if it is not one. */
static size_t
utf8_decode(const unsigned char *s, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t n, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0) {
		n = 2; c &= 0x1f; min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3; c &= 0x0f; min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4; c &= 0x07; min = 0x10000;
	} else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)      /* also stops at the NUL */
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/*
 * The next character of s as YAML double-quoted text, in out. What libyaml's
 * reader refuses raw or folds as a line break is escaped. A byte that is not
 * UTF-8 (a path from -d) can only be written as \xNN, which reads back as
 * U+00NN: lossy, but the document stays valid. Returns bytes of s used.
 */
static size_t
escape_char(const char *s, char out[12])
{
	uint32_t cp;
	size_t n = utf8_decode((const unsigned char *)s, &cp);

	if (n == 0) {
		snprintf(out, 12, "\\x%02X", (unsigned char)s[0]);
		return 1;
	}
	switch (cp) {
	case '"':  snprintf(out, 12, "\\\""); return n;
	case '\\': snprintf(out, 12, "\\\\"); return n;
	case '\n': snprintf(out, 12, "\\n"); return n;
	case '\t': snprintf(out, 12, "\\t"); return n;
	case '\r': snprintf(out, 12, "\\r"); return n;
	default:   break;
	}
	if ((cp >= 0x20 && cp < 0x7f) || (cp >= 0xa0 && cp <= 0xd7ff && cp != 0x2028 &&
	    cp != 0x2029) || (cp >= 0xe000 && cp <= 0xfffd && cp != 0xfeff) ||
	    cp >= 0x10000) {
		memcpy(out, s, n);
		out[n] = '\0';
	} else if (cp <= 0xff)
		snprintf(out, 12, "\\x%02X", (unsigned)cp);
	else
		snprintf(out, 12, "\\u%04X", (unsigned)cp);
	return n;
}

void
units_put_quoted(FILE *fp, const char *s)
{
	char e[12];

	fputc('"', fp);
	while (*s != '\0') {
		s += escape_char(s, e);
		fputs(e, fp);
	}
	fputc('"', fp);
}

/* Cut after 64 bytes: values in messages can be anything, of any length. */
const char *
units_quote(char *buf, size_t len, const char *s)
{
	size_t i = 0, j = 0;
	char e[12];

	buf[j++] = '"';
	while (s[i] != '\0') {
		size_t n = escape_char(s + i, e), el = strlen(e);

		if (i >= 64 || j + el + 5 > len) {
			memcpy(buf + j, "...", 3);
			j += 3;
			break;
		}
		memcpy(buf + j, e, el);
		j += el;
		i += n;
	}
	buf[j++] = '"';
	buf[j] = '\0';
	return buf;
}
