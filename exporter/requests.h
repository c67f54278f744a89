/*
 * exporter/requests.h - what requests and their connections are held to, beyond
 * what h2o 2.2.5 enforces (requests.c): requests in flight and the
 * --web.max-requests count, parked responses, and the deadlines a sweep every
 * 250 ms applies (first request, request headers, stalled responses).
 */
#ifndef PEX_REQUESTS_H
#define PEX_REQUESTS_H

#include <h2o.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"

struct pex_server;

/*
 * One request from its dispatch to a handler until h2o disposes of it (the
 * HTTP layer embeds it in its per-request state; requests.c judges it). A
 * response is "handed over" once its first bytes went to h2o; from then on it
 * makes progress each time the client has taken a chunk of it. One that is
 * waiting for a client that takes nothing is "parked": it costs no work, so
 * --web.max-requests does not count it, and --web.stall-timeout ends its
 * connection.
 */
struct pex_inflight {
    h2o_linklist_t all;     /* in pex_requests.inflight_list */
    h2o_linklist_t on_conn; /* in pex_conn.inflight_list (unlinked if the connection goes first) */
    struct pex_conn *conn;  /* NULL if untracked or gone */
    h2o_req_t *req;
    int telemetry;
    int handed;           /* response bytes given to h2o */
    int taken;            /* the client has taken a chunk of them */
    uint64_t bytes_seen;  /* HTTP/2: pex_h2o_req_bytes_framed() when last looked at */
    uint64_t progress_ms; /* when handed over or last taken a chunk */
};

struct pex_requests {
    unsigned inflight;            /* requests being answered */
    h2o_linklist_t inflight_list; /* struct pex_inflight.all */
    h2o_timeout_t sweep_timeout;
    h2o_timeout_entry_t sweep_entry;
};

/**
 * pex_requests_init - start the periodic sweep of deadlines
 * @srv: the server (its loop exists)
 */
void pex_requests_init(struct pex_server *srv);

/**
 * pex_requests_dispose - stop the sweep
 * @srv: the server
 */
void pex_requests_dispose(struct pex_server *srv);

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

/**
 * pex_inflight_end - h2o disposed of @f's request
 * @srv: the server
 * @f: the request's record
 */
void pex_inflight_end(struct pex_server *srv, struct pex_inflight *f);

/**
 * pex_requests_busy - telemetry responses being sent to clients that take them
 * @srv: the server
 * @parked: receives how many others are parked (may be NULL)
 *
 * What --web.max-requests limits: responses handed over and not finished whose
 * client took data (or got the first chunk) within the last 250 ms, except those
 * whose HTTP/2 client has not opened a flow-control window for any of it yet.
 * Scrapes waiting for their render are not counted (they share one render).
 * Returns the count.
 */
unsigned pex_requests_busy(struct pex_server *srv, unsigned *parked);

#endif
