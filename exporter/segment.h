/*
 * exporter/segment.h - the metrics segment as the exporter sees it, through
 * libpsmetrics' reader: opened when it appears, followed when replaced,
 * refused when untrusted, rendered under a SIGBUS guard. No h2o, no OpenSSL.
 */
#ifndef PEX_SEGMENT_H
#define PEX_SEGMENT_H

#include <stdint.h>

#include "pex.h"
#include "psm/reader.h"
#include "psm/render.h"

/* What was at the segment's path when the exporter would not map it. */
enum pex_seg_refusal {
    PEX_SEG_FIFO,
    PEX_SEG_DIRECTORY,
    PEX_SEG_SYMLINK,
    PEX_SEG_NOT_REGULAR, /* device, socket */
    PEX_SEG_FOREIGN_OWNER,
    PEX_SEG_WRITABLE, /* group or other write bit */
    PEX_SEG_NREFUSALS
};

struct pex_segment {
    const char *name;
    const struct psm_reader_opts *trust;
    psm_reader_t *r;
    psm_renderer_t *rn; /* pex_segment_render's scratch, kept across remaps */
    double max_age;
    uint64_t remaps, errors;
    uint64_t refused[PEX_SEG_NREFUSALS]; /* untrusted objects found (once per state change) */
    uint64_t last_open_try_ns;           /* psu_clock_mono_ns() */
    int last_state;   /* for logging transitions: 1 mapped, 0 not, 2 stale mapping, -1 unknown */
    int last_why;     /* while not mapped: errno of the last failure, -1 unknown */
    int last_refusal; /* while not mapped: enum pex_seg_refusal found, or -1 */
    char err[PEX_ERR_LEN];
};

/* The segment's state for one scrape or readiness check. */
struct pex_seg_status {
    int mapped;
    struct psm_liveness live;
};

/**
 * pex_seg_refusal_label - the reason label of @r for segment_refused_total
 * @r: an enum pex_seg_refusal
 *
 * Returns the label, or "unknown" outside the enum.
 */
const char *pex_seg_refusal_label(int r);

/**
 * pex_segment_poll - open the segment if needed, follow a replaced one, and
 * report liveness
 * @s: the segment state
 * @st: receives mapped/liveness
 *
 * A missing segment is looked for at most every 0.5 s; each change of what
 * is found is logged once.
 */
void pex_segment_poll(struct pex_segment *s, struct pex_seg_status *st);

/**
 * pex_segment_failed - drop the mapping after a validation failure
 * @s: the segment state
 * @why: the reader's message
 */
void pex_segment_failed(struct pex_segment *s, const char *why);

/**
 * pex_segment_render - psm_render() of the segment, guarded against SIGBUS
 * @s: the segment (mapped)
 * @fmt: exposition format
 * @b: buffer to append to (left as it was on failure)
 * @rs: render statistics
 *
 * A writer never shrinks its segment, but whoever can write it can truncate it
 * under us; the reader checks the size once per snapshot, and this guard turns
 * a page that vanishes during the render into an error instead of a crash.
 * Returns 0, -1 (validation failed: psm_reader_error(); or @b->oom), or -2
 * (SIGBUS: the segment shrank; s->err says so).
 */
int pex_segment_render(struct pex_segment *s, enum psm_format fmt, struct psm_buf *b,
                       struct psm_render_stats *rs);

/** pex_segment_guard_init - install the SIGBUS handler pex_segment_render() relies on */
void pex_segment_guard_init(void);

/** pex_segment_close - unmap, and free the renderer's scratch */
void pex_segment_close(struct pex_segment *s);

#endif
