/*
 * tests/unit/test_liveness.c - is the writer alive, as a reader can tell: in the
 * writer's PID namespace by pid, start time and process state (a zombie is dead);
 * in another namespace, where a pid means nothing, by the heartbeat alone. Real
 * processes and real PID namespaces (unshare(CLONE_NEWPID)), no mocks.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>

#include "testutil.h"

static const char *seg;
static char path[160];
static char copy[140]; /* shm name of a crafted copy */
static char copyp[160];

static void setup(void)
{
    seg = tu_name("live");
    snprintf(path, sizeof path, "/dev/shm/%s", seg);
    snprintf(copy, sizeof copy, "%s.copy", seg);
    snprintf(copyp, sizeof copyp, "/dev/shm/%s", copy);
    shm_unlink(seg);
    shm_unlink(copy);
}

static void teardown(void)
{
    shm_unlink(seg);
    shm_unlink(copy);
}

TestSuite(liveness, .init = setup, .fini = teardown, .timeout = 60);

static uint64_t boottime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Copy the segment at path to copyp (root, 0640) and let @edit change its header:
 * a segment as another writer (another namespace, an older build) would leave it.
 */
static void craft_copy(void (*edit)(struct psm_header *h, void *ctx), void *ctx)
{
    int in = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(in, 0, "open %s: %s", path, strerror(errno));
    struct stat st;
    cr_assert_eq(fstat(in, &st), 0);
    void *src = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, in, 0);
    cr_assert_neq(src, MAP_FAILED);
    int out = open(copyp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    cr_assert_geq(out, 0, "create %s: %s", copyp, strerror(errno));
    cr_assert_eq(ftruncate(out, st.st_size), 0);
    void *dst = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, out, 0);
    cr_assert_neq(dst, MAP_FAILED);
    memcpy(dst, src, (size_t)st.st_size);
    edit(dst, ctx);
    munmap(dst, (size_t)st.st_size);
    munmap(src, (size_t)st.st_size);
    close(out);
    close(in);
}

static void edit_other_pidns(struct psm_header *h, void *ctx)
{
    (void)ctx;
    /* An inode no PID namespace of ours has: the writer's lives in another container. */
    atomic_store(&h->writer_pidns_ino, atomic_load(&h->writer_pidns_ino) ^ 0x5a5a5a5au);
    /* A pid that exists here (our init) but is not the writer: it must not matter. */
    atomic_store(&h->writer_pid, 1);
    atomic_store(&h->heartbeat_boottime, boottime_ns());
}

/* No namespace recorded: a minor 0 segment (ctx 0) or a writer without /proc (ctx 1). */
static void edit_no_pidns(struct psm_header *h, void *ctx)
{
    h->minor = (uint16_t)(*(int *)ctx);
    atomic_store(&h->writer_pidns_dev, 0);
    atomic_store(&h->writer_pidns_ino, 0);
    atomic_store(&h->writer_pid, 1);
    atomic_store(&h->heartbeat_boottime, boottime_ns());
}

/* A heartbeat an hour ahead, from a writer in another namespace. */
static void edit_future(struct psm_header *h, void *ctx)
{
    (void)ctx;
    atomic_store(&h->heartbeat_boottime, boottime_ns() + UINT64_C(3600) * 1000000000u);
    atomic_store(&h->writer_pidns_ino, 1);
    atomic_store(&h->writer_pid, 1);
}

static psm_reader_t *copy_reader(void)
{
    return tu_reader(copy);
}

Test(liveness, a_live_writer_in_our_namespace_is_judged_by_pid)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    psm_reader_t *r = tu_reader(seg);
    struct psm_liveness l;
    psm_reader_liveness(r, 5.0, &l);
    cr_assert(l.alive, "live writer seen dead: %s", l.reason);
    cr_assert_eq(l.method, PSM_LIVENESS_PID);
    cr_assert_eq(l.pid, getpid());
    psm_reader_close(r);
    psm_writer_close(w);
}

Test(liveness, the_writer_records_its_pid_namespace)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0);
    const struct psm_header *h = mmap(NULL, sizeof *h, PROT_READ, MAP_SHARED, fd, 0);
    cr_assert_neq((void *)h, MAP_FAILED);
    struct stat ns;
    cr_assert_eq(stat("/proc/self/ns/pid", &ns), 0);
    cr_assert_geq(h->minor, 1);
    cr_assert_eq(atomic_load(&h->writer_pidns_dev), (uint64_t)ns.st_dev);
    cr_assert_eq(atomic_load(&h->writer_pidns_ino), (uint64_t)ns.st_ino);
    munmap((void *)h, sizeof *h);
    close(fd);
    psm_writer_close(w);
}

Test(liveness, a_zombie_writer_is_dead)
{
    pid_t pid = fork();
    if (pid == 0) {
        char err[256];
        psm_writer_t *w;
        /* Exits without closing: the pid stays in the segment. */
        _exit(psm_writer_open(&w, &(struct psm_writer_opts){.name = seg}, NULL, err, sizeof err)
                  ? 1
                  : 0);
    }
    /* Wait for the exit without reaping: the child stays a zombie. */
    siginfo_t si = {0};
    cr_assert_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0, "%s", strerror(errno));
    cr_assert_eq(si.si_status, 0, "child writer failed");
    psm_reader_t *r = tu_reader(seg);
    struct psm_liveness l;
    psm_reader_liveness(r, 5.0, &l);
    cr_assert_eq(kill(pid, 0), 0, "the zombie is gone already");
    cr_assert_not(l.alive, "a zombie writer counts as alive");
    cr_assert_eq(l.pid, pid);
    cr_assert_eq(l.method, PSM_LIVENESS_PID);
    cr_assert(l.reason && strstr(l.reason, "the writer exited and was not reaped (zombie)"), "%s",
              l.reason ? l.reason : "(no reason)");
    psm_reader_close(r);
    waitpid(pid, NULL, 0);
}

Test(liveness, a_writer_in_another_pid_namespace_is_judged_by_heartbeat)
{
    psm_writer_close(tu_writer(&(struct psm_writer_opts){.name = seg}));
    craft_copy(edit_other_pidns, NULL);
    psm_reader_t *r = copy_reader();
    struct psm_liveness l;
    psm_reader_liveness(r, 5.0, &l);
    cr_assert(l.alive, "a fresh heartbeat from another namespace seen dead: %s", l.reason);
    cr_assert_eq(l.method, PSM_LIVENESS_HEARTBEAT);
    cr_assert_eq(l.pid, 1);
    usleep(300 * 1000);
    psm_reader_liveness(r, 0.2, &l);
    cr_assert_eq(l.method, PSM_LIVENESS_HEARTBEAT);
    cr_assert_not(l.alive, "a stale heartbeat from another namespace seen alive");
    cr_assert(l.reason && strstr(l.reason, "stale"), "%s", l.reason ? l.reason : "(no reason)");
    cr_assert_geq(l.heartbeat_age, 0.29);
    psm_reader_close(r);
}

Test(liveness, a_segment_without_a_recorded_namespace_is_judged_by_heartbeat)
{
    psm_writer_close(tu_writer(&(struct psm_writer_opts){.name = seg}));
    for (int minor = 0; minor <= 1; minor++) {
        shm_unlink(copy);
        craft_copy(edit_no_pidns, &minor);
        psm_reader_t *r = copy_reader();
        struct psm_liveness l;
        /* pid 1 exists here but is not the writer: only the heartbeat may decide. */
        psm_reader_liveness(r, 5.0, &l);
        cr_assert(l.alive, "minor %d: fresh heartbeat seen dead: %s", minor, l.reason);
        cr_assert_eq(l.method, PSM_LIVENESS_HEARTBEAT, "minor %d: method %d", minor, l.method);
        usleep(300 * 1000);
        psm_reader_liveness(r, 0.2, &l);
        cr_assert_not(l.alive, "minor %d: stale heartbeat seen alive", minor);
        psm_reader_close(r);
    }
}

/* Minor 0 with bytes at 184..199: they were reserved then, and mean nothing now. */
static void edit_minor0_with_our_namespace(struct psm_header *h, void *ctx)
{
    (void)ctx;
    h->minor = 0;
    atomic_store(&h->writer_pid, 1);
    atomic_store(&h->heartbeat_boottime, boottime_ns());
}

Test(liveness, a_minor_0_segment_opens_and_its_reserved_bytes_mean_nothing)
{
    psm_writer_close(tu_writer(&(struct psm_writer_opts){.name = seg}));
    craft_copy(edit_minor0_with_our_namespace, NULL); /* our namespace stays at 184/192 */
    psm_reader_t *r = copy_reader();
    struct psm_info in;
    psm_reader_info(r, &in);
    cr_assert_eq(in.minor, 0);
    cr_assert_eq(in.writer_pidns_dev, 0, "minor 0: bytes 184.. read as a namespace");
    cr_assert_eq(in.writer_pidns_ino, 0, "minor 0: bytes 192.. read as a namespace");
    struct psm_liveness l;
    psm_reader_liveness(r, 5.0, &l);
    cr_assert_eq(l.method, PSM_LIVENESS_HEARTBEAT);
    psm_reader_close(r);
}

Test(liveness, a_heartbeat_from_the_future_is_not_alive)
{
    psm_writer_close(tu_writer(&(struct psm_writer_opts){.name = seg}));
    /* Written before a reboot (CLOCK_BOOTTIME restarted), or by a broken writer. */
    craft_copy(edit_future, NULL);
    psm_reader_t *r = copy_reader();
    struct psm_liveness l;
    psm_reader_liveness(r, 5.0, &l);
    cr_assert_not(l.alive, "a heartbeat an hour ahead counts as fresh");
    cr_assert_eq(l.method, PSM_LIVENESS_HEARTBEAT);
    cr_assert(l.reason && strstr(l.reason, "future"), "%s", l.reason ? l.reason : "(no reason)");
    /* At least as old as this boot: a caller that compares ages sees it as old. */
    cr_assert_geq(l.heartbeat_age, (double)boottime_ns() / 1e9 - 1.0, "age %.3f s",
                  l.heartbeat_age);
    psm_reader_close(r);
}

/*
 * In a child: unshare(CLONE_NEWPID) and fork; the grandchild is pid 1 of a new
 * namespace (a container's writer) and runs @body, reporting its result through
 * the exit code.
 */
static pid_t in_new_pidns(int (*body)(int fd), int fd)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (unshare(CLONE_NEWPID) != 0)
            _exit(90);
        pid_t g = fork();
        if (g < 0)
            _exit(91);
        if (g == 0)
            _exit(body(fd));
        int st;
        if (waitpid(g, &st, 0) != g)
            _exit(92);
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 93);
    }
    return pid;
}

/*
 * Writer in another namespace, as in a container: its own /proc (what
 * `unshare --pid --fork --mount-proc` does), then open and heartbeat every 50 ms
 * until fd gives 'q'.
 */
static int heartbeating_writer(int fd)
{
    char err[256];
    psm_writer_t *w;
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
        return 3;
    if (psm_writer_open(&w, &(struct psm_writer_opts){.name = seg, .replace = 1}, NULL, err,
                        sizeof err))
        return 1;
    if (getpid() != 1)
        return 2;
    alarm(30); /* whatever happens to the test, this writer does not outlive it */
    for (;;) {
        psm_writer_heartbeat(w);
        char c;
        ssize_t n = read(fd, &c, 1);
        if (n == 0 || (n == 1 && c == 'q'))
            break; /* told to stop, or the test is gone */
        if (n == 1 && c == 's') {
            /* Stop heartbeating, stay alive: a hung writer, until the next byte. */
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            if (poll(&pfd, 1, -1) != 1 || read(fd, &c, 1) != 1)
                break;
            continue;
        }
        usleep(50 * 1000);
    }
    return 0; /* without psm_writer_close(): the pid stays recorded */
}

Test(liveness, a_live_writer_in_a_real_other_pid_namespace_is_alive_by_heartbeat)
{
    int p[2];
    cr_assert_eq(pipe2(p, O_NONBLOCK), 0);
    pid_t pid = in_new_pidns(heartbeating_writer, p[0]);
    /* Wait for the segment, made by pid 1 of the new namespace. */
    psm_reader_t *r = NULL;
    char err[512];
    for (int i = 0; i < 200 && psm_reader_open(&r, seg, err, sizeof err) != 0; i++)
        usleep(25 * 1000);
    cr_assert_not_null(r, "the writer in the new namespace made no segment: %s", err);
    struct psm_liveness l;
    psm_reader_liveness(r, 5.0, &l);
    cr_assert_eq(l.pid, 1, "the writer's pid in its namespace is 1, got %d", (int)l.pid);
    cr_assert(l.alive, "a live writer in another PID namespace seen dead: %s", l.reason);
    cr_assert_eq(l.method, PSM_LIVENESS_HEARTBEAT);
    /* Hung writer: no heartbeat for longer than the max age -> dead. */
    cr_assert_eq(write(p[1], "s", 1), 1);
    usleep(800 * 1000);
    psm_reader_liveness(r, 0.5, &l);
    cr_assert_eq(l.method, PSM_LIVENESS_HEARTBEAT);
    cr_assert_not(l.alive, "a writer silent for %.2f s counts as alive", l.heartbeat_age);
    cr_assert(strstr(l.reason, "stale"), "%s", l.reason);
    cr_assert_eq(waitpid(pid, NULL, WNOHANG), 0, "the silent writer is not running any more");
    cr_assert_eq(write(p[1], "gq", 2), 2);
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer in the namespace: status %d", st);
    psm_reader_close(r);
    close(p[0]);
    close(p[1]);
}

/*
 * Writer and reader share a new PID namespace, but /proc is still the parent's:
 * /proc/<pid> there is some other process. The reader must notice and judge by
 * the heartbeat rather than by the wrong /proc entry.
 */
static int writer_and_reader_with_a_foreign_proc(int fd)
{
    (void)fd;
    char err[256];
    psm_writer_t *w;
    psm_reader_t *r;
    if (psm_writer_open(&w, &(struct psm_writer_opts){.name = seg, .replace = 1}, NULL, err,
                        sizeof err))
        return 1;
    if (psm_reader_open(&r, seg, err, sizeof err))
        return 2;
    struct psm_liveness l;
    psm_reader_liveness(r, 5.0, &l);
    if (l.method != PSM_LIVENESS_HEARTBEAT)
        return 3;
    if (!l.alive)
        return 4;
    psm_writer_close(w);
    psm_reader_liveness(r, 5.0, &l);
    if (l.alive)
        return 5;
    psm_reader_close(r);
    return 0;
}

Test(liveness, a_proc_of_another_namespace_is_not_used_for_the_pid)
{
    pid_t pid = in_new_pidns(writer_and_reader_with_a_foreign_proc, -1);
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "in a new PID namespace with the parent's /proc: status %d (exit %d)", st,
              WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}
