/*
 * exporter/conn.h - the accepted connections (conn.c): one record from accept
 * to h2o's close, the connection limit and its eviction rule, and the ways a
 * connection is ended from outside h2o.
 *
 * The deadlines a connection is held to are requests.c's (requests.h); the TLS
 * callbacks see a connection through conn_tls.h only.
 */
#ifndef PEX_CONN_H
#define PEX_CONN_H

#include <h2o.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/time.h>

#include "conn_tls.h"

struct pex_server;

/* One accepted connection. Lives from accept to h2o's close of its socket. */
struct pex_conn {
    h2o_linklist_t link; /* in pex_conns.list, oldest first */
    h2o_socket_t *sock;
    SSL_CTX *ctx; /* reference held until close: h2o keeps a bare pointer (h2ointernals.c) */
    uint64_t accepted_ms;
    uint64_t requests;   /* requests dispatched to a handler */
    unsigned inflight;   /* responses not finished */
    uint64_t partial_ms; /* when bytes of an incomplete request were first seen; 0 none */
    int http2;
    int hs_done;
    int tls_seen;                 /* OpenSSL reported activity: the client sent TLS bytes */
    uint64_t progress_ms;         /* last handshake step or request */
    int hs_reason;                /* -1 none, else enum pex_hs_reason */
    int shut;                     /* we shut it down; h2o will close it */
    int revoked;                  /* close once its responses are done (reload) */
    SSL *ssl;                     /* set when the handshake completes */
    char peer[INET6_ADDRSTRLEN];  /* for logs: h2o closes the fd before telling us */
    h2o_linklist_t inflight_list; /* struct pex_inflight.on_conn */
    struct timeval connected_at;  /* for h2o's HTTP layers */
    uint64_t moved_ms;            /* last sign the client takes data (responses, kernel queue) */
    int outq_last;                /* bytes in the kernel send queue at the last sweep */
    /* h2ointernals.c's alone: */
    void (*_h2_read_expect)(void); /* h2o's HTTP/2 frame reader it wraps */
    int _h2_settings_sent;         /* the SETTINGS frame was rewritten */
};

/* Every open connection. */
struct pex_conns {
    h2o_linklist_t list; /* struct pex_conn.link, oldest first */
    unsigned n;
    int draining; /* shutting down: refuse new connections */
};

/**
 * pex_conns_init - start with no connection
 * @srv: the server; its configuration and statistics are used from here on
 */
void pex_conns_init(struct pex_server *srv);

/**
 * pex_conn_accept - account a new connection, evicting or refusing at the limit
 * @srv: the server
 * @sock: the accepted socket
 *
 * At --web.max-connections, a connection that has sent no request and is not
 * making progress is evicted for the new one; see conn.c for the rule.
 * Returns the connection, or NULL when it was refused (the socket is closed).
 */
struct pex_conn *pex_conn_accept(struct pex_server *srv, h2o_socket_t *sock);

/**
 * pex_conn_of_sock - the tracked connection of an h2o socket
 * @sock: the socket (may be NULL)
 *
 * Returns it, or NULL if @sock is not tracked.
 */
struct pex_conn *pex_conn_of_sock(h2o_socket_t *sock);

/**
 * pex_conn_of_req - the tracked connection a request arrived on
 * @req: the request
 *
 * Returns it, or NULL if unknown.
 */
struct pex_conn *pex_conn_of_req(h2o_req_t *req);

/**
 * pex_conn_shutdown - make h2o close a connection it owns
 * @c: the connection; a second call does nothing
 *
 * h2o closes it through its own path (pex_h2o_sock_shutdown()); until then it
 * stays in the list, marked shut.
 */
void pex_conn_shutdown(struct pex_conn *c);

/**
 * pex_conn_reset - pex_conn_shutdown() with a TCP reset
 * @c: the connection
 *
 * For a client that does not read: the kernel drops the bytes queued for it
 * instead of keeping them in an orphaned socket.
 */
void pex_conn_reset(struct pex_conn *c);

/**
 * pex_conns_revalidate - after a reload, mark the connections whose client the
 * new TLS material refuses; each is shut down once its responses are done
 * @srv: the server (srv->tls is the new material)
 *
 * Returns how many connections were marked.
 */
unsigned pex_conns_revalidate(struct pex_server *srv);

/**
 * pex_conns_shutdown - shut every connection down and accept no more (SIGTERM)
 * @srv: the server
 */
void pex_conns_shutdown(struct pex_server *srv);

#endif
