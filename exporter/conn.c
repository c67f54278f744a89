/*
 * exporter/conn.c - the accepted connections: a record for each from accept
 * to h2o's close, the connection limit, and ending a connection from outside
 * h2o.
 *
 *   connections     at --web.max-connections, a new connection evicts one
 *                   that has not sent a request and is not making progress
 *                   (pick_victim): cheap for an attacker to open, never a
 *                   working scraper's keep-alive connection nor a handshake
 *                   under way. With nothing to evict the new connection is
 *                   still taken up to twice the limit; there, the oldest
 *                   connection without a request is evicted, and only when
 *                   every connection has sent a request is the new one refused.
 *   handshakes      each that does not complete is counted by reason when its
 *                   connection closes, and logged at most once a second.
 *   reloads         a connection whose client the new TLS material refuses is
 *                   closed once its responses are done.
 *
 * Closing a socket h2o owns would free it twice, so a connection is ended
 * through pex_h2o_sock_shutdown(): h2o's next read fails and h2o closes it
 * itself. Every reliance on h2o internals is in h2ointernals.c.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "conn.h"
#include "h2ointernals.h"
#include "requests.h"
#include "psu/clock.h"
#include "psu/log.h"
#include "server.h"
#include "stats.h"
#include "tls.h"

/* A handshake or first request that has not moved for this long may be evicted. */
#define EVICT_GRACE_MS 250
/* ... and one that never sent a byte, after this long. */
#define SILENT_GRACE_MS 100
/* Refused handshakes: at most one line a second. */
#define LOG_EVERY_NS 1000000000u

static struct pex_server *conn_srv;

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

static void on_conn_close(void *data)
{
    struct pex_conn *c = data;
    struct pex_server *srv = conn_srv;
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
    srv->conns.n--;
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

void pex_conn_reset(struct pex_conn *c)
{
    conn_end(c, 1);
}

void pex_conn_progress(struct pex_conn *c)
{
    c->tls_seen = 1;
    c->progress_ms = now_ms(conn_srv);
}

int pex_conn_in_handshake(const struct pex_conn *c)
{
    return !c->hs_done;
}

void pex_conn_handshake_done(struct pex_conn *c, SSL *ssl)
{
    if (c->hs_done)
        return;
    c->hs_done = 1;
    c->ssl = ssl;
    conn_srv->stats.hs_ok++;
}

void pex_conn_refuse(struct pex_conn *c, int reason)
{
    if (c && c->hs_reason < 0)
        c->hs_reason = reason;
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
    for (h2o_linklist_t *l = srv->conns.list.next; l != &srv->conns.list; l = l->next) {
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

struct pex_conn *pex_conn_accept(struct pex_server *srv, h2o_socket_t *sock)
{
    srv->stats.accepted++;
    if (srv->conns.draining) {
        h2o_socket_close(sock);
        return NULL;
    }
    /* Count live (not yet shut) connections against the limit. */
    if (srv->conns.n >= srv->cfg.max_connections) {
        unsigned live = 0;
        for (h2o_linklist_t *l = srv->conns.list.next; l != &srv->conns.list; l = l->next)
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
    h2o_linklist_insert(&srv->conns.list, &c->link);
    srv->conns.n++;
    return c;
}

unsigned pex_conns_revalidate(struct pex_server *srv)
{
    unsigned n = 0;
    for (h2o_linklist_t *l = srv->conns.list.next; l != &srv->conns.list; l = l->next) {
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

void pex_conns_shutdown(struct pex_server *srv)
{
    srv->conns.draining = 1;
    for (h2o_linklist_t *l = srv->conns.list.next; l != &srv->conns.list; l = l->next) {
        struct pex_conn *c = H2O_STRUCT_FROM_MEMBER(struct pex_conn, link, l);
        if (!c->hs_done && c->hs_reason < 0)
            c->hs_reason = PEX_HS_ABORTED;
        pex_conn_shutdown(c);
    }
}

void pex_conns_init(struct pex_server *srv)
{
    conn_srv = srv;
    h2o_linklist_init_anchor(&srv->conns.list);
    srv->conns.n = 0;
}
