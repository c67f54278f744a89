/*
 * exporter/main.c - portsyncd-exporter: startup, signals, reload, shutdown.
 *
 * Startup is fail-secure and in this order, so nothing is ever served with a
 * configuration that did not pass every check:
 *   1. flags and environment (config.c), web config (webconfig.c): exit 2 on error;
 *   2. TLS pre-flight and context (tls.c): one line per failure, exit 1;
 *   3. bind the IPv6-only listener: exit 1 on error;
 *   4. serve. The segment is optional at every point (segment.c).
 *
 * Signals are taken synchronously through a signalfd in the event loop, so a
 * reload never runs in the middle of a handler:
 *   SIGHUP   re-read the web config and the cert/key/CA files, build a new
 *            SSL_CTX, and swap it in for new connections; on any failure keep
 *            the old one and log why. Open connections keep the context they
 *            were accepted with.
 *   SIGTERM, SIGINT   stop accepting, close connections, exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "h2ointernals.h"
#include "http.h"
#include "requests.h"
#include "pex.h"
#include "psu/clock.h"
#include "psu/log.h"
#include "psu/notify.h"
#include "psu/proc.h"
#include "segment.h"
#include "server.h"
#include "tls.h"

#define LISTEN_BACKLOG   1024
#define ACCEPTS_PER_WAKE 64
#define DRAIN_NS         (2 * 1000000000ull)

static volatile int stop_requested;

/* Tells systemd (Type=notify) about a state change; a failure costs only the
 * notification, so it is logged and serving carries on. */
static void notify(const char *state)
{
    if (psu_notify_send(state) < 0)
        psu_log_warn("sd_notify to NOTIFY_SOCKET %s failed: %s (sending '%s')",
                     getenv("NOTIFY_SOCKET"), strerror(errno), state);
}

static void log_errs(const char *errs)
{
    char copy[8192];
    snprintf(copy, sizeof copy, "%s", errs);
    for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        psu_log_error("%s", l);
}

static unsigned count_lines(const char *s)
{
    unsigned n = *s != '\0';
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void log_tls_in_use(const struct pex_tls *tls, const struct pex_tls_config *t,
                           const char *what)
{
    char when[32] = "?";
    time_t na = (time_t)tls->not_after;
    struct tm tm;
    if (gmtime_r(&na, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    psu_log_info(
        "%s: cert %s (%s) serial %s subject %s notAfter %s; key %s (%s); client CA %s (%s); "
        "suites %s; groups %s; sigalgs %s; %u allowed client SANs; ALPN %s",
        what, t->cert_file, t->cert_src, tls->serial, tls->subject, when, t->key_file, t->key_src,
        t->ca_file, t->ca_src, t->cipher_suites, t->groups, t->sigalgs, t->allowed_sans.n,
        t->http2 ? "h2,http/1.1" : "http/1.1");
}

static void reload(struct pex_server *srv)
{
    struct pex_tls_config t;
    char err[8192];
    notify("RELOADING=1");
    if (pex_tls_config_load(&srv->cfg, &t, err, sizeof err) != 0) {
        srv->stats.reload_fail++;
        psu_log_error("reload failed, still serving the previous TLS material: %s", err);
        notify("READY=1");
        return;
    }
    struct pex_tls *n = pex_tls_build(&t, err, sizeof err);
    if (!n) {
        srv->stats.reload_fail++;
        log_errs(err);
        psu_log_error(
            "reload failed (%u problem(s) above), still serving the previous TLS material "
            "(serial %s)",
            count_lines(err), srv->tls->serial);
        pex_tls_config_free(&t);
        notify("READY=1");
        return;
    }
    struct pex_tls *old = srv->tls;
    srv->tls = n;
    srv->accept_ctx.ssl_ctx = n->ctx;
    pex_tls_free(old);
    pex_tls_config_free(&srv->cfg.tls);
    srv->cfg.tls = t;
    srv->stats.reload_ok++;
    srv->stats.reload_last_ok = (double)psu_clock_real_ns() / 1e9;
    log_tls_in_use(n, &srv->cfg.tls, "reloaded TLS material for new connections");
    /* Open connections keep working, unless the new material refuses their client. */
    unsigned revoked = pex_conns_revalidate(srv);
    if (revoked)
        psu_log_info("%u open connection(s) refused by the reloaded material: closing", revoked);
    notify("READY=1");
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    struct pex_server *srv = listener->data;
    if (err)
        return;
    for (int i = 0; i < ACCEPTS_PER_WAKE; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (!sock)
            break;
        struct pex_conn *c = pex_conn_accept(srv, sock);
        if (c)
            pex_h2o_accept(srv, c);
    }
}

static void on_signal(h2o_socket_t *sock, const char *err)
{
    struct pex_server *srv = sock->data;
    struct signalfd_siginfo si;
    if (err)
        return;
    while (read(h2o_socket_get_fd(sock), &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP) {
            psu_log_info("SIGHUP: reloading the TLS material");
            reload(srv);
        } else {
            psu_log_info("%s: shutting down", strsignal((int)si.ssi_signo));
            stop_requested = 1;
        }
    }
}

static int listen_socket(const struct pex_config *c)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        psu_log_error("--web.listen-address %s: cannot create an IPv6 socket: %s", c->listen_text,
                      strerror(errno));
        return -1;
    }
    int one = 1;
    /* IPV6_V6ONLY: an IPv6 socket must never accept IPv4 as mapped addresses. */
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (const struct sockaddr *)&c->listen, sizeof c->listen) != 0 ||
        listen(fd, LISTEN_BACKLOG) != 0) {
        psu_log_error("--web.listen-address %s: cannot listen: %s", c->listen_text,
                      strerror(errno));
        close(fd);
        return -1;
    }
    struct sockaddr_in6 sa;
    socklen_t len = sizeof sa;
    char addr[INET6_ADDRSTRLEN] = "?";
    if (getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        inet_ntop(AF_INET6, &sa.sin6_addr, addr, sizeof addr);
    psu_log_info("listening on [%s]:%u (IPv6 only, TLS 1.3, client certificates required)", addr,
                 (unsigned)ntohs(sa.sin6_port));
    return fd;
}

static int signal_fd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    pex_segment_guard_init();
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void h2o_setup(struct pex_server *srv)
{
    h2o_globalconf_t *g = &srv->h2o_cfg;
    h2o_config_init(g);
    g->server_name = h2o_iovec_init(H2O_STRLIT("")); /* no Server header, no version disclosed */
    g->max_request_entity_size = 4096;               /* no endpoint takes a body */
    /* No g->handshake_timeout: h2ointernals.c starts the handshakes, and the
     * first-request deadline (requests.c) bounds them. */
    /* h2o 2.2.5: this one timer is the keep-alive idle time and the header
     * deadline; requests.c enforces the shorter header deadline itself. */
    g->http1.req_timeout = srv->cfg.idle_timeout_ms;
    g->http1.upgrade_to_http2 = 0;
    g->http2.idle_timeout = srv->cfg.idle_timeout_ms;
    /* Run at most this many streams of a connection at once; h2ointernals.c
     * advertises the same number and refuses streams beyond it. */
    g->http2.max_concurrent_requests_per_connection = PEX_H2_MAX_STREAMS;
    h2o_hostconf_t *host =
        h2o_config_register_host(g, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    pex_http_register(srv, host);
    srv->loop = h2o_evloop_create();
    h2o_context_init(&srv->ctx, srv->loop, g);
    srv->accept_ctx.ctx = &srv->ctx;
    srv->accept_ctx.hosts = g->hosts;
    srv->accept_ctx.ssl_ctx = srv->tls->ctx;
    pex_h2o_init(srv);
}

static void serve(struct pex_server *srv, int lfd, int sfd)
{
    srv->listener = h2o_evloop_socket_create(srv->loop, lfd, H2O_SOCKET_FLAG_DONT_READ);
    srv->listener->data = srv;
    h2o_socket_read_start(srv->listener, on_accept);
    h2o_socket_t *sig = h2o_evloop_socket_create(srv->loop, sfd, H2O_SOCKET_FLAG_DONT_READ);
    sig->data = srv;
    h2o_socket_read_start(sig, on_signal);
    pex_conns_init(srv);
    pex_requests_init(srv);
    pex_http_start(srv);
    notify("READY=1");
    while (!stop_requested)
        h2o_evloop_run(srv->loop, INT32_MAX);
    notify("STOPPING=1");
    /* Drain: no new connections, shut the open ones, let h2o close them. */
    h2o_socket_read_stop(srv->listener);
    h2o_socket_close(srv->listener);
    pex_conns_shutdown(srv);
    uint64_t deadline = psu_clock_mono_ns() + DRAIN_NS;
    while (srv->conns.n && psu_clock_mono_ns() < deadline)
        h2o_evloop_run(srv->loop, 50);
    h2o_socket_read_stop(sig);
    h2o_socket_close(sig);
    pex_requests_dispose(srv);
    pex_http_stop(srv);
    h2o_evloop_run(srv->loop, 0);
    if (srv->conns.n)
        psu_log_warn("%u connection(s) still open at exit", srv->conns.n);
}

int main(int argc, char **argv)
{
    static struct pex_server srv;
    /* Before the flags: their errors are logged too, in the same format. */
    psu_log_init(PEX_NAME, PSU_LOG_INFO, PSU_LOG_STDERR);
    int rc = pex_config_parse(&srv.cfg, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    /* process_start_time_seconds: the kernel's record of the start (psu_proc
     * samples it once), else now, a few milliseconds late. */
    struct psu_proc_stats ps;
    psu_proc_sample(&ps);
    srv.start_time =
        ps.have & PSU_PROC_START_TIME ? ps.start_time : (double)psu_clock_real_ns() / 1e9;
    pex_tls_init();
    char err[8192];
    if (pex_tls_config_load(&srv.cfg, &srv.cfg.tls, err, sizeof err) != 0) {
        psu_log_error("%s", err);
        pex_config_free(&srv.cfg);
        return 2;
    }
    srv.tls = pex_tls_build(&srv.cfg.tls, err, sizeof err);
    if (!srv.tls) {
        log_errs(err);
        psu_log_error("pre-flight failed with %u problem(s); not listening", count_lines(err));
        pex_config_free(&srv.cfg);
        return 1;
    }
    log_tls_in_use(srv.tls, &srv.cfg.tls, "TLS material");
    srv.stats.reload_last_ok = (double)psu_clock_real_ns() / 1e9;
    if (srv.cfg.check_only) {
        psu_log_info("pre-flight passed; configuration OK");
        pex_tls_free(srv.tls);
        pex_config_free(&srv.cfg);
        return 0;
    }
    if (geteuid() == 0)
        psu_log_warn("running as root; run as an unprivileged user that can read only "
                     "the segment and its certificate files (see README)");
    /* Nothing this process runs may gain privileges (setuid binaries, file caps). */
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    int sfd = signal_fd();
    int lfd = sfd < 0 ? -1 : listen_socket(&srv.cfg);
    if (sfd < 0 || lfd < 0) {
        if (sfd < 0)
            psu_log_error("cannot set up signal handling: %s", strerror(errno));
        else
            close(sfd);
        pex_tls_free(srv.tls);
        pex_config_free(&srv.cfg);
        return 1;
    }
    srv.seg.name = srv.cfg.shm_name;
    srv.seg.trust = &srv.cfg.shm_trust;
    srv.seg.max_age = srv.cfg.heartbeat_max_age;
    srv.seg.last_state = -1;
    srv.seg.last_why = -1;
    srv.seg.last_refusal = -1;
    struct pex_seg_status st;
    pex_segment_poll(&srv.seg, &st);
    h2o_setup(&srv);
    serve(&srv, lfd, sfd);
    h2o_context_dispose(&srv.ctx);
    h2o_config_dispose(&srv.h2o_cfg);
    h2o_evloop_destroy(srv.loop);
    pex_segment_close(&srv.seg);
    pex_tls_free(srv.tls);
    pex_config_free(&srv.cfg);
    psu_log_info("stopped");
    return 0;
}
