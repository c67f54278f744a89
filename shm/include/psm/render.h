/*
 * psm/render.h - Prometheus text 0.0.4, OpenMetrics 1.0 and protobuf
 * (delimited io.prometheus.client.MetricFamily) exposition of a segment,
 * generic over its descriptors, plus the growable buffer it writes into and
 * helpers for callers that add families of their own (the exporter).
 *
 * A renderer (psm_renderer_t) holds the memory a render needs besides its
 * output, so that rendering a warm segment allocates nothing. It reads the
 * segment only through the reader API and is bound to no reader: keep one per
 * thread that renders, and use it for whichever reader that thread holds.
 */
#ifndef PSM_RENDER_H
#define PSM_RENDER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "psm/reader.h"

#define PSM_TEXT_CONTENT_TYPE        "text/plain; version=0.0.4; charset=utf-8"
#define PSM_OPENMETRICS_CONTENT_TYPE "application/openmetrics-text; version=1.0.0; charset=utf-8"
/* What Prometheus asks for (Accept) and expects back (Content-Type) for PSM_FMT_PROTOBUF. */
#define PSM_PROTOBUF_CONTENT_TYPE                                                                  \
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"

enum psm_format {
    PSM_FMT_TEXT = 0,        /* Prometheus text exposition 0.0.4 */
    PSM_FMT_OPENMETRICS = 1, /* OpenMetrics 1.0 text */
    /*
     * Protobuf, delimited MetricFamily messages: classic buckets, and native
     * buckets where the segment has them (Prometheus with
     * --enable-feature=native-histograms). Serve it only to a scraper whose
     * Accept asks for it: Prometheus parses the body by its Content-Type, and
     * one without the feature fails the whole scrape on a native histogram.
     */
    PSM_FMT_PROTOBUF = 2,
};

/* A growable byte buffer. After an allocation failure, oom is set and writes stop. */
struct psm_buf {
    char *p;
    size_t len, cap;
    int oom;
};

/** psm_buf_reserve - make room for @n more bytes; returns 0 or -1 (oom set) */
int psm_buf_reserve(struct psm_buf *b, size_t n);

/** psm_buf_put - append @n bytes */
static inline void psm_buf_put(struct psm_buf *b, const void *p, size_t n)
{
    if (b->cap - b->len < n && psm_buf_reserve(b, n) != 0)
        return;
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

/** psm_buf_puts - append a C string */
void psm_buf_puts(struct psm_buf *b, const char *s);

/** psm_buf_printf - append formatted text */
void psm_buf_printf(struct psm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** psm_buf_free - release the memory; the buffer is empty and reusable after */
void psm_buf_free(struct psm_buf *b);

/**
 * psm_format_double - format @v so that it parses back to the same double
 * @v: the value
 * @out: at least 32 bytes
 *
 * Integral values print as integers, others with the fewest significant digits
 * (15 to 17) that round-trip; NaN, +Inf and -Inf as Prometheus spells them.
 * Returns the length written (no NUL counted; a NUL is written).
 */
size_t psm_format_double(double v, char *out);

/** psm_format_u64 - decimal @v into @out (>= 21 bytes); returns the length */
size_t psm_format_u64(uint64_t v, char *out);

#define PSM_RENDER_NO_EOF 0x1u /* OpenMetrics: leave "# EOF" to the caller */

typedef struct psm_renderer psm_renderer_t;

/**
 * psm_renderer_new - a renderer, for psm_render()
 *
 * Its scratch memory grows on the first renders to what the largest segment
 * rendered needs, and is reused after that.
 * Returns the renderer, or NULL with errno ENOMEM.
 */
psm_renderer_t *psm_renderer_new(void);

/** psm_renderer_free - release a renderer and its memory; @rn may be NULL */
void psm_renderer_free(psm_renderer_t *rn);

struct psm_render_stats {
    uint32_t families; /* families written */
    uint32_t series;   /* series written */
    uint32_t torn;     /* histogram snapshots that exhausted their retries */
    uint32_t native;   /* protobuf: histogram series written with native buckets */
};

/**
 * psm_render - append the exposition of every published series of @r to @out
 * @rn: the renderer whose scratch memory the render uses (one render at a time)
 * @r: a reader; psm_reader_load() is called first
 * @fmt: PSM_FMT_TEXT, PSM_FMT_OPENMETRICS or PSM_FMT_PROTOBUF
 * @out: the buffer to append to
 * @flags: PSM_RENDER_*
 * @st: receives counts (may be NULL)
 *
 * Families appear in registration order, each with HELP and TYPE (and UNIT in
 * OpenMetrics), then its series in creation order. Families without series are
 * left out. In protobuf a histogram series whose native part cannot be read
 * consistently (torn, or stale: FORMAT.md "Upgrades") goes without its native
 * buckets; so does every series of a histogram without them. Once @rn and @out have rendered a
 * segment of this size, a render allocates nothing. A render may be abandoned at any point (a
 * SIGBUS guard that longjmps out when the segment shrinks under it): @rn keeps only capacity, which
 * the next render resets, and @out keeps what was appended. Returns 0, or -1 if the segment failed
 * validation (psm_reader_error()) or memory ran out (@out->oom).
 */
int psm_render(psm_renderer_t *rn, psm_reader_t *r, enum psm_format fmt, struct psm_buf *out,
               unsigned flags, struct psm_render_stats *st);

/**
 * psm_render_family - append the HELP/TYPE (and OpenMetrics UNIT) lines of a family
 * @b: the buffer
 * @fmt: the format
 * @name: the metric name (counters: with _total)
 * @type: its type
 * @help: help text, escaped here
 * @unit: unit or NULL
 */
void psm_render_family(struct psm_buf *b, enum psm_format fmt, const char *name, enum psm_type type,
                       const char *help, const char *unit);

/**
 * psm_render_sample - append one sample line
 * @b: the buffer
 * @name: the sample name (counters: with _total)
 * @nlabels: number of labels
 * @names: label names
 * @values: label values, escaped here
 * @v: the value
 */
void psm_render_sample(struct psm_buf *b, const char *name, unsigned nlabels,
                       const char *const *names, const char *const *values, double v);

/** psm_render_eof - append "# EOF\n" for OpenMetrics; nothing for text */
void psm_render_eof(struct psm_buf *b, enum psm_format fmt);

/*
 * Protobuf families of the caller's own, for a body psm_render(PSM_FMT_PROTOBUF)
 * wrote (the exporter's self-metrics): open a family, append its metrics, close
 * it. Label names and values are taken as they are (protobuf needs no
 * escaping); at most PSM_MAX_LABELS of them.
 */

/**
 * psm_render_pb_family_begin - open a MetricFamily
 * @b: the buffer
 * @name: the family name (counters: with _total, as in the text format)
 * @type: its type
 * @help: help text, or NULL
 *
 * Returns the mark to give psm_render_pb_family_end().
 */
size_t psm_render_pb_family_begin(struct psm_buf *b, const char *name, enum psm_type type,
                                  const char *help);

/**
 * psm_render_pb_sample - append a counter or gauge metric to the open family
 * @b: the buffer
 * @type: PSM_COUNTER or PSM_GAUGE, as the family's
 * @nlabels: number of labels (<= PSM_MAX_LABELS)
 * @names: label names
 * @values: label values
 * @v: the value
 */
void psm_render_pb_sample(struct psm_buf *b, enum psm_type type, unsigned nlabels,
                          const char *const *names, const char *const *values, double v);

/**
 * psm_render_pb_histogram - append a histogram metric to the open family
 * @b: the buffer
 * @nlabels: number of labels (<= PSM_MAX_LABELS)
 * @names: label names
 * @values: label values
 * @h: count, sum and cumulative classic buckets
 * @bounds: the @bucket_count finite classic bounds
 * @bucket_count: their number
 * @nat: native buckets (a valid snapshot), or NULL for classic ones only
 */
void psm_render_pb_histogram(struct psm_buf *b, unsigned nlabels, const char *const *names,
                             const char *const *values, const struct psm_hist_snapshot *h,
                             const double *bounds, unsigned bucket_count,
                             const struct psm_native_snapshot *nat);

/**
 * psm_render_pb_family_end - close the family opened at @mark
 * @b: the buffer
 * @mark: what psm_render_pb_family_begin() returned
 *
 * Writes the family's length in front of it (moving the family when the
 * length takes more bytes than the one kept for it). A family without metrics
 * is valid; Prometheus skips it.
 */
void psm_render_pb_family_end(struct psm_buf *b, size_t mark);

#endif
