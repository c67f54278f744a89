/*
 * exporter/requests.c - requests in flight, and the deadlines h2o 2.2.5 lacks.
 *
 * What h2o 2.2.5 offers: for HTTP/1 one timer
 * (http1.req_timeout) armed when the connection starts waiting for a request
 * and not re-armed by partial reads, so it is both the keep-alive idle time and
 * the deadline for the request headers; for HTTP/2 an idle timeout while no
 * stream is open. A 5-minute keep-alive would therefore let a slowloris client
 * hold a connection for 5 minutes. This file adds, with a sweep every 250 ms:
 *
 *   first request   a connection must complete its handshake and first
 *                   request within --web.request-timeout of being accepted;
 *   header deadline HTTP/1: once bytes of a request arrive on an idle
 *                   connection, the headers must be complete within
 *                   --web.request-timeout (seen at the HTTP layer: a client
 *                   trickling one incomplete TLS record is bounded only by the
 *                   idle timeout, and only holders of a valid client
 *                   certificate get that far);
 *   header size     HTTP/1: a pending request larger than --web.max-header-bytes
 *                   is cut (complete requests are checked in http.c: 431);
 *   stalled         a response the client takes nothing of for --web.stall-timeout
 *                   (or the idle timeout, if shorter) ends its connection: an
 *                   HTTP/2 stream whose flow-control window stays 0, a TCP
 *                   window that stays full, bytes that stay in the kernel's send
 *                   queue. Parked responses cost no work, so --web.max-requests
 *                   counts only the responses clients are taking
 *                   (pex_requests_busy); the deadline bounds what they hold.
 *
 * A connection is ended through conn.c (pex_conn_shutdown(), pex_conn_reset()),
 * which knows how to make h2o close it; the connection limit is conn.c's too.
 */
#include <linux/sockios.h>
#include <sys/ioctl.h>

#include "conn.h"
#include "h2ointernals.h"
#include "requests.h"
#include "psu/clock.h"
#include "psu/log.h"
#include "server.h"
#include "stats.h"

#define SWEEP_MS 250
/* A response whose client took nothing for this long is parked: not counted
 * against --web.max-requests (a client taking a body takes a chunk every few
 * milliseconds; the loop itself may be busy for tens of them). */
#define PEX_PARK_MS 250
/* Stalled connections: at most one line a second. */
#define LOG_EVERY_NS 1000000000u

static struct pex_server *req_srv;

static uint64_t now_ms(struct pex_server *srv)
{
    return h2o_now(srv->loop);
}

/* Stalled responses are logged like refused handshakes: at most one line a second. */
static void log_stalled(struct pex_conn *c, double seconds, const char *what)
{
    static uint64_t last;
    static unsigned suppressed;
    uint64_t now = psu_clock_mono_ns();
    if (now - last < LOG_EVERY_NS) {
        suppressed++;
        return;
    }
    psu_log_warn("connection from [%s] closed: its client took no response data for %.1f s (%s; "
                 "--web.stall-timeout) (%u more stalled connections not logged)",
                 c->peer, seconds, what, suppressed);
    last = now;
    suppressed = 0;
}

void pex_inflight_start(struct pex_server *srv, struct pex_inflight *f, h2o_req_t *req,
                        struct pex_conn *c, int telemetry)
{
    memset(f, 0, sizeof *f);
    f->req = req;
    f->telemetry = telemetry;
    f->progress_ms = now_ms(srv);
    h2o_linklist_insert(&srv->requests.inflight_list, &f->all);
    srv->requests.inflight++;
    if (c) {
        f->conn = c;
        h2o_linklist_insert(&c->inflight_list, &f->on_conn);
        c->inflight++;
    }
}

void pex_inflight_progress(struct pex_server *srv, struct pex_inflight *f, int taken)
{
    f->handed = 1;
    f->taken |= taken;
    f->progress_ms = now_ms(srv);
    if (f->conn)
        f->conn->moved_ms = f->progress_ms;
}

void pex_inflight_end(struct pex_server *srv, struct pex_inflight *f)
{
    h2o_linklist_unlink(&f->all);
    srv->requests.inflight--;
    if (f->conn) {
        h2o_linklist_unlink(&f->on_conn);
        f->conn->inflight--;
        /* Its last bytes went to the kernel: from here the kernel queue shows
         * whether the client takes them (sweep_stalled). */
        f->conn->moved_ms = now_ms(srv);
    }
}

/* HTTP/2 sends a response as its client's window allows: each DATA frame let
 * out is progress too, finer than a whole chunk taken. (For HTTP/1 only
 * chunks count: pex_h2o_req_bytes_framed() is 0 there.) */
static void observe(struct pex_inflight *f, uint64_t now)
{
    uint64_t framed = pex_h2o_req_bytes_framed(f->req);
    if (framed > f->bytes_seen) {
        f->bytes_seen = framed;
        f->progress_ms = now;
        f->taken = 1;
        if (f->conn)
            f->conn->moved_ms = now;
    }
}

/* Parked: handed over, and its client has taken nothing for PEX_PARK_MS, or
 * its HTTP/2 stream waits for a window its client has never opened for it (a
 * client on a slow link waits for windows too, but it keeps taking data). */
static int parked(struct pex_inflight *f, uint64_t now)
{
    observe(f, now);
    return now - f->progress_ms >= PEX_PARK_MS || (!f->taken && pex_h2o_flow_blocked(f->req));
}

unsigned pex_requests_busy(struct pex_server *srv, unsigned *nparked)
{
    uint64_t now = now_ms(srv);
    unsigned busy = 0, idle = 0;
    for (h2o_linklist_t *l = srv->requests.inflight_list.next; l != &srv->requests.inflight_list;
         l = l->next) {
        struct pex_inflight *f = H2O_STRUCT_FROM_MEMBER(struct pex_inflight, all, l);
        if (!f->telemetry || !f->handed)
            continue;
        if (parked(f, now))
            idle++;
        else
            busy++;
    }
    if (nparked)
        *nparked = idle;
    return busy;
}

/* Ends a connection whose client takes no response data, with a reset, so
 * the kernel drops the bytes queued for a client that does not read instead
 * of keeping them in an orphaned socket. */
static void close_stalled(struct pex_server *srv, struct pex_conn *c, uint64_t idle_ms,
                          const char *what)
{
    srv->stats.closed[PEX_CLOSE_STALLED]++;
    log_stalled(c, (double)idle_ms / 1000.0, what);
    pex_conn_reset(c);
}

/*
 * The stall deadline: a response handed over that has not moved for the
 * deadline, or bytes in the kernel's send queue that the client has not
 * acknowledged for as long (a finished response the client never reads).
 * Returns 1 if @c was closed.
 */
static int sweep_stalled(struct pex_server *srv, struct pex_conn *c, uint64_t now)
{
    uint64_t limit = srv->cfg.stall_timeout_ms < srv->cfg.idle_timeout_ms
                         ? srv->cfg.stall_timeout_ms
                         : srv->cfg.idle_timeout_ms;
    for (h2o_linklist_t *l = c->inflight_list.next; l != &c->inflight_list; l = l->next) {
        struct pex_inflight *f = H2O_STRUCT_FROM_MEMBER(struct pex_inflight, on_conn, l);
        observe(f, now);
        if (f->handed && now - f->progress_ms >= limit) {
            close_stalled(srv, c, now - f->progress_ms,
                          pex_h2o_flow_blocked(f->req)
                              ? "HTTP/2 flow-control window 0"
                              : "response not taken: TCP window full or not read");
            return 1;
        }
    }
    int outq = 0;
    if (ioctl(h2o_socket_get_fd(c->sock), SIOCOUTQ, &outq) != 0 || outq <= 0) {
        c->outq_last = 0;
        return 0;
    }
    /* Acknowledged bytes leave the queue: a shorter queue is progress. */
    if (outq < c->outq_last)
        c->moved_ms = now;
    c->outq_last = outq;
    if (now - c->moved_ms >= limit) {
        close_stalled(srv, c, now - c->moved_ms, "bytes left unread in the send queue");
        return 1;
    }
    return 0;
}

static void sweep_one(struct pex_server *srv, struct pex_conn *c, uint64_t now)
{
    uint64_t tmo = srv->cfg.request_timeout_ms;
    if (c->shut)
        return;
    if (c->hs_done && sweep_stalled(srv, c, now))
        return;
    /* Refused by a reload: closed as soon as its responses are done. */
    if (c->revoked && !c->inflight) {
        srv->stats.closed[PEX_CLOSE_REVOKED]++;
        pex_conn_shutdown(c);
        return;
    }
    if (c->requests == 0) {
        if (now - c->accepted_ms >= tmo) {
            srv->stats.closed[PEX_CLOSE_FIRST_REQUEST]++;
            pex_conn_shutdown(c);
        }
        return;
    }
    /* HTTP/2 carries control frames between requests; its idle timeout and
     * stream limits apply instead (see README, limits). */
    if (c->http2 || c->inflight) {
        c->partial_ms = 0;
        return;
    }
    /* Decrypted bytes h2o holds but has not consumed: on an idle HTTP/1
     * connection (nothing in flight) they are the start of the next request. */
    size_t pending = pex_h2o_sock_unparsed(c->sock);
    if (pending == 0) {
        c->partial_ms = 0;
        return;
    }
    if (pending > srv->cfg.max_header_bytes) {
        srv->stats.closed[PEX_CLOSE_HEADER_SIZE]++;
        pex_conn_shutdown(c);
        return;
    }
    if (!c->partial_ms)
        c->partial_ms = now;
    else if (now - c->partial_ms >= tmo) {
        srv->stats.closed[PEX_CLOSE_HEADER_TIMEOUT]++;
        pex_conn_shutdown(c);
    }
}

static void on_sweep(h2o_timeout_entry_t *entry)
{
    struct pex_server *srv = req_srv;
    (void)entry;
    uint64_t now = now_ms(srv);
    for (h2o_linklist_t *l = srv->conns.list.next; l != &srv->conns.list; l = l->next)
        sweep_one(srv, H2O_STRUCT_FROM_MEMBER(struct pex_conn, link, l), now);
    h2o_timeout_link(srv->loop, &srv->requests.sweep_timeout, &srv->requests.sweep_entry);
}

void pex_requests_init(struct pex_server *srv)
{
    req_srv = srv;
    h2o_linklist_init_anchor(&srv->requests.inflight_list);
    h2o_timeout_init(srv->loop, &srv->requests.sweep_timeout, SWEEP_MS);
    srv->requests.sweep_entry = (h2o_timeout_entry_t){0};
    srv->requests.sweep_entry.cb = on_sweep;
    h2o_timeout_link(srv->loop, &srv->requests.sweep_timeout, &srv->requests.sweep_entry);
}

void pex_requests_dispose(struct pex_server *srv)
{
    h2o_timeout_unlink(&srv->requests.sweep_entry);
    h2o_timeout_dispose(srv->loop, &srv->requests.sweep_timeout);
}
