/*
 * tests/unit/test_reader.c - the reader against real shared memory: read-only
 * mapping, clear errors for missing and forbidden segments, writer liveness.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "testutil.h"

static const char *seg;

static void setup(void)
{
    seg = tu_name("reader");
    shm_unlink(seg);
}

static void teardown(void)
{
    shm_unlink(seg);
}

TestSuite(reader, .init = setup, .fini = teardown, .timeout = 30);

static void fault_exit(int sig)
{
    _exit(sig == SIGSEGV || sig == SIGBUS ? 42 : 43);
}

Test(reader, a_write_through_the_readers_mapping_faults)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    int id = tu_register(w, "t_ro_total", PSM_COUNTER, 0, NULL);
    psm_counter_inc(psm_counter_resolve(w, id, NULL));
    psm_reader_t *r = tu_reader(seg);
    struct psm_series_view v;
    psm_reader_series(r, 0, &v);
    pid_t pid = fork();
    if (pid == 0) {
        /* Our own handler, so the verdict is the same with or without ASan's. */
        struct sigaction sa = {.sa_handler = fault_exit};
        sigaction(SIGSEGV, &sa, NULL);
        sigaction(SIGBUS, &sa, NULL);
        atomic_store((_Atomic uint64_t *)v.cells, 42);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 42,
              "the write through a read-only mapping did not fault (status %d)", st);
    cr_assert_eq(psm_series_u64(&v), 1, "the counter changed");
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(reader, the_segment_is_opened_read_only)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    psm_reader_t *r = tu_reader(seg);
    char path[64], link[256];
    /* The reader's descriptor is the only /dev/shm fd this test opened read-only. */
    int found = 0;
    for (int fd = 3; fd < 64; fd++) {
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(path, link, sizeof link - 1);
        if (n <= 0)
            continue;
        link[n] = '\0';
        if (strstr(link, seg) && (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY)
            found = 1;
    }
    cr_assert(found, "no O_RDONLY descriptor on the segment");
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(reader, a_missing_segment_says_no_such_segment)
{
    char err[512];
    psm_reader_t *r;
    cr_assert_eq(psm_reader_open(&r, seg, err, sizeof err), -1);
    cr_assert_eq(errno, ENOENT);
    cr_assert(strstr(err, "no such segment"), "%s", err);
    cr_assert(strstr(err, seg), "names the segment: %s", err);
}

Test(reader, a_forbidden_segment_says_permission_denied)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    pid_t pid = fork();
    if (pid == 0) {
        /* An unprivileged user outside the segment's group. */
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(3);
        char err[512];
        psm_reader_t *r;
        int rc = psm_reader_open(&r, seg, err, sizeof err);
        _exit(rc == -1 && errno == EACCES && strstr(err, "permission denied") ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
    psm_writer_close(w);
}

Test(reader, a_cleanly_closed_writer_is_not_alive)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    psm_reader_t *r = tu_reader(seg);
    struct psm_liveness l;
    psm_reader_liveness(r, 5.0, &l);
    cr_assert(l.alive, "live writer seen dead: %s", l.reason);
    cr_assert_eq(l.pid, getpid());
    psm_writer_close(w);
    psm_reader_liveness(r, 5.0, &l);
    cr_assert_not(l.alive);
    cr_assert_eq(l.pid, 0);
    cr_assert(strstr(l.reason, "closed"), "%s", l.reason);
    psm_reader_close(r);
}

Test(reader, a_writer_that_died_is_not_alive)
{
    pid_t pid = fork();
    if (pid == 0) {
        char err[256];
        psm_writer_t *w;
        _exit(psm_writer_open(&w, &(struct psm_writer_opts){.name = seg}, NULL, err, sizeof err) ==
                      0
                  ? 0
                  : 1); /* exits without closing: a crash, as far as readers know */
    }
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    psm_reader_t *r = tu_reader(seg);
    struct psm_liveness l;
    psm_reader_liveness(r, 5.0, &l);
    cr_assert_not(l.alive);
    cr_assert_eq(l.pid, pid);
    cr_assert(strstr(l.reason, "no longer exists"), "%s", l.reason);
    psm_reader_close(r);
}

Test(reader, a_stale_heartbeat_is_not_alive)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    psm_reader_t *r = tu_reader(seg);
    usleep(300 * 1000);
    struct psm_liveness l;
    psm_reader_liveness(r, 0.1, &l);
    cr_assert_not(l.alive);
    cr_assert(strstr(l.reason, "stale"), "%s", l.reason);
    cr_assert_geq(l.heartbeat_age, 0.29);
    psm_writer_heartbeat(w);
    psm_reader_liveness(r, 0.1, &l);
    cr_assert(l.alive, "%s", l.reason);
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(reader, a_histogram_snapshot_is_cumulative_with_inf_equal_to_count)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    int id = tu_register(w, "t_lat_seconds", PSM_HISTOGRAM, 0, NULL);
    psm_histogram_t *h = psm_histogram_resolve(w, id, NULL);
    const double v[] = {0.0005, 0.001, 0.002, 0.2, 0.7, 3, 1e9, -1};
    for (unsigned i = 0; i < sizeof v / sizeof v[0]; i++)
        psm_histogram_observe(h, v[i]);
    psm_reader_t *r = tu_reader(seg);
    struct psm_series_view s;
    struct psm_hist_snapshot snap;
    psm_reader_series(r, 0, &s);
    cr_assert_eq(psm_reader_hist_read(&s, &snap), 0);
    /* le: .001 .005 .01 .05 .1 .5 1 +Inf ; 0.001 falls in le=.001 (upper bound inclusive). */
    const uint64_t want[] = {3, 4, 4, 4, 4, 5, 6, 8};
    for (unsigned i = 0; i < 8; i++)
        cr_assert_eq(snap.cumulative[i], want[i], "bucket %u: %llu", i,
                     (unsigned long long)snap.cumulative[i]);
    cr_assert_eq(snap.count, 8);
    cr_assert_float_eq(snap.sum, 0.0005 + 0.001 + 0.002 + 0.2 + 0.7 + 3 + 1e9 - 1, 1e-3);
    psm_reader_close(r);
    psm_writer_close(w);
}
