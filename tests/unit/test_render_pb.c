/*
 * tests/unit/test_render_pb.c - the protobuf exposition, field by field: the
 * delimited framing, each metric type, labels, classic and native buckets as
 * spans and deltas, and the cases Prometheus 2.42 is strict about (a zero
 * threshold above 0 on every native histogram, an empty span when there is no
 * bucket, nothing native on a series whose native part cannot be trusted).
 * tests/integration/protobuf.sh decodes whole bodies with protoc.
 *
 * The decoder here is the minimum to look fields up: varint, 8-byte and
 * length-delimited fields of one message level.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "psm/native.h"
#include "testutil.h"

static const char *seg;

static void setup(void)
{
    seg = tu_name("renderpb");
    shm_unlink(seg);
}

static void teardown(void)
{
    shm_unlink(seg);
}

TestSuite(renderpb, .init = setup, .fini = teardown, .timeout = 30);

struct slice {
    const uint8_t *p;
    size_t n;
};

static uint64_t get_varint(struct slice *s)
{
    uint64_t v = 0;
    for (unsigned shift = 0; s->n; shift += 7) {
        uint8_t b = *s->p++;
        s->n--;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80)
            return v;
    }
    cr_assert_fail("truncated varint");
    return 0;
}

static int64_t unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/*
 * The @nth (0-based) field of @tag in message @m: its payload for a
 * length-delimited field, its 8 bytes for a double, for a varint field
 * n = 0 and the value in *@v. Returns 1 if found.
 */
static int field(struct slice m, unsigned tag, unsigned nth, struct slice *out, uint64_t *v)
{
    while (m.n) {
        unsigned t = (unsigned)get_varint(&m);
        struct slice payload = {m.p, 0};
        uint64_t val = 0;
        switch (t & 7) {
        case 0:
            val = get_varint(&m);
            break;
        case 1:
            cr_assert_geq(m.n, 8);
            payload.n = 8;
            m.p += 8, m.n -= 8;
            break;
        case 2:
            payload.n = get_varint(&m);
            cr_assert_geq(m.n, payload.n, "field runs past its message");
            payload.p = m.p;
            m.p += payload.n, m.n -= payload.n;
            break;
        default:
            cr_assert_fail("wire type %u", t & 7);
        }
        if (t == tag && nth-- == 0) {
            if (out)
                *out = payload;
            if (v)
                *v = val;
            return 1;
        }
    }
    return 0;
}

static unsigned count_fields(struct slice m, unsigned tag)
{
    unsigned n = 0;
    while (field(m, tag, n, NULL, NULL))
        n++;
    return n;
}

static double as_double(struct slice s)
{
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--)
        u = u << 8 | s.p[i];
    return psm_bits_f64(u);
}

/* The whole body of @r in protobuf, and its families one by one. */
struct body {
    struct psm_buf b;
    struct slice fam[16];
    unsigned nfam;
};

static void split(struct body *y)
{
    struct slice s = {(const uint8_t *)y->b.p, y->b.len};
    y->nfam = 0;
    while (s.n) {
        size_t before = s.n;
        uint64_t n = get_varint(&s);
        cr_assert_leq(before - s.n, 5, "Prometheus reads at most 5 bytes of a length");
        cr_assert_geq(s.n, n, "family runs past the body");
        cr_assert_lt(y->nfam, 16);
        y->fam[y->nfam++] = (struct slice){s.p, n};
        s.p += n, s.n -= n;
    }
}

static void render(psm_reader_t *r, struct body *y)
{
    psm_renderer_t *rn = psm_renderer_new();
    memset(y, 0, sizeof *y);
    cr_assert_eq(psm_render(rn, r, PSM_FMT_PROTOBUF, &y->b, 0, NULL), 0, "%s", psm_reader_error(r));
    psm_renderer_free(rn);
    split(y);
}

/* The histogram of metric @m of family @f. */
static struct slice histogram_of(struct slice f, unsigned m)
{
    struct slice met, h;
    cr_assert(field(f, 0x22, m, &met, NULL), "no metric %u", m);
    cr_assert(field(met, 0x3a, 0, &h, NULL), "metric %u has no histogram", m);
    return h;
}

Test(renderpb, a_counter_family_is_its_length_name_help_type_and_metrics)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    char err[256];
    int id = psm_metric_register(
        w, &(struct psm_metric_spec){.name = "t_ops_total", .help = "Ops.", .type = PSM_COUNTER},
        err, sizeof err);
    psm_counter_add(psm_counter_resolve(w, id, NULL), 3);
    psm_reader_t *r = tu_reader(seg);
    struct body y;
    render(r, &y);
    static const uint8_t want[] = {
        34, /* the family's length */
        0x0a, 11, 't',  '_', 'o', 'p', 's', '_', 't', 'o',  't',  'a', 'l', /* name */
        0x12, 4,  'O',  'p', 's', '.',                                      /* help */
        0x18, 0,                                                            /* type COUNTER */
        0x22, 11,                                                           /* metric */
        0x1a, 9,  0x09, 0,   0,   0,   0,   0,   0,   0x08, 0x40,           /* counter 3.0 */
    };
    cr_assert_eq(y.b.len, sizeof want);
    cr_assert_eq(memcmp(y.b.p, want, sizeof want), 0, "bytes differ");
    psm_buf_free(&y.b);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(renderpb, labels_are_pairs_in_the_descriptors_order_and_gauges_keep_their_double)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    const char *ln[] = {"port", "reason"};
    int g = tu_register(w, "t_level", PSM_GAUGE, 2, ln);
    psm_gauge_set(psm_gauge_resolve(w, g, (const char *[]){"Ethernet0", "a \"b\"\n"}), -0.25);
    psm_gauge_set(psm_gauge_resolve(w, g, (const char *[]){"Ethernet4", ""}), NAN);
    psm_reader_t *r = tu_reader(seg);
    struct body y;
    render(r, &y);
    cr_assert_eq(y.nfam, 1);
    uint64_t type;
    cr_assert(field(y.fam[0], 0x18, 0, NULL, &type));
    cr_assert_eq(type, 1, "GAUGE");
    struct slice m, lp, s, gauge;
    cr_assert(field(y.fam[0], 0x22, 0, &m, NULL));
    cr_assert(field(m, 0x0a, 1, &lp, NULL), "second label");
    cr_assert(field(lp, 0x0a, 0, &s, NULL));
    cr_assert(s.n == 6 && memcmp(s.p, "reason", 6) == 0);
    cr_assert(field(lp, 0x12, 0, &s, NULL));
    cr_assert(s.n == 6 && memcmp(s.p, "a \"b\"\n", 6) == 0, "values as they are: no escaping");
    cr_assert(field(m, 0x12, 0, &gauge, NULL));
    cr_assert(field(gauge, 0x09, 0, &s, NULL));
    cr_assert_eq(as_double(s), -0.25);
    cr_assert(field(y.fam[0], 0x22, 1, &m, NULL));
    cr_assert(field(m, 0x0a, 1, &lp, NULL));
    cr_assert_not(field(lp, 0x12, 0, NULL, NULL), "an empty value is proto3's default");
    cr_assert(field(m, 0x12, 0, &gauge, NULL) && field(gauge, 0x09, 0, &s, NULL));
    cr_assert(isnan(as_double(s)));
    psm_buf_free(&y.b);
    psm_reader_close(r);
    psm_writer_close(w);
}

/*
 * A histogram of the seed's event-latency shape, native buckets at schema @schema
 * up to @max (0: 10) or none.
 */
static int register_latency(psm_writer_t *w, const char *name, int native, int schema, double max)
{
    static const double b[] = {.001, .005, .01, .05, .1, .5, 1};
    char err[256];
    int id = psm_metric_register(w,
                                 &(struct psm_metric_spec){.name = name,
                                                           .type = PSM_HISTOGRAM,
                                                           .bucket_count = 7,
                                                           .bounds = b,
                                                           .native = native,
                                                           .native_schema = schema,
                                                           .native_max = max},
                                 err, sizeof err);
    cr_assert_geq(id, 0, "%s", err);
    return id;
}

Test(renderpb, classic_buckets_come_without_inf_which_is_the_count)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    psm_histogram_t *h =
        psm_histogram_resolve(w, register_latency(w, "t_a_seconds", 0, 0, 0), NULL);
    psm_histogram_observe(h, 0.003);
    psm_histogram_observe(h, 2);
    psm_reader_t *r = tu_reader(seg);
    struct body y;
    render(r, &y);
    struct slice hist = histogram_of(y.fam[0], 0), bucket, s;
    uint64_t v;
    cr_assert(field(hist, 0x08, 0, NULL, &v) && v == 2, "sample_count");
    cr_assert(field(hist, 0x11, 0, &s, NULL) && as_double(s) == 2.003, "sample_sum");
    cr_assert_eq(count_fields(hist, 0x1a), 7, "one per finite bound");
    cr_assert(field(hist, 0x1a, 1, &bucket, NULL));
    cr_assert(field(bucket, 0x08, 0, NULL, &v) && v == 1, "cumulative");
    cr_assert(field(bucket, 0x11, 0, &s, NULL) && as_double(s) == 0.005);
    cr_assert_not(field(hist, 0x28, 0, NULL, NULL), "no schema: Prometheus takes it as classic");
    cr_assert_not(field(hist, 0x31, 0, NULL, NULL), "no zero threshold either");
    psm_buf_free(&y.b);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(renderpb, a_native_histogram_without_observations_is_still_native_for_prometheus_242)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    psm_histogram_resolve(w, register_latency(w, "t_idle_seconds", 1, 3, 0), NULL);
    psm_reader_t *r = tu_reader(seg);
    struct body y;
    render(r, &y);
    struct slice hist = histogram_of(y.fam[0], 0), s, span;
    uint64_t v;
    cr_assert(field(hist, 0x28, 0, NULL, &v) && unzigzag(v) == 3, "schema 3");
    cr_assert(field(hist, 0x31, 0, &s, NULL));
    cr_assert_eq(as_double(s), 0x1p-20, "zero threshold > 0: what 2.42 tells native by");
    cr_assert_not(field(hist, 0x38, 0, NULL, NULL), "no zero count");
    cr_assert_eq(count_fields(hist, 0x62), 1, "one empty span, as newer releases need");
    cr_assert(field(hist, 0x62, 0, &span, NULL));
    cr_assert(field(span, 0x08, 0, NULL, &v) && v == 0);
    cr_assert(field(span, 0x10, 0, NULL, &v) && v == 0);
    cr_assert_not(field(hist, 0x6a, 0, NULL, NULL), "no deltas");
    psm_buf_free(&y.b);
    psm_reader_close(r);
    psm_writer_close(w);
}

/* The absolute index and count of each bucket, decoded from spans and deltas. */
static unsigned decode_native(struct slice hist, int32_t *idx, uint64_t *cnt, unsigned cap)
{
    struct slice span, packed;
    int64_t at = 0, count = 0;
    unsigned n = 0, nspans = count_fields(hist, 0x62);
    if (!field(hist, 0x6a, 0, &packed, NULL))
        packed.n = 0;
    for (unsigned k = 0; k < nspans; k++) {
        uint64_t off, len;
        cr_assert(field(hist, 0x62, k, &span, NULL));
        cr_assert(field(span, 0x08, 0, NULL, &off) && field(span, 0x10, 0, NULL, &len));
        cr_assert(k == 0 || unzigzag(off) >= 0, "a later span's offset is a gap, >= 0");
        at = k ? at + unzigzag(off) : unzigzag(off);
        for (uint64_t i = 0; i < len; i++, at++) {
            count += unzigzag(get_varint(&packed));
            cr_assert_geq(count, 0, "a negative bucket count fails the scrape");
            cr_assert_lt(n, cap);
            idx[n] = (int32_t)at;
            cnt[n++] = (uint64_t)count;
        }
    }
    cr_assert_eq(packed.n, 0, "as many deltas as the spans' lengths");
    return n;
}

Test(renderpb, gaps_of_two_empty_buckets_stay_in_the_span_longer_gaps_start_a_new_one)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    psm_histogram_t *h =
        psm_histogram_resolve(w, register_latency(w, "t_b_seconds", 1, 0, 1000), NULL);
    /* Schema 0: bucket i is (2^(i-1), 2^i]. Buckets 0, 3 (gap 2), 7 (gap 3), 8. */
    static const double v[] = {1, 1, 1, 8, 128, 128, 256, 0};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        psm_histogram_observe(h, v[i]);
    psm_reader_t *r = tu_reader(seg);
    struct body y;
    render(r, &y);
    struct slice hist = histogram_of(y.fam[0], 0), span;
    uint64_t off, len, zero;
    cr_assert_eq(count_fields(hist, 0x62), 2);
    cr_assert(field(hist, 0x62, 0, &span, NULL) && field(span, 0x08, 0, NULL, &off) &&
              field(span, 0x10, 0, NULL, &len));
    cr_assert_eq(unzigzag(off), 0, "the first offset is the first index");
    cr_assert_eq(len, 4, "0, two empty ones, 3");
    cr_assert(field(hist, 0x62, 1, &span, NULL) && field(span, 0x08, 0, NULL, &off) &&
              field(span, 0x10, 0, NULL, &len));
    cr_assert_eq(unzigzag(off), 3, "indices 4, 5, 6 skipped");
    cr_assert_eq(len, 2, "7 and 8");
    int32_t idx[16];
    uint64_t cnt[16];
    cr_assert_eq(decode_native(hist, idx, cnt, 16), 6);
    static const int32_t want_idx[] = {0, 1, 2, 3, 7, 8};
    static const uint64_t want_cnt[] = {3, 0, 0, 1, 2, 1};
    cr_assert_eq(memcmp(idx, want_idx, sizeof want_idx), 0);
    cr_assert_eq(memcmp(cnt, want_cnt, sizeof want_cnt), 0);
    cr_assert(field(hist, 0x38, 0, NULL, &zero) && zero == 1, "0 in the zero bucket");
    psm_buf_free(&y.b);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(renderpb, a_negative_schema_and_a_negative_first_index_are_zigzag)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    psm_histogram_t *h =
        psm_histogram_resolve(w, register_latency(w, "t_c_seconds", 1, -4, 0), NULL);
    psm_histogram_observe(h, 1e-6); /* bucket -1 at schema -4: (2^-32, 2^-16] */
    psm_reader_t *r = tu_reader(seg);
    struct body y;
    render(r, &y);
    struct slice hist = histogram_of(y.fam[0], 0), span;
    uint64_t v;
    cr_assert(field(hist, 0x28, 0, NULL, &v));
    cr_assert_eq(v, 7, "zigzag(-4)");
    cr_assert(field(hist, 0x62, 0, &span, NULL) && field(span, 0x08, 0, NULL, &v));
    cr_assert_eq(v, 1, "zigzag(-1)");
    psm_buf_free(&y.b);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(renderpb, a_series_with_stale_native_buckets_goes_without_them)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    psm_histogram_t *h =
        psm_histogram_resolve(w, register_latency(w, "t_d_seconds", 1, 3, 0), NULL);
    psm_histogram_observe(h, 0.002);
    /* A minor 1 writer's observation: classic bucket and count, no native bucket. */
    atomic_fetch_add(&h->buckets[1], 1);
    atomic_fetch_add(h->count, 1);
    psm_reader_t *r = tu_reader(seg);
    struct body y;
    psm_renderer_t *rn = psm_renderer_new();
    struct psm_render_stats st;
    memset(&y, 0, sizeof y);
    cr_assert_eq(psm_render(rn, r, PSM_FMT_PROTOBUF, &y.b, 0, &st), 0);
    split(&y);
    struct slice hist = histogram_of(y.fam[0], 0);
    uint64_t v;
    cr_assert(field(hist, 0x08, 0, NULL, &v) && v == 2, "the classic part counts both");
    cr_assert_not(field(hist, 0x31, 0, NULL, NULL), "nothing native that would undercount");
    cr_assert_eq(st.native, 0);
    cr_assert_eq(st.torn, 0);
    psm_renderer_free(rn);
    psm_buf_free(&y.b);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(renderpb, a_family_over_127_bytes_has_a_two_byte_length_in_every_render)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    const char *ln[] = {"port"};
    int c = tu_register(w, "t_flaps_total", PSM_COUNTER, 1, ln);
    char port[32];
    for (int i = 0; i < 40; i++) {
        snprintf(port, sizeof port, "Ethernet%d", i * 4);
        psm_counter_add(psm_counter_resolve(w, c, (const char *[]){port}), (uint64_t)i);
    }
    psm_reader_t *r = tu_reader(seg);
    psm_renderer_t *rn = psm_renderer_new();
    struct body first, second;
    memset(&first, 0, sizeof first);
    memset(&second, 0, sizeof second);
    /* The first render moves the family when its length needs 2 bytes; the second keeps room. */
    cr_assert_eq(psm_render(rn, r, PSM_FMT_PROTOBUF, &first.b, 0, NULL), 0);
    cr_assert_eq(psm_render(rn, r, PSM_FMT_PROTOBUF, &second.b, 0, NULL), 0);
    split(&first);
    split(&second);
    cr_assert_eq(first.nfam, 1);
    cr_assert_gt(first.fam[0].n, 127);
    cr_assert_eq((const char *)first.fam[0].p - first.b.p, 2, "two bytes of length");
    cr_assert_eq(first.b.len, second.b.len);
    cr_assert_eq(memcmp(first.b.p, second.b.p, first.b.len), 0, "warm and cold agree");
    cr_assert_eq(count_fields(first.fam[0], 0x22), 40);
    psm_renderer_free(rn);
    psm_buf_free(&first.b);
    psm_buf_free(&second.b);
    psm_reader_close(r);
    psm_writer_close(w);
}

/*
 * The room kept for a family's length comes from the last render with the same
 * renderer, which the exporter keeps across a segment's replacement: a family
 * that needed two bytes there and one here is moved down, not left with a gap.
 */
Test(renderpb, a_family_that_shrank_below_128_bytes_takes_one_byte_again)
{
    const char *ln[] = {"port"};
    char port[32];
    psm_renderer_t *rn = psm_renderer_new();
    struct body big, small, cold;
    memset(&big, 0, sizeof big);
    memset(&small, 0, sizeof small);
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    int c = tu_register(w, "t_flaps_total", PSM_COUNTER, 1, ln);
    for (int i = 0; i < 40; i++) {
        snprintf(port, sizeof port, "Ethernet%d", i * 4);
        psm_counter_add(psm_counter_resolve(w, c, (const char *[]){port}), 1);
    }
    psm_reader_t *r = tu_reader(seg);
    cr_assert_eq(psm_render(rn, r, PSM_FMT_PROTOBUF, &big.b, 0, NULL), 0);
    split(&big);
    cr_assert_gt(big.fam[0].n, 127);
    psm_reader_close(r);
    psm_writer_close(w);
    shm_unlink(seg);

    w = tu_writer(&(struct psm_writer_opts){.name = seg});
    c = tu_register(w, "t_flaps_total", PSM_COUNTER, 1, ln);
    psm_counter_add(psm_counter_resolve(w, c, (const char *[]){"Ethernet0"}), 1);
    r = tu_reader(seg);
    cr_assert_eq(psm_render(rn, r, PSM_FMT_PROTOBUF, &small.b, 0, NULL), 0);
    split(&small);
    render(r, &cold);
    cr_assert_eq(small.nfam, 1);
    cr_assert_lt(small.fam[0].n, 128);
    cr_assert_eq((const char *)small.fam[0].p - small.b.p, 1, "one byte of length");
    cr_assert_eq(small.b.len, cold.b.len);
    cr_assert_eq(memcmp(small.b.p, cold.b.p, small.b.len), 0, "as a fresh renderer has it");
    psm_renderer_free(rn);
    psm_buf_free(&big.b);
    psm_buf_free(&small.b);
    psm_buf_free(&cold.b);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(renderpb, the_callers_own_families_encode_as_the_segments_do)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    const char *ln[] = {"code"};
    char err[256];
    int c = psm_metric_register(w,
                                &(struct psm_metric_spec){.name = "t_scrapes_total",
                                                          .help = "Scrapes.",
                                                          .type = PSM_COUNTER,
                                                          .label_count = 1,
                                                          .label_names = ln},
                                err, sizeof err);
    psm_counter_add(psm_counter_resolve(w, c, (const char *[]){"200"}), 5);
    psm_counter_add(psm_counter_resolve(w, c, (const char *[]){"503"}), 1);
    psm_reader_t *r = tu_reader(seg);
    struct body y;
    render(r, &y);
    struct psm_buf own = {0};
    size_t mark = psm_render_pb_family_begin(&own, "t_scrapes_total", PSM_COUNTER, "Scrapes.");
    psm_render_pb_sample(&own, PSM_COUNTER, 1, ln, (const char *[]){"200"}, 5);
    psm_render_pb_sample(&own, PSM_COUNTER, 1, ln, (const char *[]){"503"}, 1);
    psm_render_pb_family_end(&own, mark);
    cr_assert_eq(own.len, y.b.len);
    cr_assert_eq(memcmp(own.p, y.b.p, own.len), 0);
    psm_buf_free(&own);
    psm_buf_free(&y.b);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(renderpb, the_callers_own_histogram_carries_classic_and_native_buckets)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    psm_histogram_t *h =
        psm_histogram_resolve(w, register_latency(w, "t_e_seconds", 1, 3, 0), NULL);
    psm_histogram_observe(h, 0.0001);
    psm_histogram_observe(h, 0.3);
    psm_reader_t *r = tu_reader(seg);
    struct body y;
    render(r, &y);
    struct psm_series_view v;
    psm_reader_series(r, 0, &v);
    struct psm_hist_snapshot snap;
    struct psm_native_bucket nb[8];
    struct psm_native_snapshot nat = {.buckets = nb, .cap = 8};
    cr_assert_eq(psm_reader_hist_read_native(&v, &snap, &nat), 0);
    struct psm_buf own = {0};
    size_t mark = psm_render_pb_family_begin(&own, "t_e_seconds", PSM_HISTOGRAM, "");
    psm_render_pb_histogram(&own, 0, NULL, NULL, &snap, v.desc->bounds, 7, &nat);
    psm_render_pb_family_end(&own, mark);
    cr_assert_eq(own.len, y.b.len);
    cr_assert_eq(memcmp(own.p, y.b.p, own.len), 0);
    psm_buf_free(&own);
    psm_buf_free(&y.b);
    psm_reader_close(r);
    psm_writer_close(w);
}

/*
 * A hostile segment can hold bucket counts above 2^63 that still add up to the
 * count modulo 2^64 (the reader's sums wrap as the cells do). The deltas between
 * them must be computed without signed overflow (UBSan aborts on it).
 */
Test(renderpb, bucket_counts_beyond_int64_encode_without_overflow)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    psm_histogram_t *h =
        psm_histogram_resolve(w, register_latency(w, "t_f_seconds", 1, 3, 0), NULL);
    psm_histogram_observe(h, 0.002);
    uint32_t a = psm_histogram_native_slot(h, 0.002), b = psm_histogram_native_slot(h, 0.2);
    /* a: INT64_MAX, b: 2^63 + 2; together 2^64 + 1, which is the count modulo 2^64. */
    atomic_fetch_add(&h->native[a], (uint64_t)INT64_MAX - 1);
    atomic_fetch_add(&h->native[b], (UINT64_C(1) << 63) + 2);
    psm_reader_t *r = tu_reader(seg);
    struct body y;
    render(r, &y);
    struct slice hist = histogram_of(y.fam[0], 0), packed;
    cr_assert(field(hist, 0x6a, 0, &packed, NULL), "native buckets sent");
    int64_t first = unzigzag(get_varint(&packed));
    cr_assert_eq(first, INT64_MAX);
    psm_buf_free(&y.b);
    psm_reader_close(r);
    psm_writer_close(w);
}
