/*
 * shm/reader_series.c - the values of a series view: counters and gauges, and
 * the consistent histogram snapshot a read-only reader takes without writing
 * to the segment (FORMAT.md, "histogram snapshots").
 */
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "psm/reader.h"

double psm_series_value(const struct psm_series_view *s)
{
    if (s->desc->type == PSM_COUNTER && !(s->desc->flags & PSM_F_COUNTER_DOUBLE))
        return (double)psm_series_u64(s);
    return psm_series_f64(s);
}

int psm_reader_hist_read(const struct psm_series_view *s, struct psm_hist_snapshot *snap)
{
    const _Atomic uint64_t *c = s->cells;
    unsigned nb = s->desc->bucket_count + 1;
    uint64_t b[PSM_MAX_BUCKETS + 1];
    uint64_t count = 0, sum = 0, total = 0;
    unsigned attempt = 0;
    uint32_t slept_us = 0;
    int ok = 0;
    for (;;) {
        attempt++;
        count = atomic_load_explicit(&c[0], memory_order_acquire);
        sum = atomic_load_explicit(&c[1], memory_order_acquire);
        total = 0;
        for (unsigned i = 0; i < nb; i++) {
            b[i] = atomic_load_explicit(&c[2 + i], memory_order_relaxed);
            total += b[i];
        }
        if (total == count) {
            ok = 1;
            break;
        }
        /* A writer increments the bucket before the count: fewer is corruption. */
        if (total < count)
            break;
        if (attempt < PSM_HIST_SPIN_ATTEMPTS)
            continue;
        if (slept_us >= s->patience_us)
            break;
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
        slept_us += 50;
    }
    snap->attempts = attempt;
    snap->torn = !ok;
    uint64_t acc = 0;
    for (unsigned i = 0; i < nb; i++) {
        acc += b[i];
        snap->cumulative[i] = acc;
    }
    snap->count = acc;
    memcpy(&snap->sum, &sum, sizeof sum);
    return snap->torn;
}
