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
 * Returns PSM_FMT_OPENMETRICS when OpenMetrics (1.0.0, 0.0.1 or no version)
 * has a higher q than text (text/plain 0.0.4, or a wildcard covering it), else
 * PSM_FMT_TEXT: ties go to the format every scraper understands.
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
