/*
 * shm/writer_reg.c - the writer's registry: descriptors registered, series
 * resolved into handles, and the private index that finds a series again.
 *
 * Everything here is off the hot path and serialised by the writer's mutex;
 * the hot path is inline in psm/writer.h and touches only cells.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "psu/hash.h"
#include "writer_int.h"

static uint64_t key_hash(uint32_t desc, const char *labels, size_t len)
{
    uint64_t h = psu_hash_fnv1a64(PSU_HASH_FNV1A64_SEED ^ desc, labels, len);
    /* Fold high bits in: the index masks the low ones, which FNV mixes least. */
    return h ^ (h >> 29);
}

void psm__writer_index_insert(psm_writer_t *w, uint32_t idx)
{
    const struct psm_series *s = &w->series[idx];
    uint64_t h = key_hash(s->desc_index, w->blob + s->labels.off, s->labels.len);
    uint32_t i = (uint32_t)h & w->slot_mask;
    while (w->slots[i])
        i = (i + 1) & w->slot_mask;
    w->slots[i] = idx + 1;
}

static long index_find(const psm_writer_t *w, uint32_t desc, const char *labels, size_t len)
{
    uint32_t i = (uint32_t)key_hash(desc, labels, len) & w->slot_mask;
    for (; w->slots[i]; i = (i + 1) & w->slot_mask) {
        const struct psm_series *s = &w->series[w->slots[i] - 1];
        if (s->desc_index == desc && s->labels.len == len &&
            memcmp(w->blob + s->labels.off, labels, len) == 0)
            return (long)w->slots[i] - 1;
    }
    return -1;
}

/* Append @len bytes plus a NUL to the blob (8-aligned when @align). -1: full. */
static long blob_put(psm_writer_t *w, const void *p, size_t len, int align)
{
    uint64_t used = atomic_load_explicit(&w->hdr->blob_used, memory_order_relaxed);
    if (align)
        used = (used + 7) & ~(uint64_t)7;
    if (used + len + 1 > w->hdr->blob_size) {
        atomic_fetch_add_explicit(&w->hdr->overflow_blob, 1, memory_order_relaxed);
        return -1;
    }
    memcpy(w->blob + used, p, len);
    w->blob[used + len] = '\0';
    atomic_store_explicit(&w->hdr->blob_used, used + len + 1, memory_order_release);
    return (long)used;
}

/* Join @n strings as NUL-separated into @buf; returns the length without the final NUL. */
static long join_strings(const char *const *v, unsigned n, char *buf, size_t cap)
{
    size_t len = 0;
    for (unsigned i = 0; i < n; i++) {
        size_t l = strlen(v[i]);
        if (len + l + 1 > cap)
            return -1;
        memcpy(buf + len, v[i], l + 1);
        len += l + 1;
    }
    return n ? (long)len - 1 : 0;
}

static int spec_check(const struct psm_metric_spec *s, char *err, size_t errlen)
{
    errno = EINVAL;
    if (!s || !s->name)
        return psm__fail(err, errlen, "metric spec without a name");
    size_t nl = strlen(s->name);
    if (!psm__metric_name_ok(s->name, nl))
        return psm__fail(err, errlen,
                         "metric name '%s' is invalid: expected [a-zA-Z_:][a-zA-Z0-9_:]*, "
                         "at most %d characters",
                         s->name, PSM_MAX_NAME_LEN);
    if (s->type != PSM_COUNTER && s->type != PSM_GAUGE && s->type != PSM_HISTOGRAM)
        return psm__fail(err, errlen, "metric %s: type %d is not counter, gauge or histogram",
                         s->name, (int)s->type);
    if (s->type == PSM_COUNTER && (nl < 6 || strcmp(s->name + nl - 6, "_total") != 0))
        return psm__fail(err, errlen, "metric %s: a counter's name must end in _total", s->name);
    if (s->type != PSM_COUNTER && nl >= 6 && strcmp(s->name + nl - 6, "_total") == 0)
        return psm__fail(err, errlen, "metric %s: only counters may end in _total", s->name);
    const char *help = s->help ? s->help : "";
    if (strlen(help) > PSM_MAX_HELP_LEN || !psm__utf8_ok(help, strlen(help)))
        return psm__fail(err, errlen, "metric %s: help must be UTF-8 of at most %d bytes", s->name,
                         PSM_MAX_HELP_LEN);
    if (s->unit && *s->unit) {
        size_t ul = strlen(s->unit);
        const char *base_end = s->name + nl - (s->type == PSM_COUNTER ? 6 : 0);
        size_t bl = (size_t)(base_end - s->name);
        if (!psm__label_name_ok(s->unit, ul) || bl < ul + 1 ||
            memcmp(base_end - ul, s->unit, ul) != 0 || base_end[-(long)ul - 1] != '_')
            return psm__fail(err, errlen,
                             "metric %s: unit '%s' must be [a-zA-Z0-9_]+ and the name must "
                             "end in _%s%s",
                             s->name, s->unit, s->unit, s->type == PSM_COUNTER ? "_total" : "");
    }
    if (s->flags & ~PSM_F_KNOWN_FLAGS ||
        ((s->flags & PSM_F_COUNTER_DOUBLE) && s->type != PSM_COUNTER))
        return psm__fail(err, errlen, "metric %s: flags 0x%x are not valid for its type", s->name,
                         s->flags);
    if (s->label_count > PSM_MAX_LABELS || (s->label_count && !s->label_names))
        return psm__fail(err, errlen, "metric %s: %u labels, at most %d allowed", s->name,
                         s->label_count, PSM_MAX_LABELS);
    for (unsigned i = 0; i < s->label_count; i++) {
        const char *ln = s->label_names[i];
        if (!ln || !psm__label_name_ok(ln, strlen(ln)) ||
            (s->type == PSM_HISTOGRAM && strcmp(ln, "le") == 0))
            return psm__fail(err, errlen,
                             "metric %s: label name '%s' is invalid: expected "
                             "[a-zA-Z_][a-zA-Z0-9_]*, not starting with __%s",
                             s->name, ln ? ln : "(null)",
                             s->type == PSM_HISTOGRAM ? ", not le" : "");
        for (unsigned j = 0; j < i; j++)
            if (strcmp(ln, s->label_names[j]) == 0)
                return psm__fail(err, errlen, "metric %s: label name '%s' appears twice", s->name,
                                 ln);
    }
    if (s->type == PSM_HISTOGRAM) {
        if (s->bucket_count < 1 || s->bucket_count > PSM_MAX_BUCKETS || !s->bounds)
            return psm__fail(err, errlen, "metric %s: %u buckets, expected 1 to %d", s->name,
                             s->bucket_count, PSM_MAX_BUCKETS);
        for (unsigned i = 0; i < s->bucket_count; i++) {
            double b = s->bounds[i];
            if (b != b || b - b != 0 || (i > 0 && !(b > s->bounds[i - 1])))
                return psm__fail(err, errlen,
                                 "metric %s: bucket bound %u (%g) is not finite and above the "
                                 "previous one",
                                 s->name, i, b);
        }
    } else if (s->bucket_count) {
        return psm__fail(err, errlen, "metric %s: only histograms have buckets", s->name);
    }
    if (s->native && s->type != PSM_HISTOGRAM)
        return psm__fail(err, errlen, "metric %s: only histograms have native buckets", s->name);
    errno = 0;
    return 0;
}

/* The native buckets @s asks for: @d's schema, first index, count and zero threshold. */
static int spec_native(const struct psm_metric_spec *s, struct psm_desc *d, char *err,
                       size_t errlen)
{
    d->native_schema = 0;
    d->native_count = 0;
    d->native_first = 0;
    d->native_zero_threshold = 0;
    if (!s->native)
        return 0;
    errno = EINVAL;
    if (s->native_schema < PSM_NATIVE_SCHEMA_MIN || s->native_schema > PSM_NATIVE_SCHEMA_MAX)
        return psm__fail(err, errlen,
                         "metric %s: native schema %d is outside %d..%d (Prometheus accepts "
                         "no other)",
                         s->name, s->native_schema, PSM_NATIVE_SCHEMA_MIN, PSM_NATIVE_SCHEMA_MAX);
    double lo = s->native_min ? s->native_min : PSM_NATIVE_MIN_DEFAULT;
    double hi = s->native_max ? s->native_max : PSM_NATIVE_MAX_DEFAULT;
    /* The zero threshold (the first bucket's lower bound) must be a normal double. */
    if (!(lo >= 0x1p-1000) || !(hi < 0x1p1000) || !(lo < hi))
        return psm__fail(err, errlen,
                         "metric %s: native range %g .. %g is not finite, positive and "
                         "increasing within 2^-1000 .. 2^1000",
                         s->name, lo, hi);
    int32_t first = psm_native_index(s->native_schema, lo);
    int32_t last = psm_native_index(s->native_schema, hi);
    if ((int64_t)last - first + 1 > PSM_MAX_NATIVE_BUCKETS)
        return psm__fail(err, errlen,
                         "metric %s: native range %g .. %g takes %lld buckets at schema %d, at "
                         "most %d fit",
                         s->name, lo, hi, (long long)last - first + 1, s->native_schema,
                         PSM_MAX_NATIVE_BUCKETS);
    d->native_schema = (int8_t)s->native_schema;
    d->native_count = (uint16_t)(last - first + 1);
    d->native_first = first;
    d->native_zero_threshold = psm_native_bound(s->native_schema, first - 1);
    errno = 0;
    return 0;
}

/*
 * 1 if published descriptor @d has exactly the shape of @s, whose native buckets
 * are @nat. Native buckets are part of the shape: a histogram registered
 * without them (by an older release) does not match one that has them.
 */
static int desc_matches(const psm_writer_t *w, const struct psm_desc *d,
                        const struct psm_metric_spec *s, const struct psm_desc *nat,
                        const char *labels, size_t labels_len)
{
    if (d->type != s->type || d->label_count != s->label_count ||
        d->bucket_count != s->bucket_count || d->flags != s->flags ||
        d->label_names.len != labels_len ||
        memcmp(w->blob + d->label_names.off, labels, labels_len))
        return 0;
    if (d->native_count != nat->native_count || d->native_schema != nat->native_schema ||
        d->native_first != nat->native_first)
        return 0;
    if (s->type == PSM_HISTOGRAM &&
        memcmp(w->blob + d->bounds_off, s->bounds, s->bucket_count * sizeof(double)) != 0)
        return 0;
    return 1;
}

int psm_metric_register(psm_writer_t *w, const struct psm_metric_spec *s, char *err, size_t errlen)
{
    struct psm_desc nat;
    if (spec_check(s, err, errlen) != 0 || spec_native(s, &nat, err, errlen) != 0)
        return -1;
    char labels[PSM_MAX_LABELS * (PSM_MAX_NAME_LEN + 1)];
    long ll = join_strings(s->label_names, s->label_count, labels, sizeof labels);
    size_t nl = strlen(s->name);
    pthread_mutex_lock(&w->lock);
    uint32_t n = atomic_load_explicit(&w->hdr->desc_count, memory_order_relaxed);
    for (uint32_t i = 0; i < n; i++) {
        const struct psm_desc *d = &w->descs[i];
        if (d->name.len == nl && memcmp(w->blob + d->name.off, s->name, nl) == 0) {
            int same = desc_matches(w, d, s, &nat, labels, (size_t)ll);
            pthread_mutex_unlock(&w->lock);
            if (same)
                return (int)i;
            errno = EEXIST;
            return psm__fail(err, errlen,
                             "metric %s: segment %s holds it with another type, labels or "
                             "buckets%s",
                             s->name, w->name,
                             d->native_count == nat.native_count ? ""
                             : d->native_count ? " (it has native buckets, this build's has none)"
                                               : " (without the native buckets this build's has)");
        }
    }
    if (n >= w->hdr->desc_capacity) {
        atomic_fetch_add_explicit(&w->hdr->overflow_desc, 1, memory_order_relaxed);
        pthread_mutex_unlock(&w->lock);
        errno = ENOSPC;
        return psm__fail(err, errlen, "metric %s: descriptor table of segment %s is full (%u)",
                         s->name, w->name, w->hdr->desc_capacity);
    }
    const char *help = s->help ? s->help : "";
    const char *unit = s->unit ? s->unit : "";
    long name_off = blob_put(w, s->name, nl, 0);
    long help_off = name_off < 0 ? -1 : blob_put(w, help, strlen(help), 0);
    long unit_off = help_off < 0 ? -1 : blob_put(w, unit, strlen(unit), 0);
    long lab_off = unit_off < 0 ? -1 : blob_put(w, labels, (size_t)ll, 0);
    long bnd_off = 0;
    if (lab_off >= 0 && s->type == PSM_HISTOGRAM)
        bnd_off = blob_put(w, s->bounds, s->bucket_count * sizeof(double), 1);
    if (lab_off < 0 || bnd_off < 0) {
        pthread_mutex_unlock(&w->lock);
        errno = ENOSPC;
        return psm__fail(err, errlen, "metric %s: string space of segment %s is full (%llu B)",
                         s->name, w->name, (unsigned long long)w->hdr->blob_size);
    }
    struct psm_desc *d = &w->descs[n];
    memset((char *)d + sizeof d->state, 0, sizeof *d - sizeof d->state);
    d->type = (uint8_t)s->type;
    d->label_count = (uint8_t)s->label_count;
    d->bucket_count = (uint16_t)s->bucket_count;
    d->flags = s->flags;
    d->bounds_off = (uint32_t)bnd_off;
    d->name = (struct psm_str){(uint32_t)name_off, (uint32_t)nl};
    d->help = (struct psm_str){(uint32_t)help_off, (uint32_t)strlen(help)};
    d->unit = (struct psm_str){(uint32_t)unit_off, (uint32_t)strlen(unit)};
    d->label_names = (struct psm_str){(uint32_t)lab_off, (uint32_t)ll};
    d->native_schema = nat.native_schema;
    d->native_count = nat.native_count;
    d->native_first = nat.native_first;
    d->native_zero_threshold = nat.native_zero_threshold;
    atomic_store_explicit(&d->state, PSM_STATE_PUBLISHED, memory_order_release);
    atomic_store_explicit(&w->hdr->desc_count, n + 1, memory_order_release);
    pthread_mutex_unlock(&w->lock);
    return (int)n;
}

/* Find or create the series; returns its index, or -1 (overflow counted, errno set). */
static long series_get(psm_writer_t *w, int metric, enum psm_type type, const char *const *values)
{
    uint32_t ndesc = atomic_load_explicit(&w->hdr->desc_count, memory_order_relaxed);
    if (metric < 0 || (uint32_t)metric >= ndesc || w->descs[metric].type != type) {
        errno = EINVAL;
        return -1;
    }
    const struct psm_desc *d = &w->descs[metric];
    char labels[PSM_MAX_LABELS * (PSM_MAX_VALUE_LEN + 1)];
    for (unsigned i = 0; i < d->label_count; i++) {
        size_t l = values && values[i] ? strlen(values[i]) : (size_t)-1;
        if (l > PSM_MAX_VALUE_LEN || !psm__utf8_ok(values[i], l)) {
            errno = EINVAL;
            return -1;
        }
    }
    long ll = join_strings(values, d->label_count, labels, sizeof labels);
    long idx = index_find(w, (uint32_t)metric, labels, (size_t)ll);
    if (idx >= 0)
        return idx;
    uint32_t n = atomic_load_explicit(&w->hdr->series_count, memory_order_relaxed);
    if (n >= w->hdr->series_capacity) {
        atomic_fetch_add_explicit(&w->hdr->overflow_series, 1, memory_order_relaxed);
        errno = ENOSPC;
        return -1;
    }
    uint32_t native_cells = d->native_count ? 1u + d->native_count : 0;
    uint64_t need = psm_series_cell_bytes(type, d->bucket_count, native_cells);
    uint64_t used = atomic_load_explicit(&w->hdr->cells_used, memory_order_relaxed);
    if (used + need > w->hdr->cells_size) {
        atomic_fetch_add_explicit(&w->hdr->overflow_cells, 1, memory_order_relaxed);
        errno = ENOSPC;
        return -1;
    }
    long lab_off = blob_put(w, labels, (size_t)ll, 0);
    if (lab_off < 0) {
        errno = ENOSPC;
        return -1;
    }
    /* Fresh cells are zero (ftruncate) and never reused, so no clearing is needed. */
    atomic_store_explicit(&w->hdr->cells_used, used + need, memory_order_release);
    struct psm_series *s = &w->series[n];
    s->desc_index = (uint32_t)metric;
    s->labels = (struct psm_str){(uint32_t)lab_off, (uint32_t)ll};
    s->cells_off = used;
    s->native_cells = native_cells;
    memset(s->reserved, 0, sizeof s->reserved);
    atomic_store_explicit(&s->state, PSM_STATE_PUBLISHED, memory_order_release);
    atomic_store_explicit(&w->hdr->series_count, n + 1, memory_order_release);
    psm__writer_index_insert(w, n);
    return n;
}

static _Atomic uint64_t *series_cells(psm_writer_t *w, long idx)
{
    return (_Atomic uint64_t *)(w->cells + w->series[idx].cells_off);
}

psm_counter_t *psm_counter_resolve(psm_writer_t *w, int metric, const char *const *values)
{
    pthread_mutex_lock(&w->lock);
    long idx = series_get(w, metric, PSM_COUNTER, values);
    psm_counter_t *c = (psm_counter_t *)(idx >= 0 ? series_cells(w, idx) : &w->sink[0]);
    pthread_mutex_unlock(&w->lock);
    return c;
}

psm_gauge_t *psm_gauge_resolve(psm_writer_t *w, int metric, const char *const *values)
{
    pthread_mutex_lock(&w->lock);
    long idx = series_get(w, metric, PSM_GAUGE, values);
    psm_gauge_t *g = (psm_gauge_t *)(idx >= 0 ? series_cells(w, idx) : &w->sink[0]);
    pthread_mutex_unlock(&w->lock);
    return g;
}

psm_histogram_t *psm_histogram_resolve(psm_writer_t *w, int metric, const char *const *values)
{
    pthread_mutex_lock(&w->lock);
    long idx = series_get(w, metric, PSM_HISTOGRAM, values);
    psm_histogram_t *h = &w->sink_hist;
    if (idx >= 0 && !w->hists[idx]) {
        const struct psm_desc *d = &w->descs[metric];
        psm_histogram_t *n = calloc(1, sizeof *n);
        if (n) {
            _Atomic uint64_t *c = series_cells(w, idx);
            n->count = &c[0];
            n->sum = &c[1];
            n->buckets = &c[2];
            n->bucket_count = d->bucket_count;
            memcpy(n->bounds, w->blob + d->bounds_off, d->bucket_count * sizeof(double));
            /*
             * The series' own record says whether it has native cells: one an older
             * writer made for this descriptor has none, and stays classic only.
             */
            if (w->series[idx].native_cells && d->native_count) {
                n->native = &c[psm_native_cells_offset(d->bucket_count)];
                n->native_zt = d->native_zero_threshold;
                n->native_count = d->native_count;
                n->native_base = d->native_first - 1;
                n->native_map = psm_native_map_get(d->native_schema);
            }
            w->hists[idx] = n;
        }
    }
    if (idx >= 0 && w->hists[idx])
        h = w->hists[idx];
    pthread_mutex_unlock(&w->lock);
    return h;
}
