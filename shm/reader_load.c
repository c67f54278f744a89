/*
 * shm/reader_load.c - validate a mapped segment as hostile input, and hand out
 * views of what passed.
 *
 * Validation happens in two steps. At open, the header's geometry (magic,
 * version, layout hash, region offsets and sizes) is checked against the
 * object's size; the geometry is then copied and never re-read, so a writer
 * that changes it later cannot move a region under us. At each load, the
 * counts are re-read and clamped against the copied capacities, and every
 * record not yet cached is validated field by field. Strings are kept as
 * (pointer, length) pairs inside the used blob, so no later read depends on a
 * terminator the writer could remove.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "psm/native.h"
#include "psm/reader.h"
#include "reader_int.h"

/* "segment NAME: <message>" into r->err; errno EPROTO; returns -1 for the caller to return. */
static int rfail(psm_reader_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int rfail(psm_reader_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(r->err, sizeof r->err, "segment %s: ", r->name);
    if (n < 0 || (size_t)n >= sizeof r->err)
        n = 0;
    vsnprintf(r->err + n, sizeof r->err - (size_t)n, fmt, ap);
    va_end(ap);
    errno = EPROTO;
    return -1;
}

#define PSM__XSTR(x) #x
#define PSM__STR(x)  PSM__XSTR(x)

/* 1 if [off, off+len) lies inside [0, size). */
static int in_range(uint64_t off, uint64_t len, uint64_t size)
{
    return off <= size && len <= size - off;
}

int psm__reader_header_check(psm_reader_t *r)
{
    const struct psm_header *h = (const struct psm_header *)r->base;
    if (r->map_size == 0)
        return rfail(r, "empty (0 bytes): the writer has not initialised it");
    if (r->map_size < sizeof(struct psm_header))
        return rfail(r, "truncated header: %zu bytes, expected at least %zu", r->map_size,
                     sizeof(struct psm_header));
    if (h->magic != PSM_MAGIC)
        return rfail(r,
                     "wrong magic 0x%016llx, expected 0x%016llx (\"PSMSEG01\"): not a "
                     "portsyncd metrics segment",
                     (unsigned long long)h->magic, (unsigned long long)PSM_MAGIC);
    if (h->major != PSM_VERSION_MAJOR)
        return rfail(r, "unsupported format version %u.%u, this reader supports %d.x", h->major,
                     h->minor, PSM_VERSION_MAJOR);
    if (h->header_size != sizeof(struct psm_header))
        return rfail(r, "header_size %u, expected %zu", h->header_size, sizeof(struct psm_header));
    if (h->layout_hash != psm_layout_hash())
        return rfail(r,
                     "layout hash 0x%016llx, expected 0x%016llx: written by an incompatible "
                     "build",
                     (unsigned long long)h->layout_hash, (unsigned long long)psm_layout_hash());
    if (h->segment_size > r->map_size)
        return rfail(r, "truncated: header says %llu bytes, the object has %zu",
                     (unsigned long long)h->segment_size, r->map_size);
    r->segment_size = h->segment_size;
    r->desc_cap = h->desc_capacity;
    r->series_cap = h->series_capacity;
    r->desc_off = h->desc_offset;
    r->series_off = h->series_offset;
    r->blob_off = h->blob_offset;
    r->blob_size = h->blob_size;
    r->cells_off = h->cells_offset;
    r->cells_size = h->cells_size;
    uint64_t S = r->segment_size;
    if (r->desc_cap > (1u << 20) || r->series_cap > (1u << 24))
        return rfail(r,
                     "capacities out of range: %u descriptors (max 1048576), %u series "
                     "(max 16777216)",
                     r->desc_cap, r->series_cap);
    if (r->desc_off < sizeof(struct psm_header) || r->desc_off % 8 ||
        !in_range(r->desc_off, (uint64_t)r->desc_cap * sizeof(struct psm_desc), S))
        return rfail(r,
                     "descriptor table (offset %llu, %u records) lies outside the %llu-byte "
                     "segment",
                     (unsigned long long)r->desc_off, r->desc_cap, (unsigned long long)S);
    if (r->series_off < sizeof(struct psm_header) || r->series_off % 8 ||
        !in_range(r->series_off, (uint64_t)r->series_cap * sizeof(struct psm_series), S))
        return rfail(r,
                     "series table (offset %llu, %u records) lies outside the %llu-byte "
                     "segment",
                     (unsigned long long)r->series_off, r->series_cap, (unsigned long long)S);
    if (r->blob_off < sizeof(struct psm_header) || r->blob_off % 8 || r->blob_size < 8 ||
        r->blob_size > UINT32_MAX || !in_range(r->blob_off, r->blob_size, S))
        return rfail(r,
                     "string blob (offset %llu, %llu bytes) lies outside the %llu-byte "
                     "segment",
                     (unsigned long long)r->blob_off, (unsigned long long)r->blob_size,
                     (unsigned long long)S);
    if (r->cells_off < sizeof(struct psm_header) || r->cells_off % PSM_LINE ||
        !in_range(r->cells_off, r->cells_size, S))
        return rfail(r,
                     "cell area (offset %llu, %llu bytes) lies outside the %llu-byte "
                     "segment or is not 64-byte aligned",
                     (unsigned long long)r->cells_off, (unsigned long long)r->cells_size,
                     (unsigned long long)S);
    /* Regions must not overlap: the writer lays them out in this order. */
    if (r->desc_off + (uint64_t)r->desc_cap * sizeof(struct psm_desc) > r->series_off ||
        r->series_off + (uint64_t)r->series_cap * sizeof(struct psm_series) > r->blob_off ||
        r->blob_off + r->blob_size > r->cells_off)
        return rfail(r,
                     "regions overlap or are out of order (descriptors %llu, series %llu, "
                     "blob %llu, cells %llu)",
                     (unsigned long long)r->desc_off, (unsigned long long)r->series_off,
                     (unsigned long long)r->blob_off, (unsigned long long)r->cells_off);
    r->hdr = h;
    r->generation = atomic_load_explicit(&h->generation, memory_order_acquire);
    r->descs = calloc(r->desc_cap ? r->desc_cap : 1, sizeof *r->descs);
    if (!r->descs)
        return rfail(r, "out of memory for %u descriptor views", r->desc_cap);
    return 0;
}

/* Check a blob string against the used blob; fill @v. */
static int blob_str(psm_reader_t *r, struct psm_str s, uint64_t blob_used, const char *what,
                    uint32_t rec, struct psm_strview *v)
{
    const char *blob = (const char *)r->base + r->blob_off;
    if (!in_range(s.off, (uint64_t)s.len + 1, blob_used))
        return rfail(r,
                     "%s %u: string at offset %u length %u points past the used blob (%llu "
                     "bytes)",
                     what, rec, s.off, s.len, (unsigned long long)blob_used);
    if (blob[s.off + s.len] != '\0')
        return rfail(r, "%s %u: string at offset %u length %u has no terminating NUL", what, rec,
                     s.off, s.len);
    v->p = blob + s.off;
    v->len = s.len;
    return 0;
}

/* Split a NUL-separated list of @n strings; fails unless exactly @n fit in @s. */
static int split_list(const struct psm_strview *s, unsigned n, struct psm_strview *out)
{
    const char *p = s->p, *end = s->p + s->len;
    if (n == 0)
        return s->len == 0 ? 0 : -1;
    for (unsigned i = 0; i < n; i++) {
        const char *z = i + 1 < n ? memchr(p, '\0', (size_t)(end - p)) : end;
        if (!z)
            return -1;
        out[i].p = p;
        out[i].len = (size_t)(z - p);
        p = z + 1;
    }
    return p == end + 1 ? 0 : -1;
}

/*
 * The native buckets of descriptor @i (copied into @c), into @v. Only segments
 * of minor >= 2 have them: in older ones bytes 48..63 are reserved, and mean
 * nothing whatever they hold.
 */
static int load_native(psm_reader_t *r, uint32_t i, const struct psm_desc *c, unsigned minor,
                       struct psm_desc_view *v)
{
    if (minor < 2 || c->native_count == 0)
        return 0;
    const char *what = NULL;
    const struct psm_native_map *m = psm_native_map_get(c->native_schema);
    /* The first bucket's lower bound must be a normal double, the last bucket finite. */
    if (c->type != PSM_HISTOGRAM)
        what = "native buckets on a non-histogram";
    else if (!m)
        what = "native schema outside -4..8";
    else if (c->native_count > PSM_MAX_NATIVE_BUCKETS)
        what = "more native buckets than " PSM__STR(PSM_MAX_NATIVE_BUCKETS);
    else if ((int64_t)c->native_first - 1 < psm_native_index(c->native_schema, DBL_MIN) ||
             (int64_t)c->native_first + c->native_count - 1 >
                 psm_native_index(c->native_schema, DBL_MAX))
        what = "native buckets outside the range of doubles";
    else if (!(c->native_zero_threshold > 0) || !isfinite(c->native_zero_threshold))
        what = "native zero threshold not finite and positive";
    if (what)
        return rfail(r,
                     "descriptor %u (%.*s): %s (schema %d, first index %d, %u buckets, zero "
                     "threshold %g)",
                     i, (int)v->name.len, v->name.p, what, c->native_schema, c->native_first,
                     c->native_count, c->native_zero_threshold);
    v->native_schema = c->native_schema;
    v->native_count = c->native_count;
    v->native_first = c->native_first;
    v->native_zero_threshold = c->native_zero_threshold;
    return 0;
}

static int load_desc(psm_reader_t *r, uint32_t i, uint64_t blob_used, unsigned minor)
{
    const struct psm_desc *d = (const struct psm_desc *)(r->base + r->desc_off) + i;
    struct psm_desc_view *v = &r->descs[i];
    if (atomic_load_explicit(&d->state, memory_order_acquire) != PSM_STATE_PUBLISHED)
        return rfail(r, "descriptor %u is below desc_count but not published", i);
    /* Copy every field once: the checks and the view use the same values. */
    struct psm_desc c;
    memcpy((char *)&c + sizeof c.state, (const char *)d + sizeof d->state,
           sizeof c - sizeof c.state);
    memset(v, 0, sizeof *v);
    v->index = i;
    if (c.type != PSM_COUNTER && c.type != PSM_GAUGE && c.type != PSM_HISTOGRAM)
        return rfail(r, "descriptor %u: type %u is not counter (1), gauge (2) or histogram (3)", i,
                     c.type);
    v->type = (enum psm_type)c.type;
    if (c.flags & ~PSM_F_KNOWN_FLAGS || ((c.flags & PSM_F_COUNTER_DOUBLE) && c.type != PSM_COUNTER))
        return rfail(r, "descriptor %u: unknown flags 0x%x", i, c.flags);
    v->flags = c.flags;
    if (blob_str(r, c.name, blob_used, "descriptor", i, &v->name) ||
        blob_str(r, c.help, blob_used, "descriptor", i, &v->help) ||
        blob_str(r, c.unit, blob_used, "descriptor", i, &v->unit))
        return -1;
    if (!psm__metric_name_ok(v->name.p, v->name.len)) {
        char shown[300];
        psm__printable(v->name.p, v->name.len, shown, sizeof shown);
        return rfail(r, "descriptor %u: metric name '%s' is not [a-zA-Z_:][a-zA-Z0-9_:]*", i,
                     shown);
    }
    if (v->help.len > PSM_MAX_HELP_LEN || !psm__utf8_ok(v->help.p, v->help.len))
        return rfail(r, "descriptor %u (%.*s): help is not UTF-8 of at most %d bytes", i,
                     (int)v->name.len, v->name.p, PSM_MAX_HELP_LEN);
    if (v->unit.len && !psm__label_name_ok(v->unit.p, v->unit.len))
        return rfail(r, "descriptor %u (%.*s): unit is not [a-zA-Z_][a-zA-Z0-9_]*", i,
                     (int)v->name.len, v->name.p);
    if (c.label_count > PSM_MAX_LABELS)
        return rfail(r, "descriptor %u (%.*s): %u labels, at most %d", i, (int)v->name.len,
                     v->name.p, c.label_count, PSM_MAX_LABELS);
    v->label_count = c.label_count;
    struct psm_strview all = {0};
    if (blob_str(r, c.label_names, blob_used, "descriptor", i, &all))
        return -1;
    if (split_list(&all, v->label_count, v->label_names) != 0)
        return rfail(r, "descriptor %u (%.*s): label names do not hold exactly %u names", i,
                     (int)v->name.len, v->name.p, v->label_count);
    for (unsigned k = 0; k < v->label_count; k++)
        if (!psm__label_name_ok(v->label_names[k].p, v->label_names[k].len) ||
            (c.type == PSM_HISTOGRAM && v->label_names[k].len == 2 &&
             memcmp(v->label_names[k].p, "le", 2) == 0))
            return rfail(r, "descriptor %u (%.*s): label name %u is invalid", i, (int)v->name.len,
                         v->name.p, k);
    if (c.type == PSM_HISTOGRAM) {
        if (c.bucket_count < 1 || c.bucket_count > PSM_MAX_BUCKETS)
            return rfail(r, "descriptor %u (%.*s): %u buckets, expected 1 to %d", i,
                         (int)v->name.len, v->name.p, c.bucket_count, PSM_MAX_BUCKETS);
        if (c.bounds_off % 8 ||
            !in_range(c.bounds_off, (uint64_t)c.bucket_count * sizeof(double), blob_used))
            return rfail(r,
                         "descriptor %u (%.*s): bucket bounds at offset %u point past the "
                         "used blob (%llu bytes)",
                         i, (int)v->name.len, v->name.p, c.bounds_off,
                         (unsigned long long)blob_used);
        memcpy(v->bounds, r->base + r->blob_off + c.bounds_off, c.bucket_count * sizeof(double));
        for (unsigned k = 0; k < c.bucket_count; k++)
            if (!isfinite(v->bounds[k]) || (k > 0 && !(v->bounds[k] > v->bounds[k - 1])))
                return rfail(r,
                             "descriptor %u (%.*s): bucket bound %u (%g) is not finite and "
                             "above the previous one",
                             i, (int)v->name.len, v->name.p, k, v->bounds[k]);
        v->bucket_count = c.bucket_count;
    } else if (c.bucket_count) {
        return rfail(r, "descriptor %u (%.*s): bucket_count %u on a non-histogram", i,
                     (int)v->name.len, v->name.p, c.bucket_count);
    }
    return load_native(r, i, &c, minor, v);
}

static int load_series(psm_reader_t *r, uint32_t i, uint64_t blob_used, uint64_t cells_used,
                       unsigned minor)
{
    const struct psm_series *s = (const struct psm_series *)(r->base + r->series_off) + i;
    if (atomic_load_explicit(&s->state, memory_order_acquire) != PSM_STATE_PUBLISHED)
        return rfail(r, "series %u is below series_count but not published", i);
    uint32_t di = s->desc_index;
    struct psm_str labels = s->labels;
    uint64_t coff = s->cells_off;
    uint32_t native_cells = minor >= 2 ? s->native_cells : 0;
    if (di >= r->ndesc)
        return rfail(r, "series %u: descriptor index %u is not below desc_count %u", i, di,
                     r->ndesc);
    const struct psm_desc_view *d = &r->descs[di];
    struct psm_strview all = {0}, vals[PSM_MAX_LABELS];
    if (blob_str(r, labels, blob_used, "series", i, &all))
        return -1;
    if (split_list(&all, d->label_count, vals) != 0)
        return rfail(r, "series %u (%.*s): label values do not hold exactly %u values", i,
                     (int)d->name.len, d->name.p, d->label_count);
    for (unsigned k = 0; k < d->label_count; k++)
        if (vals[k].len > PSM_MAX_VALUE_LEN || !psm__utf8_ok(vals[k].p, vals[k].len))
            return rfail(r, "series %u (%.*s): label value %u is not UTF-8 of at most %d bytes", i,
                         (int)d->name.len, d->name.p, k, PSM_MAX_VALUE_LEN);
    /* A series of a native histogram that an older writer made has no native cells. */
    if (native_cells && native_cells != 1u + d->native_count)
        return rfail(r,
                     "series %u (%.*s): %u native cells, expected 0 or %u (its descriptor's %u "
                     "native buckets and the zero bucket)",
                     i, (int)d->name.len, d->name.p, native_cells, 1u + d->native_count,
                     d->native_count);
    uint64_t need = psm_series_cell_bytes(d->type, d->bucket_count, native_cells);
    if (coff % PSM_LINE || !in_range(coff, need, cells_used))
        return rfail(r,
                     "series %u (%.*s): cells at offset %llu (%llu bytes) lie outside the "
                     "used cell area (%llu bytes) or are not 64-byte aligned",
                     i, (int)d->name.len, d->name.p, (unsigned long long)coff,
                     (unsigned long long)need, (unsigned long long)cells_used);
    if (i >= r->series_alloc) {
        uint32_t n = r->series_alloc ? r->series_alloc * 2 : 256;
        while (n <= i)
            n *= 2;
        if (n > r->series_cap)
            n = r->series_cap;
        struct series_rec *p = realloc(r->series, (size_t)n * sizeof *p);
        if (!p)
            return rfail(r, "out of memory for %u series", n);
        r->series = p;
        r->series_alloc = n;
    }
    r->series[i] = (struct series_rec){di, labels.off, labels.len, native_cells != 0, coff};
    return 0;
}

int psm_reader_load(psm_reader_t *r)
{
    const struct psm_header *h = r->hdr;
    /*
     * A writer never shrinks a segment; anyone who does (truncate(1) by the
     * owner) would make our next read of a vanished page a SIGBUS. Catch it here,
     * once per snapshot; a shrink during the snapshot itself needs the caller's
     * SIGBUS guard (portsyncd-exporter has one).
     */
    struct stat st;
    if (r->fd >= 0 && fstat(r->fd, &st) == 0 && (uint64_t)st.st_size < r->segment_size)
        return rfail(r,
                     "truncated to %lld bytes while mapped (segment size %llu): damaged or "
                     "replaced in place",
                     (long long)st.st_size, (unsigned long long)r->segment_size);
    /*
     * series_count first: a series is published after its descriptor, so the
     * acquire on series_count makes every descriptor its series refer to visible
     * to the desc_count load that follows. The other order lets a descriptor and
     * a series of it be published between the two loads: the series would point
     * at a descriptor beyond the count and a valid segment would be rejected.
     * blob_used and cells_used come last for the same reason: everything a
     * counted record points at was appended before the record was counted.
     */
    uint32_t ns = atomic_load_explicit(&h->series_count, memory_order_acquire);
    uint32_t nd = atomic_load_explicit(&h->desc_count, memory_order_acquire);
    uint64_t blob_used = atomic_load_explicit(&h->blob_used, memory_order_acquire);
    uint64_t cells_used = atomic_load_explicit(&h->cells_used, memory_order_acquire);
    /*
     * After the counts: a writer raises the minor before it registers anything
     * (psm__writer_stamp), so a record counted above was written under the minor
     * read here or a later one.
     */
    unsigned minor = __atomic_load_n(&h->minor, __ATOMIC_RELAXED);
    if (nd > r->desc_cap)
        return rfail(r, "descriptor count %u is larger than the descriptor table (%u)", nd,
                     r->desc_cap);
    if (ns > r->series_cap)
        return rfail(r, "series count %u is larger than the series table (%u)", ns, r->series_cap);
    if (blob_used > r->blob_size)
        return rfail(r, "blob_used %llu is larger than the blob (%llu bytes)",
                     (unsigned long long)blob_used, (unsigned long long)r->blob_size);
    if (cells_used > r->cells_size)
        return rfail(r, "cells_used %llu is larger than the cell area (%llu bytes)",
                     (unsigned long long)cells_used, (unsigned long long)r->cells_size);
    if (nd < r->ndesc || ns < r->nseries)
        return rfail(r, "counts went backwards (descriptors %u -> %u, series %u -> %u)", r->ndesc,
                     nd, r->nseries, ns);
    for (uint32_t i = r->ndesc; i < nd; i++) {
        if (load_desc(r, i, blob_used, minor) != 0)
            return -1;
        r->ndesc = i + 1;
    }
    for (uint32_t i = r->nseries; i < ns; i++) {
        if (load_series(r, i, blob_used, cells_used, minor) != 0)
            return -1;
        r->nseries = i + 1;
    }
    return 0;
}

const void *psm__reader_cells_base(const psm_reader_t *r)
{
    return r->base + r->cells_off;
}

uint32_t psm_reader_series_desc_index(const psm_reader_t *r, uint32_t i)
{
    return r->series[i].desc_index;
}

uint32_t psm_reader_desc_count(const psm_reader_t *r)
{
    return r->ndesc;
}

const struct psm_desc_view *psm_reader_desc(const psm_reader_t *r, uint32_t i)
{
    return &r->descs[i];
}

uint32_t psm_reader_series_count(const psm_reader_t *r)
{
    return r->nseries;
}

void psm_reader_series(const psm_reader_t *r, uint32_t i, struct psm_series_view *v)
{
    const struct series_rec *s = &r->series[i];
    const struct psm_desc_view *d = &r->descs[s->desc_index];
    v->index = i;
    v->desc = d;
    v->patience_us = r->patience_us;
    v->cells = (const _Atomic uint64_t *)(r->base + r->cells_off + s->cells_off);
    v->native = s->native ? v->cells + psm_native_cells_offset(d->bucket_count) : NULL;
    /* Re-split: bounded by the validated range even if the bytes changed since. */
    const char *p = (const char *)r->base + r->blob_off + s->labels_off;
    const char *end = p + s->labels_len;
    for (unsigned k = 0; k < d->label_count; k++) {
        const char *z = k + 1 < d->label_count ? memchr(p, '\0', (size_t)(end - p)) : end;
        if (!z)
            z = end;
        v->values[k].p = p;
        v->values[k].len = (size_t)(z - p);
        p = z < end ? z + 1 : end;
    }
}
