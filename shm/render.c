/*
 * shm/render.c - exposition of a segment in Prometheus text 0.0.4 and
 * OpenMetrics 1.0, and psm_render(), which also hands each family to
 * render_pb.c for the protobuf exposition.
 *
 * The scrape path: one pass groups series by descriptor (counting sort), then
 * each family is written with its label sets escaped once per series and
 * copied into every line of that series. Numbers are formatted without printf
 * where they are integers, which is what most samples are.
 *
 * The renderer reads the segment through the public reader API only, and owns
 * the memory it needs for that (struct psm_renderer): the reader knows nothing
 * of it, and one renderer serves whichever reader the caller holds now.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psm/render.h"
#include "render_int.h"

size_t psm_format_u64(uint64_t v, char *out)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}

size_t psm_format_double(double v, char *out)
{
    if (isnan(v)) {
        memcpy(out, "NaN", 4);
        return 3;
    }
    if (isinf(v)) {
        memcpy(out, v > 0 ? "+Inf" : "-Inf", 5);
        return 4;
    }
    /* Integers below 2^53 are exact: print them as integers. */
    if (fabs(v) < 9007199254740992.0 && v == (double)(int64_t)v) {
        if (v < 0 || (v == 0 && signbit(v))) {
            out[0] = '-';
            return 1 + psm_format_u64((uint64_t)(-(int64_t)v), out + 1);
        }
        return psm_format_u64((uint64_t)v, out);
    }
    /*
     * Fast path for values with at most six decimals (0.25, 12.375, 0.005): if
     * m / 1e6 is exactly v, the decimal m/1e6 parses back to v. This skips the
     * snprintf/strtod search below, which costs microseconds per value.
     */
    double a = fabs(v);
    if (a >= 1e-4 && a < 1e9) {
        uint64_t m = (uint64_t)(a * 1e6 + 0.5);
        if ((double)m / 1e6 == a) {
            size_t n = 0;
            if (v < 0)
                out[n++] = '-';
            n += psm_format_u64(m / 1000000, out + n);
            uint32_t frac = (uint32_t)(m % 1000000);
            if (frac) {
                int digits = 6;
                while (frac % 10 == 0)
                    frac /= 10, digits--;
                out[n++] = '.';
                for (int i = digits - 1; i >= 0; i--, frac /= 10)
                    out[n + (size_t)i] = (char)('0' + frac % 10);
                n += (size_t)digits;
            }
            out[n] = '\0';
            return n;
        }
    }
    for (int prec = 15; prec <= 17; prec++) {
        int n = snprintf(out, 32, "%.*g", prec, v);
        if (prec == 17 || strtod(out, NULL) == v)
            return (size_t)n;
    }
    return 0; /* not reached */
}

static void put_escaped(struct psm_buf *b, const char *s, size_t len, int quote)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        const char *rep = NULL;
        if (c == '\\')
            rep = "\\\\";
        else if (c == '\n')
            rep = "\\n";
        else if (c == '"' && quote)
            rep = "\\\"";
        if (rep) {
            psm_buf_put(b, s + start, i - start);
            psm_buf_put(b, rep, 2);
            start = i + 1;
        }
    }
    psm_buf_put(b, s + start, len - start);
}

static const char *type_name(enum psm_type t)
{
    return t == PSM_COUNTER ? "counter" : t == PSM_GAUGE ? "gauge" : "histogram";
}

/* Family header lines. @name/@nlen is the full metric name (counters with _total). */
static void family_header(struct psm_buf *b, enum psm_format fmt, const char *name, size_t nlen,
                          enum psm_type type, const char *help, size_t hlen, const char *unit,
                          size_t ulen)
{
    size_t flen = nlen;
    if (fmt == PSM_FMT_OPENMETRICS && type == PSM_COUNTER && nlen > 6 &&
        memcmp(name + nlen - 6, "_total", 6) == 0)
        flen -= 6; /* OpenMetrics names the family without the sample suffix */
    psm_buf_put(b, "# HELP ", 7);
    psm_buf_put(b, name, flen);
    psm_buf_put(b, " ", 1);
    put_escaped(b, help, hlen, fmt == PSM_FMT_OPENMETRICS);
    psm_buf_put(b, "\n# TYPE ", 8);
    psm_buf_put(b, name, flen);
    psm_buf_put(b, " ", 1);
    psm_buf_puts(b, type_name(type));
    psm_buf_put(b, "\n", 1);
    /* OpenMetrics requires the family name to end in _<unit>. */
    if (fmt == PSM_FMT_OPENMETRICS && ulen && flen > ulen + 1 &&
        memcmp(name + flen - ulen, unit, ulen) == 0 && name[flen - ulen - 1] == '_') {
        psm_buf_put(b, "# UNIT ", 7);
        psm_buf_put(b, name, flen);
        psm_buf_put(b, " ", 1);
        psm_buf_put(b, unit, ulen);
        psm_buf_put(b, "\n", 1);
    }
}

void psm_render_family(struct psm_buf *b, enum psm_format fmt, const char *name, enum psm_type type,
                       const char *help, const char *unit)
{
    family_header(b, fmt, name, strlen(name), type, help ? help : "", help ? strlen(help) : 0,
                  unit ? unit : "", unit ? strlen(unit) : 0);
}

void psm_render_sample(struct psm_buf *b, const char *name, unsigned nlabels,
                       const char *const *names, const char *const *values, double v)
{
    char num[32];
    psm_buf_puts(b, name);
    for (unsigned i = 0; i < nlabels; i++) {
        psm_buf_put(b, i ? "," : "{", 1);
        psm_buf_puts(b, names[i]);
        psm_buf_put(b, "=\"", 2);
        put_escaped(b, values[i], strlen(values[i]), 1);
        psm_buf_put(b, "\"", 1);
    }
    if (nlabels)
        psm_buf_put(b, "}", 1);
    psm_buf_put(b, " ", 1);
    psm_buf_put(b, num, psm_format_double(v, num));
    psm_buf_put(b, "\n", 1);
}

void psm_render_eof(struct psm_buf *b, enum psm_format fmt)
{
    if (fmt == PSM_FMT_OPENMETRICS)
        psm_buf_put(b, "# EOF\n", 6);
}

/* Escaped label pairs of one series, without braces: k="v",k2="v2" */
static void series_labels(struct psm_buf *lb, const struct psm_series_view *s)
{
    const struct psm_desc_view *d = s->desc;
    lb->len = 0;
    for (unsigned i = 0; i < d->label_count; i++) {
        if (i)
            psm_buf_put(lb, ",", 1);
        psm_buf_put(lb, d->label_names[i].p, d->label_names[i].len);
        psm_buf_put(lb, "=\"", 2);
        put_escaped(lb, s->values[i].p, s->values[i].len, 1);
        psm_buf_put(lb, "\"", 1);
    }
}

/* name suffix {labels[,extra]} value\n */
static void sample_line(struct psm_buf *b, const struct psm_strview *name, const char *suffix,
                        size_t slen, const struct psm_buf *lb, const char *extra, size_t elen,
                        const char *num, size_t numlen)
{
    size_t need = name->len + slen + lb->len + elen + numlen + 8;
    if (b->cap - b->len < need && psm_buf_reserve(b, need) != 0)
        return;
    char *p = b->p + b->len;
    memcpy(p, name->p, name->len);
    p += name->len;
    memcpy(p, suffix, slen);
    p += slen;
    if (lb->len || elen) {
        *p++ = '{';
        if (lb->len)
            memcpy(p, lb->p, lb->len);
        p += lb->len;
        if (lb->len && elen)
            *p++ = ',';
        if (elen)
            memcpy(p, extra, elen);
        p += elen;
        *p++ = '}';
    }
    *p++ = ' ';
    memcpy(p, num, numlen);
    p += numlen;
    *p++ = '\n';
    b->len = (size_t)(p - b->p);
}

/* le="..." strings of a histogram's bounds, and +Inf. */
struct le_set {
    char s[PSM_MAX_BUCKETS + 1][48];
    size_t len[PSM_MAX_BUCKETS + 1];
};

static void le_build(struct le_set *le, const struct psm_desc_view *d)
{
    for (unsigned i = 0; i <= d->bucket_count; i++) {
        char num[32] = "+Inf";
        if (i < d->bucket_count)
            psm_format_double(d->bounds[i], num);
        le->len[i] = (size_t)snprintf(le->s[i], sizeof le->s[i], "le=\"%s\"", num);
    }
}

static void render_series(struct psm_buf *b, enum psm_format fmt, const struct psm_series_view *s,
                          struct psm_buf *lb, const struct le_set *le, struct psm_render_stats *st)
{
    const struct psm_desc_view *d = s->desc;
    char num[32];
    size_t n;
    series_labels(lb, s);
    if (d->type != PSM_HISTOGRAM) {
        if (d->type == PSM_COUNTER && !(d->flags & PSM_F_COUNTER_DOUBLE))
            n = psm_format_u64(psm_series_u64(s), num);
        else
            n = psm_format_double(psm_series_f64(s), num);
        sample_line(b, &d->name, "", 0, lb, "", 0, num, n);
        return;
    }
    struct psm_hist_snapshot h;
    if (psm_reader_hist_read(s, &h) != 0 && st)
        st->torn++;
    for (unsigned i = 0; i <= d->bucket_count; i++) {
        n = psm_format_u64(h.cumulative[i], num);
        sample_line(b, &d->name, "_bucket", 7, lb, le->s[i], le->len[i], num, n);
    }
    /*
     * OpenMetrics: a histogram with negative buckets has no _sum (its sum is not
     * counter-like), and _count only comes with _sum; the +Inf bucket still
     * carries the count.
     */
    if (fmt == PSM_FMT_OPENMETRICS && d->bounds[0] < 0)
        return;
    n = psm_format_double(h.sum, num);
    sample_line(b, &d->name, "_sum", 4, lb, "", 0, num, n);
    n = psm_format_u64(h.count, num);
    sample_line(b, &d->name, "_count", 6, lb, "", 0, num, n);
}

/*
 * Scratch memory kept from one render to the next, so a warm render allocates
 * nothing. Nothing in it outlives a render: each one starts by resetting what
 * it uses, so a render abandoned midway (the exporter's SIGBUS guard longjmps
 * out) leaves only capacity behind, which the next render reuses or the owner
 * frees.
 */
struct psm_renderer {
    uint32_t *group;           /* start[], fill[] (ndesc + 1 each), then order[] (nseries) */
    size_t group_cap;          /* entries allocated in group */
    struct psm_buf labels;     /* the escaped label pairs of the series being written */
    struct psm__pb_scratch pb; /* the protobuf exposition's */
};

psm_renderer_t *psm_renderer_new(void)
{
    /* calloc sets errno to ENOMEM on failure, as documented. */
    return calloc(1, sizeof(psm_renderer_t));
}

void psm_renderer_free(psm_renderer_t *rn)
{
    if (!rn)
        return;
    free(rn->group);
    psm_buf_free(&rn->labels);
    psm__pb_free(&rn->pb);
    free(rn);
}

/*
 * Grouping arrays for @ndesc descriptors and @nseries series: *start and *fill
 * (ndesc + 1 entries each, zeroed) and *order (nseries). The array is stored in
 * @rn as soon as it is grown, so nothing leaks if the render is abandoned.
 * Returns 0, or -1 when out of memory.
 */
static int renderer_group(psm_renderer_t *rn, uint32_t ndesc, uint32_t nseries, uint32_t **start,
                          uint32_t **fill, uint32_t **order)
{
    size_t counts = (size_t)ndesc + 1;
    size_t need = 2 * counts + (nseries ? nseries : 1);
    if (need > rn->group_cap) {
        uint32_t *p = realloc(rn->group, need * sizeof *p);
        if (!p)
            return -1;
        rn->group = p;
        rn->group_cap = need;
    }
    memset(rn->group, 0, 2 * counts * sizeof *rn->group);
    *start = rn->group;
    *fill = rn->group + counts;
    *order = rn->group + 2 * counts;
    return 0;
}

int psm_render(psm_renderer_t *rn, psm_reader_t *r, enum psm_format fmt, struct psm_buf *out,
               unsigned flags, struct psm_render_stats *st)
{
    struct psm_render_stats local = {0};
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    if (psm_reader_load(r) != 0)
        return -1;
    uint32_t nd = psm_reader_desc_count(r), ns = psm_reader_series_count(r);
    /* Group series by descriptor: start[d]..start[d+1] in order[] (counting sort). */
    uint32_t *start, *fill, *order;
    if (renderer_group(rn, nd, ns, &start, &fill, &order) != 0 ||
        (fmt == PSM_FMT_PROTOBUF && psm__pb_prepare(&rn->pb, nd) != 0)) {
        out->oom = 1;
        return -1;
    }
    struct psm_buf *lb = &rn->labels;
    /*
     * A renderer outlives readers (the exporter reopens a segment after a failed
     * render and keeps its renderer): an earlier render's out-of-memory must not
     * fail this one.
     */
    lb->len = 0;
    lb->oom = 0;
    /* Grouping needs only each series' descriptor, not its label values. */
    for (uint32_t i = 0; i < ns; i++)
        start[psm_reader_series_desc_index(r, i) + 1]++;
    for (uint32_t d = 0; d < nd; d++)
        start[d + 1] += start[d];
    for (uint32_t i = 0; i < ns; i++) {
        uint32_t d = psm_reader_series_desc_index(r, i);
        order[start[d] + fill[d]++] = i;
    }
    struct psm_series_view sv;
    struct le_set le;
    for (uint32_t d = 0; d < nd; d++) {
        if (start[d] == start[d + 1])
            continue;
        const struct psm_desc_view *dv = psm_reader_desc(r, d);
        if (fmt == PSM_FMT_PROTOBUF) {
            psm__pb_family(out, r, dv, order + start[d], start[d + 1] - start[d], &rn->pb, st);
            st->families++;
            continue;
        }
        family_header(out, fmt, dv->name.p, dv->name.len, dv->type, dv->help.p, dv->help.len,
                      dv->unit.p, dv->unit.len);
        if (dv->type == PSM_HISTOGRAM)
            le_build(&le, dv);
        for (uint32_t k = start[d]; k < start[d + 1]; k++) {
            psm_reader_series(r, order[k], &sv);
            render_series(out, fmt, &sv, lb, &le, st);
            st->series++;
        }
        st->families++;
    }
    if (!(flags & PSM_RENDER_NO_EOF))
        psm_render_eof(out, fmt);
    return out->oom || lb->oom ? -1 : 0;
}
