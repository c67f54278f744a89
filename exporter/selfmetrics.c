/*
 * exporter/selfmetrics.c - the exporter's own metrics, appended after the
 * segment's families on every scrape, and the standard process_* metrics
 * (psu_proc: the sampler portsyncd uses for its own). It renders the figures
 * its caller gathered (struct pex_self_view), and the labels stats.c names.
 *
 * In text and OpenMetrics they are HELP/TYPE and sample lines; in protobuf
 * MetricFamily messages appended to the segment's (psm_render_pb_*), so one
 * body carries both.
 *
 * Every labelled family lists all of its label values from the start (at 0),
 * so a rate() over a reason that has not happened yet is 0, not absent.
 */
#include <stdio.h>
#include <string.h>

#include "pex.h"
#include "psu/clock.h"
#include "psu/proc.h"
#include "selfmetrics.h"

/*
 * One family being appended, in the scrape's format: text and OpenMetrics
 * write HELP/TYPE lines and then sample lines; protobuf opens a MetricFamily,
 * appends its metrics and writes its length when it is closed.
 */
struct fam {
    struct psm_buf *b;
    enum psm_format fmt;
    enum psm_type type;
    const char *name;
    size_t mark; /* protobuf: psm_render_pb_family_begin()'s */
};

static void fam_begin(struct fam *f, struct psm_buf *b, enum psm_format fmt, const char *name,
                      enum psm_type type, const char *help, const char *unit)
{
    *f = (struct fam){.b = b, .fmt = fmt, .type = type, .name = name};
    if (fmt == PSM_FMT_PROTOBUF)
        f->mark = psm_render_pb_family_begin(b, name, type, help);
    else
        psm_render_family(b, fmt, name, type, help, unit);
}

static void fam_sample(struct fam *f, unsigned nlabels, const char *const *names,
                       const char *const *values, double v)
{
    if (f->fmt == PSM_FMT_PROTOBUF)
        psm_render_pb_sample(f->b, f->type, nlabels, names, values, v);
    else
        psm_render_sample(f->b, f->name, nlabels, names, values, v);
}

static void fam_end(struct fam *f)
{
    if (f->fmt == PSM_FMT_PROTOBUF)
        psm_render_pb_family_end(f->b, f->mark);
}

static void one(struct psm_buf *b, enum psm_format fmt, const char *name, enum psm_type type,
                const char *help, const char *unit, double v)
{
    struct fam f;
    fam_begin(&f, b, fmt, name, type, help, unit);
    fam_sample(&f, 0, NULL, NULL, v);
    fam_end(&f);
}

static void by_label(struct psm_buf *b, enum psm_format fmt, const char *name, const char *help,
                     const char *label, const char *const *values, const uint64_t *counts,
                     unsigned n)
{
    const char *names[1] = {label};
    struct fam f;
    fam_begin(&f, b, fmt, name, PSM_COUNTER, help, NULL);
    for (unsigned i = 0; i < n; i++) {
        const char *vals[1] = {values[i]};
        fam_sample(&f, 1, names, vals, (double)counts[i]);
    }
    fam_end(&f);
}

static void by_code(struct psm_buf *b, enum psm_format fmt, const char *name, const char *help,
                    const uint64_t *counts)
{
    char codes[PEX_NCODES][8];
    const char *vals[PEX_NCODES];
    for (int i = 0; i < PEX_NCODES; i++) {
        snprintf(codes[i], sizeof codes[i], "%d", pex_code_value((enum pex_code)i));
        vals[i] = codes[i];
    }
    by_label(b, fmt, name, help, "code", vals, counts, PEX_NCODES);
}

_Static_assert(PEX_DURATION_BUCKETS <= PSM_MAX_BUCKETS, "a psm_hist_snapshot holds the buckets");

static void duration_histogram(struct psm_buf *b, enum psm_format fmt, const struct pex_stats *st)
{
    static const char *const le[] = {"le"};
    const char *name = "portsyncd_exporter_scrape_duration_seconds";
    struct fam f;
    fam_begin(&f, b, fmt, name, PSM_HISTOGRAM,
              "Time from a scrape's request to its response: batch wait, snapshot, render, "
              "compress.",
              "seconds");
    if (fmt == PSM_FMT_PROTOBUF) {
        /* Classic buckets only: this process observes on its event loop, and
         * a family's first metric decides native or classic in Prometheus. */
        struct psm_hist_snapshot h = {.count = st->dur_count, .sum = st->dur_sum};
        double bounds[PEX_DURATION_BUCKETS];
        uint64_t cum = 0;
        for (unsigned i = 0; i <= PEX_DURATION_BUCKETS; i++) {
            cum += st->dur_bucket[i];
            h.cumulative[i] = cum;
            if (i < PEX_DURATION_BUCKETS)
                bounds[i] = pex_duration_bound(i);
        }
        psm_render_pb_histogram(b, 0, NULL, NULL, &h, bounds, PEX_DURATION_BUCKETS, NULL);
        fam_end(&f);
        return;
    }
    char bucket[64], num[32];
    snprintf(bucket, sizeof bucket, "%s_bucket", name);
    uint64_t cum = 0;
    for (unsigned i = 0; i <= PEX_DURATION_BUCKETS; i++) {
        cum += st->dur_bucket[i];
        if (i < PEX_DURATION_BUCKETS)
            psm_format_double(pex_duration_bound(i), num);
        else
            strcpy(num, "+Inf");
        const char *vals[1] = {num};
        psm_render_sample(b, bucket, 1, le, vals, (double)cum);
    }
    snprintf(bucket, sizeof bucket, "%s_sum", name);
    psm_render_sample(b, bucket, 0, NULL, NULL, st->dur_sum);
    snprintf(bucket, sizeof bucket, "%s_count", name);
    psm_render_sample(b, bucket, 0, NULL, NULL, (double)st->dur_count);
}

static void segment_families(const struct pex_self_view *v, enum psm_format fmt, struct psm_buf *b)
{
    const struct pex_seg_status *seg = v->status;
    one(b, fmt, "portsyncd_exporter_segment_mapped", PSM_GAUGE,
        "1 if the metrics segment is mapped (read-only), 0 if it is missing or invalid.", NULL,
        seg->mapped);
    one(b, fmt, "portsyncd_exporter_writer_up", PSM_GAUGE,
        "1 if the segment's writer process exists and its heartbeat is recent, else 0.", NULL,
        seg->mapped && seg->live.alive);
    {
        const char *vals[PEX_SEG_NREFUSALS];
        for (int i = 0; i < PEX_SEG_NREFUSALS; i++)
            vals[i] = pex_seg_refusal_label(i);
        by_label(b, fmt, "portsyncd_exporter_segment_refused_total",
                 "Untrusted objects found at the segment's path (FIFO, directory, link, "
                 "device, another user's file, group/other-writable), counted when found.",
                 "reason", vals, v->seg->refused, PEX_SEG_NREFUSALS);
    }
    if (seg->mapped) {
        static const char *const lbl[] = {"method"};
        static const char *const pid[] = {"pid"}, *const hb[] = {"heartbeat"};
        struct fam f;
        fam_begin(&f, b, fmt, "portsyncd_exporter_writer_liveness_method", PSM_GAUGE,
                  "How writer_up was decided: pid (same PID namespace: process, start "
                  "time, not a zombie, and heartbeat) or heartbeat (another namespace).",
                  NULL);
        fam_sample(&f, 1, lbl, pid, seg->live.method == PSM_LIVENESS_PID);
        fam_sample(&f, 1, lbl, hb, seg->live.method == PSM_LIVENESS_HEARTBEAT);
        fam_end(&f);
        one(b, fmt, "portsyncd_exporter_writer_heartbeat_age_seconds", PSM_GAUGE,
            "Seconds since the writer's last heartbeat in the segment.", "seconds",
            seg->live.heartbeat_age);
        struct psm_info info;
        psm_reader_info(v->seg->r, &info);
        static const char *const areas[] = {"descriptors", "series", "strings", "cells"};
        const uint64_t ov[] = {info.overflow_desc, info.overflow_series, info.overflow_blob,
                               info.overflow_cells};
        by_label(b, fmt, "portsyncd_exporter_segment_overflows_total",
                 "Registrations the writer refused because a segment area was full.", "area", areas,
                 ov, 4);
    }
    one(b, fmt, "portsyncd_exporter_segment_remaps_total", PSM_COUNTER,
        "Times the exporter followed a replaced segment to its new mapping.", NULL,
        (double)v->seg->remaps);
    one(b, fmt, "portsyncd_exporter_segment_errors_total", PSM_COUNTER,
        "Times the segment failed validation and was unmapped.", NULL, (double)v->seg->errors);
    one(b, fmt, "portsyncd_exporter_torn_histograms_total", PSM_COUNTER,
        "Histogram snapshots that raced the writer on every retry (buckets and count agree, "
        "the sum may not).",
        NULL, (double)v->stats->torn);
}

/* 1 if the mapped segment already has a family whose name starts with @prefix. */
static int segment_has_prefix(const struct pex_self_view *v, const char *prefix)
{
    const psm_reader_t *r = v->seg->r;
    if (!v->status->mapped || !r)
        return 0;
    size_t n = strlen(prefix);
    for (uint32_t i = 0; i < psm_reader_desc_count(r); i++) {
        const struct psm_desc_view *d = psm_reader_desc(r, i);
        if (d->name.len >= n && memcmp(d->name.p, prefix, n) == 0)
            return 1;
    }
    return 0;
}

#define PROC_SAMPLE_NS 100000000ull /* the process_* figures' sample lives 100 ms */

static void process_families(const struct pex_self_view *v, enum psm_format fmt, struct psm_buf *b)
{
    /*
     * The process_* names are this process's. A writer that put process_*
     * families in the segment (portsyncd does not) would otherwise make the
     * exposition carry two families of one name, which scrapers refuse.
     */
    if (segment_has_prefix(v, "process_"))
        return;
    /*
     * A figure psu_proc could not read is left out, not exported as 0. Sampled
     * at most every 100 ms: /proc/self (stat, statm, the fd directory) cost a
     * quarter of a small scrape's CPU, and a burst of scrapes, friendly or not,
     * shares one sample. Static: the event loop's thread is the only one
     * rendering.
     */
    static struct psu_proc_stats ps;
    static uint64_t sampled_ns;
    uint64_t now = psu_clock_mono_ns();
    if (!sampled_ns || now - sampled_ns >= PROC_SAMPLE_NS) {
        psu_proc_sample(&ps);
        sampled_ns = now;
    }
    if (ps.have & PSU_PROC_CPU)
        one(b, fmt, "process_cpu_seconds_total", PSM_COUNTER,
            "Total user and system CPU time spent in seconds.", "seconds", ps.cpu_seconds);
    if (ps.have & PSU_PROC_RESIDENT)
        one(b, fmt, "process_resident_memory_bytes", PSM_GAUGE, "Resident memory size in bytes.",
            "bytes", ps.resident_bytes);
    if (ps.have & PSU_PROC_VIRTUAL)
        one(b, fmt, "process_virtual_memory_bytes", PSM_GAUGE, "Virtual memory size in bytes.",
            "bytes", ps.virtual_bytes);
    one(b, fmt, "process_start_time_seconds", PSM_GAUGE,
        "Start time of the process since unix epoch in seconds.", "seconds", v->start_time);
    if (ps.have & PSU_PROC_OPEN_FDS)
        one(b, fmt, "process_open_fds", PSM_GAUGE, "Number of open file descriptors.", NULL,
            ps.open_fds);
    /* +Inf when RLIMIT_NOFILE is unlimited, as portsyncd's own max_fds gauge. */
    if (ps.have & PSU_PROC_MAX_FDS)
        one(b, fmt, "process_max_fds", PSM_GAUGE, "Maximum number of open file descriptors.", NULL,
            ps.max_fds);
}

void pex_selfmetrics_render(const struct pex_self_view *v, enum psm_format fmt, struct psm_buf *b)
{
    const struct pex_stats *st = v->stats;
    const char *hs_labels[PEX_HS_NREASONS], *close_labels[PEX_NCLOSE];
    for (int i = 0; i < PEX_HS_NREASONS; i++)
        hs_labels[i] = pex_hs_reason_label(i);
    for (int i = 0; i < PEX_NCLOSE; i++)
        close_labels[i] = pex_close_label(i);
    {
        static const char *const names[] = {"version", "openssl"};
        const char *vals[] = {PEX_VERSION, v->openssl};
        struct fam f;
        fam_begin(&f, b, fmt, "portsyncd_exporter_build_info", PSM_GAUGE,
                  "Version of portsyncd-exporter and the OpenSSL it runs with; always 1.", NULL);
        fam_sample(&f, 2, names, vals, 1);
        fam_end(&f);
    }
    segment_families(v, fmt, b);
    by_code(b, fmt, "portsyncd_exporter_scrapes_total",
            "Requests for the telemetry path, by HTTP status code.", st->scrapes);
    one(b, fmt, "portsyncd_exporter_scrape_renders_total", PSM_COUNTER,
        "Snapshots of the segment rendered for the telemetry path; scrapes that arrive "
        "together share one.",
        NULL, (double)v->renders);
    by_code(b, fmt, "portsyncd_exporter_http_requests_total",
            "Requests for any path, by HTTP status code.", st->requests);
    duration_histogram(b, fmt, st);
    one(b, fmt, "portsyncd_exporter_requests_in_flight", PSM_GAUGE,
        "Requests being answered, this one included.", NULL, v->inflight);
    {
        static const char *const lbl[] = {"state"};
        static const char *const busy[] = {"busy"}, *const parked[] = {"parked"};
        struct fam f;
        fam_begin(&f, b, fmt, "portsyncd_exporter_scrape_responses", PSM_GAUGE,
                  "Telemetry responses being sent: busy (the client takes them; 503 "
                  "beyond --web.max-requests) or parked (the client takes nothing).",
                  NULL);
        fam_sample(&f, 1, lbl, busy, v->busy);
        fam_sample(&f, 1, lbl, parked, v->parked);
        fam_end(&f);
    }
    one(b, fmt, "portsyncd_exporter_http2_streams_refused_total", PSM_COUNTER,
        "HTTP/2 streams refused (RST_STREAM REFUSED_STREAM) beyond the advertised "
        "SETTINGS_MAX_CONCURRENT_STREAMS.",
        NULL, (double)st->h2_refused);
    one(b, fmt, "portsyncd_exporter_connections", PSM_GAUGE, "Open client connections.", NULL,
        v->conns);
    one(b, fmt, "portsyncd_exporter_connections_accepted_total", PSM_COUNTER,
        "TCP connections accepted.", NULL, (double)st->accepted);
    by_label(b, fmt, "portsyncd_exporter_connections_closed_total",
             "Connections the exporter closed to enforce a limit, by reason.", "reason",
             close_labels, st->closed, PEX_NCLOSE);
    one(b, fmt, "portsyncd_exporter_tls_handshakes_total", PSM_COUNTER,
        "TLS handshakes completed with a verified client certificate.", NULL, (double)st->hs_ok);
    by_label(b, fmt, "portsyncd_exporter_tls_handshake_failures_total",
             "TLS handshakes that did not complete, by reason.", "reason", hs_labels, st->hs_fail,
             PEX_HS_NREASONS);
    {
        static const char *const results[] = {"success", "failure"};
        const uint64_t n[] = {st->reload_ok, st->reload_fail};
        by_label(b, fmt, "portsyncd_exporter_tls_reloads_total",
                 "Reloads of the TLS material on SIGHUP, by result.", "result", results, n, 2);
    }
    one(b, fmt, "portsyncd_exporter_tls_last_reload_success_timestamp_seconds", PSM_GAUGE,
        "When the TLS material in use was loaded (unix seconds).", "seconds", st->reload_last_ok);
    one(b, fmt, "portsyncd_exporter_tls_server_cert_expiry_timestamp_seconds", PSM_GAUGE,
        "notAfter of the server certificate in use (unix seconds).", "seconds", v->cert_not_after);
    process_families(v, fmt, b);
}
