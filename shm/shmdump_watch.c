/*
 * shm/shmdump_watch.c - portsyncd-shmdump --watch: a snapshot every interval
 * until SIGINT or SIGTERM, following a segment that was replaced.
 *
 * Deadlines advance by the interval rather than "now + interval", so the
 * period does not drift by the time a snapshot takes, and a stop signal is
 * never lost between the test and the sleep.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "psm/reader.h"
#include "psm/render.h"
#include "psu/clock.h"
#include "shmdump.h"

#define CLEAR_SCREEN "\033[H\033[2J"

/* Set by SIGINT/SIGTERM while --watch runs. */
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static double now_monotonic(void)
{
    return (double)psu_clock_mono_ns() / 1e9;
}

/**
 * wait_until - sleep until @deadline (CLOCK_MONOTONIC seconds) or a stop signal
 * @deadline: when to wake up
 *
 * The stop signals are blocked while they are tested and then waited for with
 * sigtimedwait(), so a signal arriving between the test and the sleep is not
 * lost until the next interval.
 * Returns 1 if a stop was requested, 0 when the deadline passed.
 */
static int wait_until(double deadline)
{
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, &old);
    while (!stop_requested) {
        double left = deadline - now_monotonic();
        if (left <= 0)
            break;
        struct timespec ts = {.tv_sec = (time_t)left};
        ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
        if (ts.tv_nsec > 999999999L)
            ts.tv_nsec = 999999999L;
        if (sigtimedwait(&set, NULL, &ts) > 0)
            stop_requested = 1;
        else if (errno == EAGAIN)
            break;
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    return stop_requested != 0;
}

int shmdump_watch(psm_reader_t *r, const struct shmdump_opts *o)
{
    struct sigaction sa = {.sa_handler = on_stop_signal}; /* no SA_RESTART: interrupt writes */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int tty = isatty(STDOUT_FILENO);
    struct shmdump_rates *rt = o->format == SHMDUMP_FMT_TABLE ? shmdump_rates_new() : NULL;
    /* One renderer for the whole watch: each snapshot after the first allocates nothing. */
    psm_renderer_t *rn = psm_renderer_new();
    if ((o->format == SHMDUMP_FMT_TABLE && !rt) || !rn) {
        shmdump_rates_free(rt);
        psm_renderer_free(rn);
        shmdump_say("out of memory");
        return SHMDUMP_EXIT_SEGMENT;
    }
    struct psm_buf out = {0};
    char notice[600] = "";
    int rc = 0;
    double next = now_monotonic();
    for (int first = 1; !stop_requested; first = 0) {
        notice[0] = '\0';
        int rf = first ? 0 : psm_reader_refresh(r);
        if (rf == 1) {
            struct psm_info in;
            psm_reader_info(r, &in);
            snprintf(notice, sizeof notice,
                     "segment %s was replaced: remapped to the new one (inode %llu, generation "
                     "%llu)",
                     psm_reader_name(r), (unsigned long long)in.ino,
                     (unsigned long long)in.generation);
            if (rt)
                shmdump_rates_reset(rt);
        } else if (rf < 0) {
            snprintf(notice, sizeof notice, "%s", psm_reader_error(r));
        }
        /* The table shows notices in its frame (a cleared screen would hide stderr). */
        if (notice[0] && o->format != SHMDUMP_FMT_TABLE)
            shmdump_say("%s", notice);
        out.len = 0;
        if (tty)
            psm_buf_puts(&out, CLEAR_SCREEN);
        char now[48], banner[800];
        shmdump_iso_time(psu_clock_real_ns(), now, sizeof now);
        snprintf(banner, sizeof banner, "%s  every %g s (Ctrl-C stops)\n%s%s", now, o->watch,
                 notice, notice[0] ? "\n" : "");
        if (shmdump_snapshot(r, rn, o, rt, banner, &out) != 0) {
            rc = SHMDUMP_EXIT_SEGMENT;
            break;
        }
        if (shmdump_write_all(out.p, out.len, &stop_requested) != 0) {
            if (!stop_requested) {
                shmdump_say("cannot write to standard output: %s", strerror(errno));
                rc = SHMDUMP_EXIT_SEGMENT;
            }
            break;
        }
        next += o->watch;
        double t = now_monotonic();
        if (next < t)
            next = t + o->watch; /* a slow snapshot or a suspend: skip, do not catch up */
        if (wait_until(next))
            break;
    }
    psm_buf_free(&out);
    psm_renderer_free(rn);
    shmdump_rates_free(rt);
    return rc;
}
