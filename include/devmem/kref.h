/* SPDX-License-Identifier: MIT */
#ifndef DEVMEM_KREF_H
#define DEVMEM_KREF_H

/* A reference count embedded in a public object; see src/lib/refcount.h. */
struct kref {
	unsigned int refcount; /* atomic */
};

#endif
