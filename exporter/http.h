/*
 * exporter/http.h - the HTTP endpoints, as h2o handlers:
 *
 *   http.c             routing, the small endpoints (/, /-/healthy, /-/ready),
 *                      404, 405, 431 and the --web.max-requests 503
 *   http_scrape.c      the telemetry path: scrapes batched per loop iteration,
 *                      one render per format and encoding, gzip
 *   http_respond.c     a response handed to h2o a chunk at a time
 *   http_negotiate.c   Accept / Accept-Encoding (http_negotiate.h; no h2o)
 *
 * Their shared types are in http_int.h, which only those files include.
 */
#ifndef PEX_HTTP_H
#define PEX_HTTP_H

#include <h2o.h>

struct pex_server;

/**
 * pex_http_register - register the handlers on the h2o host configuration
 * @srv: the server
 * @host: the host configuration
 */
void pex_http_register(struct pex_server *srv, h2o_hostconf_t *host);

/**
 * pex_http_start - set up the scrape batching once the loop exists
 * @srv: the server
 */
void pex_http_start(struct pex_server *srv);

/**
 * pex_http_stop - undo pex_http_start(), answering scrapes still queued
 * @srv: the server
 */
void pex_http_stop(struct pex_server *srv);

#endif
