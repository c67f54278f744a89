/*
 * exporter/http_int.h - what the files of the HTTP module share (http.c,
 * http_scrape.c, http_respond.c) and nothing else includes: the per-request
 * state, the shared scrape body, and the functions that answer a request.
 */
#ifndef PEX_HTTP_INT_H
#define PEX_HTTP_INT_H

#include <h2o.h>
#include <stddef.h>
#include <stdint.h>

#include "requests.h"
#include "psm/render.h"

struct pex_server;

/* A rendered scrape body shared by the requests of one batch. */
struct pex_body {
    unsigned refs;
    size_t len;
    char *p;
    const char *encoding; /* "gzip", or NULL for identity */
};

/* Bytes handed to h2o at a time: see http_respond.c. */
#define SEND_CHUNK (256u << 10)

/* Per request; allocated in the request's pool, disposed with it. */
struct pex_resp {
    h2o_generator_t gen;
    struct pex_server *srv;
    struct pex_inflight fl; /* accounting and stall tracking (requests.c) */
    char *body;             /* owned, or NULL */
    struct pex_body *shared;
    const char *out; /* the body being sent: body or shared->p */
    size_t out_len, out_off;
    /* A scrape waiting in srv->batch: */
    h2o_req_t *req;
    h2o_linklist_t pending;
    uint64_t t0_ns; /* arrival, psu_clock_mono_ns() */
    enum psm_format fmt;
    int gz;
};

/**
 * pex_http_resp_dispose - h2o's destructor of a struct pex_resp (its pool)
 * @p: the struct pex_resp
 *
 * Takes a scrape still waiting off the batch, ends its in-flight accounting
 * and releases its body.
 */
void pex_http_resp_dispose(void *p);

/**
 * pex_http_body_release - drop one reference to a shared body
 * @sb: the body (NULL: nothing); freed with its last reference
 */
void pex_http_body_release(struct pex_body *sb);

/**
 * pex_http_add_header - add a response header
 * @req: the request
 * @t: the header's token (H2O_TOKEN_...)
 * @v: its value, which must live as long as the request
 */
void pex_http_add_header(h2o_req_t *req, const h2o_token_t *t, const char *v);

/**
 * pex_http_respond - answer @req with @status and @body; HEAD gets no body
 * @req: the request
 * @r: its state
 * @status: the status code (counted in http_requests_total)
 * @reason: the reason phrase
 * @ctype: the Content-Type
 * @body: the body, which must live until @r is disposed (r->body or
 *        r->shared holds it)
 * @len: its length
 * @telemetry: 1 for the telemetry path (also counted in scrapes_total)
 */
void pex_http_respond(h2o_req_t *req, struct pex_resp *r, int status, const char *reason,
                      const char *ctype, char *body, size_t len, int telemetry);

/**
 * pex_http_respond_text - pex_http_respond() with a copy of @text, as text/plain
 * @req: the request
 * @r: its state
 * @status: the status code
 * @reason: the reason phrase
 * @text: the body
 * @telemetry: 1 for the telemetry path
 */
void pex_http_respond_text(h2o_req_t *req, struct pex_resp *r, int status, const char *reason,
                           const char *text, int telemetry);

/**
 * pex_http_scrape_init - prepare the batch of scrapes (at registration)
 * @srv: the server
 */
void pex_http_scrape_init(struct pex_server *srv);

/**
 * pex_http_scrape_queue - queue a scrape for the end of this loop iteration
 * @req: the request for the telemetry path (GET or HEAD, within the limits)
 * @r: its state
 */
void pex_http_scrape_queue(h2o_req_t *req, struct pex_resp *r);

#endif
