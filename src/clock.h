/*
 * Clocks: monotonic milliseconds for deadlines and pauses, realtime
 * milliseconds for what is written down (ids, due times, the journal).
 */
#ifndef INGESTD_CLOCK_H
#define INGESTD_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in ms: for deadlines, never goes back. */
uint64_t clock_mono_ms(void);

/* CLOCK_REALTIME in ms since the epoch. */
int64_t  clock_real_ms(void);

#endif
