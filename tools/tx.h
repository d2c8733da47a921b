/* SPDX-License-Identifier: MIT */
/*
 * The sending side: devmem send, and the plain sender of the demo.
 */
#ifndef DEVMEM_TOOL_TX_H
#define DEVMEM_TOOL_TX_H

#include <stdint.h>

/*
 * Send @bytes of the pattern of period @period (zeros when 0) on the
 * connected socket @fd with plain send(), @chunk bytes at a time. 0 or a
 * negative errno; *@sent says how far it got.
 */
int send_plain(int fd, uint32_t period, uint64_t bytes, uint64_t chunk, uint64_t *sent);

#endif
