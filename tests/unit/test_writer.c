/*
 * tests/unit/test_writer.c - the writer API: registration rules, series
 * resolution, overflow, concurrency of the hot path, restart.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "testutil.h"

static const char *seg;

static void setup(void)
{
    seg = tu_name("writer");
    shm_unlink(seg);
}

static void teardown(void)
{
    shm_unlink(seg);
}

TestSuite(writer, .init = setup, .fini = teardown, .timeout = 60);

struct inc_arg {
    psm_counter_t *c;
    long n;
};

static void *inc_loop(void *p)
{
    struct inc_arg *a = p;
    for (long i = 0; i < a->n; i++)
        psm_counter_inc(a->c);
    return NULL;
}

Test(writer, n_threads_times_m_increments_end_exactly_at_n_times_m)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    int id = tu_register(w, "t_incs_total", PSM_COUNTER, 0, NULL);
    psm_counter_t *c = psm_counter_resolve(w, id, NULL);
    enum { N = 4, M = 1000000 };
    pthread_t th[N];
    struct inc_arg a = {c, M};
    for (int i = 0; i < N; i++)
        pthread_create(&th[i], NULL, inc_loop, &a);
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    psm_reader_t *r = tu_reader(seg);
    struct psm_series_view v;
    psm_reader_series(r, 0, &v);
    cr_assert_eq(psm_series_u64(&v), (uint64_t)N * M);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(writer, resolving_the_same_labels_twice_returns_the_same_cell)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    const char *ln[] = {"port"};
    int id = tu_register(w, "t_flaps_total", PSM_COUNTER, 1, ln);
    psm_counter_t *a = psm_counter_resolve(w, id, (const char *[]){"Ethernet0"});
    psm_counter_t *b = psm_counter_resolve(w, id, (const char *[]){"Ethernet4"});
    psm_counter_t *a2 = psm_counter_resolve(w, id, (const char *[]){"Ethernet0"});
    cr_assert_eq(a, a2);
    cr_assert_neq(a, b);
    psm_writer_close(w);
}

Test(writer, hot_cells_do_not_share_a_cache_line)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    int id = tu_register(w, "t_a_total", PSM_COUNTER, 0, NULL);
    int id2 = tu_register(w, "t_b", PSM_GAUGE, 0, NULL);
    uintptr_t a = (uintptr_t)psm_counter_resolve(w, id, NULL);
    uintptr_t b = (uintptr_t)psm_gauge_resolve(w, id2, NULL);
    cr_assert_eq(a % 64, 0);
    cr_assert_eq(b % 64, 0);
    cr_assert_neq(a / 64, b / 64);
    psm_writer_close(w);
}

Test(writer, registering_the_same_metric_again_returns_its_id)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    int a = tu_register(w, "t_same_total", PSM_COUNTER, 0, NULL);
    int b = tu_register(w, "t_same_total", PSM_COUNTER, 0, NULL);
    cr_assert_eq(a, b);
    psm_writer_close(w);
}

Test(writer, registering_a_name_with_another_shape_fails_with_eexist)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    tu_register(w, "t_shape", PSM_GAUGE, 0, NULL);
    char err[256];
    const char *ln[] = {"port"};
    struct psm_metric_spec s = {
        .name = "t_shape", .type = PSM_GAUGE, .label_count = 1, .label_names = ln};
    cr_assert_eq(psm_metric_register(w, &s, err, sizeof err), -1);
    cr_assert_eq(errno, EEXIST);
    cr_assert(strstr(err, "t_shape") && strstr(err, "another type"), "%s", err);
    psm_writer_close(w);
}

/* One bad spec: register fails with EINVAL and a message containing @needle. */
static void expect_bad_spec(const struct psm_metric_spec *s, const char *needle)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    char err[512] = "";
    cr_assert_eq(psm_metric_register(w, s, err, sizeof err), -1, "accepted %s", s->name);
    cr_assert_eq(errno, EINVAL);
    cr_assert(strstr(err, needle), "message '%s' lacks '%s'", err, needle);
    psm_writer_close(w);
}

Test(writer, bad_metric_specs_are_refused_with_a_clear_message)
{
    const char *le[] = {"le"}, *dunder[] = {"__x"}, *dup[] = {"a", "a"}, *bad[] = {"1x"};
    const double unsorted[] = {1, 0.5}, nan[] = {0.0 / 0.0};
    expect_bad_spec(&(struct psm_metric_spec){.name = "1bad", .type = PSM_GAUGE}, "invalid");
    expect_bad_spec(&(struct psm_metric_spec){.name = "has space", .type = PSM_GAUGE}, "invalid");
    expect_bad_spec(&(struct psm_metric_spec){.name = "t_events", .type = PSM_COUNTER},
                    "must end in _total");
    expect_bad_spec(&(struct psm_metric_spec){.name = "t_g_total", .type = PSM_GAUGE},
                    "only counters");
    expect_bad_spec(&(struct psm_metric_spec){.name = "t_g", .type = 9}, "type 9");
    expect_bad_spec(&(struct psm_metric_spec){.name = "t_h",
                                              .type = PSM_HISTOGRAM,
                                              .label_count = 1,
                                              .label_names = le,
                                              .bucket_count = 1,
                                              .bounds = (double[]){1}},
                    "not le");
    expect_bad_spec(
        &(struct psm_metric_spec){
            .name = "t_g", .type = PSM_GAUGE, .label_count = 1, .label_names = dunder},
        "__x");
    expect_bad_spec(
        &(struct psm_metric_spec){
            .name = "t_g", .type = PSM_GAUGE, .label_count = 2, .label_names = dup},
        "twice");
    expect_bad_spec(
        &(struct psm_metric_spec){
            .name = "t_g", .type = PSM_GAUGE, .label_count = 1, .label_names = bad},
        "'1x'");
    expect_bad_spec(
        &(struct psm_metric_spec){
            .name = "t_g", .type = PSM_GAUGE, .label_count = 9, .label_names = dup},
        "at most 8");
    expect_bad_spec(
        &(struct psm_metric_spec){
            .name = "t_h", .type = PSM_HISTOGRAM, .bucket_count = 2, .bounds = unsorted},
        "bucket bound 1");
    expect_bad_spec(
        &(struct psm_metric_spec){
            .name = "t_h", .type = PSM_HISTOGRAM, .bucket_count = 1, .bounds = nan},
        "not finite");
    expect_bad_spec(
        &(struct psm_metric_spec){.name = "t_h", .type = PSM_HISTOGRAM, .bucket_count = 0},
        "0 buckets");
    expect_bad_spec(
        &(struct psm_metric_spec){.name = "t_lat_ms", .unit = "seconds", .type = PSM_GAUGE},
        "must end in _seconds");
    expect_bad_spec(&(struct psm_metric_spec){.name = "t_g", .help = "\xff\xfe", .type = PSM_GAUGE},
                    "UTF-8");
}

Test(writer, a_full_series_table_counts_an_overflow_and_hands_out_a_sink)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg, .series_capacity = 2});
    const char *ln[] = {"port"};
    int id = tu_register(w, "t_over_total", PSM_COUNTER, 1, ln);
    psm_counter_t *a = psm_counter_resolve(w, id, (const char *[]){"a"});
    psm_counter_t *b = psm_counter_resolve(w, id, (const char *[]){"b"});
    errno = 0;
    psm_counter_t *c = psm_counter_resolve(w, id, (const char *[]){"c"});
    cr_assert_eq(errno, ENOSPC);
    cr_assert_not_null(c);
    psm_counter_inc(c); /* must not crash nor touch a or b */
    psm_counter_inc(a);
    psm_reader_t *r = tu_reader(seg);
    struct psm_info in;
    psm_reader_info(r, &in);
    cr_assert_eq(in.series_count, 2);
    cr_assert_eq(in.overflow_series, 1);
    struct psm_series_view v;
    psm_reader_series(r, 1, &v);
    cr_assert_eq(psm_series_u64(&v), 0, "series b untouched by the sink");
    (void)b;
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(writer, full_string_space_counts_an_overflow)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg, .blob_size = 256});
    const char *ln[] = {"port"};
    int id = tu_register(w, "t_blob_total", PSM_COUNTER, 1, ln);
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    psm_counter_resolve(w, id, (const char *[]){big});
    errno = 0;
    big[0] = 'y';
    psm_counter_resolve(w, id, (const char *[]){big});
    cr_assert_eq(errno, ENOSPC);
    psm_reader_t *r = tu_reader(seg);
    struct psm_info in;
    psm_reader_info(r, &in);
    cr_assert_geq(in.overflow_blob, 1);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(writer, a_label_value_that_is_not_utf8_is_refused)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    const char *ln[] = {"port"};
    int id = tu_register(w, "t_utf_total", PSM_COUNTER, 1, ln);
    errno = 0;
    psm_counter_t *c = psm_counter_resolve(w, id, (const char *[]){"Eth\xc0\x80"});
    cr_assert_eq(errno, EINVAL);
    psm_counter_inc(c);
    psm_reader_t *r = tu_reader(seg);
    cr_assert_eq(psm_reader_series_count(r), 0);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(writer, a_segment_is_created_0640)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    char path[256];
    snprintf(path, sizeof path, "/dev/shm/%s", seg);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0640, "mode %o", st.st_mode & 0777);
    psm_writer_close(w);
}

Test(writer, an_unknown_group_is_a_clear_error)
{
    char err[256];
    psm_writer_t *w;
    cr_assert_eq(psm_writer_open(&w, &(struct psm_writer_opts){.name = seg, .group = "no-such-grp"},
                                 NULL, err, sizeof err),
                 -1);
    cr_assert(strstr(err, "group 'no-such-grp' does not exist"), "%s", err);
}

Test(writer, a_bad_segment_name_is_refused)
{
    char err[256];
    psm_writer_t *w;
    cr_assert_eq(
        psm_writer_open(&w, &(struct psm_writer_opts){.name = "a/b"}, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "'a/b' is invalid"), "%s", err);
}

Test(writer, the_writer_is_allocated_with_its_64_byte_alignment)
{
    /* calloc gives 16-byte alignment: 8 writers all 64-aligned by chance is 1 in 65536. */
    psm_writer_t *w[8];
    for (int i = 0; i < 8; i++) {
        w[i] = tu_writer(&(struct psm_writer_opts){.name = seg});
        cr_assert_eq((uintptr_t)w[i] % 64, 0, "writer %d at %p", i, (void *)w[i]);
    }
    for (int i = 0; i < 8; i++)
        psm_writer_close(w[i]);
}
