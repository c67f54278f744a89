/*
 * tests/unit/test_restart.c - the restart protocol: a new writer re-attaches and
 * counters continue; an incompatible or corrupt segment is replaced under a new
 * inode and a reader that had the old one mapped follows it.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
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
    char path[256];
    snprintf(path, sizeof path, "/dev/shm/%s", seg);
    rmdir(path);
    unlink(path);
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

/* ---- trust: the writer never adopts a segment it did not create ---- */

static void seg_path(char *path, size_t len)
{
    snprintf(path, len, "/dev/shm/%s", seg);
}

/*
 * In a child, as @uid: build a valid, compatible segment holding
 * t_flaps_total{port="Ethernet0"} 5, give it @mode, exit without closing (a dead
 * writer: everything a re-attach would take over).
 */
static void plant_segment(uid_t uid, mode_t mode)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (uid && (setgid(uid) != 0 || setuid(uid) != 0))
            _exit(3);
        char err[256], path[256];
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
        psm_counter_add(psm_counter_resolve(w, id, (const char *[]){"Ethernet0"}), 5);
        seg_path(path, sizeof path);
        _exit(chmod(path, mode) == 0 ? 0 : 4);
    }
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "planting child failed: %d", st);
}

/* The flap counter held by the segment file open at @fd (not necessarily the name). */
static uint64_t flaps_in_file(int fd)
{
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    cr_assert_neq(p, MAP_FAILED);
    char err[256];
    psm_reader_t *r;
    cr_assert_eq(psm_reader_open_mem(&r, p, (size_t)st.st_size, err, sizeof err), 0, "%s", err);
    cr_assert_eq(psm_reader_load(r), 0, "%s", psm_reader_error(r));
    cr_assert_eq(psm_reader_series_count(r), 1);
    struct psm_series_view v;
    psm_reader_series(r, 0, &v);
    uint64_t n = psm_series_u64(&v);
    psm_reader_close(r);
    munmap(p, (size_t)st.st_size);
    return n;
}

/*
 * Open a writer over the planted segment and count 1000 flaps: it must have
 * replaced the file (new inode, ours, 0640) and left the planted one as it was.
 */
static void expect_replaced_not_attached(uid_t planted_by, const char *needle)
{
    char path[256], err[512];
    seg_path(path, sizeof path);
    int old = open(path, O_RDONLY);
    cr_assert_geq(old, 0);
    struct stat before, after;
    cr_assert_eq(fstat(old, &before), 0);
    cr_assert_eq(before.st_uid, planted_by);

    enum psm_open_result res = 0;
    psm_writer_t *w;
    cr_assert_eq(psm_writer_open(&w, &(struct psm_writer_opts){.name = seg}, &res, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(res, PSM_OPEN_REPLACED, "result %d: the planted segment was adopted", res);
    cr_assert(strstr(err, needle), "message '%s' lacks '%s'", err, needle);
    int id = tu_register(w, "t_flaps_total", PSM_COUNTER, 1, ln);
    psm_counter_t *c = psm_counter_resolve(w, id, (const char *[]){"Ethernet0"});
    cr_assert_eq(psm_counter_get(c), 0, "counters came from the planted segment");
    psm_counter_add(c, 1000);

    cr_assert_eq(stat(path, &after), 0);
    cr_assert_neq(after.st_ino, before.st_ino, "same inode: attached, not replaced");
    cr_assert_eq(after.st_uid, geteuid());
    cr_assert_eq(after.st_mode & 07777, 0640, "mode %o", after.st_mode & 07777);
    cr_assert_eq(flaps_in_file(old), 5, "the planted inode was written to");
    close(old);
    psm_writer_close(w);
}

Test(restart, a_segment_made_by_user_nobody_with_mode_0666_is_replaced_never_attached)
{
    plant_segment(65534, 0666);
    expect_replaced_not_attached(65534, "owned by uid 65534");
}

Test(restart, a_root_made_segment_with_mode_0666_is_replaced_never_attached)
{
    plant_segment(0, 0666);
    expect_replaced_not_attached(0, "has mode 0666: group or others may write it");
}

Test(restart, a_segment_writable_by_its_group_is_replaced_never_attached)
{
    plant_segment(0, 0660);
    expect_replaced_not_attached(0, "has mode 0660: group or others may write it");
}

Test(restart, a_symbolic_link_at_the_name_is_replaced_and_its_target_left_alone)
{
    char target[256], path[256], err[512];
    snprintf(target, sizeof target, "/dev/shm/%s-target", seg);
    seg_path(path, sizeof path);
    int fd = open(target, O_RDWR | O_CREAT | O_EXCL, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "victim", 6), 6);
    cr_assert_eq(symlink(target, path), 0);
    enum psm_open_result res = 0;
    psm_writer_t *w;
    int rc = psm_writer_open(&w, &(struct psm_writer_opts){.name = seg}, &res, err, sizeof err);
    char buf[16] = "";
    cr_assert_eq(pread(fd, buf, sizeof buf, 0), 6);
    close(fd);
    unlink(target);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(res, PSM_OPEN_REPLACED);
    cr_assert(strstr(err, "symbolic link"), "%s", err);
    cr_assert_str_eq(buf, "victim");
    struct stat st;
    cr_assert_eq(lstat(path, &st), 0);
    cr_assert(S_ISREG(st.st_mode), "the link is still there");
    psm_writer_close(w);
}

Test(restart, a_fifo_at_the_name_is_replaced_without_blocking)
{
    char path[256], err[512];
    seg_path(path, sizeof path);
    cr_assert_eq(mkfifo(path, 0600), 0);
    alarm(10); /* a blocking open would hang here: fail instead */
    enum psm_open_result res = 0;
    psm_writer_t *w;
    cr_assert_eq(psm_writer_open(&w, &(struct psm_writer_opts){.name = seg}, &res, err, sizeof err),
                 0, "%s", err);
    alarm(0);
    cr_assert_eq(res, PSM_OPEN_REPLACED);
    cr_assert(strstr(err, "FIFO"), "%s", err);
    psm_writer_close(w);
}

Test(restart, a_directory_at_the_name_is_a_clear_error)
{
    char path[256], err[512];
    seg_path(path, sizeof path);
    cr_assert_eq(mkdir(path, 0700), 0);
    psm_writer_t *w;
    int rc = psm_writer_open(&w, &(struct psm_writer_opts){.name = seg}, NULL, err, sizeof err);
    int e = errno;
    rmdir(path);
    cr_assert_eq(rc, -1);
    cr_assert_eq(e, EISDIR);
    cr_assert(strstr(err, path) && strstr(err, "is a directory"), "%s", err);
}

Test(restart, a_file_planted_at_a_temporary_name_is_neither_followed_nor_removed)
{
    /* The old writer built its segment at "<name>.tmp.<pid>", a name anyone could plant. */
    char victim[256], planted[300], err[512];
    snprintf(victim, sizeof victim, "/dev/shm/%s-victim", seg);
    int fd = open(victim, O_RDWR | O_CREAT | O_EXCL, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "victim", 6), 6);
    int go[2];
    cr_assert_eq(pipe(go), 0);
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        psm_writer_t *w;
        if (read(go[0], &c, 1) != 1)
            _exit(2);
        _exit(psm_writer_open(&w, &(struct psm_writer_opts){.name = seg}, NULL, err, sizeof err)
                  ? 1
                  : 0);
    }
    snprintf(planted, sizeof planted, "/dev/shm/%s.tmp.%d", seg, (int)pid);
    cr_assert_eq(symlink(victim, planted), 0);
    cr_assert_eq(write(go[1], "g", 1), 1);
    int st;
    waitpid(pid, &st, 0);
    struct stat lst;
    int planted_there = lstat(planted, &lst) == 0 && S_ISLNK(lst.st_mode);
    char buf[16] = "";
    cr_assert_eq(pread(fd, buf, sizeof buf, 0), 6);
    unlink(planted);
    close(fd);
    unlink(victim);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer failed: %d", st);
    cr_assert(planted_there, "the writer removed a file it did not make");
    cr_assert_str_eq(buf, "victim");
}

/* ---- repair: a writer that died mid-observe leaves no histogram torn ---- */

Test(restart, a_histogram_torn_by_a_writer_that_died_mid_observe_is_repaired_on_reattach)
{
    pid_t pid = fork();
    if (pid == 0) {
        char err[256];
        psm_writer_t *w;
        if (psm_writer_open(&w, &(struct psm_writer_opts){.name = seg}, NULL, err, sizeof err))
            _exit(1);
        static const double b[] = {.001, .005, .01};
        int id = psm_metric_register(w,
                                     &(struct psm_metric_spec){.name = "t_lat_seconds",
                                                               .unit = "seconds",
                                                               .type = PSM_HISTOGRAM,
                                                               .bucket_count = 3,
                                                               .bounds = b},
                                     err, sizeof err);
        if (id < 0)
            _exit(2);
        psm_histogram_t *h = psm_histogram_resolve(w, id, NULL);
        for (int i = 0; i < 3; i++)
            psm_histogram_observe(h, 0.002);
        /* Killed inside psm_histogram_observe(0.007): the bucket counted, sum and count not. */
        atomic_fetch_add(&h->buckets[2], 1);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child writer failed: %d", st);

    char chk[512], err[512];
    psm_reader_t *r = tu_reader(seg);
    cr_assert_eq(psm_reader_check(r, chk, sizeof chk), -1, "the crafted image is not torn");
    psm_reader_close(r);

    enum psm_open_result res = 0;
    psm_writer_t *w;
    cr_assert_eq(psm_writer_open(&w, &(struct psm_writer_opts){.name = seg}, &res, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(res, PSM_OPEN_ATTACHED);

    r = tu_reader(seg);
    cr_assert_eq(psm_reader_check(r, chk, sizeof chk), 0, "%s", chk);
    struct psm_series_view v;
    struct psm_hist_snapshot snap;
    psm_reader_series(r, 0, &v);
    cr_assert_eq(psm_reader_hist_read(&v, &snap), 0, "still torn");
    cr_assert_eq(snap.attempts, 1, "consistent only after %u reads", snap.attempts);
    cr_assert_eq(snap.count, 4, "the interrupted observation is counted in its bucket");
    cr_assert_eq(snap.cumulative[1], 3);
    cr_assert_eq(snap.cumulative[2], 4);
    /* Its value never reached the sum: the sum lacks at most the interrupted value. */
    cr_assert_float_eq(snap.sum, 0.006, 1e-12);
    cr_assert(strstr(err, "repaired 1 histogram") && strstr(err, "t_lat_seconds"), "%s", err);
    psm_reader_close(r);
    psm_writer_close(w);
}
