/*
 * exporter/selfmetrics.h - the exporter's own metric families, appended after
 * the segment's on every scrape, and the standard process_* families
 * (selfmetrics.c). It renders a snapshot of figures its caller gathers, so it
 * needs neither h2o nor OpenSSL.
 */
#ifndef PEX_SELFMETRICS_H
#define PEX_SELFMETRICS_H

#include "psm/render.h"
#include "segment.h"
#include "stats.h"

/* The figures one scrape reports about the exporter itself. */
struct pex_self_view {
    const struct pex_stats *stats;
    const struct pex_segment *seg;       /* remaps, errors, refusals; its reader while mapped */
    const struct pex_seg_status *status; /* this scrape's view of the segment */
    unsigned inflight;                   /* requests being answered */
    unsigned busy, parked;               /* pex_requests_busy() */
    unsigned conns;                      /* open connections */
    unsigned long renders;               /* of the telemetry body */
    double cert_not_after;               /* server certificate in use, unix time */
    double start_time;                   /* process start, unix time */
    const char *openssl;                 /* OpenSSL's version string, for build_info */
};

/**
 * pex_selfmetrics_render - append the exporter's own families to @b
 * @v: the figures
 * @fmt: the exposition format
 * @b: the buffer (b->oom says if memory ran out)
 *
 * The process_* families are left out when the segment already has a family
 * of that prefix, so that no name appears twice in one exposition.
 */
void pex_selfmetrics_render(const struct pex_self_view *v, enum psm_format fmt, struct psm_buf *b);

#endif
