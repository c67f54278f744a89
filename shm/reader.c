/*
 * shm/reader.c - map a segment read-only and validate it as hostile input.
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
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "psm/reader.h"
#include "psm/render.h"

/* A validated series, compactly: views are built on access. */
struct series_rec {
    uint32_t desc_index;
    uint32_t labels_off, labels_len;
    uint64_t cells_off;
};

struct psm_reader {
    char name[PSM_MAX_PATH_LEN]; /* as given: an shm name or an absolute path */
    char path[PSM_MAX_PATH_LEN]; /* the file behind it (psm__seg_path) */
    uid_t owner;                 /* who must own that file */
    int fd;                      /* -1 for memory images */
    const uint8_t *base;
    size_t map_size; /* bytes mapped (== object size at open) */
    int mapped;      /* 1: munmap on close */
    dev_t dev;
    ino_t ino;
    /* Geometry copied from the header at open and validated once. */
    uint64_t segment_size, generation;
    uint32_t desc_cap, series_cap;
    uint64_t desc_off, series_off, blob_off, blob_size, cells_off, cells_size;
    const struct psm_header *hdr;
    /* Validated records. */
    struct psm_desc_view *descs; /* desc_cap entries */
    uint32_t ndesc;
    struct series_rec *series;
    uint32_t nseries, series_alloc;
    uint32_t patience_us;
    /* psm_render()'s scratch (psm__reader_scratch). */
    uint32_t *scratch;
    size_t scratch_cap;
    struct psm_buf labels;
    char err[2 * PSM_MAX_PATH_LEN + 512]; /* room for the name and the path */
};

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

/* Like rfail() without the "segment NAME: " prefix and without touching errno. */
static void rsay(psm_reader_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rsay(psm_reader_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
}

const char *psm_reader_error(const psm_reader_t *r)
{
    return r->err;
}

const char *psm_reader_name(const psm_reader_t *r)
{
    return r->name;
}

/* 1 if [off, off+len) lies inside [0, size). */
static int in_range(uint64_t off, uint64_t len, uint64_t size)
{
    return off <= size && len <= size - off;
}

static int validate_header(psm_reader_t *r)
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

static psm_reader_t *reader_new(const char *name)
{
    psm_reader_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    snprintf(r->name, sizeof r->name, "%s", name);
    r->fd = -1;
    return r;
}

int psm_reader_open_mem(psm_reader_t **out, const void *mem, size_t len, char *err, size_t errlen)
{
    psm_reader_t *r = reader_new("(memory)");
    if (!r)
        return psm__fail(err, errlen, "out of memory");
    r->base = mem;
    r->map_size = len;
    if (validate_header(r) != 0) {
        psm__fail(err, errlen, "%s", r->err);
        psm_reader_close(r);
        errno = EPROTO;
        return -1;
    }
    *out = r;
    return 0;
}

/*
 * How messages about the file name it: "segment NAME: /dev/shm/NAME" for an shm
 * name, "segment PATH" for a path (saying it twice helps nobody).
 */
static void reader_where(const psm_reader_t *r, char *out, size_t len)
{
    if (r->name[0] == '/')
        snprintf(out, len, "segment %s", r->name);
    else
        snprintf(out, len, "segment %s: %s", r->name, r->path);
}

/* Why open(2) of r->path failed with @e, in r->err; returns -1 with errno set. */
static int reader_open_failed(psm_reader_t *r, int e)
{
    char where[2 * PSM_MAX_PATH_LEN + 16];
    reader_where(r, where, sizeof where);
    struct stat st;
    if (e == ENOENT) {
        rsay(r, "segment %s: no such segment (%s): is the writer running?", r->name, r->path);
    } else if (e == EACCES) {
        rsay(r,
             "segment %s: permission denied opening %s: the reader needs to be in the "
             "segment's group",
             r->name, r->path);
    } else if ((e == ELOOP || e == ENXIO || e == EOPNOTSUPP) && lstat(r->path, &st) == 0 &&
               !S_ISREG(st.st_mode)) {
        /* A symbolic link (O_NOFOLLOW), a socket, a device without a driver: say which. */
        psm__stat_trusted(&st, r->owner, where, r->err, sizeof r->err);
        e = S_ISLNK(st.st_mode) ? ELOOP : EPERM;
    } else {
        rsay(r, "%s: cannot open it: %s", where, strerror(e));
    }
    errno = e;
    return -1;
}

/*
 * Open, check and map r->path. O_NONBLOCK: a FIFO planted at the path would
 * otherwise block open(2) until some writer opens it, for ever in an event loop.
 * O_NOFOLLOW: a link would let anyone point the reader at any file. fstat() on
 * the descriptor then judges the object actually opened, not whatever is at the
 * path a moment later.
 */
static int reader_map(psm_reader_t *r)
{
    char where[2 * PSM_MAX_PATH_LEN + 16];
    reader_where(r, where, sizeof where);
    /*
     * Refuse what is plainly not a segment before opening it: opening a device
     * can do things (a tape rewinds on close), and a FIFO need not be touched.
     * The fstat() below still decides, should the file change in between.
     */
    struct stat st;
    if (lstat(r->path, &st) == 0 && !S_ISREG(st.st_mode))
        return psm__stat_trusted(&st, r->owner, where, r->err, sizeof r->err);
    int fd = open(r->path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return reader_open_failed(r, errno);
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        rsay(r, "segment %s: fstat of %s failed: %s", r->name, r->path, strerror(e));
        errno = e;
        return -1;
    }
    if (psm__stat_trusted(&st, r->owner, where, r->err, sizeof r->err) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    r->fd = fd;
    r->dev = st.st_dev;
    r->ino = st.st_ino;
    r->map_size = (size_t)st.st_size;
    if (r->map_size > 0) {
        void *p = mmap(NULL, r->map_size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            rsay(r, "segment %s: mmap of %s failed: %s", r->name, r->path, strerror(e));
            errno = e;
            return -1;
        }
        r->base = p;
        r->mapped = 1;
    }
    return validate_header(r);
}

/* A reader for @name with the trust settings of @opts, not yet mapped. */
static psm_reader_t *reader_named(const char *name, const struct psm_reader_opts *opts)
{
    psm_reader_t *r = reader_new(name);
    if (!r)
        return NULL;
    /* The name was validated by the caller: only ENAMETOOLONG is left, and it fits. */
    psm__seg_path(name, r->path, sizeof r->path);
    r->owner = opts && opts->owner_set ? opts->owner : 0;
    return r;
}

int psm_reader_open(psm_reader_t **out, const char *name, char *err, size_t errlen)
{
    return psm_reader_open_opts(out, name, NULL, err, errlen);
}

int psm_reader_open_opts(psm_reader_t **out, const char *name, const struct psm_reader_opts *opts,
                         char *err, size_t errlen)
{
    if (!name)
        name = PSM_DEFAULT_NAME;
    if (!psm__seg_name_ok(name)) {
        errno = EINVAL;
        return psm__fail(err, errlen,
                         "segment name '%s' is invalid: expected an shm name (1-200 characters "
                         "of [A-Za-z0-9._-]) or an absolute path, shorter than %d bytes, whose "
                         "last part is one",
                         name, PSM_MAX_PATH_LEN);
    }
    psm_reader_t *r = reader_named(name, opts);
    if (!r)
        return psm__fail(err, errlen, "out of memory");
    if (reader_map(r) != 0) {
        int e = errno;
        psm__fail(err, errlen, "%s", r->err);
        psm_reader_close(r);
        errno = e;
        return -1;
    }
    r->patience_us = PSM_HIST_PATIENCE_US;
    *out = r;
    return 0;
}

void psm_reader_set_patience(psm_reader_t *r, uint32_t us)
{
    r->patience_us = us;
}

int psm__reader_scratch(psm_reader_t *r, uint32_t ndesc, uint32_t nseries, uint32_t **start,
                        uint32_t **fill, uint32_t **order, struct psm_buf **labels)
{
    size_t need = 2 * ((size_t)ndesc + 1) + (nseries ? nseries : 1);
    if (need > r->scratch_cap) {
        uint32_t *p = realloc(r->scratch, need * sizeof *p);
        if (!p)
            return -1;
        r->scratch = p;
        r->scratch_cap = need;
    }
    memset(r->scratch, 0, 2 * ((size_t)ndesc + 1) * sizeof *r->scratch);
    *start = r->scratch;
    *fill = r->scratch + ndesc + 1;
    *order = r->scratch + 2 * ((size_t)ndesc + 1);
    r->labels.len = 0;
    *labels = &r->labels;
    return 0;
}

void psm_reader_close(psm_reader_t *r)
{
    if (!r)
        return;
    free(r->scratch);
    psm_buf_free(&r->labels);
    if (r->mapped)
        munmap((void *)r->base, r->map_size);
    if (r->fd >= 0)
        close(r->fd);
    free(r->descs);
    free(r->series);
    free(r);
}

void psm_reader_info(const psm_reader_t *r, struct psm_info *in)
{
    const struct psm_header *h = r->hdr;
    memset(in, 0, sizeof *in);
    in->major = h->major;
    /* A writer of a newer minor re-attaching to an older segment raises it. */
    in->minor = __atomic_load_n(&h->minor, __ATOMIC_RELAXED);
    in->layout_hash = h->layout_hash;
    in->segment_size = r->segment_size;
    in->generation = atomic_load_explicit(&h->generation, memory_order_acquire);
    /* Acquire: the writer stores its pid last, so what follows belongs to that pid. */
    in->writer_pid = atomic_load_explicit(&h->writer_pid, memory_order_acquire);
    in->writer_start_ticks = atomic_load_explicit(&h->writer_start_ticks, memory_order_relaxed);
    in->writer_start_realtime =
        atomic_load_explicit(&h->writer_start_realtime, memory_order_relaxed);
    in->heartbeat_boottime = atomic_load_explicit(&h->heartbeat_boottime, memory_order_relaxed);
    in->desc_capacity = r->desc_cap;
    in->desc_count = atomic_load_explicit(&h->desc_count, memory_order_acquire);
    in->series_capacity = r->series_cap;
    in->series_count = atomic_load_explicit(&h->series_count, memory_order_acquire);
    in->blob_size = r->blob_size;
    in->blob_used = atomic_load_explicit(&h->blob_used, memory_order_relaxed);
    in->cells_size = r->cells_size;
    in->cells_used = atomic_load_explicit(&h->cells_used, memory_order_relaxed);
    in->overflow_desc = atomic_load_explicit(&h->overflow_desc, memory_order_relaxed);
    in->overflow_series = atomic_load_explicit(&h->overflow_series, memory_order_relaxed);
    in->overflow_blob = atomic_load_explicit(&h->overflow_blob, memory_order_relaxed);
    in->overflow_cells = atomic_load_explicit(&h->overflow_cells, memory_order_relaxed);
    in->dev = r->dev;
    in->ino = r->ino;
    /* Bytes 184..199 are reserved (zero) in minor 0: only minor 1 gives them meaning. */
    if (in->minor >= 1) {
        in->writer_pidns_dev = atomic_load_explicit(&h->writer_pidns_dev, memory_order_relaxed);
        in->writer_pidns_ino = atomic_load_explicit(&h->writer_pidns_ino, memory_order_relaxed);
    }
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

static int load_desc(psm_reader_t *r, uint32_t i, uint64_t blob_used)
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
    return 0;
}

static int load_series(psm_reader_t *r, uint32_t i, uint64_t blob_used, uint64_t cells_used)
{
    const struct psm_series *s = (const struct psm_series *)(r->base + r->series_off) + i;
    if (atomic_load_explicit(&s->state, memory_order_acquire) != PSM_STATE_PUBLISHED)
        return rfail(r, "series %u is below series_count but not published", i);
    uint32_t di = s->desc_index;
    struct psm_str labels = s->labels;
    uint64_t coff = s->cells_off;
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
    uint64_t need = psm_type_cell_bytes(d->type, d->bucket_count);
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
    r->series[i] = (struct series_rec){di, labels.off, labels.len, coff};
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
        if (load_desc(r, i, blob_used) != 0)
            return -1;
        r->ndesc = i + 1;
    }
    for (uint32_t i = r->nseries; i < ns; i++) {
        if (load_series(r, i, blob_used, cells_used) != 0)
            return -1;
        r->nseries = i + 1;
    }
    return 0;
}

const void *psm__reader_cells_base(const psm_reader_t *r)
{
    return r->base + r->cells_off;
}

uint32_t psm__reader_series_desc(const psm_reader_t *r, uint32_t i)
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

int psm_reader_refresh(psm_reader_t *r)
{
    if (r->fd < 0)
        return 0;
    struct stat st;
    /* lstat: a link planted at the name is a replacement to refuse, not to follow. */
    if (lstat(r->path, &st) != 0) {
        rsay(r, "segment %s: %s is gone (%s); keeping the old mapping", r->name, r->path,
             strerror(errno));
        return -1;
    }
    if (st.st_dev == r->dev && st.st_ino == r->ino)
        return 0;
    psm_reader_t *n = reader_named(r->name, &(struct psm_reader_opts){r->owner, 1});
    if (!n) {
        rsay(r, "segment %s: out of memory", r->name);
        return -1;
    }
    if (reader_map(n) != 0) {
        rsay(r, "%s; keeping the old mapping", n->err);
        psm_reader_close(n);
        return -1;
    }
    /* What the caller chose for this reader stays chosen. */
    n->patience_us = r->patience_us;
    /* Swap the new mapping into @r so callers keep their pointer. */
    psm_reader_t old = *r;
    *r = *n;
    *n = old;
    psm_reader_close(n);
    return 1;
}
