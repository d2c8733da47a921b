/* SPDX-License-Identifier: MIT */
#ifndef DEVMEM_ERROR_H
#define DEVMEM_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * devmem_last_error - why the last failing libdevmem call on this thread failed
 *
 * Every libdevmem function returns 0 (or a count, or a handle) on success and a
 * negative errno on failure. Where the errno alone is not enough, the function
 * also records a one-line reason, e.g. "rx queue 9 out of range (device has 4)".
 * Returns that line, or "" if the thread has none. The string belongs to the
 * thread and stays valid until its next failing call.
 *
 * The socket calls (devmem_recvmsg, devmem_setsockopt, devmem_sendmsg,
 * devmem_close, devmem_sock_attach, devmem_sock_stats) forget the line when
 * they start: like the system calls they stand for, they may fail with errno
 * alone (EBADF, ENOTSOCK), and the line read after one of them is then that
 * call's reason or "", never an older call's.
 */
const char *devmem_last_error(void);

#ifdef __cplusplus
}
#endif

#endif
