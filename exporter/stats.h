/*
 * exporter/stats.h - the exporter's own counters and their vocabulary: the
 * reasons, status codes and close causes they are labelled by (stats.c holds
 * the label of each, so adding one is one place). Every part of the exporter
 * counts here; selfmetrics.c renders them. No h2o, no OpenSSL.
 */
#ifndef PEX_STATS_H
#define PEX_STATS_H

#include <stdint.h>

/* Why a TLS handshake did not complete (tls_handshake_failures_total{reason}). */
enum pex_hs_reason {
    PEX_HS_NO_CLIENT_CERT,
    PEX_HS_UNKNOWN_CA,
    PEX_HS_CERT_EXPIRED,
    PEX_HS_CERT_NOT_YET_VALID,
    PEX_HS_SAN_NOT_ALLOWED,
    PEX_HS_CERT_IS_CA,         /* leaf with basicConstraints CA:TRUE */
    PEX_HS_CERT_KEY_USAGE,     /* leaf keyUsage present without digitalSignature */
    PEX_HS_CERT_EXT_KEY_USAGE, /* leaf extendedKeyUsage present without clientAuth */
    PEX_HS_BAD_CERT,
    PEX_HS_PROTOCOL_VERSION,
    PEX_HS_NO_SHARED_PARAMS,
    PEX_HS_CLIENT_ALERT,
    PEX_HS_TIMEOUT,
    PEX_HS_EVICTED,
    PEX_HS_ABORTED,
    PEX_HS_OTHER,
    PEX_HS_NREASONS
};

/* The HTTP status codes the exporter answers with (the code label). */
enum pex_code { PEX_C200, PEX_C400, PEX_C404, PEX_C405, PEX_C431, PEX_C500, PEX_C503, PEX_NCODES };

/* Why the exporter closed a connection (connections_closed_total{reason}). */
enum pex_conn_close {
    PEX_CLOSE_LIMIT,          /* refused at accept: max connections, nothing to evict */
    PEX_CLOSE_EVICTED,        /* pre-request connection evicted for a new one */
    PEX_CLOSE_FIRST_REQUEST,  /* no request within the request timeout of accept */
    PEX_CLOSE_HEADER_TIMEOUT, /* request headers not complete within the timeout */
    PEX_CLOSE_HEADER_SIZE,    /* request headers larger than the limit */
    PEX_CLOSE_REVOKED,        /* a reload no longer accepts the client's certificate */
    PEX_CLOSE_STALLED,        /* the client took no response data for --web.stall-timeout */
    PEX_NCLOSE
};

/* Finite buckets of scrape_duration_seconds (pex_duration_bound()), +Inf aside. */
#define PEX_DURATION_BUCKETS 10

struct pex_stats {
    uint64_t scrapes[PEX_NCODES];  /* telemetry path, by status */
    uint64_t requests[PEX_NCODES]; /* every request, by status */
    uint64_t hs_ok;
    uint64_t hs_fail[PEX_HS_NREASONS];
    uint64_t closed[PEX_NCLOSE];
    uint64_t accepted;
    uint64_t dur_bucket[PEX_DURATION_BUCKETS + 1]; /* not cumulative; the last is +Inf */
    uint64_t dur_count;
    double dur_sum;
    uint64_t reload_ok, reload_fail;
    double reload_last_ok; /* unix time */
    uint64_t torn;         /* histogram snapshots that exhausted retries */
    uint64_t h2_refused;   /* HTTP/2 streams refused beyond PEX_H2_MAX_STREAMS */
};

/**
 * pex_stats_observe_duration - count one scrape that took @seconds
 * @st: the counters
 * @seconds: from the request's arrival to its response
 */
void pex_stats_observe_duration(struct pex_stats *st, double seconds);

/**
 * pex_duration_bound - the upper bound of finite duration bucket @i
 * @i: below PEX_DURATION_BUCKETS
 *
 * Returns it in seconds.
 */
double pex_duration_bound(unsigned i);

/**
 * pex_code_index - status code to enum pex_code
 * @status: an HTTP status code
 *
 * Returns its index; codes the exporter does not send count as PEX_C500.
 */
enum pex_code pex_code_index(int status);

/**
 * pex_code_value - the HTTP status code of an enum pex_code
 * @c: below PEX_NCODES
 *
 * Returns it (200, 400, ...).
 */
int pex_code_value(enum pex_code c);

/**
 * pex_hs_reason_label - the reason label of @r, e.g. "unknown_ca"
 * @r: an enum pex_hs_reason
 *
 * Returns the label, or "unknown" outside the enum.
 */
const char *pex_hs_reason_label(int r);

/**
 * pex_hs_reason_text - what handshake failure @r means, for log lines
 * @r: an enum pex_hs_reason
 *
 * Returns the text, or "unknown" outside the enum.
 */
const char *pex_hs_reason_text(int r);

/**
 * pex_close_label - the reason label of @r, e.g. "stalled_response"
 * @r: an enum pex_conn_close
 *
 * Returns the label, or "unknown" outside the enum.
 */
const char *pex_close_label(int r);

#endif
