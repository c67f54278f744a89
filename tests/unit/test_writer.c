/*
 * tests/unit/test_writer.c - the writer API: registration rules, series
 * resolution, overflow, concurrency of the hot path, restart.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>

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

/* ---- metrics never stop the writer: the private fallback and publishing ---- */

/*
 * A child that opens the segment as its writer and holds it until *@release is
 * closed, then exits without closing it (a crash). Returns its pid.
 */
static pid_t hold_segment(int *release)
{
    int gate[2], ready[2];
    cr_assert_eq(pipe(gate), 0);
    cr_assert_eq(pipe(ready), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(gate[1]);
        char err[256], c;
        psm_writer_t *w;
        int ok =
            psm_writer_open(&w, &(struct psm_writer_opts){.name = seg}, NULL, err, sizeof err) == 0;
        if (write(ready[1], ok ? "y" : "n", 1) != 1 || read(gate[0], &c, 1) < 0)
            _exit(1);
        _exit(0);
    }
    close(gate[0]);
    close(ready[1]);
    char c = 0;
    cr_assert_eq(read(ready[0], &c, 1), 1);
    close(ready[0]);
    cr_assert_eq(c, 'y', "the holding writer could not open the segment");
    *release = gate[1];
    return pid;
}

static void release_segment(pid_t pid, int release)
{
    close(release);
    waitpid(pid, NULL, 0);
}

static psm_writer_t *open_private(const char *name, int expect_errno, const char *needle)
{
    char err[1024] = "";
    enum psm_open_result res = 0;
    psm_writer_t *w = NULL;
    errno = 0;
    int rc = psm_writer_open(&w, &(struct psm_writer_opts){.name = name, .fallback = 1}, &res, err,
                             sizeof err);
    int e = errno;
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(res, PSM_OPEN_PRIVATE, "result %d: %s", res, err);
    cr_assert_eq(e, expect_errno, "errno %d (%s), expected %d", e, strerror(e), expect_errno);
    cr_assert(strstr(err, needle) && strstr(err, "private memory"), "message '%s' lacks '%s'", err,
              needle);
    cr_assert_eq(psm_writer_is_private(w), 1);
    return w;
}

Test(writer, a_name_held_by_a_live_writer_gives_private_memory_then_publishes_when_freed)
{
    int release;
    pid_t pid = hold_segment(&release);
    char path[256], err[512];
    snprintf(path, sizeof path, "/dev/shm/%s", seg);
    struct stat held, now;
    cr_assert_eq(stat(path, &held), 0);

    psm_writer_t *w = open_private(seg, EBUSY, "in use by another writer");
    int id = tu_register(w, "t_kept_total", PSM_COUNTER, 0, NULL);
    psm_counter_t *c = psm_counter_resolve(w, id, NULL);
    psm_counter_add(c, 7);
    cr_assert_eq(psm_writer_publish(w, err, sizeof err), -1, "published over a live writer");
    cr_assert_eq(errno, EBUSY);
    cr_assert(strstr(err, "in use by another writer"), "%s", err);
    cr_assert_eq(stat(path, &now), 0);
    cr_assert_eq(now.st_ino, held.st_ino, "the live writer's segment was touched");

    release_segment(pid, release);
    cr_assert_eq(psm_writer_publish(w, err, sizeof err), 1, "%s", err);
    cr_assert_eq(psm_writer_is_private(w), 0);
    cr_assert_eq(psm_writer_publish(w, err, sizeof err), 0, "published twice");
    cr_assert_eq(stat(path, &now), 0);
    cr_assert_neq(now.st_ino, held.st_ino);
    cr_assert_eq(now.st_mode & 07777, 0640);

    psm_reader_t *r = tu_reader(seg);
    struct psm_info in;
    psm_reader_info(r, &in);
    cr_assert_eq(in.writer_pid, getpid());
    struct psm_series_view v;
    psm_reader_series(r, 0, &v);
    cr_assert_eq(psm_series_u64(&v), 7, "what was counted in private memory");
    psm_counter_inc(c); /* the handle now updates the published segment */
    cr_assert_eq(psm_series_u64(&v), 8);
    char chk[512];
    cr_assert_eq(psm_reader_check(r, chk, sizeof chk), 0, "%s", chk);
    psm_reader_close(r);
    psm_writer_close(w);
}

struct upd_arg {
    psm_counter_t *c;
    psm_histogram_t *h;
    atomic_int *stop;
    uint64_t done;
};

static void *update_loop(void *p)
{
    struct upd_arg *a = p;
    while (!atomic_load_explicit(a->stop, memory_order_relaxed)) {
        psm_counter_inc(a->c);
        psm_histogram_observe(a->h, 0.003);
        a->done++;
    }
    return NULL;
}

Test(writer, publishing_while_threads_update_the_handles_loses_no_update)
{
    int release;
    pid_t pid = hold_segment(&release);
    psm_writer_t *w = open_private(seg, EBUSY, "in use");
    psm_counter_t *c =
        psm_counter_resolve(w, tu_register(w, "t_ops_total", PSM_COUNTER, 0, NULL), NULL);
    static const double bounds[] = {.001, .005, .01};
    char err[512];
    /* With native buckets: their cells are carried over with the classic ones. */
    int hid = psm_metric_register(w,
                                  &(struct psm_metric_spec){.name = "t_obs_seconds",
                                                            .type = PSM_HISTOGRAM,
                                                            .bucket_count = 3,
                                                            .bounds = bounds,
                                                            .native = 1,
                                                            .native_schema = 3},
                                  err, sizeof err);
    cr_assert_geq(hid, 0, "%s", err);
    psm_histogram_t *h = psm_histogram_resolve(w, hid, NULL);
    enum { N = 3 };
    atomic_int stop = 0;
    struct upd_arg a[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        a[i] = (struct upd_arg){c, h, &stop, 0};
        pthread_create(&th[i], NULL, update_loop, &a[i]);
    }
    usleep(20000);
    release_segment(pid, release);
    /* Every update from here to the join races the copy and the switch of mappings. */
    cr_assert_eq(psm_writer_publish(w, err, sizeof err), 1, "%s", err);
    usleep(20000);
    atomic_store(&stop, 1);
    uint64_t total = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        total += a[i].done;
    }
    psm_reader_t *r = tu_reader(seg);
    struct psm_series_view v;
    psm_reader_series(r, 0, &v);
    cr_assert_eq(psm_series_u64(&v), total, "counter %llu after %llu increments",
                 (unsigned long long)psm_series_u64(&v), (unsigned long long)total);
    struct psm_hist_snapshot snap;
    struct psm_native_bucket nb[4];
    struct psm_native_snapshot nat = {.buckets = nb, .cap = 4};
    psm_reader_series(r, 1, &v);
    cr_assert_eq(psm_reader_hist_read_native(&v, &snap, &nat), 0);
    cr_assert_eq(snap.count, total, "histogram count %llu after %llu observations",
                 (unsigned long long)snap.count, (unsigned long long)total);
    cr_assert_eq(snap.cumulative[1], total, "every observation in the 5 ms bucket");
    cr_assert(nat.valid);
    cr_assert_eq(nat.nbuckets, 1);
    cr_assert_eq(nat.buckets[0].index, -67, "0.003 in (2^(-68/8), 2^(-67/8)]");
    cr_assert_eq(nat.buckets[0].count, total, "and in one native bucket");
    cr_assert_float_eq(snap.sum, 0.003 * (double)total, 1e-6 * (double)total);
    char chk[512];
    cr_assert_eq(psm_reader_check(r, chk, sizeof chk), 0, "%s", chk);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(writer, a_full_filesystem_gives_private_memory_and_publish_succeeds_once_there_is_room)
{
    /* A 16 KiB tmpfs of our own, in a mount namespace of this test process only. */
    cr_assert_eq(unshare(CLONE_NEWNS), 0, "unshare: %s", strerror(errno));
    cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
    char dir[] = "/tmp/psm-full-XXXXXX", name[128], err[512];
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(mount("tmpfs", dir, "tmpfs", 0, "size=16k,mode=1777"), 0, "%s", strerror(errno));
    snprintf(name, sizeof name, "%s/seg-full", dir);

    psm_writer_t *w = open_private(name, ENOSPC, "cannot reserve");
    psm_counter_add(
        psm_counter_resolve(w, tu_register(w, "t_kept_total", PSM_COUNTER, 0, NULL), NULL), 3);
    cr_assert_eq(psm_writer_publish(w, err, sizeof err), -1, "published into a full tmpfs");
    cr_assert_eq(errno, ENOSPC);
    DIR *d = opendir(dir);
    struct dirent *e;
    int left = 0;
    while ((e = readdir(d)))
        left += e->d_name[0] != '.';
    closedir(d);
    cr_assert_eq(left, 0, "a failed attempt left %d files behind", left);

    cr_assert_eq(mount("tmpfs", dir, "tmpfs", MS_REMOUNT, "size=8m"), 0, "%s", strerror(errno));
    cr_assert_eq(psm_writer_publish(w, err, sizeof err), 1, "%s", err);
    int fd = open(name, O_RDONLY);
    cr_assert_geq(fd, 0);
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    cr_assert_neq(p, MAP_FAILED);
    psm_reader_t *r;
    cr_assert_eq(psm_reader_open_mem(&r, p, (size_t)st.st_size, err, sizeof err), 0, "%s", err);
    cr_assert_eq(psm_reader_load(r), 0, "%s", psm_reader_error(r));
    struct psm_series_view v;
    psm_reader_series(r, 0, &v);
    cr_assert_eq(psm_series_u64(&v), 3);
    psm_reader_close(r);
    munmap(p, (size_t)st.st_size);
    close(fd);
    psm_writer_close(w);
    umount2(dir, MNT_DETACH);
    rmdir(dir);
}

Test(writer, a_writer_that_may_not_replace_a_foreign_segment_says_so_or_goes_private)
{
    psm_writer_close(tu_writer(&(struct psm_writer_opts){.name = seg})); /* root's, 0640 */
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(10);
        char err[1024];
        psm_writer_t *w;
        if (psm_writer_open(&w, &(struct psm_writer_opts){.name = seg}, NULL, err, sizeof err) !=
                -1 ||
            errno != EPERM || !strstr(err, "can neither use nor replace it"))
            _exit(11);
        enum psm_open_result res = 0;
        if (psm_writer_open(&w, &(struct psm_writer_opts){.name = seg, .fallback = 1}, &res, err,
                            sizeof err) != 0 ||
            res != PSM_OPEN_PRIVATE || errno != EPERM)
            _exit(12);
        _exit(psm_writer_publish(w, err, sizeof err) == -1 && errno == EPERM ? 0 : 13);
    }
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "nobody's writer: status %d", st);
}

Test(writer, publishing_replaces_an_untrusted_file_at_the_name)
{
    int release;
    pid_t pid = hold_segment(&release);
    psm_writer_t *w = open_private(seg, EBUSY, "in use");
    tu_register(w, "t_g", PSM_GAUGE, 0, NULL);
    release_segment(pid, release);
    char path[256], err[512];
    snprintf(path, sizeof path, "/dev/shm/%s", seg);
    unlink(path);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0666);
    cr_assert_geq(fd, 0);
    cr_assert_eq(fchmod(fd, 0666), 0);
    close(fd);
    cr_assert_eq(psm_writer_publish(w, err, sizeof err), 1, "%s", err);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0640);
    psm_reader_t *r = tu_reader(seg);
    cr_assert_eq(psm_reader_desc_count(r), 1);
    psm_reader_close(r);
    psm_writer_close(w);
}
