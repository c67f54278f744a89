/*
 * exporter/http_scrape.c - the telemetry path: the segment's families and the
 * exporter's own, as text 0.0.4, OpenMetrics 1.0 or protobuf (delimited
 * MetricFamily, with native buckets; http_negotiate.c decides), gzip'd when
 * the scraper allows it.
 *
 * Every scrape gets a snapshot taken after it arrived: scrapes are queued while
 * the event loop reads requests, and at the end of that loop iteration one
 * psm_render() per format and encoding answers all of them (the cells of the
 * mapped segment at that moment; histograms through the reader's consistent
 * snapshot). Scrapes that arrive together thus share one render; nothing is
 * kept beyond the iteration. One iteration hands h2o at most BATCH_BYTES of
 * bodies; the scrapes beyond wait for the next iteration and a fresh render.
 */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "h2ointernals.h"
#include "http.h"
#include "http_int.h"
#include "http_negotiate.h"
#include "psu/clock.h"
#include "segment.h"
#include "selfmetrics.h"
#include "server.h"
#include "stats.h"
#include "tls.h"

/*
 * Every field line of @t, joined by commas: RFC 9110 section 5.3 makes several
 * lines the same as one listing all their elements, so a client or proxy that
 * splits Accept must get what one line would. {NULL, 0} when there is none.
 */
static h2o_iovec_t header_value(h2o_req_t *req, const h2o_token_t *t)
{
    ssize_t first = h2o_find_header(&req->headers, t, -1);
    if (first < 0)
        return h2o_iovec_init(NULL, 0);
    h2o_iovec_t v = req->headers.entries[first].value;
    if (h2o_find_header(&req->headers, t, first) < 0)
        return v;
    size_t len = 0;
    for (ssize_t i = first; i >= 0; i = h2o_find_header(&req->headers, t, i))
        len += req->headers.entries[i].value.len + 1;
    char *p = h2o_mem_alloc_pool(&req->pool, len);
    size_t o = 0;
    for (ssize_t i = first; i >= 0; i = h2o_find_header(&req->headers, t, i)) {
        if (o)
            p[o++] = ',';
        memcpy(p + o, req->headers.entries[i].value.base, req->headers.entries[i].value.len);
        o += req->headers.entries[i].value.len;
    }
    return h2o_iovec_init(p, o);
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
    struct pex_self_view v = {
        .stats = &srv->stats,
        .seg = &srv->seg,
        .status = &seg,
        .inflight = srv->requests.inflight,
        .conns = srv->conns.n,
        .renders = srv->renders,
        .cert_not_after = srv->tls->not_after,
        .start_time = srv->start_time,
        .openssl = OpenSSL_version(OPENSSL_VERSION),
    };
    v.busy = pex_requests_busy(srv, &v.parked);
    pex_selfmetrics_render(&v, fmt, &b);
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

/* Prometheus picks its parser by this, whatever it asked for. */
static const char *content_type(enum psm_format fmt)
{
    switch (fmt) {
    case PSM_FMT_OPENMETRICS:
        return PSM_OPENMETRICS_CONTENT_TYPE;
    case PSM_FMT_PROTOBUF:
        return PSM_PROTOBUF_CONTENT_TYPE;
    case PSM_FMT_TEXT:
        break;
    }
    return PSM_TEXT_CONTENT_TYPE;
}

static void answer_scrape(struct pex_resp *r, struct pex_body *sb)
{
    h2o_req_t *req = r->req;
    if (!sb) {
        pex_http_respond_text(req, r, 500, "Internal Server Error", "out of memory\n", 1);
        return;
    }
    sb->refs++;
    r->shared = sb;
    if (sb->encoding)
        pex_http_add_header(req, H2O_TOKEN_CONTENT_ENCODING, sb->encoding);
    pex_http_add_header(req, H2O_TOKEN_VARY, "Accept, Accept-Encoding");
    pex_stats_observe_duration(&r->srv->stats, (double)(psu_clock_mono_ns() - r->t0_ns) / 1e9);
    pex_http_respond(req, r, 200, "OK", content_type(r->fmt), sb->p, sb->len, 1);
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
        /* pex_http_respond() may run h2o callbacks that dispose of other pending
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
        pex_http_body_release(sb);
    }
}

void pex_http_scrape_queue(h2o_req_t *req, struct pex_resp *r)
{
    struct pex_server *srv = r->srv;
    h2o_iovec_t acc = header_value(req, H2O_TOKEN_ACCEPT);
    h2o_iovec_t enc = header_value(req, H2O_TOKEN_ACCEPT_ENCODING);
    r->fmt = pex_accept_parse(acc.base, acc.len);
    r->gz = pex_gzip_accepted(enc.base, enc.len);
    r->req = req;
    r->t0_ns = psu_clock_mono_ns();
    h2o_linklist_insert(&srv->batch, &r->pending);
    srv->queued++;
    if (!h2o_timeout_is_linked(&srv->batch_entry))
        pex_h2o_defer(&srv->ctx, &srv->batch_entry);
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

void pex_http_scrape_init(struct pex_server *srv)
{
    h2o_linklist_init_anchor(&srv->batch);
    srv->batch_entry = (h2o_timeout_entry_t){.cb = on_batch};
}
