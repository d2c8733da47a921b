// SPDX-License-Identifier: MIT
/* placeholder: being written */
#include "net/netdev.h"
