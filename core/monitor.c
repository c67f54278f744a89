/*
 * core/monitor.c - see monitor.h.
 *
 * The heartbeat used to be written by the Redis thread: with a long Redis
 * timeout, Redis stopped for 9 s made a live portsyncd "dead" to the exporter.
 * This thread only reads atomics the other threads publish, takes the queue's
 * mutex for a moment, and reads /proc/self; publishing private metrics takes the
 * writer's mutex, which only registration and series creation hold.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "monitor.h"
#include "psu/clock.h"
#include "psu/log.h"

void pcd_monitor_input(struct pcd_monitor *mon, uint64_t now_ns, struct pcd_health_input *in)
{
    struct pcd_metrics *m = mon->m;
    uint64_t failed = psm_counter_get(m->events_failed);
    if (failed != mon->last_failed) {
        mon->last_failed = failed;
        mon->failed_at_ns = now_ns;
    }
    uint64_t busy = mon->redis_busy_since ? atomic_load(mon->redis_busy_since) : 0;
    *in = (struct pcd_health_input){
        .redis_connected = psm_gauge_get(m->redis_connected) == 1.0,
        .netlink_connected = psm_gauge_get(m->netlink_connected) == 1.0,
        .metrics_private = pcd_metrics_is_private(m),
        .queue_ports = pcd_queue_ports(mon->q),
        .queue_cap = pcd_queue_cap(mon->q),
        .since_failure_ns = mon->failed_at_ns ? now_ns - mon->failed_at_ns : UINT64_MAX,
        .redis_wait_ns = busy && now_ns > busy ? now_ns - busy : 0,
    };
}

static void monitor_health(struct pcd_monitor *mon, uint64_t now)
{
    struct pcd_health_input in;
    pcd_monitor_input(mon, now, &in);
    struct pcd_health h = pcd_health_eval(&in);
    psm_gauge_set(mon->m->health, h.status);
    if (h.status != mon->status)
        psu_log_info("health %g: %s", h.status, h.why);
    mon->status = h.status;
}

static void *monitor_thread(void *arg)
{
    struct pcd_monitor *mon = arg;
    uint64_t now = psu_clock_mono_ns(), next_tick = now,
             next_publish = now + PCD_MONITOR_PUBLISH_NS;
    pthread_mutex_lock(&mon->mu);
    while (!mon->stop) {
        pthread_mutex_unlock(&mon->mu);
        now = psu_clock_mono_ns();
        pcd_metrics_heartbeat(mon->m);
        monitor_health(mon, now);
        if (now >= next_tick) {
            pcd_metrics_tick(mon->m);
            next_tick = now + 1000000000u;
        }
        if (now >= next_publish && pcd_metrics_is_private(mon->m)) {
            pcd_metrics_publish(mon->m);
            next_publish = now + PCD_MONITOR_PUBLISH_NS;
        }
        struct timespec until = psu_clock_mono_deadline(PCD_MONITOR_PERIOD_NS);
        pthread_mutex_lock(&mon->mu);
        while (!mon->stop && pthread_cond_timedwait(&mon->cv, &mon->mu, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&mon->mu);
    return NULL;
}

int pcd_monitor_start(struct pcd_monitor *mon, char *err, size_t errlen)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&mon->mu, NULL);
    pthread_cond_init(&mon->cv, &ca);
    pthread_condattr_destroy(&ca);
    mon->status = -1; /* so the first verdict is logged */
    mon->last_failed = psm_counter_get(mon->m->events_failed);
    int e = pthread_create(&mon->thread, NULL, monitor_thread, mon);
    if (e == 0)
        pthread_setname_np(mon->thread, "monitor");
    if (e != 0) {
        snprintf(err, errlen, "cannot start the monitor thread: %s", strerror(e));
        return -1;
    }
    mon->started = 1;
    return 0;
}

void pcd_monitor_stop(struct pcd_monitor *mon)
{
    if (!mon->started)
        return;
    pthread_mutex_lock(&mon->mu);
    mon->stop = 1;
    pthread_cond_signal(&mon->cv);
    pthread_mutex_unlock(&mon->mu);
    pthread_join(mon->thread, NULL);
    mon->started = 0;
    pthread_mutex_destroy(&mon->mu);
    pthread_cond_destroy(&mon->cv);
}
