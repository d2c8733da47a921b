// SPDX-License-Identifier: MIT
/*
 * TCP sockets under the shim. On a devmem NIC a flow steered to a bound
 * queue lands in the dma-buf from its first byte; here the software NIC
 * starts reading a socket when it is attached. A socket accepted or
 * connected while the process has a binding is attached at once, so that
 * no byte of it reaches the kernel socket's plain queue first; any other
 * is attached by its first recvmsg(MSG_SOCK_DEVMEM) (preload.c). Once
 * attached, every read of the fd is the library's.
 */
#include <errno.h>

#include "devmem/error.h"
#include "devmem/socket.h"
#include "net/devmem.h"
#include "preload.h"

void pl_tcp_new(int fd)
{
	int saved = errno;
	int ret;

	/* no binding: nothing to steer into, and nothing to pay */
	if (likely(net_devmem_nr_bindings() == 0))
		return;
	ret = devmem_sock_attach(fd);
	if (ret >= 0) {
		pl_fd_mark_tcp(fd);
		pl_trace("fd %d: TCP socket on software NIC rx queue %d", fd, ret);
	} else if (ret != -ENODEV && ret != -EBADF) {
		pl_debug("fd %d: not attached: %s", fd, devmem_last_error());
	}
	errno = saved;
}
