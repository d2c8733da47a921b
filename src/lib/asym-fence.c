// SPDX-License-Identifier: MIT
/* The rare side of the asymmetric handshake: membarrier(), registered once. */
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/asym-fence.h"
#include "lib/debug.h"

#if defined(__SANITIZE_THREAD__)
#define ASYM_FENCE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ASYM_FENCE_TSAN 1
#endif
#endif

bool asym_fence_cheap;

static pthread_once_t asym_fence_once = PTHREAD_ONCE_INIT;

static void asym_fence_register(void)
{
#if defined(__NR_membarrier) && !defined(ASYM_FENCE_TSAN)
	asym_fence_cheap =
		syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#endif
}

void asym_fence_init(void)
{
	pthread_once(&asym_fence_once, asym_fence_register);
}

void asym_fence_heavy(void)
{
#ifdef __NR_membarrier
	long err;

	if (!asym_fence_cheap)
		return;
	err = syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
	/* a forked child may need its own registration */
	if (err && syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0)
		err = syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
	/* the frequent sides' missing fences depend on it */
	DEVMEM_BUG_ON(err);
	(void)err;
#endif
}
