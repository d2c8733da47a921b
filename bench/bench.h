/* SPDX-License-Identifier: MIT */
/* Timing helpers shared by the benchmarks: medians of repeated runs, a table. */
#ifndef DEVMEM_BENCH_H
#define DEVMEM_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline int64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median of @n samples (sorts them). */
static inline double bench_median(double *v, int n)
{
	qsort(v, n, sizeof(*v), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Keep the compiler from dropping a computation whose result is unused. */
#define bench_keep(x) __asm__ volatile("" : : "r"(x) : "memory")

static inline void bench_header(const char *title)
{
	printf("\n%s\n", title);
	printf("%-52s %14s %10s  %s\n", "measurement", "value", "unit", "target");
	printf("%-52s %14s %10s  %s\n", "-----------", "-----", "----", "------");
}

static inline void bench_row(const char *what, double value, const char *unit, const char *target)
{
	printf("%-52s %14.2f %10s  %s\n", what, value, unit, target ? target : "");
}

#endif
