/* SPDX-License-Identifier: MIT */
/*
 * Shared set-up for the Criterion unit tests.
 *
 * Declare each suite with DEVMEM_TEST_SUITE(name): every test of the suite
 * then fails (its process aborts in teardown) if it leaves a file descriptor
 * open that it did not find, or, under AddressSanitizer, if it leaks memory.
 * Tests therefore check "nothing leaks" by construction, failure paths too.
 */
#ifndef DEVMEM_TESTS_HARNESS_H
#define DEVMEM_TESTS_HARNESS_H

#include <signal.h>
#include <criterion/criterion.h>

void devmem_test_init(void);
void devmem_test_fini(void);

#define DEVMEM_TEST_SUITE(name) TestSuite(name, .init = devmem_test_init, .fini = devmem_test_fini)

/* Open file descriptors of this process. */
int devmem_test_count_fds(void);

/* Live dma-bufs of this process, from the last line of dma_buf_describe(). */
int devmem_test_live_dma_bufs(void);

/* Skip the running test with a reason (SKIP is reported, never a silent pass). */
#define devmem_skip(...) cr_skip_test(__VA_ARGS__)

#endif
