/*
 * shm/writer_private.c - metrics never stop the writer: a segment that can be
 * neither re-attached nor built (another live writer holds the name, the
 * filesystem is full, permission) lives in anonymous shared memory instead, and
 * psm_writer_publish() puts it under its name once that works.
 *
 * Publishing must keep every handle valid while other threads update cells
 * through them without a lock. The private pages cannot be given a name (an
 * anonymous mapping has none, and a file cannot be linked across filesystems),
 * so the segment is copied into a new file and that file is mapped with
 * MAP_FIXED over the private mapping at the same address: a handle never points
 * at unmapped memory. An update that lands in the private pages after the copy
 * is not lost: a second view of the private pages, taken before the switch,
 * shows their final values, and the difference from the copy is added to the
 * file before it gets its name.
 *
 *   private pages P  --copy (snapshot S)-->  file F
 *   mmap(F, MAP_FIXED) over P's address: updates now go to F
 *   for each cell: F += P_final - S      (counters, histogram buckets/count/sum)
 *                  F  = P_final if F==S  (gauges: a later set in F wins)
 *   link F, rename it over the name: readers see it only now
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "writer_int.h"

int psm__writer_open_private(psm_writer_t *w, const struct psm__geometry *g, char *err,
                             size_t errlen)
{
    /* MAP_SHARED: mremap() can give publishing a second view of the same pages. */
    void *base = mmap(NULL, g->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return psm__fail(err, errlen, "segment %s: cannot map %llu bytes of private memory: %s",
                         w->name, (unsigned long long)g->size, strerror(errno));
    psm__writer_format(base, g);
    w->base = base;
    w->size = g->size;
    w->fd = -1;
    psm__writer_bind(w);
    if (psm__writer_alloc_index(w, err, errlen) != 0) {
        munmap(base, g->size);
        w->base = NULL;
        return -1;
    }
    psm__writer_stamp(w);
    atomic_store_explicit(&w->hdr->generation, 2, memory_order_release);
    atomic_store(&w->is_private, 1);
    return 0;
}

int psm_writer_is_private(const psm_writer_t *w)
{
    return atomic_load(&w->is_private);
}

/* Copy @n bytes of live cells word by word: other threads store into them meanwhile. */
static void copy_words(void *dst, const void *src, size_t n)
{
    uint64_t *d = dst;
    const _Atomic uint64_t *s = src;
    for (size_t i = 0; i < n / 8; i++)
        d[i] = atomic_load_explicit(&s[i], memory_order_relaxed);
}

static void add_u64(_Atomic uint64_t *cell, uint64_t delta, memory_order mo)
{
    if (delta)
        atomic_fetch_add_explicit(cell, delta, mo);
}

static void add_f64(_Atomic uint64_t *cell, double delta)
{
    uint64_t old = atomic_load_explicit(cell, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(cell, &old,
                                                  psm_f64_bits(psm_bits_f64(old) + delta),
                                                  memory_order_release, memory_order_relaxed))
        ;
}

/*
 * Carry what reached the private pages after the snapshot into the file mapped
 * in their place: @fin are the private cells' final values, @snap the copy the
 * file started from, w->cells the file's cells. Histograms in the order
 * psm_histogram_observe() uses, so a reader never sees a count ahead of buckets.
 */
static void merge_cells(psm_writer_t *w, const uint8_t *fin, const uint8_t *snap)
{
    uint32_t n = atomic_load_explicit(&w->hdr->series_count, memory_order_relaxed);
    for (uint32_t i = 0; i < n; i++) {
        const struct psm_series *s = &w->series[i];
        const struct psm_desc *d = &w->descs[s->desc_index];
        _Atomic uint64_t *f = (_Atomic uint64_t *)(w->cells + s->cells_off);
        const uint64_t *p = (const uint64_t *)(fin + s->cells_off);
        const uint64_t *o = (const uint64_t *)(snap + s->cells_off);
        if (d->type == PSM_HISTOGRAM) {
            for (unsigned b = 0; b <= d->bucket_count; b++)
                add_u64(&f[2 + b], p[2 + b] - o[2 + b], memory_order_relaxed);
            /* Native cells (the zero bucket first) are buckets too: before sum and count. */
            uint64_t nat = psm_native_cells_offset(d->bucket_count);
            for (unsigned b = 0; d->native_count && b < s->native_cells; b++)
                add_u64(&f[nat + b], p[nat + b] - o[nat + b], memory_order_relaxed);
            if (p[1] != o[1])
                add_f64(&f[1], psm_bits_f64(p[1]) - psm_bits_f64(o[1]));
            add_u64(&f[0], p[0] - o[0], memory_order_release);
        } else if (d->type == PSM_COUNTER && !(d->flags & PSM_F_COUNTER_DOUBLE)) {
            add_u64(&f[0], p[0] - o[0], memory_order_relaxed);
        } else if (p[0] != o[0]) {
            /* A value that is stored, not added: the latest store wins. */
            uint64_t expect = o[0];
            atomic_compare_exchange_strong_explicit(&f[0], &expect, p[0], memory_order_relaxed,
                                                    memory_order_relaxed);
        }
    }
}

int psm_writer_publish(psm_writer_t *w, char *err, size_t errlen)
{
    char why[512];
    if (err && errlen)
        err[0] = '\0';
    pthread_mutex_lock(&w->lock);
    if (!atomic_load(&w->is_private)) {
        pthread_mutex_unlock(&w->lock);
        return 0;
    }
    int rc = -1, e = 0;
    uint8_t *file = MAP_FAILED, *view = MAP_FAILED, *snap = NULL;
    char staged[PSM__PATH_MAX] = "";
    int fd = -1;
    if (psm__writer_name_probe(w, why, sizeof why, err, errlen) < 0)
        goto out;
    fd = psm__writer_file_new(w, w->size, staged, sizeof staged, err, errlen);
    if (fd < 0)
        goto out;
    uint64_t coff = w->hdr->cells_offset;
    uint64_t cused = atomic_load_explicit(&w->hdr->cells_used, memory_order_relaxed);
    file = mmap(NULL, w->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    /* Old size 0: a second mapping of the same shared pages, not a move. */
    view = mremap(w->base, 0, w->size, MREMAP_MAYMOVE);
    snap = malloc(cused ? cused : 1);
    if (file == MAP_FAILED || view == MAP_FAILED || !snap) {
        psm__fail(err, errlen, "segment %s: out of memory to publish %zu bytes: %s", w->name,
                  w->size, strerror(errno));
        goto out;
    }
    copy_words(file, w->base, w->size);
    memcpy(snap, file + coff, cused);
    /*
     * The switch. Linux replaces the old mapping in one step (no instant where
     * the range is unmapped), and an update racing it lands either in the
     * private pages (carried over below) or in the file.
     */
    if (mmap(w->base, w->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) ==
        MAP_FAILED) {
        psm__fail(err, errlen, "segment %s: cannot map the published segment in place: %s", w->name,
                  strerror(errno));
        goto out;
    }
    merge_cells(w, view + coff, snap);
    psm_writer_heartbeat(w);
    if (w->fd >= 0)
        close(w->fd); /* an earlier attempt's file, never named: nobody else has it */
    w->fd = fd;
    fd = -1;
    /*
     * If the name cannot be taken now (a writer took it since the probe), the
     * segment stays private, in the unnamed file; the next attempt copies again.
     */
    if (psm__writer_file_link(w, w->fd, staged, err, errlen) != 0) {
        staged[0] = '\0';
        goto out;
    }
    staged[0] = '\0';
    atomic_store(&w->is_private, 0);
    rc = 1;
out:
    e = errno;
    if (view != MAP_FAILED)
        munmap(view, w->size);
    if (file != MAP_FAILED)
        munmap(file, w->size);
    free(snap);
    if (fd >= 0)
        close(fd);
    if (staged[0])
        unlink(staged);
    pthread_mutex_unlock(&w->lock);
    errno = e;
    return rc;
}
