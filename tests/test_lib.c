// SPDX-License-Identifier: MIT
/* The generic building blocks: lists, reference counts, the last-error message. */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "harness.h"
#include "lib/error.h"
#include "lib/list.h"
#include "lib/refcount.h"

struct item {
	int v;
	struct list_head node;
};

static int list_values(struct list_head *head, int *out, int max)
{
	struct item *it;
	int n = 0;

	list_for_each_entry(it, head, node) {
		if (n < max)
			out[n] = it->v;
		n++;
	}
	return n;
}

Test(lib, list_add_is_lifo_and_add_tail_is_fifo)
{
	struct item a = { .v = 1 }, b = { .v = 2 }, c = { .v = 3 };
	int got[3];
	LIST_HEAD(head);

	list_add(&a.node, &head);
	list_add(&b.node, &head);
	list_add_tail(&c.node, &head);
	cr_assert_eq(list_values(&head, got, 3), 3);
	cr_assert(got[0] == 2 && got[1] == 1 && got[2] == 3);
}

Test(lib, list_del_init_leaves_an_empty_node)
{
	struct item a = { .v = 1 }, b = { .v = 2 };
	int got[2];
	LIST_HEAD(head);

	list_add_tail(&a.node, &head);
	list_add_tail(&b.node, &head);
	list_del_init(&a.node);
	cr_assert(list_empty(&a.node));
	cr_assert_eq(list_values(&head, got, 2), 1);
	cr_assert_eq(got[0], 2);
	list_del_init(&b.node);
	cr_assert(list_empty(&head));
}

Test(lib, list_for_each_entry_safe_allows_removal)
{
	struct item items[5], *it, *tmp;
	int got[5];
	LIST_HEAD(head);

	for (int i = 0; i < 5; i++) {
		items[i].v = i;
		list_add_tail(&items[i].node, &head);
	}
	list_for_each_entry_safe(it, tmp, &head, node)
		if (it->v % 2)
			list_del_init(&it->node);
	cr_assert_eq(list_values(&head, got, 5), 3);
	cr_assert(got[0] == 0 && got[1] == 2 && got[2] == 4);
}

Test(lib, list_splice_init_moves_everything_to_the_front)
{
	struct item a = { .v = 1 }, b = { .v = 2 }, c = { .v = 3 };
	int got[3];
	LIST_HEAD(from);
	LIST_HEAD(to);

	list_add_tail(&a.node, &from);
	list_add_tail(&b.node, &from);
	list_add_tail(&c.node, &to);
	list_splice_init(&from, &to);
	cr_assert(list_empty(&from));
	cr_assert_eq(list_values(&to, got, 3), 3);
	cr_assert(got[0] == 1 && got[1] == 2 && got[2] == 3);
}

struct counted {
	struct kref ref;
	int released;
};

static void counted_release(struct kref *ref)
{
	container_of(ref, struct counted, ref)->released++;
}

Test(lib, kref_releases_once_on_the_last_put)
{
	struct counted c = { .released = 0 };

	kref_init(&c.ref);
	kref_get(&c.ref);
	cr_assert_eq(kref_read(&c.ref), 2);
	cr_assert_not(kref_put(&c.ref, counted_release));
	cr_assert_eq(c.released, 0);
	cr_assert(kref_put(&c.ref, counted_release));
	cr_assert_eq(c.released, 1);
}

Test(lib, kref_get_unless_zero_refuses_a_dead_object)
{
	struct counted c = { .released = 0 };

	kref_init(&c.ref);
	cr_assert(kref_get_unless_zero(&c.ref));
	kref_put(&c.ref, counted_release);
	kref_put(&c.ref, counted_release);
	cr_assert_not(kref_get_unless_zero(&c.ref));
	cr_assert_eq(kref_read(&c.ref), 0);
}

#ifndef NDEBUG
Test(lib, kref_get_from_zero_is_a_bug, .signal = SIGABRT)
{
	struct counted c = { .released = 0 };

	kref_init(&c.ref);
	kref_put(&c.ref, counted_release);
	kref_get(&c.ref);
}
#endif

Test(lib, devmem_err_records_the_message_and_returns_the_errno)
{
	cr_assert_eq(devmem_err(-ERANGE, "rx queue %u out of range (device has %u)", 9, 4),
		     -ERANGE);
	cr_assert_str_eq(devmem_last_error(), "rx queue 9 out of range (device has 4)");
	devmem_clear_error();
	cr_assert_str_eq(devmem_last_error(), "");
}

static void *other_thread_error(void *arg)
{
	char *seen = arg;

	strcpy(seen, devmem_last_error()); /* a new thread starts with no message */
	devmem_err(-EINVAL, "from the other thread");
	return NULL;
}

Test(lib, last_error_is_per_thread)
{
	char seen[256] = "unset";
	pthread_t t;

	devmem_err(-ENOMEM, "mine");
	pthread_create(&t, NULL, other_thread_error, seen);
	pthread_join(t, NULL);
	cr_assert_str_eq(seen, "");
	cr_assert_str_eq(devmem_last_error(), "mine");
}
