/*
 * exporter/limits.c - connection accounting and the deadlines h2o 2.2.5 lacks.
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
 *   connections     at --web.max-connections, a new connection evicts one
 *                   that has not sent a request and is not making progress
 *                   (pick_victim): cheap for an attacker to open, never a
 *                   working scraper's keep-alive connection nor a handshake
 *                   under way. With nothing to evict the new connection is
 *                   still taken up to twice the limit; there, the oldest
 *                   connection without a request is evicted, and only when
 *                   every connection has sent a request is the new one refused.
 *   stalled         a response the client takes nothing of for --web.stall-timeout
 *                   (or the idle timeout, if shorter) ends its connection: an
 *                   HTTP/2 stream whose flow-control window stays 0, a TCP
 *                   window that stays full, bytes that stay in the kernel's send
 *                   queue. Parked responses cost no work, so --web.max-requests
 *                   counts only the responses clients are taking
 *                   (pex_limits_busy_scrapes); the deadline bounds what they hold.
 *
 * Closing a socket h2o owns would free it twice, so a connection is ended
 * through pex_h2o_sock_shutdown(): h2o's next read fails and h2o closes it
 * itself. Every reliance on h2o internals is in h2ointernals.c.
 */
#include <arpa/inet.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "pex.h"
#include "psu/clock.h"
#include "psu/log.h"

#define SWEEP_MS 250
/* A handshake or first request that has not moved for this long may be evicted. */
#define EVICT_GRACE_MS 250
/* ... and one that never sent a byte, after this long. */
#define SILENT_GRACE_MS 100
/* A response whose client took nothing for this long is parked: not counted
 * against --web.max-requests (a client taking a body takes a chunk every few
 * milliseconds; the loop itself may be busy for tens of them). */
#define PEX_PARK_MS 250
/* Refused handshakes and stalled connections: at most one line a second each. */
#define LOG_EVERY_NS 1000000000u

static struct pex_server *lim_srv;

static uint64_t now_ms(struct pex_server *srv)
{
    return h2o_now(srv->loop);
}

/* Refused handshakes are logged at most once a second, with a count of those
 * left out, so a flood cannot flood the journal. */
static void log_hs_failure(struct pex_conn *c, int reason)
{
    static uint64_t last;
    static unsigned suppressed;
    uint64_t now = psu_clock_mono_ns();
    if (now - last < LOG_EVERY_NS) {
        suppressed++;
        return;
    }
    psu_log_warn("TLS handshake from [%s] refused: %s (%u more refusals not logged)", c->peer,
                 pex_hs_reason_text(reason), suppressed);
    last = now;
    suppressed = 0;
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

static void on_conn_close(void *data)
{
    struct pex_conn *c = data;
    struct pex_server *srv = lim_srv;
    /* Requests h2o has not disposed of yet forget their connection record. */
    while (!h2o_linklist_is_empty(&c->inflight_list)) {
        struct pex_inflight *f =
            H2O_STRUCT_FROM_MEMBER(struct pex_inflight, on_conn, c->inflight_list.next);
        h2o_linklist_unlink(&f->on_conn);
        f->conn = NULL;
    }
    if (!c->hs_done) {
        int r = c->hs_reason;
        if (r < 0)
            r = now_ms(srv) - c->accepted_ms + 50 >= srv->cfg.request_timeout_ms ? PEX_HS_TIMEOUT
                                                                                 : PEX_HS_ABORTED;
        srv->stats.hs_fail[r]++;
        log_hs_failure(c, r);
    }
    h2o_linklist_unlink(&c->link);
    srv->limits.nconns--;
    SSL_CTX_free(c->ctx);
    free(c);
}

struct pex_conn *pex_conn_of_sock(h2o_socket_t *sock)
{
    return pex_h2o_sock_on_close_data(sock, on_conn_close);
}

struct pex_conn *pex_conn_of_ssl(const SSL *ssl)
{
    return pex_conn_of_sock(pex_h2o_sock_of_ssl(ssl));
}

struct pex_conn *pex_conn_of_req(h2o_req_t *req)
{
    return pex_conn_of_sock(pex_h2o_sock_of_req(req));
}

void pex_inflight_start(struct pex_server *srv, struct pex_inflight *f, h2o_req_t *req,
                        struct pex_conn *c, int telemetry)
{
    memset(f, 0, sizeof *f);
    f->req = req;
    f->telemetry = telemetry;
    f->progress_ms = now_ms(srv);
    h2o_linklist_insert(&srv->limits.inflight_list, &f->all);
    srv->limits.inflight++;
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
    srv->limits.inflight--;
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

unsigned pex_limits_busy_scrapes(struct pex_server *srv, unsigned *nparked)
{
    uint64_t now = now_ms(srv);
    unsigned busy = 0, idle = 0;
    for (h2o_linklist_t *l = srv->limits.inflight_list.next; l != &srv->limits.inflight_list;
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

/* Ends @c through h2o's own close path; @reset: as a TCP reset. */
static void conn_end(struct pex_conn *c, int reset)
{
    if (c->shut)
        return;
    c->shut = 1;
    pex_h2o_sock_shutdown(c->sock, reset);
}

void pex_conn_shutdown(struct pex_conn *c)
{
    conn_end(c, 0);
}

void pex_conn_progress(struct pex_conn *c)
{
    c->tls_seen = 1;
    c->progress_ms = now_ms(lim_srv);
}

/*
 * The connection to evict for a new one, or NULL. Only connections that have
 * not sent a request are candidates, and among them first those that never
 * sent a TLS byte for SILENT_GRACE_MS (a real client sends its ClientHello
 * right after connecting), then those whose handshake or first request has not
 * moved for EVICT_GRACE_MS; the longest-stalled goes first. A connection with
 * bytes waiting in the kernel is skipped: the loop, not the client, is behind.
 * A client in the middle of a normal handshake makes progress every round
 * trip and is never chosen.
 */
static int kernel_has_bytes(struct pex_conn *c)
{
    int n = 0;
    return ioctl(h2o_socket_get_fd(c->sock), FIONREAD, &n) == 0 && n > 0;
}

static struct pex_conn *pick_victim(struct pex_server *srv, uint64_t silent_grace,
                                    uint64_t stalled_grace)
{
    uint64_t now = now_ms(srv);
    struct pex_conn *silent = NULL, *stalled = NULL;
    for (h2o_linklist_t *l = srv->limits.conns.next; l != &srv->limits.conns; l = l->next) {
        struct pex_conn *c = H2O_STRUCT_FROM_MEMBER(struct pex_conn, link, l);
        if (c->requests || c->shut)
            continue;
        /* Bytes the loop has not read yet (it may be busy): not stalled. */
        if (silent_grace && (now - c->progress_ms < silent_grace || kernel_has_bytes(c)))
            continue;
        if (!c->tls_seen) {
            if (!silent)
                silent = c; /* the list is oldest first */
        } else if (now - c->progress_ms >= stalled_grace &&
                   (!stalled || c->progress_ms < stalled->progress_ms)) {
            stalled = c;
        }
    }
    return silent ? silent : stalled;
}

struct pex_conn *pex_limits_accept(struct pex_server *srv, h2o_socket_t *sock)
{
    struct pex_limits *lim = &srv->limits;
    srv->stats.accepted++;
    if (lim->draining) {
        h2o_socket_close(sock);
        return NULL;
    }
    /* Count live (not yet shut) connections against the limit. */
    if (lim->nconns >= srv->cfg.max_connections) {
        unsigned live = 0;
        for (h2o_linklist_t *l = lim->conns.next; l != &lim->conns; l = l->next)
            live += !H2O_STRUCT_FROM_MEMBER(struct pex_conn, link, l)->shut;
        if (live >= srv->cfg.max_connections) {
            struct pex_conn *victim = pick_victim(srv, SILENT_GRACE_MS, EVICT_GRACE_MS);
            /* At the hard cap, judge faster, and failing that take the oldest
             * connection without a request: under a flood it is far more
             * likely an attacker's than the newcomer is. */
            if (!victim && live >= 2 * srv->cfg.max_connections)
                victim = pick_victim(srv, SILENT_GRACE_MS / 10, EVICT_GRACE_MS / 2);
            if (!victim && live >= 2 * srv->cfg.max_connections)
                victim = pick_victim(srv, 0, 0);
            if (victim) {
                srv->stats.closed[PEX_CLOSE_EVICTED]++;
                if (!victim->hs_done)
                    victim->hs_reason = PEX_HS_EVICTED;
                pex_conn_shutdown(victim);
            } else if (live >= 2 * srv->cfg.max_connections) {
                /* Nothing stalled to reclaim and the hard cap reached. */
                srv->stats.closed[PEX_CLOSE_LIMIT]++;
                h2o_socket_close(sock);
                return NULL;
            }
        }
    }
    struct pex_conn *c = calloc(1, sizeof *c);
    if (!c) {
        h2o_socket_close(sock);
        return NULL;
    }
    c->sock = sock;
    c->accepted_ms = now_ms(srv);
    c->progress_ms = c->accepted_ms;
    c->hs_reason = -1;
    c->moved_ms = c->accepted_ms;
    h2o_linklist_init_anchor(&c->inflight_list);
    struct sockaddr_in6 sa;
    strcpy(c->peer, "?");
    if (h2o_socket_getpeername(sock, (struct sockaddr *)&sa) >= sizeof sa &&
        sa.sin6_family == AF_INET6)
        inet_ntop(AF_INET6, &sa.sin6_addr, c->peer, sizeof c->peer);
    pex_h2o_sock_on_close_set(sock, on_conn_close, c);
    h2o_linklist_insert(&lim->conns, &c->link);
    lim->nconns++;
    return c;
}

unsigned pex_limits_revalidate(struct pex_server *srv)
{
    unsigned n = 0;
    for (h2o_linklist_t *l = srv->limits.conns.next; l != &srv->limits.conns; l = l->next) {
        struct pex_conn *c = H2O_STRUCT_FROM_MEMBER(struct pex_conn, link, l);
        if (c->shut || c->revoked || !c->hs_done || !c->ssl ||
            pex_tls_peer_allowed(srv->tls, c->ssl))
            continue;
        c->revoked = 1;
        n++;
        psu_log_info("connection from %s: the reloaded TLS material refuses its client "
                     "certificate; closing it",
                     c->peer);
        if (!c->inflight) {
            srv->stats.closed[PEX_CLOSE_REVOKED]++;
            pex_conn_shutdown(c);
        }
    }
    return n;
}

/* Ends a connection whose client takes no response data, with a reset, so
 * the kernel drops the bytes queued for a client that does not read instead
 * of keeping them in an orphaned socket. */
static void close_stalled(struct pex_server *srv, struct pex_conn *c, uint64_t idle_ms,
                          const char *what)
{
    srv->stats.closed[PEX_CLOSE_STALLED]++;
    log_stalled(c, (double)idle_ms / 1000.0, what);
    conn_end(c, 1);
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
    struct pex_server *srv = lim_srv;
    (void)entry;
    uint64_t now = now_ms(srv);
    for (h2o_linklist_t *l = srv->limits.conns.next; l != &srv->limits.conns; l = l->next)
        sweep_one(srv, H2O_STRUCT_FROM_MEMBER(struct pex_conn, link, l), now);
    h2o_timeout_link(srv->loop, &srv->limits.sweep_timeout, &srv->limits.sweep_entry);
}

void pex_limits_init(struct pex_server *srv)
{
    lim_srv = srv;
    h2o_linklist_init_anchor(&srv->limits.conns);
    h2o_linklist_init_anchor(&srv->limits.inflight_list);
    h2o_timeout_init(srv->loop, &srv->limits.sweep_timeout, SWEEP_MS);
    srv->limits.sweep_entry = (h2o_timeout_entry_t){0};
    srv->limits.sweep_entry.cb = on_sweep;
    h2o_timeout_link(srv->loop, &srv->limits.sweep_timeout, &srv->limits.sweep_entry);
}

void pex_limits_dispose(struct pex_server *srv)
{
    h2o_timeout_unlink(&srv->limits.sweep_entry);
    h2o_timeout_dispose(srv->loop, &srv->limits.sweep_timeout);
}

void pex_limits_shutdown_all(struct pex_server *srv)
{
    srv->limits.draining = 1;
    for (h2o_linklist_t *l = srv->limits.conns.next; l != &srv->limits.conns; l = l->next) {
        struct pex_conn *c = H2O_STRUCT_FROM_MEMBER(struct pex_conn, link, l);
        if (!c->hs_done && c->hs_reason < 0)
            c->hs_reason = PEX_HS_ABORTED;
        pex_conn_shutdown(c);
    }
}
