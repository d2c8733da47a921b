// SPDX-License-Identifier: MIT
#include "harness.h"

DEVMEM_TEST_SUITE(netdev);
