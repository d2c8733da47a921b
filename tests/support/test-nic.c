// SPDX-License-Identifier: MIT
/* placeholder: being written */
#include "support/test-nic.h"
