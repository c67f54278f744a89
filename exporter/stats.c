/*
 * exporter/stats.c - the vocabulary of the exporter's own counters: the
 * scrape-duration buckets, the status codes, and for each handshake failure
 * reason and close cause its metric label (and, for handshakes, the words a
 * log line uses). One table per enum, indexed by it, so a new reason is added
 * in stats.h and here, and every family and log line follows.
 */
#include "stats.h"

static const double dur_bounds[PEX_DURATION_BUCKETS] = {.0005, .001, .0025, .005, .01,
                                                        .025,  .05,  .1,    .25,  1};

static const int code_value[PEX_NCODES] = {
    [PEX_C200] = 200, [PEX_C400] = 400, [PEX_C404] = 404, [PEX_C405] = 405,
    [PEX_C431] = 431, [PEX_C500] = 500, [PEX_C503] = 503,
};

static const char *const hs_label[PEX_HS_NREASONS] = {
    [PEX_HS_NO_CLIENT_CERT] = "no_client_cert",
    [PEX_HS_UNKNOWN_CA] = "unknown_ca",
    [PEX_HS_CERT_EXPIRED] = "cert_expired",
    [PEX_HS_CERT_NOT_YET_VALID] = "cert_not_yet_valid",
    [PEX_HS_SAN_NOT_ALLOWED] = "san_not_allowed",
    [PEX_HS_CERT_IS_CA] = "cert_is_ca",
    [PEX_HS_CERT_KEY_USAGE] = "cert_key_usage",
    [PEX_HS_CERT_EXT_KEY_USAGE] = "cert_ext_key_usage",
    [PEX_HS_BAD_CERT] = "bad_cert",
    [PEX_HS_PROTOCOL_VERSION] = "protocol_version",
    [PEX_HS_NO_SHARED_PARAMS] = "no_shared_params",
    [PEX_HS_CLIENT_ALERT] = "client_alert",
    [PEX_HS_TIMEOUT] = "timeout",
    [PEX_HS_EVICTED] = "evicted",
    [PEX_HS_ABORTED] = "aborted",
    [PEX_HS_OTHER] = "other",
};

static const char *const hs_text[PEX_HS_NREASONS] = {
    [PEX_HS_NO_CLIENT_CERT] = "no client certificate",
    [PEX_HS_UNKNOWN_CA] = "client certificate not issued by the configured CA",
    [PEX_HS_CERT_EXPIRED] = "client certificate expired",
    [PEX_HS_CERT_NOT_YET_VALID] = "client certificate not yet valid",
    [PEX_HS_SAN_NOT_ALLOWED] = "client certificate SAN not in client_allowed_sans",
    [PEX_HS_CERT_IS_CA] = "client certificate is a CA certificate (CA:TRUE), not an end entity",
    [PEX_HS_CERT_KEY_USAGE] = "client certificate keyUsage lacks digitalSignature",
    [PEX_HS_CERT_EXT_KEY_USAGE] = "client certificate extendedKeyUsage lacks clientAuth",
    [PEX_HS_BAD_CERT] = "client certificate rejected",
    [PEX_HS_PROTOCOL_VERSION] = "client does not offer TLS 1.3",
    [PEX_HS_NO_SHARED_PARAMS] = "no shared cipher suite, group or signature algorithm",
    [PEX_HS_CLIENT_ALERT] = "client aborted the handshake with an alert",
    [PEX_HS_TIMEOUT] = "handshake timed out",
    [PEX_HS_EVICTED] = "evicted at the connection limit",
    [PEX_HS_ABORTED] = "connection closed during the handshake",
    [PEX_HS_OTHER] = "handshake failed",
};

static const char *const close_label[PEX_NCLOSE] = {
    [PEX_CLOSE_LIMIT] = "limit",
    [PEX_CLOSE_EVICTED] = "evicted",
    [PEX_CLOSE_FIRST_REQUEST] = "first_request_timeout",
    [PEX_CLOSE_HEADER_TIMEOUT] = "header_timeout",
    [PEX_CLOSE_HEADER_SIZE] = "header_too_large",
    [PEX_CLOSE_REVOKED] = "revoked_by_reload",
    [PEX_CLOSE_STALLED] = "stalled_response",
};

void pex_stats_observe_duration(struct pex_stats *st, double seconds)
{
    unsigned i = 0;
    while (i < PEX_DURATION_BUCKETS && seconds > dur_bounds[i])
        i++;
    st->dur_bucket[i]++;
    st->dur_count++;
    st->dur_sum += seconds;
}

double pex_duration_bound(unsigned i)
{
    return i < PEX_DURATION_BUCKETS ? dur_bounds[i] : 0;
}

enum pex_code pex_code_index(int status)
{
    for (int i = 0; i < PEX_NCODES; i++)
        if (code_value[i] == status)
            return (enum pex_code)i;
    return PEX_C500;
}

int pex_code_value(enum pex_code c)
{
    return c < PEX_NCODES ? code_value[c] : 500;
}

const char *pex_hs_reason_label(int r)
{
    return r >= 0 && r < PEX_HS_NREASONS ? hs_label[r] : "unknown";
}

const char *pex_hs_reason_text(int r)
{
    return r >= 0 && r < PEX_HS_NREASONS ? hs_text[r] : "unknown";
}

const char *pex_close_label(int r)
{
    return r >= 0 && r < PEX_NCLOSE ? close_label[r] : "unknown";
}
