/* SPDX-License-Identifier: MIT */
/*
 * The intrusive doubly linked list node that the public structures embed.
 * Its helpers (list_add, list_del, list_for_each_entry, ...) are internal and
 * live in src/lib/list.h.
 */
#ifndef DEVMEM_LIST_H
#define DEVMEM_LIST_H

struct list_head {
	struct list_head *next, *prev;
};

#endif
