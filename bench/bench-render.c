/*
 * bench/bench-render.c - part 2 of psm-bench: psm_render of segments holding
 * 1k, 10k and 100k labelled series, in Prometheus text and in protobuf (what
 * Prometheus with native histograms negotiates), their time and bytes side by
 * side, and how the time scales with the series count.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "psm/native.h"
#include "psm/reader.h"
#include "psm/render.h"
#include "psm/writer.h"

/**
 * render_segment - build a segment of @n labelled series, thirds of each type
 * @n: series
 * @name: receives the segment name
 *
 * Counters hold integers, gauges multiples of 1/16 (mostly not integers) and
 * each histogram a few observations spread over its buckets, so every number
 * formatting path of the renderer is exercised as a real scrape would. The
 * histograms have portsyncd's latency shape: classic buckets and native ones
 * (1 us .. 10 s at schema 3), which only the protobuf exposition carries.
 * Returns the writer, or NULL after printing why.
 */
static psm_writer_t *render_segment(uint32_t n, char *name, size_t namelen)
{
    snprintf(name, namelen, "psm-bench-render-%u-%d", n, (int)getpid());
    int schema = PSM_NATIVE_SCHEMA_DEFAULT;
    unsigned native_cells = (unsigned)(psm_native_index(schema, PSM_NATIVE_MAX_DEFAULT) -
                                       psm_native_index(schema, PSM_NATIVE_MIN_DEFAULT) + 2);
    struct psm_writer_opts wo = {
        .name = name,
        .desc_capacity = 8,
        .series_capacity = n + 64,
        .blob_size = (uint64_t)(n + 64) * 16 + 16384,
        .cells_size = (uint64_t)(n + 64) * psm_series_cell_bytes(PSM_HISTOGRAM, BENCH_NBOUNDS, 0) +
                      (uint64_t)(n / 3 + 64) * psm_native_cell_bytes(native_cells),
        .replace = 1,
    };
    char err[512];
    psm_writer_t *w;
    if (psm_writer_open(&w, &wo, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "psm-bench: %s\n", err);
        return NULL;
    }
    bench_cleanup_add(name);
    static const char *const lname[] = {"series"};
    const struct psm_metric_spec specs[3] = {
        {.name = "psm_bench_ops_total",
         .help = "Operations.",
         .type = PSM_COUNTER,
         .label_count = 1,
         .label_names = lname},
        {.name = "psm_bench_level",
         .help = "Level.",
         .type = PSM_GAUGE,
         .label_count = 1,
         .label_names = lname},
        {.name = "psm_bench_latency_seconds",
         .help = "Latency.",
         .unit = "seconds",
         .type = PSM_HISTOGRAM,
         .label_count = 1,
         .label_names = lname,
         .bucket_count = BENCH_NBOUNDS,
         .bounds = bench_bounds,
         .native = 1,
         .native_schema = schema},
    };
    int id[3];
    for (int k = 0; k < 3; k++)
        if ((id[k] = psm_metric_register(w, &specs[k], err, sizeof err)) < 0) {
            fprintf(stderr, "psm-bench: %s\n", err);
            psm_writer_close(w);
            return NULL;
        }
    uint32_t nh = n / 3, ng = n / 3, nc = n - nh - ng;
    for (uint32_t i = 0; i < n; i++) {
        char v[16];
        const char *vals[1] = {v};
        snprintf(v, sizeof v, "s%06u", i);
        errno = 0;
        if (i < nc) {
            psm_counter_add(psm_counter_resolve(w, id[0], vals), (uint64_t)i * 7919u % 1000003u);
        } else if (i < nc + ng) {
            psm_gauge_set(psm_gauge_resolve(w, id[1], vals), (double)i / 16.0);
        } else {
            psm_histogram_t *hg = psm_histogram_resolve(w, id[2], vals);
            for (uint32_t k = 0; k < 5; k++)
                psm_histogram_observe(hg, bench_values[(i + k * 3) & 7]);
        }
        if (errno) {
            fprintf(stderr, "psm-bench: segment %s: cannot create series %u: %s\n", name, i,
                    strerror(errno));
            psm_writer_close(w);
            return NULL;
        }
    }
    return w;
}
#define RENDER_SIZES       3
#define RENDER_FORMATS     2
#define RENDER_MAX_SAMPLES 256

static const uint32_t render_sizes[RENDER_SIZES] = {1000, 10000, 100000};
static const enum psm_format render_formats[RENDER_FORMATS] = {PSM_FMT_TEXT, PSM_FMT_PROTOBUF};
static const char *const render_format_names[RENDER_FORMATS] = {"text", "protobuf"};

/* One format's figures for one segment. */
struct render_figures {
    struct psm_buf out;
    double cold_ms;
    uint64_t warm_allocs; /* most allocations any warm render made */
    double ms[RENDER_MAX_SAMPLES];
    unsigned samples;
};

struct render_case {
    uint32_t series;
    char name[64];
    psm_writer_t *w;
    psm_reader_t *r;
    psm_renderer_t *rn;
    struct render_figures f[RENDER_FORMATS];
};

/*
 * One timed render in format @k into its buffer, which keeps its capacity, as a
 * scraper's would. @warm: count the render's allocations (all renders but the
 * first). The protobuf render must carry native buckets for every histogram.
 */
static int render_once(struct render_case *c, int k, double *ms, int warm)
{
    struct render_figures *f = &c->f[k];
    struct psm_render_stats st;
    f->out.len = 0;
    uint64_t a0 = bench_allocs();
    uint64_t t0 = bench_now_ns();
    int rc = psm_render(c->rn, c->r, render_formats[k], &f->out, 0, &st);
    *ms = (double)(bench_now_ns() - t0) / 1e6;
    uint64_t allocs = bench_allocs() - a0;
    if (warm && allocs > f->warm_allocs)
        f->warm_allocs = allocs;
    if (rc != 0) {
        fprintf(stderr, "psm-bench: %s render of %s failed: %s\n", render_format_names[k], c->name,
                f->out.oom ? "out of memory" : psm_reader_error(c->r));
        return -1;
    }
    uint32_t want_native = render_formats[k] == PSM_FMT_PROTOBUF ? c->series / 3 : 0;
    if (st.series != c->series || st.torn || st.native != want_native) {
        fprintf(stderr,
                "psm-bench: %s render of %s wrote %u of %u series, %u torn, %u of %u with "
                "native buckets\n",
                render_format_names[k], c->name, st.series, c->series, st.torn, st.native,
                want_native);
        return -1;
    }
    return 0;
}

static int render_setup(struct render_case *c, uint32_t n)
{
    char err[512];
    c->series = n;
    c->w = render_segment(n, c->name, sizeof c->name);
    if (!c->w)
        return -1;
    if (psm_reader_open(&c->r, c->name, err, sizeof err) != 0) {
        fprintf(stderr, "psm-bench: %s\n", err);
        return -1;
    }
    /* One renderer per segment, as the exporter keeps one for its segment. */
    if (!(c->rn = psm_renderer_new())) {
        fprintf(stderr, "psm-bench: out of memory for a renderer\n");
        return -1;
    }
    /* Cold: the first render validates every record; a scraper pays it once per segment. */
    int rc = 0;
    for (int k = 0; k < RENDER_FORMATS && rc == 0; k++)
        rc = render_once(c, k, &c->f[k].cold_ms, 0);
    return rc;
}

static void render_teardown(struct render_case *c)
{
    for (int k = 0; k < RENDER_FORMATS; k++)
        psm_buf_free(&c->f[k].out);
    psm_renderer_free(c->rn);
    psm_reader_close(c->r);
    psm_writer_close(c->w);
}

static double render_min(const struct render_figures *f)
{
    double min = f->ms[0];
    for (unsigned k = 1; k < f->samples; k++)
        min = f->ms[k] < min ? f->ms[k] : min;
    return min;
}

/*
 * Rounds interleave the sizes and the formats, each round rendering every size
 * about as long (the small ones several times), so noise from other tenants of
 * the machine lands on every size and format alike and the ratios between them
 * stay meaningful.
 */
int bench_render(const struct bench_config *cfg)
{
    static const unsigned per_round[RENDER_SIZES] = {12, 4, 1};
    static struct render_case cases[RENDER_SIZES];
    int rc = 0;
    for (int i = 0; i < RENDER_SIZES && rc == 0; i++)
        rc = render_setup(&cases[i], render_sizes[i]);
    for (unsigned round = 0; round < cfg->render_rounds && rc == 0; round++)
        for (int i = 0; i < RENDER_SIZES && rc == 0; i++)
            for (unsigned n = 0; n < per_round[i] && rc == 0; n++)
                for (int k = 0; k < RENDER_FORMATS && rc == 0; k++) {
                    struct render_figures *f = &cases[i].f[k];
                    rc = render_once(&cases[i], k, &f->ms[f->samples], 1);
                    if (f->samples + 1 < RENDER_MAX_SAMPLES)
                        f->samples++;
                }
    if (rc == 0) {
        double med[RENDER_FORMATS][RENDER_SIZES];
        uint64_t warm_allocs = 0;
        printf("render: psm_render, thirds counters/gauges/histograms (7 classic buckets, native "
               "1 us .. 10 s at schema 3), 1 label, %u interleaved rounds\n",
               cfg->render_rounds);
        printf("%8s %-8s %7s %10s %9s %9s %11s %10s %7s %13s  %s\n", "series", "format", "samples",
               "median ms", "min ms", "cold ms", "bytes", "ns/series", "allocs", "vs text t/B",
               "target");
        for (int i = 0; i < RENDER_SIZES; i++)
            for (int k = 0; k < RENDER_FORMATS; k++) {
                const struct render_case *c = &cases[i];
                const struct render_figures *f = &c->f[k];
                med[k][i] = bench_median(f->ms, f->samples);
                char target[64] = "", vs[32] = "";
                if (c->series == 100000 && render_formats[k] == PSM_FMT_TEXT)
                    snprintf(target, sizeof target, "<= %.0f ms %s", TARGET_RENDER_MS,
                             bench_mark(med[k][i] <= TARGET_RENDER_MS));
                if (k > 0)
                    snprintf(vs, sizeof vs, "%.2fx/%.2fx", med[k][i] / med[0][i],
                             (double)f->out.len / (double)c->f[0].out.len);
                printf("%8u %-8s %7u %10.3f %9.3f %9.3f %11zu %10.1f %7llu %13s  %s\n", c->series,
                       render_format_names[k], f->samples, med[k][i], render_min(f), f->cold_ms,
                       f->out.len, med[k][i] * 1e6 / c->series, (unsigned long long)f->warm_allocs,
                       vs, target);
                warm_allocs = f->warm_allocs > warm_allocs ? f->warm_allocs : warm_allocs;
            }
        for (int k = 0; k < RENDER_FORMATS; k++) {
            double l1 = med[k][1] / med[k][0] / 10, l2 = med[k][2] / med[k][1] / 10;
            printf("linearity of %s (1.00 = linear): 10k/1k/10 = %.2f %s, 100k/10k/10 = %.2f %s "
                   "(target <= %.1f)\n",
                   render_format_names[k], l1, bench_mark(l1 <= TARGET_LINEAR), l2,
                   bench_mark(l2 <= TARGET_LINEAR), TARGET_LINEAR);
        }
        /* A scraper renders a warm segment every scrape: the heap must not churn. */
        printf("heap allocations by warm renders, text and protobuf (allocs: the most in one "
               "render): %llu %s (target 0)\n\n",
               (unsigned long long)warm_allocs, bench_mark(warm_allocs == 0));
    }
    for (int i = 0; i < RENDER_SIZES; i++)
        render_teardown(&cases[i]);
    return rc;
}
