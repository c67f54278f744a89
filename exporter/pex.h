/*
 * exporter/pex.h - internal interfaces of portsyncd-exporter.
 *
 * The exporter is one single-threaded h2o event loop. Its parts, one file each:
 *
 *   main.c        startup order (flags -> pre-flight -> bind -> loop), signals, exit
 *   config.c      command-line flags
 *   config_tls.c  the TLS material's environment variables, defaults, web config
 *   webconfig.c   exporter-toolkit web-config.yml (tls_server_config) via libyaml
 *   tls.c         TLS policy, pre-flight checks, SSL_CTX construction, client
 *                 certificate checks (SAN allow-list), handshake-failure reasons
 *   conn.c        accepted connections: connection limit, eviction, ending one
 *   limits.c      requests in flight, the --web.max-requests count, and the
 *                 first-request, request-header (slowloris) and stalled-
 *                 response deadlines
 *   h2ointernals.c the only code that relies on h2o 2.2.5 internals: accept
 *                 and HTTP/2 stream limit, flow-control state, SSL -> socket
 *   http.c        h2o handlers: routing, /, /-/healthy, /-/ready, 404/405/431/503
 *   http_scrape.c the telemetry path: batched scrapes, one render each, gzip
 *   http_respond.c a response handed to h2o a chunk at a time
 *   http_negotiate.c Accept / Accept-Encoding (http_negotiate.h, no h2o)
 *   segment.c     the metrics segment through libpsmetrics: open, remap, liveness
 *   selfmetrics.c the exporter's own metrics and process_* from /proc/self
 *
 * Log lines go through psu_log (shm/util: the format and level names portsyncd
 * uses too).
 *
 * Configuration is parsed and validated before the event loop exists; nothing
 * in the request path parses configuration (STYLE.md, after h2o).
 */
#ifndef PEX_H
#define PEX_H

#include <h2o.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>

#include "h2ointernals.h"
#include "http_negotiate.h"
#include "psm/reader.h"
#include "psm/render.h"

#define PEX_NAME    "portsyncd-exporter"
#define PEX_ERR_LEN 512

/* ---- config.c / webconfig.c ----------------------------------------------- */

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
 * pex_config_parse - parse the command line and environment into @c
 * @c: receives the configuration (defaults filled first)
 * @argc: argument count
 * @argv: arguments
 *
 * Prints one line naming the flag, the value and what was expected for each
 * error. Returns 0 to run, 1 when --help or --version was printed, -1 on error.
 */
int pex_config_parse(struct pex_config *c, int argc, char **argv);

/**
 * pex_tls_config_load - build the TLS configuration from env, flags and web config
 * @c: the parsed configuration (flags, web_config_file)
 * @t: receives the TLS configuration; free with pex_tls_config_free()
 * @err: one line naming the file, key, value and what was expected
 * @errlen: size of @err
 *
 * Called at startup and on every SIGHUP, so it re-reads the web config file.
 * Returns 0, or -1 with @err filled.
 */
int pex_tls_config_load(const struct pex_config *c, struct pex_tls_config *t, char *err,
                        size_t errlen);

/** pex_tls_config_free - release the strings of @t */
void pex_tls_config_free(struct pex_tls_config *t);

/** pex_config_free - release what pex_config_parse() allocated */
void pex_config_free(struct pex_config *c);

/**
 * pex_listen_parse - parse "[IPv6]:port" and refuse anything that is not IPv6
 * @text: the address
 * @out: receives the socket address
 * @err: one line saying what is wrong
 * @errlen: size of @err
 * Returns 0 or -1.
 */
int pex_listen_parse(const char *text, struct sockaddr_in6 *out, char *err, size_t errlen);

/**
 * pex_duration_parse - "10s", "5m", "1m30s", "250ms", "1h" or plain seconds, to ms
 * Returns 0 or -1.
 */
int pex_duration_parse(const char *s, uint64_t *ms);

/**
 * pex_webconfig_load - read exporter-toolkit's web-config.yml into @t
 * @path: the file
 * @t: values found override those already in @t (paths, lists, http2)
 * @set: receives which of cipher_suites (1), curve_preferences (2) were given
 * @err: one line naming the file, line, key, value and what was expected
 * @errlen: size of @err
 *
 * Unknown keys are errors. Returns 0, or -1 with @err filled.
 */
int pex_webconfig_load(const char *path, struct pex_tls_config *t, unsigned *set, char *err,
                       size_t errlen);
/**
 * pex_webconfig_parse - pex_webconfig_load() of a document held in memory
 * @name: what error messages call the document (a file name)
 * @text: the YAML text (need not be NUL-terminated)
 * @len: its length
 * @t: as for pex_webconfig_load()
 * @set: as for pex_webconfig_load()
 * @err: as for pex_webconfig_load()
 * @errlen: size of @err
 *
 * The file variant and the fuzzer both come here. On error @t may hold values
 * read before the bad key: the caller frees it with pex_tls_config_free().
 * Returns 0, or -1 with @err filled.
 */
int pex_webconfig_parse(const char *name, const char *text, size_t len, struct pex_tls_config *t,
                        unsigned *set, char *err, size_t errlen);
#define PEX_WC_SET_CIPHERS 0x1u
#define PEX_WC_SET_GROUPS  0x2u
#define PEX_WC_SET_HTTP2   0x4u

/* ---- selfmetrics.c --------------------------------------------------------- */

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

enum pex_code { PEX_C200, PEX_C400, PEX_C404, PEX_C405, PEX_C431, PEX_C500, PEX_C503, PEX_NCODES };

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

#define PEX_DURATION_BUCKETS 10

struct pex_stats {
    uint64_t scrapes[PEX_NCODES];  /* telemetry path, by status */
    uint64_t requests[PEX_NCODES]; /* every request, by status */
    uint64_t hs_ok;
    uint64_t hs_fail[PEX_HS_NREASONS];
    uint64_t closed[PEX_NCLOSE];
    uint64_t accepted;
    uint64_t dur_bucket[PEX_DURATION_BUCKETS + 1];
    uint64_t dur_count;
    double dur_sum;
    uint64_t reload_ok, reload_fail;
    double reload_last_ok; /* unix time */
    uint64_t torn;         /* histogram snapshots that exhausted retries */
    uint64_t h2_refused;   /* HTTP/2 streams refused beyond PEX_H2_MAX_STREAMS */
};

/* ---- segment.c ------------------------------------------------------------- */

/* What was at the segment's path when the exporter would not map it. */
enum pex_seg_refusal {
    PEX_SEG_FIFO,
    PEX_SEG_DIRECTORY,
    PEX_SEG_SYMLINK,
    PEX_SEG_NOT_REGULAR, /* device, socket */
    PEX_SEG_FOREIGN_OWNER,
    PEX_SEG_WRITABLE, /* group or other write bit */
    PEX_SEG_NREFUSALS
};

struct pex_segment {
    const char *name;
    const struct psm_reader_opts *trust;
    psm_reader_t *r;
    psm_renderer_t *rn; /* pex_segment_render's scratch, kept across remaps */
    double max_age;
    uint64_t remaps, errors;
    uint64_t refused[PEX_SEG_NREFUSALS]; /* untrusted objects found (once per state change) */
    uint64_t last_open_try_ns;           /* psu_clock_mono_ns() */
    int last_state;   /* for logging transitions: 1 mapped, 0 not, 2 stale mapping, -1 unknown */
    int last_why;     /* while not mapped: errno of the last failure, -1 unknown */
    int last_refusal; /* while not mapped: enum pex_seg_refusal found, or -1 */
    char err[PEX_ERR_LEN];
};

/** pex_seg_refusal_label - the reason label of @r for segment_refused_total */
const char *pex_seg_refusal_label(int r);

/* The segment's state for one scrape or readiness check. */
struct pex_seg_status {
    int mapped;
    struct psm_liveness live;
};

/**
 * pex_segment_poll - open the segment if needed, follow a replaced one, and
 * report liveness
 * @s: the segment state
 * @st: receives mapped/liveness
 */
void pex_segment_poll(struct pex_segment *s, struct pex_seg_status *st);

/**
 * pex_segment_failed - drop the mapping after a validation failure
 * @s: the segment state
 * @why: the reader's message
 */
void pex_segment_failed(struct pex_segment *s, const char *why);

/**
 * pex_segment_render - psm_render() of the segment, guarded against SIGBUS
 * @s: the segment (mapped)
 * @fmt: exposition format
 * @b: buffer to append to (left as it was on failure)
 * @rs: render statistics
 *
 * A writer never shrinks its segment, but whoever can write it can truncate it
 * under us; the reader checks the size once per snapshot, and this guard turns
 * a page that vanishes during the render into an error instead of a crash.
 * Returns 0, -1 (validation failed: psm_reader_error()), or -2 (SIGBUS: the
 * segment shrank; s->err says so).
 */
int pex_segment_render(struct pex_segment *s, enum psm_format fmt, struct psm_buf *b,
                       struct psm_render_stats *rs);

/** pex_segment_guard_init - install the SIGBUS handler pex_segment_render relies on */
void pex_segment_guard_init(void);

/** pex_segment_close - unmap */
void pex_segment_close(struct pex_segment *s);

/* ---- tls.c ----------------------------------------------------------------- */

/* The TLS material currently served; SSL_CTX ex_data points back at it. */
struct pex_tls {
    SSL_CTX *ctx;
    struct pex_allow_list sans; /* owned copy, used by the verify callback */
    double not_after;           /* server certificate, unix time */
    char subject[256];
    char serial[80];
};

/**
 * pex_tls_build - pre-flight the TLS configuration and build a server SSL_CTX
 * @t: the configuration
 * @errs: receives one line per failure (pre-flight reports every failure)
 * @errlen: size of @errs
 *
 * Checks that the cert, key and CA exist, are regular readable files and
 * parse; that the key is not accessible by group or others and matches the
 * certificate; that the certificate is valid now and its key suits the
 * signature algorithms; then builds the context: TLS 1.3 only, the suites,
 * groups and signature algorithms, mandatory verified client certificates,
 * no session resumption, ALPN.
 * Returns the new context (refcount 1) or NULL with @errs filled.
 */
struct pex_tls *pex_tls_build(const struct pex_tls_config *t, char *errs, size_t errlen);

/**
 * pex_tls_peer_allowed - would @tls accept the client certificate of @ssl now?
 * @tls: the (new) TLS material
 * @ssl: an established connection
 *
 * Verifies the peer's certificate and the chain it sent against @tls's CA store
 * and checks the SAN allow-list, as a new handshake would. Used after a reload,
 * so that a client the new material refuses does not keep its open connection.
 * Returns 1 if allowed, 0 if not.
 */
int pex_tls_peer_allowed(const struct pex_tls *tls, SSL *ssl);

/* pex_tls_leaf_check() verdict for a certificate the policy accepts. */
#define PEX_LEAF_OK (-1)

/**
 * pex_tls_leaf_check - does the client policy accept @leaf as a client's end-entity
 * certificate? (the chain and validity dates are OpenSSL's part)
 * @leaf: the client's leaf certificate
 * @sans: the SAN allow-list (NULL or empty: any SAN)
 *
 * The verify callback calls this for the leaf of every handshake, and so does a
 * reload's revalidation of open connections: a leaf must be an end entity
 * (not CA:TRUE), carry digitalSignature if it has a keyUsage extension (TLS 1.3
 * client authentication is a signature), carry clientAuth if it has an
 * extendedKeyUsage extension, have well-formed extensions, and carry a SAN of
 * the allow-list when there is one.
 * Returns PEX_LEAF_OK, or the enum pex_hs_reason that refuses it.
 */
int pex_tls_leaf_check(X509 *leaf, const struct pex_allow_list *sans);

/** pex_tls_free - drop a reference; the SSL_CTX lives while connections use it */
void pex_tls_free(struct pex_tls *tls);

/**
 * pex_tls_init - register the OpenSSL ex_data indexes; call once before pex_tls_build
 * @stats: where handshake outcomes are counted
 */
void pex_tls_init(struct pex_stats *stats);

/* ---- limits.c -------------------------------------------------------------- */

/*
 * One request from its dispatch to a handler until h2o disposes of it (http.c
 * embeds it in its per-request state; limits.c judges it). A response is
 * "handed over" once its first bytes went to h2o; from then on it makes
 * progress each time the client has taken a chunk of it. One that is waiting
 * for a client that takes nothing is "parked": it costs no work, so
 * --web.max-requests does not count it, and --web.stall-timeout ends its
 * connection.
 */
struct pex_inflight {
    h2o_linklist_t all;     /* in pex_limits.inflight_list */
    h2o_linklist_t on_conn; /* in pex_conn.inflight_list (unlinked if the connection goes first) */
    struct pex_conn *conn;  /* NULL if untracked or gone */
    h2o_req_t *req;
    int telemetry;
    int handed;           /* response bytes given to h2o */
    int taken;            /* the client has taken a chunk of them */
    size_t bytes_seen;    /* HTTP/2: req->bytes_sent when last looked at */
    uint64_t progress_ms; /* when handed over or last taken a chunk */
};

/* One accepted connection. Lives from accept to h2o's on_close. */
struct pex_conn {
    h2o_linklist_t link; /* in pex_conns.list, oldest first */
    h2o_socket_t *sock;
    SSL_CTX *ctx; /* reference held until close: h2o keeps a bare pointer (h2ointernals.c) */
    uint64_t accepted_ms;
    uint64_t requests;   /* requests dispatched to a handler */
    unsigned inflight;   /* responses not finished */
    uint64_t partial_ms; /* when bytes of an incomplete request were first seen; 0 none */
    int http2;
    int hs_done;
    int tls_seen;                 /* OpenSSL reported activity: the client sent TLS bytes */
    uint64_t progress_ms;         /* last handshake step or request */
    int hs_reason;                /* -1 none, else enum pex_hs_reason */
    int shut;                     /* we shut it down; h2o will close it */
    int revoked;                  /* close once its responses are done (reload) */
    SSL *ssl;                     /* set when the handshake completes */
    char peer[INET6_ADDRSTRLEN];  /* for logs: h2o closes the fd before telling us */
    h2o_linklist_t inflight_list; /* struct pex_inflight.on_conn */
    struct timeval connected_at;  /* for h2o's HTTP layers */
    uint64_t moved_ms;            /* last sign the client takes data (responses, kernel queue) */
    int outq_last;                /* bytes in the kernel send queue at the last sweep */
    /* h2ointernals.c's alone: */
    void (*_h2_read_expect)(void); /* h2o's HTTP/2 frame reader it wraps */
    int _h2_settings_sent;         /* the SETTINGS frame was rewritten */
};

/* Every open connection (conn.c). */
struct pex_conns {
    h2o_linklist_t list; /* struct pex_conn.link, oldest first */
    unsigned n;
    int draining; /* shutting down: refuse new connections */
};

struct pex_limits {
    unsigned inflight;            /* requests being answered */
    h2o_linklist_t inflight_list; /* struct pex_inflight.all */
    h2o_timeout_t sweep_timeout;
    h2o_timeout_entry_t sweep_entry;
};

struct pex_server; /* main.c */

/**
 * pex_conns_revalidate - after a reload, mark the connections whose client the
 * new TLS material refuses; each is shut down once its responses are done
 * @srv: the server (srv->tls is the new material)
 * Returns how many connections were marked.
 */
unsigned pex_conns_revalidate(struct pex_server *srv);

/**
 * pex_limits_init - start the periodic sweep of deadlines
 * @srv: the server
 */
void pex_limits_init(struct pex_server *srv);

/** pex_limits_dispose - stop the sweep */
void pex_limits_dispose(struct pex_server *srv);

/**
 * pex_conn_accept - account a new connection, evicting or refusing at the limit
 * @srv: the server
 * @sock: the accepted socket
 * Returns the connection, or NULL when it was refused (the socket is closed).
 */
struct pex_conn *pex_conn_accept(struct pex_server *srv, h2o_socket_t *sock);

/**
 * pex_inflight_start - account a request dispatched to a handler
 * @srv: the server
 * @f: its record, living until pex_inflight_end()
 * @req: the request
 * @c: its connection (may be NULL)
 * @telemetry: 1 for the telemetry path
 */
void pex_inflight_start(struct pex_server *srv, struct pex_inflight *f, h2o_req_t *req,
                        struct pex_conn *c, int telemetry);

/**
 * pex_inflight_progress - @f's response was handed over, or its client took a chunk
 * @srv: the server
 * @f: the request
 * @taken: 0 when the first bytes are handed over, 1 when the client took a chunk
 */
void pex_inflight_progress(struct pex_server *srv, struct pex_inflight *f, int taken);

/** pex_inflight_end - h2o disposed of @f's request */
void pex_inflight_end(struct pex_server *srv, struct pex_inflight *f);

/**
 * pex_limits_busy_scrapes - telemetry responses being sent to clients that take them
 * @srv: the server
 * @parked: receives how many others are parked (may be NULL)
 *
 * What --web.max-requests limits: responses handed over and not finished whose
 * client took data (or got the first chunk) within the last 250 ms, except those
 * whose HTTP/2 client has not opened a flow-control window for any of it yet.
 * Scrapes waiting for their render are not counted (they share one render).
 * Returns the count.
 */
unsigned pex_limits_busy_scrapes(struct pex_server *srv, unsigned *parked);

/** pex_conn_of_sock - the tracked connection of an h2o socket (NULL if untracked) */
struct pex_conn *pex_conn_of_sock(h2o_socket_t *sock);

/** pex_conn_of_req - the tracked connection a request arrived on (NULL if unknown) */
struct pex_conn *pex_conn_of_req(h2o_req_t *req);

/** pex_conn_of_ssl - the tracked connection of an OpenSSL handle inside h2o (or NULL) */
struct pex_conn *pex_conn_of_ssl(const SSL *ssl);

/**
 * pex_conn_shutdown - make h2o close a connection it owns
 * @c: the connection
 *
 * h2o owns the socket (and, during the handshake, private state attached to
 * it), so closing it from outside would free it twice. shutdown(2) instead
 * makes the next read fail, and h2o closes it through its own path.
 */
void pex_conn_shutdown(struct pex_conn *c);

/** pex_conn_progress - note that @c's handshake moved (TLS info callback) */
void pex_conn_progress(struct pex_conn *c);

/** pex_conns_shutdown - shut every connection down and accept no more (SIGTERM) */
void pex_conns_shutdown(struct pex_server *srv);

/** pex_conns_init - start with no connection; remembers @srv */
void pex_conns_init(struct pex_server *srv);

/** pex_conn_reset - pex_conn_shutdown() with a TCP reset (a client that does not read) */
void pex_conn_reset(struct pex_conn *c);

/* ---- http.c ---------------------------------------------------------------- */

/**
 * pex_http_register - register the handlers on the h2o host configuration
 * @srv: the server
 * @host: the host configuration
 */
void pex_http_register(struct pex_server *srv, h2o_hostconf_t *host);

/** pex_http_start - set up the scrape batching once the loop exists */
void pex_http_start(struct pex_server *srv);

/** pex_http_stop - undo pex_http_start; queued scrapes go with their connections */
void pex_http_stop(struct pex_server *srv);

/* ---- selfmetrics.c --------------------------------------------------------- */

/** pex_stats_observe_duration - count one scrape of @seconds */
void pex_stats_observe_duration(struct pex_stats *st, double seconds);

/**
 * pex_selfmetrics_render - append the exporter's own families to @b
 * @srv: the server
 * @fmt: the format
 * @b: the buffer
 * @seg: segment status of this scrape
 */
void pex_selfmetrics_render(struct pex_server *srv, enum psm_format fmt, struct psm_buf *b,
                            const struct pex_seg_status *seg);

/** pex_hs_reason_text - what a handshake failure reason means, for logs */
const char *pex_hs_reason_text(int r);

/** pex_code_index - status code to enum pex_code (unknown codes map to 500) */
enum pex_code pex_code_index(int status);

/* ---- main.c ---------------------------------------------------------------- */

struct pex_server {
    struct pex_config cfg;
    h2o_globalconf_t h2o_cfg;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_evloop_t *loop;
    h2o_socket_t *listener;
    struct pex_tls *tls; /* served to new connections */
    struct pex_conns conns;
    struct pex_limits limits;
    struct pex_stats stats;
    struct pex_segment seg;
    double start_time; /* unix seconds */
    size_t last_body;  /* size of the last rendered body: a capacity hint */
    /* Scrapes that arrived in this event-loop iteration, answered together by
     * one render per format and encoding at its end (http.c). */
    h2o_linklist_t batch;
    unsigned queued; /* scrapes in batch: they share a render, so no limit counts them */
    h2o_timeout_entry_t batch_entry;
    h2o_timeout_t batch_later; /* for what a full iteration left over */
    int batch_stopping;        /* shutting down: no budget, no batch_later */
    unsigned long renders;     /* of the telemetry body: scrapes / renders is the sharing */
};

#ifndef PEX_VERSION
#define PEX_VERSION "0.0.0"
#endif

#endif
