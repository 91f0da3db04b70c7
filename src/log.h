/*
 * Logging: one line per event on stderr, logfmt, so a person can grep it and
 * svlogd can timestamp it. log_warn appends strerror(errno); the x forms do not.
 */
#ifndef INGESTD_LOG_H
#define INGESTD_LOG_H

#include <stdarg.h>

/* -1 quiet (warnings only), 0 info, 1 debug */
void log_init(const char *role, int verbosity);
void log_set_role(const char *role);

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

#endif
