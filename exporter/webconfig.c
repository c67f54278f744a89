/*
 * exporter/webconfig.c - the tls_server_config part of exporter-toolkit's
 * web-config.yml, read with libyaml.
 *
 *   tls_server_config:
 *     cert_file: /etc/portsyncd/metrics/server.crt
 *     key_file: /etc/portsyncd/metrics/server.key
 *     client_ca_file: /etc/portsyncd/metrics/ca.crt
 *     client_auth_type: RequireAndVerifyClientCert   # the only value accepted
 *     min_version: TLS13                             # the only value accepted
 *     max_version: TLS13
 *     cipher_suites: [TLS_AES_256_GCM_SHA384]
 *     curve_preferences: [CurveP384]
 *     client_allowed_sans: [prometheus-1.example.net, "2001:db8::10"]
 *   http_server_config:
 *     http2: true
 *
 * Any other key is an error, as is any value that would weaken the policy:
 * the file can narrow what the exporter accepts, never widen it past TLS 1.3
 * with verified client certificates.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "webconfig.h"

struct wc {
    const char *path;
    yaml_document_t doc;
    char *err;
    size_t errlen;
};

static int wc_fail(struct wc *w, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int wc_fail(struct wc *w, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(w->err, w->errlen, "%s:%lu: %s", w->path,
             n ? (unsigned long)n->start_mark.line + 1 : 0ul, msg);
    return -1;
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int get_string(struct wc *w, const char *key, const yaml_node_t *v, char **out)
{
    const char *s = scalar(v);
    if (!s || !*s)
        return wc_fail(w, v, "%s: expected a non-empty string (a file path)", key);
    char *d = strdup(s);
    if (!d)
        return wc_fail(w, v, "out of memory");
    free(*out);
    *out = d;
    return 0;
}

static int get_bool(struct wc *w, const char *key, const yaml_node_t *v, int *out)
{
    const char *s = scalar(v);
    if (s && strcmp(s, "true") == 0)
        *out = 1;
    else if (s && strcmp(s, "false") == 0)
        *out = 0;
    else
        return wc_fail(w, v, "%s: '%s' is not true or false", key, s ? s : "(not a scalar)");
    return 0;
}

/* Calls @fn for each scalar of a sequence; a lone scalar counts as a list of one. */
static int for_each_item(struct wc *w, const char *key, const yaml_node_t *v,
                         int (*fn)(struct wc *, const char *, const yaml_node_t *, void *),
                         void *arg)
{
    if (v->type == YAML_SCALAR_NODE)
        return fn(w, key, v, arg);
    if (v->type != YAML_SEQUENCE_NODE)
        return wc_fail(w, v, "%s: expected a list of strings", key);
    for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
        const yaml_node_t *item = yaml_document_get_node(&w->doc, *i);
        if (!scalar(item) || !*scalar(item))
            return wc_fail(w, item, "%s: expected a list of non-empty strings", key);
        if (fn(w, key, item, arg) != 0)
            return -1;
    }
    return 0;
}

/* Appends to a ':'-separated OpenSSL list. */
static int list_append(struct wc *w, const yaml_node_t *n, char **list, const char *item)
{
    size_t old = *list ? strlen(*list) : 0;
    char *p = realloc(*list, old + strlen(item) + 2);
    if (!p)
        return wc_fail(w, n, "out of memory");
    if (old)
        p[old++] = ':';
    strcpy(p + old, item);
    *list = p;
    return 0;
}

static int add_cipher(struct wc *w, const char *key, const yaml_node_t *n, void *arg)
{
    /* TLS_AES_128_CCM_8_SHA256 is left out on purpose: its 64-bit tag is too short. */
    static const char *const tls13[] = {"TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256",
                                        "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_CCM_SHA256"};
    const char *s = scalar(n);
    for (size_t i = 0; i < sizeof tls13 / sizeof tls13[0]; i++)
        if (strcmp(s, tls13[i]) == 0)
            return list_append(w, n, arg, s);
    return wc_fail(w, n,
                   "%s: '%s' is not a TLS 1.3 cipher suite; this exporter speaks TLS 1.3 only "
                   "(expected e.g. TLS_AES_256_GCM_SHA384)",
                   key, s);
}

static int add_curve(struct wc *w, const char *key, const yaml_node_t *n, void *arg)
{
    /* exporter-toolkit spells Go's names; OpenSSL names pass through and are
     * checked against the library when the context is built. */
    static const char *const map[][2] = {{"CurveP256", "P-256"},
                                         {"CurveP384", "P-384"},
                                         {"CurveP521", "P-521"},
                                         {"X25519", "X25519"}};
    const char *s = scalar(n);
    (void)key;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(s, map[i][0]) == 0)
            return list_append(w, n, arg, map[i][1]);
    return list_append(w, n, arg, s);
}

static int add_san(struct wc *w, const char *key, const yaml_node_t *n, void *arg)
{
    struct pex_allow_list *l = arg;
    if (l->n >= PEX_MAX_SANS)
        return wc_fail(w, n, "%s: more than %d entries", key, PEX_MAX_SANS);
    if (!(l->entry[l->n] = strdup(scalar(n))))
        return wc_fail(w, n, "out of memory");
    l->n++;
    return 0;
}

static int only_tls13(struct wc *w, const char *key, const yaml_node_t *v)
{
    const char *s = scalar(v);
    if (s && strcmp(s, "TLS13") == 0)
        return 0;
    return wc_fail(w, v,
                   "%s: '%s' is not allowed; this exporter speaks TLS 1.3 only (expected TLS13)",
                   key, s ? s : "(not a scalar)");
}

static int tls_server_config(struct wc *w, const yaml_node_t *m, struct pex_tls_config *t,
                             unsigned *set)
{
    if (m->type != YAML_MAPPING_NODE)
        return wc_fail(w, m, "tls_server_config: expected a mapping of keys");
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = yaml_document_get_node(&w->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(&w->doc, p->value);
        const char *key = scalar(k);
        int rc = 0, ignored;
        if (!key)
            return wc_fail(w, k, "tls_server_config: keys must be strings");
        if (strcmp(key, "cert_file") == 0) {
            rc = get_string(w, key, v, &t->cert_file);
            t->cert_src = "web config cert_file";
        } else if (strcmp(key, "key_file") == 0) {
            rc = get_string(w, key, v, &t->key_file);
            t->key_src = "web config key_file";
        } else if (strcmp(key, "client_ca_file") == 0) {
            rc = get_string(w, key, v, &t->ca_file);
            t->ca_src = "web config client_ca_file";
        } else if (strcmp(key, "client_auth_type") == 0) {
            const char *s = scalar(v);
            if (!s || strcmp(s, "RequireAndVerifyClientCert") != 0)
                rc = wc_fail(w, v,
                             "client_auth_type: '%s' is not allowed; client certificates are "
                             "mandatory (expected RequireAndVerifyClientCert)",
                             s ? s : "(not a scalar)");
        } else if (strcmp(key, "min_version") == 0 || strcmp(key, "max_version") == 0) {
            rc = only_tls13(w, key, v);
        } else if (strcmp(key, "cipher_suites") == 0) {
            free(t->cipher_suites);
            t->cipher_suites = NULL;
            rc = for_each_item(w, key, v, add_cipher, &t->cipher_suites);
            *set |= PEX_WC_SET_CIPHERS;
        } else if (strcmp(key, "curve_preferences") == 0) {
            free(t->groups);
            t->groups = NULL;
            rc = for_each_item(w, key, v, add_curve, &t->groups);
            *set |= PEX_WC_SET_GROUPS;
        } else if (strcmp(key, "client_allowed_sans") == 0) {
            rc = for_each_item(w, key, v, add_san, &t->allowed_sans);
        } else if (strcmp(key, "prefer_server_cipher_suites") == 0) {
            /* The server's order always wins (SSL_OP_CIPHER_SERVER_PREFERENCE). */
            rc = get_bool(w, key, v, &ignored);
        } else if (strcmp(key, "cert") == 0 || strcmp(key, "key") == 0 ||
                   strcmp(key, "client_ca") == 0) {
            rc = wc_fail(w, k,
                         "tls_server_config.%s: inline PEM is not supported; expected %s_file "
                         "naming a file",
                         key, strcmp(key, "client_ca") == 0 ? "client_ca" : key);
        } else {
            rc = wc_fail(w, k,
                         "tls_server_config: unknown key '%s' (expected cert_file, key_file, "
                         "client_ca_file, client_auth_type, min_version, max_version, "
                         "cipher_suites, curve_preferences, client_allowed_sans, "
                         "prefer_server_cipher_suites)",
                         key);
        }
        if (rc)
            return -1;
    }
    return 0;
}

static int http_server_config(struct wc *w, const yaml_node_t *m, struct pex_tls_config *t,
                              unsigned *set)
{
    if (m->type != YAML_MAPPING_NODE)
        return wc_fail(w, m, "http_server_config: expected a mapping of keys");
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = yaml_document_get_node(&w->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(&w->doc, p->value);
        const char *key = scalar(k);
        if (key && strcmp(key, "http2") == 0) {
            if (get_bool(w, key, v, &t->http2))
                return -1;
            *set |= PEX_WC_SET_HTTP2;
        } else {
            return wc_fail(w, k, "http_server_config: unknown key '%s' (expected http2)",
                           key ? key : "(not a string)");
        }
    }
    return 0;
}

/* Reads the document @parser was set up with into @t. */
static int wc_parse(struct wc *w, yaml_parser_t *parser, struct pex_tls_config *t, unsigned *set)
{
    *set = 0;
    if (!yaml_parser_load(parser, &w->doc)) {
        snprintf(w->err, w->errlen, "%s:%lu: not valid YAML: %s", w->path,
                 (unsigned long)parser->problem_mark.line + 1,
                 parser->problem ? parser->problem : "parse error");
        return -1;
    }
    int rc = -1;
    const yaml_node_t *root = yaml_document_get_root_node(&w->doc);
    if (!root) {
        rc = 0; /* an empty file configures nothing */
        goto out;
    }
    if (root->type != YAML_MAPPING_NODE) {
        wc_fail(w, root, "expected a mapping with tls_server_config");
        goto out;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = yaml_document_get_node(&w->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(&w->doc, p->value);
        const char *key = scalar(k);
        if (key && strcmp(key, "tls_server_config") == 0) {
            if (tls_server_config(w, v, t, set))
                goto out;
        } else if (key && strcmp(key, "http_server_config") == 0) {
            if (http_server_config(w, v, t, set))
                goto out;
        } else if (key && strcmp(key, "basic_auth_users") == 0) {
            wc_fail(w, k,
                    "basic_auth_users is not supported: clients authenticate with "
                    "certificates (use client_allowed_sans to narrow who may scrape)");
            goto out;
        } else {
            wc_fail(w, k, "unknown key '%s' (expected tls_server_config, http_server_config)",
                    key ? key : "(not a string)");
            goto out;
        }
    }
    if ((*set & PEX_WC_SET_CIPHERS) && !t->cipher_suites) {
        snprintf(w->err, w->errlen, "%s: cipher_suites is empty; expected at least one suite",
                 w->path);
        goto out;
    }
    if ((*set & PEX_WC_SET_GROUPS) && !t->groups) {
        snprintf(w->err, w->errlen, "%s: curve_preferences is empty; expected at least one group",
                 w->path);
        goto out;
    }
    rc = 0;
out:
    yaml_document_delete(&w->doc);
    return rc;
}

int pex_webconfig_parse(const char *name, const char *text, size_t len, struct pex_tls_config *t,
                        unsigned *set, char *err, size_t errlen)
{
    struct wc w = {.path = name, .err = err, .errlen = errlen};
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "%s: out of memory", name);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = wc_parse(&w, &parser, t, set);
    yaml_parser_delete(&parser);
    return rc;
}

int pex_webconfig_load(const char *path, struct pex_tls_config *t, unsigned *set, char *err,
                       size_t errlen)
{
    struct wc w = {.path = path, .err = err, .errlen = errlen};
    *set = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "--web.config.file: cannot open '%s': %m", path);
        return -1;
    }
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "%s: out of memory", path);
        fclose(f);
        return -1;
    }
    yaml_parser_set_input_file(&parser, f);
    int rc = wc_parse(&w, &parser, t, set);
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}
