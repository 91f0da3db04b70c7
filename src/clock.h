/*
 * The daemon's one clock for deadlines and intervals: settle times, backoff,
 * timeouts. Monotonic, so a change of the wall clock moves no deadline.
 * Wall-clock times (journal lines, mtimes) are not this clock.
 */
#ifndef INGESTD_CLOCK_H
#define INGESTD_CLOCK_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC: only differences mean anything. */
uint64_t clock_mono_ms(void);

#endif
