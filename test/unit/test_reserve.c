/* reserve.c: reservations counted across slots against the cap, cleared on drop. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "reserve.h"
#include "scoreboard.h"

static void
test_cap(void **state)
{
	struct scoreboard *sb = calloc(1, sizeof(*sb));
	uint64_t others = 1;

	(void)state;
	assert_non_null(sb);
	assert_int_equal(reserve_take(sb, 3, 2000, 3000, &others), 0);
	assert_int_equal(others, 0);
	assert_int_equal(sb->slot[3].reserved, 2000);
	/* Fits alone, not with slot 3's: refused, its own slot left clear. */
	errno = 0;
	assert_int_equal(reserve_take(sb, 7, 2000, 3000, &others), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(others, 2000);
	assert_int_equal(sb->slot[7].reserved, 0);
	assert_int_equal(reserve_take(sb, 7, 1000, 3000, &others), 0);
	/* A slot's own earlier reservation is replaced, not added to. */
	assert_int_equal(reserve_take(sb, 3, 2000, 3000, &others), 0);
	reserve_drop(sb, 3);
	assert_int_equal(sb->slot[3].reserved, 0);
	assert_int_equal(reserve_take(sb, 9, 2000, 3000, &others), 0);
	assert_int_equal(others, 1000);
	/* No scoreboard or no slot: nothing to count against. */
	assert_int_equal(reserve_take(NULL, 0, UINT64_MAX, 1, &others), 0);
	assert_int_equal(reserve_take(sb, -1, UINT64_MAX, 1, &others), 0);
	/* Sums saturate instead of wrapping. */
	sb->slot[1].reserved = UINT64_MAX;
	assert_int_equal(reserve_take(sb, 2, 1, UINT64_MAX, &others), -1);
	free(sb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
