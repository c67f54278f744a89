/*
 * tests/fuzz/fuzz_accept.c - libFuzzer target: content negotiation of the
 * exporter's telemetry path. The input is "ACCEPT\nACCEPT-ENCODING" (no
 * newline: both headers get the whole input); pex_accept_parse() and
 * pex_gzip_accepted() are what the scrape handler (http_scrape.c) runs on the
 * request's headers. They read (pointer, length) values that are not
 * NUL-terminated, so ASan sees any read past a header's end.
 *
 * Besides memory errors it checks what the answer may be: protobuf or
 * OpenMetrics only when the header names them.
 *
 * Seeds (tests/fuzz/run-fuzzer.sh): the Accept and Accept-Encoding headers
 * Prometheus and curl send.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_negotiate.h"

/* A copy in a buffer of its own length, so that reading past it is caught. */
static char *dup_exact(const uint8_t *p, size_t n)
{
    char *d = malloc(n ? n : 1);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

/* 1 if @w occurs in the @n bytes at @p, ignoring case. */
static int has_word(const uint8_t *p, size_t n, const char *w)
{
    size_t wl = strlen(w);
    for (size_t i = 0; i + wl <= n; i++)
        if (strncasecmp((const char *)p + i, w, wl) == 0)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t alen = nl ? (size_t)(nl - data) : size;
    const uint8_t *enc = nl ? nl + 1 : data;
    size_t elen = nl ? size - alen - 1 : size;
    char *a = dup_exact(data, alen), *e = dup_exact(enc, elen);
    if (!a || !e) {
        free(a);
        free(e);
        return 0;
    }
    enum psm_format f = pex_accept_parse(a, alen);
    if (f != PSM_FMT_TEXT && f != PSM_FMT_OPENMETRICS && f != PSM_FMT_PROTOBUF)
        __builtin_trap();
    /* Protobuf only when asked for by name with both parameters (a Prometheus
     * that did not ask fails its whole scrape on it). */
    if (f == PSM_FMT_PROTOBUF && (!has_word(data, alen, "application/vnd.google.protobuf") ||
                                  !has_word(data, alen, "io.prometheus.client.MetricFamily") ||
                                  !has_word(data, alen, "delimited")))
        __builtin_trap();
    if (f == PSM_FMT_OPENMETRICS && !has_word(data, alen, "application/openmetrics-text"))
        __builtin_trap();
    if (pex_gzip_accepted(e, elen) > 1)
        __builtin_trap();
    pex_accept_parse(NULL, 0);
    pex_gzip_accepted(NULL, 0);
    free(a);
    free(e);
    return 0;
}
