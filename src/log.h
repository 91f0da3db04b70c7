/*
 * Logging: one line per event on stderr, logfmt, so a person can grep it and
 * svlogd can timestamp it. log_warn appends strerror(errno); the x forms do not.
 * Each line: [time=RFC3339] level= role= pid= then the event's own keys.
 */
#ifndef INGESTD_LOG_H
#define INGESTD_LOG_H

#include <stdarg.h>

/* -1 quiet (warnings only), 0 info, 1 debug */
void log_init(const char *role, int verbosity);
void log_set_role(const char *role);

/*
 * The config's log_time (the order of its names: auto, on, off). auto, the
 * default until this is called, stamps lines only when stderr is a terminal:
 * svlogd -tt and journald add their own time.
 */
enum { LOG_TIME_AUTO, LOG_TIME_ON, LOG_TIME_OFF };
void log_set_time(int mode);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * Copy s into buf as a logfmt value: quoted when it has spaces, quotes, '=' or
 * control bytes, with those escaped. Always NUL-terminates; returns buf.
 */
char *log_quote(char *buf, size_t len, const char *s);

/*
 * LQ(s): s quoted for a log line, in a buffer that lives until the end of the
 * enclosing statement. Every value that comes from outside the daemon (names,
 * paths, keys, URLs, manifest values, error texts from libraries) is logged
 * through it: log_info("event=claim name=%s", LQ(name)). Values longer than
 * LOG_QUOTE_MAX are cut, still quoted.
 */
#define LOG_QUOTE_MAX 1024
#define LQ(s) log_quote((char[LOG_QUOTE_MAX]){ 0 }, LOG_QUOTE_MAX, (s))

#endif
