/*
 * shm/shmdump_json.c - portsyncd-shmdump --format json: one JSON object per
 * snapshot, on one line (so --watch produces JSON Lines), shaped
 *
 *   {"segment": {name, path, format, geometry, counts, overflow},
 *    "writer":  {pid, alive, reason, liveness_method, heartbeat_age_seconds,
 *                heartbeat_max_age_seconds, start time, pid_namespace},
 *    "metrics": [{name, type, help, unit, labels, buckets, [native,]
 *                 series: [{labels: {k: v}, value} |
 *                          {labels, count, sum, buckets: [{le, count}],
 *                           [native: {zero_count, buckets: [{index, lower, upper,
 *                                                            count}]} | null]}]}]}
 *
 * A histogram with native buckets has "native": {schema, zero_threshold,
 * first_index, bucket_count} in its metric, and per series the populated
 * native buckets (not cumulative, lower bound exclusive, upper inclusive) with
 * the zero bucket's count; "native" is null for a series without a consistent
 * native part, with "native_stale": true when a writer that keeps no native
 * buckets observed into it (FORMAT.md, "Upgrades").
 *
 * Every registered metric appears, with an empty series list until its first
 * series exists. Integer counters are exact JSON integers (JSON numbers have
 * no size limit; consumers that read them as doubles lose precision above
 * 2^53, as with any JSON). Doubles use psm_format_double(), which round-trips;
 * NaN and the infinities have no JSON spelling and are written as the strings
 * "NaN", "+Inf" and "-Inf", as Prometheus spells them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "psm/native.h"
#include "psm/reader.h"
#include "psm/render.h"
#include "shmdump.h"

/**
 * json_str - append @s as a JSON string
 * @b: the buffer
 * @s: the bytes
 * @len: their count
 *
 * Quote and backslash are escaped, control characters become \u00XX, and
 * U+2028/U+2029 are escaped too (JavaScript treats them as line ends). The
 * reader validated the UTF-8 at load, but a writer can rewrite blob bytes
 * afterwards, so a sequence that no longer decodes becomes U+FFFD: the output
 * stays valid JSON whatever the segment holds.
 */
static void json_str(struct psm_buf *b, const char *s, size_t len)
{
    size_t i = 0, run = 0; /* s[run..i) is copied as is */
    psm_buf_put(b, "\"", 1);
    while (i < len) {
        uint32_t cp;
        size_t n = shmdump_utf8_next(s + i, len - i, &cp);
        int plain = n > 0 && cp >= 0x20 && cp != '"' && cp != '\\' && cp != 0x2028 && cp != 0x2029;
        if (plain) {
            i += n;
            continue;
        }
        psm_buf_put(b, s + run, i - run);
        if (n == 0)
            psm_buf_puts(b, "\\ufffd");
        else if (cp == '"' || cp == '\\')
            psm_buf_printf(b, "\\%c", (char)cp);
        else
            psm_buf_printf(b, "\\u%04x", (unsigned)cp);
        i += n ? n : 1;
        run = i;
    }
    psm_buf_put(b, s + run, len - run);
    psm_buf_put(b, "\"", 1);
}

static void json_cstr(struct psm_buf *b, const char *s)
{
    json_str(b, s, strlen(s));
}

static void json_u64(struct psm_buf *b, uint64_t v)
{
    char num[32];
    psm_buf_put(b, num, psm_format_u64(v, num));
}

/* A double as a JSON number, or as a string when it is NaN or infinite. */
static void json_double(struct psm_buf *b, double v)
{
    char num[32];
    size_t n = psm_format_double(v, num);
    if (isfinite(v))
        psm_buf_put(b, num, n);
    else
        json_str(b, num, n);
}

/* "key": (keys are literals of this file: nothing to escape) */
static void json_key(struct psm_buf *b, const char *key)
{
    psm_buf_printf(b, "\"%s\":", key);
}

static void json_segment(struct psm_buf *b, psm_reader_t *r, const struct psm_info *in)
{
    char path[PSM_MAX_PATH_LEN + 16], hash[24];
    const char *name = psm_reader_name(r);
    /* An absolute name is the path itself; an shm name lives in /dev/shm. */
    snprintf(path, sizeof path, "%s%s", name[0] == '/' ? "" : "/dev/shm/", name);
    snprintf(hash, sizeof hash, "0x%016llx", (unsigned long long)in->layout_hash);
    psm_buf_puts(b, "\"segment\":{");
    json_key(b, "name");
    json_cstr(b, psm_reader_name(r));
    psm_buf_puts(b, ",");
    json_key(b, "path");
    json_cstr(b, path);
    psm_buf_printf(b, ",\"inode\":%llu,\"format_major\":%u,\"format_minor\":%u,",
                   (unsigned long long)in->ino, in->major, in->minor);
    /* A string: a 64-bit hash is an identifier, not a quantity. */
    json_key(b, "layout_hash");
    json_cstr(b, hash);
    psm_buf_puts(b, ",\"size_bytes\":");
    json_u64(b, in->segment_size);
    psm_buf_puts(b, ",\"generation\":");
    json_u64(b, in->generation);
    psm_buf_printf(b, ",\"descriptors_used\":%u,\"descriptors_capacity\":%u",
                   psm_reader_desc_count(r), in->desc_capacity);
    psm_buf_printf(b, ",\"series_used\":%u,\"series_capacity\":%u", psm_reader_series_count(r),
                   in->series_capacity);
    psm_buf_printf(b, ",\"blob_used_bytes\":%llu,\"blob_size_bytes\":%llu",
                   (unsigned long long)in->blob_used, (unsigned long long)in->blob_size);
    psm_buf_printf(b, ",\"cells_used_bytes\":%llu,\"cells_size_bytes\":%llu",
                   (unsigned long long)in->cells_used, (unsigned long long)in->cells_size);
    psm_buf_printf(b,
                   ",\"overflow\":{\"descriptors\":%llu,\"series\":%llu,\"blob\":%llu,"
                   "\"cells\":%llu}}",
                   (unsigned long long)in->overflow_desc, (unsigned long long)in->overflow_series,
                   (unsigned long long)in->overflow_blob, (unsigned long long)in->overflow_cells);
}

static void json_writer(struct psm_buf *b, const struct psm_info *in, const struct psm_liveness *l,
                        double max_age)
{
    char started[48];
    psm_buf_printf(b, "\"writer\":{\"pid\":%d,\"alive\":%s,\"reason\":", (int)l->pid,
                   l->alive ? "true" : "false");
    if (l->alive || !l->reason)
        psm_buf_puts(b, "null");
    else
        json_cstr(b, l->reason);
    /* "pid": judged in the writer's PID namespace; "heartbeat": by the heartbeat alone. */
    psm_buf_printf(b, ",\"liveness_method\":\"%s\",\"heartbeat_max_age_seconds\":",
                   l->method == PSM_LIVENESS_PID ? "pid" : "heartbeat");
    json_double(b, max_age);
    psm_buf_puts(b, ",\"heartbeat_age_seconds\":");
    /* Milliseconds are all a heartbeat age can mean; more digits are noise. */
    if (in->heartbeat_boottime)
        json_double(b, round(l->heartbeat_age * 1000.0) / 1000.0);
    else
        psm_buf_puts(b, "null");
    psm_buf_puts(b, ",\"start_time\":");
    if (in->writer_start_realtime) {
        shmdump_iso_time(in->writer_start_realtime, started, sizeof started);
        json_cstr(b, started);
    } else {
        psm_buf_puts(b, "null");
    }
    psm_buf_puts(b, ",\"start_time_unix_ns\":");
    json_u64(b, in->writer_start_realtime);
    psm_buf_puts(b, ",\"start_ticks\":");
    json_u64(b, in->writer_start_ticks);
    /* st_dev and st_ino of the writer's /proc/self/ns/pid; null: not recorded. */
    if (in->writer_pidns_ino)
        psm_buf_printf(b, ",\"pid_namespace\":{\"dev\":%llu,\"ino\":%llu}",
                       (unsigned long long)in->writer_pidns_dev,
                       (unsigned long long)in->writer_pidns_ino);
    else
        psm_buf_puts(b, ",\"pid_namespace\":null");
    psm_buf_puts(b, "}");
}

static const char *type_name(enum psm_type t)
{
    return t == PSM_COUNTER ? "counter" : t == PSM_GAUGE ? "gauge" : "histogram";
}

/* The descriptor fields of one metric, up to and including "series":[ */
static void json_desc(struct psm_buf *b, const struct psm_desc_view *d)
{
    psm_buf_puts(b, "{\"name\":");
    json_str(b, d->name.p, d->name.len);
    psm_buf_printf(b, ",\"type\":\"%s\",\"help\":", type_name(d->type));
    json_str(b, d->help.p, d->help.len);
    psm_buf_puts(b, ",\"unit\":");
    json_str(b, d->unit.p, d->unit.len);
    psm_buf_puts(b, ",\"labels\":[");
    for (unsigned k = 0; k < d->label_count; k++) {
        if (k)
            psm_buf_put(b, ",", 1);
        json_str(b, d->label_names[k].p, d->label_names[k].len);
    }
    psm_buf_puts(b, "],\"buckets\":[");
    for (unsigned k = 0; k < d->bucket_count; k++) {
        if (k)
            psm_buf_put(b, ",", 1);
        json_double(b, d->bounds[k]);
    }
    psm_buf_puts(b, "]");
    if (d->native_count) {
        psm_buf_printf(b, ",\"native\":{\"schema\":%d,\"zero_threshold\":", d->native_schema);
        json_double(b, d->native_zero_threshold);
        psm_buf_printf(b, ",\"first_index\":%d,\"bucket_count\":%u}", d->native_first,
                       d->native_count);
    }
    psm_buf_puts(b, ",\"series\":[");
}

/* ,"native":... of a histogram series whose descriptor has native buckets. */
static void json_native(struct psm_buf *b, const struct psm_native_snapshot *n)
{
    if (!n->valid) {
        psm_buf_puts(b, n->stale ? ",\"native\":null,\"native_stale\":true" : ",\"native\":null");
        return;
    }
    psm_buf_puts(b, ",\"native\":{\"zero_count\":");
    json_u64(b, n->zero_count);
    psm_buf_puts(b, ",\"buckets\":[");
    for (uint32_t k = 0; k < n->nbuckets; k++) {
        psm_buf_printf(b, "%s{\"index\":%d,\"lower\":", k ? "," : "", n->buckets[k].index);
        json_double(b, psm_native_bound(n->schema, n->buckets[k].index - 1));
        psm_buf_puts(b, ",\"upper\":");
        json_double(b, psm_native_bound(n->schema, n->buckets[k].index));
        psm_buf_puts(b, ",\"count\":");
        json_u64(b, n->buckets[k].count);
        psm_buf_puts(b, "}");
    }
    psm_buf_puts(b, "]}");
}

/* @nb: room for PSM_MAX_NATIVE_BUCKETS native buckets. */
static void json_series(struct psm_buf *b, const struct psm_series_view *s,
                        struct psm_native_bucket *nb)
{
    const struct psm_desc_view *d = s->desc;
    psm_buf_puts(b, "{\"labels\":{");
    for (unsigned k = 0; k < d->label_count; k++) {
        if (k)
            psm_buf_put(b, ",", 1);
        json_str(b, d->label_names[k].p, d->label_names[k].len);
        psm_buf_put(b, ":", 1);
        json_str(b, s->values[k].p, s->values[k].len);
    }
    psm_buf_puts(b, "},");
    if (d->type == PSM_COUNTER && !(d->flags & PSM_F_COUNTER_DOUBLE)) {
        psm_buf_puts(b, "\"value\":");
        json_u64(b, psm_series_u64(s));
    } else if (d->type != PSM_HISTOGRAM) {
        psm_buf_puts(b, "\"value\":");
        json_double(b, psm_series_f64(s));
    } else {
        struct psm_hist_snapshot h;
        struct psm_native_snapshot n = {.buckets = nb, .cap = PSM_MAX_NATIVE_BUCKETS};
        int torn = psm_reader_hist_read_native(s, &h, &n);
        psm_buf_puts(b, "\"count\":");
        json_u64(b, h.count);
        psm_buf_puts(b, ",\"sum\":");
        json_double(b, h.sum);
        psm_buf_puts(b, ",\"buckets\":[");
        for (unsigned k = 0; k <= d->bucket_count; k++) {
            char le[32] = "+Inf";
            if (k < d->bucket_count)
                psm_format_double(d->bounds[k], le);
            psm_buf_puts(b, k ? ",{\"le\":" : "{\"le\":");
            json_cstr(b, le);
            psm_buf_puts(b, ",\"count\":");
            json_u64(b, h.cumulative[k]);
            psm_buf_puts(b, "}");
        }
        psm_buf_puts(b, "]");
        if (d->native_count)
            json_native(b, &n);
        /* Only when it happens: the sum may then belong to other observations. */
        if (torn)
            psm_buf_puts(b, ",\"torn\":true");
    }
    psm_buf_puts(b, "}");
}

/**
 * shmdump_json - append the JSON document of a loaded reader to @out
 * @r: a reader after a successful psm_reader_load()
 * @in: its header fields
 * @l: the writer's liveness
 * @max_age: the heartbeat max age @l was judged with
 * @out: the buffer; one line ending in a newline is appended
 *
 * Returns 0, or -1 when out of memory.
 */
int shmdump_json(psm_reader_t *r, const struct psm_info *in, const struct psm_liveness *l,
                 double max_age, struct psm_buf *out)
{
    uint32_t *order, *start;
    struct psm_native_bucket *nb = malloc(PSM_MAX_NATIVE_BUCKETS * sizeof *nb);
    if (!nb || shmdump_group(r, &order, &start) != 0) {
        free(nb);
        return -1;
    }
    psm_buf_puts(out, "{");
    json_segment(out, r, in);
    psm_buf_puts(out, ",");
    json_writer(out, in, l, max_age);
    psm_buf_puts(out, ",\"metrics\":[");
    uint32_t nd = psm_reader_desc_count(r);
    struct psm_series_view sv;
    for (uint32_t d = 0; d < nd; d++) {
        if (d)
            psm_buf_put(out, ",", 1);
        json_desc(out, psm_reader_desc(r, d));
        for (uint32_t k = start[d]; k < start[d + 1]; k++) {
            if (k > start[d])
                psm_buf_put(out, ",", 1);
            psm_reader_series(r, order[k], &sv);
            json_series(out, &sv, nb);
        }
        psm_buf_puts(out, "]}");
    }
    psm_buf_puts(out, "]}\n");
    free(order);
    free(start);
    free(nb);
    return out->oom ? -1 : 0;
}
