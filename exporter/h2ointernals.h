/*
 * exporter/h2ointernals.h - the exporter's only door into h2o 2.2.5 internals.
 *
 * Each function here stands for one thing the exporter needs that h2o's public
 * API does not offer, or offers only through a field or behaviour h2o does not
 * promise to keep. What each relies on, and how an upgrade of h2o would break
 * it, is written at the top of h2ointernals.c, which also refuses to compile
 * against an h2o that is not 2.2.x. Everything else in exporter/ uses h2o's
 * public API only; a reviewer of an h2o upgrade reads that one file.
 */
#ifndef PEX_H2OINTERNALS_H
#define PEX_H2OINTERNALS_H

#include <h2o.h>
#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

struct pex_server;
struct pex_conn;

/* HTTP/2 streams per connection: run at once, advertised, and enforced. A
 * scraper needs one at a time; h2o's 100 would let one client park many
 * responses (each a full render) on one connection. */
#define PEX_H2_MAX_STREAMS 4

/**
 * pex_h2o_init - remember @srv for the callbacks of h2ointernals.c
 * @srv: the server; its accept context and statistics are used from here on
 */
void pex_h2o_init(struct pex_server *srv);

/**
 * pex_h2o_accept - start the TLS handshake of an accepted connection, then hand
 * it to h2o's HTTP/1 or HTTP/2 layer as h2o_accept() would, with the HTTP/2
 * stream limit applied
 * @srv: the server
 * @c: the connection, from pex_conn_accept(); takes a reference on the
 *     server's current SSL_CTX into @c->ctx (released when @c closes)
 */
void pex_h2o_accept(struct pex_server *srv, struct pex_conn *c);

/**
 * pex_h2o_flow_blocked - does @req's HTTP/2 response data wait for a window?
 * @req: the request
 *
 * Returns 1 if its stream or its connection has a flow-control window of 0 or
 * less and data to send, else 0 (always 0 for HTTP/1).
 */
int pex_h2o_flow_blocked(h2o_req_t *req);

/**
 * pex_h2o_req_bytes_framed - response bytes of @req that HTTP/2 has framed
 * @req: the request
 *
 * HTTP/2 sends a response as the client's windows allow, and each DATA frame
 * let out is progress even when the chunk h2o was handed is not yet taken.
 * Returns that count for HTTP/2, or 0 for HTTP/1 (where only whole chunks
 * taken tell progress).
 */
uint64_t pex_h2o_req_bytes_framed(h2o_req_t *req);

/**
 * pex_h2o_sock_of_ssl - the h2o socket an OpenSSL handle of h2o's belongs to
 * @ssl: a handle h2o created for one of its sockets
 *
 * Returns the socket, or NULL if @ssl is not attached to an h2o socket.
 */
h2o_socket_t *pex_h2o_sock_of_ssl(const SSL *ssl);

/**
 * pex_h2o_sock_of_req - the socket a request arrived on
 * @req: the request
 *
 * Returns the socket, or NULL when the connection type has none.
 */
h2o_socket_t *pex_h2o_sock_of_req(h2o_req_t *req);

/**
 * pex_h2o_sock_on_close_set - be called when h2o disposes of @sock
 * @sock: an accepted socket
 * @cb: the callback; it runs once, after h2o closed the descriptor
 * @data: its argument
 *
 * The socket has one such slot; the exporter uses it for its connection record.
 */
void pex_h2o_sock_on_close_set(h2o_socket_t *sock, void (*cb)(void *data), void *data);

/**
 * pex_h2o_sock_on_close_data - what pex_h2o_sock_on_close_set() attached with @cb
 * @sock: a socket (may be NULL)
 * @cb: the callback expected in the slot
 *
 * Returns the data, or NULL when @sock is NULL or its slot holds another callback.
 */
void *pex_h2o_sock_on_close_data(h2o_socket_t *sock, void (*cb)(void *data));

/**
 * pex_h2o_sock_unparsed - decrypted bytes h2o has read from @sock but not consumed
 * @sock: the socket
 *
 * On an HTTP/1 connection with no request in flight, that is the start of the
 * next request. Returns the count (0 when there is no input buffer).
 */
size_t pex_h2o_sock_unparsed(h2o_socket_t *sock);

/**
 * pex_h2o_sock_shutdown - make h2o close a socket it owns, from outside h2o
 * @sock: the socket
 * @reset: 1 to make the close a TCP reset (SO_LINGER 0), so the kernel drops
 *         bytes queued for a client that does not read them
 *
 * h2o owns the socket (and, during the handshake, private state attached to
 * it), so closing it from outside would free it twice; after this call h2o's
 * next read or write fails and h2o closes it through its own path.
 */
void pex_h2o_sock_shutdown(h2o_socket_t *sock, int reset);

/**
 * pex_h2o_defer - run @entry's callback once the current loop iteration has
 * done its I/O
 * @ctx: the context of the loop
 * @entry: an unlinked timeout entry with its callback set
 *
 * For work that should see everything this iteration read (the scrapes that
 * arrived together), done before the loop waits again.
 */
void pex_h2o_defer(h2o_context_t *ctx, h2o_timeout_entry_t *entry);

#endif
