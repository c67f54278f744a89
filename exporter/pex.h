/*
 * exporter/pex.h - what every part of portsyncd-exporter shares: its name,
 * its version and the size of its error lines. Nothing else, and no h2o or
 * OpenSSL: each module has its own header, and a file includes h2o or OpenSSL
 * only if it uses them.
 *
 * The exporter is one single-threaded h2o event loop. Its modules:
 *
 *   main.c            startup order (flags -> pre-flight -> bind -> loop),
 *                     signals, reload, exit; owns struct pex_server (server.h)
 *   config.h          configuration: config.c (flags), config_tls.c (the TLS
 *                     material's environment variables, defaults, web config)
 *   webconfig.h       exporter-toolkit's web-config.yml, via libyaml
 *   tls.h             TLS: tls.c (SSL_CTX), tls_preflight.c (the checks before
 *                     a context is built), tls_verify.c (client certificates,
 *                     handshake outcomes)
 *   conn.h            accepted connections: limit, eviction, ending them;
 *                     conn_tls.h is the part the TLS callbacks see
 *   requests.h        requests in flight, parked responses, the deadlines
 *   h2ointernals.h    the only code that relies on h2o 2.2.5 internals
 *   http.h            the endpoints: http.c, http_scrape.c, http_respond.c,
 *                     http_negotiate.c (Accept, Accept-Encoding)
 *   segment.h         the metrics segment through libpsmetrics
 *   stats.h           the exporter's own counters and their labels (stats.c)
 *   selfmetrics.h     those counters and process_* as metric families
 *
 * Configuration is parsed and validated before the event loop exists; nothing
 * in the request path parses configuration (STYLE.md, after h2o). Logging,
 * clocks, process figures and readiness notification are libpsmetrics'
 * shared helpers (shm/util/include/psu/), as in portsyncd.
 */
#ifndef PEX_H
#define PEX_H

#define PEX_NAME    "portsyncd-exporter"
#define PEX_ERR_LEN 512 /* one error line: file, value and what was expected */

#ifndef PEX_VERSION
#define PEX_VERSION "0.0.0"
#endif

#endif
