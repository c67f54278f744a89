/*
 * exporter/tls_preflight.c - the checks the TLS files pass before a context
 * is built from them, at startup and on every reload: fail-secure, each
 * problem one line that names the file and what was expected, all of them
 * reported rather than the first.
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tls.h"
#include "tls_int.h"

void pex_errs_add(struct pex_errs *e, const char *fmt, ...)
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

const char *pex_ssl_err(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return r ? r : "no detail from OpenSSL";
}

/* Exists, is a regular file, can be opened: returns an open FILE or NULL. */
static FILE *open_checked(struct pex_errs *e, const char *what, const char *src, const char *path,
                          struct stat *st)
{
    if (stat(path, st) != 0) {
        pex_errs_add(e, "%s '%s' (from %s): %s", what, path, src,
                     errno == ENOENT ? "does not exist" : strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st->st_mode)) {
        pex_errs_add(e, "%s '%s' (from %s): not a regular file", what, path, src);
        return NULL;
    }
    FILE *f = fopen(path, "r");
    if (!f)
        pex_errs_add(e, "%s '%s' (from %s): cannot be read by uid %u: %s", what, path, src,
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

static void check_key_fits_sigalgs(struct pex_errs *e, EVP_PKEY *k, const char *sigalgs)
{
    char have[80], want[256] = "", list[512];
    key_type(k, have, sizeof have);
    snprintf(list, sizeof list, "%s", sigalgs);
    int fits = 0;
    for (char *save = NULL, *a = strtok_r(list, ":", &save); a; a = strtok_r(NULL, ":", &save)) {
        const char *need = sigalg_key(a);
        if (!need) {
            pex_errs_add(e,
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
        pex_errs_add(e,
                     "server key is %s, which none of the signature algorithms '%s' can use; "
                     "expected a key of type %s",
                     have, sigalgs, want);
}

static void check_validity(struct pex_errs *e, const char *what, const char *path, X509 *x)
{
    if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
        pex_errs_add(e, "%s '%s' is not valid yet (notBefore is in the future)", what, path);
    if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
        pex_errs_add(e, "%s '%s' has expired (notAfter is in the past)", what, path);
}

/* Server certificate: parses, valid now. Returns the leaf or NULL. */
static X509 *check_cert(struct pex_errs *e, const struct pex_tls_config *t)
{
    struct stat st;
    FILE *f = open_checked(e, "server certificate", t->cert_src, t->cert_file, &st);
    if (!f)
        return NULL;
    X509 *x = PEM_read_X509(f, NULL, no_passphrase, NULL);
    fclose(f);
    if (!x) {
        pex_errs_add(e, "server certificate '%s': not a PEM certificate: %s", t->cert_file,
                     pex_ssl_err());
        return NULL;
    }
    check_validity(e, "server certificate", t->cert_file, x);
    return x;
}

/* Server key: owner-only mode, parses, no passphrase. Returns the key or NULL. */
static EVP_PKEY *check_key(struct pex_errs *e, const struct pex_tls_config *t)
{
    struct stat st;
    FILE *f = open_checked(e, "server key", t->key_src, t->key_file, &st);
    if (!f)
        return NULL;
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        pex_errs_add(e,
                     "server key '%s' has mode %04o: group or others may access it; expected 0600 "
                     "or 0400 (chmod 600 '%s')",
                     t->key_file, (unsigned)(st.st_mode & 07777), t->key_file);
        fclose(f);
        return NULL;
    }
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
    fclose(f);
    if (!k)
        pex_errs_add(e, "server key '%s': not an unencrypted PEM private key: %s", t->key_file,
                     pex_ssl_err());
    return k;
}

/* CA file: at least one certificate, each a CA and valid now. */
static int check_ca(struct pex_errs *e, const struct pex_tls_config *t)
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
            pex_errs_add(e, "client CA '%s': certificate %u is not a CA certificate", t->ca_file,
                         n);
        check_validity(e, "client CA certificate in", t->ca_file, x);
        X509_free(x);
    }
    ERR_clear_error();
    fclose(f);
    if (n == 0)
        pex_errs_add(e, "client CA '%s': holds no PEM certificate", t->ca_file);
    return e->n == before ? 0 : -1;
}

int pex_tls_preflight(struct pex_errs *e, const struct pex_tls_config *t, X509 **cert,
                      EVP_PKEY **key)
{
    unsigned before = e->n;
    *cert = check_cert(e, t);
    *key = check_key(e, t);
    check_ca(e, t);
    if (*cert && *key && X509_check_private_key(*cert, *key) != 1) {
        pex_errs_add(e, "server key '%s' does not match the certificate '%s'", t->key_file,
                     t->cert_file);
        ERR_clear_error();
    }
    if (*key)
        check_key_fits_sigalgs(e, *key, t->sigalgs);
    return e->n == before ? 0 : -1;
}
