/*
 * tests/unit/testutil.h - helpers shared by the Criterion unit tests: unique
 * segment names per test process, and a writer/reader pair opened or failed
 * with the library's own message.
 */
#ifndef PSM_TESTUTIL_H
#define PSM_TESTUTIL_H

#ifdef PSM_MINICR
#include "minicr.h"
#else
#include <criterion/criterion.h>
#endif
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "psm/reader.h"
#include "psm/render.h"
#include "psm/writer.h"

/* A segment name unique to this test process: tests run in parallel. */
static inline const char *tu_name(const char *tag)
{
    static char buf[128];
    snprintf(buf, sizeof buf, "psm-test-%s-%d", tag, (int)getpid());
    return buf;
}

static inline psm_writer_t *tu_writer(const struct psm_writer_opts *o)
{
    char err[512] = "";
    psm_writer_t *w = NULL;
    cr_assert_eq(psm_writer_open(&w, o, NULL, err, sizeof err), 0, "writer open: %s", err);
    return w;
}

static inline psm_reader_t *tu_reader(const char *name)
{
    char err[512] = "";
    psm_reader_t *r = NULL;
    cr_assert_eq(psm_reader_open(&r, name, err, sizeof err), 0, "reader open: %s", err);
    cr_assert_eq(psm_reader_load(r), 0, "reader load: %s", psm_reader_error(r));
    return r;
}

static inline int tu_register(psm_writer_t *w, const char *name, enum psm_type type,
                              unsigned nlabels, const char *const *labels)
{
    static const double bounds[] = {.001, .005, .01, .05, .1, .5, 1};
    char err[512] = "";
    struct psm_metric_spec s = {
        .name = name,
        .help = "test metric",
        .type = type,
        .label_count = nlabels,
        .label_names = labels,
        .bucket_count = type == PSM_HISTOGRAM ? 7 : 0,
        .bounds = type == PSM_HISTOGRAM ? bounds : NULL,
    };
    int id = psm_metric_register(w, &s, err, sizeof err);
    cr_assert_geq(id, 0, "register %s: %s", name, err);
    return id;
}

/* Render @r in @fmt into a NUL-terminated heap string. */
static inline char *tu_render(psm_reader_t *r, enum psm_format fmt)
{
    struct psm_buf b = {0};
    psm_renderer_t *rn = psm_renderer_new();
    cr_assert(rn, "renderer: out of memory");
    cr_assert_eq(psm_render(rn, r, fmt, &b, 0, NULL), 0, "render: %s", psm_reader_error(r));
    psm_renderer_free(rn);
    psm_buf_put(&b, "", 1);
    return b.p;
}

#endif
