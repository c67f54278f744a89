/*
 * bench/psm-bench.c - microbenchmarks of libpsmetrics against the targets.
 *
 * Part 1, the writer's hot path: ns per operation of psm_counter_inc (on an
 * unlabelled and a labelled counter), psm_gauge_set and psm_histogram_observe,
 * with 1 and 2 threads hammering the same handle, each next to a bare relaxed
 * atomic_fetch_add measured in the same run with the same thread count.
 * Part 2, the scrape path: psm_render (Prometheus text) of segments holding
 * 1k, 10k and 100k labelled series, and how that time scales.
 *
 * Every figure is the median of several repeats, and the repeats of the hot
 * path are interleaved across operations so that a burst of noise from
 * another tenant of the machine spreads over all of them instead of skewing
 * one ratio. Segments are named psm-bench-*-<pid> and unlinked at the end,
 * and on SIGINT/SIGTERM.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "psm/reader.h"
#include "psm/render.h"
#include "psm/writer.h"

#ifndef PSM_BENCH_VERSION
#define PSM_BENCH_VERSION "0.0.0"
#endif

/* Targets from the issue. */
#define TARGET_COUNTER_RATIO 1.5  /* counter inc vs bare atomic */
#define TARGET_OBSERVE_NS    15.0 /* histogram observe, one thread */
#define TARGET_RENDER_MS     25.0 /* render of 100k series */
#define TARGET_LINEAR        1.5  /* time per series may grow at most this much per 10x */

#define MAX_THREADS 2
#define MAX_REPEATS 15

static const double bench_bounds[] = {.001, .005, .01, .05, .1, .5, 1};
#define NBOUNDS (sizeof bench_bounds / sizeof bench_bounds[0])
/* Observations cycling through every bucket, +Inf included. */
static const double bench_values[8] = {.0004, .003, .007, .03, .07, .3, .7, 2.5};

enum op { OP_ATOMIC, OP_COUNTER, OP_COUNTER_LABELLED, OP_GAUGE, OP_HISTOGRAM, OP_COUNT };

static const char *const op_names[OP_COUNT] = {
    "atomic_fetch_add relaxed (baseline)", "psm_counter_inc (unlabelled)",
    "psm_counter_inc (labelled)",          "psm_gauge_set",
    "psm_histogram_observe (7 buckets)",
};

struct hot {
    _Alignas(64) _Atomic uint64_t baseline; /* alone in its line, like a counter cell */
    char pad[64 - sizeof(_Atomic uint64_t)];
    psm_counter_t *counter, *labelled;
    psm_gauge_t *gauge;
    psm_histogram_t *hist;
};

struct config {
    int quick, strict;
    int hot, render; /* parts to run */
    uint64_t ops;    /* per thread per repeat */
    unsigned repeats;
    unsigned render_reps[3];
};

/* Segment names to unlink at exit and from the signal handler. */
static char cleanup_names[4][64];
static volatile sig_atomic_t cleanup_count;
static int misses;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void cleanup_add(const char *name)
{
    snprintf(cleanup_names[cleanup_count], sizeof cleanup_names[0], "%s", name);
    cleanup_count++;
}

static void cleanup_all(void)
{
    for (int i = 0; i < cleanup_count; i++)
        shm_unlink(cleanup_names[i]);
    cleanup_count = 0;
}

/* unlink() is async-signal-safe; shm_unlink() is not promised to be. */
static void on_signal(int sig)
{
    char path[96];
    for (int i = 0; i < cleanup_count; i++) {
        size_t n = strlen(cleanup_names[i]);
        memcpy(path, "/dev/shm/", 9);
        memcpy(path + 9, cleanup_names[i], n + 1);
        unlink(path);
    }
    _exit(128 + sig);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *v, unsigned n)
{
    double tmp[256];
    if (n > 256)
        n = 256;
    memcpy(tmp, v, n * sizeof *v);
    qsort(tmp, n, sizeof *tmp, cmp_double);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

static const char *mark(int pass)
{
    if (!pass)
        misses++;
    return pass ? "PASS" : "MISS";
}

static void print_machine(const struct config *cfg)
{
    char model[256] = "unknown", line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            snprintf(model, sizeof model, "%s", colon + 2);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    }
    if (f)
        fclose(f);
    struct utsname u;
    if (uname(&u) != 0)
        snprintf(u.release, sizeof u.release, "unknown");
    printf("psm-bench %s\n", PSM_BENCH_VERSION);
    printf("machine: %s, %ld cores online (%ld configured), Linux %s\n", model,
           sysconf(_SC_NPROCESSORS_ONLN), sysconf(_SC_NPROCESSORS_CONF), u.release);
#ifdef __clang__
    const char *cc = "";
#else
    const char *cc = "gcc ";
#endif
#ifdef __OPTIMIZE__
    printf("compiler: %s%s, optimised\n", cc, __VERSION__);
#else
    printf("compiler: %s%s, NOT optimised: figures are meaningless, build Release\n", cc,
           __VERSION__);
#endif
    printf("mode: %s: hot path %u repeats of %llu ops per thread, median; clock "
           "CLOCK_MONOTONIC\n\n",
           cfg->quick ? "quick (smoke test, figures are rough)" : "full", cfg->repeats,
           (unsigned long long)cfg->ops);
}

/* ---- part 1: the hot path ---------------------------------------------- */

/*
 * One loop per operation, each with the operation inlined, so the figure is
 * the operation plus a loop increment and nothing else. The atomics are
 * volatile-like by nature: the compiler may not drop or merge them.
 */
static __attribute__((noinline)) void loop_atomic(struct hot *h, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        atomic_fetch_add_explicit(&h->baseline, 1, memory_order_relaxed);
}

static __attribute__((noinline)) void loop_counter(psm_counter_t *c, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        psm_counter_inc(c);
}

static __attribute__((noinline)) void loop_gauge(psm_gauge_t *g, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        psm_gauge_set(g, (double)i);
}

static __attribute__((noinline)) void loop_hist(psm_histogram_t *hg, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        psm_histogram_observe(hg, bench_values[i & 7]);
}

static void run_op(struct hot *h, enum op op, uint64_t n)
{
    switch (op) {
    case OP_ATOMIC:
        loop_atomic(h, n);
        break;
    case OP_COUNTER:
        loop_counter(h->counter, n);
        break;
    case OP_COUNTER_LABELLED:
        loop_counter(h->labelled, n);
        break;
    case OP_GAUGE:
        loop_gauge(h->gauge, n);
        break;
    case OP_HISTOGRAM:
        loop_hist(h->hist, n);
        break;
    default:
        break;
    }
}

struct worker {
    pthread_t tid;
    struct hot *h;
    enum op op;
    uint64_t n;
    pthread_barrier_t *start;
    uint64_t t0, t1;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    pthread_barrier_wait(w->start);
    w->t0 = now_ns();
    run_op(w->h, w->op, w->n);
    w->t1 = now_ns();
    return NULL;
}

/**
 * measure - run @op with @threads threads, @n ops each, on the same handle
 * @h: the handles
 * @op: the operation
 * @threads: 1..MAX_THREADS
 * @n: operations per thread
 *
 * Returns the wall time in ns from the first thread's start to the last
 * thread's end, or -1 if a thread could not be started.
 */
static double measure(struct hot *h, enum op op, unsigned threads, uint64_t n)
{
    struct worker w[MAX_THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, threads);
    for (unsigned t = 0; t < threads; t++) {
        w[t] = (struct worker){.h = h, .op = op, .n = n, .start = &start};
        int e = pthread_create(&w[t].tid, NULL, worker_main, &w[t]);
        if (e) {
            fprintf(stderr, "psm-bench: cannot start a thread: %s\n", strerror(e));
            exit(1); /* the barrier would wait forever for it */
        }
    }
    uint64_t first = UINT64_MAX, last = 0;
    for (unsigned t = 0; t < threads; t++) {
        pthread_join(w[t].tid, NULL);
        first = w[t].t0 < first ? w[t].t0 : first;
        last = w[t].t1 > last ? w[t].t1 : last;
    }
    pthread_barrier_destroy(&start);
    return (double)(last - first);
}

/**
 * hot_open - a segment with one series of each kind the hot path needs
 * @name: receives the segment name
 * @h: receives the handles
 *
 * Returns the writer, or NULL after printing why.
 */
static psm_writer_t *hot_open(char *name, size_t namelen, struct hot *h)
{
    snprintf(name, namelen, "psm-bench-ops-%d", (int)getpid());
    struct psm_writer_opts wo = {
        .name = name, .desc_capacity = 8, .series_capacity = 16, .replace = 1};
    char err[512];
    psm_writer_t *w;
    if (psm_writer_open(&w, &wo, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "psm-bench: %s\n", err);
        return NULL;
    }
    cleanup_add(name);
    static const char *const lname[] = {"port"};
    static const char *const lval[] = {"Ethernet0"};
    const struct psm_metric_spec specs[4] = {
        {.name = "psm_bench_plain_total", .help = "unlabelled", .type = PSM_COUNTER},
        {.name = "psm_bench_labelled_total",
         .help = "labelled",
         .type = PSM_COUNTER,
         .label_count = 1,
         .label_names = lname},
        {.name = "psm_bench_level",
         .help = "gauge",
         .type = PSM_GAUGE,
         .label_count = 1,
         .label_names = lname},
        {.name = "psm_bench_latency_seconds",
         .help = "histogram",
         .unit = "seconds",
         .type = PSM_HISTOGRAM,
         .label_count = 1,
         .label_names = lname,
         .bucket_count = NBOUNDS,
         .bounds = bench_bounds},
    };
    int id[4];
    for (int k = 0; k < 4; k++) {
        id[k] = psm_metric_register(w, &specs[k], err, sizeof err);
        if (id[k] < 0) {
            fprintf(stderr, "psm-bench: %s\n", err);
            psm_writer_close(w);
            return NULL;
        }
    }
    h->counter = psm_counter_resolve(w, id[0], NULL);
    h->labelled = psm_counter_resolve(w, id[1], lval);
    h->gauge = psm_gauge_resolve(w, id[2], lval);
    h->hist = psm_histogram_resolve(w, id[3], lval);
    return w;
}

/* Every increment must have landed: a lost update is a library bug, not noise. */
static int hot_verify(struct hot *h, const uint64_t *expect)
{
    struct {
        const char *what;
        uint64_t got, want;
    } v[] = {
        {"baseline atomic", atomic_load(&h->baseline), expect[OP_ATOMIC]},
        {"unlabelled counter", atomic_load(&h->counter->v), expect[OP_COUNTER]},
        {"labelled counter", atomic_load(&h->labelled->v), expect[OP_COUNTER_LABELLED]},
        {"histogram count", atomic_load(h->hist->count), expect[OP_HISTOGRAM]},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (v[i].got != v[i].want) {
            fprintf(stderr, "psm-bench: %s is %llu after %llu increments: updates were lost\n",
                    v[i].what, (unsigned long long)v[i].got, (unsigned long long)v[i].want);
            bad = 1;
        }
    return bad;
}

static int bench_hot(const struct config *cfg)
{
    static struct hot h; /* static: 64-byte alignment without aligned_alloc */
    char name[64];
    psm_writer_t *w = hot_open(name, sizeof name, &h);
    if (!w)
        return -1;
    uint64_t expect[OP_COUNT] = {0};
    double ns[MAX_THREADS + 1][OP_COUNT][MAX_REPEATS];

    /* Warm-up: fault in the cells, wake the CPU from its idle clock. */
    for (unsigned t = 1; t <= MAX_THREADS; t++)
        for (int op = 0; op < OP_COUNT; op++) {
            uint64_t n = cfg->ops / 4;
            measure(&h, (enum op)op, t, n);
            expect[op] += n * t;
        }
    for (unsigned r = 0; r < cfg->repeats; r++)
        for (unsigned t = 1; t <= MAX_THREADS; t++)
            for (int op = 0; op < OP_COUNT; op++) {
                ns[t][op][r] = measure(&h, (enum op)op, t, cfg->ops) / (double)cfg->ops;
                expect[op] += cfg->ops * t;
            }

    printf("hot path: ns per op per thread (median of %u), threads share one handle\n",
           cfg->repeats);
    printf("%-37s %3s %9s %10s %9s  %s\n", "operation", "thr", "ns/op", "Mops/s", "vs atomic",
           "target");
    for (unsigned t = 1; t <= MAX_THREADS; t++) {
        double base = median(ns[t][OP_ATOMIC], cfg->repeats);
        for (int op = 0; op < OP_COUNT; op++) {
            double m = median(ns[t][op], cfg->repeats), ratio = m / base;
            char target[64] = "";
            if (op == OP_COUNTER || op == OP_COUNTER_LABELLED)
                snprintf(target, sizeof target, "<= %.1fx  %s", TARGET_COUNTER_RATIO,
                         mark(ratio <= TARGET_COUNTER_RATIO));
            else if (op == OP_HISTOGRAM && t == 1)
                snprintf(target, sizeof target, "<= %.0f ns %s", TARGET_OBSERVE_NS,
                         mark(m <= TARGET_OBSERVE_NS));
            printf("%-37s %3u %9.2f %10.1f %8.2fx  %s\n", op_names[op], t, m, t * 1e3 / m, ratio,
                   target);
        }
    }
    /*
     * Two threads on one cache line should cost more per op than one; if the
     * aggregate throughput merely stays flat, the threads took turns on one
     * CPU and the 2-thread rows show time slicing, not contention.
     */
    double speedup =
        2 * median(ns[1][OP_GAUGE], cfg->repeats) / median(ns[2][OP_GAUGE], cfg->repeats);
    printf("2 threads vs 1 on psm_gauge_set (no shared-line RMW): %.2fx the aggregate "
           "throughput%s\n",
           speedup,
           speedup < 1.3 ? "\n  -> this machine does not run 2 threads in parallel (vCPUs share "
                           "one CPU's time):\n     the 2-thread rows measure time slicing, not "
                           "cache-line contention"
                         : "");
    int bad = hot_verify(&h, expect);
    printf("lost updates: %s\n\n", bad ? "YES (see stderr)" : "none");
    psm_writer_close(w);
    return bad ? -1 : 0;
}

/* ---- part 2: render ------------------------------------------------------ */

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
        .cells_size = (uint64_t)(n + 64) * psm_type_cell_bytes(PSM_HISTOGRAM, NBOUNDS),
        .replace = 1,
    };
    char err[512];
    psm_writer_t *w;
    if (psm_writer_open(&w, &wo, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "psm-bench: %s\n", err);
        return NULL;
    }
    cleanup_add(name);
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
         .bucket_count = NBOUNDS,
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

struct render_result {
    uint32_t series;
    double cold_ms, median_ms, min_ms;
    size_t bytes;
};

static int bench_render_one(uint32_t n, unsigned reps, struct render_result *res)
{
    char name[64], err[512];
    psm_writer_t *w = render_segment(n, name, sizeof name);
    if (!w)
        return -1;
    psm_reader_t *r;
    if (psm_reader_open(&r, name, err, sizeof err) != 0) {
        fprintf(stderr, "psm-bench: %s\n", err);
        psm_writer_close(w);
        return -1;
    }
    struct psm_buf out = {0};
    struct psm_render_stats st;
    double t[256];
    int rc = 0;
    /* Cold: the first render validates every record; a scraper pays it once per segment. */
    uint64_t t0 = now_ns();
    if (psm_render(r, PSM_FMT_TEXT, &out, 0, &st) != 0)
        rc = -1;
    res->cold_ms = (double)(now_ns() - t0) / 1e6;
    if (reps > 256)
        reps = 256;
    /* Steady state: the buffer keeps its capacity, as a scraper reusing it would. */
    for (unsigned k = 0; k < reps && rc == 0; k++) {
        out.len = 0;
        t0 = now_ns();
        if (psm_render(r, PSM_FMT_TEXT, &out, 0, &st) != 0)
            rc = -1;
        t[k] = (double)(now_ns() - t0) / 1e6;
    }
    if (rc != 0) {
        fprintf(stderr, "psm-bench: render of %s failed: %s\n", name,
                out.oom ? "out of memory" : psm_reader_error(r));
    } else if (st.series != n || st.torn) {
        fprintf(stderr, "psm-bench: render of %s wrote %u of %u series, %u torn\n", name, st.series,
                n, st.torn);
        rc = -1;
    } else {
        res->series = n;
        res->median_ms = median(t, reps);
        res->min_ms = median(t, 1);
        for (unsigned k = 0; k < reps; k++)
            res->min_ms = t[k] < res->min_ms ? t[k] : res->min_ms;
        res->bytes = out.len;
    }
    psm_buf_free(&out);
    psm_reader_close(r);
    psm_writer_close(w);
    return rc;
}

static int bench_render(const struct config *cfg)
{
    static const uint32_t sizes[3] = {1000, 10000, 100000};
    struct render_result res[3];
    for (int i = 0; i < 3; i++)
        if (bench_render_one(sizes[i], cfg->render_reps[i], &res[i]) != 0)
            return -1;
    printf("render: psm_render PSM_FMT_TEXT, thirds counters/gauges/histograms, 1 label\n");
    printf("%8s %5s %10s %9s %10s %11s %10s  %s\n", "series", "reps", "median ms", "min ms",
           "cold ms", "bytes", "ns/series", "target");
    for (int i = 0; i < 3; i++) {
        char target[64] = "";
        if (sizes[i] == 100000)
            snprintf(target, sizeof target, "<= %.0f ms %s", TARGET_RENDER_MS,
                     mark(res[i].median_ms <= TARGET_RENDER_MS));
        printf("%8u %5u %10.3f %9.3f %10.3f %11zu %10.1f  %s\n", res[i].series, cfg->render_reps[i],
               res[i].median_ms, res[i].min_ms, res[i].cold_ms, res[i].bytes,
               res[i].median_ms * 1e6 / res[i].series, target);
    }
    double l1 = res[1].median_ms / res[0].median_ms / 10,
           l2 = res[2].median_ms / res[1].median_ms / 10;
    printf("linearity (1.00 = linear): 10k/1k/10 = %.2f %s, 100k/10k/10 = %.2f %s (target <= "
           "%.1f)\n\n",
           l1, mark(l1 <= TARGET_LINEAR), l2, mark(l2 <= TARGET_LINEAR), TARGET_LINEAR);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: psm-bench [--quick] [--strict] [--hot-only | --render-only]\n"
               "\n"
               "Measure the libpsmetrics hot path (ns/op, 1 and 2 threads, against a bare\n"
               "relaxed atomic_fetch_add measured in the same run) and psm_render of 1k, 10k\n"
               "and 100k series, and mark each figure PASS or MISS against its target.\n"
               "\n"
               "  --quick    a short run (under ~3 s) to check that it works; rough figures\n"
               "  --strict   exit 3 if any target is missed\n"
               "  --hot-only, --render-only  run one part (for profiling)\n"
               "  --help     this text\n"
               "  --version  print the version\n"
               "\n"
               "Exit status: 0 done, 1 a benchmark failed (or lost updates), 2 invalid\n"
               "arguments, 3 a target was missed with --strict.\n");
}

int main(int argc, char **argv)
{
    struct config cfg = {
        .hot = 1, .render = 1, .ops = 20000000, .repeats = 5, .render_reps = {201, 51, 15}};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            cfg.quick = 1;
        } else if (strcmp(argv[i], "--strict") == 0) {
            cfg.strict = 1;
        } else if (strcmp(argv[i], "--hot-only") == 0) {
            cfg.render = 0;
        } else if (strcmp(argv[i], "--render-only") == 0) {
            cfg.hot = 0;
        } else if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("psm-bench (portsyncd) %s\n", PSM_BENCH_VERSION);
            return 0;
        } else {
            fprintf(stderr,
                    "psm-bench: unknown argument '%s': expected --quick, --strict, "
                    "--help or --version\n",
                    argv[i]);
            return 2;
        }
    }
    if (cfg.quick) {
        cfg.ops = 500000;
        cfg.repeats = 3;
        cfg.render_reps[0] = 5;
        cfg.render_reps[1] = 3;
        cfg.render_reps[2] = 3;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    setvbuf(stdout, NULL, _IOLBF, 0);
    print_machine(&cfg);
    int rc = (cfg.hot && bench_hot(&cfg) != 0) || (cfg.render && bench_render(&cfg) != 0);
    cleanup_all();
    if (rc)
        return 1;
    printf("targets missed: %d%s\n", misses,
           misses ? " (timings are noisy on a shared VM: rerun before concluding)" : "");
    return cfg.strict && misses ? 3 : 0;
}
