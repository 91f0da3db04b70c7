/* Downloads' reservations of spool space, counted spool-wide (reserve.h). */
#include "reserve.h"

#include <errno.h>
#include <stddef.h>

#include "scoreboard.h"

int
reserve_take(struct scoreboard *sb, int slot, uint64_t bytes, uint64_t cap, uint64_t *others)
{
	uint64_t sum = 0, v;
	int i;

	*others = 0;
	if (sb == NULL || slot < 0 || slot >= SB_SLOTS)
		return 0;
	__atomic_store_n(&sb->slot[slot].reserved, bytes, __ATOMIC_SEQ_CST);
	for (i = 0; i < SB_SLOTS; i++) {
		if (i == slot)
			continue;
		v = __atomic_load_n(&sb->slot[i].reserved, __ATOMIC_SEQ_CST);
		sum = v > UINT64_MAX - sum ? UINT64_MAX : sum + v;
	}
	*others = sum;
	if (sum > cap || bytes > cap - sum) {
		reserve_drop(sb, slot);
		errno = ENOSPC;
		return -1;
	}
	return 0;
}

void
reserve_drop(struct scoreboard *sb, int slot)
{
	if (sb != NULL && slot >= 0 && slot < SB_SLOTS)
		__atomic_store_n(&sb->slot[slot].reserved, 0, __ATOMIC_SEQ_CST);
}
