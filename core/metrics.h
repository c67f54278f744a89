/*
 * core/metrics.h - portsyncd's metrics in the shared-memory segment: every
 * handle is resolved here once, so the event path only calls the inline
 * psm_* updates. README.md ("Metrics") documents each one.
 */
#ifndef PCD_METRICS_H
#define PCD_METRICS_H

#include "psm/writer.h"

enum pcd_ignore_reason {
    PCD_IGN_NAME,           /* not Ethernet* / PortChannel* */
    PCD_IGN_TEAM,           /* link kind team */
    PCD_IGN_DELLINK_MASTER, /* DELLINK of an enslaved port */
    PCD_IGN_OLD,            /* an interface that existed at cold start */
    PCD_IGN_NOT_IN_TABLE,   /* NEWLINK of a port not in APPL_DB PORT_TABLE */
    PCD_IGN_COUNT
};

enum pcd_resync_reason {
    PCD_RESYNC_ENOBUFS,     /* the kernel dropped netlink messages */
    PCD_RESYNC_QUEUE_FULL,  /* more distinct ports pending than the queue holds */
    PCD_RESYNC_REDIS,       /* Redis came back: re-publish the kernel state */
    PCD_RESYNC_INTERRUPTED, /* the kernel flagged a dump as inconsistent */
    PCD_RESYNC_NETLINK,     /* the netlink socket failed (poll, recv) and was reopened */
    PCD_RESYNC_COUNT
};

struct pcd_metrics {
    psm_writer_t *w;
    psm_counter_t *events_processed, *events_failed, *events_coalesced, *redis_reconnects;
    psm_counter_t *ignored[PCD_IGN_COUNT], *resyncs[PCD_RESYNC_COUNT];
    int flaps_id, oper_id;
    psm_gauge_t *queue_depth, *memory, *health, *redis_connected, *netlink_connected;
    psm_gauge_t *init_done, *config_done, *warm_start;
    psm_histogram_t *event_latency, *redis_latency;
    psm_counter_t *cpu_seconds;
    psm_gauge_t *vsize, *open_fds, *max_fds, *start_time;
};

/**
 * pcd_metrics_open - open the segment and register every metric
 * @m: receives the handles
 * @shm_name: segment name
 * @group: group to own the segment, or NULL
 * @err: buffer for what failed
 * @errlen: size of @err
 * Returns 0, or -1 with @err filled.
 */
int pcd_metrics_open(struct pcd_metrics *m, const char *shm_name, const char *group, char *err,
                     size_t errlen);

/** pcd_metrics_port_flaps - the flap counter of @port (resolved once per port) */
psm_counter_t *pcd_metrics_port_flaps(struct pcd_metrics *m, const char *port);

/** pcd_metrics_port_oper - the oper-status gauge of @port */
psm_gauge_t *pcd_metrics_port_oper(struct pcd_metrics *m, const char *port);

/** pcd_metrics_tick - heartbeat and process metrics; call about once a second */
void pcd_metrics_tick(struct pcd_metrics *m);

/** pcd_metrics_close - mark the writer gone and unmap */
void pcd_metrics_close(struct pcd_metrics *m);

#endif
