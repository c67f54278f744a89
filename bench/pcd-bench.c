/*
 * bench/pcd-bench.c - drives link changes through netlink and watches STATE_DB
 * through keyspace notifications, to measure portsyncd from the outside.
 * Run inside the namespace that holds the ports (bench/portsyncd-bench.sh sets
 * everything up):
 *
 *   pcd-bench --socket REDIS_SOCK --ports N --pid PORTSYNCD_PID --redis-pid PID
 *             [--bare-netns NAME] [--latency-samples K] [--rates R1,R2,...]
 *             [--seconds S] [--rounds R] [--change admin|mtu]
 *
 * Every figure is per link change (one RTM_NEWLINK that changes a port), the
 * unit SONiC's users feel; a veth admin flap makes about 2.5 netlink events.
 *
 * Isolated latency: toggle a port, take t0 at the kernel's ack, t1 when the
 * keyspace notification for STATE_DB PORT_TABLE|EthernetX arrives and the entry
 * shows the new state.
 * Rates: toggle ports round-robin, paced (or flat out: rate 0), without waiting;
 * then a known final state, timed until STATE_DB equals it. CPU of portsyncd and
 * of redis-server over the phase, per change. A paced rate runs a second time
 * to time each change: the first notification for its port after it whose entry
 * shows the new state (an HGET, which is why CPU comes from the first run).
 * Rounds alternate, medians are reported.
 * Baselines in the same run: one Redis round trip from this client; idle CPU of
 * both processes; and with --bare-netns the kernel's own closed-loop toggle rate
 * on the same number of veths in a namespace where nothing listens, run
 * alternately with the daemon's closed loop.
 */
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pcd-util.h"

#define MAX_RATES  8
#define MAX_ROUNDS 9

static int change_mtu;
static int nports;
static int *ifindex;
static unsigned nl_seq = 1;
static int psd_pid, redis_pid;
static const char *sock_path;

/* One change, no ack (the kernel applies it inside sendto: it is done on return). */
static void send_change(struct mnl_socket *nl, int idx, int up)
{
    char buf[256];
    size_t off = 0;
    pcd_nl_put_change(buf, &off, ++nl_seq, ifindex[idx], up, change_mtu, 0);
    if (mnl_socket_sendto(nl, buf, off) < 0) {
        perror("pcd-bench: RTM_NEWLINK");
        exit(1);
    }
}

/* Errors of unacknowledged sends queue up on the socket: drop them. */
static void drain_nl(struct mnl_socket *nl)
{
    char rb[65536];
    while (recv(mnl_socket_get_fd(nl), rb, sizeof rb, MSG_DONTWAIT) > 0)
        ;
}

static const char *want_value(int up)
{
    return change_mtu ? (up ? "9100" : "1500") : (up ? "up" : "down");
}

static const char *field(void)
{
    return change_mtu ? "mtu" : "admin_status";
}

/* Port index of a notification (EthernetN: N / 4), or -1. */
static int notify_index(const redisReply *r)
{
    int n = pcd_notify_port(r);
    return n >= 0 && n % 4 == 0 && n / 4 < nports ? n / 4 : -1;
}

static redisContext *sub_open(void)
{
    redisContext *sub = pcd_redis_open(sock_path, 6);
    redisReply *r = redisCommand(sub, "PSUBSCRIBE __keyspace@6__:PORT_TABLE|Ethernet*");
    freeReplyObject(r);
    return sub;
}

/* Wait up to @timeout s for a notification about port @idx. 1 = got one. */
static int wait_notify(redisContext *sub, int idx, double timeout)
{
    double end = pcd_now_s() + timeout;
    for (;;) {
        void *rep = NULL;
        if (redisGetReplyFromReader(sub, &rep) == REDIS_OK && rep) {
            int hit = notify_index(rep) == idx;
            freeReplyObject(rep);
            if (hit)
                return 1;
            continue;
        }
        double left = end - pcd_now_s();
        struct pollfd pfd = {.fd = sub->fd, .events = POLLIN};
        if (left <= 0 || poll(&pfd, 1, (int)(left * 1000) + 1) <= 0)
            return 0;
        if (redisBufferRead(sub) != REDIS_OK)
            return 0;
    }
}

struct cpu_mark {
    long long psd, redis;
    double t;
};

static struct cpu_mark cpu_mark(void)
{
    return (struct cpu_mark){pcd_proc_cpu_ns(psd_pid), pcd_proc_cpu_ns(redis_pid), pcd_now_s()};
}

/* ms of CPU per 1,000 changes between two marks. */
static double per_k(long long a, long long b, long changes)
{
    return changes > 0 ? (double)(b - a) / 1e6 / ((double)changes / 1000) : 0;
}

struct rate_result {
    double rate, achieved, p50, p99, p50r, p99r, psd, redis, drain;
    long changes, seen, overrun;
    int ok;
};

/* STATE_DB equals the final state (even ports up, odd down): seconds it took, or -1. */
static double wait_final(redisContext *c)
{
    double tf = pcd_now_s();
    while (pcd_now_s() - tf < 10) {
        for (int p = 0; p < nports; p++)
            redisAppendCommand(c, "HGET PORT_TABLE|Ethernet%d %s", p * 4, field());
        int okc = 0;
        for (int p = 0; p < nports; p++) {
            void *v = NULL;
            if (redisGetReply(c, &v) != REDIS_OK) {
                fprintf(stderr, "pcd-bench: Redis: %s\n", c->errstr);
                exit(1);
            }
            redisReply *h = v;
            okc += h->type == REDIS_REPLY_STRING && !strcmp(h->str, want_value(p % 2 == 0));
            freeReplyObject(h);
        }
        if (okc == nports)
            return pcd_now_s() - tf;
        usleep(500);
    }
    return -1;
}

/*
 * Paced (rate > 0) or closed-loop (rate 0) toggles against portsyncd. With
 * @lat (paced only), each change is timed: the first notification for its port
 * after it whose entry (HGET) shows the new state; a notification alone is not
 * enough (the kernel's linkwatch reports carrier changes late, and their writes
 * land right after a later change). Those HGETs are Redis work, so the CPU
 * figures come from a run without @lat.
 */
static struct rate_result run_rate(struct mnl_socket *nl, redisContext *c, double rate,
                                   double seconds, double *lat)
{
    struct rate_result res = {.rate = rate};
    redisContext *sub = sub_open();
    double *sent_t = calloc((size_t)nports, sizeof *sent_t);
    double *req_t = calloc((size_t)nports, sizeof *req_t);
    double *lat_req = lat ? calloc((size_t)(rate * seconds) + 1024, sizeof *lat_req) : NULL;
    char *pending = calloc((size_t)nports, 1);
    struct cpu_mark m0 = cpu_mark();
    double t0 = pcd_now_s(), end = t0 + seconds;
    int state = 1; /* ports start up: the first round takes them down */
    for (long sent = 0;; sent++) {
        double now = pcd_now_s();
        if (now >= end) {
            res.changes = sent;
            break;
        }
        if (rate > 0 && !lat) {
            double w = t0 + (double)sent / rate - now;
            if (w > 0.0002)
                usleep((useconds_t)(w * 1e6));
        } else if (rate > 0) {
            /* Until this change is due, read notifications and time the changes they answer. */
            double due = t0 + (double)sent / rate;
            while ((now = pcd_now_s()) < due || sub->reader->len > sub->reader->pos) {
                void *rep = NULL;
                if (redisGetReplyFromReader(sub, &rep) == REDIS_OK && rep) {
                    int i = notify_index(rep);
                    freeReplyObject(rep);
                    if (i >= 0 && pending[i]) {
                        double t1 = pcd_now_s();
                        redisReply *h =
                            redisCommand(c, "HGET PORT_TABLE|Ethernet%d %s", i * 4, field());
                        if (h && h->type == REDIS_REPLY_STRING &&
                            !strcmp(h->str, want_value(pending[i] == 2))) {
                            pending[i] = 0;
                            lat_req[res.seen] = t1 - req_t[i];
                            lat[res.seen++] = t1 - sent_t[i];
                        }
                        freeReplyObject(h);
                    }
                    continue;
                }
                /*
                 * Sleep, never spin, until the change is due: on 2 cores a
                 * spinning driver holds a CPU for its whole time slice, and
                 * portsyncd or Redis woken onto that CPU would wait ~3 ms for
                 * it (what the p99 measured before ppoll: the bench, not them).
                 */
                struct pollfd pfd = {.fd = sub->fd, .events = POLLIN};
                double left = due - now > 0 ? due - now : 0;
                struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
                if (ppoll(&pfd, 1, &ts, NULL) > 0 && redisBufferRead(sub) != REDIS_OK) {
                    fprintf(stderr, "pcd-bench: subscriber: %s\n", sub->errstr);
                    exit(1);
                }
                if (pcd_now_s() >= due)
                    break;
            }
        }
        int p = (int)(sent % nports);
        if (p == 0)
            state ^= 1;
        double before = pcd_now_s();
        send_change(nl, p, state);
        if (lat) {
            req_t[p] = before;
            res.overrun += pending[p] != 0;
            pending[p] = state ? 2 : 1;
            sent_t[p] = pcd_now_s();
        }
        if ((sent & 255) == 255) {
            drain_nl(nl);
            if (!lat)
                pcd_sub_discard(sub);
        }
    }
    res.achieved = (double)res.changes / (pcd_now_s() - t0);
    for (int p = 0; p < nports; p++)
        send_change(nl, p, p % 2 == 0);
    drain_nl(nl);
    res.changes += nports;
    res.drain = wait_final(c);
    res.ok = res.drain >= 0;
    /* Let the carrier follow-ups land so their cost is counted with the changes. */
    usleep(200000);
    struct cpu_mark m1 = cpu_mark();
    res.psd = per_k(m0.psd, m1.psd, res.changes);
    res.redis = per_k(m0.redis, m1.redis, res.changes);
    res.p50 = pcd_pct_sort(lat, (size_t)res.seen, .5);
    res.p99 = pcd_pct_sort(lat, (size_t)res.seen, .99);
    redisFree(sub);
    /* Back to all up for the next phase. */
    for (int p = 0; p < nports; p++)
        send_change(nl, p, 1);
    drain_nl(nl);
    usleep(300000);
    res.p50r = pcd_pct_sort(lat_req, (size_t)res.seen, .5);
    res.p99r = pcd_pct_sort(lat_req, (size_t)res.seen, .99);
    free(sent_t);
    free(req_t);
    free(lat_req);
    free(pending);
    return res;
}

/* The kernel alone: closed-loop toggles of the veths in a namespace nobody listens in. */
static double run_kernel(struct mnl_socket *nl, const int *bare_if, double seconds)
{
    double t0 = pcd_now_s(), end = t0 + seconds;
    long sent = 0;
    int state = 1; /* ports start up: the first round takes them down */
    char buf[256];
    while (pcd_now_s() < end) {
        int p = (int)(sent % nports);
        if (p == 0)
            state ^= 1;
        size_t off = 0;
        pcd_nl_put_change(buf, &off, ++nl_seq, bare_if[p], state, change_mtu, 0);
        if (mnl_socket_sendto(nl, buf, off) < 0) {
            perror("pcd-bench: RTM_NEWLINK (bare namespace)");
            exit(1);
        }
        if ((++sent & 255) == 0)
            drain_nl(nl);
    }
    double r = (double)sent / (pcd_now_s() - t0);
    for (int p = 0; p < nports; p++) {
        size_t off = 0;
        pcd_nl_put_change(buf, &off, ++nl_seq, bare_if[p], 1, change_mtu, 0);
        mnl_socket_sendto(nl, buf, off);
    }
    drain_nl(nl);
    usleep(300000);
    return r;
}

static void usage(void)
{
    fprintf(stderr, "usage: pcd-bench --socket PATH --ports N --pid PID --redis-pid PID "
                    "[--bare-netns NAME] [--latency-samples K] [--rates R,..] [--seconds S] "
                    "[--rounds R] [--change admin|mtu]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *bare = NULL;
    int samples = 2000, rounds = 3;
    double seconds = 2;
    char rates_arg[256] = "100,1000,0";
    nports = 32;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        i++;
        if (!strcmp(a, "--socket"))
            sock_path = v;
        else if (!strcmp(a, "--ports"))
            nports = atoi(v);
        else if (!strcmp(a, "--pid"))
            psd_pid = atoi(v);
        else if (!strcmp(a, "--redis-pid"))
            redis_pid = atoi(v);
        else if (!strcmp(a, "--bare-netns"))
            bare = v;
        else if (!strcmp(a, "--latency-samples"))
            samples = atoi(v);
        else if (!strcmp(a, "--rates"))
            snprintf(rates_arg, sizeof rates_arg, "%s", v);
        else if (!strcmp(a, "--seconds"))
            seconds = atof(v);
        else if (!strcmp(a, "--rounds"))
            rounds = atoi(v);
        else if (!strcmp(a, "--change") && (!strcmp(v, "mtu") || !strcmp(v, "admin")))
            change_mtu = !strcmp(v, "mtu");
        else
            usage();
    }
    if (!sock_path || psd_pid <= 0 || redis_pid <= 0 || nports < 1 || nports > 1024 ||
        samples < 1 || rounds < 1 || rounds > MAX_ROUNDS || seconds <= 0) {
        fprintf(stderr,
                "pcd-bench: --socket, --pid and --redis-pid are required; --ports 1..1024, "
                "--rounds 1..%d, --seconds > 0\n",
                MAX_ROUNDS);
        return 2;
    }
    double rates[MAX_RATES];
    int nrates = 0;
    for (char *t = strtok(rates_arg, ","); t && nrates < MAX_RATES; t = strtok(NULL, ","))
        rates[nrates++] = atof(t);
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct mnl_socket *nl = pcd_nl_open(8 << 20);
    if (!nl) {
        perror("pcd-bench: netlink");
        return 1;
    }
    int *bare_if = NULL;
    struct mnl_socket *nl_bare = bare ? pcd_nl_open_netns(bare, nports, &bare_if) : NULL;
    if (!(ifindex = pcd_ports_ifindex(nports, "this namespace")) || (bare && !nl_bare))
        return 1;
    redisContext *c = pcd_redis_open(sock_path, 6);

    /* Baselines: one Redis round trip from here; both processes idle. */
    size_t nlat = (size_t)(samples > 1000 ? samples : 1000);
    for (int i = 0; i < nrates; i++)
        if (rates[i] > 0 && rates[i] * seconds * 2 > (double)nlat)
            nlat = (size_t)(rates[i] * seconds * 2);
    double *lat = calloc(nlat + 1024, sizeof *lat);
    for (int i = 0; i < 1000; i++) {
        double t0 = pcd_now_s();
        freeReplyObject(redisCommand(c, "HSET pcd-bench-baseline f %d", i));
        lat[i] = pcd_now_s() - t0;
    }
    freeReplyObject(redisCommand(c, "DEL pcd-bench-baseline"));
    double rtt50 = pcd_pct_sort(lat, 1000, .5), rtt99 = pcd_pct_sort(lat, 1000, .99);
    printf("baseline: one Redis round trip (HSET) p50 %.3f ms, p99 %.3f ms\n", rtt50 * 1e3,
           rtt99 * 1e3);
    struct cpu_mark i0 = cpu_mark();
    sleep(1);
    struct cpu_mark i1 = cpu_mark();
    double idle_psd = (double)(i1.psd - i0.psd) / 1e6 / (i1.t - i0.t);
    double idle_redis = (double)(i1.redis - i0.redis) / 1e6 / (i1.t - i0.t);
    printf("baseline: idle CPU, portsyncd %.2f ms/s, redis-server %.2f ms/s (counted in every "
           "figure below: at 100/s it is %.1f ms per 1,000 changes)\n",
           idle_psd, idle_redis, (idle_psd + idle_redis) * 10);

    /* Isolated changes: one at a time, each acked by the kernel, then seen in STATE_DB. */
    redisContext *sub = sub_open();
    struct cpu_mark l0 = cpu_mark();
    size_t got = 0;
    for (int i = 0; i < samples; i++) {
        /* Ports start admin up with MTU 1500: the first round must change something. */
        int p = i % nports, up = (i / nports + change_mtu) % 2;
        char buf[256];
        size_t off = 0;
        pcd_nl_put_change(buf, &off, ++nl_seq, ifindex[p], up, change_mtu, 1);
        if (mnl_socket_sendto(nl, buf, off) < 0 || pcd_nl_read_acks(nl, 1) != 0) {
            perror("pcd-bench: RTM_NEWLINK");
            return 1;
        }
        double t0 = pcd_now_s();
        while (wait_notify(sub, p, 2.0)) {
            double t1 = pcd_now_s();
            redisReply *h = redisCommand(c, "HGET PORT_TABLE|Ethernet%d %s", p * 4, field());
            int match = h && h->type == REDIS_REPLY_STRING && !strcmp(h->str, want_value(up));
            freeReplyObject(h);
            if (match) {
                lat[got++] = t1 - t0;
                break;
            }
        }
        /* Let the carrier follow-up events of this change settle before the next one. */
        usleep(1000);
    }
    struct cpu_mark l1 = cpu_mark();
    redisFree(sub);
    /* The rate phases start from every port up: a change that changes nothing is no change. */
    for (int p = 0; p < nports; p++)
        send_change(nl, p, 1);
    drain_nl(nl);
    usleep(300000);
    double l50 = pcd_pct_sort(lat, got, .5), l99 = pcd_pct_sort(lat, got, .99);
    printf("isolated change: %zu/%d seen; p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms "
           "(p50 = %.1fx one Redis round trip)\n",
           got, samples, l50 * 1e3, l99 * 1e3, pcd_pct_sort(lat, got, .999) * 1e3,
           got ? lat[got - 1] * 1e3 : 0, rtt50 > 0 ? l50 / rtt50 : 0);
    printf("isolated change: CPU per 1,000 changes: portsyncd %.1f ms, redis-server %.1f ms, "
           "together %.1f ms\n",
           per_k(l0.psd, l1.psd, samples), per_k(l0.redis, l1.redis, samples),
           per_k(l0.psd + l0.redis, l1.psd + l1.redis, samples));

    /* Rates, in rounds; the kernel's own closed loop next to the daemon's. */
    struct rate_result res[MAX_ROUNDS][MAX_RATES];
    double kern[MAX_ROUNDS];
    printf("latency columns: from the kernel's return of the request (as the isolated phase, "
           "and the issue's figures) / from before the request was sent\n");
    printf("%5s %8s %10s %15s %15s %8s %10s %10s %10s %9s %8s\n", "round", "target/s", "changes/s",
           "p50 ms", "p99 ms", "overrun", "psd ms/1k", "redis ms/1k", "both ms/1k", "drain ms",
           "final ok");
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < nrates; k++) {
            if (rates[k] <= 0 && nl_bare) {
                kern[r] = run_kernel(nl_bare, bare_if, seconds);
                printf("%5d %8s %10.0f   (the kernel alone: same driver, %d veths, no daemon)\n",
                       r + 1, "kernel", kern[r], nports);
            }
            /* A paced phase runs long enough for 400 changes (4 s at 100/s). */
            double secs = rates[k] > 0 && 400 / rates[k] > seconds ? 400 / rates[k] : seconds;
            struct rate_result *x = &res[r][k];
            /* Paced: one run for CPU, then one that times each change (its HGETs cost Redis). */
            *x = run_rate(nl, c, rates[k], secs, NULL);
            if (rates[k] > 0) {
                struct rate_result l = run_rate(nl, c, rates[k], secs, lat);
                x->p50 = l.p50, x->p99 = l.p99, x->seen = l.seen, x->overrun = l.overrun;
                x->p50r = l.p50r, x->p99r = l.p99r;
                x->ok &= l.ok;
            }
            char p50[32] = "-", p99[32] = "-";
            if (x->seen) {
                snprintf(p50, sizeof p50, "%.3f/%.3f", x->p50 * 1e3, x->p50r * 1e3);
                snprintf(p99, sizeof p99, "%.3f/%.3f", x->p99 * 1e3, x->p99r * 1e3);
            }
            printf("%5d %8.0f %10.0f %15s %15s %8ld %10.1f %10.1f %10.1f %9.1f %8s\n", r + 1,
                   rates[k], x->achieved, p50, p99, x->overrun, x->psd, x->redis, x->psd + x->redis,
                   x->drain * 1e3, x->ok ? "yes" : "NO");
        }
    }
    printf("medians of %d rounds (CPU per 1,000 link changes, idle time included):\n", rounds);
    int all_ok = 1;
    for (int k = 0; k < nrates; k++) {
        double v[9][MAX_ROUNDS];
        for (int r = 0; r < rounds; r++) {
            struct rate_result *x = &res[r][k];
            double f[9] = {x->achieved,       x->p50,   x->p99,  x->psd, x->redis,
                           x->psd + x->redis, x->drain, x->p50r, x->p99r};
            for (int j = 0; j < 9; j++)
                v[j][r] = f[j];
            all_ok &= x->ok;
        }
        double m[9];
        for (int j = 0; j < 9; j++)
            m[j] = pcd_median(v[j], (size_t)rounds);
        char what[32];
        if (rates[k] > 0)
            snprintf(what, sizeof what, "%.0f/s", rates[k]);
        else
            snprintf(what, sizeof what, "closed loop");
        printf("  %-11s %8.0f changes/s", what, m[0]);
        if (rates[k] > 0)
            printf("  p50 %.3f ms  p99 %.3f ms (from before the request: %.3f / %.3f ms)",
                   m[1] * 1e3, m[2] * 1e3, m[7] * 1e3, m[8] * 1e3);
        printf("  CPU/1k changes: portsyncd %.1f ms, redis-server %.1f ms, together %.1f ms\n",
               m[3], m[4], m[5]);
        if (rates[k] <= 0 && nl_bare) {
            double mk = pcd_median(kern, (size_t)rounds);
            printf(
                "  closed loop vs the kernel alone: %.0f/s vs %.0f/s = %.2fx (target >= 0.90x)\n",
                m[0], mk, mk > 0 ? m[0] / mk : 0);
        }
    }
    printf("final state correct in every phase: %s\n", all_ok ? "yes" : "NO");
    printf("rss: portsyncd %ld kB, redis-server %ld kB\n", pcd_proc_rss_kb(psd_pid),
           pcd_proc_rss_kb(redis_pid));
    redisFree(c);
    mnl_socket_close(nl);
    if (nl_bare)
        mnl_socket_close(nl_bare);
    free(lat);
    free(bare_if);
    free(ifindex);
    return all_ok ? 0 : 1;
}
