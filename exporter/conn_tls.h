/*
 * exporter/conn_tls.h - a connection as the TLS callbacks see it: an opaque
 * record they find from OpenSSL's handle and tell how its handshake goes.
 *
 * The record itself (conn.h) is h2o's business; the verify and info callbacks
 * (tls_verify.c) need only these functions, so they do not include h2o.
 */
#ifndef PEX_CONN_TLS_H
#define PEX_CONN_TLS_H

#include <openssl/ssl.h>

struct pex_conn;

/**
 * pex_conn_of_ssl - the tracked connection of an OpenSSL handle h2o created
 * @ssl: the handle
 *
 * Returns the connection, or NULL when @ssl is not one of a tracked connection.
 */
struct pex_conn *pex_conn_of_ssl(const SSL *ssl);

/**
 * pex_conn_in_handshake - is @c's TLS handshake still under way?
 * @c: the connection
 *
 * Returns 1 until pex_conn_handshake_done(), then 0.
 */
int pex_conn_in_handshake(const struct pex_conn *c);

/**
 * pex_conn_progress - note that @c moved: a handshake step, or a request
 * @c: the connection
 *
 * Also records that the client has sent TLS bytes. A connection that makes
 * progress is not evicted at the connection limit.
 */
void pex_conn_progress(struct pex_conn *c);

/**
 * pex_conn_handshake_done - @c's handshake completed with a verified client
 * @c: the connection
 * @ssl: its OpenSSL handle, kept so that a reload can judge the client again
 *
 * Counts the handshake (tls_handshakes_total) once; later calls do nothing.
 */
void pex_conn_handshake_done(struct pex_conn *c, SSL *ssl);

/**
 * pex_conn_refuse - give the reason @c's handshake is failing
 * @c: the connection, or NULL (nothing happens)
 * @reason: an enum pex_hs_reason
 *
 * The first reason given is kept: it is the cause, later ones its echoes. It
 * is counted and logged when the connection closes.
 */
void pex_conn_refuse(struct pex_conn *c, int reason);

#endif
