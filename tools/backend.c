// SPDX-License-Identifier: MIT
/* --backend: see backend.h. */
#include <stdio.h>
#include <string.h>

#include "backend.h"

bool backend_parse(const char *name, enum devmem_backend *out)
{
	static const enum devmem_backend all[] = { DEVMEM_BACKEND_SOFTWARE, DEVMEM_BACKEND_KERNEL,
						   DEVMEM_BACKEND_AUTO };

	for (unsigned int i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (!strcmp(name, devmem_backend_name(all[i]))) {
			*out = all[i];
			return true;
		}
	}
	return false;
}

int backend_ctl_open(struct backend_choice *c, int ifindex, const struct devmem_queue_id *queues,
		     unsigned int nr_queues, struct devmem_ctl **ctl)
{
	DEVMEM_OPTS(devmem_ctl_opts, opts, .ifindex = ifindex, .queues = queues,
		    .nr_queues = nr_queues);
	const char *reason = NULL;
	int err, backend;

	if (!backend_parse(c->asked, &opts.backend))
		opts.backend = DEVMEM_BACKEND_SOFTWARE;
	err = devmem_ctl_open_opts(ctl, &opts);
	if (err)
		return err;
	backend = devmem_ctl_backend(*ctl, &reason);
	c->chosen = (enum devmem_backend)backend;
	/* an explicit choice is its own reason; auto's is the kernel's answer */
	if (opts.backend == DEVMEM_BACKEND_AUTO)
		snprintf(c->reason, sizeof(c->reason), "%s", reason);
	else
		snprintf(c->reason, sizeof(c->reason), "--backend %s", c->asked);
	return 0;
}

int backend_ctl_reopen(const struct backend_choice *c, struct devmem_ctl **ctl)
{
	DEVMEM_OPTS(devmem_ctl_opts, opts, .backend = c->chosen);

	return devmem_ctl_open_opts(ctl, &opts);
}
