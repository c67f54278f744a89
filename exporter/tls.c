/*
 * exporter/tls.c - the TLS policy, and the SSL_CTX built to enforce it once
 * the pre-flight (tls_preflight.c) has passed. The client certificate checks
 * and handshake outcomes are tls_verify.c's.
 *
 * Policy (defaults; each list is configurable but stays inside TLS 1.3):
 *   protocol            TLS 1.3 only (min = max = TLS1_3_VERSION)
 *   cipher suite        TLS_AES_256_GCM_SHA384
 *   key exchange group  P-384 (secp384r1)
 *   signatures          ecdsa_secp384r1_sha384, for the server's CertificateVerify
 *                       and for the one the client must send
 *   client certificate  mandatory, verified against the configured CA, purpose
 *                       sslclient, optionally one SAN from an allow-list
 *   resumption          off: no tickets, no session cache. A resumed session
 *                       would skip the certificate check, and so outlive a
 *                       reload that removed the client from the CA or allow-list.
 *
 * An SSL_CTX is built whole (pex_tls_build) and never changed after: a reload
 * builds a new one and swaps the pointer new connections use. The allow-list
 * travels with the context in its ex_data, so a handshake is always judged by
 * the material of the context it started with. Each connection holds a
 * reference on its context (h2ointernals.c, trick 10): h2o keeps a bare
 * pointer to it until the handshake's first bytes arrive.
 */
#include <h2o.h> /* ALPN: h2o_ssl_register_alpn_protocols(), public API */
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pex.h"
#include "tls.h"
#include "tls_int.h"

static int tls_idx = -1;

static const h2o_iovec_t alpn_http1_only[] = {{H2O_STRLIT("http/1.1")}, {NULL, 0}};

static void tls_exdata_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                            void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    struct pex_tls *tls = ptr;
    if (!tls)
        return;
    for (unsigned i = 0; i < tls->sans.n; i++)
        free(tls->sans.entry[i]);
    free(tls);
}

void pex_tls_init(void)
{
    if (tls_idx < 0)
        tls_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, tls_exdata_free);
}

void pex_tls_free(struct pex_tls *tls)
{
    if (tls)
        SSL_CTX_free(tls->ctx); /* the ex_data destructor frees @tls with the last reference */
}

const struct pex_tls *pex_tls_of_ctx(const SSL_CTX *ctx)
{
    return SSL_CTX_get_ex_data(ctx, tls_idx);
}

static double asn1_unix(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return (double)timegm(&tm);
}

static SSL_CTX *build_ctx(struct pex_errs *e, const struct pex_tls_config *t)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        pex_errs_add(e, "cannot create a TLS context: %s", pex_ssl_err());
        return NULL;
    }
    /* Security level 3 (>= 128-bit) refuses weak keys anywhere in a chain. */
    SSL_CTX_set_security_level(ctx, 3);
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
        !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION))
        pex_errs_add(e, "this OpenSSL cannot restrict the protocol to TLS 1.3: %s", pex_ssl_err());
    if (!SSL_CTX_set_ciphersuites(ctx, t->cipher_suites))
        pex_errs_add(e, "cipher suites '%s': not TLS 1.3 suites this OpenSSL (%s) knows: %s",
                     t->cipher_suites, OpenSSL_version(OPENSSL_VERSION), pex_ssl_err());
    if (!SSL_CTX_set1_groups_list(ctx, t->groups))
        pex_errs_add(
            e,
            "groups '%s': not groups this OpenSSL (%s) supports (e.g. P-384, P-521, X25519; "
            "post-quantum hybrids need a newer OpenSSL): %s",
            t->groups, OpenSSL_version(OPENSSL_VERSION), pex_ssl_err());
    if (!SSL_CTX_set1_sigalgs_list(ctx, t->sigalgs) ||
        !SSL_CTX_set1_client_sigalgs_list(ctx, t->sigalgs))
        pex_errs_add(e, "signature algorithms '%s': not accepted by OpenSSL: %s", t->sigalgs,
                     pex_ssl_err());
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    /* Resumption is off; the id context is set anyway, as OpenSSL requires with
     * client authentication should a session ever be offered. */
    static const unsigned char sid_ctx[] = PEX_NAME;
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
    if (SSL_CTX_use_certificate_chain_file(ctx, t->cert_file) != 1)
        pex_errs_add(e, "server certificate '%s': cannot be used: %s", t->cert_file, pex_ssl_err());
    else if (SSL_CTX_use_PrivateKey_file(ctx, t->key_file, SSL_FILETYPE_PEM) != 1)
        pex_errs_add(e, "server key '%s': cannot be used with the certificate: %s", t->key_file,
                     pex_ssl_err());
    else if (SSL_CTX_check_private_key(ctx) != 1)
        pex_errs_add(e, "server key '%s' does not match the certificate '%s'", t->key_file,
                     t->cert_file);
    if (SSL_CTX_load_verify_locations(ctx, t->ca_file, NULL) != 1)
        pex_errs_add(e, "client CA '%s': cannot be loaded: %s", t->ca_file, pex_ssl_err());
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(t->ca_file);
    if (names)
        SSL_CTX_set_client_CA_list(ctx, names);
    /* Mandatory client certificates (tls_verify.c judges them). */
    pex_tls_verify_set(ctx);
    SSL_CTX_set_verify_depth(ctx, 4);
    SSL_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
    h2o_ssl_register_alpn_protocols(ctx, t->http2 ? h2o_http2_alpn_protocols : alpn_http1_only);
    return ctx;
}

struct pex_tls *pex_tls_build(const struct pex_tls_config *t, char *errbuf, size_t errlen)
{
    struct pex_errs e = {.p = errbuf, .cap = errlen};
    errbuf[0] = '\0';
    ERR_clear_error();
    X509 *cert;
    EVP_PKEY *key;
    pex_tls_preflight(&e, t, &cert, &key);
    struct pex_tls *tls = NULL;
    SSL_CTX *ctx = NULL;
    if (e.n == 0)
        ctx = build_ctx(&e, t);
    if (e.n == 0) {
        tls = calloc(1, sizeof *tls);
        if (!tls)
            pex_errs_add(&e, "out of memory");
    }
    for (unsigned i = 0; tls && i < t->allowed_sans.n; i++) {
        if (!(tls->sans.entry[i] = strdup(t->allowed_sans.entry[i]))) {
            pex_errs_add(&e, "out of memory");
            break;
        }
        tls->sans.n++;
    }
    if (e.n == 0 && SSL_CTX_set_ex_data(ctx, tls_idx, tls) != 1)
        pex_errs_add(&e, "cannot attach the policy to the TLS context: %s", pex_ssl_err());
    if (e.n) {
        if (tls && SSL_CTX_get_ex_data(ctx, tls_idx) != tls)
            tls_exdata_free(NULL, tls, NULL, 0, 0, NULL);
        SSL_CTX_free(ctx);
        tls = NULL;
    } else {
        tls->ctx = ctx;
        tls->not_after = asn1_unix(X509_get0_notAfter(cert));
        X509_NAME_oneline(X509_get_subject_name(cert), tls->subject, sizeof tls->subject);
        BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
        char *hex = bn ? BN_bn2hex(bn) : NULL;
        snprintf(tls->serial, sizeof tls->serial, "%s", hex ? hex : "?");
        OPENSSL_free(hex);
        BN_free(bn);
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    ERR_clear_error();
    return tls;
}
