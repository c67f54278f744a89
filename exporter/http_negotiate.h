/*
 * exporter/http_negotiate.h - what a scraper's Accept and Accept-Encoding
 * headers ask for (http_negotiate.c). Pure functions of the header bytes, so
 * the fuzzer runs them as the handler does; no h2o, no OpenSSL.
 */
#ifndef PEX_HTTP_NEGOTIATE_H
#define PEX_HTTP_NEGOTIATE_H

#include <stddef.h>

#include "psm/render.h"

/**
 * pex_accept_parse - decide the exposition format from an Accept header
 * @v: the header value (may be NULL)
 * @len: its length
 *
 * Each format takes the q of the most specific element naming it:
 * PSM_FMT_PROTOBUF only "application/vnd.google.protobuf" with both
 * proto=io.prometheus.client.MetricFamily and encoding=delimited;
 * PSM_FMT_OPENMETRICS "application/openmetrics-text" with version 1.0.0,
 * 0.0.1 or none; PSM_FMT_TEXT "text/plain" with version 0.0.4 or none, and
 * the wildcards "text/ *" and "* / *". q=0 refuses. The highest q wins; for
 * equal q a named type beats a wildcard, then text beats protobuf beats
 * OpenMetrics. Elements that cannot be read (a q outside RFC 9110's qvalue,
 * an open quote) are skipped.
 *
 * Returns the format; PSM_FMT_TEXT when nothing acceptable is named (no
 * header, a malformed one, everything refused): the default, never a 406.
 */
enum psm_format pex_accept_parse(const char *v, size_t len);

/**
 * pex_gzip_accepted - does an Accept-Encoding header allow gzip?
 * @v: the header value (may be NULL)
 * @len: its length
 *
 * Returns 1 when gzip (or x-gzip) has q > 0, or when it is not named and "*"
 * has q > 0; else 0.
 */
int pex_gzip_accepted(const char *v, size_t len);

#endif
