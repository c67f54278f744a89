/*
 * shm/render_pb.c - the protobuf exposition: a stream of MetricFamily
 * messages (io.prometheus.client, client_model's metrics.proto), each
 * preceded by its length as a varint, which is what Prometheus negotiates
 * with "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily;
 * encoding=delimited", and the only exposition that carries native buckets.
 *
 * Encoded by hand, straight into the response buffer, rather than with a
 * protobuf library: a library would build message objects per series and
 * serialise them (allocation on every scrape, against the rule that a warm
 * render allocates nothing per series), and would be a dependency of the
 * exporter for six message types of which we write a fixed subset. The wire
 * format of that subset is small:
 *
 *   stream       := { varint(len) MetricFamily }
 *   MetricFamily := 0x0A name | 0x12 help | 0x18 type | { 0x22 Metric }
 *   Metric       := { 0x0A LabelPair } (0x1A Counter | 0x12 Gauge | 0x3A Histogram)
 *   LabelPair    := 0x0A name | 0x12 value       Counter, Gauge := 0x09 double
 *   Histogram    := 0x08 count | 0x11 sum | { 0x1A Bucket }
 *                   [ 0x28 zigzag(schema) | 0x31 zero_threshold | 0x38 zero_count
 *                     | { 0x62 BucketSpan } | 0x6A packed zigzag(deltas) ]
 *   Bucket       := 0x08 cumulative_count | 0x11 upper_bound
 *   BucketSpan   := 0x08 zigzag(offset) | 0x10 length
 *
 * where a tag byte is (field << 3) | wire type (0 varint, 1 8-byte double,
 * 2 length-delimited) and every sub-message is its tag, its length as a varint
 * and its bytes. A sub-message's length must precede it, so each metric is
 * encoded twice by the same code: once counting bytes (struct pb with p NULL),
 * once writing them into room reserved for exactly that many. A family's
 * length would need every series read twice; it is written after the family
 * instead, into the room its length took in the previous render, and only a
 * family whose length grew or shrank by a byte is moved.
 *
 * Histograms: the classic buckets (the +Inf one left out: Prometheus takes it
 * from the count), and where the series has a consistent native part its
 * schema, zero threshold (always > 0: that is what makes Prometheus 2.42 take
 * the family as native, even before its first observation), zero count, and
 * the populated buckets as spans and deltas: a span per run of buckets, the
 * first span's offset the first index and every later one's the gap since the
 * previous span; a gap of one or two empty buckets is cheaper sent as zero
 * counts than as a new span. Deltas are each bucket's count minus the previous
 * one's, across spans. Without populated buckets one empty span is sent, as the
 * specification asks of newer Prometheus releases. Schemas are -4..8 by the
 * reader's validation: a schema outside that makes Prometheus 2.42 panic at
 * query time.
 */
#include <stdlib.h>
#include <string.h>

#include "psm/native.h"
#include "render_int.h"

/* Field tags (field number << 3 | wire type). */
enum {
    TAG_FAMILY_NAME = 0x0A,
    TAG_FAMILY_HELP = 0x12,
    TAG_FAMILY_TYPE = 0x18,
    TAG_FAMILY_METRIC = 0x22,
    TAG_METRIC_LABEL = 0x0A,
    TAG_METRIC_GAUGE = 0x12,
    TAG_METRIC_COUNTER = 0x1A,
    TAG_METRIC_HISTOGRAM = 0x3A,
    TAG_LABEL_NAME = 0x0A,
    TAG_LABEL_VALUE = 0x12,
    TAG_VALUE = 0x09,
    TAG_HIST_COUNT = 0x08,
    TAG_HIST_SUM = 0x11,
    TAG_HIST_BUCKET = 0x1A,
    TAG_HIST_SCHEMA = 0x28,
    TAG_HIST_ZERO_THRESHOLD = 0x31,
    TAG_HIST_ZERO_COUNT = 0x38,
    TAG_HIST_POSITIVE_SPAN = 0x62,
    TAG_HIST_POSITIVE_DELTA = 0x6A,
    TAG_BUCKET_COUNT = 0x08,
    TAG_BUCKET_BOUND = 0x11,
    TAG_SPAN_OFFSET = 0x08,
    TAG_SPAN_LENGTH = 0x10,
};

/* MetricType values. */
enum { PB_COUNTER = 0, PB_GAUGE = 1, PB_HISTOGRAM = 4 };

/* Room the top-level length may take: Prometheus reads at most 5 bytes of it. */
#define PB_LEN_MAX 5

/* Bytes at p, or only their count when p is NULL. */
struct pb {
    char *p;
    size_t n;
};

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static void pb_raw(struct pb *w, const void *s, size_t len)
{
    if (w->p && len)
        memcpy(w->p + w->n, s, len);
    w->n += len;
}

static void pb_byte(struct pb *w, unsigned c)
{
    if (w->p)
        w->p[w->n] = (char)c;
    w->n++;
}

static void pb_varint(struct pb *w, uint64_t v)
{
    if (!w->p) {
        w->n += varint_len(v);
        return;
    }
    while (v >= 0x80) {
        w->p[w->n++] = (char)(v | 0x80);
        v >>= 7;
    }
    w->p[w->n++] = (char)v;
}

/* n >= 0 -> 2n, n < 0 -> -2n - 1, without shifting a negative number. */
static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0);
}

/* A double field: its tag, then the 8 bytes little-endian, whatever the host. */
static void pb_double(struct pb *w, unsigned tag, double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    pb_byte(w, tag);
    if (!w->p) {
        w->n += 8;
        return;
    }
    for (int i = 0; i < 8; i++)
        w->p[w->n++] = (char)(u >> (8 * i));
}

static void pb_string(struct pb *w, unsigned tag, const char *s, size_t len)
{
    pb_byte(w, tag);
    pb_varint(w, len);
    pb_raw(w, s, len);
}

/* The LabelPairs of a metric (an empty value is left out: proto3's default). */
static void pb_labels(struct pb *w, const struct psm_strview *names,
                      const struct psm_strview *values, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        size_t pair = 1 + varint_len(names[i].len) + names[i].len;
        if (values[i].len)
            pair += 1 + varint_len(values[i].len) + values[i].len;
        pb_byte(w, TAG_METRIC_LABEL);
        pb_varint(w, pair);
        pb_string(w, TAG_LABEL_NAME, names[i].p, names[i].len);
        if (values[i].len)
            pb_string(w, TAG_LABEL_VALUE, values[i].p, values[i].len);
    }
}

static void pb_span(struct pb *w, int32_t offset, uint32_t length)
{
    uint64_t z = zigzag(offset);
    pb_byte(w, TAG_HIST_POSITIVE_SPAN);
    pb_varint(w, 2 + varint_len(z) + varint_len(length));
    pb_byte(w, TAG_SPAN_OFFSET);
    pb_varint(w, z);
    pb_byte(w, TAG_SPAN_LENGTH);
    pb_varint(w, length);
}

/* Gaps of at most this many empty buckets are sent as zero counts, not a new span. */
#define SPAN_GAP_FILL 2

/*
 * The spans of @nat's populated buckets, when @spans; otherwise their deltas
 * (the packed values, without tag and length). Both walks take the same
 * buckets, so the deltas' count matches the spans' lengths.
 */
/*
 * The zigzag encoding of the delta cur - prev, taken modulo 2^64 as the
 * decoder's int64 sum does: a hostile segment's counts above 2^63 (which add up
 * to the count modulo 2^64, as the reader sums them) must not overflow a signed
 * subtraction.
 */
static uint64_t zigzag_delta(uint64_t cur, uint64_t prev)
{
    uint64_t d = cur - prev; /* the two's complement bits of the signed delta */
    return (d << 1) ^ (d >> 63 ? UINT64_MAX : 0);
}

static void pb_native_walk(struct pb *w, const struct psm_native_snapshot *nat, int spans)
{
    const struct psm_native_bucket *b = nat->buckets;
    uint64_t prev = 0;
    int32_t start = 0;
    uint32_t len = 0;
    for (uint32_t k = 0; k < nat->nbuckets; k++) {
        int32_t gap = k ? b[k].index - b[k - 1].index - 1 : 0;
        if (k == 0 || gap > SPAN_GAP_FILL) {
            if (k && spans)
                pb_span(w, start, len);
            /* The first span's offset is an index, every later one's the gap. */
            start = k ? gap : b[k].index;
            len = 0;
        } else {
            for (int32_t g = 0; g < gap; g++) {
                if (!spans)
                    pb_varint(w, zigzag_delta(0, prev));
                prev = 0;
            }
            len += (uint32_t)gap;
        }
        if (!spans)
            pb_varint(w, zigzag_delta(b[k].count, prev));
        prev = b[k].count;
        len++;
    }
    if (spans)
        pb_span(w, nat->nbuckets ? start : 0, len);
}

/* The Histogram message's bytes. */
static void pb_histogram_body(struct pb *w, const struct psm_hist_snapshot *h, const double *bounds,
                              unsigned bucket_count, const struct psm_native_snapshot *nat)
{
    pb_byte(w, TAG_HIST_COUNT);
    pb_varint(w, h->count);
    pb_double(w, TAG_HIST_SUM, h->sum);
    for (unsigned i = 0; i < bucket_count; i++) {
        pb_byte(w, TAG_HIST_BUCKET);
        pb_varint(w, 1 + varint_len(h->cumulative[i]) + 9);
        pb_byte(w, TAG_BUCKET_COUNT);
        pb_varint(w, h->cumulative[i]);
        pb_double(w, TAG_BUCKET_BOUND, bounds[i]);
    }
    if (!nat)
        return;
    pb_byte(w, TAG_HIST_SCHEMA);
    pb_varint(w, zigzag(nat->schema));
    pb_double(w, TAG_HIST_ZERO_THRESHOLD, nat->zero_threshold);
    if (nat->zero_count) {
        pb_byte(w, TAG_HIST_ZERO_COUNT);
        pb_varint(w, nat->zero_count);
    }
    pb_native_walk(w, nat, 1);
    if (!nat->nbuckets)
        return;
    struct pb count = {NULL, 0};
    pb_native_walk(&count, nat, 0);
    pb_byte(w, TAG_HIST_POSITIVE_DELTA);
    pb_varint(w, count.n);
    pb_native_walk(w, nat, 0);
}

/* What follows a metric's labels: its value, or its histogram. */
struct pb_value {
    enum psm_type type;
    double v;
    const struct psm_hist_snapshot *h;
    const double *bounds;
    unsigned bucket_count;
    const struct psm_native_snapshot *nat;
};

static void pb_value(struct pb *w, const struct pb_value *val, size_t hist_len)
{
    if (val->type == PSM_HISTOGRAM) {
        pb_byte(w, TAG_METRIC_HISTOGRAM);
        pb_varint(w, hist_len);
        pb_histogram_body(w, val->h, val->bounds, val->bucket_count, val->nat);
    } else {
        pb_byte(w, val->type == PSM_COUNTER ? TAG_METRIC_COUNTER : TAG_METRIC_GAUGE);
        pb_byte(w, 9);
        pb_double(w, TAG_VALUE, val->v);
    }
}

/* Append one Metric (tag, length, bytes) to @out: counted first, then written. */
static void pb_metric(struct psm_buf *out, const struct psm_strview *names,
                      const struct psm_strview *values, unsigned nlabels,
                      const struct pb_value *val)
{
    struct pb m = {NULL, 0}, hist = {NULL, 0};
    if (val->type == PSM_HISTOGRAM)
        pb_histogram_body(&hist, val->h, val->bounds, val->bucket_count, val->nat);
    pb_labels(&m, names, values, nlabels);
    pb_value(&m, val, hist.n);
    size_t total = 1 + varint_len(m.n) + m.n;
    if (psm_buf_reserve(out, total) != 0)
        return;
    struct pb w = {out->p + out->len, 0};
    pb_byte(&w, TAG_FAMILY_METRIC);
    pb_varint(&w, m.n);
    pb_labels(&w, names, values, nlabels);
    pb_value(&w, val, hist.n);
    out->len += w.n;
}

/* Open a family: @room bytes for its length, then name, help and type. Returns the mark. */
static size_t pb_family_open(struct psm_buf *out, unsigned room, const char *name, size_t nlen,
                             const char *help, size_t hlen, enum psm_type type)
{
    size_t mark = out->len;
    size_t need = room + 1 + varint_len(nlen) + nlen + 1 + varint_len(hlen) + hlen + 2;
    if (psm_buf_reserve(out, need) != 0)
        return mark;
    struct pb w = {out->p + out->len, room};
    pb_string(&w, TAG_FAMILY_NAME, name, nlen);
    if (hlen)
        pb_string(&w, TAG_FAMILY_HELP, help, hlen);
    pb_byte(&w, TAG_FAMILY_TYPE);
    pb_byte(&w, type == PSM_COUNTER ? PB_COUNTER : type == PSM_GAUGE ? PB_GAUGE : PB_HISTOGRAM);
    out->len += w.n;
    return mark;
}

/* Close the family at @mark, @room bytes kept for its length. Returns the bytes it took. */
static unsigned pb_family_close(struct psm_buf *out, size_t mark, unsigned room)
{
    if (out->oom || out->len < mark + room)
        return room;
    size_t body = out->len - mark - room;
    unsigned need = (unsigned)varint_len(body);
    if (need != room) {
        if (need > room && psm_buf_reserve(out, need - room) != 0)
            return room;
        memmove(out->p + mark + need, out->p + mark + room, body);
        out->len = mark + need + body;
    }
    struct pb w = {out->p + mark, 0};
    pb_varint(&w, body);
    return need;
}

int psm__pb_prepare(struct psm__pb_scratch *sc, uint32_t ndesc)
{
    if (!sc->nb && !(sc->nb = malloc(PSM_MAX_NATIVE_BUCKETS * sizeof *sc->nb)))
        return -1;
    if (ndesc > sc->lenw_cap) {
        size_t cap = ndesc < 64 ? 64 : ndesc;
        uint8_t *p = realloc(sc->lenw, cap);
        if (!p)
            return -1;
        /* A family not seen before: one byte, which holds families under 128 bytes. */
        memset(p + sc->lenw_cap, 1, cap - sc->lenw_cap);
        sc->lenw = p;
        sc->lenw_cap = cap;
    }
    return 0;
}

void psm__pb_free(struct psm__pb_scratch *sc)
{
    free(sc->nb);
    free(sc->lenw);
    memset(sc, 0, sizeof *sc);
}

void psm__pb_family(struct psm_buf *out, const psm_reader_t *r, const struct psm_desc_view *d,
                    const uint32_t *order, uint32_t n, struct psm__pb_scratch *sc,
                    struct psm_render_stats *st)
{
    unsigned room = sc->lenw[d->index];
    if (room < 1 || room > PB_LEN_MAX)
        room = 1;
    size_t mark =
        pb_family_open(out, room, d->name.p, d->name.len, d->help.p, d->help.len, d->type);
    struct psm_series_view sv;
    for (uint32_t k = 0; k < n; k++) {
        psm_reader_series(r, order[k], &sv);
        struct pb_value val = {.type = d->type};
        struct psm_hist_snapshot h;
        struct psm_native_snapshot nat = {.buckets = sc->nb, .cap = PSM_MAX_NATIVE_BUCKETS};
        if (d->type == PSM_HISTOGRAM) {
            if (psm_reader_hist_read_native(&sv, &h, &nat) != 0)
                st->torn++;
            val.h = &h;
            val.bounds = d->bounds;
            val.bucket_count = d->bucket_count;
            val.nat = nat.valid ? &nat : NULL;
            st->native += nat.valid;
        } else if (d->type == PSM_COUNTER && !(d->flags & PSM_F_COUNTER_DOUBLE)) {
            val.v = (double)psm_series_u64(&sv);
        } else {
            val.v = psm_series_f64(&sv);
        }
        pb_metric(out, d->label_names, sv.values, d->label_count, &val);
        st->series++;
    }
    sc->lenw[d->index] = (uint8_t)pb_family_close(out, mark, room);
}

/* ---- the caller's own families ---------------------------------------------------- */

/* Label names and values as views, at most PSM_MAX_LABELS. */
static unsigned views(unsigned n, const char *const *names, const char *const *values,
                      struct psm_strview *nv, struct psm_strview *vv)
{
    n = n > PSM_MAX_LABELS ? PSM_MAX_LABELS : n;
    for (unsigned i = 0; i < n; i++) {
        nv[i] = (struct psm_strview){names[i], strlen(names[i])};
        vv[i] = (struct psm_strview){values[i], strlen(values[i])};
    }
    return n;
}

size_t psm_render_pb_family_begin(struct psm_buf *b, const char *name, enum psm_type type,
                                  const char *help)
{
    return pb_family_open(b, 1, name, strlen(name), help ? help : "", help ? strlen(help) : 0,
                          type);
}

void psm_render_pb_sample(struct psm_buf *b, enum psm_type type, unsigned nlabels,
                          const char *const *names, const char *const *values, double v)
{
    struct psm_strview nv[PSM_MAX_LABELS], vv[PSM_MAX_LABELS];
    unsigned n = views(nlabels, names, values, nv, vv);
    struct pb_value val = {.type = type == PSM_COUNTER ? PSM_COUNTER : PSM_GAUGE, .v = v};
    pb_metric(b, nv, vv, n, &val);
}

void psm_render_pb_histogram(struct psm_buf *b, unsigned nlabels, const char *const *names,
                             const char *const *values, const struct psm_hist_snapshot *h,
                             const double *bounds, unsigned bucket_count,
                             const struct psm_native_snapshot *nat)
{
    struct psm_strview nv[PSM_MAX_LABELS], vv[PSM_MAX_LABELS];
    unsigned n = views(nlabels, names, values, nv, vv);
    struct pb_value val = {.type = PSM_HISTOGRAM,
                           .h = h,
                           .bounds = bounds,
                           .bucket_count =
                               bucket_count > PSM_MAX_BUCKETS ? PSM_MAX_BUCKETS : bucket_count,
                           .nat = nat && nat->valid ? nat : NULL};
    pb_metric(b, nv, vv, n, &val);
}

void psm_render_pb_family_end(struct psm_buf *b, size_t mark)
{
    pb_family_close(b, mark, 1);
}
