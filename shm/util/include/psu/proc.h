/*
 * psu/proc.h - the figures of the running process that Prometheus client
 * libraries export as process_*: memory, CPU time, descriptors, start time.
 *
 * Where each figure comes from, and why there:
 *   resident, virtual   /proc/self/statm (pages; one short line to parse)
 *   cpu                 getrusage(RUSAGE_SELF): user + system in microseconds,
 *                       where /proc/self/stat counts clock ticks (10 ms)
 *   open fds            the entries of /proc/self/fd, less the one reading it
 *   max fds             the soft RLIMIT_NOFILE (+Inf when unlimited)
 *   start time          /proc/self/stat field 22 (clock ticks after boot),
 *                       placed on the wall clock through CLOCK_BOOTTIME: the
 *                       kernel's own record, whenever the caller first asks
 *
 * A figure that cannot be read is left out (its bit in @have is clear) rather
 * than reported as 0: a gauge that drops to 0 would be a false alarm.
 */
#ifndef PSU_PROC_H
#define PSU_PROC_H

/* Bits of struct psu_proc_stats.have. */
#define PSU_PROC_RESIDENT   (1u << 0)
#define PSU_PROC_VIRTUAL    (1u << 1)
#define PSU_PROC_CPU        (1u << 2)
#define PSU_PROC_OPEN_FDS   (1u << 3)
#define PSU_PROC_MAX_FDS    (1u << 4)
#define PSU_PROC_START_TIME (1u << 5)
#define PSU_PROC_ALL        ((1u << 6) - 1)

struct psu_proc_stats {
    double resident_bytes; /* resident set size */
    double virtual_bytes;  /* virtual memory size */
    double cpu_seconds;    /* user + system CPU time since the start, all threads */
    double open_fds;       /* descriptors open now */
    double max_fds;        /* the soft limit of open descriptors */
    double start_time;     /* seconds since the epoch (within a clock tick) */
    unsigned have;         /* PSU_PROC_* bits of the figures read */
};

/**
 * psu_proc_sample - read the figures of the calling process
 * @st: receives them; @st->have says which were read
 *
 * Costs a few system calls and three small /proc reads: meant for once a
 * second, not for a hot path. The start time moves by up to a clock tick
 * between calls (it is computed from two clocks): sample it once and keep it.
 * Returns 0 when every figure was read, or -1 with errno from the first that
 * was not (the others are still filled in).
 */
int psu_proc_sample(struct psu_proc_stats *st);

#endif
