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
    psm_writer_t *w;             /* NULL: metrics disabled, every handle a sink */
    char name[PSM_MAX_PATH_LEN]; /* the segment's name or path, for log lines */
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
 * pcd_metrics_open - open the segment and register every metric, whatever it takes
 * @m: receives the handles
 * @shm_name: segment name (a file in /dev/shm) or the absolute path of its file
 * @group: group to own the segment, or NULL
 *
 * Never stops portsyncd. A segment that cannot be used (name held by another live
 * writer, no space, no permission) gives metrics in private memory and one ERROR
 * line naming the cause and the remedy; a segment holding one of portsyncd's
 * metrics with another shape (an upgrade) is replaced, logged (its counters
 * restart); without even private memory every handle is a sink.
 * Returns 0 in the named segment, 1 in private memory (pcd_metrics_publish()
 * later), -1 metrics disabled, -2 an invalid segment name (logged: a usage
 * error the caller should exit on, as for any bad flag).
 */
int pcd_metrics_open(struct pcd_metrics *m, const char *shm_name, const char *group);

/**
 * pcd_metrics_observe_ns - observe a latency, and at DEBUG log it exactly
 * @h: event_latency or redis_latency (or a sink)
 * @metric: the histogram's name, for the log line
 * @ns: the latency in nanoseconds
 *
 * Observes @ns / 1e9 seconds. At DEBUG it also logs
 * "observe <metric> <seconds with 9 decimals>", the exact nanoseconds, so that
 * a test can compare the histograms (and Prometheus's quantiles of them) with
 * what was measured; below DEBUG that costs one relaxed load.
 */
void pcd_metrics_observe_ns(psm_histogram_t *h, const char *metric, uint64_t ns);

/** pcd_metrics_port_flaps - the flap counter of @port (resolved once per port) */
psm_counter_t *pcd_metrics_port_flaps(struct pcd_metrics *m, const char *port);

/** pcd_metrics_port_oper - the oper-status gauge of @port */
psm_gauge_t *pcd_metrics_port_oper(struct pcd_metrics *m, const char *port);

/** pcd_metrics_heartbeat - tell readers the writer is alive; call at least every 250 ms */
void pcd_metrics_heartbeat(struct pcd_metrics *m);

/** pcd_metrics_tick - process metrics from /proc/self; call about once a second */
void pcd_metrics_tick(struct pcd_metrics *m);

/** pcd_metrics_is_private - 1 while the metrics live in private memory */
int pcd_metrics_is_private(const struct pcd_metrics *m);

/**
 * pcd_metrics_publish - try to put private metrics under the segment's name
 * @m: the metrics
 * Logs once when it succeeds. Returns 1 published now, 0 nothing to do, -1 still
 * private (logged at debug level).
 */
int pcd_metrics_publish(struct pcd_metrics *m);

/** pcd_metrics_close - mark the writer gone and unmap */
void pcd_metrics_close(struct pcd_metrics *m);

#endif
