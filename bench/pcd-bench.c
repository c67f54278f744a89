/*
 * bench/pcd-bench.c - drives link changes through netlink and watches STATE_DB
 * through keyspace notifications, to measure portsyncd from the outside.
 * Run inside the namespace that holds the ports (bench/portsyncd-bench.sh sets
 * everything up):
 *
 *   pcd-bench --socket REDIS_SOCK --ports N --pid PORTSYNCD_PID --shm-name SEG
 *             [--latency-samples K] [--rates R1,R2,...] [--seconds S]
 *
 * Latency: toggle EthernetX's admin state (or MTU, --change mtu) with RTM_NEWLINK, take t0 when the
 * kernel acknowledges it, t1 when the keyspace notification for
 * STATE_DB PORT_TABLE|EthernetX arrives and the entry shows the new state.
 * Rate: toggle ports round-robin at a paced rate for S seconds without waiting,
 * then set a known final state and time how long STATE_DB takes to equal it.
 * Baseline in the same run: one Redis round trip (HSET) from this client.
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

static struct mnl_socket *nl;
static unsigned nl_portid;
static uint32_t nl_seq = 1;

/* What a "change" is: admin state (IFF_UP, the default) or MTU (1500 <-> 9100). */
static int change_mtu;

/*
 * Send RTM_NEWLINK setting IFF_UP on @ifindex to @up (or, with --change mtu, the
 * MTU to 9100 for up and 1500 for down); wait for the ack if @ack.
 */
static int set_admin(int ifindex, int up, int ack)
{
    char buf[256];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_NEWLINK;
    nlh->nlmsg_flags = NLM_F_REQUEST | (ack ? NLM_F_ACK : 0);
    nlh->nlmsg_seq = ++nl_seq;
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
    ifi->ifi_index = ifindex;
    if (change_mtu) {
        mnl_attr_put_u32(nlh, IFLA_MTU, up ? 9100 : 1500);
    } else {
        ifi->ifi_change = IFF_UP;
        ifi->ifi_flags = up ? IFF_UP : 0;
    }
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
        return -1;
    if (!ack)
        return 0;
    char rb[8192];
    ssize_t n = mnl_socket_recvfrom(nl, rb, sizeof rb);
    if (n < 0)
        return -1;
    return mnl_cb_run(rb, (size_t)n, nl_seq, nl_portid, NULL, NULL) < 0 ? -1 : 0;
}

/* Drain pending acks/errors of unacknowledged sends (the socket is non-blocking). */
static void drain_nl(void)
{
    char rb[65536];
    while (recv(mnl_socket_get_fd(nl), rb, sizeof rb, MSG_DONTWAIT) > 0)
        ;
}

static redisContext *rc_connect(const char *sock)
{
    redisContext *c = redisConnectUnix(sock);
    if (!c || c->err) {
        fprintf(stderr, "pcd-bench: cannot connect to %s\n", sock);
        exit(1);
    }
    redisReply *r = redisCommand(c, "SELECT 6");
    freeReplyObject(r);
    return c;
}

static long proc_cpu_ticks(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (long)(ut + st);
}

static long proc_rss_kb(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

/* events_processed_total from the segment, via portsyncd-shmdump. */
static double events_processed(const char *dump, const char *seg)
{
    char cmd[512], line[256];
    snprintf(cmd, sizeof cmd, "%s --name %s --format prometheus", dump, seg);
    FILE *p = popen(cmd, "r");
    double v = -1;
    while (p && fgets(line, sizeof line, p))
        if (sscanf(line, "portsyncd_events_processed_total %lf", &v) == 1)
            break;
    if (p)
        pclose(p);
    return v;
}

/* Wait for a keyspace message on @sub about @key, up to @timeout s. 1 = got one. */
static int wait_notify(redisContext *sub, const char *key, double timeout)
{
    double end = now_s() + timeout;
    for (;;) {
        double left = end - now_s();
        if (left <= 0)
            return 0;
        struct pollfd pfd = {.fd = sub->fd, .events = POLLIN};
        void *rep = NULL;
        if (redisGetReplyFromReader(sub, &rep) == REDIS_OK && rep) {
            redisReply *r = rep;
            int hit = r->type == REDIS_REPLY_ARRAY && r->elements == 4 &&
                      strstr(r->element[2]->str, key) &&
                      strlen(strstr(r->element[2]->str, key)) == strlen(key);
            freeReplyObject(rep);
            if (hit)
                return 1;
            continue;
        }
        if (poll(&pfd, 1, (int)(left * 1000) + 1) <= 0)
            return 0;
        if (redisBufferRead(sub) != REDIS_OK)
            return 0;
    }
}

/* Discard every notification already received, without blocking. */
static void drain_sub(redisContext *sub)
{
    void *rep;
    struct pollfd pfd = {.fd = sub->fd, .events = POLLIN};
    while (poll(&pfd, 1, 0) > 0 && redisBufferRead(sub) == REDIS_OK)
        ;
    while (redisGetReplyFromReader(sub, &rep) == REDIS_OK && rep)
        freeReplyObject(rep);
}

int main(int argc, char **argv)
{
    const char *sock = NULL, *seg = "portsyncd-metrics", *dump = "portsyncd-shmdump";
    int ports = 32, pid = 0, samples = 2000;
    double seconds = 2;
    char rates[256] = "1000,2000,5000,10000,20000,40000,0";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--socket") && i + 1 < argc)
            sock = argv[++i];
        else if (!strcmp(argv[i], "--ports") && i + 1 < argc)
            ports = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--pid") && i + 1 < argc)
            pid = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--shm-name") && i + 1 < argc)
            seg = argv[++i];
        else if (!strcmp(argv[i], "--shmdump") && i + 1 < argc)
            dump = argv[++i];
        else if (!strcmp(argv[i], "--latency-samples") && i + 1 < argc)
            samples = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rates") && i + 1 < argc)
            snprintf(rates, sizeof rates, "%s", argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--change") && i + 1 < argc && !strcmp(argv[i + 1], "mtu"))
            change_mtu = 1, i++;
        else if (!strcmp(argv[i], "--change") && i + 1 < argc && !strcmp(argv[i + 1], "admin"))
            change_mtu = 0, i++;
        else {
            fprintf(stderr, "usage: pcd-bench --socket PATH --ports N --pid PID --shm-name SEG "
                            "[--shmdump PATH] [--latency-samples K] [--rates R,..] [--seconds S] "
                            "[--change admin|mtu]\n");
            return 2;
        }
    }
    if (!sock || !pid || ports < 1 || ports > 1024 || samples < 1) {
        fprintf(stderr, "pcd-bench: --socket, --pid and 1..1024 --ports are required\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    nl = mnl_socket_open(NETLINK_ROUTE);
    if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        perror("pcd-bench: netlink");
        return 1;
    }
    nl_portid = mnl_socket_get_portid(nl);
    int *ifindex = calloc((size_t)ports, sizeof *ifindex);
    char name[IFNAMSIZ];
    for (int i = 0; i < ports; i++) {
        snprintf(name, sizeof name, "Ethernet%d", i * 4);
        ifindex[i] = (int)if_nametoindex(name);
        if (!ifindex[i]) {
            fprintf(stderr, "pcd-bench: no netdev %s in this namespace\n", name);
            return 1;
        }
    }
    redisContext *c = rc_connect(sock), *sub = rc_connect(sock);
    redisReply *r = redisCommand(sub, "PSUBSCRIBE __keyspace@6__:PORT_TABLE|Ethernet*");
    freeReplyObject(r);

    /* Baseline: one Redis round trip from here. */
    double *lat = calloc((size_t)(samples > 1000 ? samples : 1000), sizeof *lat);
    for (int i = 0; i < 1000; i++) {
        double t0 = now_s();
        freeReplyObject(redisCommand(c, "HSET pcd-bench-baseline f %d", i));
        lat[i] = now_s() - t0;
    }
    freeReplyObject(redisCommand(c, "DEL pcd-bench-baseline"));
    qsort(lat, 1000, sizeof *lat, cmp_double);
    double rtt50 = pct(lat, 1000, .5), rtt99 = pct(lat, 1000, .99);
    printf("baseline: one Redis round trip (HSET) p50 %.3f ms, p99 %.3f ms\n", rtt50 * 1e3,
           rtt99 * 1e3);

    /* Latency: one change at a time. */
    long cpu0 = proc_cpu_ticks(pid);
    double ev0 = events_processed(dump, seg);
    size_t got = 0;
    for (int i = 0; i < samples; i++) {
        /* Ports start admin up with MTU 1500: the first round must change something. */
        int p = i % ports, up = (i / ports + change_mtu) % 2;
        char key[64];
        snprintf(key, sizeof key, "PORT_TABLE|Ethernet%d", p * 4);
        if (set_admin(ifindex[p], up, 1) != 0) {
            perror("pcd-bench: RTM_NEWLINK");
            return 1;
        }
        double t0 = now_s();
        const char *want = change_mtu ? (up ? "9100" : "1500") : (up ? "up" : "down");
        const char *field = change_mtu ? "mtu" : "admin_status";
        for (;;) {
            if (!wait_notify(sub, key, 2.0))
                break;
            double t1 = now_s();
            redisReply *h = redisCommand(c, "HGET %s %s", key, field);
            int match = h && h->type == REDIS_REPLY_STRING && strcmp(h->str, want) == 0;
            freeReplyObject(h);
            if (match) {
                lat[got++] = t1 - t0;
                break;
            }
        }
        /* Let the carrier follow-up events of this change settle before the next one. */
        usleep(1000);
        drain_sub(sub);
    }
    long cpu1 = proc_cpu_ticks(pid);
    double ev1 = events_processed(dump, seg);
    qsort(lat, got, sizeof *lat, cmp_double);
    double hz = (double)sysconf(_SC_CLK_TCK);
    printf("latency: %zu/%d changes seen; p50 %.3f ms, p99 %.3f ms, p999 %.3f ms, max %.3f ms "
           "(p50 = %.1fx one Redis round trip)\n",
           got, samples, pct(lat, got, .5) * 1e3, pct(lat, got, .99) * 1e3,
           pct(lat, got, .999) * 1e3, lat[got ? got - 1 : 0] * 1e3, pct(lat, got, .5) / rtt50);
    if (ev1 > ev0)
        printf("cpu (latency phase): %.1f ms per 1000 events (%.0f events)\n",
               (double)(cpu1 - cpu0) / hz * 1e3 / ((ev1 - ev0) / 1000), ev1 - ev0);

    /* Rate: paced changes round-robin, no waiting; then a known final state. */
    int fd = mnl_socket_get_fd(nl);
    int bufsz = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof bufsz);
    printf("%10s %10s %10s %12s %10s %10s\n", "target/s", "achieved/s", "events", "cpu ms/1k ev",
           "drain ms", "final ok");
    for (char *tok = strtok(rates, ","); tok; tok = strtok(NULL, ",")) {
        double rate = atof(tok);
        long c0 = proc_cpu_ticks(pid);
        double e0 = events_processed(dump, seg);
        double t0 = now_s(), end = t0 + seconds;
        long sent = 0;
        int state = 0;
        while (now_s() < end) {
            if (rate > 0) {
                double due = t0 + (double)sent / rate;
                double w = due - now_s();
                if (w > 0.0002)
                    usleep((useconds_t)(w * 1e6));
            }
            int p = (int)(sent % ports);
            if (p == 0)
                state ^= 1;
            set_admin(ifindex[p], state, 0);
            sent++;
            if ((sent & 255) == 0)
                drain_nl();
        }
        double achieved = (double)sent / (now_s() - t0);
        /* Final state: even ports up, odd ports down; time until STATE_DB agrees. */
        for (int p = 0; p < ports; p++)
            set_admin(ifindex[p], p % 2 == 0, 0);
        drain_nl();
        double tf = now_s(), drained = -1;
        while (now_s() - tf < 10) {
            int okc = 0;
            for (int p = 0; p < ports; p++) {
                redisReply *h = redisCommand(c, "HGET PORT_TABLE|Ethernet%d %s", p * 4,
                                             change_mtu ? "mtu" : "admin_status");
                const char *want =
                    change_mtu ? (p % 2 == 0 ? "9100" : "1500") : (p % 2 == 0 ? "up" : "down");
                okc += h && h->type == REDIS_REPLY_STRING && strcmp(h->str, want) == 0;
                freeReplyObject(h);
            }
            if (okc == ports) {
                drained = now_s() - tf;
                break;
            }
            usleep(500);
        }
        usleep(200000);
        long c1 = proc_cpu_ticks(pid);
        double e1 = events_processed(dump, seg);
        printf("%10.0f %10.0f %10.0f %12.1f %10.1f %10s\n", rate, achieved, e1 - e0,
               e1 > e0 ? (double)(c1 - c0) / hz * 1e3 / ((e1 - e0) / 1000) : 0.0, drained * 1e3,
               drained >= 0 ? "yes" : "NO");
        fflush(stdout);
        /* Back to all up for the next rate. */
        for (int p = 0; p < ports; p++)
            set_admin(ifindex[p], 1, 0);
        drain_nl();
        usleep(300000);
        drain_sub(sub);
    }
    printf("rss: portsyncd %ld kB\n", proc_rss_kb(pid));
    return 0;
}
