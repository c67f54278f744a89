/*
 * exporter/clock.c - the two clocks the exporter reads: monotonic for
 * deadlines and durations, real time for the timestamps it exports.
 */
#include <time.h>

#include "pex.h"

double pex_now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double pex_now_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
