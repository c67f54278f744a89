/*
 * bench/exporter/pex-scrape.h - what pex-scrape.c (connections, requests,
 * figures) and pex-check.c (the body checks) share.
 */
#ifndef PEX_SCRAPE_H
#define PEX_SCRAPE_H

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct opts {
    struct sockaddr_in6 addr;
    const char *cert, *key, *ca, *path, *sni, *accept;
    unsigned conns, requests;
    double seconds;
    int gzip, check, newconn, pid, quiet;
};

struct worker {
    pthread_t tid;
    unsigned idx;
    const struct opts *o;
    SSL_CTX *ctx;
    double *lat; /* seconds per request */
    size_t nlat, caplat;
    uint64_t bytes, errors, violations;
    char err[256];
    /* counters seen on this connection: name{labels} -> value */
    char **keys;
    double *vals;
    size_t hcap, hcount;
};

/**
 * pex_check_body - check one exposition body; a violation counts in
 * @w->violations and the first is described in @w->err
 * @w: the connection's worker (its counter memory)
 * @b: the body
 * @n: its length
 */
void pex_check_body(struct worker *w, const char *b, size_t n);

/**
 * pex_violation - count a violation on @w; the first is kept in @w->err
 * @w: the connection's worker
 * @what: what was violated
 * @line: the offending line (need not be NUL-terminated)
 * @len: its length
 */
void pex_violation(struct worker *w, const char *what, const char *line, size_t len);

#endif
