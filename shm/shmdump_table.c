/*
 * shm/shmdump_table.c - the human view of portsyncd-shmdump: a header block
 * with the segment's geometry and the writer's liveness, then one row per
 * series (grouped by metric, in registration and creation order), and under
 * --watch a per-second rate for counters and histogram counts. A histogram
 * with native buckets also shows p50, p90 and p99 estimated from them the way
 * Prometheus 2.42's histogram_quantile() does (psm_native_quantile(): linear
 * interpolation within the bucket that holds the rank), which at schema 3 is
 * within a bucket's width, about 9 %, of the true quantile.
 *
 * Label values come from the segment and go to an operator's terminal, so
 * every byte that a terminal could act on (C0/C1 controls, DEL, broken UTF-8,
 * bidirectional overrides) is shown escaped, never raw.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "psm/reader.h"
#include "psm/render.h"
#include "psu/clock.h"
#include "shmdump.h"

#define NAME_COL_MAX 72 /* a longer series name pushes its own row right, not every row */
#define TYPE_COL     9  /* "histogram" */
#define RATE_COL     12

/*
 * The previous frame's value of one series. Integer counters and histogram
 * counts keep the exact u64 so the difference of two large totals is exact;
 * double counters keep the double.
 */
struct rate_prev {
    uint64_t u;
    double d;
    unsigned char have;
};

struct shmdump_rates {
    struct rate_prev *prev; /* by series index */
    uint32_t cap;
    double t_prev; /* CLOCK_MONOTONIC seconds of the previous frame, 0: none */
};

struct shmdump_rates *shmdump_rates_new(void)
{
    return calloc(1, sizeof(struct shmdump_rates));
}

void shmdump_rates_free(struct shmdump_rates *rt)
{
    if (!rt)
        return;
    free(rt->prev);
    free(rt);
}

/* Forget every previous value: the next frame shows no rates. */
void shmdump_rates_reset(struct shmdump_rates *rt)
{
    if (rt->prev)
        memset(rt->prev, 0, (size_t)rt->cap * sizeof *rt->prev);
    rt->t_prev = 0;
}

/* Make room for @n series; new entries have no previous value. */
static int rates_reserve(struct shmdump_rates *rt, uint32_t n)
{
    if (n <= rt->cap)
        return 0;
    struct rate_prev *p = realloc(rt->prev, (size_t)n * sizeof *p);
    if (!p)
        return -1;
    memset(p + rt->cap, 0, (size_t)(n - rt->cap) * sizeof *p);
    rt->prev = p;
    rt->cap = n;
    return 0;
}

static double now_monotonic(void)
{
    return (double)psu_clock_mono_ns() / 1e9;
}

/* Bidirectional embeddings, overrides and isolates: they reorder what follows. */
static int is_bidi_control(uint32_t cp)
{
    return (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e ||
           cp == 0x200f;
}

/**
 * put_display - append a label value for a terminal
 * @b: the buffer
 * @s: the value
 * @len: its length
 *
 * Backslash, quote and newline are escaped as in the exposition format, so a
 * row reads like the series selector an operator would type. Other C0
 * controls, DEL and bytes of broken UTF-8 become \xNN; C1 controls (U+0080 to
 * U+009F, which some terminals treat as escape sequences) and bidi controls
 * become \uNNNN.
 */
static void put_display(struct psm_buf *b, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = shmdump_utf8_next(s + i, len - i, &cp);
        if (n == 0) {
            psm_buf_printf(b, "\\x%02x", (unsigned char)s[i]);
            i++;
            continue;
        }
        if (cp == '\\')
            psm_buf_put(b, "\\\\", 2);
        else if (cp == '"')
            psm_buf_put(b, "\\\"", 2);
        else if (cp == '\n')
            psm_buf_put(b, "\\n", 2);
        else if (cp < 0x20 || cp == 0x7f)
            psm_buf_printf(b, "\\x%02x", (unsigned)cp);
        else if ((cp >= 0x80 && cp < 0xa0) || is_bidi_control(cp))
            psm_buf_printf(b, "\\u%04x", (unsigned)cp);
        else
            psm_buf_put(b, s + i, n);
        i += n;
    }
}

/* Columns taken by @len bytes of (escaped, well-formed) UTF-8: one per code point. */
static size_t display_width(const char *s, size_t len)
{
    size_t w = 0;
    for (size_t i = 0; i < len; i++)
        w += ((unsigned char)s[i] & 0xc0) != 0x80;
    return w;
}

static void put_spaces(struct psm_buf *b, size_t n)
{
    static const char sp[] = "                                ";
    while (n > 0) {
        size_t k = n < sizeof sp - 1 ? n : sizeof sp - 1;
        psm_buf_put(b, sp, k);
        n -= k;
    }
}

/* Append @s and pad it to @width columns (at least two spaces follow it). */
static void put_cell(struct psm_buf *b, const char *s, size_t len, size_t width)
{
    size_t w = display_width(s, len);
    psm_buf_put(b, s, len);
    put_spaces(b, (w < width ? width - w : 0) + 2);
}

/* metric{k="v",...} of a series, or metric{k1,k2} for a metric without series. */
static void series_name(struct psm_buf *b, const struct psm_desc_view *d,
                        const struct psm_series_view *s)
{
    psm_buf_put(b, d->name.p, d->name.len);
    for (unsigned k = 0; k < d->label_count; k++) {
        psm_buf_put(b, k ? "," : "{", 1);
        psm_buf_put(b, d->label_names[k].p, d->label_names[k].len);
        if (s) {
            psm_buf_put(b, "=\"", 2);
            put_display(b, s->values[k].p, s->values[k].len);
            psm_buf_put(b, "\"", 1);
        }
    }
    if (d->label_count)
        psm_buf_put(b, "}", 1);
}

/*
 * A double for a human: 15 significant digits hide the binary noise of
 * 0.1 + 0.2 that the exposition's round-trip digits keep; integers and
 * NaN/Inf print as the exposition spells them.
 */
static void display_double(double v, char *out, size_t len)
{
    char num[32];
    if (!isfinite(v) || v == floor(v)) {
        psm_format_double(v, num);
        snprintf(out, len, "%s", num);
    } else {
        snprintf(out, len, "%.15g", v);
    }
}

static const char *type_name(enum psm_type t)
{
    return t == PSM_COUNTER ? "counter" : t == PSM_GAUGE ? "gauge" : "histogram";
}

/* 1 if the writer's recorded PID namespace is the one this process runs in. */
static int pidns_is_ours(const struct psm_info *in)
{
    struct stat st;
    return stat("/proc/self/ns/pid", &st) == 0 && (uint64_t)st.st_dev == in->writer_pidns_dev &&
           (uint64_t)st.st_ino == in->writer_pidns_ino;
}

static void put_header(struct psm_buf *b, psm_reader_t *r, const struct psm_info *in,
                       const struct psm_liveness *l, double max_age)
{
    char started[48];
    const char *name = psm_reader_name(r);
    shmdump_iso_time(in->writer_start_realtime, started, sizeof started);
    if (name[0] == '/')
        psm_buf_printf(b, "segment      %s (inode %llu)\n", name, (unsigned long long)in->ino);
    else
        psm_buf_printf(b, "segment      %s (/dev/shm/%s, inode %llu)\n", name, name,
                       (unsigned long long)in->ino);
    psm_buf_printf(b, "format       v%u.%u, layout hash 0x%016llx\n", in->major, in->minor,
                   (unsigned long long)in->layout_hash);
    psm_buf_printf(b, "size         %llu bytes\n", (unsigned long long)in->segment_size);
    psm_buf_printf(b, "generation   %llu%s\n", (unsigned long long)in->generation,
                   in->generation & 1 ? " (odd: the writer is (re)initialising it)" : "");
    psm_buf_printf(b, "writer       pid %d, ", (int)l->pid);
    if (l->alive)
        psm_buf_puts(b, "alive");
    else
        psm_buf_printf(b, "DEAD: %s", l->reason ? l->reason : "unknown reason");
    if (in->heartbeat_boottime)
        psm_buf_printf(b, ", heartbeat %.1f s ago", l->heartbeat_age);
    else
        psm_buf_puts(b, ", no heartbeat yet");
    psm_buf_printf(b, ", started %s\n", started);
    /* How that verdict was reached: across PID namespaces the pid means nothing. */
    if (l->method == PSM_LIVENESS_PID)
        psm_buf_printf(b,
                       "liveness     by pid: the writer's PID namespace is ours (pid exists, "
                       "not a zombie, same start time), heartbeat max age %g s\n",
                       max_age);
    else if (in->writer_pidns_ino && !pidns_is_ours(in))
        psm_buf_printf(b,
                       "liveness     by heartbeat alone (max age %g s): the writer's PID "
                       "namespace pid:[%llu] is not ours\n",
                       max_age, (unsigned long long)in->writer_pidns_ino);
    else if (in->writer_pidns_ino)
        psm_buf_printf(b,
                       "liveness     by heartbeat alone (max age %g s): /proc here belongs to "
                       "another PID namespace than ours\n",
                       max_age);
    else
        psm_buf_printf(b,
                       "liveness     by heartbeat alone (max age %g s): the segment does not "
                       "record the writer's PID namespace\n",
                       max_age);
    psm_buf_printf(b, "descriptors  %u used of %u\n", psm_reader_desc_count(r), in->desc_capacity);
    psm_buf_printf(b, "series       %u used of %u\n", psm_reader_series_count(r),
                   in->series_capacity);
    psm_buf_printf(b, "blob         %llu of %llu bytes used\n", (unsigned long long)in->blob_used,
                   (unsigned long long)in->blob_size);
    psm_buf_printf(b, "cells        %llu of %llu bytes used\n", (unsigned long long)in->cells_used,
                   (unsigned long long)in->cells_size);
    psm_buf_printf(b, "overflows    descriptors %llu, series %llu, blob %llu, cells %llu%s\n\n",
                   (unsigned long long)in->overflow_desc, (unsigned long long)in->overflow_series,
                   (unsigned long long)in->overflow_blob, (unsigned long long)in->overflow_cells,
                   in->overflow_desc | in->overflow_series | in->overflow_blob | in->overflow_cells
                       ? " (the writer refused some metrics: they are not exported)"
                       : "");
}

/**
 * series_value - the VALUE cell of a series, and its total for the rate
 * @s: the series
 * @nb: room for PSM_MAX_NATIVE_BUCKETS native buckets
 * @out: receives the text
 * @len: size of @out
 * @u: receives the integer total (counters, histogram counts)
 * @d: receives the double total (double counters)
 *
 * Returns 1 if the series has a rate (counters and histograms), else 0.
 */
static int series_value(const struct psm_series_view *s, struct psm_native_bucket *nb, char *out,
                        size_t len, uint64_t *u, double *d)
{
    const struct psm_desc_view *desc = s->desc;
    char num[32], sum[32];
    *u = 0;
    *d = 0;
    if (desc->type == PSM_GAUGE) {
        display_double(psm_series_f64(s), out, len);
        return 0;
    }
    if (desc->type == PSM_COUNTER) {
        if (desc->flags & PSM_F_COUNTER_DOUBLE)
            display_double(*d = psm_series_f64(s), out, len);
        else
            psm_format_u64(*u = psm_series_u64(s), out);
        return 1;
    }
    struct psm_hist_snapshot h;
    struct psm_native_snapshot nat = {.buckets = nb, .cap = PSM_MAX_NATIVE_BUCKETS};
    int torn = psm_reader_hist_read_native(s, &h, &nat);
    *u = h.count;
    psm_format_u64(h.count, num);
    display_double(h.sum, sum, sizeof sum);
    int n = snprintf(out, len, "count %s  sum %s", num, sum);
    if (h.count && n > 0 && (size_t)n < len)
        n += snprintf(out + n, len - (size_t)n, "  mean %.6g", h.sum / (double)h.count);
    /* Three digits: the buckets resolve about 5 %, more digits would be noise. */
    if (nat.valid && h.count && n > 0 && (size_t)n < len)
        n += snprintf(out + n, len - (size_t)n, "  p50 %.3g  p90 %.3g  p99 %.3g",
                      psm_native_quantile(&nat, 0.5), psm_native_quantile(&nat, 0.9),
                      psm_native_quantile(&nat, 0.99));
    else if (nat.stale && n > 0 && (size_t)n < len)
        n += snprintf(out + n, len - (size_t)n,
                      "  (native buckets stale: an older writer observed without them)");
    if (torn && n > 0 && (size_t)n < len)
        snprintf(out + n, len - (size_t)n, "  (torn read: sum may not match)");
    return 1;
}

/**
 * rate_cell - per-second rate of series @i since the previous frame
 * @rt: the rate state
 * @i: series index
 * @is_double: the total is @d, not @u
 * @u: integer total now
 * @d: double total now
 * @dt: seconds since the previous frame (0: first frame)
 * @out: receives the text ("-" when there is no previous value)
 * @len: size of @out
 */
static void rate_cell(struct shmdump_rates *rt, uint32_t i, int is_double, uint64_t u, double d,
                      double dt, char *out, size_t len)
{
    struct rate_prev *p = &rt->prev[i];
    double rate = 0;
    int have = p->have && dt > 0;
    /* Totals only grow within one segment; a drop means the writer's source reset. */
    if (have && (is_double ? d < p->d : u < p->u)) {
        snprintf(out, len, "reset");
    } else if (!have) {
        snprintf(out, len, "-");
    } else {
        rate = is_double ? (d - p->d) / dt : (double)(u - p->u) / dt;
        if (rate == 0)
            snprintf(out, len, "0");
        else if (rate >= 1)
            snprintf(out, len, "%.2f", rate);
        else
            snprintf(out, len, "%.3g", rate);
    }
    p->u = u;
    p->d = d;
    p->have = 1;
}

/**
 * shmdump_table - append the table view of a loaded reader to @out
 * @r: a reader after a successful psm_reader_load()
 * @in: its header fields
 * @l: the writer's liveness
 * @max_age: the heartbeat max age @l was judged with
 * @rt: rate state (--watch: adds the RATE/S column), or NULL
 * @banner: text printed first (--watch: time and notices), or NULL
 * @out: the buffer
 *
 * Returns 0, or -1 when out of memory.
 */
int shmdump_table(psm_reader_t *r, const struct psm_info *in, const struct psm_liveness *l,
                  double max_age, struct shmdump_rates *rt, const char *banner, struct psm_buf *out)
{
    uint32_t *order = NULL, *start = NULL;
    uint32_t nd = psm_reader_desc_count(r), ns = psm_reader_series_count(r);
    struct psm_buf name = {0};
    struct psm_series_view sv;
    double now = now_monotonic();
    struct psm_native_bucket *nb = malloc(PSM_MAX_NATIVE_BUCKETS * sizeof *nb);
    if (!nb || shmdump_group(r, &order, &start) != 0 || (rt && rates_reserve(rt, ns) != 0)) {
        free(nb);
        free(order);
        free(start);
        return -1;
    }
    double dt = rt && rt->t_prev > 0 ? now - rt->t_prev : 0;
    if (banner)
        psm_buf_puts(out, banner);
    put_header(out, r, in, l, max_age);
    if (nd == 0)
        psm_buf_puts(out, "(no metrics registered yet)\n");

    /* First pass: the width of the METRIC column. */
    size_t width = 6;
    for (uint32_t d = 0; d < nd; d++) {
        const struct psm_desc_view *dv = psm_reader_desc(r, d);
        uint32_t nrows = start[d + 1] > start[d] ? start[d + 1] - start[d] : 1;
        for (uint32_t j = 0; j < nrows; j++) {
            int has = start[d] + j < start[d + 1];
            name.len = 0;
            if (has)
                psm_reader_series(r, order[start[d] + j], &sv);
            series_name(&name, dv, has ? &sv : NULL);
            size_t w = display_width(name.p, name.len);
            if (w > width && w <= NAME_COL_MAX)
                width = w;
        }
    }
    if (nd > 0) {
        put_cell(out, "METRIC", 6, width);
        put_cell(out, "TYPE", 4, TYPE_COL);
        if (rt)
            psm_buf_printf(out, "%*s  ", RATE_COL, "RATE/S");
        psm_buf_puts(out, "VALUE\n");
    }

    /* Second pass: the rows; a metric without series gets one row saying so. */
    char value[256], rate[32];
    for (uint32_t d = 0; d < nd; d++) {
        const struct psm_desc_view *dv = psm_reader_desc(r, d);
        uint32_t nrows = start[d + 1] > start[d] ? start[d + 1] - start[d] : 1;
        for (uint32_t j = 0; j < nrows; j++) {
            uint32_t k = start[d] + j;
            int has = k < start[d + 1];
            uint64_t u = 0;
            double dval = 0;
            int rated = 0;
            name.len = 0;
            if (has) {
                psm_reader_series(r, order[k], &sv);
                rated = series_value(&sv, nb, value, sizeof value, &u, &dval);
            } else {
                snprintf(value, sizeof value, "(no series yet)");
            }
            series_name(&name, dv, has ? &sv : NULL);
            put_cell(out, name.p, name.len, width);
            put_cell(out, type_name(dv->type), strlen(type_name(dv->type)), TYPE_COL);
            if (rt) {
                rate[0] = '\0';
                if (rated)
                    rate_cell(rt, order[k], (dv->flags & PSM_F_COUNTER_DOUBLE) != 0, u, dval, dt,
                              rate, sizeof rate);
                psm_buf_printf(out, "%*s  ", RATE_COL, rate);
            }
            psm_buf_puts(out, value);
            psm_buf_put(out, "\n", 1);
        }
    }
    if (rt)
        rt->t_prev = now;
    int oom = name.oom;
    psm_buf_free(&name);
    free(nb);
    free(order);
    free(start);
    return oom || out->oom ? -1 : 0;
}
