/*
 * bench/bench-alloc.c - count heap allocations, so psm-bench can show that a
 * warm render allocates nothing.
 *
 * psm-bench links with -Wl,--wrap for each allocator entry point: every call
 * that the bench or libpsmetrics (a static library, linked into the same
 * executable) makes lands here first. Calls inside libc itself are not seen;
 * libpsmetrics' own allocations, which are what a render could add per series,
 * all are.
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "bench.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
int __real_posix_memalign(void **p, size_t align, size_t n);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
int __wrap_posix_memalign(void **p, size_t align, size_t n);

/* Relaxed: the hot-path threads never allocate, so only the count matters. */
static _Atomic uint64_t allocs;

void *__wrap_malloc(size_t n)
{
    atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
    return __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n)
{
    atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
    return __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n)
{
    atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
    return __real_realloc(p, n);
}

int __wrap_posix_memalign(void **p, size_t align, size_t n)
{
    atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
    return __real_posix_memalign(p, align, n);
}

uint64_t bench_allocs(void)
{
    return atomic_load_explicit(&allocs, memory_order_relaxed);
}
