/*
 * The keywords a failure's reason starts with (ingestd(8), JOURNAL): the
 * first word of the journal's reason=, which the metrics count failures by.
 * A reason that starts with none of them counts as "other".
 */
#ifndef INGESTD_REASONS_H
#define INGESTD_REASONS_H

#include <stddef.h>

#define REASON_N 18	/* the keywords and "other", the last */

/* The keyword of class i (0 <= i < REASON_N). */
const char *reason_keyword(size_t i);

/* The class of a reason (its text after "reason=", quoted or not). */
size_t reason_class(const char *reason);

#endif
