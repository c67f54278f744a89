/*
 * bench/exporter/pex-scrape.c - scrape load generator and checker for
 * portsyncd-exporter: TLS 1.3 with a client certificate, HTTP/1.1 keep-alive,
 * one thread per connection.
 *
 *   pex-scrape --connect [::1]:PORT --cert C --key K --ca CA [options]
 *
 * Modes:
 *   default            N keep-alive connections, each scraping R times (or for
 *                      --seconds); prints scrapes/s and latency p50/p99/p999
 *   --new-connections  every request on a new connection (full handshake)
 *   --check            also verify every body: status 200, histogram buckets
 *                      cumulative with +Inf == _count, and per connection no
 *                      counter series ever decreasing; exits 1 on any violation
 *
 * With --pid, the exporter's CPU time (from /proc/PID/stat) per scrape and its
 * RSS after the run are reported too. The last line is machine-readable:
 *   RESULT scrapes=... seconds=... rate=... p50_ms=... p99_ms=... p999_ms=... ...
 * Exit: 0 ok, 1 a request failed or a check was violated, 2 bad arguments.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "pex-scrape.h"

#define MAX_CONNS 1024

static atomic_int stop_flag;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pex-scrape --connect [IPv6]:PORT --cert FILE --key FILE --ca FILE\n"
            "                  [--path /metrics] [--connections N] [--requests R | --seconds S]\n"
            "                  [--gzip] [--openmetrics] [--check] [--new-connections]\n"
            "                  [--server-name NAME] [--pid EXPORTER_PID] [--quiet]\n");
}

/* ---- HTTP/1.1 over TLS ------------------------------------------------------------- */

static SSL *tls_connect(struct worker *w)
{
    const struct opts *o = w->o;
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0)
        return NULL;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (const struct sockaddr *)&o->addr, sizeof o->addr) != 0) {
        snprintf(w->err, sizeof w->err, "connect: %s", strerror(errno));
        close(fd);
        return NULL;
    }
    SSL *ssl = SSL_new(w->ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, o->sni);
    SSL_set1_host(ssl, o->sni);
    if (SSL_connect(ssl) != 1) {
        snprintf(w->err, sizeof w->err, "TLS handshake: %s",
                 ERR_reason_error_string(ERR_get_error()));
        SSL_free(ssl);
        close(fd);
        return NULL;
    }
    return ssl;
}

static void tls_close(SSL *ssl)
{
    int fd = SSL_get_fd(ssl);
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
}

struct rbuf {
    char *p;
    size_t len, cap;
};

static int rbuf_fill(SSL *ssl, struct rbuf *b)
{
    if (b->cap - b->len < 65536) {
        size_t ncap = b->cap ? b->cap * 2 : 1 << 20;
        char *np = realloc(b->p, ncap);
        if (!np)
            return -1;
        b->p = np;
        b->cap = ncap;
    }
    int n = SSL_read(ssl, b->p + b->len, (int)(b->cap - b->len));
    if (n <= 0)
        return -1;
    b->len += (size_t)n;
    return 0;
}

static int inflate_body(const char *in, size_t n, struct rbuf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 16) != Z_OK)
        return -1;
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    out->len = 0;
    int rc;
    do {
        if (out->cap - out->len < 65536) {
            size_t ncap = out->cap ? out->cap * 2 : 1 << 20;
            char *np = realloc(out->p, ncap);
            if (!np)
                break;
            out->p = np;
            out->cap = ncap;
        }
        z.next_out = (Bytef *)out->p + out->len;
        z.avail_out = (uInt)(out->cap - out->len);
        rc = inflate(&z, Z_NO_FLUSH);
        out->len = out->cap - z.avail_out;
    } while (rc == Z_OK);
    inflateEnd(&z);
    return rc == Z_STREAM_END ? 0 : -1;
}

/* One request/response. Returns 0 and the status, or -1 on a transport error. */
static int request(struct worker *w, SSL *ssl, struct rbuf *b, struct rbuf *plain, int *status)
{
    const struct opts *o = w->o;
    char req[512];
    int n = snprintf(
        req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: pex-scrape\r\n%s%s%s%s\r\n",
        o->path, o->sni, o->gzip ? "Accept-Encoding: gzip\r\n" : "", o->accept ? "Accept: " : "",
        o->accept ? o->accept : "", o->accept ? "\r\n" : "");
    if (SSL_write(ssl, req, n) != n) {
        snprintf(w->err, sizeof w->err, "write failed");
        return -1;
    }
    b->len = 0;
    char *hend;
    while (!(hend = b->len ? memmem(b->p, b->len, "\r\n\r\n", 4) : NULL))
        if (rbuf_fill(ssl, b) != 0) {
            snprintf(w->err, sizeof w->err, "connection closed before the response headers");
            return -1;
        }
    size_t hlen = (size_t)(hend - b->p) + 4;
    *status = atoi(b->p + 9);
    char head[4096];
    snprintf(head, sizeof head, "%.*s", (int)(hlen < sizeof head ? hlen : sizeof head - 1), b->p);
    const char *cl = strcasestr(head, "\ncontent-length:");
    size_t clen = cl ? strtoul(cl + 16, NULL, 10) : 0;
    int gz = strcasestr(head, "\ncontent-encoding: gzip") != NULL;
    while (b->len < hlen + clen)
        if (rbuf_fill(ssl, b) != 0) {
            snprintf(w->err, sizeof w->err, "connection closed inside the body");
            return -1;
        }
    w->bytes += clen;
    if (w->o->check && *status == 200) {
        if (gz) {
            if (inflate_body(b->p + hlen, clen, plain) != 0) {
                pex_violation(w, "gzip body does not inflate", "", 0);
                return 0;
            }
            pex_check_body(w, plain->p, plain->len);
        } else {
            pex_check_body(w, b->p + hlen, clen);
        }
    }
    return 0;
}

static void record(struct worker *w, double s)
{
    if (w->nlat == w->caplat) {
        w->caplat = w->caplat ? w->caplat * 2 : 4096;
        w->lat = realloc(w->lat, w->caplat * sizeof *w->lat);
        if (!w->lat)
            abort();
    }
    w->lat[w->nlat++] = s;
}

static void *run(void *arg)
{
    struct worker *w = arg;
    const struct opts *o = w->o;
    struct rbuf b = {0}, plain = {0};
    double deadline = o->seconds > 0 ? now() + o->seconds : 0;
    SSL *ssl = NULL;
    for (unsigned i = 0; (o->requests == 0 || i < o->requests) && !atomic_load(&stop_flag); i++) {
        if (deadline && now() >= deadline)
            break;
        double t0 = now();
        if (!ssl && !(ssl = tls_connect(w))) {
            w->errors++;
            break;
        }
        int status = 0;
        if (request(w, ssl, &b, &plain, &status) != 0) {
            w->errors++;
            break;
        }
        if (o->newconn) {
            tls_close(ssl);
            ssl = NULL;
        }
        record(w, now() - t0);
        if (status != 200) {
            w->errors++;
            if (!w->err[0])
                snprintf(w->err, sizeof w->err, "HTTP status %d", status);
        }
    }
    if (ssl)
        tls_close(ssl);
    free(b.p);
    free(plain.p);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int proc_cpu_rss(int pid, double *cpu, double *rss_mb)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long ut = 0, st = 0, rss = 0;
    int field = 2;
    for (char *save = NULL, *t = strtok_r(p + 1, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        field++;
        if (field == 14)
            ut = strtoull(t, NULL, 10);
        if (field == 15)
            st = strtoull(t, NULL, 10);
        if (field == 24) {
            rss = strtoull(t, NULL, 10);
            break;
        }
    }
    *cpu = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    *rss_mb = (double)rss * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
    return 0;
}

static int parse_addr(const char *s, struct sockaddr_in6 *a)
{
    memset(a, 0, sizeof *a);
    a->sin6_family = AF_INET6;
    const char *close = strchr(s, ']');
    char host[64];
    if (s[0] != '[' || !close || close[1] != ':' || (size_t)(close - s) > sizeof host)
        return -1;
    memcpy(host, s + 1, (size_t)(close - s - 1));
    host[close - s - 1] = '\0';
    if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
        return -1;
    a->sin6_port = htons((uint16_t)atoi(close + 2));
    return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {{"connect", required_argument, NULL, 'c'},
                                       {"cert", required_argument, NULL, 'C'},
                                       {"key", required_argument, NULL, 'K'},
                                       {"ca", required_argument, NULL, 'A'},
                                       {"path", required_argument, NULL, 'p'},
                                       {"connections", required_argument, NULL, 'n'},
                                       {"requests", required_argument, NULL, 'r'},
                                       {"seconds", required_argument, NULL, 's'},
                                       {"gzip", no_argument, NULL, 'z'},
                                       {"openmetrics", no_argument, NULL, 'o'},
                                       {"check", no_argument, NULL, 'k'},
                                       {"new-connections", no_argument, NULL, 'N'},
                                       {"server-name", required_argument, NULL, 'S'},
                                       {"pid", required_argument, NULL, 'P'},
                                       {"quiet", no_argument, NULL, 'q'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    o->path = "/metrics";
    o->sni = "localhost";
    o->conns = 1;
    int c, have_addr = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (parse_addr(optarg, &o->addr) != 0) {
                fprintf(stderr, "pex-scrape: --connect: '%s' is not [IPv6]:port\n", optarg);
                return -1;
            }
            have_addr = 1;
            break;
        case 'C':
            o->cert = optarg;
            break;
        case 'K':
            o->key = optarg;
            break;
        case 'A':
            o->ca = optarg;
            break;
        case 'p':
            o->path = optarg;
            break;
        case 'n':
            o->conns = (unsigned)atoi(optarg);
            break;
        case 'r':
            o->requests = (unsigned)atoi(optarg);
            break;
        case 's':
            o->seconds = atof(optarg);
            break;
        case 'z':
            o->gzip = 1;
            break;
        case 'o':
            o->accept = "application/openmetrics-text;version=1.0.0,application/"
                        "openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/"
                        "*;q=0.1";
            break;
        case 'k':
            o->check = 1;
            break;
        case 'N':
            o->newconn = 1;
            break;
        case 'S':
            o->sni = optarg;
            break;
        case 'P':
            o->pid = atoi(optarg);
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (!have_addr || !o->cert || !o->key || !o->ca || o->conns < 1 || o->conns > MAX_CONNS ||
        (o->requests == 0 && o->seconds <= 0)) {
        usage(stderr);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse_args(argc, argv, &o) != 0)
        return 2;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_ciphersuites(ctx, "TLS_AES_256_GCM_SHA384");
    SSL_CTX_set1_groups_list(ctx, "P-384");
    SSL_CTX_set1_sigalgs_list(ctx, "ecdsa_secp384r1_sha384");
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_load_verify_locations(ctx, o.ca, NULL) != 1 ||
        SSL_CTX_use_certificate_chain_file(ctx, o.cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, o.key, SSL_FILETYPE_PEM) != 1) {
        fprintf(stderr, "pex-scrape: cannot load %s / %s / %s: %s\n", o.cert, o.key, o.ca,
                ERR_reason_error_string(ERR_get_error()));
        return 2;
    }
    struct worker *w = calloc(o.conns, sizeof *w);
    double cpu0 = 0, cpu1 = 0, rss = 0;
    if (o.pid)
        proc_cpu_rss(o.pid, &cpu0, &rss);
    double t0 = now();
    for (unsigned i = 0; i < o.conns; i++) {
        w[i].idx = i;
        w[i].o = &o;
        w[i].ctx = ctx;
        if (pthread_create(&w[i].tid, NULL, run, &w[i]) != 0) {
            fprintf(stderr, "pex-scrape: cannot start thread %u\n", i);
            return 1;
        }
    }
    size_t total = 0;
    uint64_t errors = 0, viol = 0, bytes = 0;
    for (unsigned i = 0; i < o.conns; i++) {
        pthread_join(w[i].tid, NULL);
        total += w[i].nlat;
        errors += w[i].errors;
        viol += w[i].violations;
        bytes += w[i].bytes;
    }
    double elapsed = now() - t0;
    if (o.pid)
        proc_cpu_rss(o.pid, &cpu1, &rss);
    double *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (unsigned i = 0; i < o.conns; i++) {
        memcpy(all + k, w[i].lat, w[i].nlat * sizeof *all);
        k += w[i].nlat;
        if ((w[i].errors || w[i].violations) && w[i].err[0])
            fprintf(stderr, "pex-scrape: connection %u: %s\n", i, w[i].err);
    }
    qsort(all, total, sizeof *all, cmp_double);
#define PCT(q) (total ? all[(size_t)((double)(total - 1) * (q))] * 1000 : 0)
    double rate = (double)total / elapsed;
    if (!o.quiet)
        printf("%s %s%s: %u connection(s), %zu requests in %.2f s = %.0f/s; latency p50 %.3f ms, "
               "p99 %.3f ms, p99.9 %.3f ms; %.1f KB/response\n",
               o.newconn ? "new-connection" : "keep-alive", o.path, o.gzip ? " (gzip)" : "",
               o.conns, total, elapsed, rate, PCT(.5), PCT(.99), PCT(.999),
               total ? (double)bytes / (double)total / 1024 : 0);
    if (o.pid && total && !o.quiet)
        printf("exporter (pid %d): %.1f us CPU per request, RSS %.1f MB\n", o.pid,
               (cpu1 - cpu0) / (double)total * 1e6, rss);
    if (o.check)
        printf("check: %zu bodies, %llu violation(s), %llu failed request(s)\n", total,
               (unsigned long long)viol, (unsigned long long)errors);
    printf("RESULT scrapes=%zu seconds=%.3f rate=%.1f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f "
           "errors=%llu violations=%llu cpu_us=%.1f rss_mb=%.1f\n",
           total, elapsed, rate, PCT(.5), PCT(.99), PCT(.999), (unsigned long long)errors,
           (unsigned long long)viol, o.pid && total ? (cpu1 - cpu0) / (double)total * 1e6 : 0, rss);
    for (unsigned i = 0; i < o.conns; i++) {
        free(w[i].lat);
        for (size_t j = 0; j < w[i].hcap; j++)
            free(w[i].keys[j]);
        free(w[i].keys);
        free(w[i].vals);
    }
    free(w);
    free(all);
    SSL_CTX_free(ctx);
    return errors || viol ? 1 : 0;
}
