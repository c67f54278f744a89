/*
 * shm/shmdump_common.c - what every output of portsyncd-shmdump shares: the
 * one-line error messages, UTF-8 decoding (the segment's strings are decoded
 * again, never trusted), local ISO 8601 times, and series grouped by metric.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "psm/reader.h"
#include "shmdump.h"

/**
 * shmdump_say - one line on stderr, prefixed with the program name
 * @fmt: printf format
 *
 * Messages can quote bytes of a hostile segment (the reader names an invalid
 * metric name as found), so control characters and broken UTF-8 are written
 * as \xNN and C1 controls as \uNNNN: the line stays one line and cannot drive
 * the operator's terminal. Plain messages print unchanged.
 */
void shmdump_say(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t n = len < 0 ? 0 : (size_t)len < sizeof msg ? (size_t)len : sizeof msg - 1;
    fputs(SHMDUMP_PROG ": ", stderr);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = shmdump_utf8_next(msg + i, n - i, &cp);
        if (k == 0 || cp < 0x20 || cp == 0x7f)
            fprintf(stderr, "\\x%02x", (unsigned char)msg[i]);
        else if (cp >= 0x80 && cp < 0xa0)
            fprintf(stderr, "\\u%04x", (unsigned)cp);
        else
            fwrite(msg + i, 1, k, stderr);
        i += k ? k : 1;
    }
    fputc('\n', stderr);
}

/**
 * shmdump_utf8_next - decode one UTF-8 sequence
 * @s: the bytes
 * @len: bytes available (> 0)
 * @cp: receives the code point
 *
 * The reader validated every string at load, but a writer can change blob
 * bytes afterwards, so the renderers decode again instead of trusting them.
 * Returns the sequence's length, or 0 if it is not well-formed (overlong,
 * surrogate, out of range or truncated).
 */
size_t shmdump_utf8_next(const char *s, size_t len, uint32_t *cp)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n;
    uint32_t c, min;
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if ((p[0] & 0xe0) == 0xc0)
        n = 2, c = p[0] & 0x1f, min = 0x80;
    else if ((p[0] & 0xf0) == 0xe0)
        n = 3, c = p[0] & 0x0f, min = 0x800;
    else if ((p[0] & 0xf8) == 0xf0)
        n = 4, c = p[0] & 0x07, min = 0x10000;
    else
        return 0;
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

/**
 * shmdump_iso_time - local ISO 8601 time with offset, e.g. 2025-01-02T03:04:05+01:00
 * @realtime_ns: nanoseconds since the epoch (0: "unknown")
 * @out: receives the text
 * @len: size of @out (at least 32)
 */
void shmdump_iso_time(uint64_t realtime_ns, char *out, size_t len)
{
    time_t t = (time_t)(realtime_ns / 1000000000u);
    struct tm tm;
    char zone[8];
    if (realtime_ns == 0 || !localtime_r(&t, &tm) || strftime(zone, sizeof zone, "%z", &tm) != 5 ||
        strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        snprintf(out, len, "unknown");
        return;
    }
    /* strftime's %z is +hhmm; ISO 8601's extended form wants +hh:mm. */
    size_t n = strlen(out);
    snprintf(out + n, len - n, "%.3s:%.2s", zone, zone + 3);
}

/**
 * shmdump_group - order the loaded series by descriptor
 * @r: a reader after a successful psm_reader_load()
 * @order: receives series indexes grouped by descriptor, creation order within each
 * @start: receives desc_count + 1 offsets: descriptor d owns order[start[d]..start[d+1])
 *
 * One counting sort, as the renderer does, so a dump of 4096 series costs two
 * passes rather than one pass per descriptor. The caller frees both arrays.
 * Returns 0, or -1 when out of memory (both set to NULL).
 */
int shmdump_group(const psm_reader_t *r, uint32_t **order, uint32_t **start)
{
    uint32_t nd = psm_reader_desc_count(r), ns = psm_reader_series_count(r);
    uint32_t *st = calloc((size_t)nd + 1, sizeof *st);
    uint32_t *fill = calloc((size_t)nd + 1, sizeof *fill);
    uint32_t *ord = malloc((size_t)(ns ? ns : 1) * sizeof *ord);
    *order = *start = NULL;
    if (!st || !fill || !ord) {
        free(st);
        free(fill);
        free(ord);
        return -1;
    }
    for (uint32_t i = 0; i < ns; i++)
        st[psm_reader_series_desc_index(r, i) + 1]++;
    for (uint32_t d = 0; d < nd; d++)
        st[d + 1] += st[d];
    for (uint32_t i = 0; i < ns; i++) {
        uint32_t d = psm_reader_series_desc_index(r, i);
        ord[st[d] + fill[d]++] = i;
    }
    free(fill);
    *order = ord;
    *start = st;
    return 0;
}
