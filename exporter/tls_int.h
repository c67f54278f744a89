/*
 * exporter/tls_int.h - what the TLS files (tls.c, tls_preflight.c,
 * tls_verify.c) share and nothing else includes: the list of problems a
 * pre-flight reports, and the hooks one file gives the others.
 */
#ifndef PEX_TLS_INT_H
#define PEX_TLS_INT_H

#include <openssl/ssl.h>
#include <stddef.h>

#include "tls.h"

/*
 * Problems found so far, one line each, in the caller's buffer: the
 * pre-flight reports every problem rather than the first, so that an operator
 * fixes them in one go.
 */
struct pex_errs {
    char *p;
    size_t len, cap;
    unsigned n; /* lines added, including any cut short by a full buffer */
};

/**
 * pex_errs_add - add one line to @e
 * @e: the list
 * @fmt: printf format of the line (no newline)
 *
 * A line that does not fit is cut short; once the buffer is full, lines are
 * counted but not kept.
 */
void pex_errs_add(struct pex_errs *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/**
 * pex_ssl_err - OpenSSL's reason for the last failure, and clear its queue
 *
 * Returns a static string ("no detail from OpenSSL" when there is none).
 */
const char *pex_ssl_err(void);

/**
 * pex_tls_preflight - check the TLS files before any context is built
 * @e: receives one line per problem
 * @t: the configuration
 * @cert: receives the server's leaf certificate, or NULL (free with X509_free())
 * @key: receives the server's key, or NULL (free with EVP_PKEY_free())
 *
 * Cert, key and CA exist, are regular files the exporter can read and parse;
 * the key is accessible by its owner only, unencrypted, matches the
 * certificate and suits a configured signature algorithm; the certificate and
 * every CA certificate are valid now. Returns 0 when nothing was found, else -1.
 */
int pex_tls_preflight(struct pex_errs *e, const struct pex_tls_config *t, X509 **cert,
                      EVP_PKEY **key);

/**
 * pex_tls_verify_set - install the client-certificate verify callback and the
 * handshake info callback on @ctx
 * @ctx: a context being built
 */
void pex_tls_verify_set(SSL_CTX *ctx);

/**
 * pex_tls_of_ctx - the material an SSL_CTX of pex_tls_build() belongs to
 * @ctx: the context
 *
 * Returns it, or NULL for a context that did not come from pex_tls_build().
 */
const struct pex_tls *pex_tls_of_ctx(const SSL_CTX *ctx);

#endif
