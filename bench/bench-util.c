/*
 * bench/bench-util.c - statistics, PASS/MISS accounting and segment cleanup
 * shared by the parts of psm-bench.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

const double bench_bounds[BENCH_NBOUNDS] = {.001, .005, .01, .05, .1, .5, 1};
const double bench_values[8] = {.0004, .003, .007, .03, .07, .3, .7, 2.5};

#define CLEANUP_MAX 8

/* Read by the signal handler: entries are complete before the count covers them. */
static char cleanup_names[CLEANUP_MAX][64];
static volatile sig_atomic_t cleanup_count;
static int misses;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_median(const double *v, unsigned n)
{
    double tmp[256];
    if (n == 0)
        return 0;
    if (n > 256)
        n = 256;
    memcpy(tmp, v, n * sizeof *v);
    qsort(tmp, n, sizeof *tmp, cmp_double);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

const char *bench_mark(int pass)
{
    if (!pass)
        misses++;
    return pass ? "PASS" : "MISS";
}

int bench_misses(void)
{
    return misses;
}

void bench_cleanup_add(const char *name)
{
    if (cleanup_count >= CLEANUP_MAX || strlen(name) >= sizeof cleanup_names[0])
        return;
    memcpy(cleanup_names[cleanup_count], name, strlen(name) + 1);
    cleanup_count++;
}

void bench_cleanup_all(void)
{
    for (int i = 0; i < cleanup_count; i++)
        shm_unlink(cleanup_names[i]);
    cleanup_count = 0;
}

/* unlink() is async-signal-safe; shm_unlink() is not promised to be. */
static void on_signal(int sig)
{
    char path[96];
    for (int i = 0; i < cleanup_count; i++) {
        size_t n = strlen(cleanup_names[i]);
        memcpy(path, "/dev/shm/", 9);
        memcpy(path + 9, cleanup_names[i], n + 1);
        unlink(path);
    }
    _exit(128 + sig);
}

void bench_cleanup_on_signals(void)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}
