/*
 * String vectors: the config's lists (ignore:, handler.command, ...) and the
 * argv and environment built from them.
 */
#ifndef INGESTD_STRV_H
#define INGESTD_STRV_H

#include <stddef.h>

/* A NULL-terminated vector of heap strings; n excludes the terminator. */
struct strv {
	char  **v;
	size_t  n;
};

/*
 * Give an empty vector its terminator, so that v can be walked even with no
 * items. 0, or -1 with errno ENOMEM.
 */
int  strv_ready(struct strv *sv);

/* Append a copy of s, keeping v NULL-terminated. 0, or -1 with errno ENOMEM. */
int  strv_push(struct strv *sv, const char *s);

/* Free every string and the vector; sv is left empty. */
void strv_free(struct strv *sv);

#endif
