/*
 * bench/psm-loadgen.c - a synthetic writer for the metrics segment.
 *
 * Builds a fresh segment holding S labelled series spread over one counter,
 * one gauge and one histogram family, then updates random series from T
 * threads at full speed until --seconds expire or SIGINT/SIGTERM arrives. The
 * exporter's tests and benchmarks, and the reader's tests, use it as the
 * writer, so every failure is one clear line and a distinct exit code:
 * 0 done, 1 the segment could not be built, 2 bad arguments.
 *
 * Signals are blocked in every thread and taken synchronously by the main
 * thread with sigtimedwait(), which also paces the heartbeat: no handler runs
 * in the middle of a library call.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "psm-loadgen.h"
#include "psm/writer.h"

/* Heartbeat period: readers call a writer dead after a few seconds without one. */
#define LG_HEARTBEAT_NS 250000000L
/* Updates between two looks at the stop flag: keeps the flag off the hot path. */
#define LG_BATCH 1024u

static const double lg_bounds[] = {.001, .005, .01, .05, .1, .5, 1};
#define LG_NBOUNDS (sizeof lg_bounds / sizeof lg_bounds[0])

/* One value per bucket, +Inf included, so every bucket line moves. */
static const double lg_latencies[8] = {.0004, .003, .007, .03, .07, .3, .7, 2.5};

struct lg_state {
    uint32_t total, nc, ng, nh;
    psm_counter_t **c;
    psm_gauge_t **g;
    psm_histogram_t **h;
    int fixed;
    double value;
};

/* Per-thread slot, one cache line each so the final counts do not false-share. */
struct lg_thread {
    _Alignas(64) pthread_t tid;
    unsigned idx;
    const struct lg_state *st;
    uint64_t updates;
};

static atomic_int lg_stop;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t xorshift64(uint64_t x)
{
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
}

/* Gauge values: multiples of 1/16, mostly not integers, as real levels and ratios are. */
static inline double lg_level(uint64_t x)
{
    return (double)(x & 0xffff) / 16.0;
}

/**
 * lg_worker - update random series until lg_stop is set
 * @arg: the thread's struct lg_thread; its updates field receives the count
 */
static void *lg_worker(void *arg)
{
    struct lg_thread *t = arg;
    const struct lg_state *st = t->st;
    uint64_t x = 0x9e3779b97f4a7c15ull * (t->idx + 1), n = 0;
    if (st->total == 0)
        return NULL;
    while (!atomic_load_explicit(&lg_stop, memory_order_relaxed)) {
        for (unsigned k = 0; k < LG_BATCH; k++) {
            x = xorshift64(x);
            /* Multiply-shift maps the high half onto [0, total) without a division. */
            uint32_t i = (uint32_t)(((x >> 32) * st->total) >> 32);
            if (i < st->nc) {
                psm_counter_inc(st->c[i]);
            } else if ((i -= st->nc) < st->ng) {
                psm_gauge_set(st->g[i], st->fixed ? st->value : lg_level(x));
            } else {
                psm_histogram_observe(st->h[i - st->ng],
                                      st->fixed ? st->value : lg_latencies[(x >> 8) & 7]);
            }
        }
        n += LG_BATCH;
    }
    t->updates = n;
    return NULL;
}

/*
 * Fail early with a clear line rather than SIGBUS on a page the filesystem
 * cannot back: /dev/shm for a name, the file's directory for a path.
 */
static int check_shm_space(const char *name, uint64_t need)
{
    char dir[PSM_MAX_PATH_LEN] = "/dev/shm";
    if (name[0] == '/')
        snprintf(dir, sizeof dir, "%.*s", (int)(strrchr(name, '/') - name), name);
    if (!dir[0])
        snprintf(dir, sizeof dir, "/");
    struct statvfs vfs;
    if (statvfs(dir, &vfs) != 0)
        return 0; /* nothing to ask: let psm_writer_open() decide */
    uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    if (need <= avail)
        return 0;
    fprintf(stderr,
            "psm-loadgen: segment %s: needs %llu MiB but %s has %llu MiB free: "
            "use fewer --series\n",
            name, (unsigned long long)(need >> 20), dir, (unsigned long long)(avail >> 20));
    return -1;
}

/* 1 if SIGINT or SIGTERM is pending (they are blocked; lg_wait() takes them). */
static int stop_pending(void)
{
    sigset_t p;
    return sigpending(&p) == 0 && (sigismember(&p, SIGINT) == 1 || sigismember(&p, SIGTERM) == 1);
}

/**
 * lg_build - open a fresh segment and resolve every series
 * @o: the options
 * @st: receives the handles
 * @wp: receives the writer
 *
 * Returns 0, 1 when SIGINT/SIGTERM arrived during setup (a clean stop), or
 * -1 after printing one line saying what failed.
 */
static int lg_build(const struct lg_opts *o, struct lg_state *st, psm_writer_t **wp)
{
    uint32_t total = (uint32_t)o->series;
    st->nh = total / 3;
    st->ng = total / 3;
    st->nc = total - st->nh - st->ng;
    st->total = total;
    st->fixed = o->fixed;
    st->value = o->value;

    /* Room beyond S so a reader test can add nothing by accident and still fit. */
    uint64_t room = total / 16 + 64;
    uint64_t cap = total + room > LG_MAX_CAPACITY ? LG_MAX_CAPACITY : total + room;
    /* 188 native cells: 187 buckets of schema 3 over 1 us .. 10 s and the zero bucket. */
    uint64_t hist_bytes = psm_series_cell_bytes(PSM_HISTOGRAM, LG_NBOUNDS, o->native ? 188 : 0);
    uint64_t cell_bytes = psm_type_cell_bytes(PSM_COUNTER, 0);
    struct psm_writer_opts wo = {
        .name = o->name,
        .desc_capacity = 16,
        .series_capacity = (uint32_t)cap,
        /* "s" + up to 8 digits + NUL per series, descriptors' strings and bounds. */
        .blob_size = cap * 16 + 16 * 1024,
        .cells_size = (uint64_t)(st->nc + st->ng) * cell_bytes + (st->nh + room) * hist_bytes,
        .replace = 1,
    };
    uint64_t need = 256 + 16 * sizeof(struct psm_desc) + cap * sizeof(struct psm_series) +
                    wo.blob_size + wo.cells_size;
    if (check_shm_space(o->name, need) != 0)
        return -1;

    char err[512];
    if (psm_writer_open(wp, &wo, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "psm-loadgen: %s\n", err);
        return -1;
    }
    psm_writer_t *w = *wp;
    static const char *const label[] = {"series"};
    const struct psm_metric_spec specs[3] = {
        {.name = "psm_loadgen_ops_total",
         .help = "Synthetic operations counted by psm-loadgen.",
         .type = PSM_COUNTER,
         .label_count = 1,
         .label_names = label},
        {.name = "psm_loadgen_level",
         .help = "Synthetic level set by psm-loadgen.",
         .type = PSM_GAUGE,
         .label_count = 1,
         .label_names = label},
        {.name = "psm_loadgen_latency_seconds",
         .help = "Synthetic latency observed by psm-loadgen.",
         .unit = "seconds",
         .type = PSM_HISTOGRAM,
         .label_count = 1,
         .label_names = label,
         .bucket_count = LG_NBOUNDS,
         .bounds = lg_bounds,
         .native = o->native,
         .native_schema = 3},
    };
    int id[3];
    for (int k = 0; k < 3; k++) {
        id[k] = psm_metric_register(w, &specs[k], err, sizeof err);
        if (id[k] < 0) {
            fprintf(stderr, "psm-loadgen: %s\n", err);
            return -1;
        }
    }
    st->c = calloc(st->nc ? st->nc : 1, sizeof *st->c);
    st->g = calloc(st->ng ? st->ng : 1, sizeof *st->g);
    st->h = calloc(st->nh ? st->nh : 1, sizeof *st->h);
    if (!st->c || !st->g || !st->h) {
        fprintf(stderr, "psm-loadgen: out of memory for %u series handles\n", total);
        return -1;
    }
    /* Label values number the series across families: s000000 .. s<total-1>. */
    for (uint32_t i = 0; i < total; i++) {
        /* Millions of series take seconds: stay alive to readers, and stoppable. */
        if ((i & 0xffff) == 0xffff) {
            psm_writer_heartbeat(w);
            if (stop_pending()) {
                fprintf(stderr, "psm-loadgen: segment %s: interrupted after %u of %u series\n",
                        psm_writer_name(w), i, total);
                return 1;
            }
        }
        char value[16];
        const char *values[1] = {value};
        snprintf(value, sizeof value, "s%06u", i);
        /* A resolve hands out a sink and sets errno when the segment is full. */
        errno = 0;
        if (i < st->nc)
            st->c[i] = psm_counter_resolve(w, id[0], values);
        else if (i < st->nc + st->ng)
            st->g[i - st->nc] = psm_gauge_resolve(w, id[1], values);
        else
            st->h[i - st->nc - st->ng] = psm_histogram_resolve(w, id[2], values);
        if (errno) {
            fprintf(stderr, "psm-loadgen: segment %s: cannot create series %u (%s): %s\n",
                    psm_writer_name(w), i, value, strerror(errno));
            return -1;
        }
    }
    return 0;
}

static void lg_free(struct lg_state *st)
{
    free(st->c);
    free(st->g);
    free(st->h);
}

/**
 * lg_wait - heartbeat until the deadline passes or SIGINT/SIGTERM arrives
 * @w: the writer
 * @sigs: the blocked signals to wait for
 * @seconds: run time, 0 for until a signal
 * @t0: start, CLOCK_MONOTONIC ns
 */
static void lg_wait(psm_writer_t *w, const sigset_t *sigs, double seconds, uint64_t t0)
{
    uint64_t deadline = seconds > 0 ? t0 + (uint64_t)(seconds * 1e9) : 0;
    for (;;) {
        psm_writer_heartbeat(w);
        uint64_t now = now_ns(), wait = LG_HEARTBEAT_NS;
        if (deadline) {
            if (now >= deadline)
                return;
            if (deadline - now < wait)
                wait = deadline - now;
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)wait};
        int sig = sigtimedwait(sigs, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM)
            return;
        /* -1: EAGAIN is the timeout, EINTR a stop/continue; both mean go on. */
    }
}

int main(int argc, char **argv)
{
    struct lg_opts o = {.name = PSM_DEFAULT_NAME, .series = 3000, .threads = 1};
    int rc = lg_parse_args(argc, argv, &o);
    if (rc)
        return rc > 0 ? 0 : 2;

    /* Block before anything else so a signal during setup still ends us cleanly. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    /* A test harness that stops reading our stderr must not kill us with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);

    struct lg_state st = {0};
    psm_writer_t *w = NULL;
    rc = lg_build(&o, &st, &w);
    if (rc != 0) {
        psm_writer_close(w);
        lg_free(&st);
        return rc > 0 ? 0 : 1;
    }
    /* struct lg_thread is cache-line aligned (no false sharing): calloc may not be. */
    size_t th_bytes = (o.threads ? o.threads : 1) * sizeof(struct lg_thread);
    struct lg_thread *th = aligned_alloc(64, (th_bytes + 63) / 64 * 64);
    if (th)
        memset(th, 0, th_bytes);
    if (!th) {
        fprintf(stderr, "psm-loadgen: out of memory for %llu threads\n",
                (unsigned long long)o.threads);
        psm_writer_close(w);
        lg_free(&st);
        return 1;
    }
    psm_writer_heartbeat(w);
    fprintf(stderr,
            "psm-loadgen: segment %s: %u series (%u counters, %u gauges, %u histograms), "
            "%llu threads\n",
            psm_writer_name(w), st.total, st.nc, st.ng, st.nh, (unsigned long long)o.threads);

    uint64_t t0 = now_ns();
    unsigned started = 0;
    for (; started < o.threads; started++) {
        th[started].idx = started;
        th[started].st = &st;
        int e = pthread_create(&th[started].tid, NULL, lg_worker, &th[started]);
        if (e) {
            fprintf(stderr, "psm-loadgen: cannot start thread %u of %llu: %s\n", started + 1,
                    (unsigned long long)o.threads, strerror(e));
            rc = 1;
            break;
        }
    }
    if (rc == 0)
        lg_wait(w, &sigs, o.seconds, t0);
    atomic_store_explicit(&lg_stop, 1, memory_order_relaxed);
    uint64_t total = 0;
    for (unsigned i = 0; i < started; i++) {
        pthread_join(th[i].tid, NULL);
        total += th[i].updates;
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    psm_writer_heartbeat(w);
    psm_writer_close(w);
    if (rc == 0)
        fprintf(stderr, "psm-loadgen: segment %s: %llu updates in %.3f s, %.0f updates/s\n", o.name,
                (unsigned long long)total, secs, secs > 0 ? (double)total / secs : 0.0);
    free(th);
    lg_free(&st);
    return rc;
}
