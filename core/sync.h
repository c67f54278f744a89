/*
 * core/sync.h - the Redis side of portsyncd: SONiC's startup sequence and the
 * writer loop that applies queued link events to STATE_DB.
 */
#ifndef PCD_SYNC_H
#define PCD_SYNC_H

#include <stdatomic.h>
#include <stdint.h>

#include "linkmon.h"
#include "metrics.h"
#include "queue.h"
#include "redis.h"

struct pcd_portset;
struct pcd_config_plan;

struct pcd_sync {
    struct pcd_redis r;
    struct pcd_metrics *m;
    struct pcd_queue *q;
    struct pcd_linkmon *lm; /* NULL until started */
    struct pcd_linkmon_opts lm_opts;
    atomic_int *stop;
    int connected, warm, dpu, init_done, ready_sent;
    struct pcd_portset *pending_ports; /* CONFIG_DB ports without a netdev yet */
    struct pcd_config_plan *plan;      /* startup: CONFIG_DB ports, consumed ones (kept on retry) */
    uint64_t started_ns;
};

/**
 * pcd_sync_run - connect, run SONiC's startup sequence, start the netlink
 * reader, then apply events until *@s->stop; drain the queue and return
 * @s: filled with r.o, m, q, lm_opts (cold/dpu are decided here), stop
 * Returns 0 after a clean drain, -1 on a fatal startup error (logged).
 */
int pcd_sync_run(struct pcd_sync *s);

#endif
