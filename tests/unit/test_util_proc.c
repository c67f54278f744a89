/*
 * tests/unit/test_util_proc.c - psu_proc (shm/util/proc.c): the process figures
 * both daemons export, checked against what the test can see of itself.
 */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "psu/proc.h"

Test(proc, every_figure_is_read_on_linux)
{
    struct psu_proc_stats st;
    cr_assert_eq(psu_proc_sample(&st), 0);
    cr_assert_eq(st.have, PSU_PROC_ALL, "have %#x", st.have);
    cr_assert_gt(st.resident_bytes, 0);
    cr_assert_geq(st.virtual_bytes, st.resident_bytes);
    cr_assert_geq(st.cpu_seconds, 0);
}

Test(proc, resident_memory_grows_with_touched_pages)
{
    struct psu_proc_stats before, after;
    cr_assert_eq(psu_proc_sample(&before), 0);
    size_t n = 64u << 20;
    char *p = malloc(n);
    cr_assert_not_null(p);
    memset(p, 1, n);
    cr_assert_eq(psu_proc_sample(&after), 0);
    cr_assert_geq(after.resident_bytes - before.resident_bytes, (double)(n / 2),
                  "64 MiB touched, rss %g -> %g", before.resident_bytes, after.resident_bytes);
    free(p);
}

Test(proc, open_fds_count_what_the_process_opens)
{
    struct psu_proc_stats a, b;
    cr_assert_eq(psu_proc_sample(&a), 0);
    int fd[3];
    for (int i = 0; i < 3; i++)
        cr_assert_geq(fd[i] = open("/dev/null", O_RDONLY | O_CLOEXEC), 0);
    cr_assert_eq(psu_proc_sample(&b), 0);
    cr_assert_float_eq(b.open_fds - a.open_fds, 3, 0, "%g -> %g", a.open_fds, b.open_fds);
    for (int i = 0; i < 3; i++)
        close(fd[i]);
}

Test(proc, max_fds_is_the_soft_limit)
{
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = 777;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    struct psu_proc_stats st;
    cr_assert_eq(psu_proc_sample(&st), 0);
    cr_assert_float_eq(st.max_fds, 777, 0);
}

Test(proc, cpu_seconds_agree_with_the_kernels_cpu_clock)
{
    struct psu_proc_stats a, b;
    cr_assert_eq(psu_proc_sample(&a), 0);
    /* About 50 ms of CPU: several clock ticks. */
    struct timespec t0, t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    volatile unsigned long x = 0;
    do {
        for (int i = 0; i < 100000; i++)
            x += (unsigned long)i;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1e3 + (t.tv_nsec - t0.tv_nsec) / 1e6 < 50);
    cr_assert_neq(x, 1); /* the spin's result is used: clang warns otherwise */
    cr_assert_eq(psu_proc_sample(&b), 0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    double d = b.cpu_seconds - a.cpu_seconds;
    cr_assert(d >= 0.04 && d < 5, "50 ms of CPU counted as %g s", d);
    /* Microseconds (getrusage), not 10 ms ticks: within 5 ms of the kernel's own clock. */
    double clock = (double)t.tv_sec + t.tv_nsec / 1e9;
    cr_assert(clock - b.cpu_seconds >= -0.001 && clock - b.cpu_seconds < 0.005,
              "cpu %.6f s, CLOCK_PROCESS_CPUTIME_ID %.6f s", b.cpu_seconds, clock);
}

Test(proc, the_start_time_is_when_this_process_started)
{
    /* Criterion forks each test: this process started moments ago. */
    struct psu_proc_stats st;
    cr_assert_eq(psu_proc_sample(&st), 0);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    double age = (double)now.tv_sec + now.tv_nsec / 1e9 - st.start_time;
    cr_assert(age >= -0.05 && age < 60, "started %g s ago", age);
    struct psu_proc_stats again;
    cr_assert_eq(psu_proc_sample(&again), 0);
    cr_assert(fabs(again.start_time - st.start_time) < 0.05, "stable: %f vs %f", again.start_time,
              st.start_time);
}
