// SPDX-License-Identifier: MIT
/*
 * TCP sockets under the shim. On a devmem NIC a flow steered to a bound
 * queue lands in the dma-buf from its first byte; here the software NIC
 * starts reading a socket when it is attached. A socket accepted or
 * connected while the process has an rx binding is attached at once, so
 * that no byte of it reaches the kernel socket's plain queue first; any
 * other is attached by its first recvmsg(MSG_SOCK_DEVMEM) (preload.c). Once
 * attached, every read of the fd is the library's. A tx binding steers
 * nothing: a process holding only tx bindings keeps plain sockets (and
 * their poll() readiness).
 */
#include <errno.h>

#include "devmem/error.h"
#include "devmem/socket.h"
#include "devmem/device.h"
#include "net/devmem.h"
#include "preload.h"

static int pl_is_rx_binding(struct net_devmem_dmabuf_binding *binding, void *data)
{
	(void)data;
	return binding->direction == DMA_FROM_DEVICE;
}

void pl_tcp_new(int fd)
{
	int saved = errno;
	int ret;

	/* no binding: nothing to steer into, and nothing to pay */
	if (likely(net_devmem_nr_bindings() == 0))
		return;
	if (!net_devmem_for_each_binding(pl_is_rx_binding, NULL))
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
