/*
 * core/health.c - see health.h. Unhealthy rules come first: a daemon that
 * cannot reach Redis is unhealthy even if its metrics are also private.
 */
#include "health.h"

struct pcd_health pcd_health_eval(const struct pcd_health_input *in)
{
    if (!in->redis_connected)
        return (struct pcd_health){0.0, "Redis is disconnected"};
    if (!in->netlink_connected)
        return (struct pcd_health){0.0, "the netlink socket is closed"};
    /* Connected but stuck: a command that has waited this long stalls every event. */
    if (in->redis_wait_ns > PCD_HEALTH_REDIS_WAIT_NS)
        return (struct pcd_health){0.5, "a Redis command has been outstanding for more than 1 s"};
    if (in->queue_cap && in->queue_ports > in->queue_cap / 2)
        return (struct pcd_health){0.5, "the queue holds more than half its capacity"};
    if (in->since_failure_ns < PCD_HEALTH_FAILURE_WINDOW_NS)
        return (struct pcd_health){0.5, "an event failed in the last 10 s"};
    if (in->metrics_private)
        return (struct pcd_health){0.5, "the metrics are in private memory"};
    return (struct pcd_health){1.0, "healthy"};
}
