/*
 * shm/examples/writer.c - a libpsmetrics writer: create (or re-attach to) a
 * segment, register a counter and a histogram, resolve each series once, then
 * update it with one atomic operation per call.
 *
 *   psm-example-writer [NAME]    NAME: an shm name (default psm-example)
 */
#include <stdio.h>

#include "psm/writer.h"

static int fail(const char *why)
{
    fprintf(stderr, "psm-example-writer: %s\n", why);
    return 1;
}

int main(int argc, char **argv)
{
    char err[512];
    psm_writer_t *w;
    struct psm_writer_opts opts = {.name = argc > 1 ? argv[1] : "psm-example"};
    if (psm_writer_open(&w, &opts, NULL, err, sizeof err) != 0)
        return fail(err);
    const char *port[] = {"port"};
    const double bounds[] = {.001, .01, .1};
    struct psm_metric_spec flaps = {.name = "example_flaps_total",
                                    .help = "Link flaps.",
                                    .type = PSM_COUNTER,
                                    .label_count = 1,
                                    .label_names = port};
    struct psm_metric_spec latency = {.name = "example_latency_seconds",
                                      .help = "Latency.",
                                      .unit = "seconds",
                                      .type = PSM_HISTOGRAM,
                                      .bucket_count = 3,
                                      .bounds = bounds};
    int fid = psm_metric_register(w, &flaps, err, sizeof err);
    int lid = fid < 0 ? -1 : psm_metric_register(w, &latency, err, sizeof err);
    if (lid < 0) {
        psm_writer_close(w);
        return fail(err);
    }
    /* Off the hot path: find or create each series once, keep the handle. */
    psm_counter_t *c = psm_counter_resolve(w, fid, (const char *[]){"Ethernet0"});
    psm_histogram_t *h = psm_histogram_resolve(w, lid, NULL);
    /* The hot path: no lock, no lookup, no allocation. */
    psm_counter_add(c, 3);
    psm_histogram_observe(h, 0.0004);
    psm_histogram_observe(h, 0.05);
    psm_writer_close(w); /* the segment stays for readers; it records that we are gone */
    return 0;
}
