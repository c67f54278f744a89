/*
 * shm/writer.c - open a metrics segment: create it, or re-attach to one this
 * writer can trust, repairing what a dead writer left half-done; fall back to
 * private memory when neither works; close.
 *
 * /dev/shm is world-writable, so a name there proves nothing about who made the
 * file behind it. The writer re-attaches only to a regular file owned by its own
 * effective uid that neither the group nor others may write (writer_probe.c
 * judges what is at the name); anything else is replaced by a segment built
 * where nobody can see or pre-empt it (writer_file.c) and renamed into place.
 * Registration and series resolution are in writer_reg.c, the private-memory
 * fallback in writer_private.c; writer_int.h lists the files in layers.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "psm/reader.h"
#include "writer_int.h"

/* Build a fresh segment where nobody sees it, then rename it over the name. */
static int writer_create(psm_writer_t *w, const struct psm_writer_opts *o, char *err, size_t errlen)
{
    struct psm__geometry g;
    if (psm__writer_geometry(w, o, &g, err, errlen) != 0)
        return -1;
    char staged[PSM__PATH_MAX];
    int fd = psm__writer_file_new(w, g.size, staged, sizeof staged, err, errlen);
    if (fd < 0)
        return -1;
    void *base = mmap(NULL, g.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        int e = errno;
        close(fd);
        if (staged[0])
            unlink(staged);
        errno = e;
        return psm__fail(err, errlen, "segment %s: mmap of %llu bytes failed: %s", w->name,
                         (unsigned long long)g.size, strerror(e));
    }
    psm__writer_format(base, &g);
    w->fd = fd;
    w->base = base;
    w->size = g.size;
    psm__writer_bind(w);
    psm__writer_stamp(w);
    atomic_store_explicit(&w->hdr->generation, 2, memory_order_release);
    if (psm__writer_file_link(w, fd, staged, err, errlen) != 0) {
        int e = errno;
        munmap(base, g.size);
        close(fd);
        w->base = NULL;
        w->fd = -1;
        errno = e;
        return -1;
    }
    return psm__writer_alloc_index(w, err, errlen);
}

static uint64_t cells_total(_Atomic uint64_t *c, unsigned n)
{
    uint64_t t = 0;
    for (unsigned i = 0; i < n; i++)
        t += atomic_load_explicit(&c[i], memory_order_relaxed);
    return t;
}

/*
 * A writer that died mid-observe left buckets incremented without the count
 * (psm_histogram_observe: classic bucket, native bucket, sum, count), and every
 * reader would retry on that histogram for ever. Nobody else writes the segment
 * now: make each histogram's count the total of its classic buckets. If it died
 * between the classic and the native increment, the native buckets are short
 * of that observation, whose value nobody recorded: it is counted in the zero
 * bucket (and, should the native buckets be ahead, the classic +Inf bucket
 * takes the difference), so both parts add up to the count again. Returns how
 * many needed it; @names lists their metrics.
 */
static unsigned writer_repair(psm_writer_t *w, uint32_t nseries, char *names, size_t nameslen)
{
    unsigned repaired = 0;
    size_t used = 0;
    names[0] = '\0';
    for (uint32_t i = 0; i < nseries; i++) {
        const struct psm_series *s = &w->series[i];
        const struct psm_desc *d = &w->descs[s->desc_index];
        if (d->type != PSM_HISTOGRAM)
            continue;
        _Atomic uint64_t *c = (_Atomic uint64_t *)(w->cells + s->cells_off);
        _Atomic uint64_t *nat = s->native_cells && d->native_count
                                    ? &c[psm_native_cells_offset(d->bucket_count)]
                                    : NULL;
        uint64_t total = cells_total(&c[2], d->bucket_count + 1u);
        uint64_t ntotal = nat ? cells_total(nat, 1u + d->native_count) : total;
        uint64_t count = total > ntotal ? total : ntotal;
        if (atomic_load_explicit(&c[0], memory_order_relaxed) == count && total == ntotal)
            continue;
        if (count > total)
            atomic_fetch_add_explicit(&c[2 + d->bucket_count], count - total, memory_order_relaxed);
        if (nat && count > ntotal)
            atomic_fetch_add_explicit(&nat[0], count - ntotal, memory_order_relaxed);
        atomic_store_explicit(&c[0], count, memory_order_release);
        if (repaired++ < 4 && used < nameslen) {
            int n = snprintf(names + used, nameslen - used, "%s%.*s", used ? ", " : "",
                             (int)(d->name.len > 64 ? 64 : d->name.len), w->blob + d->name.off);
            used += n > 0 ? (size_t)n : 0;
        }
    }
    return repaired;
}

/*
 * Re-attach to the segment at the name if it is ours, valid, compatible and its
 * writer is gone. Returns 1 attached, 2 nothing there, 0 something to replace
 * (@why says what), -1 an error (@err).
 */
static int writer_attach(psm_writer_t *w, const struct psm_writer_opts *o, char *why, size_t whylen,
                         char *err, size_t errlen)
{
    struct psm__found f;
    int rc = psm__writer_name_inspect(w, o, &f, why, whylen, err, errlen);
    if (rc != 1)
        return rc;
    w->fd = f.fd;
    w->base = f.base;
    w->size = f.size;
    psm__writer_bind(w);
    if (psm__writer_alloc_index(w, err, errlen) != 0) {
        w->fd = -1;
        w->base = NULL;
        psm__writer_found_release(&f);
        return -1;
    }
    f.fd = -1; /* the writer owns the file and the mapping now */
    f.base = NULL;
    uint64_t gen = atomic_load(&w->hdr->generation);
    atomic_store(&w->hdr->generation, gen | 1); /* odd while we take over */
    uint32_t n = psm_reader_series_count(f.r);
    for (uint32_t i = 0; i < n; i++)
        psm__writer_index_insert(w, i);
    char names[320];
    unsigned repaired = writer_repair(w, n, names, sizeof names);
    psm__writer_found_release(&f);
    psm__writer_stamp(w);
    atomic_store_explicit(&w->hdr->generation, (gen | 1) + 1, memory_order_release);
    if (repaired)
        psm__fail(err, errlen,
                  "segment %s: re-attached; repaired %u histogram%s a dead writer left torn "
                  "mid-observation (%s%s): count set to the total of the buckets",
                  w->name, repaired, repaired == 1 ? "" : "s", names, repaired > 4 ? ", ..." : "");
    return 1;
}

int psm_writer_open(psm_writer_t **out, const struct psm_writer_opts *opts,
                    enum psm_open_result *result, char *err, size_t errlen)
{
    static const struct psm_writer_opts defaults;
    const struct psm_writer_opts *o = opts ? opts : &defaults;
    const char *name = o->name ? o->name : PSM_DEFAULT_NAME;
    mode_t mode = o->mode ? o->mode : 0640;
    if (err && errlen)
        err[0] = '\0';
    if (!psm__seg_name_ok(name)) {
        errno = EINVAL;
        return psm__fail(err, errlen,
                         "segment name '%s' is invalid: expected 1-200 characters of "
                         "[A-Za-z0-9._-], or an absolute path shorter than %d bytes ending in "
                         "such a name",
                         name, PSM_MAX_PATH_LEN);
    }
    if ((mode & ~(mode_t)0755) || (mode & 0600) != 0600) {
        errno = EINVAL;
        return psm__fail(err, errlen,
                         "segment %s: mode %04o is not accepted: expected the owner's read and "
                         "write bits and no write bit for group or others (the writer would "
                         "not trust its own segment on re-attach)",
                         name, (unsigned)mode);
    }
    if (o->group && strlen(o->group) >= sizeof((psm_writer_t *)0)->group) {
        errno = EINVAL;
        return psm__fail(err, errlen, "segment %s: group name of %zu bytes is too long", name,
                         strlen(o->group));
    }
    /*
     * The overflow sink is 64-byte aligned (a line of its own): calloc only
     * promises 16, and member access through a misaligned struct is undefined.
     */
    psm_writer_t *w = NULL;
    if (posix_memalign((void **)&w, _Alignof(psm_writer_t), sizeof *w) != 0)
        return psm__fail(err, errlen, "segment %s: out of memory", name);
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
    snprintf(w->name, sizeof w->name, "%s", name);
    psm__seg_path(name, w->path, sizeof w->path);
    snprintf(w->dir, sizeof w->dir, "%s", w->path);
    char *slash = strrchr(w->dir, '/');
    slash[slash == w->dir] = '\0'; /* "/x" lives in "/" */
    w->mode = mode;
    snprintf(w->group, sizeof w->group, "%s", o->group ? o->group : "");
    w->fd = -1;
    w->sink_hist.count = &w->sink[0];
    w->sink_hist.sum = &w->sink[1];
    w->sink_hist.buckets = &w->sink[2];
    w->sink_hist.bucket_count = 0;

    char why[512] = "a fresh segment was asked for";
    int rc = o->replace ? 0 : (why[0] = '\0', writer_attach(w, o, why, sizeof why, err, errlen));
    enum psm_open_result res = rc == 1 ? PSM_OPEN_ATTACHED : PSM_OPEN_CREATED;
    if (rc == 0 || rc == 2) {
        res = rc == 2 ? PSM_OPEN_CREATED : PSM_OPEN_REPLACED;
        rc = writer_create(w, o, err, errlen);
        if (rc == 0 && res == PSM_OPEN_REPLACED)
            psm__fail(err, errlen, "segment %s: replaced %s: %s", w->name, w->path, why);
    }
    if (rc < 0 && o->fallback && w->base == NULL) {
        int cause = errno;
        char what[1024];
        snprintf(what, sizeof what, "%s", err && errlen ? err : "cannot be used");
        struct psm__geometry g;
        if (psm__writer_geometry(w, o, &g, err, errlen) == 0 &&
            psm__writer_open_private(w, &g, err, errlen) == 0) {
            psm__fail(err, errlen,
                      "%s; its metrics are kept in private memory until the name "
                      "can be used",
                      what);
            res = PSM_OPEN_PRIVATE;
            rc = 0;
            errno = cause;
        }
    }
    if (rc < 0) {
        int e = errno;
        psm_writer_close(w);
        errno = e;
        return -1;
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
