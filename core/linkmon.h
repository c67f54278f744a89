/*
 * core/linkmon.h - the netlink reader thread: receives link events, applies
 * SONiC's filters that need no database, counts flaps, and queues the rest for
 * the Redis writer. It never waits on Redis.
 */
#ifndef PCD_LINKMON_H
#define PCD_LINKMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "queue.h"

/* What to do with Ethernet* netdevs that exist when a cold start begins. */
enum pcd_old_mode {
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

struct pcd_port;

struct pcd_linkmon {
    struct pcd_linkmon_opts o;
    struct pcd_queue *q;
    struct pcd_metrics *m;
    struct mnl_socket *nl;
    unsigned portid;
    int ctl_fd; /* eventfd: stop and resync requests */
    pthread_t thread;
    atomic_int stop;
    atomic_uint resync_req;  /* bit per enum pcd_resync_reason */
    atomic_int initial_done; /* the first dump has been received and queued */
    /* Owned by the thread. */
    uint32_t seq, dump_seq;
    int dump_active, dump_intr, dump_initial, redump, running;
    uint64_t dump_started; /* CLOCK_MONOTONIC ns of the dump in flight */
    /* While the socket is closed after a failure: when to try again, and how long to wait next. */
    uint64_t retry_at;
    unsigned retry_ms, failures;
    char last_failure[384]; /* the last failure logged, to log a repeat only every 5 s */
    unsigned reasons;       /* enum pcd_resync_reason bits the next dump answers */
    uint32_t dump_gen;
    struct pcd_port *ports;
    uint32_t nports, cap_ports;
    struct {
        int ifindex;
        char name[16];
    } * old;
    uint32_t nold;
};

/**
 * pcd_linkmon_start - open netlink, request the initial dump, start the thread
 * @lm: the reader (zeroed by the caller)
 * @o: options
 * @q: queue to feed
 * @m: metrics
 * @err: buffer for what failed
 * @errlen: size of @err
 * Returns 0, or -1 with @err filled.
 */
int pcd_linkmon_start(struct pcd_linkmon *lm, const struct pcd_linkmon_opts *o, struct pcd_queue *q,
                      struct pcd_metrics *m, char *err, size_t errlen);

struct pcd_link;

/**
 * pcd_link_filter - SONiC's filters that need no database, in SONiC's order
 * @l: a parsed link event
 *
 * Names not starting with Ethernet or PortChannel; link kind team; DELLINK of a
 * port that has a master (taken out of a bridge, not deleted).
 * Returns the enum pcd_ignore_reason that applies, or -1 if the event passes.
 */
int pcd_link_filter(const struct pcd_link *l);

/**
 * pcd_linkmon_feed - process one netlink receive buffer as the reader thread does
 * @lm: the reader
 * @buf: the bytes one recv() returned
 * @len: their number
 * @t_ns: CLOCK_MONOTONIC receipt time
 *
 * Filters, flap accounting, queueing, and the reconciliation when a dump of
 * ours ends. Called by the thread only; the unit tests drive the reconcile
 * logic with it on a reader whose thread was never started.
 */
void pcd_linkmon_feed(struct pcd_linkmon *lm, const void *buf, size_t len, uint64_t t_ns);

/** pcd_linkmon_resync - ask for a full dump and reconciliation */
void pcd_linkmon_resync(struct pcd_linkmon *lm, enum pcd_resync_reason why);

/** pcd_linkmon_stop - stop the thread and close the socket */
void pcd_linkmon_stop(struct pcd_linkmon *lm);

#endif
