/*
 * tests/exporter/test_negotiate.c - the exporter's content negotiation
 * (exporter/http_negotiate.c): which exposition an Accept header gets, and
 * whether Accept-Encoding allows gzip. Pure functions of the header bytes, so
 * every case is one header and the format it must give.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "http_negotiate.h"

/* The exact headers Prometheus 2.42 sends (scrape/scrape.go, checked on the wire). */
#define PROM_242                                                                                   \
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"       \
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
#define PROM_242_NATIVE                                                                            \
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,"  \
    "application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;" \
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
#define PB                                                                                         \
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"

static enum psm_format fmt_of(const char *accept)
{
    return pex_accept_parse(accept, accept ? strlen(accept) : 0);
}

static const char *fmt_name(enum psm_format f)
{
    return f == PSM_FMT_TEXT ? "text" : f == PSM_FMT_OPENMETRICS ? "openmetrics" : "protobuf";
}

#define expect_fmt(accept, want)                                                                   \
    do {                                                                                           \
        enum psm_format got_ = fmt_of(accept);                                                     \
        cr_expect_eq(got_, want, "Accept: %s -> %s, expected %s", accept ? accept : "(none)",      \
                     fmt_name(got_), fmt_name(want));                                              \
    } while (0)

Test(negotiate, prometheus_242_with_native_histograms_gets_protobuf)
{
    expect_fmt(PROM_242_NATIVE, PSM_FMT_PROTOBUF);
}

Test(negotiate, prometheus_242_without_the_feature_gets_openmetrics)
{
    expect_fmt(PROM_242, PSM_FMT_OPENMETRICS);
}

Test(negotiate, no_header_empty_or_blank_gets_text)
{
    expect_fmt(NULL, PSM_FMT_TEXT);
    expect_fmt("", PSM_FMT_TEXT);
    expect_fmt("  ,  , ", PSM_FMT_TEXT);
}

Test(negotiate, wildcards_get_text_never_protobuf_or_openmetrics)
{
    expect_fmt("*/*", PSM_FMT_TEXT);
    expect_fmt("text/*", PSM_FMT_TEXT);
    expect_fmt("application/*", PSM_FMT_TEXT);
    expect_fmt("application/*;q=1, text/plain;q=0.1", PSM_FMT_TEXT);
}

Test(negotiate, protobuf_needs_both_proto_and_delimited_encoding)
{
    expect_fmt("application/vnd.google.protobuf", PSM_FMT_TEXT);
    expect_fmt("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily",
               PSM_FMT_TEXT);
    expect_fmt("application/vnd.google.protobuf;encoding=delimited", PSM_FMT_TEXT);
    expect_fmt("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
               "encoding=text",
               PSM_FMT_TEXT);
    expect_fmt("application/vnd.google.protobuf;proto=io.prometheus.client.Metric;"
               "encoding=delimited",
               PSM_FMT_TEXT);
    expect_fmt(PB, PSM_FMT_PROTOBUF);
}

Test(negotiate, protobuf_parameters_in_any_order_spacing_case_and_quotes)
{
    expect_fmt("application/vnd.google.protobuf; encoding=delimited; "
               "proto=io.prometheus.client.MetricFamily",
               PSM_FMT_PROTOBUF);
    expect_fmt("Application/Vnd.Google.Protobuf ;Proto=\"io.prometheus.client.MetricFamily\" ; "
               "ENCODING=\"delimited\"",
               PSM_FMT_PROTOBUF);
    expect_fmt("application/vnd.google.protobuf;charset=utf-8;proto=io.prometheus.client."
               "MetricFamily;encoding=delimited;q=0.9",
               PSM_FMT_PROTOBUF);
}

Test(negotiate, q_zero_refuses)
{
    expect_fmt(PB ";q=0", PSM_FMT_TEXT);
    expect_fmt(PB ";q=0.000, application/openmetrics-text;q=0.2", PSM_FMT_OPENMETRICS);
    expect_fmt("application/openmetrics-text;q=0", PSM_FMT_TEXT);
}

Test(negotiate, the_most_specific_range_decides_a_formats_q)
{
    /* text/plain;q=0 refuses text even though * / * would take it. */
    expect_fmt("text/plain;q=0, */*;q=1, application/openmetrics-text;q=0.2", PSM_FMT_OPENMETRICS);
    /* version=0.0.4 is more specific than bare text/plain. */
    expect_fmt("text/plain;version=0.0.4;q=0, text/plain;q=1, application/openmetrics-text;q=0.5",
               PSM_FMT_OPENMETRICS);
}

Test(negotiate, highest_q_wins)
{
    expect_fmt(PB ";q=0.5, application/openmetrics-text;q=0.6", PSM_FMT_OPENMETRICS);
    expect_fmt(PB ";q=0.7, application/openmetrics-text;q=0.6", PSM_FMT_PROTOBUF);
    expect_fmt(PB ";q=0.3, text/plain;q=0.4", PSM_FMT_TEXT);
    expect_fmt("application/openmetrics-text;q=0.4,text/plain;q=0.9", PSM_FMT_TEXT);
    expect_fmt("text/plain;q=0.001, " PB ";q=0.002", PSM_FMT_PROTOBUF);
}

Test(negotiate, ties_go_to_text_then_protobuf_then_openmetrics)
{
    expect_fmt(PB ", text/plain", PSM_FMT_TEXT);
    expect_fmt("application/openmetrics-text, " PB, PSM_FMT_PROTOBUF);
    expect_fmt("application/openmetrics-text, text/plain;version=0.0.4", PSM_FMT_TEXT);
}

Test(negotiate, a_named_type_beats_a_wildcard_of_the_same_q)
{
    expect_fmt(PB ", */*", PSM_FMT_PROTOBUF);
    expect_fmt("*/*;q=0.5, application/openmetrics-text;q=0.5", PSM_FMT_OPENMETRICS);
}

Test(negotiate, versions_we_do_not_serve_do_not_match)
{
    expect_fmt("text/plain;version=0.0.3", PSM_FMT_TEXT); /* nothing matched: the default */
    expect_fmt("application/openmetrics-text;version=2.0.0, text/plain;q=0.1", PSM_FMT_TEXT);
    expect_fmt("application/openmetrics-text;version=0.0.1", PSM_FMT_OPENMETRICS);
}

Test(negotiate, malformed_elements_weigh_nothing)
{
    /* Not RFC 9110 qvalues: skipped, not read as some weight. */
    expect_fmt(PB ";q=1.5", PSM_FMT_TEXT);
    expect_fmt(PB ";q=0.5000", PSM_FMT_TEXT);
    expect_fmt(PB ";q=-0", PSM_FMT_TEXT);
    expect_fmt(PB ";q=0x1", PSM_FMT_TEXT);
    expect_fmt(PB ";q=inf", PSM_FMT_TEXT);
    expect_fmt(PB ";q=", PSM_FMT_TEXT);
    expect_fmt(PB ";q=1.001", PSM_FMT_TEXT);
    /* A bad element does not spoil the good ones around it. */
    expect_fmt(PB ";q=2, application/openmetrics-text", PSM_FMT_OPENMETRICS);
    /* An open quote swallows the rest: nothing readable. */
    expect_fmt("text/plain;x=\"" PB, PSM_FMT_TEXT);
    expect_fmt(";;;,,,===", PSM_FMT_TEXT);
    expect_fmt(";q=1", PSM_FMT_TEXT);
}

Test(negotiate, a_comma_inside_quotes_does_not_start_an_element)
{
    expect_fmt("text/html;x=\"a, " PB "\"", PSM_FMT_TEXT);
    expect_fmt("text/html;x=\"a\\\", " PB "\", application/openmetrics-text;q=0.1",
               PSM_FMT_OPENMETRICS);
}

Test(negotiate, does_not_read_past_the_length_given)
{
    /* The header is (pointer, length), not a C string: h2o's values are not
     * NUL-terminated. Only the first element is inside the length. */
    const char *h = "text/plain;q=0.1," PB;
    cr_expect_eq(pex_accept_parse(h, strlen("text/plain;q=0.1")), PSM_FMT_TEXT);
    cr_expect_eq(pex_accept_parse(h, strlen(h)), PSM_FMT_PROTOBUF);
}

Test(negotiate, gzip_allowed_unless_refused)
{
    struct {
        const char *h;
        int want;
    } cases[] = {
        {"gzip", 1},
        {"deflate, gzip, br, zstd", 1},
        {"gzip;q=0", 0},
        {"gzip;q=0, *;q=1", 0},
        {"*", 1},
        {"*;q=0", 0},
        {"identity", 0},
        {"x-gzip;q=0.5", 1},
        {"", 0},
        {"gzip;q=abc", 0},
        {"GZIP ; Q=0.001", 1},
        {"br, *;q=0.1", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(pex_gzip_accepted(cases[i].h, strlen(cases[i].h)), cases[i].want,
                     "Accept-Encoding: %s -> %d, expected %d", cases[i].h, !cases[i].want,
                     cases[i].want);
    cr_expect_eq(pex_gzip_accepted(NULL, 0), 0);
}
