/*
 * shm/examples/reader.c - a libpsmetrics reader: open a segment read-only,
 * validate what it holds, print each series, then render it as the exporter
 * serves it (Prometheus text).
 *
 *   psm-example-reader [NAME]    NAME: an shm name (default psm-example)
 */
#include <stdio.h>
#include <unistd.h>

#include "psm/render.h"

static int fail(const char *why)
{
    fprintf(stderr, "psm-example-reader: %s\n", why);
    return 1;
}

static void print_series(const struct psm_series_view *s)
{
    const struct psm_desc_view *d = s->desc;
    printf("%.*s", (int)d->name.len, d->name.p);
    for (unsigned k = 0; k < d->label_count; k++)
        printf(" %.*s=%.*s", (int)d->label_names[k].len, d->label_names[k].p, (int)s->values[k].len,
               s->values[k].p);
    if (d->type != PSM_HISTOGRAM) {
        printf(" %g\n", psm_series_value(s));
        return;
    }
    struct psm_hist_snapshot h; /* buckets, count and sum of the same observations */
    psm_reader_hist_read(s, &h);
    printf(" count=%llu sum=%g\n", (unsigned long long)h.count, h.sum);
}

int main(int argc, char **argv)
{
    char err[512];
    psm_reader_t *r;
    /* /dev/shm proves nothing: trust only a segment this user made (default: root's). */
    struct psm_reader_opts trust = {.owner = geteuid(), .owner_set = 1};
    if (psm_reader_open_opts(&r, argc > 1 ? argv[1] : "psm-example", &trust, err, sizeof err))
        return fail(err);
    int rc = psm_reader_load(r);
    for (uint32_t i = 0; rc == 0 && i < psm_reader_series_count(r); i++) {
        struct psm_series_view s;
        psm_reader_series(r, i, &s);
        print_series(&s);
    }
    /* What the exporter serves: one renderer, kept for every render of a process. */
    struct psm_buf text = {0};
    psm_renderer_t *rn = psm_renderer_new();
    if (rc == 0)
        rc = rn ? psm_render(rn, r, PSM_FMT_TEXT, &text, 0, NULL) : -1;
    if (rc == 0)
        fwrite(text.p, 1, text.len, stdout);
    else
        fail(text.oom || !rn ? "out of memory" : psm_reader_error(r));
    psm_renderer_free(rn);
    psm_buf_free(&text);
    psm_reader_close(r);
    return rc == 0 ? 0 : 1;
}
