/*
 * core/linkmon.h - the netlink reader: receives link events and hands them to
 * its model (linkstate.h: SONiC's filters that need no database, flap
 * counting, the queue for the Redis writer, reconciliation after a dump). It
 * never waits on Redis. Its socket, thread and backoff state are its own: the
 * struct is opaque.
 *
 * It runs in one of two ways. Threaded (from pcd_linkmon_start()): a thread of
 * its own reads the socket, whatever the writer does; this is how it runs
 * during SONiC's startup sequence and while Redis is unreachable. Inline
 * (pcd_linkmon_inline()): the writer's thread reads it in its own loop, while
 * idle (pcd_linkmon_wait()) and while each Redis reply is outstanding
 * (pcd_linkmon_fd() and pcd_linkmon_service(), through redis.h's side hook),
 * so a change goes from netlink to Redis with no thread hand-off and netlink
 * is still never left unread behind a slow Redis.
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

/**
 * pcd_linkmon_inline - from now on the caller reads netlink in its loop: the
 * reader thread is stopped (joined), the socket and the model stay as they are
 * @lm: a started reader (else nothing happens)
 * pcd_queue_wake() on the reader's queue then wakes pcd_linkmon_wait().
 *
 * Except while the queue is congested (it refused an event since the last
 * complete dump): then the reader has its thread (started if need be), so the
 * writer drains the queue while the dump is read. Read inline, a dump of more
 * ports than the queue holds would overflow it again every time. Called each
 * turn of the writer's loop, this switches back once a dump completes.
 * Returns 1 if the reader now runs inline, 0 if threaded or stopped.
 */
int pcd_linkmon_inline(struct pcd_linkmon *lm);

/**
 * pcd_linkmon_threaded - back to a reader thread of its own (before the writer
 * waits on something that is not a Redis reply: a reconnection, a pause)
 * @lm: a started reader (already threaded: nothing happens)
 * Returns 0, or -1 if the thread cannot be started (logged; it stays inline).
 */
int pcd_linkmon_threaded(struct pcd_linkmon *lm);

/**
 * pcd_linkmon_wait - inline: one turn of the reader, waiting at most @max_ms
 * for the socket (0: take what is there and return); returns early on
 * pcd_queue_wake() and pcd_linkmon_resync()
 * @lm: the reader
 * @max_ms: the longest wait
 * Returns 0, or -1 when it is threaded or stopped (nothing done: the caller
 * waits in pcd_queue_pop() instead).
 */
int pcd_linkmon_wait(struct pcd_linkmon *lm, int max_ms);

/**
 * pcd_linkmon_fd - inline: the netlink socket to poll during a reply; -1 when
 * threaded, while the socket is closed, and while the queue is congested
 * (then pcd_linkmon_wait() reads only into an empty queue)
 * @lm: the reader
 */
int pcd_linkmon_fd(const struct pcd_linkmon *lm);

/** pcd_linkmon_service - inline: the socket polled readable; read what it holds */
void pcd_linkmon_service(struct pcd_linkmon *lm);

/** pcd_linkmon_stop - stop the thread and close the socket (again: nothing; NULL is fine) */
void pcd_linkmon_stop(struct pcd_linkmon *lm);

/** pcd_linkmon_free - stop @lm if it runs and release it (NULL is fine) */
void pcd_linkmon_free(struct pcd_linkmon *lm);

#endif
