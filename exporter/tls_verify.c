/*
 * exporter/tls_verify.c - what the exporter makes of a client during the TLS
 * handshake, and again after a reload: the checks of its certificate beyond
 * OpenSSL's chain verification (end entity, key usages, SAN allow-list), and
 * the outcome of each handshake with the reason it failed, from the verify
 * callback's error or the fatal alert OpenSSL sent.
 *
 * The allow-list travels with the SSL_CTX (tls.c's ex_data), so a handshake is
 * always judged by the material of the context it started with. What the
 * callbacks learn goes to the connection through conn_tls.h, which is all
 * this file knows of connections (it needs no h2o).
 */
#include <arpa/inet.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <strings.h>

#include "conn_tls.h"
#include "stats.h"
#include "tls.h"
#include "tls_int.h"

static enum pex_hs_reason reason_of_verify_error(int e)
{
    switch (e) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return PEX_HS_CERT_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return PEX_HS_CERT_NOT_YET_VALID;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        return PEX_HS_UNKNOWN_CA;
    default:
        return PEX_HS_BAD_CERT;
    }
}

static enum pex_hs_reason reason_of_alert(int desc)
{
    switch (desc) {
    case SSL_AD_CERTIFICATE_REQUIRED:
        return PEX_HS_NO_CLIENT_CERT;
    case SSL_AD_UNKNOWN_CA:
        return PEX_HS_UNKNOWN_CA;
    case SSL_AD_CERTIFICATE_EXPIRED:
        return PEX_HS_CERT_EXPIRED;
    case SSL_AD_PROTOCOL_VERSION:
        return PEX_HS_PROTOCOL_VERSION;
    case SSL_AD_HANDSHAKE_FAILURE:
    case SSL_AD_INSUFFICIENT_SECURITY:
    case SSL_AD_ILLEGAL_PARAMETER:
    case SSL_AD_NO_APPLICATION_PROTOCOL:
        return PEX_HS_NO_SHARED_PARAMS;
    case SSL_AD_BAD_CERTIFICATE:
    case SSL_AD_UNSUPPORTED_CERTIFICATE:
    case SSL_AD_CERTIFICATE_UNKNOWN:
    case SSL_AD_DECRYPT_ERROR:
        return PEX_HS_BAD_CERT;
    default:
        return PEX_HS_OTHER;
    }
}

/* Handshake progress and outcome, told to the connection (conn_tls.h): every
 * step counts as progress, a fatal alert is the reason it failed. */
static void info_cb(const SSL *ssl, int where, int ret)
{
    struct pex_conn *c = pex_conn_of_ssl(ssl);
    if (!c || !pex_conn_in_handshake(c))
        return;
    pex_conn_progress(c);
    if (where & SSL_CB_HANDSHAKE_DONE) {
        pex_conn_handshake_done(c, (SSL *)ssl);
        return;
    }
    /* ret: level << 8 | description; level 2 is fatal. */
    if ((where & SSL_CB_ALERT) && (ret >> 8) == SSL3_AL_FATAL) {
        if (where & SSL_CB_WRITE)
            pex_conn_refuse(c, reason_of_alert(ret & 0xff));
        else
            pex_conn_refuse(c, PEX_HS_CLIENT_ALERT);
    }
}

/* The SAN type an allow-list entry names, from its syntax: an address is an IP
 * entry, anything with "://" a URI, anything else a DNS name. An entry matches
 * SANs of its own type only, so "scraper.example" never admits a certificate
 * whose only SAN is URI:scraper.example or email:scraper.example. */
static int entry_type(const char *e)
{
    unsigned char a[16];
    if (inet_pton(AF_INET6, e, a) == 1 || inet_pton(AF_INET, e, a) == 1)
        return GEN_IPADD;
    return strstr(e, "://") ? GEN_URI : GEN_DNS;
}

/* Exact match of one SAN against the allow-list: DNS names ignore case, IP
 * addresses compare as bytes, URIs as strings; e-mail SANs never match.
 * Lengths are compared first, so a name with an embedded NUL never matches. */
static int san_allowed(X509 *cert, const struct pex_allow_list *l)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    int ok = 0;
    for (int i = 0; names && !ok && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        const ASN1_STRING *s = NULL;
        if (g->type == GEN_DNS || g->type == GEN_URI)
            s = g->d.ia5;
        else if (g->type == GEN_IPADD)
            s = g->d.ip;
        if (!s)
            continue;
        const unsigned char *p = ASN1_STRING_get0_data(s);
        size_t len = (size_t)ASN1_STRING_length(s);
        for (unsigned k = 0; k < l->n && !ok; k++) {
            const char *e = l->entry[k];
            if (entry_type(e) != g->type)
                continue;
            if (g->type == GEN_IPADD) {
                unsigned char a[16];
                if (len == 16 && inet_pton(AF_INET6, e, a) == 1)
                    ok = memcmp(a, p, 16) == 0;
                else if (len == 4 && inet_pton(AF_INET, e, a) == 1)
                    ok = memcmp(a, p, 4) == 0;
            } else if (strlen(e) == len) {
                ok = g->type == GEN_DNS ? strncasecmp(e, (const char *)p, len) == 0
                                        : memcmp(e, p, len) == 0;
            }
        }
    }
    GENERAL_NAMES_free(names);
    return ok;
}

int pex_tls_leaf_check(X509 *leaf, const struct pex_allow_list *sans)
{
    /* X509_get_extension_flags() decodes and caches the extensions; a leaf whose
     * basicConstraints, keyUsage or extendedKeyUsage does not parse is refused
     * rather than read as "absent", which would lift the restriction. */
    uint32_t flags = X509_get_extension_flags(leaf);
    if (flags & EXFLAG_INVALID)
        return PEX_HS_BAD_CERT;
    /* A CA:TRUE leaf could sign certificates for others that chain to our CA. */
    if (flags & EXFLAG_CA)
        return PEX_HS_CERT_IS_CA;
    /* OpenSSL's sslclient purpose also admits keyAgreement alone, but a TLS 1.3
     * client proves its key with a signature (CertificateVerify). */
    if ((flags & EXFLAG_KUSAGE) && !(X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE))
        return PEX_HS_CERT_KEY_USAGE;
    if ((flags & EXFLAG_XKUSAGE) && !(X509_get_extended_key_usage(leaf) & XKU_SSL_CLIENT))
        return PEX_HS_CERT_EXT_KEY_USAGE;
    if (sans && sans->n && !san_allowed(leaf, sans))
        return PEX_HS_SAN_NOT_ALLOWED;
    return PEX_LEAF_OK;
}

int pex_tls_peer_allowed(const struct pex_tls *tls, SSL *ssl)
{
    X509 *peer = SSL_get0_peer_certificate(ssl);
    if (!peer)
        return 0;
    X509_STORE_CTX *xs = X509_STORE_CTX_new();
    int ok = xs &&
             X509_STORE_CTX_init(xs, SSL_CTX_get_cert_store(tls->ctx), peer,
                                 SSL_get_peer_cert_chain(ssl)) == 1 &&
             X509_STORE_CTX_set_purpose(xs, X509_PURPOSE_SSL_CLIENT) == 1 &&
             X509_verify_cert(xs) == 1;
    X509_STORE_CTX_free(xs);
    return ok && pex_tls_leaf_check(peer, &tls->sans) == PEX_LEAF_OK;
}

static int verify_cb(int preverify_ok, X509_STORE_CTX *xs)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct pex_conn *c = ssl ? pex_conn_of_ssl(ssl) : NULL;
    int depth = X509_STORE_CTX_get_error_depth(xs);
    const struct pex_tls *tls = ssl ? pex_tls_of_ctx(SSL_get_SSL_CTX(ssl)) : NULL;
    if (!preverify_ok) {
        int e = X509_STORE_CTX_get_error(xs);
        int r = reason_of_verify_error(e);
        /* OpenSSL's purpose check refuses some leaves we refuse too (keyUsage
         * without digitalSignature or keyAgreement, EKU without clientAuth): say
         * which rule, as our own check would. */
        if (e == X509_V_ERR_INVALID_PURPOSE && depth == 0) {
            int mine = pex_tls_leaf_check(X509_STORE_CTX_get_current_cert(xs), NULL);
            if (mine != PEX_LEAF_OK)
                r = mine;
        }
        pex_conn_refuse(c, r);
        return 0;
    }
    if (depth != 0 || !ssl)
        return 1;
    int r = pex_tls_leaf_check(X509_STORE_CTX_get_current_cert(xs), tls ? &tls->sans : NULL);
    if (r != PEX_LEAF_OK) {
        X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
        pex_conn_refuse(c, r);
        return 0;
    }
    return 1;
}

void pex_tls_verify_set(SSL_CTX *ctx)
{
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
    SSL_CTX_set_info_callback(ctx, info_cb);
}
