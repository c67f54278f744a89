/*
 * core/linkmon.h - the netlink reader thread: receives link events and hands
 * them to its model (linkstate.h: SONiC's filters that need no database, flap
 * counting, the queue for the Redis writer, reconciliation after a dump). It
 * never waits on Redis. Its socket, thread and backoff state are its own: the
 * struct is opaque.
 */
#ifndef PCD_LINKMON_H
#define PCD_LINKMON_H

#include <stddef.h>

#include "metrics.h"
#include "queue.h"

/* What to do with Ethernet* netdevs that exist when a cold start begins. */
enum pcd_old_mode {
    PCD_OLD_AUTO,   /* default: a restart alone is taken over (no old interfaces), else SONIC */
    PCD_OLD_SONIC,  /* SONiC: bring them down and ignore their ifindexes for the run */
    PCD_OLD_IGNORE, /* ignore their ifindexes, leave them as they are */
    PCD_OLD_OFF,    /* treat them like any other netdev */
};

struct pcd_linkmon_opts {
    int cold; /* 1 on a cold start (old-interface handling applies) */
    int dpu;  /* 1 if DEVICE_METADATA switch_type is dpu (no old handling) */
    enum pcd_old_mode old_mode;
    int rcvbuf; /* netlink receive buffer in bytes */
};

struct pcd_linkmon;

/**
 * pcd_linkmon_new - a reader that is not running yet
 * @q: the queue it feeds
 * @m: the metrics it counts in
 * Returns it, or NULL with errno ENOMEM.
 */
struct pcd_linkmon *pcd_linkmon_new(struct pcd_queue *q, struct pcd_metrics *m);

/**
 * pcd_linkmon_start - open netlink, take SONiC's old-interface snapshot (cold
 * start), request the initial dump, start the thread
 * @lm: the reader
 * @o: options
 * @err: buffer for what failed
 * @errlen: size of @err
 * Returns 0, or -1 with @err filled (nothing left open).
 */
int pcd_linkmon_start(struct pcd_linkmon *lm, const struct pcd_linkmon_opts *o, char *err,
                      size_t errlen);

/**
 * pcd_linkmon_resync - ask the thread for a full dump and reconciliation
 * @lm: the reader
 * @why: the cause, counted in portsyncd_netlink_resyncs_total
 * Does nothing once the reader is stopped.
 */
void pcd_linkmon_resync(struct pcd_linkmon *lm, enum pcd_resync_reason why);

/**
 * pcd_linkmon_initial_done - has the first complete dump been queued?
 * @lm: the reader
 * Safe from any thread. Returns 1 or 0.
 */
int pcd_linkmon_initial_done(struct pcd_linkmon *lm);

/**
 * pcd_linkmon_initial_done_ns - when the first complete dump ended (its
 * NLMSG_DONE's receipt, CLOCK_MONOTONIC ns), 0 before; safe from any thread
 * @lm: the reader
 */
uint64_t pcd_linkmon_initial_done_ns(struct pcd_linkmon *lm);

/** pcd_linkmon_stop - stop the thread and close the socket (again: nothing; NULL is fine) */
void pcd_linkmon_stop(struct pcd_linkmon *lm);

/** pcd_linkmon_free - stop @lm if it runs and release it (NULL is fine) */
void pcd_linkmon_free(struct pcd_linkmon *lm);

#endif
