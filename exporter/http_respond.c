/*
 * exporter/http_respond.c - a response handed to h2o a chunk at a time.
 *
 * A body goes to h2o SEND_CHUNK bytes at a time, the next when h2o asks for it
 * (the generator's proceed: the client has taken the previous one). That keeps
 * what h2o copies per connection (HTTP/1 encrypts what it is given at once) to
 * one chunk, and each chunk taken is the progress that requests.c reads to tell a
 * response being sent from one parked behind a client that takes nothing.
 *
 * A body lives in malloc'd memory: the request's own (r->body), or a scrape
 * body shared by the requests of a batch and reference-counted by them
 * (r->shared), freed when h2o has disposed of the last of them, since HTTP/2
 * may still hold it in a flow-controlled queue after h2o_send() returns.
 */
#include <stdlib.h>
#include <string.h>

#include "http_int.h"
#include "requests.h"
#include "server.h"
#include "stats.h"

void pex_http_body_release(struct pex_body *sb)
{
    if (sb && --sb->refs == 0) {
        free(sb->p);
        free(sb);
    }
}

void pex_http_resp_dispose(void *p)
{
    struct pex_resp *r = p;
    /* The client went away before its batch was answered. */
    if (h2o_linklist_is_linked(&r->pending)) {
        h2o_linklist_unlink(&r->pending);
        r->srv->queued--;
    }
    pex_inflight_end(r->srv, &r->fl);
    free(r->body);
    pex_http_body_release(r->shared);
}

void pex_http_add_header(h2o_req_t *req, const h2o_token_t *t, const char *v)
{
    h2o_add_header(&req->pool, &req->res.headers, t, NULL, v, strlen(v));
}

/* Hands the next chunk of the body to h2o; the last one is final. @taken: the
 * client has taken the previous one. */
static void send_chunk(struct pex_resp *r, int taken)
{
    size_t n = r->out_len - r->out_off;
    if (n > SEND_CHUNK)
        n = SEND_CHUNK;
    h2o_iovec_t iov = h2o_iovec_init(r->out + r->out_off, n);
    r->out_off += n;
    pex_inflight_progress(r->srv, &r->fl, taken);
    h2o_send(r->req, &iov, 1,
             r->out_off == r->out_len ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

/* h2o wants more: the client has taken the previous chunk. */
static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    send_chunk(H2O_STRUCT_FROM_MEMBER(struct pex_resp, gen, gen), 1);
}

/* The client went away mid-body; pex_http_resp_dispose() follows and releases it. */
static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)gen, (void)req;
}

void pex_http_respond(h2o_req_t *req, struct pex_resp *r, int status, const char *reason,
                      const char *ctype, char *body, size_t len, int telemetry)
{
    struct pex_stats *st = &r->srv->stats;
    st->requests[pex_code_index(status)]++;
    if (telemetry)
        st->scrapes[pex_code_index(status)]++;
    req->res.status = status;
    req->res.reason = reason;
    req->res.content_length = len;
    pex_http_add_header(req, H2O_TOKEN_CONTENT_TYPE, ctype);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0,
                          NULL, H2O_STRLIT("nosniff"));
    pex_http_add_header(req, H2O_TOKEN_CACHE_CONTROL, "no-store");
    r->gen.proceed = on_proceed;
    r->gen.stop = on_stop;
    r->req = req;
    h2o_start_response(req, &r->gen);
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")) || len == 0) {
        pex_inflight_progress(r->srv, &r->fl, 0);
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
        return;
    }
    r->out = body;
    r->out_len = len;
    r->out_off = 0;
    send_chunk(r, 0);
}

void pex_http_respond_text(h2o_req_t *req, struct pex_resp *r, int status, const char *reason,
                           const char *text, int telemetry)
{
    char *body = r->body = strdup(text);
    pex_http_respond(req, r, status, reason, "text/plain; charset=utf-8", body,
                     body ? strlen(body) : 0, telemetry);
}
