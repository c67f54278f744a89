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
#include <sched.h>
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

#if defined(__SANITIZE_THREAD__)
#define PSM_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PSM_TEST_TSAN 1
#endif
#endif
/*
 * 100k snapshots, as the issue asks. Under TSan every access is ~10x slower
 * and a writer preempted mid-observe keeps snapshots torn for a whole time
 * slice, so 100k took from 6 s to past the suite's 120 s timeout there; what
 * that build adds is the race detector, not the count: 20k.
 */
#ifdef PSM_TEST_TSAN
enum { WRITERS = 2, SNAPSHOTS = 20000 };
#else
enum { WRITERS = 2, SNAPSHOTS = 100000 };
#endif

/*
 * Torn reads (a snapshot that exhausted its retries, reported as such, never
 * as figures) may be at most 1 % of the attempts: that is the reader's
 * patience working. Under TSan a preempted writer stays mid-observe for a
 * whole slowed-down time slice, so there only the consistency of every
 * snapshot read is judged, on at least 1,000 of them.
 */
static int torn_too_many(long torn, long n)
{
#ifdef PSM_TEST_TSAN
    return n - torn < 1000;
#else
    return torn > n / 100;
#endif
}

/*
 * Under TSan a reader stops after 60 s whatever it has read (each torn attempt
 * may wait its 20 ms of patience: 20k of them would outlast the suite's 120 s
 * alarm); elsewhere the count alone ends it.
 */
static time_t hard_stop(void)
{
#ifdef PSM_TEST_TSAN
    return time(NULL) + 60;
#else
    return 0;
#endif
}

static int past(time_t hard)
{
    return hard && time(NULL) >= hard;
}

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
    time_t give_up = time(NULL) + 30, hard = hard_stop();
    long n;
    for (n = 0; (n < SNAPSHOTS || (last_count - first_count < SNAPSHOTS && time(NULL) < give_up)) &&
                !past(hard);
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
    return torn_too_many(torn, n) ? 7 : 0;
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

/*
 * The same with native buckets: every snapshot's classic buckets, native
 * buckets, count and sum must describe the same observations. 0.25 is bucket
 * -16 at schema 3 (2^-2, an upper bound) and 2.0 bucket 8; NATIVE_WRITERS
 * threads, more than the CPUs, so that writers are preempted mid-observe too.
 */
enum { NATIVE_WRITERS = 4 };

static int native_snapshot_check(const struct psm_hist_snapshot *h,
                                 const struct psm_native_snapshot *n)
{
    if (!n->valid)
        return 20;
    uint64_t low = h->cumulative[5];
    if (h->cumulative[7] != h->count || h->cumulative[4] != 0 || h->cumulative[6] != low)
        return 21;
    uint64_t at_low = 0, at_high = 0, other = n->zero_count;
    for (uint32_t k = 0; k < n->nbuckets; k++) {
        if (n->buckets[k].index == -16)
            at_low = n->buckets[k].count;
        else if (n->buckets[k].index == 8)
            at_high = n->buckets[k].count;
        else
            other += n->buckets[k].count;
    }
    if (other != 0)
        return 22;
    if (at_low != low || at_high != h->count - low)
        return 23;
    if (h->sum != 0.25 * (double)low + 2.0 * (double)(h->count - low))
        return 24;
    return 0;
}

static int native_reader_process(const char *name, int fd_ready)
{
    char err[512];
    psm_reader_t *r;
    if (psm_reader_open(&r, name, err, sizeof err) || psm_reader_load(r))
        return 10;
    struct psm_series_view s;
    psm_reader_series(r, 0, &s);
    if (!s.native)
        return 12;
    static struct psm_native_bucket b[PSM_MAX_NATIVE_BUCKETS];
    if (write(fd_ready, "r", 1) != 1)
        return 11;
    uint64_t last_count = 0, first_count = UINT64_MAX;
    long torn = 0, n;
    time_t give_up = time(NULL) + 30, hard = hard_stop();
    for (n = 0; (n < SNAPSHOTS || (last_count - first_count < SNAPSHOTS && time(NULL) < give_up)) &&
                !past(hard);
         n++) {
        struct psm_hist_snapshot h;
        struct psm_native_snapshot nat = {.buckets = b, .cap = PSM_MAX_NATIVE_BUCKETS};
        if (psm_reader_hist_read_native(&s, &h, &nat) != 0) {
            torn++;
            continue;
        }
        int rc = native_snapshot_check(&h, &nat);
        if (rc)
            return rc;
        if (h.count < last_count)
            return 6;
        last_count = h.count;
        if (first_count == UINT64_MAX)
            first_count = h.count;
    }
    if (last_count - first_count < SNAPSHOTS)
        return 8;
    return torn_too_many(torn, n) ? 7 : 0;
}

Test(concurrency, classic_and_native_parts_of_every_snapshot_hold_the_same_observations)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    static const double bounds[] = {.001, .005, .01, .05, .1, .5, 1};
    struct psm_metric_spec spec = {.name = "t_native_seconds",
                                   .type = PSM_HISTOGRAM,
                                   .bucket_count = 7,
                                   .bounds = bounds,
                                   .native = 1,
                                   .native_schema = 3};
    char err[512];
    int id = psm_metric_register(w, &spec, err, sizeof err);
    cr_assert_geq(id, 0, "%s", err);
    psm_histogram_t *h = psm_histogram_resolve(w, id, NULL);
    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        _exit(native_reader_process(seg, pfd[1]));
    }
    close(pfd[1]);
    char c;
    cr_assert_eq(read(pfd[0], &c, 1), 1, "reader did not start");
    pthread_t th[NATIVE_WRITERS];
    struct obs_arg arg[NATIVE_WRITERS];
    atomic_store(&stop_writers, 0);
    for (int i = 0; i < NATIVE_WRITERS; i++) {
        arg[i] = (struct obs_arg){.h = h};
        pthread_create(&th[i], NULL, observe_loop, &arg[i]);
    }
    int st;
    waitpid(pid, &st, 0);
    atomic_store(&stop_writers, 1);
    uint64_t low = 0, high = 0;
    for (int i = 0; i < NATIVE_WRITERS; i++) {
        pthread_join(th[i], NULL);
        low += arg[i].low;
        high += arg[i].high;
    }
    cr_assert(WIFEXITED(st), "reader crashed: status %d", st);
    cr_assert_eq(WEXITSTATUS(st), 0, "reader saw an inconsistent snapshot: code %d",
                 WEXITSTATUS(st));
    psm_reader_t *r = tu_reader(seg);
    struct psm_series_view s;
    struct psm_hist_snapshot snap;
    static struct psm_native_bucket b[PSM_MAX_NATIVE_BUCKETS];
    struct psm_native_snapshot nat = {.buckets = b, .cap = PSM_MAX_NATIVE_BUCKETS};
    psm_reader_series(r, 0, &s);
    cr_assert_eq(psm_reader_hist_read_native(&s, &snap, &nat), 0);
    cr_assert_eq(snap.count, low + high, "final totals are exact");
    cr_assert_eq(native_snapshot_check(&snap, &nat), 0);
    cr_assert_eq(snap.cumulative[5], low);
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

/*
 * Registration racing psm_reader_load(): a writer thread registers new metrics
 * and at once creates a series of each, while reader threads load again and
 * again. Every series counted refers to a descriptor published before it, so a
 * load must never reject the segment.
 *
 * The race needs a descriptor and a series published between two loads a few
 * nanoseconds apart, which two threads on two CPUs almost never hit. So every
 * thread is pinned to one CPU: the scheduler then preempts a reader at an
 * arbitrary point of its load (also between reading two counts) and runs the
 * writer, which registers and creates series while the reader is off the CPU.
 * The readers are memory readers over their own read-only mapping of the
 * segment: the same load code without the fstat(), so the window between the
 * counts is a large part of each load and preemption lands in it often.
 */
enum { REG_METRICS = 4000, REG_READERS = 3, REG_LOADS = 100000 };

static _Atomic int reg_done;
static _Atomic long reg_registered;

static void pin_to_one_cpu(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set)) {
            CPU_ZERO(&set);
            CPU_SET(c, &set);
            sched_setaffinity(0, sizeof set, &set);
            return;
        }
}

/* Spin for about @us microseconds without sleeping: stay runnable, share the CPU. */
static void spin_us(long us)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do
        clock_gettime(CLOCK_MONOTONIC, &b);
    while ((b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000 < us);
}

static void *register_loop(void *p)
{
    psm_writer_t *w = p;
    pin_to_one_cpu();
    static const char *ln[] = {"port"};
    for (int i = 0; i < REG_METRICS; i++) {
        char name[64], err[256];
        snprintf(name, sizeof name, "t_reg_%d_total", i);
        struct psm_metric_spec s = {.name = name,
                                    .help = "registered while readers load",
                                    .type = PSM_COUNTER,
                                    .label_count = 1,
                                    .label_names = ln};
        int id = psm_metric_register(w, &s, err, sizeof err);
        if (id < 0)
            break;
        psm_counter_inc(psm_counter_resolve(w, id, (const char *[]){"Ethernet0"}));
        atomic_store(&reg_registered, i + 1);
        spin_us(100); /* a few registrations per time slice, spread over the run */
    }
    atomic_store(&reg_done, 1);
    return NULL;
}

struct load_arg {
    const void *map;
    size_t len;
    long loads, failed;
    char first[512];
};

static void *load_loop(void *p)
{
    struct load_arg *a = p;
    pin_to_one_cpu();
    char err[400];
    psm_reader_t *r;
    if (psm_reader_open_mem(&r, a->map, a->len, err, sizeof err) != 0) {
        snprintf(a->first, sizeof a->first, "open: %s", err);
        a->failed = -1;
        return NULL;
    }
    /* At least REG_LOADS loads, and on until every registration raced some of them. */
    while (a->loads < REG_LOADS || !atomic_load(&reg_done)) {
        if (psm_reader_load(r) != 0 && a->failed++ == 0)
            snprintf(a->first, sizeof a->first, "%s", psm_reader_error(r));
        a->loads++;
    }
    if (psm_reader_load(r) != 0 || psm_reader_desc_count(r) != REG_METRICS ||
        psm_reader_series_count(r) != REG_METRICS) {
        snprintf(a->first, sizeof a->first, "final load: %u descriptors, %u series: %s",
                 psm_reader_desc_count(r), psm_reader_series_count(r), psm_reader_error(r));
        a->failed++;
    }
    psm_reader_close(r);
    return NULL;
}

Test(concurrency, loads_racing_registration_never_reject_a_valid_segment)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){
        .name = seg, .desc_capacity = REG_METRICS + 8, .series_capacity = REG_METRICS + 8});
    char path[300];
    snprintf(path, sizeof path, "/dev/shm/%s", seg);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0, "open %s", path);
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    cr_assert_neq(map, MAP_FAILED);
    atomic_store(&reg_done, 0);
    pthread_t wt, rt[REG_READERS];
    struct load_arg arg[REG_READERS];
    for (int i = 0; i < REG_READERS; i++) {
        arg[i] = (struct load_arg){.map = map, .len = (size_t)st.st_size};
        cr_assert_eq(pthread_create(&rt[i], NULL, load_loop, &arg[i]), 0);
    }
    cr_assert_eq(pthread_create(&wt, NULL, register_loop, w), 0);
    pthread_join(wt, NULL);
    long loads = 0, failed = 0;
    const char *first = "";
    for (int i = 0; i < REG_READERS; i++) {
        pthread_join(rt[i], NULL);
        loads += arg[i].loads;
        failed += arg[i].failed;
        if (arg[i].failed && !*first)
            first = arg[i].first;
    }
    cr_assert_eq(atomic_load(&reg_registered), REG_METRICS);
    cr_assert_eq(failed, 0, "%ld of %ld loads rejected a valid segment; first: %s", failed, loads,
                 first);
    fprintf(stderr, "%ld loads by %d readers raced %d registrations: none rejected\n", loads,
            REG_READERS, REG_METRICS);
    munmap(map, (size_t)st.st_size);
    close(fd);
    psm_writer_close(w);
}
