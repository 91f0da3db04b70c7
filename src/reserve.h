/*
 * Downloads' reservations of spool space, counted spool-wide. Each worker's
 * scoreboard slot holds the bytes its download has preallocated (or is about
 * to); a new reservation is refused when it and the others' together exceed
 * the cap. No lock: a slot publishes its own reservation before it sums the
 * others' (both sequentially consistent), so of two workers reserving at the
 * same time at least one sees the other; both may refuse, never both pass.
 */
#ifndef INGESTD_RESERVE_H
#define INGESTD_RESERVE_H

#include <stdint.h>

struct scoreboard;

/*
 * Reserve bytes for slot. 0 when they and the other slots' reservations fit
 * within cap; else -1 with errno ENOSPC, the slot's reservation cleared and
 * *others set to what the other slots hold. sb NULL or slot out of range: 0
 * (nothing to count against).
 */
int  reserve_take(struct scoreboard *sb, int slot, uint64_t bytes, uint64_t cap,
    uint64_t *others);

/* The download ended or gave its blocks back: slot's reservation is 0. */
void reserve_drop(struct scoreboard *sb, int slot);

#endif
