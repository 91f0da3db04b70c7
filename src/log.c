#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "log.h"

/* Per process: each role (supervisor, watcher, worker) sets its own tag. */
static const char *log_role = "ingestd";
static int log_verbosity;
static int log_time_mode = LOG_TIME_AUTO;
static int log_stamp = -1;	/* -1: not decided yet (isatty once, not per line) */

void
log_init(const char *role, int verbosity)
{
	log_role = role;
	log_verbosity = verbosity;
}

void
log_set_role(const char *role)
{
	log_role = role;
}

void
log_set_time(int mode)
{
	log_time_mode = mode;
	log_stamp = -1;
}

/* "time=2026-12-02T13:54:11.123Z ": RFC 3339, UTC, milliseconds. */
static int
stamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	if (log_stamp == -1)
		log_stamp = log_time_mode == LOG_TIME_ON ||
		    (log_time_mode == LOG_TIME_AUTO && isatty(STDERR_FILENO));
	if (!log_stamp || clock_gettime(CLOCK_REALTIME, &ts) == -1 ||
	    gmtime_r(&ts.tv_sec, &tm) == NULL)
		return 0;
	n = strftime(buf, len, "time=%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0)
		return 0;
	return (int)n + snprintf(buf + n, len - n, ".%03ldZ ", ts.tv_nsec / 1000000);
}

/*
 * A value that reached a line unquoted must still not start a line of its own:
 * control bytes become \xNN in place, cut at cap. The root cure is LQ() at the
 * call; this keeps one forgotten call from forging a whole log line.
 */
static size_t
defang(char *line, size_t n, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	char out[4096];
	size_t i, o = 0;

	for (i = 0; i < n; i++)
		if ((unsigned char)line[i] < ' ' || line[i] == 0x7f)
			break;
	if (i == n)
		return n;
	memcpy(out, line, i);
	o = i;
	for (; i < n && o + 4 < cap && o + 4 < sizeof(out); i++) {
		unsigned char ch = (unsigned char)line[i];

		if (ch < ' ' || ch == 0x7f) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		} else {
			out[o++] = (char)ch;
		}
	}
	memcpy(line, out, o);
	return o;
}

/* One write(2) per line, so lines from several processes never interleave. */
static void
log_emit(const char *level, int with_errno, int saved_errno, const char *fmt, va_list ap)
{
	char line[4096];
	int n, m;

	n = stamp(line, 64);
	n += snprintf(line + n, sizeof(line) - (size_t)n, "level=%s role=%s pid=%ld ", level,
	    log_role, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n >= sizeof(line) - 64)
		n = (int)sizeof(line) - 64;
	n = (int)defang(line, (size_t)n, sizeof(line) - 64);
	if (with_errno) {
		char q[256];
		n += snprintf(line + n, sizeof(line) - (size_t)n, " error=%s",
		    log_quote(q, sizeof(q), strerror(saved_errno)));
	}
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

#define LOG_BODY(level, min, with_errno) do {				\
	int saved = errno;						\
	va_list ap;							\
	if (log_verbosity < (min))					\
		return;							\
	va_start(ap, fmt);						\
	log_emit(level, with_errno, saved, fmt, ap);			\
	va_end(ap);							\
	errno = saved;							\
} while (0)

void log_debug(const char *fmt, ...) { LOG_BODY("debug", 1, 0); }
void log_info(const char *fmt, ...)  { LOG_BODY("info", 0, 0); }
void log_warn(const char *fmt, ...)  { LOG_BODY("warn", -1, 1); }
void log_warnx(const char *fmt, ...) { LOG_BODY("warn", -1, 0); }

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit("fatal", 1, saved, fmt, ap);
	va_end(ap);
	exit(EX_OSERR);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("fatal", 0, 0, fmt, ap);
	va_end(ap);
	exit(EX_SOFTWARE);
}

char *
log_quote(char *buf, size_t len, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, n;
	int quote = (*s == '\0');
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p && !quote; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f || *p >= 0x80)
			quote = 1;
	if (!quote) {
		snprintf(buf, len, "%s", s);
		return buf;
	}
	if (len < 3) {
		if (len)
			buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	for (p = (const unsigned char *)s; *p && o + 5 < len; p++) {
		if (*p == '"' || *p == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)*p;
		} else if (*p == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else if (*p >= 0x80 && (n = utf8_seqlen(p, strlen((const char *)p))) > 0) {
			/* Valid UTF-8 stays readable; anything else is escaped below. */
			if (o + n + 2 >= len)
				break;
			memcpy(buf + o, p, n);
			o += n;
			p += n - 1;
		} else if (*p < ' ' || *p >= 0x7f) {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[*p >> 4];
			buf[o++] = hex[*p & 15];
		} else
			buf[o++] = (char)*p;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}
