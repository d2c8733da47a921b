/* SPDX-License-Identifier: MIT */
/*
 * The extack analogue: a failing function records a human-readable reason
 * for the calling thread, readable through devmem_last_error(). The library
 * never prints on its own.
 *
 *	if (qid >= dev->num_rx_queues)
 *		return devmem_err(-ERANGE, "rx queue %u out of range (device has %u)",
 *				  qid, dev->num_rx_queues);
 */
#ifndef DEVMEM_LIB_ERROR_H
#define DEVMEM_LIB_ERROR_H

#include "devmem/error.h"
#include "compiler.h"

/* Record the message for this thread and return @err (a negative errno). */
__printf(2, 3) int devmem_err(int err, const char *fmt, ...);

/* Forget the recorded message (for calls that succeed after a failure). */
void devmem_clear_error(void);

#endif
