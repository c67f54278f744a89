/*
 * core/metrics.c - registration of portsyncd's metrics and the once-a-second
 * process metrics (read from /proc/self, as Prometheus client libraries do).
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"

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

int pcd_metrics_open(struct pcd_metrics *m, const char *shm_name, const char *group, char *err,
                     size_t errlen)
{
    memset(m, 0, sizeof *m);
    enum psm_open_result res;
    struct psm_writer_opts o = {.name = shm_name, .group = group};
    if (psm_writer_open(&m->w, &o, &res, err, errlen) != 0)
        return -1;
    int ev, fail, coal, reconn, ign, rs, qd, mem, health, rc, nc, init, cfg, warm, lat, rlat, build,
        cpu, vsz, fds, maxfds, start;
    const struct reg regs[] = {
        {&ev, "portsyncd_events_processed_total",
         "Netlink link events handled without error (applied to Redis or deliberately ignored).",
         NULL, PSM_COUNTER, 0, NULL, 0, NULL, 0},
        {&fail, "portsyncd_events_failed_total",
         "Link events whose handling failed (malformed netlink message, Redis error); a "
         "retried event counts once per failed attempt.",
         NULL, PSM_COUNTER, 0, NULL, 0, NULL, 0},
        {&m->flaps_id, "portsyncd_port_flaps_total",
         "Oper-status transitions from up to down, per port, as the kernel reported them.", NULL,
         PSM_COUNTER, 1, port_label, 0, NULL, 0},
        {&coal, "portsyncd_events_coalesced_total",
         "Events folded into a pending event of the same port while Redis was busy.", NULL,
         PSM_COUNTER, 0, NULL, 0, NULL, 0},
        {&reconn, "portsyncd_redis_reconnects_total", "Successful reconnections to Redis.", NULL,
         PSM_COUNTER, 0, NULL, 0, NULL, 0},
        {&ign, "portsyncd_events_ignored_total",
         "Events deliberately ignored, by the SONiC filter that ignored them.", NULL, PSM_COUNTER,
         1, reason_label, 0, NULL, 0},
        {&rs, "portsyncd_netlink_resyncs_total",
         "Full link dumps taken to reconcile the databases with the kernel, by cause.", NULL,
         PSM_COUNTER, 1, reason_label, 0, NULL, 0},
        {&qd, "portsyncd_queue_depth", "Events received from netlink and not yet applied to Redis.",
         NULL, PSM_GAUGE, 0, NULL, 0, NULL, 0},
        {&mem, "portsyncd_memory_bytes", "Resident memory of portsyncd.", "bytes", PSM_GAUGE, 0,
         NULL, 0, NULL, 0},
        {&health, "portsyncd_health_status",
         "1 healthy, 0.5 degraded, 0 unhealthy (rules in README.md).", NULL, PSM_GAUGE, 0, NULL, 0,
         NULL, 0},
        {&rc, "portsyncd_redis_connected", "1 while connected to Redis.", NULL, PSM_GAUGE, 0, NULL,
         0, NULL, 0},
        {&nc, "portsyncd_netlink_connected", "1 while the netlink socket is open and joined.", NULL,
         PSM_GAUGE, 0, NULL, 0, NULL, 0},
        {&init, "portsyncd_port_init_done", "1 once PortInitDone has been written.", NULL,
         PSM_GAUGE, 0, NULL, 0, NULL, 0},
        {&cfg, "portsyncd_port_config_done",
         "1 once PortConfigDone has been written (or skipped on warm start).", NULL, PSM_GAUGE, 0,
         NULL, 0, NULL, 0},
        {&warm, "portsyncd_warm_start", "1 if this run started warm.", NULL, PSM_GAUGE, 0, NULL, 0,
         NULL, 0},
        {&m->oper_id, "portsyncd_port_oper_status",
         "Kernel oper status per port: 1 up (IFF_RUNNING), 0 down.", NULL, PSM_GAUGE, 1, port_label,
         0, NULL, 0},
        {&lat, "portsyncd_event_latency_seconds",
         "From netlink receipt to the Redis writes for the event acknowledged.", "seconds",
         PSM_HISTOGRAM, 0, NULL, 7, event_buckets, 0},
        {&rlat, "portsyncd_redis_latency_seconds", "One Redis round trip (a pipeline counts once).",
         "seconds", PSM_HISTOGRAM, 0, NULL, 5, redis_buckets, 0},
        {&build, "portsyncd_build_info", "Always 1; the labels say which build runs.", NULL,
         PSM_GAUGE, 1, (const char *const[]){"version"}, 0, NULL, 0},
        /*
         * portsyncd's process figures carry its prefix: the standard process_*
         * names belong to the process that serves /metrics (the exporter), and
         * two families of one name would make the exposition invalid.
         */
        {&cpu, "portsyncd_cpu_seconds_total",
         "User and system CPU time portsyncd has used, in seconds.", "seconds", PSM_COUNTER, 0,
         NULL, 0, NULL, PSM_F_COUNTER_DOUBLE},
        {&vsz, "portsyncd_virtual_memory_bytes", "Virtual memory size of portsyncd.", "bytes",
         PSM_GAUGE, 0, NULL, 0, NULL, 0},
        {&fds, "portsyncd_open_fds", "File descriptors portsyncd has open.", NULL, PSM_GAUGE, 0,
         NULL, 0, NULL, 0},
        {&maxfds, "portsyncd_max_fds", "portsyncd's limit of open file descriptors.", NULL,
         PSM_GAUGE, 0, NULL, 0, NULL, 0},
        {&start, "portsyncd_start_time_seconds",
         "When portsyncd started, in seconds since the epoch.", "seconds", PSM_GAUGE, 0, NULL, 0,
         NULL, 0},
    };
    for (size_t i = 0; i < sizeof regs / sizeof regs[0]; i++) {
        const struct reg *r = &regs[i];
        struct psm_metric_spec s = {r->name,   r->help, r->unit,   r->type, r->nlabels,
                                    r->labels, r->nb,   r->bounds, r->flags};
        *r->id = psm_metric_register(m->w, &s, err, errlen);
        if (*r->id < 0) {
            psm_writer_close(m->w);
            m->w = NULL;
            return -1;
        }
    }
    psm_writer_t *w = m->w;
    m->events_processed = psm_counter_resolve(w, ev, NULL);
    m->events_failed = psm_counter_resolve(w, fail, NULL);
    m->events_coalesced = psm_counter_resolve(w, coal, NULL);
    m->redis_reconnects = psm_counter_resolve(w, reconn, NULL);
    for (int i = 0; i < PCD_IGN_COUNT; i++)
        m->ignored[i] = psm_counter_resolve(w, ign, &ignore_names[i]);
    for (int i = 0; i < PCD_RESYNC_COUNT; i++)
        m->resyncs[i] = psm_counter_resolve(w, rs, &resync_names[i]);
    m->queue_depth = psm_gauge_resolve(w, qd, NULL);
    m->memory = psm_gauge_resolve(w, mem, NULL);
    m->health = psm_gauge_resolve(w, health, NULL);
    m->redis_connected = psm_gauge_resolve(w, rc, NULL);
    m->netlink_connected = psm_gauge_resolve(w, nc, NULL);
    m->init_done = psm_gauge_resolve(w, init, NULL);
    m->config_done = psm_gauge_resolve(w, cfg, NULL);
    m->warm_start = psm_gauge_resolve(w, warm, NULL);
    m->event_latency = psm_histogram_resolve(w, lat, NULL);
    m->redis_latency = psm_histogram_resolve(w, rlat, NULL);
    const char *version = PORTSYNCD_VERSION;
    psm_gauge_set(psm_gauge_resolve(w, build, &version), 1);
    m->cpu_seconds = psm_counter_resolve(w, cpu, NULL);
    m->vsize = psm_gauge_resolve(w, vsz, NULL);
    m->open_fds = psm_gauge_resolve(w, fds, NULL);
    m->max_fds = psm_gauge_resolve(w, maxfds, NULL);
    m->start_time = psm_gauge_resolve(w, start, NULL);
    /* Gauges describe this run: a re-attached segment keeps counters, not states. */
    psm_gauge_set(m->queue_depth, 0);
    psm_gauge_set(m->redis_connected, 0);
    psm_gauge_set(m->netlink_connected, 0);
    psm_gauge_set(m->init_done, 0);
    psm_gauge_set(m->config_done, 0);
    psm_gauge_set(m->health, 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    psm_gauge_set(m->start_time, (double)ts.tv_sec + ts.tv_nsec / 1e9);
    pcd_metrics_tick(m);
    return 0;
}

psm_counter_t *pcd_metrics_port_flaps(struct pcd_metrics *m, const char *port)
{
    return psm_counter_resolve(m->w, m->flaps_id, &port);
}

psm_gauge_t *pcd_metrics_port_oper(struct pcd_metrics *m, const char *port)
{
    return psm_gauge_resolve(m->w, m->oper_id, &port);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

void pcd_metrics_tick(struct pcd_metrics *m)
{
    psm_writer_heartbeat(m->w);
    long page = sysconf(_SC_PAGESIZE);
    unsigned long vpages = 0, rpages = 0;
    FILE *f = fopen("/proc/self/statm", "re");
    if (f) {
        if (fscanf(f, "%lu %lu", &vpages, &rpages) == 2) {
            psm_gauge_set(m->memory, (double)rpages * (double)page);
            psm_gauge_set(m->vsize, (double)vpages * (double)page);
        }
        fclose(f);
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        psm_counter_store_f64(m->cpu_seconds,
                              (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                                  (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
    int fds = count_fds();
    if (fds >= 0)
        psm_gauge_set(m->open_fds, fds);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        psm_gauge_set(m->max_fds, (double)rl.rlim_cur);
}

void pcd_metrics_close(struct pcd_metrics *m)
{
    psm_writer_close(m->w);
    m->w = NULL;
}
