/*
 * tests/unit/test_native_upgrade.c - native buckets across writer lives and
 * format versions: a writer that died between the classic and the native
 * increment, a segment of minor 1 re-attached by this build, a histogram
 * registered without native buckets by an older build, a writer of an older
 * build that kept no native buckets, and what a reader of minor 1 sees in a
 * segment of minor 2. tests/integration/compat.sh runs the real minor 1
 * reader and writer against this build's segments.
 */
#include <errno.h>
#include <string.h>
#include <sys/wait.h>

#include "testutil.h"

static const char *seg;
static const double classic[] = {.001, .005, .01};

static void setup(void)
{
    seg = tu_name("nupgrade");
    shm_unlink(seg);
}

static void teardown(void)
{
    shm_unlink(seg);
}

TestSuite(nupgrade, .init = setup, .fini = teardown, .timeout = 60);

static struct psm_metric_spec spec(int native)
{
    return (struct psm_metric_spec){.name = "t_lat_seconds",
                                    .unit = "seconds",
                                    .type = PSM_HISTOGRAM,
                                    .bucket_count = 3,
                                    .bounds = classic,
                                    .native = native,
                                    .native_schema = 3};
}

static psm_histogram_t *open_histogram(psm_writer_t **w, int native, enum psm_open_result *res)
{
    char err[512] = "";
    cr_assert_eq(psm_writer_open(w, &(struct psm_writer_opts){.name = seg}, res, err, sizeof err),
                 0, "%s", err);
    struct psm_metric_spec s = spec(native);
    int id = psm_metric_register(*w, &s, err, sizeof err);
    cr_assert_geq(id, 0, "%s", err);
    return psm_histogram_resolve(*w, id, NULL);
}

/* A read-write mapping of the segment's header, to play another writer. */
static struct psm_header *header_rw(size_t *len)
{
    int fd = shm_open(seg, O_RDWR, 0);
    cr_assert(fd >= 0);
    struct stat st;
    fstat(fd, &st);
    *len = (size_t)st.st_size;
    void *p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    cr_assert_neq(p, MAP_FAILED);
    return p;
}

Test(nupgrade, a_writer_that_died_between_the_classic_and_native_bucket_is_repaired)
{
    pid_t pid = fork();
    if (pid == 0) {
        psm_writer_t *w;
        enum psm_open_result res;
        psm_histogram_t *h = open_histogram(&w, 1, &res);
        for (int i = 0; i < 3; i++)
            psm_histogram_observe(h, 0.002);
        /* Killed inside psm_histogram_observe(0.007): the classic bucket counted, nothing else. */
        atomic_fetch_add(&h->buckets[2], 1);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child writer failed: %d", st);

    psm_writer_t *w;
    enum psm_open_result res;
    char err[512];
    cr_assert_eq(psm_writer_open(&w, &(struct psm_writer_opts){.name = seg}, &res, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(res, PSM_OPEN_ATTACHED);
    cr_assert(strstr(err, "repaired 1 histogram"), "%s", err);
    psm_reader_t *r = tu_reader(seg);
    char chk[512];
    cr_assert_eq(psm_reader_check(r, chk, sizeof chk), 0, "%s", chk);
    struct psm_series_view v;
    psm_reader_series(r, 0, &v);
    struct psm_hist_snapshot snap;
    struct psm_native_bucket b[8];
    struct psm_native_snapshot nat = {.buckets = b, .cap = 8};
    cr_assert_eq(psm_reader_hist_read_native(&v, &snap, &nat), 0);
    cr_assert(nat.valid);
    cr_assert_eq(snap.count, 4, "the interrupted observation is counted, in its classic bucket");
    cr_assert_eq(snap.cumulative[2] - snap.cumulative[1], 1);
    cr_assert_eq(nat.zero_count, 1, "its value is unknown to the native part: the zero bucket");
    cr_assert_eq(nat.nbuckets, 1);
    cr_assert_eq(nat.buckets[0].count, 3);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(nupgrade, a_histogram_an_older_build_registered_without_native_buckets_is_another_shape)
{
    psm_writer_t *w;
    enum psm_open_result res;
    psm_histogram_observe(open_histogram(&w, 0, &res), 0.002);
    psm_writer_close(w);
    char err[512];
    cr_assert_eq(psm_writer_open(&w, &(struct psm_writer_opts){.name = seg}, &res, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(res, PSM_OPEN_ATTACHED);
    struct psm_metric_spec s = spec(1);
    cr_assert_eq(psm_metric_register(w, &s, err, sizeof err), -1);
    cr_assert_eq(errno, EEXIST, "the caller replaces the segment (portsyncd does)");
    cr_assert(strstr(err, "without the native buckets this build's has"), "%s", err);
    psm_writer_close(w);
}

Test(nupgrade, a_minor1_segment_is_reattached_and_raised_to_minor2)
{
    psm_writer_t *w;
    enum psm_open_result res;
    psm_histogram_observe(open_histogram(&w, 0, &res), 0.002);
    psm_writer_close(w);
    /* What a minor 1 writer leaves: minor 1, no native_writer_start. */
    size_t len;
    struct psm_header *h = header_rw(&len);
    h->minor = 1;
    atomic_store(&h->native_writer_start, 0);
    psm_histogram_t *hg = open_histogram(&w, 0, &res);
    cr_assert_eq(res, PSM_OPEN_ATTACHED);
    cr_assert_eq(h->minor, 2);
    cr_assert_eq(atomic_load(&h->native_writer_start), atomic_load(&h->writer_start_realtime));
    psm_histogram_observe(hg, 0.002);
    psm_reader_t *r = tu_reader(seg);
    struct psm_series_view v;
    struct psm_hist_snapshot snap;
    psm_reader_series(r, 0, &v);
    cr_assert_eq(psm_reader_hist_read(&v, &snap), 0);
    cr_assert_eq(snap.count, 2, "counters continue");
    psm_reader_close(r);
    munmap(h, len);
    psm_writer_close(w);
}

Test(nupgrade, a_segment_an_older_writer_observed_into_without_native_buckets_is_replaced)
{
    psm_writer_t *w;
    enum psm_open_result res;
    psm_histogram_t *hg = open_histogram(&w, 1, &res);
    psm_histogram_observe(hg, 0.002);
    psm_writer_close(w);
    /* A minor 1 writer re-attaches (its own start time only) and observes classic-only. */
    size_t len;
    struct psm_header *h = header_rw(&len);
    atomic_fetch_add(&h->writer_start_realtime, 1000);
    munmap(h, len);
    char err[512];
    cr_assert_eq(psm_writer_open(&w, &(struct psm_writer_opts){.name = seg}, &res, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(res, PSM_OPEN_REPLACED);
    cr_assert(strstr(err, "keeps no native buckets, so those of t_lat_seconds may lack its "
                          "observations"),
              "%s", err);
    psm_writer_close(w);
}

Test(nupgrade, a_restart_of_this_build_reattaches_a_segment_with_native_buckets)
{
    psm_writer_t *w;
    enum psm_open_result res;
    psm_histogram_observe(open_histogram(&w, 1, &res), 0.002);
    psm_writer_close(w);
    psm_histogram_t *hg = open_histogram(&w, 1, &res);
    cr_assert_eq(res, PSM_OPEN_ATTACHED);
    psm_histogram_observe(hg, 0.002);
    psm_reader_t *r = tu_reader(seg);
    struct psm_series_view v;
    psm_reader_series(r, 0, &v);
    struct psm_hist_snapshot snap;
    struct psm_native_bucket b[8];
    struct psm_native_snapshot nat = {.buckets = b, .cap = 8};
    cr_assert_eq(psm_reader_hist_read_native(&v, &snap, &nat), 0);
    cr_assert(nat.valid);
    cr_assert_eq(snap.count, 2);
    cr_assert_eq(nat.buckets[0].count, 2, "native buckets continue too");
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(nupgrade, read_as_minor1_a_minor2_segment_shows_exactly_its_classic_histogram)
{
    psm_writer_t *w;
    enum psm_open_result res;
    psm_histogram_t *hg = open_histogram(&w, 1, &res);
    const char *ln[] = {"port"};
    int c = tu_register(w, "t_flaps_total", PSM_COUNTER, 1, ln);
    psm_counter_add(psm_counter_resolve(w, c, (const char *[]){"Ethernet0"}), 7);
    for (int i = 0; i < 5; i++)
        psm_histogram_observe(hg, 0.0003 * i);
    psm_reader_t *r = tu_reader(seg);
    char *want = tu_render(r, PSM_FMT_TEXT);
    psm_reader_close(r);
    /* The bytes minor 2 gave meaning to are reserved in minor 1: a minor 1 reader skips them. */
    size_t len;
    struct psm_header *h = header_rw(&len);
    uint8_t *img = malloc(len);
    memcpy(img, h, len);
    munmap(h, len);
    ((struct psm_header *)img)->minor = 1;
    char err[512];
    cr_assert_eq(psm_reader_open_mem(&r, img, len, err, sizeof err), 0, "%s", err);
    cr_assert_eq(psm_reader_check(r, err, sizeof err), 0, "%s", err);
    struct psm_series_view v;
    psm_reader_series(r, 0, &v);
    cr_assert_eq(v.desc->native_count, 0);
    cr_assert_null(v.native);
    struct psm_hist_snapshot snap;
    cr_assert_eq(psm_reader_hist_read(&v, &snap), 0);
    cr_assert_eq(snap.count, 5);
    char *got = tu_render(r, PSM_FMT_TEXT);
    cr_assert_str_eq(got, want);
    free(got);
    free(want);
    psm_reader_close(r);
    free(img);
    psm_writer_close(w);
}
