/*
 * tests/psm-fixture.c - a writer for the integration tests: fills a segment with
 * every metric type and the awkward cases a renderer must get right (escaped
 * label values, UTF-8, NaN and infinities, a double counter, a histogram with
 * negative bounds, an empty family, native buckets beside classic ones: their
 * zero bucket, a value above their range, a native histogram without
 * observations), then exits or holds the segment open.
 *
 *   psm-fixture --name NAME|PATH [--hold SECONDS] [--close] [--small] [--process]
 *               [--old-portsyncd]
 *
 * NAME is a file in /dev/shm, PATH the absolute path of a file in any
 * directory (the library decides what it accepts and says why not).
 * Without --hold it exits right after writing, leaving the segment with a
 * dead writer (as after a crash); --close marks a clean exit instead. --small
 * builds a segment of a few kilobytes (the fuzzer's seed; its native buckets
 * cover 0.1 ms .. 0.2 s instead of 1 us .. 10 s). --process adds a
 * process_cpu_seconds_total family, a name the exporter also uses for itself.
 * --old-portsyncd adds two of portsyncd's metrics as an imagined older release
 * had them: portsyncd_events_processed_total at 77, and
 * portsyncd_event_latency_seconds with other buckets (0.5 1 5), so portsyncd
 * finds a segment whose metric shapes differ from its own.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "psm/writer.h"

static void die(const char *what, const char *err)
{
    fprintf(stderr, "psm-fixture: %s: %s\n", what, err);
    exit(1);
}

static int reg(psm_writer_t *w, struct psm_metric_spec s)
{
    char err[512];
    int id = psm_metric_register(w, &s, err, sizeof err);
    if (id < 0)
        die("register", err);
    return id;
}

int main(int argc, char **argv)
{
    const char *name = "psm-fixture";
    double hold = 0;
    int close_clean = 0, small = 0, process = 0, old_portsyncd = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
            name = argv[++i];
        else if (strcmp(argv[i], "--hold") == 0 && i + 1 < argc)
            hold = atof(argv[++i]);
        else if (strcmp(argv[i], "--close") == 0)
            close_clean = 1;
        else if (strcmp(argv[i], "--small") == 0)
            small = 1;
        else if (strcmp(argv[i], "--process") == 0)
            process = 1;
        else if (strcmp(argv[i], "--old-portsyncd") == 0)
            old_portsyncd = 1;
        else {
            fprintf(stderr, "usage: psm-fixture --name NAME|PATH [--hold SECONDS] [--close] "
                            "[--small] [--process] [--old-portsyncd]\n");
            return 2;
        }
    }
    char err[512];
    psm_writer_t *w;
    struct psm_writer_opts o = {.name = name, .replace = 1};
    if (small)
        o.desc_capacity = 14, o.series_capacity = 24, o.blob_size = 2560, o.cells_size = 8192;
    if (psm_writer_open(&w, &o, NULL, err, sizeof err))
        die("open", err);
    static const char *port[] = {"port"}, *two[] = {"port", "reason"};
    static const double lat[] = {.001, .005, .01, .05, .1, .5, 1};
    static const double neg[] = {-10, -1, 0, 1, 10};
    int ev = reg(w, (struct psm_metric_spec){.name = "fixture_events_processed_total",
                                             .help = "Events handled.",
                                             .type = PSM_COUNTER});
    int fl = reg(w, (struct psm_metric_spec){.name = "fixture_port_flaps_total",
                                             .help = "Oper-status transitions up to down.",
                                             .type = PSM_COUNTER,
                                             .label_count = 1,
                                             .label_names = port});
    int er = reg(w, (struct psm_metric_spec){.name = "fixture_errors_total",
                                             .help = "Errors \\ with \"quotes\"\nand a newline.",
                                             .type = PSM_COUNTER,
                                             .label_count = 2,
                                             .label_names = two});
    int cpu = reg(w, (struct psm_metric_spec){.name = "fixture_cpu_seconds_total",
                                              .help = "CPU time.",
                                              .unit = "seconds",
                                              .type = PSM_COUNTER,
                                              .flags = PSM_F_COUNTER_DOUBLE});
    int q = reg(w, (struct psm_metric_spec){
                       .name = "fixture_queue_depth", .help = "Queue.", .type = PSM_GAUGE});
    int st = reg(w, (struct psm_metric_spec){.name = "fixture_oper_status",
                                             .help = "Per-port value.",
                                             .type = PSM_GAUGE,
                                             .label_count = 1,
                                             .label_names = port});
    /* Native buckets as portsyncd's latency histograms have them (schema 3, 1 us .. 10 s). */
    double nmin = small ? 1e-4 : 0, nmax = small ? 0.2 : 0;
    int hl = reg(w, (struct psm_metric_spec){.name = "fixture_event_latency_seconds",
                                             .help = "Latency.",
                                             .unit = "seconds",
                                             .type = PSM_HISTOGRAM,
                                             .bucket_count = 7,
                                             .bounds = lat,
                                             .label_count = 1,
                                             .label_names = port,
                                             .native = 1,
                                             .native_schema = 3,
                                             .native_min = nmin,
                                             .native_max = nmax});
    int rtt = reg(w, (struct psm_metric_spec){.name = "fixture_rtt_seconds",
                                              .help = "Native buckets' edge cases.",
                                              .unit = "seconds",
                                              .type = PSM_HISTOGRAM,
                                              .bucket_count = 7,
                                              .bounds = lat,
                                              .native = 1,
                                              .native_schema = 3,
                                              .native_min = nmin,
                                              .native_max = nmax});
    int idle = reg(w, (struct psm_metric_spec){.name = "fixture_idle_seconds",
                                               .help = "Native buckets, no observation yet.",
                                               .unit = "seconds",
                                               .type = PSM_HISTOGRAM,
                                               .bucket_count = 7,
                                               .bounds = lat,
                                               .native = 1,
                                               .native_schema = 3,
                                               .native_min = nmin,
                                               .native_max = nmax});
    int hn = reg(w, (struct psm_metric_spec){.name = "fixture_temperature_delta",
                                             .help = "Negative buckets.",
                                             .type = PSM_HISTOGRAM,
                                             .bucket_count = 5,
                                             .bounds = neg});
    reg(w, (struct psm_metric_spec){.name = "fixture_unused_total",
                                    .help = "Registered, never resolved.",
                                    .type = PSM_COUNTER,
                                    .label_count = 1,
                                    .label_names = port});

    psm_counter_add(psm_counter_resolve(w, ev, NULL), 1234);
    const char *ports[] = {"Ethernet0", "Ethernet4", "Ethernet8"};
    for (int i = 0; i < 3; i++) {
        psm_counter_add(psm_counter_resolve(w, fl, &ports[i]), (uint64_t)i * 3);
        psm_gauge_set(psm_gauge_resolve(w, st, &ports[i]), i % 2);
        psm_histogram_t *h = psm_histogram_resolve(w, hl, &ports[i]);
        for (int k = 0; k < 50; k++)
            psm_histogram_observe(h, 0.0007 * (k + 1) * (i + 1));
    }
    psm_counter_inc(
        psm_counter_resolve(w, er, (const char *[]){"Ethernet0", "redis \"timeout\"\n\\x"}));
    psm_counter_inc(psm_counter_resolve(w, er, (const char *[]){"Ethernet4", "ünïcødé ✓"}));
    psm_counter_store_f64(psm_counter_resolve(w, cpu, NULL), 12.375);
    psm_gauge_set(psm_gauge_resolve(w, q, NULL), NAN);
    psm_gauge_set(psm_gauge_resolve(w, st, (const char *[]){"Ethernet12"}), INFINITY);
    psm_gauge_set(psm_gauge_resolve(w, st, (const char *[]){"Ethernet16"}), -INFINITY);
    psm_gauge_set(psm_gauge_resolve(w, st, (const char *[]){"Ethernet20"}), 0.1);
    if (process) {
        int pc = reg(w, (struct psm_metric_spec){.name = "process_cpu_seconds_total",
                                                 .help = "The writer's CPU time.",
                                                 .unit = "seconds",
                                                 .type = PSM_COUNTER,
                                                 .flags = PSM_F_COUNTER_DOUBLE});
        psm_counter_store_f64(psm_counter_resolve(w, pc, NULL), 3.5);
    }
    psm_histogram_t *h = psm_histogram_resolve(w, hn, NULL);
    for (int k = -20; k <= 20; k++)
        psm_histogram_observe(h, k);
    /* Zero bucket (0, below the threshold), a boundary (2^-10), two in one bucket,
     * an exact power of two, and above the range (the last bucket). */
    static const double edge[] = {0, 1e-7, 0x1p-10, 0.0003, 0.00031, 0.125, 50};
    h = psm_histogram_resolve(w, rtt, NULL);
    for (size_t k = 0; k < sizeof edge / sizeof edge[0]; k++)
        psm_histogram_observe(h, edge[k]);
    psm_histogram_resolve(w, idle, NULL);
    if (old_portsyncd) {
        static const double old_buckets[] = {.5, 1, 5};
        int pe = reg(w, (struct psm_metric_spec){.name = "portsyncd_events_processed_total",
                                                 .help = "Events handled (older release).",
                                                 .type = PSM_COUNTER});
        psm_counter_add(psm_counter_resolve(w, pe, NULL), 77);
        int pl = reg(w, (struct psm_metric_spec){.name = "portsyncd_event_latency_seconds",
                                                 .help = "Latency (older release's buckets).",
                                                 .unit = "seconds",
                                                 .type = PSM_HISTOGRAM,
                                                 .bucket_count = 3,
                                                 .bounds = old_buckets});
        psm_histogram_observe(psm_histogram_resolve(w, pl, NULL), 0.7);
    }

    if (hold > 0) {
        printf("ready\n");
        fflush(stdout);
        for (double t = 0; t < hold; t += 0.2) {
            psm_writer_heartbeat(w);
            usleep(200 * 1000);
        }
    }
    if (close_clean) {
        psm_writer_close(w);
        return 0;
    }
    /*
     * A dead writer, as after a crash: leave without closing, and without exit's
     * handlers, which under ASan would report the writer's memory as a leak.
     */
    fflush(stdout);
    _exit(0);
}
