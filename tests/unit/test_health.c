/*
 * tests/unit/test_health.c - portsyncd's health rules (core/health.c), one
 * test per rule and per boundary, and the monitor's reading of the other
 * threads' state (core/monitor.c) into the rules' input.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifdef PSM_MINICR
#include "minicr.h"
#else
#include <criterion/criterion.h>
#endif

#include "health.h"
#include "monitor.h"

TestSuite(health, .timeout = 30);

/* Everything fine: connected, empty queue, no failure, no command waiting, segment public. */
static struct pcd_health_input fine(void)
{
    return (struct pcd_health_input){.redis_connected = 1,
                                     .netlink_connected = 1,
                                     .queue_cap = 4096,
                                     .since_failure_ns = UINT64_MAX};
}

static void expect(struct pcd_health_input in, double status, const char *why)
{
    struct pcd_health h = pcd_health_eval(&in);
    cr_assert_float_eq(h.status, status, 0, "status %g, expected %g (%s)", h.status, status, h.why);
    cr_assert(strstr(h.why, why), "reason '%s' lacks '%s'", h.why, why);
}

Test(health, all_fine_is_healthy)
{
    expect(fine(), 1.0, "healthy");
}

Test(health, redis_disconnected_is_unhealthy)
{
    struct pcd_health_input in = fine();
    in.redis_connected = 0;
    expect(in, 0.0, "Redis is disconnected");
}

Test(health, netlink_disconnected_is_unhealthy)
{
    struct pcd_health_input in = fine();
    in.netlink_connected = 0;
    expect(in, 0.0, "netlink");
}

Test(health, unhealthy_wins_over_every_degraded_rule)
{
    struct pcd_health_input in = fine();
    in.redis_connected = 0;
    in.metrics_private = 1;
    in.redis_wait_ns = 5000000000u;
    in.queue_ports = 4000;
    in.since_failure_ns = 0;
    expect(in, 0.0, "Redis is disconnected");
}

Test(health, a_queue_more_than_half_full_is_degraded)
{
    struct pcd_health_input in = fine();
    in.queue_ports = 2049;
    expect(in, 0.5, "queue");
    in.queue_ports = 2048; /* exactly half: fine */
    expect(in, 1.0, "healthy");
}

Test(health, a_failure_in_the_last_10_s_is_degraded)
{
    struct pcd_health_input in = fine();
    in.since_failure_ns = PCD_HEALTH_FAILURE_WINDOW_NS - 1;
    expect(in, 0.5, "failed");
    in.since_failure_ns = PCD_HEALTH_FAILURE_WINDOW_NS;
    expect(in, 1.0, "healthy");
}

Test(health, a_redis_command_outstanding_for_more_than_1_s_is_degraded)
{
    struct pcd_health_input in = fine();
    in.redis_wait_ns = PCD_HEALTH_REDIS_WAIT_NS + 1;
    expect(in, 0.5, "outstanding");
    in.redis_wait_ns = PCD_HEALTH_REDIS_WAIT_NS; /* a slow but answered command: fine */
    expect(in, 1.0, "healthy");
}

Test(health, metrics_in_private_memory_are_degraded)
{
    struct pcd_health_input in = fine();
    in.metrics_private = 1;
    expect(in, 0.5, "private memory");
}

Test(health, a_stalled_redis_is_named_before_the_queue_it_fills)
{
    struct pcd_health_input in = fine();
    in.redis_wait_ns = 3000000000u;
    in.queue_ports = 4000;
    expect(in, 0.5, "outstanding");
}

Test(health, the_monitor_reads_failures_connections_and_a_waiting_command)
{
    char name[64];
    snprintf(name, sizeof name, "pcd-test-health-%d", (int)getpid());
    struct pcd_metrics m;
    cr_assert_eq(pcd_metrics_open(&m, name, NULL), 0);
    struct pcd_queue *q = pcd_queue_new(16, NULL);
    cr_assert_not_null(q);
    _Atomic uint64_t busy = 0;
    struct pcd_monitor mon = {.m = &m, .q = q, .redis_busy_since = &busy};
    struct pcd_health_input in;

    pcd_monitor_input(&mon, 100, &in);
    cr_assert_eq(in.redis_connected, 0, "gauges start at 0 for this run");
    cr_assert_eq(in.since_failure_ns, UINT64_MAX);
    cr_assert_eq(in.redis_wait_ns, 0);
    cr_assert_eq(in.queue_cap, 16);
    cr_assert_eq(in.metrics_private, 0);

    psm_gauge_set(m.redis_connected, 1);
    psm_gauge_set(m.netlink_connected, 1);
    psm_counter_inc(m.events_failed);
    atomic_store(&busy, 1000);
    pcd_monitor_input(&mon, 5000, &in);
    cr_assert_eq(in.redis_connected, 1);
    cr_assert_eq(in.netlink_connected, 1);
    cr_assert_eq(in.since_failure_ns, 0, "a new failure is seen now");
    cr_assert_eq(in.redis_wait_ns, 4000);
    pcd_monitor_input(&mon, 9000, &in);
    cr_assert_eq(in.since_failure_ns, 4000, "and ages from when it was seen");

    pcd_queue_free(q);
    pcd_metrics_close(&m);
    shm_unlink(name);
}
