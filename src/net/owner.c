// SPDX-License-Identifier: MIT
/*
 * The owner of the network state (net/owner.h): a fork handler marks the
 * child, and the net entry points refuse to run there.
 */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "lib/error.h"
#include "net/owner.h"

bool net_owner_forked;

static pid_t net_owner_pid; /* written once, under net_owner_once */
static pthread_once_t net_owner_once = PTHREAD_ONCE_INIT;

/*
 * Runs in the child right after fork(), single-threaded: a plain store. A
 * grandchild inherits the flag, and the pid of the process that owns the
 * state.
 */
static void net_owner_atfork_child(void)
{
	net_owner_forked = true;
}

static void net_owner_register(void)
{
	net_owner_pid = getpid();
	/*
	 * Registered only once the process has net state, so that a process
	 * that forks before using the net layer (a test runner, a server that
	 * forks its workers first) leaves its children free to use it.
	 */
	pthread_atfork(NULL, NULL, net_owner_atfork_child);
}

void net_owner_claim(void)
{
	pthread_once(&net_owner_once, net_owner_register);
}

int net_owner_refuse(const char *call)
{
	return devmem_err(-EIO,
			  "%s: the network state belongs to process %d; process %d is a child "
			  "forked from it and cannot use it (use the parent, or exec)",
			  call, (int)net_owner_pid, (int)getpid());
}
