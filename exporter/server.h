/*
 * exporter/server.h - the one server the process runs: configuration, h2o's
 * loop and contexts, the TLS material in use, the connections, the requests
 * in flight, the counters and the segment. main.c owns it; the h2o-side modules reach
 * their shared state through it.
 */
#ifndef PEX_SERVER_H
#define PEX_SERVER_H

#include <h2o.h>
#include <stddef.h>

#include "config.h"
#include "conn.h"
#include "requests.h"
#include "segment.h"
#include "stats.h"

struct pex_tls;

struct pex_server {
    struct pex_config cfg;
    h2o_globalconf_t h2o_cfg;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_evloop_t *loop;
    h2o_socket_t *listener;
    struct pex_tls *tls; /* served to new connections (tls.h) */
    struct pex_conns conns;
    struct pex_requests requests;
    struct pex_stats stats;
    struct pex_segment seg;
    double start_time; /* unix seconds */
    /* http_scrape.c's: scrapes that arrived in this event-loop iteration,
     * answered together by one render per format and encoding at its end. */
    size_t last_body; /* size of the last rendered body: a capacity hint */
    h2o_linklist_t batch;
    unsigned queued; /* scrapes in batch: they share a render, so no limit counts them */
    h2o_timeout_entry_t batch_entry;
    h2o_timeout_t batch_later; /* for what a full iteration left over */
    int batch_stopping;        /* shutting down: no budget, no batch_later */
    unsigned long renders;     /* of the telemetry body: scrapes / renders is the sharing */
};

#endif
