/*
 * core/health.h - portsyncd_health_status as a pure function of what the
 * threads publish, so every rule can be tested without a daemon. README.md
 * ("Health") documents the rules for operators.
 */
#ifndef PCD_HEALTH_H
#define PCD_HEALTH_H

#include <stdint.h>

/* An event that failed within this window keeps the daemon degraded. */
#define PCD_HEALTH_FAILURE_WINDOW_NS UINT64_C(10000000000)
/* A Redis command outstanding longer than this means Redis is stalled. */
#define PCD_HEALTH_REDIS_WAIT_NS UINT64_C(1000000000)

struct pcd_health_input {
    int redis_connected;       /* the Redis thread holds a connection */
    int netlink_connected;     /* the netlink socket is open and joined */
    int metrics_private;       /* the segment is in private memory (nobody sees it) */
    uint32_t queue_ports;      /* distinct ports queued between netlink and Redis */
    uint32_t queue_cap;        /* what the queue holds at most */
    uint64_t since_failure_ns; /* since an event last failed; UINT64_MAX: none yet */
    uint64_t redis_wait_ns;    /* how long the Redis command in flight has waited; 0: none */
};

/* The verdict: 1 healthy, 0.5 degraded, 0 unhealthy, and the first rule that decided it. */
struct pcd_health {
    double status;
    const char *why; /* "healthy", or what is wrong, for the log */
};

/**
 * pcd_health_eval - the health rules, in order
 * @in: the daemon's state
 *
 * 0 (unhealthy) while Redis or netlink is disconnected: port changes do not reach
 * the databases. 0.5 (degraded) while the queue holds more than half its capacity
 * in ports, an event failed in the last 10 s, a Redis command has been outstanding
 * for more than 1 s, or the metrics are in private memory. 1 otherwise.
 * Returns the verdict; reads nothing but @in.
 */
struct pcd_health pcd_health_eval(const struct pcd_health_input *in);

#endif
