/*
 * bench/bench-render.c - part 2 of psm-bench: psm_render (Prometheus text) of
 * segments holding 1k, 10k and 100k labelled series, and how its time scales
 * with the series count.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
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
 * formatting path of the renderer is exercised as a real scrape would.
 * Returns the writer, or NULL after printing why.
 */
static psm_writer_t *render_segment(uint32_t n, char *name, size_t namelen)
{
    snprintf(name, namelen, "psm-bench-render-%u-%d", n, (int)getpid());
    struct psm_writer_opts wo = {
        .name = name,
        .desc_capacity = 8,
        .series_capacity = n + 64,
        .blob_size = (uint64_t)(n + 64) * 16 + 16384,
        .cells_size = (uint64_t)(n + 64) * psm_type_cell_bytes(PSM_HISTOGRAM, BENCH_NBOUNDS),
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
         .bounds = bench_bounds},
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
#define RENDER_MAX_SAMPLES 256

static const uint32_t render_sizes[RENDER_SIZES] = {1000, 10000, 100000};

struct render_case {
    uint32_t series;
    char name[64];
    psm_writer_t *w;
    psm_reader_t *r;
    psm_renderer_t *rn;
    struct psm_buf out;
    double cold_ms;
    uint64_t warm_allocs; /* most allocations any warm render made */
    double ms[RENDER_MAX_SAMPLES];
    unsigned samples;
};

/*
 * One timed render into @c->out, which keeps its capacity, as a scraper's would.
 * @warm: count the render's allocations into c->warm_allocs (all but the first).
 */
static int render_once(struct render_case *c, double *ms, int warm)
{
    struct psm_render_stats st;
    c->out.len = 0;
    uint64_t a0 = bench_allocs();
    uint64_t t0 = bench_now_ns();
    int rc = psm_render(c->rn, c->r, PSM_FMT_TEXT, &c->out, 0, &st);
    *ms = (double)(bench_now_ns() - t0) / 1e6;
    uint64_t allocs = bench_allocs() - a0;
    if (warm && allocs > c->warm_allocs)
        c->warm_allocs = allocs;
    if (rc != 0) {
        fprintf(stderr, "psm-bench: render of %s failed: %s\n", c->name,
                c->out.oom ? "out of memory" : psm_reader_error(c->r));
        return -1;
    }
    if (st.series != c->series || st.torn) {
        fprintf(stderr, "psm-bench: render of %s wrote %u of %u series, %u torn\n", c->name,
                st.series, c->series, st.torn);
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
    return render_once(c, &c->cold_ms, 0);
}

static void render_teardown(struct render_case *c)
{
    psm_buf_free(&c->out);
    psm_renderer_free(c->rn);
    psm_reader_close(c->r);
    psm_writer_close(c->w);
}

/*
 * Rounds interleave the sizes, each round rendering every size about as long
 * (the small ones several times), so noise from other tenants of the machine
 * lands on every size alike and the linearity ratios stay meaningful.
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
            for (unsigned k = 0; k < per_round[i] && rc == 0; k++) {
                struct render_case *c = &cases[i];
                rc = render_once(c, &c->ms[c->samples], 1);
                if (c->samples + 1 < RENDER_MAX_SAMPLES)
                    c->samples++;
            }
    if (rc == 0) {
        double med[RENDER_SIZES];
        uint64_t warm_allocs = 0;
        printf("render: psm_render PSM_FMT_TEXT, thirds counters/gauges/histograms, 1 label, "
               "%u interleaved rounds\n",
               cfg->render_rounds);
        printf("%8s %7s %10s %9s %9s %11s %10s %7s  %s\n", "series", "samples", "median ms",
               "min ms", "cold ms", "bytes", "ns/series", "allocs", "target");
        for (int i = 0; i < RENDER_SIZES; i++) {
            const struct render_case *c = &cases[i];
            double min = c->ms[0];
            for (unsigned k = 1; k < c->samples; k++)
                min = c->ms[k] < min ? c->ms[k] : min;
            med[i] = bench_median(c->ms, c->samples);
            char target[64] = "";
            if (c->series == 100000)
                snprintf(target, sizeof target, "<= %.0f ms %s", TARGET_RENDER_MS,
                         bench_mark(med[i] <= TARGET_RENDER_MS));
            printf("%8u %7u %10.3f %9.3f %9.3f %11zu %10.1f %7llu  %s\n", c->series, c->samples,
                   med[i], min, c->cold_ms, c->out.len, med[i] * 1e6 / c->series,
                   (unsigned long long)c->warm_allocs, target);
            warm_allocs = c->warm_allocs > warm_allocs ? c->warm_allocs : warm_allocs;
        }
        double l1 = med[1] / med[0] / 10, l2 = med[2] / med[1] / 10;
        printf("linearity (1.00 = linear): 10k/1k/10 = %.2f %s, 100k/10k/10 = %.2f %s "
               "(target <= %.1f)\n",
               l1, bench_mark(l1 <= TARGET_LINEAR), l2, bench_mark(l2 <= TARGET_LINEAR),
               TARGET_LINEAR);
        /* A scraper renders a warm segment every scrape: the heap must not churn. */
        printf("heap allocations by warm renders (allocs: the most in one render): %llu %s "
               "(target 0)\n\n",
               (unsigned long long)warm_allocs, bench_mark(warm_allocs == 0));
    }
    for (int i = 0; i < RENDER_SIZES; i++)
        render_teardown(&cases[i]);
    return rc;
}
