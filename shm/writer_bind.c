/*
 * shm/writer_bind.c - bind a mapped segment to its writer: the pointers into it,
 * the series index its capacity sizes, and what the writer records in its
 * header about itself (identity, start time, PID namespace, heartbeat) for
 * readers to judge it by.
 *
 * Every way a writer comes to hold a segment (created, re-attached, private)
 * ends here, so the three agree on what a held segment looks like.
 */
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"
#include "psu/clock.h"
#include "writer_int.h"

void psm__writer_bind(psm_writer_t *w)
{
    w->hdr = (struct psm_header *)w->base;
    w->descs = (struct psm_desc *)(w->base + w->hdr->desc_offset);
    w->series = (struct psm_series *)(w->base + w->hdr->series_offset);
    w->blob = (char *)(w->base + w->hdr->blob_offset);
    w->cells = w->base + w->hdr->cells_offset;
}

int psm__writer_alloc_index(psm_writer_t *w, char *err, size_t errlen)
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

void psm__writer_stamp(psm_writer_t *w)
{
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
    /* A segment an older writer made gains this minor's fields now (all zero before). */
    if (__atomic_load_n(&w->hdr->minor, __ATOMIC_RELAXED) < PSM_VERSION_MINOR)
        __atomic_store_n(&w->hdr->minor, PSM_VERSION_MINOR, __ATOMIC_RELAXED);
    atomic_store(&w->hdr->writer_start_ticks,
                 psm__proc_is_own() ? psm__proc_start_ticks(getpid()) : 0);
    /*
     * Both start fields alike: a writer of minor 1 re-attaching later sets only the
     * first, so a re-attaching writer can tell that native buckets missed its
     * observations (writer.c).
     */
    uint64_t start = psu_clock_real_ns();
    atomic_store(&w->hdr->writer_start_realtime, start);
    atomic_store(&w->hdr->native_writer_start, start);
    atomic_store(&w->hdr->heartbeat_boottime, psu_clock_boot_ns());
    /* Last, with release: a reader that sees our pid sees the fields above with it. */
    atomic_store_explicit(&w->hdr->writer_pid, (int32_t)getpid(), memory_order_release);
}

void psm_writer_heartbeat(psm_writer_t *w)
{
    atomic_store_explicit(&w->hdr->heartbeat_boottime, psu_clock_boot_ns(), memory_order_relaxed);
}

const char *psm_writer_name(const psm_writer_t *w)
{
    return w->name;
}
