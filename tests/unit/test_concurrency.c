/*
 * tests/unit/test_concurrency.c - a reader process snapshots histograms while
 * writer threads observe into them at full speed. Every snapshot must be a
 * state the histogram really had: +Inf == count, cumulative monotonic
 * buckets, and a sum that belongs to exactly those observations.
 *
 * The writers observe only 0.25 (bucket le=0.5) and 2.0 (+Inf): both are exact
 * in binary, so a consistent snapshot has sum == 0.25*n(le=0.5) + 2*(count -
 * n(le=0.5)) exactly, and any mix of two states is caught.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "testutil.h"

static const char *seg;

static void setup(void)
{
    seg = tu_name("conc");
    shm_unlink(seg);
}

static void teardown(void)
{
    shm_unlink(seg);
}

TestSuite(concurrency, .init = setup, .fini = teardown, .timeout = 120);

enum { WRITERS = 2, SNAPSHOTS = 100000 };

static _Atomic int stop_writers;

struct obs_arg {
    psm_histogram_t *h;
    uint64_t low, high; /* observations of 0.25 and of 2.0 */
};

/* Observe until told to stop, so every snapshot races live writers. */
static void *observe_loop(void *p)
{
    struct obs_arg *a = p;
    uint64_t i = 0;
    while (!atomic_load_explicit(&stop_writers, memory_order_relaxed)) {
        for (int k = 0; k < 256; k++, i++)
            psm_histogram_observe(a->h, (i & 1) ? 2.0 : 0.25);
    }
    a->low = (i + 1) / 2;
    a->high = i / 2;
    return NULL;
}

/* Reader process body: returns the exit code (0 ok, 2+ a violation). */
static int reader_process(const char *name, int fd_ready)
{
    char err[512];
    psm_reader_t *r;
    if (psm_reader_open(&r, name, err, sizeof err) || psm_reader_load(r))
        return 10;
    struct psm_series_view s;
    psm_reader_series(r, 0, &s);
    if (write(fd_ready, "r", 1) != 1)
        return 11;
    uint64_t last_count = 0, first_count = UINT64_MAX;
    long torn = 0;
    /*
     * At least SNAPSHOTS snapshots, and on until the writers have observed as many
     * times meanwhile (on a loaded machine they may start late): every snapshot
     * counts, the overlap is what makes them meaningful.
     */
    time_t give_up = time(NULL) + 30;
    long n;
    for (n = 0; n < SNAPSHOTS || (last_count - first_count < SNAPSHOTS && time(NULL) < give_up);
         n++) {
        struct psm_hist_snapshot h;
        if (psm_reader_hist_read(&s, &h) != 0) {
            torn++;
            continue;
        }
        if (h.cumulative[7] != h.count)
            return 2;
        for (int i = 1; i < 8; i++)
            if (h.cumulative[i] < h.cumulative[i - 1])
                return 3;
        uint64_t low = h.cumulative[5]; /* le=0.5 holds the 0.25s */
        if (h.cumulative[4] != 0 || h.cumulative[6] != low)
            return 4;
        double want = 0.25 * (double)low + 2.0 * (double)(h.count - low);
        if (h.sum != want)
            return 5;
        if (h.count < last_count)
            return 6;
        last_count = h.count;
        if (first_count == UINT64_MAX)
            first_count = h.count;
    }
    /* The writers must really have been running during the snapshots. */
    if (last_count - first_count < SNAPSHOTS)
        return 8;
    /* Retries are bounded; a few exhausted reads are allowed, most must succeed. */
    return torn > n / 100 ? 7 : 0;
}

Test(concurrency, reader_process_snapshots_are_consistent_while_writers_observe)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    int id = tu_register(w, "t_lat_seconds", PSM_HISTOGRAM, 0, NULL);
    psm_histogram_t *h = psm_histogram_resolve(w, id, NULL);
    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        _exit(reader_process(seg, pfd[1]));
    }
    close(pfd[1]);
    char c;
    cr_assert_eq(read(pfd[0], &c, 1), 1, "reader did not start");
    pthread_t th[WRITERS];
    struct obs_arg arg[WRITERS];
    atomic_store(&stop_writers, 0);
    for (int i = 0; i < WRITERS; i++) {
        arg[i] = (struct obs_arg){.h = h};
        pthread_create(&th[i], NULL, observe_loop, &arg[i]);
    }
    int st;
    waitpid(pid, &st, 0);
    atomic_store(&stop_writers, 1);
    uint64_t low = 0, high = 0;
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(th[i], NULL);
        low += arg[i].low;
        high += arg[i].high;
    }
    cr_assert(WIFEXITED(st), "reader crashed: status %d", st);
    cr_assert_eq(WEXITSTATUS(st), 0, "reader saw an inconsistent snapshot: code %d",
                 WEXITSTATUS(st));
    /* Final totals are exact. */
    psm_reader_t *r = tu_reader(seg);
    struct psm_series_view s;
    struct psm_hist_snapshot snap;
    psm_reader_series(r, 0, &s);
    cr_assert_eq(psm_reader_hist_read(&s, &snap), 0);
    cr_assert_eq(snap.count, low + high);
    cr_assert_eq(snap.cumulative[5], low);
    cr_assert_eq(snap.sum, 0.25 * (double)low + 2.0 * (double)high);
    psm_reader_close(r);
    psm_writer_close(w);
}

struct mixed_arg {
    psm_counter_t *c;
    psm_gauge_t *g;
};

static void *gauge_add_loop(void *p)
{
    struct mixed_arg *a = p;
    for (int i = 0; i < 500000; i++) {
        psm_gauge_add(a->g, 1.0);
        psm_counter_add(a->c, 2);
    }
    return NULL;
}

Test(concurrency, gauge_add_from_two_threads_loses_nothing)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    int c = tu_register(w, "t_c_total", PSM_COUNTER, 0, NULL);
    int g = tu_register(w, "t_g", PSM_GAUGE, 0, NULL);
    struct mixed_arg a = {psm_counter_resolve(w, c, NULL), psm_gauge_resolve(w, g, NULL)};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, gauge_add_loop, &a);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(psm_bits_f64(atomic_load(&a.g->bits)), 1000000.0);
    cr_assert_eq(atomic_load(&a.c->v), 2000000);
    psm_writer_close(w);
}

static psm_writer_t *resolver_w;
static int resolver_id;

static void *resolve_loop(void *p)
{
    long base = (long)p;
    char v[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(v, sizeof v, "Ethernet%ld", base + i % 500);
        psm_counter_inc(psm_counter_resolve(resolver_w, resolver_id, (const char *[]){v}));
    }
    return NULL;
}

Test(concurrency, concurrent_resolves_create_each_series_once)
{
    resolver_w = tu_writer(&(struct psm_writer_opts){.name = seg});
    const char *ln[] = {"port"};
    resolver_id = tu_register(resolver_w, "t_flaps_total", PSM_COUNTER, 1, ln);
    pthread_t th[4];
    for (long i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, resolve_loop, (void *)(i % 2 * 250));
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    psm_reader_t *r = tu_reader(seg);
    /* Threads 0,2 cover 0..499 and threads 1,3 cover 250..749: 750 distinct ports. */
    cr_assert_eq(psm_reader_series_count(r), 750);
    char err[512];
    cr_assert_eq(psm_reader_check(r, err, sizeof err), 0, "%s", err);
    uint64_t total = 0;
    for (uint32_t i = 0; i < psm_reader_series_count(r); i++) {
        struct psm_series_view s;
        psm_reader_series(r, i, &s);
        total += psm_series_u64(&s);
    }
    cr_assert_eq(total, 8000);
    psm_reader_close(r);
    psm_writer_close(resolver_w);
}
