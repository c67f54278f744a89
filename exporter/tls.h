/*
 * exporter/tls.h - the TLS material the exporter serves: pre-flight checks and
 * SSL_CTX construction (tls.c, tls_preflight.c) and the checks of client
 * certificates, in the handshake and after a reload (tls_verify.c).
 *
 * An SSL_CTX is built whole and never changed after: a reload builds a new
 * one and swaps the pointer new connections use.
 */
#ifndef PEX_TLS_H
#define PEX_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>

#include "config.h"

/* The TLS material currently served; SSL_CTX ex_data points back at it. */
struct pex_tls {
    SSL_CTX *ctx;
    struct pex_allow_list sans; /* owned copy, used by the verify callback */
    double not_after;           /* server certificate, unix time */
    char subject[256];
    char serial[80];
};

/** pex_tls_init - register the OpenSSL ex_data index; call once before pex_tls_build() */
void pex_tls_init(void);

/**
 * pex_tls_build - pre-flight the TLS configuration and build a server SSL_CTX
 * @t: the configuration
 * @errs: receives one line per failure (pre-flight reports every failure)
 * @errlen: size of @errs
 *
 * Checks that the cert, key and CA exist, are regular readable files and
 * parse; that the key is not accessible by group or others and matches the
 * certificate; that the certificate is valid now and its key suits the
 * signature algorithms; then builds the context: TLS 1.3 only, the suites,
 * groups and signature algorithms, mandatory verified client certificates,
 * no session resumption, ALPN.
 * Returns the new material (its SSL_CTX at refcount 1), or NULL with @errs
 * filled.
 */
struct pex_tls *pex_tls_build(const struct pex_tls_config *t, char *errs, size_t errlen);

/**
 * pex_tls_free - drop the reference pex_tls_build() returned
 * @tls: the material (NULL: nothing)
 *
 * @tls and its SSL_CTX live on while connections accepted with it hold
 * references to the context.
 */
void pex_tls_free(struct pex_tls *tls);

/**
 * pex_tls_peer_allowed - would @tls accept the client certificate of @ssl now?
 * @tls: the (new) TLS material
 * @ssl: an established connection
 *
 * Verifies the peer's certificate and the chain it sent against @tls's CA store
 * and checks the SAN allow-list, as a new handshake would. Used after a reload,
 * so that a client the new material refuses does not keep its open connection.
 * Returns 1 if allowed, 0 if not.
 */
int pex_tls_peer_allowed(const struct pex_tls *tls, SSL *ssl);

/* pex_tls_leaf_check() verdict for a certificate the policy accepts. */
#define PEX_LEAF_OK (-1)

/**
 * pex_tls_leaf_check - does the client policy accept @leaf as a client's end-entity
 * certificate? (the chain and validity dates are OpenSSL's part)
 * @leaf: the client's leaf certificate
 * @sans: the SAN allow-list (NULL or empty: any SAN)
 *
 * The verify callback calls this for the leaf of every handshake, and so does a
 * reload's revalidation of open connections: a leaf must be an end entity
 * (not CA:TRUE), carry digitalSignature if it has a keyUsage extension (TLS 1.3
 * client authentication is a signature), carry clientAuth if it has an
 * extendedKeyUsage extension, have well-formed extensions, and carry a SAN of
 * the allow-list when there is one.
 * Returns PEX_LEAF_OK, or the enum pex_hs_reason that refuses it.
 */
int pex_tls_leaf_check(X509 *leaf, const struct pex_allow_list *sans);

#endif
