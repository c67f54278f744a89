/*
 * tests/unit/test_restart.c - the restart protocol: a new writer re-attaches and
 * counters continue; an incompatible or corrupt segment is replaced under a new
 * inode and a reader that had the old one mapped follows it.
 */
#include <errno.h>
#include <string.h>
#include <sys/wait.h>

#include "testutil.h"

static const char *seg;

static void setup(void)
{
    seg = tu_name("restart");
    shm_unlink(seg);
}

static void teardown(void)
{
    shm_unlink(seg);
}

TestSuite(restart, .init = setup, .fini = teardown, .timeout = 30);

static const char *ln[] = {"port"};

/* In a child process: open, register, count @n flaps on Ethernet0, exit (no close). */
static void child_writer_counts(int n)
{
    pid_t pid = fork();
    if (pid == 0) {
        char err[256];
        psm_writer_t *w;
        if (psm_writer_open(&w, &(struct psm_writer_opts){.name = seg}, NULL, err, sizeof err))
            _exit(1);
        int id = psm_metric_register(
            w,
            &(struct psm_metric_spec){
                .name = "t_flaps_total", .type = PSM_COUNTER, .label_count = 1, .label_names = ln},
            err, sizeof err);
        if (id < 0)
            _exit(2);
        psm_counter_add(psm_counter_resolve(w, id, (const char *[]){"Ethernet0"}), (uint64_t)n);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child writer failed: %d", st);
}

Test(restart, a_new_writer_reattaches_and_counters_continue)
{
    child_writer_counts(5);
    child_writer_counts(3); /* a second daemon life */
    enum psm_open_result res;
    char err[256];
    psm_writer_t *w;
    cr_assert_eq(psm_writer_open(&w, &(struct psm_writer_opts){.name = seg}, &res, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(res, PSM_OPEN_ATTACHED);
    int id = tu_register(w, "t_flaps_total", PSM_COUNTER, 1, ln);
    psm_counter_t *c = psm_counter_resolve(w, id, (const char *[]){"Ethernet0"});
    cr_assert_eq(atomic_load(&c->v), 8, "counter after two lives: %llu",
                 (unsigned long long)atomic_load(&c->v));
    psm_counter_inc(c);
    psm_reader_t *r = tu_reader(seg);
    cr_assert_eq(psm_reader_series_count(r), 1, "no duplicate series after re-attach");
    char chk[512];
    cr_assert_eq(psm_reader_check(r, chk, sizeof chk), 0, "%s", chk);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(restart, reattaching_keeps_the_inode_and_bumps_the_generation)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    psm_reader_t *r = tu_reader(seg);
    struct psm_info a, b;
    psm_reader_info(r, &a);
    psm_writer_close(w);
    w = tu_writer(&(struct psm_writer_opts){.name = seg});
    psm_reader_info(r, &b);
    cr_assert_eq(psm_reader_refresh(r), 0, "same inode: nothing to remap");
    cr_assert_eq(b.generation, a.generation + 2);
    cr_assert_eq(b.generation % 2, 0);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(restart, a_second_live_writer_is_refused)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    pid_t pid = fork();
    if (pid == 0) {
        char err[256];
        psm_writer_t *w2;
        int rc =
            psm_writer_open(&w2, &(struct psm_writer_opts){.name = seg}, NULL, err, sizeof err);
        _exit(rc == -1 && errno == EBUSY && strstr(err, "in use by another writer") ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    psm_writer_close(w);
}

Test(restart, an_incompatible_segment_is_replaced_and_the_reader_remaps)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg, .series_capacity = 8});
    int id = tu_register(w, "t_old_total", PSM_COUNTER, 0, NULL);
    psm_counter_inc(psm_counter_resolve(w, id, NULL));
    psm_writer_close(w);
    psm_reader_t *r = tu_reader(seg);
    cr_assert_eq(psm_reader_series_count(r), 1);

    enum psm_open_result res;
    char err[256];
    cr_assert_eq(psm_writer_open(&w, &(struct psm_writer_opts){.name = seg, .series_capacity = 64},
                                 &res, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(res, PSM_OPEN_REPLACED);
    tu_register(w, "t_new", PSM_GAUGE, 0, NULL);
    psm_gauge_set(psm_gauge_resolve(w, 0, NULL), 1);

    /* The old mapping stays valid (it was never shrunk) until the reader follows. */
    struct psm_series_view v;
    psm_reader_series(r, 0, &v);
    cr_assert_eq(psm_series_u64(&v), 1);
    cr_assert_eq(psm_reader_refresh(r), 1, "reader did not notice the new inode");
    cr_assert_eq(psm_reader_load(r), 0, "%s", psm_reader_error(r));
    struct psm_info in;
    psm_reader_info(r, &in);
    cr_assert_eq(in.series_capacity, 64);
    cr_assert_eq(psm_reader_series_count(r), 1);
    psm_reader_series(r, 0, &v);
    cr_assert_eq(strncmp(v.desc->name.p, "t_new", v.desc->name.len), 0);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(restart, a_corrupt_segment_is_replaced)
{
    int fd = shm_open(seg, O_RDWR | O_CREAT, 0640);
    cr_assert(write(fd, "garbage, not a segment", 22) == 22);
    close(fd);
    enum psm_open_result res;
    char err[256];
    psm_writer_t *w;
    cr_assert_eq(psm_writer_open(&w, &(struct psm_writer_opts){.name = seg}, &res, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(res, PSM_OPEN_REPLACED);
    psm_reader_t *r = tu_reader(seg);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(restart, replace_forces_a_fresh_segment)
{
    child_writer_counts(5);
    enum psm_open_result res;
    char err[256];
    psm_writer_t *w;
    cr_assert_eq(psm_writer_open(&w, &(struct psm_writer_opts){.name = seg, .replace = 1}, &res,
                                 err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(res, PSM_OPEN_REPLACED);
    psm_reader_t *r = tu_reader(seg);
    cr_assert_eq(psm_reader_series_count(r), 0);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(restart, a_reader_keeps_its_mapping_when_the_segment_is_unlinked)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    tu_register(w, "t_g", PSM_GAUGE, 0, NULL);
    psm_gauge_set(psm_gauge_resolve(w, 0, NULL), 3);
    psm_reader_t *r = tu_reader(seg);
    shm_unlink(seg);
    cr_assert_eq(psm_reader_refresh(r), -1);
    cr_assert(strstr(psm_reader_error(r), "gone"), "%s", psm_reader_error(r));
    struct psm_series_view v;
    psm_reader_series(r, 0, &v);
    cr_assert_float_eq(psm_series_f64(&v), 3.0, 0);
    psm_reader_close(r);
    psm_writer_close(w);
}
