/*
 * bench/bench.h - what the parts of psm-bench share: the configuration, the
 * targets of the issue, timing and statistics helpers, and the registry of
 * segments to unlink on the way out.
 */
#ifndef PSM_BENCH_H
#define PSM_BENCH_H

#include <stdint.h>
#include <time.h>

/* Targets from the issue. */
#define TARGET_COUNTER_RATIO 1.5  /* counter inc vs bare atomic */
#define TARGET_OBSERVE_NS    15.0 /* histogram observe, one thread */
#define TARGET_RENDER_MS     25.0 /* render of 100k series */
#define TARGET_LINEAR        1.5  /* time per series may grow at most this much per 10x */

#define BENCH_NBOUNDS 7
/* Histogram bounds of every benchmark histogram: .001 .. 1 seconds. */
extern const double bench_bounds[BENCH_NBOUNDS];
/* Observations cycling through every bucket, +Inf included. */
extern const double bench_values[8];

struct bench_config {
    int quick, strict;
    int hot, render;  /* parts to run */
    uint64_t ops;     /* hot path: per thread per repeat */
    unsigned repeats; /* hot path */
    unsigned render_rounds;
};

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/**
 * bench_allocs - heap allocations made so far by the bench and libpsmetrics
 *
 * Counts malloc, calloc, realloc and posix_memalign calls (bench-alloc.c);
 * the difference across a call is what that call allocated.
 */
uint64_t bench_allocs(void);

/** bench_median - median of @n (<= 256) values; @v is left unsorted */
double bench_median(const double *v, unsigned n);

/** bench_mark - "PASS" or "MISS", counting misses for the summary */
const char *bench_mark(int pass);

/** bench_misses - targets marked MISS so far */
int bench_misses(void);

/**
 * bench_cleanup_add - unlink segment @name at exit and on SIGINT/SIGTERM
 * @name: shm name, shorter than 64 bytes
 */
void bench_cleanup_add(const char *name);

/** bench_cleanup_all - unlink every registered segment now */
void bench_cleanup_all(void);

/** bench_cleanup_on_signals - install the SIGINT/SIGTERM handler that unlinks */
void bench_cleanup_on_signals(void);

/**
 * bench_hot - measure the writer's hot path and print its table
 * @cfg: the configuration
 *
 * Returns 0, or -1 after printing why (including lost updates).
 */
int bench_hot(const struct bench_config *cfg);

/**
 * bench_render - measure psm_render at 1k, 10k and 100k series and print its table
 * @cfg: the configuration
 *
 * Returns 0, or -1 after printing why.
 */
int bench_render(const struct bench_config *cfg);

#endif
