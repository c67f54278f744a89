/*
 * exporter/limits.c - connection accounting and the deadlines h2o 2.2.5 lacks.
 *
 * What h2o 2.2.5 offers: a TLS handshake timeout; for HTTP/1 one timer
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
 *
 * Closing a socket h2o owns would free it twice, so a connection is ended with
 * shutdown(2): h2o sees end-of-file on its next read and closes it itself.
 */
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "pex.h"

#define SWEEP_MS 250
/* A handshake or first request that has not moved for this long may be evicted. */
#define EVICT_GRACE_MS 250
/* ... and one that never sent a byte, after this long. */
#define SILENT_GRACE_MS 100

static struct pex_server *lim_srv;

static uint64_t now_ms(struct pex_server *srv)
{
    return h2o_now(srv->loop);
}

/* Refused handshakes are logged at most once a second, with a count of those
 * left out, so a flood cannot flood the journal. */
static void log_hs_failure(struct pex_conn *c, int reason)
{
    static double last;
    static unsigned suppressed;
    double now = pex_now_mono();
    if (now - last < 1.0) {
        suppressed++;
        return;
    }
    pex_log(PEX_LOG_WARN, "TLS handshake from [%s] refused: %s (%u more refusals not logged)",
            c->peer, pex_hs_reason_text(reason), suppressed);
    last = now;
    suppressed = 0;
}

static void on_conn_close(void *data)
{
    struct pex_conn *c = data;
    struct pex_server *srv = lim_srv;
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

struct pex_conn *pex_conn_of_ssl(const SSL *ssl)
{
    BIO *b = SSL_get_rbio(ssl);
    /* h2o wraps each socket in a BIO named "h2o_socket" whose data is the socket. */
    if (!b || strcmp(BIO_method_name(b), "h2o_socket") != 0)
        return NULL;
    h2o_socket_t *sock = BIO_get_data(b);
    if (!sock || sock->on_close.cb != on_conn_close)
        return NULL;
    return sock->on_close.data;
}

struct pex_conn *pex_conn_of_req(h2o_req_t *req)
{
    if (!req->conn->callbacks->get_socket)
        return NULL;
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (!sock || sock->on_close.cb != on_conn_close)
        return NULL;
    return sock->on_close.data;
}

void pex_conn_shutdown(struct pex_conn *c)
{
    if (c->shut)
        return;
    c->shut = 1;
    shutdown(h2o_socket_get_fd(c->sock), SHUT_RDWR);
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
    struct sockaddr_in6 sa;
    strcpy(c->peer, "?");
    if (h2o_socket_getpeername(sock, (struct sockaddr *)&sa) >= sizeof sa &&
        sa.sin6_family == AF_INET6)
        inet_ntop(AF_INET6, &sa.sin6_addr, c->peer, sizeof c->peer);
    c->ctx = srv->tls->ctx;
    SSL_CTX_up_ref(c->ctx);
    sock->on_close.cb = on_conn_close;
    sock->on_close.data = c;
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
        pex_log(PEX_LOG_INFO,
                "connection from %s: the reloaded TLS material refuses its client "
                "certificate; closing it",
                c->peer);
        if (!c->inflight) {
            srv->stats.closed[PEX_CLOSE_REVOKED]++;
            pex_conn_shutdown(c);
        }
    }
    return n;
}

static void sweep_one(struct pex_server *srv, struct pex_conn *c, uint64_t now)
{
    uint64_t tmo = srv->cfg.request_timeout_ms;
    if (c->shut)
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
    /* Decrypted bytes h2o holds but has not parsed into a request: HTTP/1
     * consumes a request when its response is done, so on an idle connection
     * (nothing in flight) anything here is the start of the next request. */
    size_t pending = c->sock->input ? c->sock->input->size : 0;
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
