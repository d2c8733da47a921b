/* SPDX-License-Identifier: MIT */
/*
 * Assertions for the rules the code relies on (lock held, object alive).
 * In debug builds (NDEBUG not defined) a broken rule prints what broke and
 * aborts, as lockdep would splat; release builds compile them away.
 */
#ifndef DEVMEM_LIB_DEBUG_H
#define DEVMEM_LIB_DEBUG_H

#include "compiler.h"

__attribute__((noreturn)) void devmem_bug(const char *file, int line, const char *what);

#ifndef NDEBUG
#define DEVMEM_DEBUG 1
#define DEVMEM_BUG_ON(cond)                                    \
	do {                                                   \
		if (unlikely(cond))                            \
			devmem_bug(__FILE__, __LINE__, #cond); \
	} while (0)
/* Abort with @msg unless @cond holds: for locking rules ("resv lock held"). */
#define devmem_assert(cond, msg)                             \
	do {                                                 \
		if (unlikely(!(cond)))                       \
			devmem_bug(__FILE__, __LINE__, msg); \
	} while (0)
#else
#define DEVMEM_DEBUG 0
#define DEVMEM_BUG_ON(cond) ((void)sizeof(cond))
#define devmem_assert(cond, msg) ((void)sizeof(cond))
#endif

#endif
