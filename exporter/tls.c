/*
 * exporter/tls.c - the TLS policy, the pre-flight checks, and the client
 * certificate checks done during each handshake.
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
 * reference on its context (limits.c): h2o keeps a bare pointer to it until
 * the handshake's first bytes arrive.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pex.h"

static int tls_idx = -1;
static struct pex_stats *tls_stats;

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

void pex_tls_init(struct pex_stats *stats)
{
    tls_stats = stats;
    if (tls_idx < 0)
        tls_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, tls_exdata_free);
}

void pex_tls_free(struct pex_tls *tls)
{
    if (tls)
        SSL_CTX_free(tls->ctx); /* the ex_data destructor frees @tls with the last reference */
}

/* ---- handshake outcome ------------------------------------------------------ */

static const char *const reason_text[PEX_HS_NREASONS] = {
    [PEX_HS_NO_CLIENT_CERT] = "no client certificate",
    [PEX_HS_UNKNOWN_CA] = "client certificate not issued by the configured CA",
    [PEX_HS_CERT_EXPIRED] = "client certificate expired",
    [PEX_HS_CERT_NOT_YET_VALID] = "client certificate not yet valid",
    [PEX_HS_SAN_NOT_ALLOWED] = "client certificate SAN not in client_allowed_sans",
    [PEX_HS_CERT_IS_CA] = "client certificate is a CA certificate (CA:TRUE), not an end entity",
    [PEX_HS_CERT_KEY_USAGE] = "client certificate keyUsage lacks digitalSignature",
    [PEX_HS_CERT_EXT_KEY_USAGE] = "client certificate extendedKeyUsage lacks clientAuth",
    [PEX_HS_BAD_CERT] = "client certificate rejected",
    [PEX_HS_PROTOCOL_VERSION] = "client does not offer TLS 1.3",
    [PEX_HS_NO_SHARED_PARAMS] = "no shared cipher suite, group or signature algorithm",
    [PEX_HS_CLIENT_ALERT] = "client aborted the handshake with an alert",
    [PEX_HS_TIMEOUT] = "handshake timed out",
    [PEX_HS_EVICTED] = "evicted at the connection limit",
    [PEX_HS_ABORTED] = "connection closed during the handshake",
    [PEX_HS_OTHER] = "handshake failed",
};

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

const char *pex_hs_reason_text(int r)
{
    return r >= 0 && r < PEX_HS_NREASONS ? reason_text[r] : "unknown";
}

static void set_reason(struct pex_conn *c, enum pex_hs_reason r)
{
    if (c && c->hs_reason < 0)
        c->hs_reason = (int)r;
}

static void info_cb(const SSL *ssl, int where, int ret)
{
    struct pex_conn *c = pex_conn_of_ssl(ssl);
    if (!c)
        return;
    if (!c->hs_done)
        pex_conn_progress(c);
    if ((where & SSL_CB_HANDSHAKE_DONE) && !c->hs_done) {
        c->hs_done = 1;
        c->ssl = (SSL *)ssl;
        tls_stats->hs_ok++;
    }
    /* ret: level << 8 | description; level 2 is fatal. */
    if ((where & SSL_CB_ALERT) && (ret >> 8) == SSL3_AL_FATAL && !c->hs_done) {
        if (where & SSL_CB_WRITE)
            set_reason(c, reason_of_alert(ret & 0xff));
        else
            set_reason(c, PEX_HS_CLIENT_ALERT);
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
    const struct pex_tls *tls = ssl ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), tls_idx) : NULL;
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
        set_reason(c, (enum pex_hs_reason)r);
        return 0;
    }
    if (depth != 0 || !ssl)
        return 1;
    int r = pex_tls_leaf_check(X509_STORE_CTX_get_current_cert(xs), tls ? &tls->sans : NULL);
    if (r != PEX_LEAF_OK) {
        X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
        set_reason(c, (enum pex_hs_reason)r);
        return 0;
    }
    return 1;
}

/* ---- pre-flight ---------------------------------------------------------------- */

struct errs {
    char *p;
    size_t len, cap;
    unsigned n;
};

static void add_err(struct errs *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add_err(struct errs *e, const char *fmt, ...)
{
    if (e->len + 2 >= e->cap)
        return;
    if (e->len)
        e->p[e->len++] = '\n';
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->p + e->len, e->cap - e->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        e->len += (size_t)n < e->cap - e->len ? (size_t)n : e->cap - e->len - 1;
    e->n++;
}

static const char *ssl_err(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return r ? r : "no detail from OpenSSL";
}

/* Exists, is a regular file, can be opened: returns an open FILE or NULL. */
static FILE *open_checked(struct errs *e, const char *what, const char *src, const char *path,
                          struct stat *st)
{
    if (stat(path, st) != 0) {
        add_err(e, "%s '%s' (from %s): %s", what, path, src,
                errno == ENOENT ? "does not exist" : strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st->st_mode)) {
        add_err(e, "%s '%s' (from %s): not a regular file", what, path, src);
        return NULL;
    }
    FILE *f = fopen(path, "r");
    if (!f)
        add_err(e, "%s '%s' (from %s): cannot be read by uid %u: %s", what, path, src,
                (unsigned)geteuid(), strerror(errno));
    return f;
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

/* Key type a TLS 1.3 signature algorithm needs: "EC P-384", "RSA", ... */
static const char *sigalg_key(const char *alg)
{
    static const char *const map[][2] = {
        {"ecdsa_secp256r1_sha256", "EC P-256"},
        {"ecdsa_secp384r1_sha384", "EC P-384"},
        {"ecdsa_secp521r1_sha512", "EC P-521"},
        {"rsa_pss_rsae_sha256", "RSA"},
        {"rsa_pss_rsae_sha384", "RSA"},
        {"rsa_pss_rsae_sha512", "RSA"},
        {"rsa_pss_pss_sha256", "RSA-PSS"},
        {"rsa_pss_pss_sha384", "RSA-PSS"},
        {"rsa_pss_pss_sha512", "RSA-PSS"},
        {"ed25519", "ED25519"},
        {"ed448", "ED448"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(alg, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

static void key_type(EVP_PKEY *k, char *out, size_t len)
{
    char group[64] = "";
    size_t glen = 0;
    if (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC &&
        EVP_PKEY_get_group_name(k, group, sizeof group, &glen) == 1) {
        int nid = OBJ_sn2nid(group);
        const char *nist = nid != NID_undef ? EC_curve_nid2nist(nid) : NULL;
        snprintf(out, len, "EC %s", nist ? nist : group);
    } else if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA) {
        snprintf(out, len, "RSA");
    } else if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA_PSS) {
        snprintf(out, len, "RSA-PSS");
    } else {
        snprintf(out, len, "%s", OBJ_nid2sn(EVP_PKEY_get_base_id(k)));
    }
}

static void check_key_fits_sigalgs(struct errs *e, EVP_PKEY *k, const char *sigalgs)
{
    char have[80], want[256] = "", list[512];
    key_type(k, have, sizeof have);
    snprintf(list, sizeof list, "%s", sigalgs);
    int fits = 0;
    for (char *save = NULL, *a = strtok_r(list, ":", &save); a; a = strtok_r(NULL, ":", &save)) {
        const char *need = sigalg_key(a);
        if (!need) {
            add_err(e,
                    "signature algorithms: '%s' is not a TLS 1.3 signature scheme (expected "
                    "e.g. ecdsa_secp384r1_sha384)",
                    a);
            return;
        }
        fits |= strcmp(need, have) == 0;
        if (!strstr(want, need) && strlen(want) + strlen(need) + 3 < sizeof want)
            strcat(strcat(want, *want ? ", " : ""), need);
    }
    if (!fits)
        add_err(e,
                "server key is %s, which none of the signature algorithms '%s' can use; "
                "expected a key of type %s",
                have, sigalgs, want);
}

static double asn1_unix(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return (double)timegm(&tm);
}

static void check_validity(struct errs *e, const char *what, const char *path, X509 *x)
{
    if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
        add_err(e, "%s '%s' is not valid yet (notBefore is in the future)", what, path);
    if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
        add_err(e, "%s '%s' has expired (notAfter is in the past)", what, path);
}

/* Server certificate: parses, valid now. Returns the leaf or NULL. */
static X509 *check_cert(struct errs *e, const struct pex_tls_config *t)
{
    struct stat st;
    FILE *f = open_checked(e, "server certificate", t->cert_src, t->cert_file, &st);
    if (!f)
        return NULL;
    X509 *x = PEM_read_X509(f, NULL, no_passphrase, NULL);
    fclose(f);
    if (!x) {
        add_err(e, "server certificate '%s': not a PEM certificate: %s", t->cert_file, ssl_err());
        return NULL;
    }
    check_validity(e, "server certificate", t->cert_file, x);
    return x;
}

/* Server key: owner-only mode, parses, no passphrase. Returns the key or NULL. */
static EVP_PKEY *check_key(struct errs *e, const struct pex_tls_config *t)
{
    struct stat st;
    FILE *f = open_checked(e, "server key", t->key_src, t->key_file, &st);
    if (!f)
        return NULL;
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        add_err(e,
                "server key '%s' has mode %04o: group or others may access it; expected 0600 "
                "or 0400 (chmod 600 '%s')",
                t->key_file, (unsigned)(st.st_mode & 07777), t->key_file);
        fclose(f);
        return NULL;
    }
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
    fclose(f);
    if (!k)
        add_err(e, "server key '%s': not an unencrypted PEM private key: %s", t->key_file,
                ssl_err());
    return k;
}

/* CA file: at least one certificate, each a CA and valid now. */
static int check_ca(struct errs *e, const struct pex_tls_config *t)
{
    struct stat st;
    FILE *f = open_checked(e, "client CA", t->ca_src, t->ca_file, &st);
    if (!f)
        return -1;
    unsigned n = 0, before = e->n;
    X509 *x;
    while ((x = PEM_read_X509(f, NULL, no_passphrase, NULL)) != NULL) {
        n++;
        if (X509_check_ca(x) < 1)
            add_err(e, "client CA '%s': certificate %u is not a CA certificate", t->ca_file, n);
        check_validity(e, "client CA certificate in", t->ca_file, x);
        X509_free(x);
    }
    ERR_clear_error();
    fclose(f);
    if (n == 0)
        add_err(e, "client CA '%s': holds no PEM certificate", t->ca_file);
    return e->n == before ? 0 : -1;
}

static SSL_CTX *build_ctx(struct errs *e, const struct pex_tls_config *t)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        add_err(e, "cannot create a TLS context: %s", ssl_err());
        return NULL;
    }
    /* Security level 3 (>= 128-bit) refuses weak keys anywhere in a chain. */
    SSL_CTX_set_security_level(ctx, 3);
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
        !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION))
        add_err(e, "this OpenSSL cannot restrict the protocol to TLS 1.3: %s", ssl_err());
    if (!SSL_CTX_set_ciphersuites(ctx, t->cipher_suites))
        add_err(e, "cipher suites '%s': not TLS 1.3 suites this OpenSSL (%s) knows: %s",
                t->cipher_suites, OpenSSL_version(OPENSSL_VERSION), ssl_err());
    if (!SSL_CTX_set1_groups_list(ctx, t->groups))
        add_err(e,
                "groups '%s': not groups this OpenSSL (%s) supports (e.g. P-384, P-521, X25519; "
                "post-quantum hybrids need a newer OpenSSL): %s",
                t->groups, OpenSSL_version(OPENSSL_VERSION), ssl_err());
    if (!SSL_CTX_set1_sigalgs_list(ctx, t->sigalgs) ||
        !SSL_CTX_set1_client_sigalgs_list(ctx, t->sigalgs))
        add_err(e, "signature algorithms '%s': not accepted by OpenSSL: %s", t->sigalgs, ssl_err());
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    /* Resumption is off; the id context is set anyway, as OpenSSL requires with
     * client authentication should a session ever be offered. */
    static const unsigned char sid_ctx[] = PEX_NAME;
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
    if (SSL_CTX_use_certificate_chain_file(ctx, t->cert_file) != 1)
        add_err(e, "server certificate '%s': cannot be used: %s", t->cert_file, ssl_err());
    else if (SSL_CTX_use_PrivateKey_file(ctx, t->key_file, SSL_FILETYPE_PEM) != 1)
        add_err(e, "server key '%s': cannot be used with the certificate: %s", t->key_file,
                ssl_err());
    else if (SSL_CTX_check_private_key(ctx) != 1)
        add_err(e, "server key '%s' does not match the certificate '%s'", t->key_file,
                t->cert_file);
    if (SSL_CTX_load_verify_locations(ctx, t->ca_file, NULL) != 1)
        add_err(e, "client CA '%s': cannot be loaded: %s", t->ca_file, ssl_err());
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(t->ca_file);
    if (names)
        SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
    SSL_CTX_set_verify_depth(ctx, 4);
    SSL_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
    SSL_CTX_set_info_callback(ctx, info_cb);
    h2o_ssl_register_alpn_protocols(ctx, t->http2 ? h2o_http2_alpn_protocols : alpn_http1_only);
    return ctx;
}

struct pex_tls *pex_tls_build(const struct pex_tls_config *t, char *errbuf, size_t errlen)
{
    struct errs e = {.p = errbuf, .cap = errlen};
    errbuf[0] = '\0';
    ERR_clear_error();
    X509 *cert = check_cert(&e, t);
    EVP_PKEY *key = check_key(&e, t);
    check_ca(&e, t);
    if (cert && key && X509_check_private_key(cert, key) != 1) {
        add_err(&e, "server key '%s' does not match the certificate '%s'", t->key_file,
                t->cert_file);
        ERR_clear_error();
    }
    if (key)
        check_key_fits_sigalgs(&e, key, t->sigalgs);
    struct pex_tls *tls = NULL;
    SSL_CTX *ctx = NULL;
    if (e.n == 0)
        ctx = build_ctx(&e, t);
    if (e.n == 0) {
        tls = calloc(1, sizeof *tls);
        if (!tls)
            add_err(&e, "out of memory");
    }
    for (unsigned i = 0; tls && i < t->allowed_sans.n; i++) {
        if (!(tls->sans.entry[i] = strdup(t->allowed_sans.entry[i]))) {
            add_err(&e, "out of memory");
            break;
        }
        tls->sans.n++;
    }
    if (e.n == 0 && SSL_CTX_set_ex_data(ctx, tls_idx, tls) != 1)
        add_err(&e, "cannot attach the policy to the TLS context: %s", ssl_err());
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
