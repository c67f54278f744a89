/*
 * psu/clock.h - the three clocks of portsyncd, in nanoseconds.
 *
 * Which clock answers which question:
 *   psu_clock_mono_ns()  durations and deadlines in one process: never jumps,
 *                        stops while the machine is suspended.
 *   psu_clock_boot_ns()  time another process compares with ours (the segment's
 *                        heartbeat): like monotonic, but counts suspend, so a
 *                        writer that slept through a suspend looks as old as it is.
 *   psu_clock_real_ns()  wall-clock time for people and timestamps (start time,
 *                        log lines); may jump when the clock is set.
 *   psu_clock_mono_deadline()  a CLOCK_MONOTONIC deadline as a timespec, for
 *                        pthread_cond_timedwait() on a condvar set to that clock.
 *
 * These clocks cannot fail on Linux (the ids are valid and the pointer is ours),
 * so the helpers return the value without an error path.
 */
#ifndef PSU_CLOCK_H
#define PSU_CLOCK_H

#include <stdint.h>
#include <time.h>

#if !defined(CLOCK_MONOTONIC) || !defined(CLOCK_BOOTTIME)
#error "psu/clock.h needs POSIX clocks: build with _GNU_SOURCE or _POSIX_C_SOURCE >= 199309L"
#endif

/* The clock @id as nanoseconds; 64 bits last until the year 2554. */
static inline uint64_t psu__clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/**
 * psu_clock_mono_ns - CLOCK_MONOTONIC in nanoseconds
 *
 * For durations and deadlines within one process. Returns the time since an
 * unspecified start (boot, on Linux), not counting suspend.
 */
static inline uint64_t psu_clock_mono_ns(void)
{
    return psu__clock_ns(CLOCK_MONOTONIC);
}

/**
 * psu_clock_boot_ns - CLOCK_BOOTTIME in nanoseconds
 *
 * For times that another process on the same machine compares with its own
 * (heartbeats): the same clock for every process, suspend included. Returns the
 * time since boot.
 */
static inline uint64_t psu_clock_boot_ns(void)
{
    return psu__clock_ns(CLOCK_BOOTTIME);
}

/**
 * psu_clock_real_ns - CLOCK_REALTIME in nanoseconds
 *
 * Wall-clock time, for timestamps shown to people or exported. Returns the time
 * since the Unix epoch; it jumps when the system clock is set.
 */
static inline uint64_t psu_clock_real_ns(void)
{
    return psu__clock_ns(CLOCK_REALTIME);
}

/**
 * psu_clock_mono_deadline - the CLOCK_MONOTONIC time @in_ns from now
 * @in_ns: how far ahead
 *
 * For pthread_cond_timedwait() on a condition variable created with
 * pthread_condattr_setclock(CLOCK_MONOTONIC): a deadline that a change of the
 * wall clock cannot move. Returns it as a normalised timespec.
 */
static inline struct timespec psu_clock_mono_deadline(uint64_t in_ns)
{
    uint64_t t = psu_clock_mono_ns() + in_ns;
    struct timespec ts = {.tv_sec = (time_t)(t / 1000000000u), .tv_nsec = (long)(t % 1000000000u)};
    return ts;
}

#endif
