/*
 * tests/unit/test_native_hist.c - native buckets of a histogram, end to end
 * through the segment: how a spec asks for them, where each observation is
 * counted (zero bucket, boundaries, overflow, +Inf, NaN, negative values), and
 * what a reader's snapshot and psm_reader_check() make of them.
 *
 * The histogram of these tests is the one portsyncd registers: the seed's
 * classic buckets .001 .. 1 and native buckets at schema 3 over 1 us .. 10 s,
 * which are the indices -159 .. 27 with the zero bucket up to 2^-20 s.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "psm/native.h"
#include "testutil.h"

static const char *seg;
static const double classic[] = {.001, .005, .01, .05, .1, .5, 1};

static void setup(void)
{
    seg = tu_name("nhist");
    shm_unlink(seg);
}

static void teardown(void)
{
    shm_unlink(seg);
}

TestSuite(nhist, .init = setup, .fini = teardown, .timeout = 60);

static struct psm_metric_spec latency_spec(void)
{
    return (struct psm_metric_spec){.name = "t_latency_seconds",
                                    .help = "Latency.",
                                    .unit = "seconds",
                                    .type = PSM_HISTOGRAM,
                                    .bucket_count = 7,
                                    .bounds = classic,
                                    .native = 1,
                                    .native_schema = 3};
}

static int register_spec(psm_writer_t *w, struct psm_metric_spec s)
{
    char err[512] = "";
    int id = psm_metric_register(w, &s, err, sizeof err);
    cr_assert_geq(id, 0, "register: %s", err);
    return id;
}

/* Register @s and expect EINVAL with @needle in the message. */
static void expect_refused(psm_writer_t *w, struct psm_metric_spec s, const char *needle)
{
    char err[512] = "";
    cr_assert_eq(psm_metric_register(w, &s, err, sizeof err), -1, "accepted (%s)", needle);
    cr_assert_eq(errno, EINVAL);
    cr_assert(strstr(err, needle), "message '%s' lacks '%s'", err, needle);
}

/* A writer with the latency histogram, and its handle. */
static psm_writer_t *latency_writer(psm_histogram_t **h)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    *h = psm_histogram_resolve(w, register_spec(w, latency_spec()), NULL);
    return w;
}

/* The native snapshot of series 0, asserted consistent. */
struct nsnap {
    struct psm_hist_snapshot h;
    struct psm_native_snapshot n;
    struct psm_native_bucket b[PSM_MAX_NATIVE_BUCKETS];
};

static void read_native(struct nsnap *s)
{
    psm_reader_t *r = tu_reader(seg);
    struct psm_series_view v;
    psm_reader_series(r, 0, &v);
    s->n = (struct psm_native_snapshot){.buckets = s->b, .cap = PSM_MAX_NATIVE_BUCKETS};
    cr_assert_eq(psm_reader_hist_read_native(&v, &s->h, &s->n), 0, "torn");
    cr_assert(s->n.valid, "native part not valid (stale %d)", s->n.stale);
    psm_reader_close(r);
}

/* How many observations the snapshot has in bucket @index (0 if none). */
static uint64_t in_bucket(const struct nsnap *s, int32_t index)
{
    for (uint32_t k = 0; k < s->n.nbuckets; k++)
        if (s->n.buckets[k].index == index)
            return s->n.buckets[k].count;
    return 0;
}

/* Observe @v alone into a fresh histogram: the zero count, or the one bucket it landed in. */
static void observe_one(double v, int32_t *index, uint64_t *zero)
{
    psm_histogram_t *h;
    shm_unlink(seg);
    psm_writer_t *w = latency_writer(&h);
    psm_histogram_observe(h, v);
    struct nsnap s;
    read_native(&s);
    cr_assert_eq(s.h.count, 1);
    cr_assert_eq(s.n.zero_count + (s.n.nbuckets ? s.n.buckets[0].count : 0), 1,
                 "%a counted %llu + %u times", v, (unsigned long long)s.n.zero_count, s.n.nbuckets);
    *zero = s.n.zero_count;
    *index = s.n.nbuckets ? s.n.buckets[0].index : INT32_MIN;
    psm_writer_close(w);
}

static void expect_bucket(double v, int32_t want)
{
    int32_t got;
    uint64_t zero;
    observe_one(v, &got, &zero);
    cr_assert_eq(zero, 0, "%a (%.17g) went to the zero bucket, expected bucket %d", v, v, want);
    cr_assert_eq(got, want, "%a (%.17g) is in bucket %d, expected %d", v, v, got, want);
}

static void expect_zero_bucket(double v)
{
    int32_t got;
    uint64_t zero;
    observe_one(v, &got, &zero);
    cr_assert_eq(zero, 1, "%a (%.17g) went to bucket %d, expected the zero bucket", v, v, got);
}

Test(nhist, the_default_range_is_1us_to_10s_at_schema3)
{
    psm_histogram_t *h;
    psm_writer_t *w = latency_writer(&h);
    psm_reader_t *r = tu_reader(seg);
    const struct psm_desc_view *d = psm_reader_desc(r, 0);
    cr_assert_eq(d->native_schema, 3);
    cr_assert_eq(d->native_first, -159, "1e-6 lies in (2^(-160/8), 2^(-159/8)]");
    cr_assert_eq(d->native_count, 187, "up to 10 s, in bucket 27");
    cr_assert_eq(d->native_zero_threshold, 0x1p-20, "the first bucket's lower bound");
    cr_assert_eq(d->bucket_count, 7, "the classic buckets stay as given");
    cr_assert_eq(memcmp(d->bounds, classic, sizeof classic), 0);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(nhist, zero_and_values_at_or_below_the_zero_threshold_go_to_the_zero_bucket)
{
    expect_zero_bucket(0.0);
    expect_zero_bucket(-0.0);
    expect_zero_bucket(1e-9);
    expect_zero_bucket(0x1p-20);
    expect_zero_bucket(DBL_TRUE_MIN);
    expect_bucket(nextafter(0x1p-20, 1), -159);
}

Test(nhist, negative_values_go_to_the_zero_bucket)
{
    expect_zero_bucket(-1e-9);
    expect_zero_bucket(-5);
    expect_zero_bucket(-INFINITY);
}

Test(nhist, exact_powers_and_their_neighbours_land_as_prometheus_bounds_them)
{
    expect_bucket(1.0, 0);
    expect_bucket(nextafter(1.0, 2), 1);
    expect_bucket(nextafter(1.0, 0), 0);
    expect_bucket(0.5, -8);
    expect_bucket(0x1p-19, -152);
    /* 2^(-1/2), which Prometheus bounds at 0.7071067811865475. */
    expect_bucket(0.7071067811865475, -4);
    expect_bucket(nextafter(0.7071067811865475, 1), -3);
    expect_bucket(0.0001, psm_native_index(3, 0.0001));
    expect_bucket(0.0001, -106);
}

Test(nhist, values_above_the_last_bucket_are_counted_in_it)
{
    double top = psm_native_bound(3, 27);
    cr_assert(top > 10.37 && top < 10.38, "bucket 27 ends at 2^(27/8), %.17g", top);
    expect_bucket(10.0, 27);
    expect_bucket(top, 27);
    expect_bucket(nextafter(top, INFINITY), 27);
    expect_bucket(1e6, 27);
    expect_bucket(DBL_MAX, 27);
}

Test(nhist, inf_and_nan_are_counted_in_the_last_bucket_as_in_the_classic_part)
{
    expect_bucket(INFINITY, 27);
    expect_bucket(NAN, 27);
    psm_histogram_t *h;
    shm_unlink(seg);
    psm_writer_t *w = latency_writer(&h);
    psm_histogram_observe(h, NAN);
    psm_histogram_observe(h, INFINITY);
    struct nsnap s;
    read_native(&s);
    cr_assert_eq(s.h.cumulative[6], 0, "neither is <= 1");
    cr_assert_eq(s.h.cumulative[7], 2, "both in the classic +Inf bucket");
    cr_assert(isnan(s.h.sum));
    psm_writer_close(w);
}

Test(nhist, a_snapshot_holds_the_same_observations_in_both_parts)
{
    psm_histogram_t *h;
    psm_writer_t *w = latency_writer(&h);
    static const double v[] = {0, 0.0001, 0.0001, 0.00012, 0.0008, 0.003, 0.2, 5, 50};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        psm_histogram_observe(h, v[i]);
    struct nsnap s;
    read_native(&s);
    cr_assert_eq(s.h.count, 9);
    cr_assert_eq(s.h.cumulative[7], 9);
    cr_assert_eq(s.h.cumulative[0], 5, "<= 1 ms: 0, 0.1 ms twice, 0.12 ms, 0.8 ms");
    uint64_t total = s.n.zero_count;
    for (uint32_t k = 0; k < s.n.nbuckets; k++) {
        total += s.n.buckets[k].count;
        if (k)
            cr_assert_gt(s.n.buckets[k].index, s.n.buckets[k - 1].index, "ascending");
    }
    cr_assert_eq(total, 9, "zero bucket and native buckets add up to the count");
    cr_assert_eq(s.n.zero_count, 1);
    cr_assert_eq(in_bucket(&s, psm_native_index(3, 0.0001)), 2);
    cr_assert_eq(in_bucket(&s, 19), 1, "5 s in (4.76, 5.19]");
    cr_assert_eq(in_bucket(&s, 27), 1, "50 s, clamped into the last bucket");
    cr_assert_eq(s.n.nbuckets, 7, "sparse: only populated buckets");
    cr_assert_eq(s.n.schema, 3);
    cr_assert_eq(s.n.zero_threshold, 0x1p-20);
    psm_writer_close(w);
}

Test(nhist, too_small_a_bucket_array_gives_no_native_part_rather_than_a_cut_one)
{
    psm_histogram_t *h;
    psm_writer_t *w = latency_writer(&h);
    psm_histogram_observe(h, 0.001);
    psm_histogram_observe(h, 0.002);
    psm_reader_t *r = tu_reader(seg);
    struct psm_series_view v;
    psm_reader_series(r, 0, &v);
    struct psm_hist_snapshot snap;
    struct psm_native_bucket one[1];
    struct psm_native_snapshot nat = {.buckets = one, .cap = 1};
    cr_assert_eq(psm_reader_hist_read_native(&v, &snap, &nat), 0);
    cr_assert_eq(snap.count, 2, "the classic part is read all the same");
    cr_assert_not(nat.valid);
    cr_assert_eq(nat.nbuckets, 0);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(nhist, a_histogram_without_native_buckets_reads_as_before)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    psm_histogram_t *h =
        psm_histogram_resolve(w, tu_register(w, "t_lat_seconds", PSM_HISTOGRAM, 0, NULL), NULL);
    cr_assert_null(h->native);
    psm_histogram_observe(h, 0.002);
    psm_reader_t *r = tu_reader(seg);
    struct psm_series_view v;
    psm_reader_series(r, 0, &v);
    cr_assert_null(v.native);
    cr_assert_eq(v.desc->native_count, 0);
    struct psm_hist_snapshot snap;
    struct psm_native_bucket b[4];
    struct psm_native_snapshot nat = {.buckets = b, .cap = 4};
    cr_assert_eq(psm_reader_hist_read_native(&v, &snap, &nat), 0);
    cr_assert_eq(snap.count, 1);
    cr_assert_not(nat.valid);
    cr_assert_not(nat.stale);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(nhist, native_cells_follow_the_classic_lines_and_the_next_series_follows_them)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    const char *ln[] = {"port"};
    struct psm_metric_spec s = latency_spec();
    s.label_count = 1;
    s.label_names = ln;
    int id = register_spec(w, s);
    psm_histogram_t *a = psm_histogram_resolve(w, id, (const char *[]){"a"});
    psm_histogram_t *b = psm_histogram_resolve(w, id, (const char *[]){"b"});
    uintptr_t base = (uintptr_t)a->count;
    cr_assert_eq((uintptr_t)a->native - base, 2 * 64, "10 classic cells take two lines");
    cr_assert_eq((uintptr_t)b->count - base, 2 * 64 + 24 * 64, "188 native cells take 24 lines");
    char err[512];
    psm_reader_t *r = tu_reader(seg);
    cr_assert_eq(psm_reader_check(r, err, sizeof err), 0, "%s", err);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(nhist, native_buckets_are_part_of_the_shape)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    int id = register_spec(w, latency_spec());
    cr_assert_eq(register_spec(w, latency_spec()), id, "the same spec finds the same metric");
    char err[512];
    struct psm_metric_spec s = latency_spec();
    s.native = 0;
    cr_assert_eq(psm_metric_register(w, &s, err, sizeof err), -1);
    cr_assert_eq(errno, EEXIST);
    cr_assert(strstr(err, "it has native buckets, this build's has none"), "%s", err);
    s = latency_spec();
    s.native_schema = 4;
    cr_assert_eq(psm_metric_register(w, &s, err, sizeof err), -1, "another schema");
    cr_assert_eq(errno, EEXIST);
    s = latency_spec();
    s.native_max = 100;
    cr_assert_eq(psm_metric_register(w, &s, err, sizeof err), -1, "another range");
    cr_assert_eq(errno, EEXIST);
    psm_writer_close(w);
}

Test(nhist, bad_native_specs_are_refused_with_a_clear_message)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    struct psm_metric_spec s = latency_spec();
    s.native_schema = 9;
    expect_refused(w, s, "native schema 9 is outside -4..8");
    s.native_schema = -5;
    expect_refused(w, s, "native schema -5 is outside -4..8");
    s = latency_spec();
    s.native_min = 2, s.native_max = 1;
    expect_refused(w, s, "native range 2 .. 1");
    s.native_min = NAN, s.native_max = 1;
    expect_refused(w, s, "native range nan .. 1");
    s = latency_spec();
    s.native_schema = 8, s.native_min = 1e-6, s.native_max = 1e6;
    expect_refused(w, s, "at most 4096 fit");
    s = (struct psm_metric_spec){.name = "t_ops_total", .type = PSM_COUNTER, .native = 1};
    expect_refused(w, s, "only histograms have native buckets");
    psm_writer_close(w);
}

Test(nhist, the_schema_limits_are_accepted)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    struct psm_metric_spec s = latency_spec();
    s.name = "t_coarse_seconds", s.native_schema = -4;
    psm_histogram_t *lo = psm_histogram_resolve(w, register_spec(w, s), NULL);
    s.name = "t_fine_seconds", s.native_schema = 8, s.native_min = 0.5, s.native_max = 2;
    psm_histogram_t *hi = psm_histogram_resolve(w, register_spec(w, s), NULL);
    psm_histogram_observe(lo, 1.0);
    psm_histogram_observe(hi, 1.0);
    psm_histogram_observe(hi, nextafter(1.0, 2));
    psm_reader_t *r = tu_reader(seg);
    cr_assert_eq(psm_reader_desc(r, 0)->native_first, -1, "1e-6 in (2^-32, 2^-16]");
    cr_assert_eq(psm_reader_desc(r, 0)->native_count, 3, "up to 10 in (1, 65536]");
    cr_assert_eq(psm_reader_desc(r, 1)->native_first, -256);
    cr_assert_eq(psm_reader_desc(r, 1)->native_count, 513);
    char err[512];
    cr_assert_eq(psm_reader_check(r, err, sizeof err), 0, "%s", err);
    psm_reader_close(r);
    psm_writer_close(w);
}

/* A read-write view of the segment, to play an inconsistent or foreign writer. */
static uint8_t *map_rw(size_t *len)
{
    int fd = shm_open(seg, O_RDWR, 0);
    cr_assert(fd >= 0);
    struct stat st;
    fstat(fd, &st);
    *len = (size_t)st.st_size;
    uint8_t *p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    cr_assert_neq(p, MAP_FAILED);
    return p;
}

static _Atomic uint64_t *native_cells_of(uint8_t *base, uint32_t series)
{
    const struct psm_header *hd = (const struct psm_header *)base;
    const struct psm_series *s = (const struct psm_series *)(base + hd->series_offset) + series;
    const struct psm_desc *d = (const struct psm_desc *)(base + hd->desc_offset) + s->desc_index;
    return (_Atomic uint64_t *)(base + hd->cells_offset + s->cells_off) +
           psm_native_cells_offset(d->bucket_count);
}

/* psm_reader_check() of the segment, with no patience for torn histograms. */
static int check(char *err, size_t len)
{
    psm_reader_t *r = tu_reader(seg);
    psm_reader_set_patience(r, 0);
    int rc = psm_reader_check(r, err, len);
    psm_reader_close(r);
    return rc;
}

Test(nhist, check_sees_native_buckets_ahead_of_the_count_as_torn)
{
    psm_histogram_t *h;
    psm_writer_t *w = latency_writer(&h);
    psm_histogram_observe(h, 0.0001);
    size_t len;
    uint8_t *p = map_rw(&len);
    char err[512];
    cr_assert_eq(check(err, sizeof err), 0, "%s", err);
    atomic_fetch_add(&native_cells_of(p, 0)[5], 1);
    cr_assert_eq(check(err, sizeof err), -1);
    cr_assert(strstr(err, "never added up to its count"), "%s", err);
    munmap(p, len);
    psm_writer_close(w);
}

Test(nhist, check_names_native_buckets_behind_the_count_as_an_older_writers_doing)
{
    psm_histogram_t *h;
    psm_writer_t *w = latency_writer(&h);
    psm_histogram_observe(h, 0.0001);
    /* What a writer of minor 1 does: classic bucket, sum, count; no native bucket. */
    atomic_fetch_add(&h->buckets[0], 1);
    atomic_fetch_add(h->count, 1);
    char err[512];
    cr_assert_eq(check(err, sizeof err), -1);
    cr_assert(strstr(err, "native buckets hold fewer observations than its count (2)"), "%s", err);
    /* A reader still gets the classic part, consistent, and no native one. */
    psm_reader_t *r = tu_reader(seg);
    struct psm_series_view v;
    psm_reader_series(r, 0, &v);
    struct psm_hist_snapshot snap;
    struct psm_native_bucket b[PSM_MAX_NATIVE_BUCKETS];
    struct psm_native_snapshot nat = {.buckets = b, .cap = PSM_MAX_NATIVE_BUCKETS};
    cr_assert_eq(psm_reader_hist_read_native(&v, &snap, &nat), 0, "not torn");
    cr_assert_eq(snap.attempts, 1, "no retries: waiting cannot fix it");
    cr_assert_eq(snap.count, 2);
    cr_assert(nat.stale);
    cr_assert_not(nat.valid);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(nhist, check_refuses_a_zero_threshold_off_the_first_bucket)
{
    psm_histogram_t *h;
    psm_writer_t *w = latency_writer(&h);
    size_t len;
    uint8_t *p = map_rw(&len);
    const struct psm_header *hd = (const struct psm_header *)p;
    struct psm_desc *d = (struct psm_desc *)(p + hd->desc_offset);
    d->native_zero_threshold = 1e-6;
    char err[512];
    cr_assert_eq(check(err, sizeof err), -1);
    cr_assert(strstr(err, "native zero threshold 9.9999999999999995e-07 is not the lower bound"),
              "%s", err);
    munmap(p, len);
    psm_writer_close(w);
}

Test(nhist, a_series_an_older_writer_made_has_no_native_cells_and_reads_classic_only)
{
    psm_histogram_t *h;
    psm_writer_t *w = latency_writer(&h);
    size_t len;
    uint8_t *p = map_rw(&len);
    const struct psm_header *hd = (const struct psm_header *)p;
    ((struct psm_series *)(p + hd->series_offset))->native_cells = 0;
    psm_reader_t *r = tu_reader(seg);
    struct psm_series_view v;
    psm_reader_series(r, 0, &v);
    cr_assert_null(v.native);
    cr_assert_eq(v.desc->native_count, 187, "its descriptor has native buckets all the same");
    char err[512];
    cr_assert_eq(psm_reader_check(r, err, sizeof err), 0, "%s", err);
    psm_reader_close(r);
    munmap(p, len);
    psm_writer_close(w);
}

/* Observe @n values into a fresh latency histogram and read its native part. */
static void observe_all(const double *v, size_t n, struct nsnap *s)
{
    psm_histogram_t *h;
    shm_unlink(seg);
    psm_writer_t *w = latency_writer(&h);
    for (size_t i = 0; i < n; i++)
        psm_histogram_observe(h, v[i]);
    read_native(s);
    psm_writer_close(w);
}

Test(nhist, quantiles_interpolate_within_the_bucket_as_prometheus_242_does)
{
    /* Prometheus 2.42 answered 0.9585 for the median of these (notes, section 3). */
    static const double v[] = {0.001, 0.002, 0.5, 1, 1, 1.5, 3, 100};
    struct nsnap s;
    observe_all(v, 8, &s);
    double b = psm_native_bound(3, -1); /* 2^(-1/8), the lower bound of bucket 0 */
    cr_assert_float_eq(psm_native_quantile(&s.n, 0.5), b + (1 - b) * 0.5, 1e-15);
    cr_assert_float_eq(psm_native_quantile(&s.n, 0.5), 0.9585, 1e-4);
    cr_assert_eq(psm_native_quantile(&s.n, 0), psm_native_bound(3, -80), "the first lower bound");
    cr_assert_eq(psm_native_quantile(&s.n, 1), psm_native_bound(3, 27), "the last upper bound");
}

Test(nhist, quantiles_of_latencies_are_within_a_bucket_of_the_truth)
{
    /* 1,000 latencies from 50 us to 149.9 us, evenly: p50 100 us, p99 149 us. */
    double v[1000];
    for (int i = 0; i < 1000; i++)
        v[i] = 50e-6 + i * 1e-7;
    struct nsnap s;
    observe_all(v, 1000, &s);
    double p50 = psm_native_quantile(&s.n, 0.5), p99 = psm_native_quantile(&s.n, 0.99);
    cr_assert(fabs(p50 - 99.95e-6) / 99.95e-6 < 0.05, "p50 %g", p50);
    cr_assert(fabs(p99 - 148.95e-6) / 148.95e-6 < 0.05, "p99 %g", p99);
    cr_assert(p99 < 1e-3, "what the classic buckets cannot tell");
}

Test(nhist, a_quantile_in_the_zero_bucket_starts_at_zero)
{
    static const double v[] = {0, 0, 0, 0.001};
    struct nsnap s;
    observe_all(v, 4, &s);
    cr_assert_float_eq(psm_native_quantile(&s.n, 0.5), 0x1p-20 * (2.0 / 3), 1e-20);
}

Test(nhist, quantiles_of_nothing_are_nan_and_out_of_range_q_infinite)
{
    struct nsnap s;
    observe_all(NULL, 0, &s);
    cr_assert(isnan(psm_native_quantile(&s.n, 0.5)));
    static const double v[] = {0.001};
    observe_all(v, 1, &s);
    cr_assert_eq(psm_native_quantile(&s.n, -0.1), -INFINITY);
    cr_assert_eq(psm_native_quantile(&s.n, 1.1), INFINITY);
    cr_assert(isnan(psm_native_quantile(&s.n, NAN)));
    s.n.valid = 0;
    cr_assert(isnan(psm_native_quantile(&s.n, 0.5)), "no estimate from an invalid snapshot");
}
