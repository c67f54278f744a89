/*
 * core/monitor.h - portsyncd's third thread: the heartbeat, the process
 * figures, the health gauge, and publishing private metrics. It never waits on
 * Redis or netlink, so a stalled Redis never makes a live portsyncd look dead.
 */
#ifndef PCD_MONITOR_H
#define PCD_MONITOR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "health.h"
#include "metrics.h"
#include "queue.h"

/* Heartbeat period: readers allow a few missed beats before calling the writer dead. */
#define PCD_MONITOR_PERIOD_NS UINT64_C(100000000)
/* How often private metrics try to take their name. */
#define PCD_MONITOR_PUBLISH_NS UINT64_C(5000000000)

struct pcd_monitor {
    struct pcd_metrics *m;
    struct pcd_queue *q;
    /* CLOCK_MONOTONIC ns at which the Redis command in flight was sent; 0: none. */
    const _Atomic uint64_t *redis_busy_since;
    /* Owned by the thread. */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, started;
    uint64_t last_failed, failed_at_ns;
    double status;
};

/**
 * pcd_monitor_start - start the thread
 * @mon: m, q and redis_busy_since filled in, the rest zero
 * @err: buffer for what failed
 * @errlen: size of @err
 * Returns 0, or -1 with @err filled.
 */
int pcd_monitor_start(struct pcd_monitor *mon, char *err, size_t errlen);

/**
 * pcd_monitor_input - gather the health rules' input from the other threads' atomics
 * @mon: the monitor (its failure tracking is updated)
 * @now_ns: CLOCK_MONOTONIC now
 * @in: receives the input
 */
void pcd_monitor_input(struct pcd_monitor *mon, uint64_t now_ns, struct pcd_health_input *in);

/** pcd_monitor_stop - stop and join the thread (safe if it never started) */
void pcd_monitor_stop(struct pcd_monitor *mon);

#endif
