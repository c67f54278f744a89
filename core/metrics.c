/*
 * core/metrics.c - registration of portsyncd's metrics and the once-a-second
 * process metrics (psu_proc: /proc/self, as Prometheus client libraries do).
 *
 * Metrics never stop port sync: whatever is wrong with the segment (its name
 * held by another live writer, /dev/shm full, no permission, a metric whose
 * shape changed in an upgrade), portsyncd logs one line and carries on, with
 * the metrics in private memory if need be (the monitor thread publishes them
 * when the name can be used).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"
#include "psu/clock.h"
#include "psu/log.h"
#include "psu/proc.h"

#ifndef PORTSYNCD_VERSION
#define PORTSYNCD_VERSION "0.0.0"
#endif

static const double event_buckets[] = {.001, .005, .01, .05, .1, .5, 1};
static const double redis_buckets[] = {.001, .005, .01, .05, .1};
static const char *const port_label[] = {"port"};
static const char *const reason_label[] = {"reason"};
static const char *const ignore_names[PCD_IGN_COUNT] = {"name", "kind_team", "dellink_with_master",
                                                        "old_interface", "not_in_port_table"};
static const char *const resync_names[PCD_RESYNC_COUNT] = {
    "enobufs", "queue_full", "redis_reconnect", "dump_interrupted", "netlink_error"};

struct reg {
    int *id;
    const char *name, *help, *unit;
    enum psm_type type;
    unsigned nlabels;
    const char *const *labels;
    unsigned nb;
    const double *bounds;
    uint32_t flags;
};

/* Metric ids, filled by registration (-1: not registered, its handles are sinks). */
struct ids {
    int ev, fail, coal, reconn, ign, rs, qd, mem, health, rc, nc, init, cfg, warm, lat, rlat, build,
        cpu, vsz, fds, maxfds, start;
};

/*
 * Register every metric. Returns 0, or -1 with errno (EEXIST: the segment holds a
 * metric of that name with another shape; ENOSPC: a table is full) and @err
 * naming the metric; ids registered so far are kept.
 */
static int metrics_register(struct pcd_metrics *m, struct ids *id, int keep_going, char *err,
                            size_t errlen)
{
    int rc = 0;
    const struct reg regs[] = {
        {&id->ev, "portsyncd_events_processed_total",
         "Netlink link events handled without error (applied to Redis or deliberately ignored).",
         NULL, PSM_COUNTER, 0, NULL, 0, NULL, 0},
        {&id->fail, "portsyncd_events_failed_total",
         "Link events whose handling failed (malformed netlink message, Redis error); a "
         "retried event counts once per failed attempt.",
         NULL, PSM_COUNTER, 0, NULL, 0, NULL, 0},
        {&m->flaps_id, "portsyncd_port_flaps_total",
         "Oper-status transitions from up to down, per port, as the kernel reported them.", NULL,
         PSM_COUNTER, 1, port_label, 0, NULL, 0},
        {&id->coal, "portsyncd_events_coalesced_total",
         "Events folded into a pending event of the same port while Redis was busy.", NULL,
         PSM_COUNTER, 0, NULL, 0, NULL, 0},
        {&id->reconn, "portsyncd_redis_reconnects_total", "Successful reconnections to Redis.",
         NULL, PSM_COUNTER, 0, NULL, 0, NULL, 0},
        {&id->ign, "portsyncd_events_ignored_total",
         "Events deliberately ignored, by the SONiC filter that ignored them.", NULL, PSM_COUNTER,
         1, reason_label, 0, NULL, 0},
        {&id->rs, "portsyncd_netlink_resyncs_total",
         "Full link dumps taken to reconcile the databases with the kernel, by cause.", NULL,
         PSM_COUNTER, 1, reason_label, 0, NULL, 0},
        {&id->qd, "portsyncd_queue_depth",
         "Events received from netlink and not yet applied to Redis.", NULL, PSM_GAUGE, 0, NULL, 0,
         NULL, 0},
        {&id->mem, "portsyncd_memory_bytes", "Resident memory of portsyncd.", "bytes", PSM_GAUGE, 0,
         NULL, 0, NULL, 0},
        {&id->health, "portsyncd_health_status",
         "1 healthy, 0.5 degraded, 0 unhealthy (rules in README.md).", NULL, PSM_GAUGE, 0, NULL, 0,
         NULL, 0},
        {&id->rc, "portsyncd_redis_connected", "1 while connected to Redis.", NULL, PSM_GAUGE, 0,
         NULL, 0, NULL, 0},
        {&id->nc, "portsyncd_netlink_connected", "1 while the netlink socket is open and joined.",
         NULL, PSM_GAUGE, 0, NULL, 0, NULL, 0},
        {&id->init, "portsyncd_port_init_done", "1 once PortInitDone has been written.", NULL,
         PSM_GAUGE, 0, NULL, 0, NULL, 0},
        {&id->cfg, "portsyncd_port_config_done",
         "1 once PortConfigDone has been written (or skipped on warm start).", NULL, PSM_GAUGE, 0,
         NULL, 0, NULL, 0},
        {&id->warm, "portsyncd_warm_start", "1 if this run started warm.", NULL, PSM_GAUGE, 0, NULL,
         0, NULL, 0},
        {&m->oper_id, "portsyncd_port_oper_status",
         "Kernel oper status per port: 1 up (IFF_RUNNING), 0 down.", NULL, PSM_GAUGE, 1, port_label,
         0, NULL, 0},
        {&id->lat, "portsyncd_event_latency_seconds",
         "From netlink receipt to the Redis writes for the event acknowledged.", "seconds",
         PSM_HISTOGRAM, 0, NULL, 7, event_buckets, 0},
        {&id->rlat, "portsyncd_redis_latency_seconds",
         "One Redis round trip (a pipeline counts once).", "seconds", PSM_HISTOGRAM, 0, NULL, 5,
         redis_buckets, 0},
        {&id->build, "portsyncd_build_info", "Always 1; the labels say which build runs.", NULL,
         PSM_GAUGE, 1, (const char *const[]){"version"}, 0, NULL, 0},
        /*
         * portsyncd's process figures carry its prefix: the standard process_*
         * names belong to the process that serves /metrics (the exporter), and
         * two families of one name would make the exposition invalid.
         */
        {&id->cpu, "portsyncd_cpu_seconds_total",
         "User and system CPU time portsyncd has used, in seconds.", "seconds", PSM_COUNTER, 0,
         NULL, 0, NULL, PSM_F_COUNTER_DOUBLE},
        {&id->vsz, "portsyncd_virtual_memory_bytes", "Virtual memory size of portsyncd.", "bytes",
         PSM_GAUGE, 0, NULL, 0, NULL, 0},
        {&id->fds, "portsyncd_open_fds", "File descriptors portsyncd has open.", NULL, PSM_GAUGE, 0,
         NULL, 0, NULL, 0},
        {&id->maxfds, "portsyncd_max_fds", "portsyncd's limit of open file descriptors.", NULL,
         PSM_GAUGE, 0, NULL, 0, NULL, 0},
        {&id->start, "portsyncd_start_time_seconds",
         "When portsyncd started, in seconds since the epoch.", "seconds", PSM_GAUGE, 0, NULL, 0,
         NULL, 0},
    };
    for (size_t i = 0; i < sizeof regs / sizeof regs[0]; i++) {
        const struct reg *r = &regs[i];
        struct psm_metric_spec s = {.name = r->name,
                                    .help = r->help,
                                    .unit = r->unit,
                                    .type = r->type,
                                    .label_count = r->nlabels,
                                    .label_names = r->labels,
                                    .bucket_count = r->nb,
                                    .bounds = r->bounds,
                                    .flags = r->flags,
                                    /*
                                     * Every histogram (the two latencies) also gets
                                     * native buckets, 1 us .. 10 s at schema 3: the
                                     * classic ones above cannot resolve 0.1 ms.
                                     */
                                    .native = r->type == PSM_HISTOGRAM,
                                    .native_schema = PSM_NATIVE_SCHEMA_DEFAULT};
        *r->id = psm_metric_register(m->w, &s, err, errlen);
        if (*r->id < 0) {
            if (!keep_going)
                return -1;
            /* A fresh segment refused it: a bug in this table; its handles count nowhere. */
            psu_log_error("metrics segment %s: %s: that metric is not exported", m->name, err);
            rc = -1;
        }
    }
    return rc;
}

/*
 * Without a writer at all (metrics disabled) every handle is one of these: the
 * event path updates them as usual and nothing reads them.
 */
static psm_counter_t sink_counter;
static psm_gauge_t sink_gauge;
static _Atomic uint64_t sink_cells[3];
static psm_histogram_t sink_histogram = {
    .count = &sink_cells[0], .sum = &sink_cells[1], .buckets = &sink_cells[2]};

static psm_counter_t *counter_get(struct pcd_metrics *m, int id, const char *const *values)
{
    return m->w ? psm_counter_resolve(m->w, id, values) : &sink_counter;
}

static psm_gauge_t *gauge_get(struct pcd_metrics *m, int id, const char *const *values)
{
    return m->w ? psm_gauge_resolve(m->w, id, values) : &sink_gauge;
}

static psm_histogram_t *histogram_get(struct pcd_metrics *m, int id, const char *const *values)
{
    return m->w ? psm_histogram_resolve(m->w, id, values) : &sink_histogram;
}

/* Resolve every handle once; the event path only calls the inline updates. */
static void metrics_resolve(struct pcd_metrics *m, const struct ids *id)
{
    m->events_processed = counter_get(m, id->ev, NULL);
    m->events_failed = counter_get(m, id->fail, NULL);
    m->events_coalesced = counter_get(m, id->coal, NULL);
    m->redis_reconnects = counter_get(m, id->reconn, NULL);
    for (int i = 0; i < PCD_IGN_COUNT; i++)
        m->ignored[i] = counter_get(m, id->ign, &ignore_names[i]);
    for (int i = 0; i < PCD_RESYNC_COUNT; i++)
        m->resyncs[i] = counter_get(m, id->rs, &resync_names[i]);
    m->queue_depth = gauge_get(m, id->qd, NULL);
    m->memory = gauge_get(m, id->mem, NULL);
    m->health = gauge_get(m, id->health, NULL);
    m->redis_connected = gauge_get(m, id->rc, NULL);
    m->netlink_connected = gauge_get(m, id->nc, NULL);
    m->init_done = gauge_get(m, id->init, NULL);
    m->config_done = gauge_get(m, id->cfg, NULL);
    m->warm_start = gauge_get(m, id->warm, NULL);
    m->event_latency = histogram_get(m, id->lat, NULL);
    m->redis_latency = histogram_get(m, id->rlat, NULL);
    const char *version = PORTSYNCD_VERSION;
    psm_gauge_set(gauge_get(m, id->build, &version), 1);
    m->cpu_seconds = counter_get(m, id->cpu, NULL);
    m->vsize = gauge_get(m, id->vsz, NULL);
    m->open_fds = gauge_get(m, id->fds, NULL);
    m->max_fds = gauge_get(m, id->maxfds, NULL);
    m->start_time = gauge_get(m, id->start, NULL);
    /* Gauges describe this run: a re-attached segment keeps counters, not states. */
    psm_gauge_set(m->queue_depth, 0);
    psm_gauge_set(m->redis_connected, 0);
    psm_gauge_set(m->netlink_connected, 0);
    psm_gauge_set(m->init_done, 0);
    psm_gauge_set(m->config_done, 0);
    psm_gauge_set(m->health, 0);
    /* The kernel's record of the start, not when the metrics happened to be opened. */
    struct psu_proc_stats st;
    psu_proc_sample(&st);
    psm_gauge_set(m->start_time, st.have & PSU_PROC_START_TIME ? st.start_time
                                                               : (double)psu_clock_real_ns() / 1e9);
}

/* What to do about the reason the named segment could not be used. */
static const char *remedy(int e)
{
    switch (e) {
    case EBUSY:
        return "stop the other writer or give portsyncd another --shm-name; the metrics appear "
               "under the name once it is free";
    case ENOSPC:
        return "free space in the segment's filesystem (/dev/shm, or the directory of its path) "
               "or enlarge it";
    case EACCES:
    case EPERM:
    case EROFS:
        return "remove the file at the name or fix the permissions of its directory";
    case EISDIR:
        return "remove the directory at the name";
    default:
        return "fix the cause above";
    }
}

/* Log what psm_writer_open() did when it was not a plain create or re-attach. */
static void metrics_report(const struct pcd_metrics *m, enum psm_open_result res, int cause,
                           const char *err)
{
    if (res == PSM_OPEN_PRIVATE)
        psu_log_error(
            "metrics segment %s unavailable: %s; port sync carries on with health degraded, "
            "retrying every 5 s; to fix: %s",
            m->name, err, remedy(cause));
    else if (err[0])
        psu_log_warn("%s", err);
}

int pcd_metrics_open(struct pcd_metrics *m, const char *shm_name, const char *group)
{
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", shm_name);
    char err[1024];
    enum psm_open_result res;
    struct psm_writer_opts o = {.name = shm_name, .group = group, .fallback = 1};
    struct ids id;
    memset(&id, -1, sizeof id);
    int rc = psm_writer_open(&m->w, &o, &res, err, sizeof err);
    if (rc != 0 && errno == EINVAL) {
        /* A bad --shm-name: a usage error, like any bad flag. */
        psu_log_error("%s", err);
        m->w = NULL;
        metrics_resolve(m, &id);
        return -2;
    }
    if (rc != 0) {
        /* Not even private memory: no memory at all. */
        psu_log_error("metrics disabled: %s; port sync carries on without metrics", err);
        m->w = NULL;
        metrics_resolve(m, &id);
        return -1;
    }
    metrics_report(m, res, errno, err);
    if (metrics_register(m, &id, 0, err, sizeof err) != 0) {
        /*
         * The segment holds one of our metrics with another type, labels or buckets
         * (an upgrade changed it), or has no room left: build a fresh one. The old
         * writer stays open until then, so nobody can take the name in between.
         */
        psu_log_warn("metrics segment %s: %s (%s): replacing it with a fresh segment; portsyncd's "
                     "counters restart from 0",
                     m->name, err,
                     errno == EEXIST ? "the metric changed in an upgrade" : "no room");
        psm_writer_t *old = m->w;
        o.replace = 1;
        rc = psm_writer_open(&m->w, &o, &res, err, sizeof err);
        int cause = errno;
        psm_writer_close(old);
        memset(&id, -1, sizeof id);
        if (rc != 0) {
            psu_log_error("metrics disabled: %s; port sync carries on without metrics", err);
            m->w = NULL;
            metrics_resolve(m, &id);
            return -1;
        }
        if (res == PSM_OPEN_PRIVATE) /* "replaced" was said above */
            metrics_report(m, res, cause, err);
        metrics_register(m, &id, 1, err, sizeof err);
    }
    metrics_resolve(m, &id);
    pcd_metrics_tick(m);
    return psm_writer_is_private(m->w);
}

psm_counter_t *pcd_metrics_port_flaps(struct pcd_metrics *m, const char *port)
{
    return counter_get(m, m->flaps_id, &port);
}

psm_gauge_t *pcd_metrics_port_oper(struct pcd_metrics *m, const char *port)
{
    return gauge_get(m, m->oper_id, &port);
}

void pcd_metrics_observe_ns(psm_histogram_t *h, const char *metric, uint64_t ns)
{
    psm_histogram_observe(h, (double)ns / 1e9);
    /*
     * Integer nanoseconds printed as seconds: the decimal is exact, and the value
     * observed is the double nearest to it, so a reader of the log can rebuild
     * every bucket without rounding doubts.
     */
    psu_log_debug("observe %s %" PRIu64 ".%09" PRIu64, metric, ns / 1000000000u, ns % 1000000000u);
}

void pcd_metrics_heartbeat(struct pcd_metrics *m)
{
    if (m->w)
        psm_writer_heartbeat(m->w);
}

int pcd_metrics_is_private(const struct pcd_metrics *m)
{
    return m->w && psm_writer_is_private(m->w);
}

int pcd_metrics_publish(struct pcd_metrics *m)
{
    char err[1024];
    if (!m->w)
        return 0;
    int rc = psm_writer_publish(m->w, err, sizeof err);
    if (rc == 1)
        psu_log_notice("metrics segment %s: published; the metrics counted in private memory since "
                       "the start are there now",
                       m->name);
    else if (rc < 0)
        psu_log_debug("metrics segment %s: still private: %s", m->name, err);
    return rc;
}

void pcd_metrics_tick(struct pcd_metrics *m)
{
    struct psu_proc_stats st;
    /* A figure that could not be read keeps its last value (a drop to 0 would be a false alarm). */
    psu_proc_sample(&st);
    if (st.have & PSU_PROC_RESIDENT)
        psm_gauge_set(m->memory, st.resident_bytes);
    if (st.have & PSU_PROC_VIRTUAL)
        psm_gauge_set(m->vsize, st.virtual_bytes);
    if (st.have & PSU_PROC_CPU)
        psm_counter_store_f64(m->cpu_seconds, st.cpu_seconds);
    if (st.have & PSU_PROC_OPEN_FDS)
        psm_gauge_set(m->open_fds, st.open_fds);
    if (st.have & PSU_PROC_MAX_FDS)
        psm_gauge_set(m->max_fds, st.max_fds);
}

void pcd_metrics_close(struct pcd_metrics *m)
{
    psm_writer_close(m->w); /* NULL-safe */
    m->w = NULL;
}
