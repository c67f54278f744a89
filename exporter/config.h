/*
 * exporter/config.h - the exporter's configuration: command-line flags
 * (config.c) and the TLS material's sources, environment variables, defaults
 * and web config file (config_tls.c).
 *
 * Everything here is parsed and validated before the event loop exists;
 * nothing in the request path parses configuration. No h2o, no OpenSSL: the
 * TLS lists are kept as the strings OpenSSL will be given (tls.c).
 */
#ifndef PEX_CONFIG_H
#define PEX_CONFIG_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "psm/reader.h"

/* The seed's defaults (DESIGN.md section 6), shown by --help and used by config_tls.c. */
#define PEX_DEFAULT_LISTEN  "[::1]:9090"
#define PEX_DEFAULT_CERT    "/etc/portsyncd/metrics/server.crt"
#define PEX_DEFAULT_KEY     "/etc/portsyncd/metrics/server.key"
#define PEX_DEFAULT_CA      "/etc/portsyncd/metrics/ca.crt"
#define PEX_DEFAULT_CIPHERS "TLS_AES_256_GCM_SHA384"
#define PEX_DEFAULT_GROUPS  "P-384"
#define PEX_DEFAULT_SIGALGS "ecdsa_secp384r1_sha384"

#define PEX_MAX_SANS 64

/* Client SANs a certificate must carry one of (exact match); empty: any. */
struct pex_allow_list {
    unsigned n;
    char *entry[PEX_MAX_SANS];
};

/* Everything a reload may change: the TLS material and policy. */
struct pex_tls_config {
    char *cert_file, *key_file, *ca_file;
    const char *cert_src, *key_src, *ca_src; /* where each path came from, for logs */
    char *cipher_suites;                     /* OpenSSL TLS 1.3 suite list, ':'-separated */
    char *groups;                            /* OpenSSL group list, ':'-separated */
    char *sigalgs;                           /* OpenSSL signature algorithm list */
    struct pex_allow_list allowed_sans;
    int http2; /* ALPN offers h2 */
};

struct pex_config {
    char *listen_text;                /* as given, for logs */
    struct sockaddr_in6 listen;       /* parsed; IPv6 only */
    char *telemetry_path;             /* e.g. /metrics */
    unsigned max_requests;            /* concurrent requests; 0: no limit */
    unsigned max_connections;         /* open connections */
    unsigned max_header_bytes;        /* request line + headers */
    uint64_t request_timeout_ms;      /* handshake + request header deadline */
    uint64_t idle_timeout_ms;         /* keep-alive idle */
    uint64_t stall_timeout_ms;        /* a response the client takes nothing of for this long */
    char *web_config_file;            /* NULL: none */
    char *shm_name;                   /* segment name, or absolute path of its file */
    struct psm_reader_opts shm_trust; /* who must own the segment's file (--shm-owner) */
    double heartbeat_max_age;         /* seconds */
    int check_only;                   /* --check-config */
    /* Flag values; the web config may set the same things (not both). */
    const char *flag_ciphers, *flag_groups, *flag_sigalgs;
    int flag_http2; /* -1 not given, 0/1 */
    struct pex_tls_config tls;
};

/**
 * pex_config_parse - parse the command line into @c
 * @c: receives the configuration (defaults filled first)
 * @argc: argument count
 * @argv: arguments
 *
 * Also sets the log level (--log-level, or its alias --log.level). Logs one
 * line naming the flag, the value and what was expected for each error.
 * Returns 0 to run, 1 when --help or --version was printed, -1 on error.
 */
int pex_config_parse(struct pex_config *c, int argc, char **argv);

/** pex_config_free - release what pex_config_parse() allocated, @c->tls included */
void pex_config_free(struct pex_config *c);

/**
 * pex_listen_parse - parse "[IPv6]:port" and refuse anything that is not IPv6
 * @text: the address
 * @out: receives the socket address
 * @err: one line saying what is wrong
 * @errlen: size of @err
 *
 * Returns 0, or -1 with @err filled.
 */
int pex_listen_parse(const char *text, struct sockaddr_in6 *out, char *err, size_t errlen);

/**
 * pex_duration_parse - a duration to milliseconds
 * @s: "10s", "5m", "1m30s", "250ms", "1h" or plain seconds; at most 24h
 * @ms: receives the milliseconds
 *
 * Returns 0, or -1 when @s is not such a duration.
 */
int pex_duration_parse(const char *s, uint64_t *ms);

/**
 * pex_tls_config_load - build the TLS configuration from env, flags and web config
 * @c: the parsed configuration (flags, web_config_file)
 * @t: receives the TLS configuration; free with pex_tls_config_free()
 * @err: one line naming the file, key, value and what was expected
 * @errlen: size of @err
 *
 * Called at startup and on every SIGHUP, so it re-reads the environment's
 * paths and the web config file. Returns 0, or -1 with @err filled (and @t
 * empty).
 */
int pex_tls_config_load(const struct pex_config *c, struct pex_tls_config *t, char *err,
                        size_t errlen);

/** pex_tls_config_free - release the strings of @t and empty it */
void pex_tls_config_free(struct pex_tls_config *t);

#endif
