/*
 * shm/writer.c - create, re-attach and extend a metrics segment.
 *
 * Everything here is off the hot path and serialised by one mutex: opening,
 * registering descriptors, resolving series. The hot path is inline in
 * psm/writer.h and touches only cells.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "psm/reader.h"
#include "psm/writer.h"

struct psm_writer {
    pthread_mutex_t lock;
    char name[256];
    int fd;
    uint8_t *base;
    size_t size;
    struct psm_header *hdr;
    struct psm_desc *descs;
    struct psm_series *series;
    char *blob;
    uint8_t *cells;
    /* Series index: open addressing, slot = series index + 1, 0 = empty. */
    uint32_t *slots;
    uint32_t slot_mask;
    psm_histogram_t **hists; /* per series, created on first resolve */
    uint32_t series_cap;
    /* Overflow sink: big enough for the largest histogram. */
    _Alignas(64) _Atomic uint64_t sink[PSM_MAX_BUCKETS + 3];
    psm_histogram_t sink_hist;
};

static uint32_t opt_u32(uint32_t v, uint32_t def)
{
    return v ? v : def;
}

static uint64_t round_line(uint64_t v)
{
    return (v + PSM_LINE - 1) / PSM_LINE * PSM_LINE;
}

static uint64_t key_hash(uint32_t desc, const char *labels, size_t len)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325) ^ desc;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)labels[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h ^ (h >> 29);
}

static void index_insert(psm_writer_t *w, uint32_t idx)
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

static void writer_bind(psm_writer_t *w)
{
    w->hdr = (struct psm_header *)w->base;
    w->descs = (struct psm_desc *)(w->base + w->hdr->desc_offset);
    w->series = (struct psm_series *)(w->base + w->hdr->series_offset);
    w->blob = (char *)(w->base + w->hdr->blob_offset);
    w->cells = w->base + w->hdr->cells_offset;
}

static int writer_alloc_index(psm_writer_t *w, char *err, size_t errlen)
{
    uint32_t cap = w->hdr->series_capacity, n = 1;
    while (n < cap * 2u)
        n <<= 1;
    w->slots = calloc(n, sizeof *w->slots);
    w->hists = calloc(cap, sizeof *w->hists);
    if (!w->slots || !w->hists)
        return psm__fail(err, errlen, "segment %s: out of memory for the series index", w->name);
    w->slot_mask = n - 1;
    w->series_cap = cap;
    return 0;
}

static void writer_stamp(psm_writer_t *w)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /*
     * Our PID namespace, so a reader can tell whether our pid means anything to it
     * (0 if /proc is missing: readers then judge by the heartbeat alone). The start
     * time only where /proc is our own: another namespace's /proc/<pid> is some
     * other process, and a wrong start time would make readers call us recycled.
     */
    uint64_t ns_dev, ns_ino;
    psm__pidns_self(&ns_dev, &ns_ino);
    atomic_store(&w->hdr->writer_pidns_dev, ns_dev);
    atomic_store(&w->hdr->writer_pidns_ino, ns_ino);
    /* A segment an older (minor 0) writer made gains the minor 1 fields now. */
    if (__atomic_load_n(&w->hdr->minor, __ATOMIC_RELAXED) < 1)
        __atomic_store_n(&w->hdr->minor, 1, __ATOMIC_RELAXED);
    atomic_store(&w->hdr->writer_start_ticks,
                 psm__proc_is_own() ? psm__proc_start_ticks(getpid()) : 0);
    atomic_store(&w->hdr->writer_start_realtime,
                 (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
    atomic_store(&w->hdr->heartbeat_boottime, psm__boottime_ns());
    /* Last, with release: a reader that sees our pid sees the fields above with it. */
    atomic_store_explicit(&w->hdr->writer_pid, (int32_t)getpid(), memory_order_release);
}

static int set_owner(int fd, const struct psm_writer_opts *o, const char *what, char *err,
                     size_t errlen)
{
    mode_t mode = o->mode ? o->mode : 0640;
    if (o->group && *o->group) {
        struct group *g = getgrnam(o->group);
        if (!g) {
            errno = ENOENT;
            return psm__fail(err, errlen, "segment %s: group '%s' does not exist", what, o->group);
        }
        if (fchown(fd, (uid_t)-1, g->gr_gid) != 0)
            return psm__fail(err, errlen, "segment %s: cannot give it to group '%s': %s", what,
                             o->group, strerror(errno));
    }
    if (fchmod(fd, mode) != 0)
        return psm__fail(err, errlen, "segment %s: cannot set mode %04o: %s", what, (unsigned)mode,
                         strerror(errno));
    return 0;
}

/* Build a fresh segment under a temporary name, then rename it over @name. */
static int writer_create(psm_writer_t *w, const struct psm_writer_opts *o, char *err, size_t errlen)
{
    uint32_t ndesc = opt_u32(o->desc_capacity, 256);
    uint32_t nser = opt_u32(o->series_capacity, 4096);
    uint64_t blob = o->blob_size ? o->blob_size : (uint64_t)nser * 96 + (uint64_t)ndesc * 512;
    uint64_t cells = o->cells_size ? o->cells_size : (uint64_t)nser * 128;
    if (ndesc > (1u << 20) || nser > (1u << 24) || blob > UINT32_MAX || blob < 64 ||
        cells > (UINT64_C(1) << 36)) {
        errno = EINVAL;
        return psm__fail(err, errlen,
                         "segment %s: capacities out of range (descriptors %u <= 1048576, "
                         "series %u <= 16777216, blob %llu in 64..4294967295 bytes, cells "
                         "%llu <= 64 GiB)",
                         w->name, ndesc, nser, (unsigned long long)blob, (unsigned long long)cells);
    }
    uint64_t off_desc = sizeof(struct psm_header);
    uint64_t off_series = round_line(off_desc + (uint64_t)ndesc * sizeof(struct psm_desc));
    uint64_t off_blob = round_line(off_series + (uint64_t)nser * sizeof(struct psm_series));
    uint64_t off_cells = round_line(off_blob + blob);
    uint64_t size = round_line(off_cells + round_line(cells));

    /* The temporary name may exceed the 200 bytes a segment name may have: no check. */
    char tmpname[300], tmppath[320], path[320];
    snprintf(tmpname, sizeof tmpname, "%s.tmp.%d", w->name, (int)getpid());
    snprintf(tmppath, sizeof tmppath, "/dev/shm/%s", tmpname);
    psm__seg_path(w->name, path, sizeof path);
    shm_unlink(tmpname);
    int fd = shm_open(tmpname, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return psm__fail(err, errlen, "segment %s: cannot create %s: %s", w->name, tmppath,
                         strerror(errno));
    /*
     * posix_fallocate reserves the pages: on a full tmpfs a plain ftruncate would
     * succeed and the first write to a cell would SIGBUS instead.
     */
    int fe = 0;
    if (set_owner(fd, o, w->name, err, errlen) != 0 || ftruncate(fd, (off_t)size) != 0 ||
        (fe = posix_fallocate(fd, 0, (off_t)size)) != 0) {
        int e = fe ? fe : errno;
        if (err && !*err)
            psm__fail(err, errlen, "segment %s: cannot reserve %llu bytes in /dev/shm: %s", w->name,
                      (unsigned long long)size, strerror(e));
        close(fd);
        shm_unlink(tmpname);
        errno = e;
        return -1;
    }
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        int e = errno;
        close(fd);
        shm_unlink(tmpname);
        errno = e;
        return psm__fail(err, errlen, "segment %s: mmap of %llu bytes failed: %s", w->name,
                         (unsigned long long)size, strerror(e));
    }
    struct psm_header *h = base;
    atomic_store(&h->generation, 1); /* odd: initialising */
    h->magic = PSM_MAGIC;
    h->major = PSM_VERSION_MAJOR;
    h->minor = PSM_VERSION_MINOR;
    h->header_size = sizeof *h;
    h->layout_hash = psm_layout_hash();
    h->segment_size = size;
    h->desc_capacity = ndesc;
    h->series_capacity = nser;
    h->desc_offset = off_desc;
    h->series_offset = off_series;
    h->blob_offset = off_blob;
    h->blob_size = blob;
    h->cells_offset = off_cells;
    h->cells_size = round_line(cells);
    /* Blob offset 0 holds a NUL so empty strings have a terminator; keep 8-alignment. */
    atomic_store(&h->blob_used, 8);
    atomic_store(&h->cells_used, 0);
    w->fd = fd;
    w->base = base;
    w->size = size;
    writer_bind(w);
    writer_stamp(w);
    atomic_store_explicit(&h->generation, 2, memory_order_release);
    if (rename(tmppath, path) != 0) {
        int e = errno;
        munmap(base, size);
        close(fd);
        shm_unlink(tmpname);
        w->base = NULL;
        errno = e;
        return psm__fail(err, errlen, "segment %s: cannot rename %s into place: %s", w->name,
                         tmppath, strerror(e));
    }
    return writer_alloc_index(w, err, errlen);
}

/*
 * Try to re-attach to the existing segment. Returns 1 attached, 0 not
 * compatible (@why says why), -1 hard error (e.g. another live writer).
 */
static int writer_attach(psm_writer_t *w, const struct psm_writer_opts *o, char *why, size_t whylen,
                         char *err, size_t errlen)
{
    int fd = shm_open(w->name, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) {
        if (errno == ENOENT) {
            snprintf(why, whylen, "no segment");
            return 0;
        }
        return psm__fail(err, errlen, "segment %s: cannot open it read-write: %s", w->name,
                         strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(struct psm_header)) {
        snprintf(why, whylen, "it is smaller than a header");
        close(fd);
        return 0;
    }
    void *base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        close(fd);
        return psm__fail(err, errlen, "segment %s: mmap failed: %s", w->name, strerror(errno));
    }
    /* Validate with the reader's checks: the writer trusts no more than a reader. */
    psm_reader_t *r = NULL;
    int ok = 0;
    if (psm_reader_open_mem(&r, base, (size_t)st.st_size, why, whylen) == 0 &&
        psm_reader_load(r) == 0) {
        struct psm_info in;
        struct psm_liveness lv;
        psm_reader_info(r, &in);
        psm_reader_liveness(r, 1e9, &lv);
        if (lv.alive && lv.pid != getpid()) {
            psm_reader_close(r);
            munmap(base, (size_t)st.st_size);
            close(fd);
            errno = EBUSY;
            return psm__fail(err, errlen, "segment %s is in use by another writer, pid %d", w->name,
                             (int)lv.pid);
        }
        if (in.desc_capacity < opt_u32(o->desc_capacity, 256) ||
            in.series_capacity < opt_u32(o->series_capacity, 4096)) {
            snprintf(why, whylen,
                     "its capacities (%u descriptors, %u series) are below those asked for",
                     in.desc_capacity, in.series_capacity);
        } else {
            ok = 1;
        }
    } else if (!r && why[0] == '\0') {
        snprintf(why, whylen, "it does not validate");
    } else if (r) {
        snprintf(why, whylen, "%s", psm_reader_error(r));
    }
    if (!ok) {
        psm_reader_close(r);
        munmap(base, (size_t)st.st_size);
        close(fd);
        return 0;
    }
    w->fd = fd;
    w->base = base;
    w->size = (size_t)st.st_size;
    writer_bind(w);
    uint64_t gen = atomic_load(&w->hdr->generation);
    atomic_store(&w->hdr->generation, gen | 1); /* odd while we take over */
    if (writer_alloc_index(w, err, errlen) != 0) {
        psm_reader_close(r);
        return -1;
    }
    uint32_t n = psm_reader_series_count(r);
    for (uint32_t i = 0; i < n; i++)
        index_insert(w, i);
    psm_reader_close(r);
    writer_stamp(w);
    atomic_store_explicit(&w->hdr->generation, (gen | 1) + 1, memory_order_release);
    return 1;
}

int psm_writer_open(psm_writer_t **out, const struct psm_writer_opts *opts,
                    enum psm_open_result *result, char *err, size_t errlen)
{
    static const struct psm_writer_opts defaults;
    const struct psm_writer_opts *o = opts ? opts : &defaults;
    const char *name = o->name ? o->name : PSM_DEFAULT_NAME;
    if (err && errlen)
        err[0] = '\0';
    if (!psm__shm_name_ok(name)) {
        errno = EINVAL;
        return psm__fail(err, errlen,
                         "segment name '%s' is invalid: expected 1-200 characters of "
                         "[A-Za-z0-9._-]",
                         name);
    }
    psm_writer_t *w = calloc(1, sizeof *w);
    if (!w)
        return psm__fail(err, errlen, "segment %s: out of memory", name);
    pthread_mutex_init(&w->lock, NULL);
    snprintf(w->name, sizeof w->name, "%s", name);
    w->fd = -1;
    w->sink_hist.count = &w->sink[0];
    w->sink_hist.sum = &w->sink[1];
    w->sink_hist.buckets = &w->sink[2];
    w->sink_hist.bucket_count = 0;

    char why[256] = "";
    int rc = o->replace ? 0 : writer_attach(w, o, why, sizeof why, err, errlen);
    if (rc < 0) {
        psm_writer_close(w);
        return -1;
    }
    enum psm_open_result res = PSM_OPEN_ATTACHED;
    if (rc == 0) {
        res = (o->replace || strcmp(why, "no segment") != 0) ? PSM_OPEN_REPLACED : PSM_OPEN_CREATED;
        if (writer_create(w, o, err, errlen) != 0) {
            int e = errno;
            psm_writer_close(w);
            errno = e;
            return -1;
        }
    }
    if (result)
        *result = res;
    *out = w;
    return 0;
}

void psm_writer_close(psm_writer_t *w)
{
    if (!w)
        return;
    if (w->base) {
        atomic_store(&w->hdr->writer_pid, 0);
        munmap(w->base, w->size);
    }
    if (w->fd >= 0)
        close(w->fd);
    for (uint32_t i = 0; w->hists && i < w->series_cap; i++)
        free(w->hists[i]);
    free(w->hists);
    free(w->slots);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

void psm_writer_heartbeat(psm_writer_t *w)
{
    atomic_store_explicit(&w->hdr->heartbeat_boottime, psm__boottime_ns(), memory_order_relaxed);
}

const char *psm_writer_name(const psm_writer_t *w)
{
    return w->name;
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
    errno = 0;
    return 0;
}

/* 1 if published descriptor @d has exactly the shape of @s. */
static int desc_matches(const psm_writer_t *w, const struct psm_desc *d,
                        const struct psm_metric_spec *s, const char *labels, size_t labels_len)
{
    if (d->type != s->type || d->label_count != s->label_count ||
        d->bucket_count != s->bucket_count || d->flags != s->flags ||
        d->label_names.len != labels_len ||
        memcmp(w->blob + d->label_names.off, labels, labels_len))
        return 0;
    if (s->type == PSM_HISTOGRAM &&
        memcmp(w->blob + d->bounds_off, s->bounds, s->bucket_count * sizeof(double)) != 0)
        return 0;
    return 1;
}

int psm_metric_register(psm_writer_t *w, const struct psm_metric_spec *s, char *err, size_t errlen)
{
    if (spec_check(s, err, errlen) != 0)
        return -1;
    char labels[PSM_MAX_LABELS * (PSM_MAX_NAME_LEN + 1)];
    long ll = join_strings(s->label_names, s->label_count, labels, sizeof labels);
    size_t nl = strlen(s->name);
    pthread_mutex_lock(&w->lock);
    uint32_t n = atomic_load_explicit(&w->hdr->desc_count, memory_order_relaxed);
    for (uint32_t i = 0; i < n; i++) {
        const struct psm_desc *d = &w->descs[i];
        if (d->name.len == nl && memcmp(w->blob + d->name.off, s->name, nl) == 0) {
            int same = desc_matches(w, d, s, labels, (size_t)ll);
            pthread_mutex_unlock(&w->lock);
            if (same)
                return (int)i;
            errno = EEXIST;
            return psm__fail(err, errlen,
                             "metric %s: segment %s holds it with another type, labels or "
                             "buckets (open it with replace to rebuild)",
                             s->name, w->name);
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
    uint64_t need = psm_type_cell_bytes(type, d->bucket_count);
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
    memset(s->reserved, 0, sizeof s->reserved);
    atomic_store_explicit(&s->state, PSM_STATE_PUBLISHED, memory_order_release);
    atomic_store_explicit(&w->hdr->series_count, n + 1, memory_order_release);
    index_insert(w, n);
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
            w->hists[idx] = n;
        }
    }
    if (idx >= 0 && w->hists[idx])
        h = w->hists[idx];
    pthread_mutex_unlock(&w->lock);
    return h;
}
