/*
 * exporter/config.c - command-line flags (node_exporter style), validated
 * before anything is bound. Where the TLS material comes from (environment
 * variables, defaults, the web config file) is config_tls.c's.
 *
 * Every error is one line that names the flag, the value and what was
 * expected; nothing is silently clamped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <h2o/version.h>    /* --version: H2O_VERSION only, not the library */
#include <openssl/crypto.h> /* --version: OpenSSL_version() only */
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "pex.h"
#include "psu/log.h"

#define MAX_TIMEOUT_MS   (24ull * 3600 * 1000)
#define MAX_REQUESTS_CAP 100000u
#define SAFE_CHARS       "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-~"

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: " PEX_NAME " [flags]\n"
        "\n"
        "Serves the portsyncd metrics segment to Prometheus over TLS 1.3 with\n"
        "mandatory client certificates, on IPv6 only. See exporter/README.md.\n"
        "\n"
        "  --web.listen-address=ADDR     [IPv6]:port to listen on (default " PEX_DEFAULT_LISTEN
        ")\n"
        "  --web.telemetry-path=PATH     path of the metrics (default /metrics)\n"
        "  --web.config.file=FILE        exporter-toolkit web config (tls_server_config)\n"
        "  --web.max-requests=N          concurrent requests before 503; 0 no limit (default 40)\n"
        "  --web.max-connections=N       open connections (default 256)\n"
        "  --web.max-header-bytes=N      request line + headers (default 8192)\n"
        "  --web.request-timeout=DUR     TLS handshake and request headers (default 10s)\n"
        "  --web.idle-timeout=DUR        keep-alive idle time (default 5m)\n"
        "  --web.stall-timeout=DUR       close a connection whose client takes no response\n"
        "                                data for this long (default 10s)\n"
        "  --[no-]web.http2              offer HTTP/2 with ALPN (default on)\n"
        "  --tls.cipher-suites=LIST      TLS 1.3 suites (default " PEX_DEFAULT_CIPHERS ")\n"
        "  --tls.groups=LIST             key exchange groups (default " PEX_DEFAULT_GROUPS ")\n"
        "  --tls.signature-algorithms=L  signature algorithms (default " PEX_DEFAULT_SIGALGS ")\n"
        "  --shm-name=NAME|PATH          metrics segment: /dev/shm/NAME, or the absolute\n"
        "                                path of its file (default %s)\n"
        "  --shm-owner=USER              user (name or uid) the segment's file must be\n"
        "                                owned by (default root)\n"
        "  --writer.heartbeat-max-age=D  writer counts as dead after this (default 5s)\n"
        "  --log-level=LEVEL             least severe level logged: EMERG, ALERT, CRIT,\n"
        "                                ERROR, WARN, NOTICE, INFO (default), DEBUG (SONiC's\n"
        "                                names, any case; also error, warn, info, debug);\n"
        "                                --log.level is the same flag\n"
        "  --check-config                run the pre-flight checks and exit\n"
        "  --help, --version\n"
        "\n"
        "Environment: PORTSYNCD_METRICS_CERT, PORTSYNCD_METRICS_KEY, PORTSYNCD_METRICS_CA\n"
        "(defaults " PEX_DEFAULT_CERT ", " PEX_DEFAULT_KEY ", " PEX_DEFAULT_CA ");\n"
        "the web config file's cert_file, key_file, client_ca_file take precedence.\n",
        PSM_DEFAULT_NAME);
}

int pex_duration_parse(const char *s, uint64_t *ms)
{
    if (!*s)
        return -1;
    char *end;
    errno = 0;
    /* Plain number: seconds. */
    double plain = strtod(s, &end);
    if (*end == '\0') {
        if (errno || !(plain >= 0) || plain * 1000 > (double)MAX_TIMEOUT_MS)
            return -1;
        *ms = (uint64_t)(plain * 1000 + 0.5);
        return 0;
    }
    uint64_t total = 0;
    const char *p = s;
    while (*p) {
        if (*p < '0' || *p > '9')
            return -1;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno || end == p)
            return -1;
        p = end;
        uint64_t unit;
        if (strncmp(p, "ms", 2) == 0) {
            unit = 1;
            p += 2;
        } else if (*p == 's') {
            unit = 1000;
            p++;
        } else if (*p == 'm') {
            unit = 60000;
            p++;
        } else if (*p == 'h') {
            unit = 3600000;
            p++;
        } else {
            return -1;
        }
        if (v > MAX_TIMEOUT_MS / unit)
            return -1;
        total += v * unit;
        if (total > MAX_TIMEOUT_MS)
            return -1;
    }
    *ms = total;
    return 0;
}

int pex_listen_parse(const char *text, struct sockaddr_in6 *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->sin6_family = AF_INET6;
    struct in_addr v4;
    const char *colon = strrchr(text, ':');
    if (text[0] != '[') {
        char host[64] = "";
        if (colon && (size_t)(colon - text) < sizeof host)
            memcpy(host, text, (size_t)(colon - text));
        if (inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET, text, &v4) == 1)
            snprintf(err, errlen,
                     "'%s' is an IPv4 address; the exporter listens on IPv6 only: expected "
                     "[IPv6]:port such as [::1]:9090",
                     text);
        else if (colon == text)
            snprintf(err, errlen,
                     "'%s' would listen on every address, IPv4 included; expected an explicit "
                     "IPv6 address in brackets such as [::1]:9090 or [::]:9090",
                     text);
        else
            snprintf(err, errlen, "'%s' is not of the form [IPv6]:port (e.g. [::1]:9090)", text);
        return -1;
    }
    const char *close = strchr(text, ']');
    if (!close || close[1] != ':' || !close[2]) {
        snprintf(err, errlen, "'%s' is not of the form [IPv6]:port (e.g. [::1]:9090)", text);
        return -1;
    }
    char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    size_t hlen = (size_t)(close - text - 1);
    if (hlen == 0 || hlen >= sizeof host) {
        snprintf(err, errlen, "'%s': the address in brackets is empty or too long", text);
        return -1;
    }
    memcpy(host, text + 1, hlen);
    host[hlen] = '\0';
    char *pct = strchr(host, '%');
    if (pct) {
        *pct = '\0';
        unsigned idx = if_nametoindex(pct + 1);
        if (idx == 0) {
            snprintf(err, errlen, "'%s': no network interface named '%s' for the scope", text,
                     pct + 1);
            return -1;
        }
        out->sin6_scope_id = idx;
    }
    if (inet_pton(AF_INET6, host, &out->sin6_addr) != 1) {
        if (inet_pton(AF_INET, host, &v4) == 1)
            snprintf(err, errlen, "'%s' is an IPv4 address; expected an IPv6 address", text);
        else
            snprintf(err, errlen, "'%s': '%s' is not a literal IPv6 address", text, host);
        return -1;
    }
    if (IN6_IS_ADDR_V4MAPPED(&out->sin6_addr) || IN6_IS_ADDR_V4COMPAT(&out->sin6_addr)) {
        snprintf(err, errlen,
                 "'%s' is an IPv4-mapped/compatible address that would carry IPv4 traffic; "
                 "expected a native IPv6 address",
                 text);
        return -1;
    }
    char *end;
    errno = 0;
    unsigned long port = strtoul(close + 2, &end, 10);
    if (errno || *end || port > 65535 || close[2] == '-' || close[2] == '+') {
        snprintf(err, errlen, "'%s': port '%s' is not a number from 0 to 65535", text, close + 2);
        return -1;
    }
    out->sin6_port = htons((uint16_t)port);
    return 0;
}

/* An shm name, or an absolute path (no "." or ".." parts) ending in one. */
static int shm_name_ok(const char *s)
{
    const char *base = s;
    if (s[0] == '/') {
        if (strlen(s) >= 4000 || strstr(s, "/./") || strstr(s, "/../") || strstr(s, "//"))
            return 0;
        base = strrchr(s, '/') + 1;
    }
    return *base && strlen(base) <= 200 && base[strspn(base, SAFE_CHARS)] == '\0' && base[0] != '.';
}

static int parse_uint(const char *flag, const char *v, unsigned min, unsigned max, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || !*v || *end || v[0] == '-' || n < min || n > max) {
        psu_log_error("%s: '%s' is not an integer from %u to %u", flag, v, min, max);
        return -1;
    }
    *out = (unsigned)n;
    return 0;
}

static int parse_dur(const char *flag, const char *v, uint64_t min_ms, uint64_t *out)
{
    if (pex_duration_parse(v, out) != 0 || *out < min_ms) {
        psu_log_error("%s: '%s' is not a duration of at least %llums and at most 24h "
                      "(e.g. 10s, 5m, 1m30s, 500ms)",
                      flag, v, (unsigned long long)min_ms);
        return -1;
    }
    return 0;
}

enum {
    OPT_LISTEN = 256,
    OPT_PATH,
    OPT_CONFIG,
    OPT_MAXREQ,
    OPT_MAXCONN,
    OPT_MAXHDR,
    OPT_REQTMO,
    OPT_IDLETMO,
    OPT_STALLTMO,
    OPT_HTTP2,
    OPT_NOHTTP2,
    OPT_CIPHERS,
    OPT_GROUPS,
    OPT_SIGALGS,
    OPT_SHM,
    OPT_SHMOWNER,
    OPT_MAXAGE,
    OPT_LOGLEVEL,
    OPT_LOGLEVEL_OLD,
    OPT_CHECK,
    OPT_HELP,
    OPT_VERSION,
};

int pex_config_parse(struct pex_config *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"web.listen-address", required_argument, NULL, OPT_LISTEN},
        {"web.telemetry-path", required_argument, NULL, OPT_PATH},
        {"web.config.file", required_argument, NULL, OPT_CONFIG},
        {"web.max-requests", required_argument, NULL, OPT_MAXREQ},
        {"web.max-connections", required_argument, NULL, OPT_MAXCONN},
        {"web.max-header-bytes", required_argument, NULL, OPT_MAXHDR},
        {"web.request-timeout", required_argument, NULL, OPT_REQTMO},
        {"web.idle-timeout", required_argument, NULL, OPT_IDLETMO},
        {"web.stall-timeout", required_argument, NULL, OPT_STALLTMO},
        {"web.http2", no_argument, NULL, OPT_HTTP2},
        {"no-web.http2", no_argument, NULL, OPT_NOHTTP2},
        {"tls.cipher-suites", required_argument, NULL, OPT_CIPHERS},
        {"tls.groups", required_argument, NULL, OPT_GROUPS},
        {"tls.signature-algorithms", required_argument, NULL, OPT_SIGALGS},
        {"shm-name", required_argument, NULL, OPT_SHM},
        {"shm-owner", required_argument, NULL, OPT_SHMOWNER},
        {"writer.heartbeat-max-age", required_argument, NULL, OPT_MAXAGE},
        {"log-level", required_argument, NULL, OPT_LOGLEVEL},
        /* The spelling before portsyncd and the exporter shared one vocabulary. */
        {"log.level", required_argument, NULL, OPT_LOGLEVEL_OLD},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    memset(c, 0, sizeof *c);
    const char *listen = PEX_DEFAULT_LISTEN, *path = "/metrics", *shm = PSM_DEFAULT_NAME;
    c->max_requests = 40;
    c->max_connections = 256;
    c->max_header_bytes = 8192;
    c->request_timeout_ms = 10000;
    c->idle_timeout_ms = 300000;
    c->stall_timeout_ms = 10000;
    c->heartbeat_max_age = 5;
    c->flag_http2 = -1;
    uint64_t age_ms;
    char err[PEX_ERR_LEN];
    int o;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case OPT_LISTEN:
            listen = optarg;
            break;
        case OPT_PATH:
            path = optarg;
            break;
        case OPT_CONFIG:
            free(c->web_config_file);
            c->web_config_file = strdup(optarg);
            break;
        case OPT_MAXREQ:
            if (parse_uint("--web.max-requests", optarg, 0, MAX_REQUESTS_CAP, &c->max_requests))
                return -1;
            break;
        case OPT_MAXCONN:
            if (parse_uint("--web.max-connections", optarg, 1, 60000, &c->max_connections))
                return -1;
            break;
        case OPT_MAXHDR:
            if (parse_uint("--web.max-header-bytes", optarg, 512, 262144, &c->max_header_bytes))
                return -1;
            break;
        case OPT_REQTMO:
            if (parse_dur("--web.request-timeout", optarg, 100, &c->request_timeout_ms))
                return -1;
            break;
        case OPT_IDLETMO:
            if (parse_dur("--web.idle-timeout", optarg, 1000, &c->idle_timeout_ms))
                return -1;
            break;
        case OPT_STALLTMO:
            if (parse_dur("--web.stall-timeout", optarg, 500, &c->stall_timeout_ms))
                return -1;
            break;
        case OPT_HTTP2:
        case OPT_NOHTTP2:
            c->flag_http2 = o == OPT_HTTP2;
            break;
        case OPT_CIPHERS:
            c->flag_ciphers = optarg;
            break;
        case OPT_GROUPS:
            c->flag_groups = optarg;
            break;
        case OPT_SIGALGS:
            c->flag_sigalgs = optarg;
            break;
        case OPT_SHM:
            shm = optarg;
            break;
        case OPT_SHMOWNER:
            if (psm_owner_parse(optarg, &c->shm_trust.owner, err, sizeof err) != 0) {
                psu_log_error("--shm-owner: %s", err);
                return -1;
            }
            c->shm_trust.owner_set = 1;
            break;
        case OPT_MAXAGE:
            if (parse_dur("--writer.heartbeat-max-age", optarg, 500, &age_ms))
                return -1;
            c->heartbeat_max_age = (double)age_ms / 1000.0;
            break;
        case OPT_LOGLEVEL:
        case OPT_LOGLEVEL_OLD: {
            int l = psu_log_level_parse(optarg);
            if (l < 0) {
                psu_log_error("%s: '%s' is not one of EMERG, ALERT, CRIT, ERROR, WARN, NOTICE, "
                              "INFO, DEBUG (any case; also error, warn, info, debug)",
                              o == OPT_LOGLEVEL ? "--log-level" : "--log.level", optarg);
                return -1;
            }
            psu_log_level_set(l);
            break;
        }
        case OPT_CHECK:
            c->check_only = 1;
            break;
        case 'h':
        case OPT_HELP:
            usage(stdout);
            return 1;
        case OPT_VERSION:
            printf(PEX_NAME " %s (libh2o %s, %s)\n", PEX_VERSION, H2O_VERSION,
                   OpenSSL_version(OPENSSL_VERSION));
            return 1;
        case ':':
            psu_log_error("flag %s needs a value (see --help)", argv[optind - 1]);
            return -1;
        default:
            psu_log_error("unknown flag '%s' (see --help)", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        psu_log_error("unexpected argument '%s' (flags only; see --help)", argv[optind]);
        return -1;
    }
    if (pex_listen_parse(listen, &c->listen, err, sizeof err) != 0) {
        psu_log_error("--web.listen-address: %s", err);
        return -1;
    }
    if (path[0] != '/' || strcmp(path, "/") == 0 || strncmp(path, "/-/", 3) == 0 ||
        strlen(path) > 200 || path[strspn(path, SAFE_CHARS "/")] != '\0') {
        psu_log_error("--web.telemetry-path: '%s' must start with '/', must not be '/' or "
                      "under '/-/', and may hold only letters, digits and / . _ - ~",
                      path);
        return -1;
    }
    if (!shm_name_ok(shm)) {
        psu_log_error(
            "--shm-name: '%s' must be an shm name of 1..200 letters, digits, '.', '_', '-' "
            "or '~' (e.g. %s), or an absolute path whose last part is one",
            shm, PSM_DEFAULT_NAME);
        return -1;
    }
    if (c->idle_timeout_ms < c->request_timeout_ms) {
        psu_log_error("--web.idle-timeout (%llums) must be at least --web.request-timeout "
                      "(%llums)",
                      (unsigned long long)c->idle_timeout_ms,
                      (unsigned long long)c->request_timeout_ms);
        return -1;
    }
    c->listen_text = strdup(listen);
    c->telemetry_path = strdup(path);
    c->shm_name = strdup(shm);
    if (!c->listen_text || !c->telemetry_path || !c->shm_name) {
        psu_log_error("out of memory");
        return -1;
    }
    return 0;
}

void pex_config_free(struct pex_config *c)
{
    free(c->listen_text);
    free(c->telemetry_path);
    free(c->web_config_file);
    free(c->shm_name);
    pex_tls_config_free(&c->tls);
    memset(c, 0, sizeof *c);
}
