/* SPDX-License-Identifier: MIT */
/*
 * Which process the network state belongs to.
 *
 * The net layer's objects (control handles and their bindings, software
 * NICs, devmem sockets) live in this process's memory and are driven by its
 * threads: each software NIC rx queue has a NAPI thread, and every call that
 * changes a queue or a socket's attachment waits for that thread. fork()
 * copies the memory but not the threads (nor the io_urings, which stay with
 * the parent), and may copy a lock in the held state. A child that called
 * into that state would wait forever, or read bytes that belong to the
 * parent's sockets.
 *
 * So, as a KVM VM belongs to the mm that created it (its ioctls fail with
 * EIO in any other), the network state belongs to the process that first
 * made some: in a child forked after that, every net call is refused with
 * EIO before it touches any lock, and the close calls release only what is
 * the child's own (its copies of the file descriptors, the handle's memory),
 * leaving the parent's bindings, queues and sockets as they are.
 */
#ifndef DEVMEM_NET_OWNER_H
#define DEVMEM_NET_OWNER_H

#include <stdbool.h>

#include "lib/compiler.h"

/* Set (in the child only) by the fork handler once the process has net state. */
extern bool net_owner_forked;

/*
 * This process is about to hold net state: from now on a forked child is
 * refused. Cheap after the first call; any thread.
 */
void net_owner_claim(void);

/* True in a child forked after net_owner_claim() (the refusal's test). */
static inline bool net_owner_in_child(void)
{
	return unlikely(__atomic_load_n(&net_owner_forked, __ATOMIC_RELAXED));
}

/* -EIO, with devmem_last_error() saying that @call was made in a forked child. */
int net_owner_refuse(const char *call);

#endif
