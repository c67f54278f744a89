/*
 * bench/pcd-burst.c - a burst of link changes at scale (a line card going
 * down, a peer switch reloading), measured against STATE_DB:
 *
 *   pcd-burst --socket REDIS_SOCK --ports N --burst B --threads T
 *             --pid PORTSYNCD_PID --redis-pid PID [--rounds R]
 *   pcd-burst --kernel-only --ports N --burst B --threads T [--rounds R]
 *
 * --kernel-only is the baseline: the same bursts with nothing measured but the
 * kernel's time, for a namespace where no daemon listens.
 *
 * Each round takes ports Ethernet0..Ethernet(4*(B-1)) admin down at once, then
 * up again. T threads (one rtnetlink socket each) start together; each sends
 * its share of the RTM_NEWLINK requests in one sendto (the kernel applies every
 * message of it before sendto returns, under rtnl_lock), then reads the acks.
 * `ip -batch` waits for an ack per message; this does not.
 *
 * Timed: the kernel's last change (the last sendto returning), and for every
 * port of the burst when STATE_DB shows its new admin_status (a keyspace
 * notification for it, then a pipelined HGET of every port notified in one read:
 * the time taken is the HGET's reply, an upper bound by at most one round trip).
 * Then, once the burst is in, every Ethernet port of the kernel (an RTM_GETLINK
 * dump) is compared with its STATE_DB entry: admin_status, netdev_oper_status
 * and mtu, "exact" when all N agree.
 */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pcd-util.h"

#define MAX_THREADS 16
#define MAX_ROUNDS  9

static int nports, nburst, nthreads;
static int *ifindex;

struct sender {
    pthread_t tid;
    struct mnl_socket *nl;
    int first, count, up, refused;
    double done;
};

static pthread_barrier_t go;

static void *sender_run(void *arg)
{
    struct sender *s = arg;
    size_t cap = (size_t)s->count * 64 + 256, off = 0;
    char *buf = malloc(cap);
    for (int i = 0; i < s->count; i++)
        pcd_nl_put_change(buf, &off, (unsigned)(s->first + i + 1), ifindex[s->first + i], s->up, 0,
                          1);
    pthread_barrier_wait(&go);
    if (mnl_socket_sendto(s->nl, buf, off) < 0) {
        perror("pcd-burst: sendto");
        exit(1);
    }
    s->done = pcd_now_s();
    s->refused = pcd_nl_read_acks(s->nl, s->count);
    free(buf);
    return NULL;
}

/* The kernel alone: one burst, no Redis; returns ms to the last sendto's return. */
static double run_kernel_burst(struct sender *s, int up)
{
    for (int t = 0; t < nthreads; t++) {
        s[t].up = up;
        pthread_create(&s[t].tid, NULL, sender_run, &s[t]);
    }
    pthread_barrier_wait(&go);
    double t0 = pcd_now_s(), last = t0;
    for (int t = 0; t < nthreads; t++) {
        pthread_join(s[t].tid, NULL);
        last = s[t].done > last ? s[t].done : last;
    }
    return (last - t0) * 1e3;
}

struct kstate {
    int admin, oper, mtu;
};

static int dump_attr(const struct nlattr *a, void *data)
{
    const struct nlattr **tb = data;
    int t = mnl_attr_get_type(a);
    if (t <= IFLA_MAX)
        tb[t] = a;
    return MNL_CB_OK;
}

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
    struct kstate *ks = data;
    const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
    const struct nlattr *tb[IFLA_MAX + 1] = {0};
    mnl_attr_parse(nlh, sizeof *ifi, dump_attr, tb);
    if (!tb[IFLA_IFNAME] || !tb[IFLA_MTU])
        return MNL_CB_OK;
    int n;
    char tail;
    if (sscanf(mnl_attr_get_str(tb[IFLA_IFNAME]), "Ethernet%d%c", &n, &tail) != 1 || n % 4 ||
        n / 4 >= nports)
        return MNL_CB_OK;
    ks[n / 4] = (struct kstate){!!(ifi->ifi_flags & IFF_UP), !!(ifi->ifi_flags & IFF_RUNNING),
                                (int)mnl_attr_get_u32(tb[IFLA_MTU])};
    return MNL_CB_OK;
}

/* The kernel's view of every port, through an RTM_GETLINK dump. */
static void kernel_dump(struct mnl_socket *nl, struct kstate *ks)
{
    static char buf[32768];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETLINK;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = 777777;
    struct rtgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof *g);
    g->rtgen_family = AF_UNSPEC;
    memset(ks, 0xff, sizeof *ks * (size_t)nports);
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
        perror("pcd-burst: RTM_GETLINK");
        exit(1);
    }
    unsigned portid = mnl_socket_get_portid(nl);
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof buf);
        if (n < 0) {
            perror("pcd-burst: RTM_GETLINK dump");
            exit(1);
        }
        int rc = mnl_cb_run(buf, (size_t)n, 777777, portid, dump_cb, ks);
        if (rc <= MNL_CB_STOP)
            break;
    }
}

/* Ports whose STATE_DB entry differs from the kernel's; prints the first few. */
static int compare_all(redisContext *c, const struct kstate *ks)
{
    for (int p = 0; p < nports; p++)
        redisAppendCommand(c, "HMGET PORT_TABLE|Ethernet%d admin_status netdev_oper_status mtu",
                           p * 4);
    int bad = 0;
    for (int p = 0; p < nports; p++) {
        void *v;
        if (redisGetReply(c, &v) != REDIS_OK) {
            fprintf(stderr, "pcd-burst: Redis: %s\n", c->errstr);
            exit(1);
        }
        redisReply *r = v;
        char want_mtu[16];
        snprintf(want_mtu, sizeof want_mtu, "%d", ks[p].mtu);
        const char *want[3] = {ks[p].admin ? "up" : "down", ks[p].oper ? "up" : "down", want_mtu};
        int ok = ks[p].admin >= 0 && r->type == REDIS_REPLY_ARRAY && r->elements == 3;
        for (int j = 0; ok && j < 3; j++)
            ok = r->element[j]->type == REDIS_REPLY_STRING && !strcmp(r->element[j]->str, want[j]);
        if (!ok && bad++ < 3)
            fprintf(stderr,
                    "pcd-burst: Ethernet%d: STATE_DB differs from the kernel (admin %s, "
                    "oper %s, mtu %s expected)\n",
                    p * 4, want[0], want[1], want[2]);
        freeReplyObject(r);
    }
    return bad;
}

struct burst_result {
    double kernel_ms, last_ms, trail_ms, exact_ms, psd, redis;
    int seen, mismatched;
};

static struct burst_result run_burst(struct sender *s, redisContext *c, struct mnl_socket *dump,
                                     const char *sock, int up, int psd_pid, int redis_pid)
{
    struct burst_result res = {0};
    redisContext *sub = pcd_redis_open(sock, 6);
    freeReplyObject(redisCommand(sub, "PSUBSCRIBE __keyspace@6__:PORT_TABLE|Ethernet*"));
    double *seen = calloc((size_t)nburst, sizeof *seen);
    int *ask = malloc(sizeof *ask * (size_t)nburst);
    /* Read round in which a port was last asked for: one HGET per port per read. */
    unsigned *asked = calloc((size_t)nburst, sizeof *asked);
    unsigned reads = 0;
    long long p0 = pcd_proc_cpu_ns(psd_pid), r0 = pcd_proc_cpu_ns(redis_pid);
    for (int t = 0; t < nthreads; t++) {
        s[t].up = up;
        pthread_create(&s[t].tid, NULL, sender_run, &s[t]);
    }
    pthread_barrier_wait(&go);
    double t0 = pcd_now_s();
    const char *want = up ? "up" : "down";
    while (res.seen < nburst && pcd_now_s() - t0 < 10) {
        struct pollfd pfd = {.fd = sub->fd, .events = POLLIN};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        if (redisBufferRead(sub) != REDIS_OK) {
            fprintf(stderr, "pcd-burst: subscriber: %s\n", sub->errstr);
            exit(1);
        }
        int nask = 0;
        void *rep;
        reads++;
        while (redisGetReplyFromReader(sub, &rep) == REDIS_OK && rep) {
            int n = pcd_notify_port(rep);
            freeReplyObject(rep);
            if (n >= 0 && n % 4 == 0 && n / 4 < nburst && !seen[n / 4] && asked[n / 4] != reads) {
                asked[n / 4] = reads;
                ask[nask++] = n / 4;
            }
        }
        for (int i = 0; i < nask; i++)
            redisAppendCommand(c, "HGET PORT_TABLE|Ethernet%d admin_status", ask[i] * 4);
        for (int i = 0; i < nask; i++) {
            void *v;
            if (redisGetReply(c, &v) != REDIS_OK) {
                fprintf(stderr, "pcd-burst: Redis: %s\n", c->errstr);
                exit(1);
            }
            redisReply *h = v;
            double now = pcd_now_s();
            if (h->type == REDIS_REPLY_STRING && !strcmp(h->str, want) && !seen[ask[i]]) {
                seen[ask[i]] = now;
                res.seen++;
            }
            freeReplyObject(h);
        }
    }
    double klast = 0, last = 0;
    for (int t = 0; t < nthreads; t++) {
        pthread_join(s[t].tid, NULL);
        if (s[t].refused)
            fprintf(stderr, "pcd-burst: the kernel refused %d changes\n", s[t].refused);
        klast = s[t].done > klast ? s[t].done : klast;
    }
    for (int i = 0; i < nburst; i++)
        last = seen[i] > last ? seen[i] : last;
    res.kernel_ms = (klast - t0) * 1e3;
    res.last_ms = (last - t0) * 1e3;
    res.trail_ms = (last - klast) * 1e3;
    /* Exact: every port of the kernel equals STATE_DB (carrier follow-ups included). */
    struct kstate *ks = malloc(sizeof *ks * (size_t)nports);
    double te = pcd_now_s();
    do {
        kernel_dump(dump, ks);
        res.mismatched = compare_all(c, ks);
        if (!res.mismatched)
            break;
        usleep(2000);
    } while (pcd_now_s() - te < 5);
    res.exact_ms = (pcd_now_s() - t0) * 1e3;
    usleep(200000);
    long changes = nburst;
    res.psd = (double)(pcd_proc_cpu_ns(psd_pid) - p0) / 1e6 / ((double)changes / 1000);
    res.redis = (double)(pcd_proc_cpu_ns(redis_pid) - r0) / 1e6 / ((double)changes / 1000);
    free(ks);
    free(seen);
    free(ask);
    free(asked);
    redisFree(sub);
    return res;
}

int main(int argc, char **argv)
{
    const char *sock = NULL;
    int psd_pid = 0, redis_pid = 0, rounds = 3, kernel_only = 0;
    nports = 512, nburst = 256, nthreads = 4;
    if (argc > 1 && !strcmp(argv[1], "--kernel-only")) {
        kernel_only = 1;
        argv++;
        argc--;
    }
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--socket"))
            sock = v;
        else if (!strcmp(a, "--ports"))
            nports = atoi(v);
        else if (!strcmp(a, "--burst"))
            nburst = atoi(v);
        else if (!strcmp(a, "--threads"))
            nthreads = atoi(v);
        else if (!strcmp(a, "--pid"))
            psd_pid = atoi(v);
        else if (!strcmp(a, "--redis-pid"))
            redis_pid = atoi(v);
        else if (!strcmp(a, "--rounds"))
            rounds = atoi(v);
        else
            argc = 0;
    }
    if (argc % 2 == 0 || (!kernel_only && (!sock || psd_pid <= 0 || redis_pid <= 0)) ||
        nports < 1 || nports > 4096 || nburst < 1 || nburst > nports || nthreads < 1 ||
        nthreads > MAX_THREADS || rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr,
                "usage: pcd-burst --socket PATH --pid PID --redis-pid PID [--ports N "
                "(1..4096, 512)] [--burst B (1..N, 256)] [--threads T (1..%d, 4)] "
                "[--rounds R (1..%d, 3)]\n",
                MAX_THREADS, MAX_ROUNDS);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!(ifindex = pcd_ports_ifindex(nports, "this namespace")))
        return 1;
    struct sender s[MAX_THREADS];
    for (int t = 0; t < nthreads; t++) {
        s[t] = (struct sender){.first = nburst * t / nthreads};
        s[t].count = nburst * (t + 1) / nthreads - s[t].first;
        if (!(s[t].nl = pcd_nl_open(1 << 20))) {
            perror("pcd-burst: netlink");
            return 1;
        }
    }
    pthread_barrier_init(&go, NULL, (unsigned)nthreads + 1);
    if (kernel_only) {
        double k[2][MAX_ROUNDS];
        for (int r = 0; r < rounds; r++)
            for (int up = 0; up < 2; up++) {
                usleep(300000);
                k[up][r] = run_kernel_burst(s, up);
            }
        printf("the kernel alone (no daemon listening): %d of %d ports, %d netlink sockets: "
               "median down %.2f ms, up %.2f ms (%d rounds)\n",
               nburst, nports, nthreads, pcd_median(k[0], (size_t)rounds),
               pcd_median(k[1], (size_t)rounds), rounds);
        for (int t = 0; t < nthreads; t++)
            mnl_socket_close(s[t].nl);
        free(ifindex);
        return 0;
    }
    struct mnl_socket *dump = pcd_nl_open(4 << 20);
    redisContext *c = pcd_redis_open(sock, 6);
    struct kstate *ks = malloc(sizeof *ks * (size_t)nports);
    kernel_dump(dump, ks);
    if (compare_all(c, ks)) {
        fprintf(stderr, "pcd-burst: STATE_DB does not equal the kernel before the first burst\n");
        return 1;
    }
    free(ks);
    printf("burst: %d of %d ports, %d netlink sockets sending at once\n", nburst, nports, nthreads);
    printf("%5s %5s %10s %12s %12s %10s %8s %10s %10s\n", "round", "dir", "kernel ms",
           "last in DB ms", "after kernel", "exact ms", "ports ok", "psd ms/1k", "redis ms/1k");
    double v[2][5][MAX_ROUNDS];
    int bad = 0;
    for (int r = 0; r < rounds; r++) {
        for (int up = 0; up < 2; up++) {
            usleep(500000);
            struct burst_result x = run_burst(s, c, dump, sock, up, psd_pid, redis_pid);
            printf("%5d %5s %10.2f %12.2f %12.2f %10.2f %8d %10.1f %10.1f%s\n", r + 1,
                   up ? "up" : "down", x.kernel_ms, x.last_ms, x.trail_ms, x.exact_ms,
                   nports - x.mismatched, x.psd, x.redis, x.seen == nburst ? "" : "  MISSING");
            bad += x.mismatched || x.seen != nburst;
            double f[5] = {x.kernel_ms, x.last_ms, x.trail_ms, x.psd, x.redis};
            for (int j = 0; j < 5; j++)
                v[up][j][r] = f[j];
        }
    }
    for (int up = 0; up < 2; up++) {
        double m[5];
        for (int j = 0; j < 5; j++)
            m[j] = pcd_median(v[up][j], (size_t)rounds);
        printf("median %s: the kernel takes %.2f ms, the last port is in STATE_DB %.2f ms after "
               "the start = %.2f ms after the kernel's last change (target <= 5 ms); CPU per "
               "1,000 changes: portsyncd %.1f ms, redis-server %.1f ms\n",
               up ? "up  " : "down", m[0], m[1], m[2], m[3], m[4]);
    }
    printf("every port exact after every burst: %s\n", bad ? "NO" : "yes");
    for (int t = 0; t < nthreads; t++)
        mnl_socket_close(s[t].nl);
    mnl_socket_close(dump);
    redisFree(c);
    pthread_barrier_destroy(&go);
    free(ifindex);
    return bad ? 1 : 0;
}
