/*
 * shm/check.c - psm_reader_check(): every invariant of a segment, beyond what
 * psm_reader_load() needs to read it safely. Used by portsyncd-shmdump --check
 * and by the tests; not on the scrape path.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "psm/native.h"
#include "psm/reader.h"
#include "psu/hash.h"

static int cfail(psm_reader_t *r, char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int cfail(psm_reader_t *r, char *buf, size_t len, const char *fmt, ...)
{
    if (!buf || len == 0) {
        errno = EPROTO;
        return -1;
    }
    int n = snprintf(buf, len, "segment %s: ", psm_reader_name(r));
    if (n < 0 || (size_t)n >= len)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, len - (size_t)n, fmt, ap);
    va_end(ap);
    errno = EPROTO;
    return -1;
}

/* Open-addressing set of 64-bit keys with an index for collision checks. */
struct seen {
    uint64_t *key;
    uint32_t *idx;
    uint32_t mask;
};

static int seen_init(struct seen *s, uint32_t n)
{
    uint32_t cap = 16;
    while (cap < n * 2u)
        cap <<= 1;
    s->key = calloc(cap, sizeof *s->key);
    s->idx = calloc(cap, sizeof *s->idx);
    s->mask = cap - 1;
    return s->key && s->idx ? 0 : -1;
}

static void seen_free(struct seen *s)
{
    free(s->key);
    free(s->idx);
}

/* Returns the index stored under @k, or inserts @i and returns -1. */
static long seen_add(struct seen *s, uint64_t k, uint32_t i,
                     int (*same)(void *, uint32_t, uint32_t), void *ctx)
{
    k |= 1; /* 0 marks empty */
    for (uint32_t p = (uint32_t)k & s->mask;; p = (p + 1) & s->mask) {
        if (!s->key[p]) {
            s->key[p] = k;
            s->idx[p] = i;
            return -1;
        }
        if (s->key[p] == k && same(ctx, s->idx[p], i))
            return s->idx[p];
    }
}

static int same_desc(void *ctx, uint32_t a, uint32_t b)
{
    const struct psm_desc_view *x = psm_reader_desc(ctx, a), *y = psm_reader_desc(ctx, b);
    return x->name.len == y->name.len && memcmp(x->name.p, y->name.p, x->name.len) == 0;
}

static int same_series(void *ctx, uint32_t a, uint32_t b)
{
    struct psm_series_view x, y;
    psm_reader_series(ctx, a, &x);
    psm_reader_series(ctx, b, &y);
    if (x.desc != y.desc)
        return 0;
    for (unsigned i = 0; i < x.desc->label_count; i++)
        if (x.values[i].len != y.values[i].len ||
            memcmp(x.values[i].p, y.values[i].p, x.values[i].len) != 0)
            return 0;
    return 1;
}

/*
 * Histogram series @i: classic and native buckets both add up to the count in
 * one read, native buckets lie in the descriptor's range, and the zero
 * threshold is the first native bucket's lower bound. @nb has room for
 * PSM_MAX_NATIVE_BUCKETS buckets.
 */
static int check_histogram(psm_reader_t *r, uint32_t i, const struct psm_series_view *s,
                           struct psm_native_bucket *nb, char *err, size_t errlen)
{
    const struct psm_desc_view *d = s->desc;
    struct psm_hist_snapshot snap;
    struct psm_native_snapshot nat = {.buckets = nb, .cap = PSM_MAX_NATIVE_BUCKETS};
    if (psm_reader_hist_read_native(s, &snap, &nat) != 0)
        return cfail(r, err, errlen,
                     "series %u (%.*s): histogram buckets never added up to its count in %u "
                     "reads",
                     i, (int)d->name.len, d->name.p, snap.attempts);
    if (d->native_count &&
        d->native_zero_threshold != psm_native_bound(d->native_schema, d->native_first - 1))
        return cfail(r, err, errlen,
                     "descriptor %u (%.*s): native zero threshold %.17g is not the lower bound "
                     "%.17g of the first bucket (index %d, schema %d)",
                     d->index, (int)d->name.len, d->name.p, d->native_zero_threshold,
                     psm_native_bound(d->native_schema, d->native_first - 1), d->native_first,
                     d->native_schema);
    if (!s->native)
        return 0;
    if (nat.stale)
        return cfail(r, err, errlen,
                     "series %u (%.*s): native buckets hold fewer observations than its count "
                     "(%llu): a writer that keeps no native buckets (an older release) observed "
                     "into it",
                     i, (int)d->name.len, d->name.p, (unsigned long long)snap.count);
    uint64_t total = nat.zero_count;
    for (uint32_t k = 0; k < nat.nbuckets; k++) {
        int32_t idx = nat.buckets[k].index;
        if (idx < d->native_first || idx - d->native_first >= (int64_t)d->native_count ||
            (k > 0 && idx <= nat.buckets[k - 1].index))
            return cfail(r, err, errlen, "series %u (%.*s): native bucket index %d out of order", i,
                         (int)d->name.len, d->name.p, idx);
        total += nat.buckets[k].count;
    }
    if (!nat.valid || total != snap.count)
        return cfail(r, err, errlen,
                     "series %u (%.*s): native buckets and zero bucket hold %llu observations, "
                     "its count is %llu",
                     i, (int)d->name.len, d->name.p, (unsigned long long)total,
                     (unsigned long long)snap.count);
    return 0;
}

int psm_reader_check(psm_reader_t *r, char *err, size_t errlen)
{
    if (psm_reader_load(r) != 0)
        return psm__fail(err, errlen, "%s", psm_reader_error(r));
    struct psm_info in;
    psm_reader_info(r, &in);
    if (in.generation & 1)
        return cfail(r, err, errlen,
                     "generation %llu is odd: the writer is (re)initialising or died doing so",
                     (unsigned long long)in.generation);
    if (in.blob_used < 8)
        return cfail(r, err, errlen, "blob_used %llu is below the 8 reserved bytes",
                     (unsigned long long)in.blob_used);
    uint32_t nd = psm_reader_desc_count(r), ns = psm_reader_series_count(r);
    struct seen names = {0}, sets = {0};
    struct psm_native_bucket *nb = malloc(PSM_MAX_NATIVE_BUCKETS * sizeof *nb);
    if (!nb || seen_init(&names, nd) || seen_init(&sets, ns)) {
        seen_free(&names);
        seen_free(&sets);
        free(nb);
        return cfail(r, err, errlen, "out of memory");
    }
    int rc = 0;
    for (uint32_t i = 0; i < nd && rc == 0; i++) {
        const struct psm_desc_view *d = psm_reader_desc(r, i);
        long dup = seen_add(&names, psu_hash_fnv1a64(0, d->name.p, d->name.len), i, same_desc, r);
        if (dup >= 0)
            rc = cfail(r, err, errlen, "descriptors %ld and %u share the name %.*s", dup, i,
                       (int)d->name.len, d->name.p);
        int total = d->name.len > 6 && memcmp(d->name.p + d->name.len - 6, "_total", 6) == 0;
        if (rc == 0 && (d->type == PSM_COUNTER) != total)
            rc = cfail(r, err, errlen, "descriptor %u (%.*s): %s", i, (int)d->name.len, d->name.p,
                       total ? "only counters may end in _total"
                             : "a counter's name must end in _total");
        for (unsigned a = 0; rc == 0 && a < d->label_count; a++)
            for (unsigned b = 0; b < a; b++)
                if (d->label_names[a].len == d->label_names[b].len &&
                    memcmp(d->label_names[a].p, d->label_names[b].p, d->label_names[a].len) == 0) {
                    rc = cfail(r, err, errlen, "descriptor %u (%.*s): label name %.*s twice", i,
                               (int)d->name.len, d->name.p, (int)d->label_names[a].len,
                               d->label_names[a].p);
                    break;
                }
    }
    uint64_t prev_end = 0;
    for (uint32_t i = 0; i < ns && rc == 0; i++) {
        struct psm_series_view s;
        psm_reader_series(r, i, &s);
        const struct psm_desc_view *d = s.desc;
        uint64_t h = d->index;
        for (unsigned k = 0; k < d->label_count; k++)
            h = psu_hash_fnv1a64(psu_hash_fnv1a64(h, s.values[k].p, s.values[k].len), "", 1);
        long dup = seen_add(&sets, h, i, same_series, r);
        if (dup >= 0) {
            rc = cfail(r, err, errlen, "series %ld and %u of %.*s have the same labels", dup, i,
                       (int)d->name.len, d->name.p);
            break;
        }
        /* Cells are handed out in series order and never shared. */
        uint64_t off = (uint64_t)((const char *)s.cells - (const char *)psm__reader_cells_base(r));
        if (off < prev_end) {
            rc = cfail(r, err, errlen,
                       "series %u (%.*s): cells at offset %llu overlap the "
                       "previous series' (ending at %llu)",
                       i, (int)d->name.len, d->name.p, (unsigned long long)off,
                       (unsigned long long)prev_end);
            break;
        }
        unsigned native_cells = s.native ? 1u + d->native_count : 0;
        prev_end = off + psm_series_cell_bytes(d->type, d->bucket_count, native_cells);
        if (d->type == PSM_HISTOGRAM)
            rc = check_histogram(r, i, &s, nb, err, errlen);
    }
    seen_free(&names);
    seen_free(&sets);
    free(nb);
    return rc;
}
