/*
 * tests/unit/test_render.c - the exposition formats: number formatting,
 * escaping, family grouping, OpenMetrics specifics. promtool and the Python
 * OpenMetrics parser check the same output in tests/integration.
 */
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static const char *seg;

static void setup(void)
{
    seg = tu_name("render");
    shm_unlink(seg);
}

static void teardown(void)
{
    shm_unlink(seg);
}

TestSuite(render, .init = setup, .fini = teardown, .timeout = 30);

static void expect_double(double v, const char *want)
{
    char buf[32];
    size_t n = psm_format_double(v, buf);
    cr_assert_str_eq(buf, want);
    cr_assert_eq(n, strlen(want));
}

Test(render, integral_doubles_print_as_integers)
{
    expect_double(0, "0");
    expect_double(1, "1");
    expect_double(-42, "-42");
    expect_double(1e15, "1000000000000000");
    expect_double(9007199254740991.0, "9007199254740991");
}

Test(render, fractions_print_with_the_fewest_digits_that_round_trip)
{
    expect_double(0.1, "0.1");
    expect_double(0.005, "0.005");
    expect_double(2.5, "2.5");
    expect_double(1e300, "1e+300");
    expect_double(0.1 + 0.2, "0.30000000000000004");
}

Test(render, special_values_use_prometheus_spelling)
{
    expect_double(NAN, "NaN");
    expect_double(INFINITY, "+Inf");
    expect_double(-INFINITY, "-Inf");
}

Test(render, every_double_round_trips)
{
    uint64_t x = 88172645463325252u;
    char buf[32];
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double v = psm_bits_f64(x);
        if (isnan(v))
            continue;
        psm_format_double(v, buf);
        cr_assert_eq(strtod(buf, NULL), v, "%s does not round-trip", buf);
    }
}

Test(render, label_values_and_help_are_escaped)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    const char *ln[] = {"port"};
    char err[256];
    int id = psm_metric_register(w,
                                 &(struct psm_metric_spec){.name = "t_esc_total",
                                                           .help = "a \\ b\nc \"q\"",
                                                           .type = PSM_COUNTER,
                                                           .label_count = 1,
                                                           .label_names = ln},
                                 err, sizeof err);
    cr_assert_geq(id, 0, "%s", err);
    psm_counter_inc(psm_counter_resolve(w, id, (const char *[]){"x\"y\\z\nw"}));
    psm_reader_t *r = tu_reader(seg);
    char *text = tu_render(r, PSM_FMT_TEXT);
    cr_assert(strstr(text, "# HELP t_esc_total a \\\\ b\\nc \"q\"\n"), "%s", text);
    cr_assert(strstr(text, "t_esc_total{port=\"x\\\"y\\\\z\\nw\"} 1\n"), "%s", text);
    char *om = tu_render(r, PSM_FMT_OPENMETRICS);
    cr_assert(strstr(om, "# HELP t_esc a \\\\ b\\nc \\\"q\\\"\n"), "%s", om);
    free(text);
    free(om);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(render, series_are_grouped_under_their_family)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    const char *ln[] = {"port"};
    int a = tu_register(w, "t_a_total", PSM_COUNTER, 1, ln);
    int b = tu_register(w, "t_b", PSM_GAUGE, 1, ln);
    /* Interleave creation: a0 b0 a1 b1 */
    psm_counter_resolve(w, a, (const char *[]){"p0"});
    psm_gauge_resolve(w, b, (const char *[]){"p0"});
    psm_counter_resolve(w, a, (const char *[]){"p1"});
    psm_gauge_resolve(w, b, (const char *[]){"p1"});
    psm_reader_t *r = tu_reader(seg);
    char *text = tu_render(r, PSM_FMT_TEXT);
    const char *want = "# HELP t_a_total test metric\n"
                       "# TYPE t_a_total counter\n"
                       "t_a_total{port=\"p0\"} 0\n"
                       "t_a_total{port=\"p1\"} 0\n"
                       "# HELP t_b test metric\n"
                       "# TYPE t_b gauge\n"
                       "t_b{port=\"p0\"} 0\n"
                       "t_b{port=\"p1\"} 0\n";
    cr_assert_str_eq(text, want);
    free(text);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(render, families_without_series_are_left_out)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    const char *ln[] = {"port"};
    tu_register(w, "t_empty_total", PSM_COUNTER, 1, ln);
    psm_reader_t *r = tu_reader(seg);
    char *text = tu_render(r, PSM_FMT_TEXT);
    cr_assert_str_eq(text, "");
    free(text);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(render, openmetrics_names_counter_families_without_total_and_ends_with_eof)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    int c = tu_register(w, "t_events_total", PSM_COUNTER, 0, NULL);
    psm_counter_add(psm_counter_resolve(w, c, NULL), 12);
    psm_reader_t *r = tu_reader(seg);
    char *om = tu_render(r, PSM_FMT_OPENMETRICS);
    cr_assert_str_eq(om, "# HELP t_events test metric\n"
                         "# TYPE t_events counter\n"
                         "t_events_total 12\n"
                         "# EOF\n");
    free(om);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(render, histograms_have_cumulative_buckets_inf_sum_and_count)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    char err[256];
    int h = psm_metric_register(w,
                                &(struct psm_metric_spec){.name = "t_lat_seconds",
                                                          .help = "Latency.",
                                                          .unit = "seconds",
                                                          .type = PSM_HISTOGRAM,
                                                          .bucket_count = 2,
                                                          .bounds = (double[]){0.5, 1}},
                                err, sizeof err);
    cr_assert_geq(h, 0, "%s", err);
    psm_histogram_t *hh = psm_histogram_resolve(w, h, NULL);
    psm_histogram_observe(hh, 0.25);
    psm_histogram_observe(hh, 0.75);
    psm_histogram_observe(hh, 5);
    psm_reader_t *r = tu_reader(seg);
    char *text = tu_render(r, PSM_FMT_TEXT);
    cr_assert_str_eq(text, "# HELP t_lat_seconds Latency.\n"
                           "# TYPE t_lat_seconds histogram\n"
                           "t_lat_seconds_bucket{le=\"0.5\"} 1\n"
                           "t_lat_seconds_bucket{le=\"1\"} 2\n"
                           "t_lat_seconds_bucket{le=\"+Inf\"} 3\n"
                           "t_lat_seconds_sum 6\n"
                           "t_lat_seconds_count 3\n");
    char *om = tu_render(r, PSM_FMT_OPENMETRICS);
    cr_assert(strstr(om, "# TYPE t_lat_seconds histogram\n# UNIT t_lat_seconds seconds\n"), "%s",
              om);
    free(text);
    free(om);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(render, double_counters_render_their_value)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    char err[256];
    int c = psm_metric_register(w,
                                &(struct psm_metric_spec){.name = "t_cpu_seconds_total",
                                                          .unit = "seconds",
                                                          .type = PSM_COUNTER,
                                                          .flags = PSM_F_COUNTER_DOUBLE},
                                err, sizeof err);
    cr_assert_geq(c, 0, "%s", err);
    psm_counter_store_f64(psm_counter_resolve(w, c, NULL), 1.25);
    psm_reader_t *r = tu_reader(seg);
    char *text = tu_render(r, PSM_FMT_TEXT);
    cr_assert(strstr(text, "t_cpu_seconds_total 1.25\n"), "%s", text);
    free(text);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(render, helper_functions_write_the_same_syntax)
{
    struct psm_buf b = {0};
    psm_render_family(&b, PSM_FMT_OPENMETRICS, "x_scrapes_total", PSM_COUNTER, "Scrapes.", NULL);
    const char *names[] = {"code"}, *values[] = {"200"};
    psm_render_sample(&b, "x_scrapes_total", 1, names, values, 3);
    psm_render_eof(&b, PSM_FMT_OPENMETRICS);
    psm_buf_put(&b, "", 1);
    cr_assert_str_eq(b.p, "# HELP x_scrapes Scrapes.\n# TYPE x_scrapes counter\n"
                          "x_scrapes_total{code=\"200\"} 3\n# EOF\n");
    psm_buf_free(&b);
}

/* The shortest of %.15g, %.16g, %.17g that round-trips: the reference. */
static void reference(double v, char *out)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, 32, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

Test(render, short_decimals_print_as_the_reference_formatting_does)
{
    char got[32], want[32];
    uint64_t x = 1;
    for (int i = 0; i < 200000; i++) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        /* Values with up to six decimals across the fast path's range and its edges. */
        double scale[] = {1e-6, 1e-3, 1, 1e3, 1e6};
        double v = (double)(x >> 40) * scale[(x >> 8) % 5] * ((x & 1) ? -1 : 1);
        if (v == (double)(int64_t)v)
            continue;
        psm_format_double(v, got);
        reference(v, want);
        cr_assert_str_eq(got, want, "value %.17g", v);
    }
}

/* Render @r with @rn into a NUL-terminated heap string. */
static char *render_with(psm_renderer_t *rn, psm_reader_t *r)
{
    struct psm_buf b = {0};
    cr_assert_eq(psm_render(rn, r, PSM_FMT_TEXT, &b, 0, NULL), 0, "%s", psm_reader_error(r));
    psm_buf_put(&b, "", 1);
    return b.p;
}

Test(render, one_renderer_serves_readers_of_different_segments)
{
    const char *ln[] = {"port"};
    char other[160];
    snprintf(other, sizeof other, "%s-other", seg);
    shm_unlink(other);
    psm_writer_t *w1 = tu_writer(&(struct psm_writer_opts){.name = seg});
    int a = tu_register(w1, "t_small_total", PSM_COUNTER, 1, ln);
    psm_counter_inc(psm_counter_resolve(w1, a, (const char *[]){"p0"}));
    psm_writer_t *w2 = tu_writer(&(struct psm_writer_opts){.name = other});
    int b = tu_register(w2, "t_big", PSM_GAUGE, 1, ln);
    int c = tu_register(w2, "t_big_seconds", PSM_HISTOGRAM, 1, ln);
    for (int i = 0; i < 50; i++) {
        char v[16];
        snprintf(v, sizeof v, "p%d", i);
        psm_gauge_set(psm_gauge_resolve(w2, b, (const char *[]){v}), i);
        psm_histogram_observe(psm_histogram_resolve(w2, c, (const char *[]){v}), 0.01 * i);
    }
    psm_reader_t *r1 = tu_reader(seg), *r2 = tu_reader(other);
    char *want1 = tu_render(r1, PSM_FMT_TEXT), *want2 = tu_render(r2, PSM_FMT_TEXT);
    psm_renderer_t *rn = psm_renderer_new();
    cr_assert(rn);
    /* Small, then large (the scratch grows), then small again (it is reset, not reused stale). */
    char *got[3] = {render_with(rn, r1), render_with(rn, r2), render_with(rn, r1)};
    cr_assert_str_eq(got[0], want1);
    cr_assert_str_eq(got[1], want2);
    cr_assert_str_eq(got[2], want1);
    for (int i = 0; i < 3; i++)
        free(got[i]);
    free(want1);
    free(want2);
    psm_renderer_free(rn);
    psm_reader_close(r1);
    psm_reader_close(r2);
    psm_writer_close(w1);
    psm_writer_close(w2);
    shm_unlink(other);
}

static sigjmp_buf *volatile fault_env;

static void on_fault(int sig)
{
    (void)sig;
    siglongjmp(*fault_env, 1);
}

/*
 * The exporter renders under a guard that longjmps out when the segment shrinks
 * under it (SIGBUS). Here the cells' page is made unreadable instead, which
 * faults at the same point, deterministically: after the family header and the
 * label set were written, at the first read of a cell.
 */
Test(render, a_render_abandoned_midway_leaves_the_renderer_usable)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    const char *ln[] = {"port"};
    int id = tu_register(w, "t_guarded_total", PSM_COUNTER, 1, ln);
    psm_counter_add(psm_counter_resolve(w, id, (const char *[]){"p0"}), 7);
    psm_reader_t *r = tu_reader(seg);
    char *want = tu_render(r, PSM_FMT_TEXT);
    struct psm_series_view v;
    psm_reader_series(r, 0, &v);
    long page = sysconf(_SC_PAGESIZE);
    void *cells_page = (void *)((uintptr_t)v.cells & ~(uintptr_t)(page - 1));

    psm_renderer_t *rn = psm_renderer_new();
    cr_assert(rn);
    struct sigaction sa = {.sa_handler = on_fault}, old_segv, old_bus;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
    /* Static: a local changed between sigsetjmp and siglongjmp is indeterminate after. */
    static struct psm_buf b;
    sigjmp_buf env;
    volatile int faulted = 0;
    cr_assert_eq(mprotect(cells_page, (size_t)page, PROT_NONE), 0);
    if (sigsetjmp(env, 1) == 0) {
        fault_env = &env;
        psm_render(rn, r, PSM_FMT_TEXT, &b, 0, NULL);
    } else {
        faulted = 1;
    }
    fault_env = NULL;
    mprotect(cells_page, (size_t)page, PROT_READ);
    sigaction(SIGSEGV, &old_segv, NULL);
    sigaction(SIGBUS, &old_bus, NULL);
    cr_assert(faulted, "the render did not touch the protected cells");
    cr_assert_gt(b.len, 0, "the fault came before the render wrote anything");
    psm_buf_free(&b);

    char *got = render_with(rn, r);
    cr_assert_str_eq(got, want);
    free(got);
    free(want);
    psm_renderer_free(rn);
    psm_reader_close(r);
    psm_writer_close(w);
}
