/*
 * handler.command placeholders: {name} {path} {dir} are replaced by the
 * packet's values, {{ and }} stand for literal braces; any other brace is an
 * error, found when the config is loaded rather than when a packet arrives.
 */
#ifndef INGESTD_TEMPLATE_H
#define INGESTD_TEMPLATE_H

#include <stddef.h>

/* 0 if tmpl is well formed, else -1 with the reason in err (no newline). */
int   template_check(const char *tmpl, char *err, size_t errlen);

/*
 * A malloc'd copy of tmpl with the placeholders replaced verbatim (no quoting:
 * the result is one argv entry, no shell reads it). NULL with errno EINVAL if
 * tmpl is malformed or uses a placeholder whose value is NULL, ENOMEM if out
 * of memory.
 */
char *template_expand(const char *tmpl, const char *name, const char *path,
    const char *dir);

#endif
