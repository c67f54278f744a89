/*
 * shm/reader_series.c - the values of a series view: counters and gauges, the
 * consistent histogram snapshot a read-only reader takes without writing to
 * the segment (FORMAT.md, "Histogram snapshots"), with or without its native
 * buckets, and quantiles estimated from those.
 */
#include <math.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "psm/native.h"
#include "psm/reader.h"

double psm_series_value(const struct psm_series_view *s)
{
    if (s->desc->type == PSM_COUNTER && !(s->desc->flags & PSM_F_COUNTER_DOUBLE))
        return (double)psm_series_u64(s);
    return psm_series_f64(s);
}

/*
 * The native cells' share of one read attempt: total of the zero bucket and the
 * buckets, and the populated ones into @nat (@over set when they do not fit).
 */
static uint64_t native_read(const struct psm_series_view *s, struct psm_native_snapshot *nat,
                            uint64_t *zero, uint32_t *n, int *over)
{
    const _Atomic uint64_t *nc = s->native;
    uint32_t k = s->desc->native_count, used = 0;
    int32_t first = s->desc->native_first;
    uint64_t total = *zero = atomic_load_explicit(&nc[0], memory_order_relaxed);
    *over = 0;
    for (uint32_t i = 0; i < k; i++) {
        uint64_t x = atomic_load_explicit(&nc[1 + i], memory_order_relaxed);
        if (!x)
            continue;
        total += x;
        if (used < nat->cap)
            nat->buckets[used++] = (struct psm_native_bucket){first + (int32_t)i, x};
        else
            *over = 1;
    }
    *n = used;
    return total;
}

int psm_reader_hist_read_native(const struct psm_series_view *s, struct psm_hist_snapshot *snap,
                                struct psm_native_snapshot *nat)
{
    const _Atomic uint64_t *c = s->cells;
    unsigned nb = s->desc->bucket_count + 1;
    int native = nat && s->native;
    uint64_t b[PSM_MAX_BUCKETS + 1];
    uint64_t count = 0, sum = 0, total = 0, ntotal = 0, zero = 0;
    uint32_t n = 0;
    int over = 0;
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
        ntotal = native ? native_read(s, nat, &zero, &n, &over) : count;
        /*
         * A writer increments both kinds of bucket before the count, so each adds
         * up to at least the count, and exactly the count when no observation is
         * in flight. Native buckets below the count were never incremented for
         * some observations: a writer without native buckets made them, which
         * waiting does not change (the classic part alone decides then).
         */
        if (total == count && ntotal <= count) {
            ok = 1;
            break;
        }
        /* Classic buckets below the count cannot happen in a live segment: corruption. */
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
    if (nat) {
        nat->schema = s->desc->native_schema;
        nat->zero_threshold = s->desc->native_zero_threshold;
        nat->stale = native && ok && ntotal < count;
        nat->valid = native && ok && ntotal == count && !over;
        nat->nbuckets = nat->valid ? n : 0;
        nat->zero_count = nat->valid ? zero : 0;
    }
    return snap->torn;
}

int psm_reader_hist_read(const struct psm_series_view *s, struct psm_hist_snapshot *snap)
{
    return psm_reader_hist_read_native(s, snap, NULL);
}

double psm_native_quantile(const struct psm_native_snapshot *n, double q)
{
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    uint64_t count = n->zero_count;
    for (uint32_t k = 0; k < n->nbuckets; k++)
        count += n->buckets[k].count;
    if (!n->valid || count == 0 || isnan(q))
        return NAN;
    double rank = q * (double)count, acc = 0, lower = 0, upper = 0, in = 0;
    int reached = 0;
    if (n->zero_count) {
        /* Positive buckets only: 0 is the zero bucket's lower end, unless it is alone. */
        lower = n->nbuckets ? 0 : -n->zero_threshold;
        upper = n->zero_threshold;
        in = (double)n->zero_count;
        acc = in;
        reached = acc >= rank;
    }
    for (uint32_t k = 0; k < n->nbuckets && !reached; k++) {
        lower = psm_native_bound(n->schema, n->buckets[k].index - 1);
        upper = psm_native_bound(n->schema, n->buckets[k].index);
        if (lower < n->zero_threshold)
            lower = n->zero_threshold;
        in = (double)n->buckets[k].count;
        acc += in;
        reached = acc >= rank;
    }
    if (!reached)
        return upper;
    rank -= acc - in;
    return lower + (upper - lower) * (rank / in);
}
