/*
 * shm/render_int.h - what render.c (psm_render, the text formats, the
 * renderer's scratch memory) hands to render_pb.c (the protobuf exposition).
 * render.c calls render_pb.c, never the other way; both append to the buffer
 * of buf.c. Not installed.
 */
#ifndef PSM_RENDER_INT_H
#define PSM_RENDER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "psm/reader.h"
#include "psm/render.h"

/* The renderer's memory the protobuf exposition uses; kept from render to render. */
struct psm__pb_scratch {
    struct psm_native_bucket *nb; /* PSM_MAX_NATIVE_BUCKETS, allocated on first use */
    /*
     * Per descriptor, the bytes its family's length took in the last render: the
     * room kept for it this time, so that a warm render moves no family.
     */
    uint8_t *lenw;
    size_t lenw_cap;
};

/**
 * psm__pb_prepare - make @sc ready for a render of @ndesc descriptors
 * @sc: the scratch
 * @ndesc: descriptors of the segment
 *
 * Allocates only what is missing: nothing once warm. Returns 0, or -1 when out
 * of memory.
 */
int psm__pb_prepare(struct psm__pb_scratch *sc, uint32_t ndesc);

/** psm__pb_free - release what @sc holds; it is empty and reusable after */
void psm__pb_free(struct psm__pb_scratch *sc);

/**
 * psm__pb_family - append one MetricFamily of a segment, length-delimited
 * @out: the buffer
 * @r: the loaded reader
 * @d: the family's descriptor
 * @order: its series' indexes
 * @n: how many (> 0)
 * @sc: scratch prepared for the reader's descriptors
 * @st: counts to update (series, torn, native)
 */
void psm__pb_family(struct psm_buf *out, const psm_reader_t *r, const struct psm_desc_view *d,
                    const uint32_t *order, uint32_t n, struct psm__pb_scratch *sc,
                    struct psm_render_stats *st);

#endif
