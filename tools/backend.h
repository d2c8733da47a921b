/* SPDX-License-Identifier: MIT */
/*
 * --backend of recv, send and demo: the control handle it asks for, and the
 * decision an auto handle took, with its reason, for the reports.
 */
#ifndef DEVMEM_TOOLS_BACKEND_H
#define DEVMEM_TOOLS_BACKEND_H

#include <stdbool.h>

#include "devmem/netdev.h"

struct backend_choice {
	const char *asked; /* "software", "kernel" or "auto" */
	enum devmem_backend chosen; /* SOFTWARE or KERNEL */
	char reason[256];
};

/* "software", "kernel", "auto" to the backend; false for anything else. */
bool backend_parse(const char *name, enum devmem_backend *out);

/*
 * Open the handle @c->asked names for @ifindex (auto: decided by the
 * kernel's answer to bind-rx there on @queues), and fill the decision.
 * 0 or a negative errno.
 */
int backend_ctl_open(struct backend_choice *c, int ifindex, const struct devmem_queue_id *queues,
		     unsigned int nr_queues, struct devmem_ctl **ctl);

/* Another handle on the backend already chosen (no new decision). */
int backend_ctl_reopen(const struct backend_choice *c, struct devmem_ctl **ctl);

#endif
