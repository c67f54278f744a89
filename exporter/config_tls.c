/*
 * exporter/config_tls.c - where the TLS material and policy come from: the
 * seed's environment variables (PORTSYNCD_METRICS_CERT, _KEY, _CA) or their
 * defaults under /etc/portsyncd/metrics/, then the web config file, whose
 * paths take precedence, then the flags. A setting given both by a flag and
 * by the file is an error, not a silent choice.
 *
 * Run at startup and on every SIGHUP: a reload re-reads all of it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "webconfig.h"

/* A list given with commas or colons, as OpenSSL wants it: colons. */
static char *colon_list(const char *v)
{
    char *s = strdup(v);
    if (!s)
        return NULL;
    for (char *p = s; *p; p++)
        if (*p == ',')
            *p = ':';
    return s;
}

void pex_tls_config_free(struct pex_tls_config *t)
{
    free(t->cert_file);
    free(t->key_file);
    free(t->ca_file);
    free(t->cipher_suites);
    free(t->groups);
    free(t->sigalgs);
    for (unsigned i = 0; i < t->allowed_sans.n; i++)
        free(t->allowed_sans.entry[i]);
    memset(t, 0, sizeof *t);
}

static char *env_or(const char *name, const char *def, const char **src)
{
    const char *v = getenv(name);
    if (v && *v) {
        *src = name;
        return strdup(v);
    }
    *src = "default";
    return strdup(def);
}

int pex_tls_config_load(const struct pex_config *c, struct pex_tls_config *t, char *err,
                        size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->cert_file = env_or("PORTSYNCD_METRICS_CERT", PEX_DEFAULT_CERT, &t->cert_src);
    t->key_file = env_or("PORTSYNCD_METRICS_KEY", PEX_DEFAULT_KEY, &t->key_src);
    t->ca_file = env_or("PORTSYNCD_METRICS_CA", PEX_DEFAULT_CA, &t->ca_src);
    t->http2 = 1;
    unsigned set = 0;
    if (c->web_config_file && pex_webconfig_load(c->web_config_file, t, &set, err, errlen) != 0)
        goto fail;
    if ((set & PEX_WC_SET_CIPHERS) && c->flag_ciphers) {
        snprintf(err, errlen,
                 "--tls.cipher-suites and cipher_suites in %s both set the TLS 1.3 suites; "
                 "expected one of them",
                 c->web_config_file);
        goto fail;
    }
    if ((set & PEX_WC_SET_GROUPS) && c->flag_groups) {
        snprintf(err, errlen,
                 "--tls.groups and curve_preferences in %s both set the groups; expected one "
                 "of them",
                 c->web_config_file);
        goto fail;
    }
    if ((set & PEX_WC_SET_HTTP2) && c->flag_http2 >= 0) {
        snprintf(err, errlen,
                 "--[no-]web.http2 and http_server_config.http2 in %s both set HTTP/2; "
                 "expected one of them",
                 c->web_config_file);
        goto fail;
    }
    if (!(set & PEX_WC_SET_CIPHERS))
        t->cipher_suites = colon_list(c->flag_ciphers ? c->flag_ciphers : PEX_DEFAULT_CIPHERS);
    if (!(set & PEX_WC_SET_GROUPS))
        t->groups = colon_list(c->flag_groups ? c->flag_groups : PEX_DEFAULT_GROUPS);
    t->sigalgs = colon_list(c->flag_sigalgs ? c->flag_sigalgs : PEX_DEFAULT_SIGALGS);
    if (c->flag_http2 >= 0)
        t->http2 = c->flag_http2;
    if (!t->cert_file || !t->key_file || !t->ca_file || !t->cipher_suites || !t->groups ||
        !t->sigalgs) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    return 0;
fail:
    pex_tls_config_free(t);
    return -1;
}
