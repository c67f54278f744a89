/*
 * exporter/http.c - the HTTP endpoints: routing, and all but the telemetry
 * path (http_scrape.c).
 *
 *   GET|HEAD <telemetry path>  the segment + the exporter's own metrics;
 *                              text 0.0.4, or OpenMetrics 1.0 or protobuf
 *                              when Accept prefers it; gzip when
 *                              Accept-Encoding allows
 *   GET|HEAD /                 landing page
 *   GET|HEAD /-/healthy        200 while the process serves
 *   GET|HEAD /-/ready          200 when the segment is mapped and its writer alive, else 503
 *   other paths                404; other methods on the paths above: 405
 *
 * Before any handler: requests whose line and headers exceed
 * --web.max-header-bytes get 431, and telemetry requests beyond
 * --web.max-requests busy responses 503 (requests.c counts them).
 */
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "http.h"
#include "http_int.h"
#include "requests.h"
#include "server.h"

struct pex_handler {
    h2o_handler_t super;
    struct pex_server *srv;
};

static void landing(h2o_req_t *req, struct pex_resp *r)
{
    struct psm_buf b = {0};
    psm_buf_printf(&b,
                   "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                   "<title>portsyncd exporter</title></head>\n<body>\n"
                   "<h1>portsyncd exporter</h1>\n"
                   "<p>Metrics of the portsyncd shared-memory segment '%s'.</p>\n<ul>\n"
                   "<li><a href=\"%s\">%s</a> (text 0.0.4, OpenMetrics, protobuf)</li>\n"
                   "<li><a href=\"/-/healthy\">/-/healthy</a></li>\n"
                   "<li><a href=\"/-/ready\">/-/ready</a></li>\n</ul>\n</body></html>\n",
                   r->srv->cfg.shm_name, r->srv->cfg.telemetry_path, r->srv->cfg.telemetry_path);
    if (b.oom) {
        psm_buf_free(&b);
        pex_http_respond_text(req, r, 500, "Internal Server Error", "out of memory\n", 0);
        return;
    }
    r->body = b.p;
    pex_http_respond(req, r, 200, "OK", "text/html; charset=utf-8", b.p, b.len, 0);
}

static void ready(h2o_req_t *req, struct pex_resp *r)
{
    struct pex_seg_status seg;
    pex_segment_poll(&r->srv->seg, &seg);
    if (seg.mapped && seg.live.alive) {
        pex_http_respond_text(req, r, 200, "OK", "Ready\n", 0);
        return;
    }
    char text[320];
    if (seg.mapped)
        snprintf(text, sizeof text, "Not ready: %s (judged by %s)\n",
                 seg.live.reason ? seg.live.reason : "writer not alive",
                 seg.live.method == PSM_LIVENESS_PID
                     ? "pid: the writer is in this PID namespace"
                     : "heartbeat: the writer's PID namespace is not this one");
    else
        snprintf(text, sizeof text, "Not ready: metrics segment not mapped\n");
    pex_http_respond_text(req, r, 503, "Service Unavailable", text, 0);
}

static size_t header_bytes(const h2o_req_t *req)
{
    size_t n = req->input.method.len + req->input.path.len + 12;
    for (size_t i = 0; i < req->headers.size; i++)
        n += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
    return n;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    struct pex_server *srv = ((struct pex_handler *)self)->srv;
    struct pex_conn *c = pex_conn_of_req(req);
    if (c) {
        c->requests++;
        pex_conn_progress(c);
        c->partial_ms = 0;
        c->http2 = req->version >= 0x200;
    }
    h2o_iovec_t path = req->path_normalized;
    int telemetry =
        h2o_memis(path.base, path.len, srv->cfg.telemetry_path, strlen(srv->cfg.telemetry_path));
    struct pex_resp *r = h2o_mem_alloc_shared(&req->pool, sizeof *r, pex_http_resp_dispose);
    memset(r, 0, sizeof *r);
    r->srv = srv;
    pex_inflight_start(srv, &r->fl, req, c, telemetry);
    int root = h2o_memis(path.base, path.len, H2O_STRLIT("/"));
    int healthy = h2o_memis(path.base, path.len, H2O_STRLIT("/-/healthy"));
    int readyp = h2o_memis(path.base, path.len, H2O_STRLIT("/-/ready"));
    if (header_bytes(req) > srv->cfg.max_header_bytes) {
        pex_http_respond_text(req, r, 431, "Request Header Fields Too Large",
                              "request line and headers exceed --web.max-header-bytes\n",
                              telemetry);
        return 0;
    }
    if (!telemetry && !root && !healthy && !readyp) {
        pex_http_respond_text(req, r, 404, "Not Found", "not found\n", 0);
        return 0;
    }
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        pex_http_add_header(req, H2O_TOKEN_ALLOW, "GET, HEAD");
        pex_http_respond_text(req, r, 405, "Method Not Allowed", "only GET and HEAD are allowed\n",
                              telemetry);
        return 0;
    }
    if (telemetry) {
        /* Counted: responses being sent to clients that take them. Not counted:
         * scrapes queued for this iteration's render (however many they are,
         * they cost one render per format and encoding), and responses parked
         * behind clients that take nothing (no work; the stall deadline and the
         * per-connection stream limit bound what they hold). */
        if (srv->cfg.max_requests && pex_requests_busy(srv, NULL) >= srv->cfg.max_requests) {
            pex_http_add_header(req, H2O_TOKEN_RETRY_AFTER, "1");
            pex_http_respond_text(req, r, 503, "Service Unavailable",
                                  "too many concurrent requests (--web.max-requests)\n", 1);
            return 0;
        }
        pex_http_scrape_queue(req, r);
    } else if (root) {
        landing(req, r);
    } else if (healthy) {
        pex_http_respond_text(req, r, 200, "OK", "Healthy\n", 0);
    } else {
        ready(req, r);
    }
    return 0;
}

void pex_http_register(struct pex_server *srv, h2o_hostconf_t *host)
{
    h2o_pathconf_t *pc = h2o_config_register_path(host, "/", 0);
    struct pex_handler *h = (struct pex_handler *)h2o_create_handler(pc, sizeof *h);
    h->super.on_req = on_req;
    h->srv = srv;
    pex_http_scrape_init(srv);
}
