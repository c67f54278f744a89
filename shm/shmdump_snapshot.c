/*
 * shm/shmdump_snapshot.c - one snapshot of the segment in the chosen format,
 * and writing it out. The prometheus, openmetrics and protobuf formats are
 * psm_render() unchanged, so the tool prints exactly what the exporter serves.
 */
#include <errno.h>
#include <unistd.h>

#include "psm/reader.h"
#include "psm/render.h"
#include "shmdump.h"

int shmdump_write_all(const char *p, size_t n, const volatile sig_atomic_t *stop)
{
    while (n > 0) {
        ssize_t k = write(STDOUT_FILENO, p, n);
        if (k < 0) {
            if (errno == EINTR && !(stop && *stop))
                continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int shmdump_snapshot(psm_reader_t *r, psm_renderer_t *rn, const struct shmdump_opts *o,
                     struct shmdump_rates *rt, const char *banner, struct psm_buf *out)
{
    if (psm_reader_load(r) != 0) {
        shmdump_say("%s", psm_reader_error(r));
        return -1;
    }
    int rc;
    if (o->format == SHMDUMP_FMT_PROMETHEUS || o->format == SHMDUMP_FMT_OPENMETRICS ||
        o->format == SHMDUMP_FMT_PROTOBUF) {
        enum psm_format f = o->format == SHMDUMP_FMT_PROMETHEUS    ? PSM_FMT_TEXT
                            : o->format == SHMDUMP_FMT_OPENMETRICS ? PSM_FMT_OPENMETRICS
                                                                   : PSM_FMT_PROTOBUF;
        rc = psm_render(rn, r, f, out, 0, NULL);
        if (rc != 0 && !out->oom) {
            shmdump_say("%s", psm_reader_error(r));
            return -1;
        }
    } else {
        struct psm_info in;
        struct psm_liveness l;
        psm_reader_info(r, &in);
        psm_reader_liveness(r, o->max_age, &l);
        if (o->format == SHMDUMP_FMT_JSON)
            rc = shmdump_json(r, &in, &l, o->max_age, out);
        else
            rc = shmdump_table(r, &in, &l, o->max_age, rt, banner, out);
    }
    if (rc != 0 || out->oom) {
        shmdump_say("segment %s: out of memory while formatting it", psm_reader_name(r));
        return -1;
    }
    return 0;
}
