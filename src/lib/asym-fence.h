/* SPDX-License-Identifier: MIT */
/*
 * An asymmetric Dekker handshake: a frequent side that pays no fence, and a
 * rare side that pays a membarrier() for both.
 *
 * The frequent side (a magazine's owner, a page_pool lane's producer) marks
 * itself busy with asym_fence_enter() and then loads the rare side's flag
 * (frozen, closed). The rare side (a thief, page_pool_destroy()) stores its
 * flag, calls asym_fence_heavy() and then loads the busy flags. Each load
 * must see the other side's store, or at least one of them must: the
 * barrier that membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) forces on every
 * running thread of the process lands between the frequent side's store and
 * its load, or that thread was not between them (a context switch is a full
 * barrier too).
 *
 * Where membarrier() is not available, and under ThreadSanitizer (which
 * does not know what membarrier() orders and would check a handshake that
 * is not the one that runs), the frequent side pays a locked exchange
 * instead and the rare side nothing more. Either way both flags' other
 * accesses are sequentially consistent.
 */
#ifndef DEVMEM_LIB_ASYM_FENCE_H
#define DEVMEM_LIB_ASYM_FENCE_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/compiler.h"

/* Set once by asym_fence_init(): the frequent side needs no fence. */
extern bool asym_fence_cheap;

/*
 * Register the process for expedited membarrier() (once; any thread, any
 * number of times). Must return before either side of a handshake runs.
 */
void asym_fence_init(void);

/* The frequent side: set *@busy, ordered before the loads that follow. */
static inline void asym_fence_enter(uint8_t *busy)
{
	if (likely(asym_fence_cheap)) {
		__atomic_store_n(busy, 1, __ATOMIC_RELAXED);
		/* only the compiler is held back: asym_fence_heavy() orders the CPU */
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
	} else {
		__atomic_exchange_n(busy, 1, __ATOMIC_SEQ_CST);
	}
}

/*
 * The frequent side is done: clear *@busy with a release store, so the rare
 * side that sees it clear sees what was done while it was set.
 */
static inline void asym_fence_exit(uint8_t *busy)
{
	__atomic_store_n(busy, 0, __ATOMIC_RELEASE);
}

/* The rare side, between its (sequentially consistent) store and its loads of busy flags. */
void asym_fence_heavy(void);

#endif
