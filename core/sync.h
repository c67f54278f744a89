/*
 * core/sync.h - the Redis side of portsyncd: SONiC's startup sequence
 * (startup.h), then the writer loop that applies queued link events to
 * STATE_DB, reconnects, and drains the queue when told to stop.
 */
#ifndef PCD_SYNC_H
#define PCD_SYNC_H

#include <stdatomic.h>

#include "dbconn.h"
#include "linkmon.h"
#include "metrics.h"
#include "portview.h"
#include "queue.h"
#include "startup.h"

struct pcd_sync {
    /* Filled in by the caller. */
    struct pcd_metrics *m;
    struct pcd_queue *q;
    struct pcd_linkmon_opts lm_opts; /* cold and dpu are decided at startup */
    atomic_int *stop;
    unsigned settle_ms;        /* the reconcile settle window (reconcile.h) */
    struct pcd_dbconn db;      /* db.r.o: where Redis is; the rest is set by pcd_sync_run() */
    struct pcd_portview *view; /* APPL_DB PORT_TABLE view (portview.h), or NULL */
    /* The writer thread's own. */
    struct pcd_startup st;
    struct pcd_linkmon *lm; /* the netlink reader, started by the startup sequence */
    int ready_sent;
};

/**
 * pcd_sync_run - run SONiC's startup sequence (which starts the netlink
 * reader), then apply events until *@s->stop; drain the queue and return
 * @s: m, q, lm_opts, stop and db.r.o filled in, the rest zero
 * Returns 0 after a clean drain (or a stop during startup), -1 on a fatal
 * startup error (logged).
 */
int pcd_sync_run(struct pcd_sync *s);

#endif
