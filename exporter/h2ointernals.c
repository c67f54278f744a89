/*
 * exporter/h2ointernals.c - everything the exporter does that relies on h2o
 * 2.2.5's internals rather than its public API (h2ointernals.h says what each
 * function is for). Nothing else in exporter/ includes <h2o/http2_internal.h>,
 * reads a field of h2o_socket_t or h2o_conn_t, or counts on a behaviour of
 * h2o that its public API does not state. Below the version check, this
 * comment lists every such trick: what it relies on, and how an h2o upgrade
 * would break it (so what to check before building against another h2o).
 *
 *  1. The HTTP/2 stream limit (pex_h2o_accept, wrapped_expect). h2o 2.2.5 runs
 *     at most http2.max_concurrent_requests_per_connection (4 here) requests
 *     of a connection at once and queues the rest, yet advertises
 *     SETTINGS_MAX_CONCURRENT_STREAMS 100 (a constant frame, SETTINGS_HOST_BIN
 *     in lib/http2/connection.c) and only refuses streams beyond 100. The
 *     exporter therefore
 *       - accepts connections itself (pex_h2o_accept: h2o_accept() minus its
 *         handshake timer, which requests.c's first-request deadline replaces),
 *         so that it sees each HTTP/2 connection before h2o parses a byte of it;
 *       - wraps the connection's frame reader (h2o_http2_conn_t._read_expect,
 *         re-wrapped whenever h2o swaps it) to rewrite the value of
 *         MAX_CONCURRENT_STREAMS in the SETTINGS frame that h2o's preface
 *         reader has just put, alone, in _write.buf (it is sent when that read
 *         has been parsed), and after every frame to refuse with RST_STREAM
 *         REFUSED_STREAM the newest queued streams (_pending_reqs,
 *         num_streams.pull.open) beyond PEX_H2_MAX_STREAMS.
 *     Relied on: the layout of h2o_http2_conn_t and h2o_http2_stream_t in the
 *     installed header (compiled against, so a changed layout is picked up by
 *     a rebuild); the frame reader signature; h2o_http2_accept() parsing the
 *     socket's input only if it is non-empty, and leaving the connection in
 *     sock->data; SETTINGS being alone in _write.buf after the preface;
 *     h2o_http2_stream_reset() on a queued stream. A later h2o (2.3 has
 *     http2.max_streams and its own SETTINGS) makes all of this unnecessary:
 *     there, set the limit through the configuration and delete the wrapper.
 *     If the SETTINGS frame is not the one expected, nothing is rewritten and
 *     one WARN line says so (the refusal still applies).
 *
 *  2. Flow control (pex_h2o_flow_blocked): whether a stream's response data
 *     waits for a window, from h2o_http2_stream_t.output_window, _data and the
 *     connection's _write.window. A renamed field fails the build; a changed
 *     meaning would make requests.c count a zero-window stream as busy (it would
 *     hold a --web.max-requests slot until its stall deadline).
 *
 *  3. HTTP/2 progress (pex_h2o_req_bytes_framed): h2o_req_t.bytes_sent is
 *     public, but what it counts is not stated: 2.2.5's HTTP/2 adds each DATA
 *     frame as it frames it, HTTP/1 what it is handed. If an upgrade counted
 *     handed bytes for HTTP/2 too, a response trickling out through small
 *     windows would look parked after PEX_PARK_MS (requests.c) and be closed by
 *     the stall deadline while still moving.
 *
 *  4. Which connection an OpenSSL handle belongs to (pex_h2o_sock_of_ssl): h2o
 *     attaches each SSL to its socket through a BIO whose method is named
 *     "h2o_socket" and whose data (BIO_get_data) is the h2o_socket_t. Another
 *     name or data makes this return NULL: the TLS callbacks then find no
 *     connection, so handshakes are neither counted as completed nor given a
 *     failure reason (tests/exporter/tls.sh fails loudly).
 *
 *  5. The socket a request came on (pex_h2o_sock_of_req): h2o_conn_t's
 *     callbacks->get_socket, which 2.2.5's HTTP/1 and HTTP/2 connections both
 *     provide. A connection type without it gives NULL: its requests are
 *     answered but not tracked per connection (no stall deadline for them).
 *
 *  6. The socket's close callback (pex_h2o_sock_on_close_set/_data):
 *     h2o_socket_t.on_close is one slot, which 2.2.5 calls from
 *     h2o_socket_close() and never uses itself for accepted sockets (only its
 *     client-side socket pool does). An h2o that used it for server sockets
 *     would overwrite the exporter's record or have its own overwritten: grep
 *     an upgrade's lib/ for on_close before building.
 *
 *  7. Unparsed request bytes (pex_h2o_sock_unparsed): h2o_socket_t.input holds
 *     what was read and decrypted, and 2.2.5's HTTP/1 consumes a request from
 *     it only when its response is done, so on an idle connection its size is
 *     the start of the next request (the slowloris header deadline, requests.c).
 *     An h2o that consumed headers as it parsed them would hide a trickled
 *     request from the header deadline (then only the idle timeout bounds it).
 *
 *  8. Closing from outside (pex_h2o_sock_shutdown): shutdown(2), optionally
 *     after SO_LINGER 0, on h2o_socket_get_fd()'s descriptor. Relied on: the
 *     descriptor is the TCP socket itself (the evloop backend, not libuv), and
 *     every state of h2o's (handshake, HTTP/1, HTTP/2, idle or writing) treats
 *     the failed read or write that follows as a reason to close through its
 *     own path. An h2o that ignored a read error while writing would keep such
 *     a connection until its write fails or its timeout fires.
 *
 *  9. "After this iteration's I/O" (pex_h2o_defer): h2o_context_t.zero_timeout,
 *     the 0 ms timeout h2o itself uses for deferred work, whose entries run
 *     after the reads of the current h2o_evloop_run() pass. 2.3 replaced
 *     h2o_timeout_t with timer wheels: this fails to compile there, and the
 *     replacement is a 0 ms h2o_timer_t.
 *
 * 10. The SSL_CTX of a handshake (pex_h2o_accept): h2o_socket_ssl_handshake()
 *     keeps a bare pointer to the SSL_CTX until the handshake's first bytes
 *     arrive, so the connection holds a reference to it (released in
 *     conn.c's close callback) lest a reload free it first. Harmless if an
 *     upgrade took its own reference.
 *
 * The stand-in h2o-private/khash.h exists only so that the installed
 * http2_internal.h compiles (Debian does not ship the khash.h it includes).
 */
#include <sys/socket.h>

#include <h2o.h> /* first: the h2o headers below rely on it */
#include <h2o/version.h>

/* Every trick above was written against, and tested with, h2o 2.2.x. */
#if !defined(H2O_VERSION_MAJOR) || H2O_VERSION_MAJOR != 2 || H2O_VERSION_MINOR != 2
#error "h2o is not 2.2.x: check each trick listed in exporter/h2ointernals.c first"
#endif
/* The evloop backend: under libuv, descriptors and struct layouts differ. */
#if H2O_USE_LIBUV
#error "the exporter runs h2o's own event loop (libh2o-evloop): build with -DH2O_USE_LIBUV=0"
#endif

/* After the check, so that another h2o fails on the message above first. */
#include <h2o/http1.h>
#include <h2o/http2.h>
#include <h2o/http2_internal.h>

#include "conn.h"
#include "h2ointernals.h"
#include "psu/log.h"
#include "server.h"

typedef ssize_t (*expect_fn)(h2o_http2_conn_t *conn, const uint8_t *src, size_t len,
                             const char **err_desc);

static struct pex_server *h2i_srv;

static ssize_t wrapped_expect(h2o_http2_conn_t *conn, const uint8_t *src, size_t len,
                              const char **err_desc);

void pex_h2o_init(struct pex_server *srv)
{
    h2i_srv = srv;
}

/* Trick 4. */
h2o_socket_t *pex_h2o_sock_of_ssl(const SSL *ssl)
{
    BIO *b = SSL_get_rbio(ssl);
    if (!b || strcmp(BIO_method_name(b), "h2o_socket") != 0)
        return NULL;
    return BIO_get_data(b);
}

/* Trick 5. */
h2o_socket_t *pex_h2o_sock_of_req(h2o_req_t *req)
{
    if (!req->conn->callbacks->get_socket)
        return NULL;
    return req->conn->callbacks->get_socket(req->conn);
}

/* Trick 6. */
void pex_h2o_sock_on_close_set(h2o_socket_t *sock, void (*cb)(void *data), void *data)
{
    sock->on_close.cb = cb;
    sock->on_close.data = data;
}

void *pex_h2o_sock_on_close_data(h2o_socket_t *sock, void (*cb)(void *data))
{
    if (!sock || sock->on_close.cb != cb)
        return NULL;
    return sock->on_close.data;
}

/* Trick 7. */
size_t pex_h2o_sock_unparsed(h2o_socket_t *sock)
{
    return sock->input ? sock->input->size : 0;
}

/* Trick 8. */
void pex_h2o_sock_shutdown(h2o_socket_t *sock, int reset)
{
    int fd = h2o_socket_get_fd(sock);
    if (reset) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    shutdown(fd, SHUT_RDWR);
}

/* Trick 9. */
void pex_h2o_defer(h2o_context_t *ctx, h2o_timeout_entry_t *entry)
{
    h2o_timeout_link(ctx->loop, &ctx->zero_timeout, entry);
}

/* Trick 3. */
uint64_t pex_h2o_req_bytes_framed(h2o_req_t *req)
{
    return req->version >= 0x200 ? (uint64_t)req->bytes_sent : 0;
}

/* Rewrites MAX_CONCURRENT_STREAMS in the SETTINGS frame h2o's preface reader
 * has just put in the (otherwise empty) write buffer. */
static void advertise_stream_limit(h2o_http2_conn_t *conn)
{
    static int warned;
    h2o_buffer_t *b = conn->_write.buf;
    uint8_t *p = (uint8_t *)b->bytes;
    size_t n = b->size;
    if (n >= H2O_HTTP2_FRAME_HEADER_SIZE) {
        size_t flen = (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
        int is_settings =
            p[3] == H2O_HTTP2_FRAME_TYPE_SETTINGS && p[4] == 0 && (p[5] | p[6] | p[7] | p[8]) == 0;
        if (is_settings && flen == n - H2O_HTTP2_FRAME_HEADER_SIZE && flen % 6 == 0) {
            for (size_t off = H2O_HTTP2_FRAME_HEADER_SIZE; off < n; off += 6) {
                if ((p[off] << 8 | p[off + 1]) == H2O_HTTP2_SETTINGS_MAX_CONCURRENT_STREAMS) {
                    h2o_http2_encode32u(p + off + 2, PEX_H2_MAX_STREAMS);
                    return;
                }
            }
        }
    }
    if (!warned) {
        warned = 1;
        psu_log_warn("h2o's HTTP/2 SETTINGS frame is not the one this exporter was built for "
                     "(a different h2o?): clients are told h2o's own stream limit; streams "
                     "beyond %d per connection are still refused (see exporter/h2ointernals.c)",
                     PEX_H2_MAX_STREAMS);
    }
}

/* Refuses the newest queued streams beyond the advertised limit, as RFC 9113
 * 5.1.2 asks (REFUSED_STREAM: the client may retry them), instead of h2o's
 * queueing them up to 100. */
static void refuse_excess_streams(h2o_http2_conn_t *conn)
{
    while (conn->num_streams.pull.open > PEX_H2_MAX_STREAMS &&
           !h2o_linklist_is_empty(&conn->_pending_reqs)) {
        h2o_http2_stream_t *st =
            H2O_STRUCT_FROM_MEMBER(h2o_http2_stream_t, _refs.link, conn->_pending_reqs.prev);
        h2o_http2_encode_rst_stream_frame(&conn->_write.buf, st->stream_id,
                                          -H2O_HTTP2_ERROR_REFUSED_STREAM);
        h2o_http2_conn_request_write(conn);
        h2o_http2_stream_reset(conn, st);
        h2i_srv->stats.h2_refused++;
    }
}

static ssize_t wrapped_expect(h2o_http2_conn_t *conn, const uint8_t *src, size_t len,
                              const char **err_desc)
{
    struct pex_conn *c = pex_conn_of_sock(conn->sock);
    expect_fn inner = (expect_fn)c->_h2_read_expect;
    ssize_t ret = inner(conn, src, len, err_desc);
    /* h2o's parse loop reads conn after this returns, so conn is alive here. */
    if (conn->_read_expect != wrapped_expect) {
        c->_h2_read_expect = (void (*)(void))conn->_read_expect;
        conn->_read_expect = wrapped_expect;
    }
    if (ret < 0 || conn->state >= H2O_HTTP2_CONN_STATE_IS_CLOSING)
        return ret;
    if (!c->_h2_settings_sent && ret > 0) {
        /* The preface was consumed: h2o's SETTINGS frame waits in _write.buf. */
        c->_h2_settings_sent = 1;
        advertise_stream_limit(conn);
    }
    refuse_excess_streams(conn);
    return ret;
}

static void http2_start(h2o_socket_t *sock, struct pex_conn *c)
{
    /* Hide what arrived with the handshake, so that h2o_http2_accept() parses
     * nothing before the reader is wrapped; then hand it over as h2o would. */
    h2o_buffer_t *input = sock->input;
    h2o_buffer_init(&sock->input, &h2o_socket_buffer_prototype);
    h2o_http2_accept(&h2i_srv->accept_ctx, sock, c->connected_at);
    h2o_http2_conn_t *conn = sock->data;
    c->_h2_read_expect = (void (*)(void))conn->_read_expect;
    conn->_read_expect = wrapped_expect;
    h2o_buffer_dispose(&sock->input);
    sock->input = input;
    if (sock->input->size != 0)
        sock->_cb.read(sock, NULL);
}

static void on_handshake(h2o_socket_t *sock, const char *err)
{
    struct pex_conn *c = pex_conn_of_sock(sock);
    if (err != NULL || !c) {
        h2o_socket_close(sock);
        return;
    }
    h2o_iovec_t proto = h2o_socket_ssl_get_selected_protocol(sock);
    for (const h2o_iovec_t *id = h2o_http2_alpn_protocols; id->len != 0; id++) {
        if (proto.len == id->len && memcmp(proto.base, id->base, proto.len) == 0) {
            http2_start(sock, c);
            return;
        }
    }
    h2o_http1_accept(&h2i_srv->accept_ctx, sock, c->connected_at);
}

/* Tricks 1 (accepting ourselves) and 10 (the reference). */
void pex_h2o_accept(struct pex_server *srv, struct pex_conn *c)
{
    c->connected_at = *h2o_get_timestamp(&srv->ctx, NULL, NULL);
    c->ctx = srv->accept_ctx.ssl_ctx;
    SSL_CTX_up_ref(c->ctx);
    h2o_socket_ssl_handshake(c->sock, c->ctx, NULL, on_handshake);
}

/* Trick 2. */
int pex_h2o_flow_blocked(h2o_req_t *req)
{
    if (req->version < 0x200)
        return 0;
    h2o_http2_stream_t *st = H2O_STRUCT_FROM_MEMBER(h2o_http2_stream_t, req, req);
    h2o_http2_conn_t *conn = (h2o_http2_conn_t *)req->conn;
    return h2o_http2_stream_has_pending_data(st) &&
           (h2o_http2_window_get_window(&st->output_window) <= 0 ||
            h2o_http2_window_get_window(&conn->_write.window) <= 0);
}
