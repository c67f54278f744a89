/*
 * exporter/http.c - the HTTP endpoints.
 *
 *   GET|HEAD <telemetry path>  the segment + the exporter's own metrics;
 *                              text 0.0.4, or OpenMetrics 1.0 when Accept
 *                              prefers it; gzip when Accept-Encoding allows
 *   GET|HEAD /                 landing page
 *   GET|HEAD /-/healthy        200 while the process serves
 *   GET|HEAD /-/ready          200 when the segment is mapped and its writer alive, else 503
 *   other paths                404; other methods on the paths above: 405
 *
 * Every scrape gets a snapshot taken after it arrived: scrapes are queued while
 * the event loop reads requests, and at the end of that loop iteration one
 * psm_render() per format and encoding answers all of them (the cells of the
 * mapped segment at that moment; histograms through the reader's consistent
 * snapshot). Scrapes that arrive together thus share one render; nothing is
 * kept beyond the iteration. A body lives in malloc'd memory, reference-counted
 * by the requests that send it and freed when h2o has disposed of the last of
 * them, since HTTP/2 may still hold it in a flow-controlled queue after
 * h2o_send() returns.
 *
 * A body goes to h2o SEND_CHUNK bytes at a time, the next when h2o asks for it
 * (the generator's proceed: the client has taken the previous one). That keeps
 * what h2o copies per connection (HTTP/1 encrypts what it is given at once) to
 * one chunk, and each chunk taken is the progress that limits.c reads to tell a
 * response being sent from one parked behind a client that takes nothing.
 */
#include <strings.h>
#include <zlib.h>

#include "pex.h"
#include "psu/clock.h"

struct pex_handler {
    h2o_handler_t super;
    struct pex_server *srv;
};

/* A rendered scrape body shared by the requests of one batch. */
struct pex_body {
    unsigned refs;
    size_t len;
    char *p;
    const char *encoding; /* "gzip", or NULL for identity */
};

/* Bytes handed to h2o at a time; see the top of this file. */
#define SEND_CHUNK (256u << 10)

/* Per request; allocated in the request's pool, disposed with it. */
struct pex_resp {
    h2o_generator_t gen;
    struct pex_server *srv;
    struct pex_inflight fl; /* accounting and stall tracking (limits.c) */
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

static void body_release(struct pex_body *sb)
{
    if (sb && --sb->refs == 0) {
        free(sb->p);
        free(sb);
    }
}

static void resp_dispose(void *p)
{
    struct pex_resp *r = p;
    /* The client went away before its batch was answered. */
    if (h2o_linklist_is_linked(&r->pending)) {
        h2o_linklist_unlink(&r->pending);
        r->srv->queued--;
    }
    pex_inflight_end(r->srv, &r->fl);
    free(r->body);
    body_release(r->shared);
}

/* ---- content negotiation ------------------------------------------------------ */

static int ieq(const char *a, size_t alen, const char *b)
{
    return alen == strlen(b) && strncasecmp(a, b, alen) == 0;
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* Trims blanks and one pair of quotes. */
static void trim(const char **p, size_t *len)
{
    while (*len && ((*p)[0] == ' ' || (*p)[0] == '\t'))
        (*p)++, (*len)--;
    while (*len && ((*p)[*len - 1] == ' ' || (*p)[*len - 1] == '\t'))
        (*len)--;
    if (*len >= 2 && (*p)[0] == '"' && (*p)[*len - 1] == '"')
        (*p)++, *len -= 2;
}

struct media {
    const char *type;
    size_t tlen;
    const char *version;
    size_t vlen;
    double q;
};

/* Parses one element "type/sub; k=v; q=0.5" of an Accept-like list. */
static void media_parse(const char *p, const char *end, struct media *m)
{
    memset(m, 0, sizeof *m);
    m->q = 1;
    const char *semi = memchr(p, ';', (size_t)(end - p));
    const char *tend = semi ? semi : end;
    m->type = p;
    m->tlen = (size_t)(tend - p);
    trim(&m->type, &m->tlen);
    while (semi) {
        p = skip_ws(semi + 1, end);
        semi = memchr(p, ';', (size_t)(end - p));
        const char *pend = semi ? semi : end;
        const char *eq = memchr(p, '=', (size_t)(pend - p));
        if (!eq)
            continue;
        const char *k = p, *v = eq + 1;
        size_t klen = (size_t)(eq - p), vlen = (size_t)(pend - v);
        trim(&k, &klen);
        trim(&v, &vlen);
        if (ieq(k, klen, "q")) {
            char num[16];
            size_t n = vlen < sizeof num - 1 ? vlen : sizeof num - 1;
            memcpy(num, v, n);
            num[n] = '\0';
            char *e;
            double q = strtod(num, &e);
            m->q = (*e || q < 0 || q > 1) ? 0 : q;
        } else if (ieq(k, klen, "version")) {
            m->version = v;
            m->vlen = vlen;
        }
    }
}

enum psm_format pex_accept_parse(const char *v, size_t len)
{
    double q_om = 0, q_text = 0;
    const char *end = v ? v + len : NULL;
    for (const char *p = v; p && p < end;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *eend = comma ? comma : end;
        struct media m;
        media_parse(p, eend, &m);
        p = comma ? comma + 1 : end;
        if (ieq(m.type, m.tlen, "application/openmetrics-text")) {
            if (!m.version || ieq(m.version, m.vlen, "1.0.0") || ieq(m.version, m.vlen, "0.0.1"))
                q_om = m.q > q_om ? m.q : q_om;
        } else if (ieq(m.type, m.tlen, "text/plain")) {
            if (!m.version || ieq(m.version, m.vlen, "0.0.4"))
                q_text = m.q > q_text ? m.q : q_text;
        } else if (ieq(m.type, m.tlen, "text/*") || ieq(m.type, m.tlen, "*/*")) {
            q_text = m.q > q_text ? m.q : q_text;
        }
    }
    /* Ties go to the classic text format, the one every scraper understands. */
    return q_om > 0 && q_om > q_text ? PSM_FMT_OPENMETRICS : PSM_FMT_TEXT;
}

int pex_gzip_accepted(const char *v, size_t len)
{
    double q_gzip = -1, q_star = -1;
    const char *end = v ? v + len : NULL;
    for (const char *p = v; p && p < end;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *eend = comma ? comma : end;
        struct media m;
        media_parse(p, eend, &m);
        p = comma ? comma + 1 : end;
        if (ieq(m.type, m.tlen, "gzip") || ieq(m.type, m.tlen, "x-gzip"))
            q_gzip = m.q;
        else if (ieq(m.type, m.tlen, "*"))
            q_star = m.q;
    }
    return q_gzip > 0 || (q_gzip < 0 && q_star > 0);
}

/* ---- responses ------------------------------------------------------------------ */

static const h2o_header_t *find(h2o_req_t *req, const h2o_token_t *t)
{
    ssize_t i = h2o_find_header(&req->headers, t, -1);
    return i < 0 ? NULL : &req->headers.entries[i];
}

static void add_hdr(h2o_req_t *req, const h2o_token_t *t, const char *v)
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

/* The client went away mid-body; resp_dispose() follows and releases it. */
static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)gen, (void)req;
}

/* Sends @body with @status; HEAD gets no body. @body must live until @r is
 * disposed: r->body or r->shared holds it. */
static void respond(h2o_req_t *req, struct pex_resp *r, int status, const char *reason,
                    const char *ctype, char *body, size_t len, int telemetry)
{
    struct pex_stats *st = &r->srv->stats;
    st->requests[pex_code_index(status)]++;
    if (telemetry)
        st->scrapes[pex_code_index(status)]++;
    req->res.status = status;
    req->res.reason = reason;
    req->res.content_length = len;
    add_hdr(req, H2O_TOKEN_CONTENT_TYPE, ctype);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0,
                          NULL, H2O_STRLIT("nosniff"));
    add_hdr(req, H2O_TOKEN_CACHE_CONTROL, "no-store");
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

static void respond_text(h2o_req_t *req, struct pex_resp *r, int status, const char *reason,
                         const char *text, int telemetry)
{
    char *body = r->body = strdup(text);
    respond(req, r, status, reason, "text/plain; charset=utf-8", body, body ? strlen(body) : 0,
            telemetry);
}

static int gzip_buf(const struct psm_buf *in, char **out, size_t *outlen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    /* windowBits 15 + 16: gzip wrapper. Level 1: scrape bodies are repetitive
     * text that compresses ~10x even at the fastest level. */
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    uLong cap = deflateBound(&z, (uLong)in->len);
    char *buf = malloc(cap);
    if (!buf) {
        deflateEnd(&z);
        return -1;
    }
    z.next_in = (Bytef *)in->p;
    z.avail_in = (uInt)in->len;
    z.next_out = (Bytef *)buf;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *outlen = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return -1;
    }
    *out = buf;
    return 0;
}

/* Renders the segment and our own metrics as @fmt, gzip'd if @gz and that
 * works; NULL when out of memory. */
static struct pex_body *render_body(struct pex_server *srv, enum psm_format fmt, int gz)
{
    struct pex_seg_status seg;
    pex_segment_poll(&srv->seg, &seg);
    struct psm_buf b = {0};
    psm_buf_reserve(&b, srv->last_body + srv->last_body / 8 + 16384);
    if (seg.mapped) {
        struct psm_render_stats rs;
        int rc = pex_segment_render(&srv->seg, fmt, &b, &rs);
        if (rc == 0) {
            srv->stats.torn += rs.torn;
        } else if (rc == -2 || !b.oom) {
            /* Validation failed (or the segment shrank under us): serve our own
             * metrics, say the segment is gone, look for it again later. */
            pex_segment_failed(&srv->seg, rc == -2 ? srv->seg.err : psm_reader_error(srv->seg.r));
            seg.mapped = 0;
            b.len = 0;
        }
    }
    srv->renders++;
    pex_selfmetrics_render(srv, fmt, &b, &seg);
    psm_render_eof(&b, fmt);
    struct pex_body *sb = calloc(1, sizeof *sb);
    if (b.oom || !sb) {
        psm_buf_free(&b);
        free(sb);
        return NULL;
    }
    srv->last_body = b.len;
    sb->p = b.p;
    sb->len = b.len;
    char *zp;
    size_t zlen;
    if (gz && gzip_buf(&b, &zp, &zlen) == 0) {
        psm_buf_free(&b);
        sb->p = zp;
        sb->len = zlen;
        sb->encoding = "gzip";
    } /* else identity, which is always acceptable */
    return sb;
}

static void answer_scrape(struct pex_resp *r, struct pex_body *sb)
{
    h2o_req_t *req = r->req;
    if (!sb) {
        respond_text(req, r, 500, "Internal Server Error", "out of memory\n", 1);
        return;
    }
    sb->refs++;
    r->shared = sb;
    if (sb->encoding)
        add_hdr(req, H2O_TOKEN_CONTENT_ENCODING, sb->encoding);
    add_hdr(req, H2O_TOKEN_VARY, "Accept, Accept-Encoding");
    pex_stats_observe_duration(&r->srv->stats, (double)(psu_clock_mono_ns() - r->t0_ns) / 1e9);
    respond(req, r, 200, "OK",
            r->fmt == PSM_FMT_OPENMETRICS ? PSM_OPENMETRICS_CONTENT_TYPE : PSM_TEXT_CONTENT_TYPE,
            sb->p, sb->len, 1);
}

/*
 * Body bytes one loop iteration may hand to h2o. h2o keeps what the sockets do
 * not take at once, encrypted, until they drain; without a bound, 64 scrapers
 * of a 2.6 MB body would park ~170 MB there. Past the budget, the remaining
 * scrapes wait for a later iteration (and a fresh render).
 */
#define BATCH_BYTES (4u << 20)

/* End of the loop iteration: one render per format and encoding asked for,
 * sent to every scrape that asked for it, within BATCH_BYTES. */
static void on_batch(h2o_timeout_entry_t *entry)
{
    struct pex_server *srv = H2O_STRUCT_FROM_MEMBER(struct pex_server, batch_entry, entry);
    size_t spent = 0;
    while (!h2o_linklist_is_empty(&srv->batch)) {
        if (spent >= BATCH_BYTES && !srv->batch_stopping) {
            h2o_timeout_link(srv->loop, &srv->batch_later, &srv->batch_entry);
            return;
        }
        struct pex_resp *first = H2O_STRUCT_FROM_MEMBER(struct pex_resp, pending, srv->batch.next);
        enum psm_format fmt = first->fmt;
        int gz = first->gz;
        struct pex_body *sb = render_body(srv, fmt, gz);
        if (sb)
            sb->refs++; /* held while answering, so an early dispose cannot free it */
        /* respond() may run h2o callbacks that dispose of other pending
         * requests: take each one off the list before answering it. */
        h2o_linklist_t same;
        h2o_linklist_init_anchor(&same);
        for (h2o_linklist_t *n = srv->batch.next, *next; n != &srv->batch; n = next) {
            next = n->next;
            struct pex_resp *r = H2O_STRUCT_FROM_MEMBER(struct pex_resp, pending, n);
            if (r->fmt == fmt && r->gz == gz) {
                h2o_linklist_unlink(n);
                h2o_linklist_insert(&same, n);
            }
        }
        while (!h2o_linklist_is_empty(&same)) {
            struct pex_resp *r = H2O_STRUCT_FROM_MEMBER(struct pex_resp, pending, same.next);
            if (spent >= BATCH_BYTES && !srv->batch_stopping) {
                /* Back to the front of the queue, in arrival order. */
                h2o_linklist_t *front = srv->batch.next;
                while (!h2o_linklist_is_empty(&same)) {
                    h2o_linklist_t *n = same.next;
                    h2o_linklist_unlink(n);
                    h2o_linklist_insert(front, n);
                }
                break;
            }
            h2o_linklist_unlink(&r->pending);
            srv->queued--;
            int head = h2o_memis(r->req->method.base, r->req->method.len, H2O_STRLIT("HEAD"));
            answer_scrape(r, sb);
            /* h2o holds one chunk of it; the rest follows as the client takes it. */
            spent += sb && !head ? (sb->len < SEND_CHUNK ? sb->len : SEND_CHUNK) : 0;
        }
        body_release(sb);
    }
}

static void scrape(h2o_req_t *req, struct pex_resp *r)
{
    struct pex_server *srv = r->srv;
    const h2o_header_t *acc = find(req, H2O_TOKEN_ACCEPT);
    const h2o_header_t *enc = find(req, H2O_TOKEN_ACCEPT_ENCODING);
    r->fmt = pex_accept_parse(acc ? acc->value.base : NULL, acc ? acc->value.len : 0);
    r->gz = pex_gzip_accepted(enc ? enc->value.base : NULL, enc ? enc->value.len : 0);
    r->req = req;
    r->t0_ns = psu_clock_mono_ns();
    h2o_linklist_insert(&srv->batch, &r->pending);
    srv->queued++;
    if (!h2o_timeout_is_linked(&srv->batch_entry))
        pex_h2o_defer(&srv->ctx, &srv->batch_entry);
}

static void landing(h2o_req_t *req, struct pex_resp *r)
{
    struct psm_buf b = {0};
    psm_buf_printf(&b,
                   "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                   "<title>portsyncd exporter</title></head>\n<body>\n"
                   "<h1>portsyncd exporter</h1>\n"
                   "<p>Metrics of the portsyncd shared-memory segment '%s'.</p>\n<ul>\n"
                   "<li><a href=\"%s\">%s</a> (Prometheus text 0.0.4 or OpenMetrics 1.0)</li>\n"
                   "<li><a href=\"/-/healthy\">/-/healthy</a></li>\n"
                   "<li><a href=\"/-/ready\">/-/ready</a></li>\n</ul>\n</body></html>\n",
                   r->srv->cfg.shm_name, r->srv->cfg.telemetry_path, r->srv->cfg.telemetry_path);
    if (b.oom) {
        psm_buf_free(&b);
        respond_text(req, r, 500, "Internal Server Error", "out of memory\n", 0);
        return;
    }
    r->body = b.p;
    respond(req, r, 200, "OK", "text/html; charset=utf-8", b.p, b.len, 0);
}

static void ready(h2o_req_t *req, struct pex_resp *r)
{
    struct pex_seg_status seg;
    pex_segment_poll(&r->srv->seg, &seg);
    if (seg.mapped && seg.live.alive) {
        respond_text(req, r, 200, "OK", "Ready\n", 0);
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
    respond_text(req, r, 503, "Service Unavailable", text, 0);
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
    struct pex_resp *r = h2o_mem_alloc_shared(&req->pool, sizeof *r, resp_dispose);
    memset(r, 0, sizeof *r);
    r->srv = srv;
    pex_inflight_start(srv, &r->fl, req, c, telemetry);
    int root = h2o_memis(path.base, path.len, H2O_STRLIT("/"));
    int healthy = h2o_memis(path.base, path.len, H2O_STRLIT("/-/healthy"));
    int readyp = h2o_memis(path.base, path.len, H2O_STRLIT("/-/ready"));
    if (header_bytes(req) > srv->cfg.max_header_bytes) {
        respond_text(req, r, 431, "Request Header Fields Too Large",
                     "request line and headers exceed --web.max-header-bytes\n", telemetry);
        return 0;
    }
    if (!telemetry && !root && !healthy && !readyp) {
        respond_text(req, r, 404, "Not Found", "not found\n", 0);
        return 0;
    }
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        add_hdr(req, H2O_TOKEN_ALLOW, "GET, HEAD");
        respond_text(req, r, 405, "Method Not Allowed", "only GET and HEAD are allowed\n",
                     telemetry);
        return 0;
    }
    if (telemetry) {
        /* Counted: responses being sent to clients that take them. Not counted:
         * scrapes queued for this iteration's render (however many they are,
         * they cost one render per format and encoding), and responses parked
         * behind clients that take nothing (no work; the stall deadline and the
         * per-connection stream limit bound what they hold). */
        if (srv->cfg.max_requests && pex_limits_busy_scrapes(srv, NULL) >= srv->cfg.max_requests) {
            add_hdr(req, H2O_TOKEN_RETRY_AFTER, "1");
            respond_text(req, r, 503, "Service Unavailable",
                         "too many concurrent requests (--web.max-requests)\n", 1);
            return 0;
        }
        scrape(req, r);
    } else if (root) {
        landing(req, r);
    } else if (healthy) {
        respond_text(req, r, 200, "OK", "Healthy\n", 0);
    } else {
        ready(req, r);
    }
    return 0;
}

void pex_http_start(struct pex_server *srv)
{
    h2o_timeout_init(srv->loop, &srv->batch_later, 1);
}

void pex_http_stop(struct pex_server *srv)
{
    /* Answer what is still queued (connections left open past the drain),
     * without the budget: batch_later is about to go. */
    srv->batch_stopping = 1;
    h2o_timeout_unlink(&srv->batch_entry);
    if (!h2o_linklist_is_empty(&srv->batch))
        on_batch(&srv->batch_entry);
    h2o_timeout_dispose(srv->loop, &srv->batch_later);
}

void pex_http_register(struct pex_server *srv, h2o_hostconf_t *host)
{
    h2o_pathconf_t *pc = h2o_config_register_path(host, "/", 0);
    struct pex_handler *h = (struct pex_handler *)h2o_create_handler(pc, sizeof *h);
    h->super.on_req = on_req;
    h->srv = srv;
    h2o_linklist_init_anchor(&srv->batch);
    srv->batch_entry = (h2o_timeout_entry_t){.cb = on_batch};
}
