/*
 * bench/pcd-util.c - see pcd-util.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pcd-util.h"

double pcd_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double pcd_pct_sort(double *v, size_t n, double p)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

double pcd_median(double *v, size_t n)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

long long pcd_proc_cpu_ns(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    long long sum = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[300];
        snprintf(p, sizeof p, "/proc/%d/task/%s/schedstat", pid, e->d_name);
        FILE *f = fopen(p, "r");
        long long ns = 0;
        if (f && fscanf(f, "%lld", &ns) == 1)
            sum += ns;
        if (f)
            fclose(f);
    }
    closedir(d);
    return sum;
}

long pcd_proc_rss_kb(int pid)
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

struct mnl_socket *pcd_nl_open(int rcvbuf)
{
    struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
    if (!nl)
        return NULL;
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        int e = errno;
        mnl_socket_close(nl);
        errno = e;
        return NULL;
    }
    if (rcvbuf > 0)
        setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    return nl;
}

int *pcd_ports_ifindex(int n, const char *where)
{
    int *ix = calloc((size_t)n, sizeof *ix);
    for (int i = 0; ix && i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "Ethernet%d", i * 4);
        if (!(ix[i] = (int)if_nametoindex(name))) {
            fprintf(stderr, "pcd-bench: no netdev %s in %s\n", name, where);
            free(ix);
            return NULL;
        }
    }
    return ix;
}

struct mnl_socket *pcd_nl_open_netns(const char *name, int n, int **ifindex)
{
    char path[300], where[300];
    snprintf(path, sizeof path, "/run/netns/%s", name);
    snprintf(where, sizeof where, "namespace %s", name);
    int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int other = open(path, O_RDONLY | O_CLOEXEC);
    struct mnl_socket *nl = NULL;
    if (self < 0 || other < 0 || setns(other, CLONE_NEWNET) < 0) {
        fprintf(stderr, "pcd-bench: namespace %s: %s (expected one made by ip netns add)\n", name,
                strerror(errno));
    } else {
        /* Sockets keep the namespace they were made in: open it, then go back. */
        nl = pcd_nl_open(0);
        *ifindex = nl ? pcd_ports_ifindex(n, where) : NULL;
        if (!nl)
            perror("pcd-bench: netlink in the namespace");
        if (setns(self, CLONE_NEWNET) < 0) {
            perror("pcd-bench: back to our namespace");
            exit(1);
        }
        if (nl && !*ifindex) {
            mnl_socket_close(nl);
            nl = NULL;
        }
    }
    if (self >= 0)
        close(self);
    if (other >= 0)
        close(other);
    return nl;
}

void pcd_nl_put_change(char *buf, size_t *off, unsigned seq, int ifindex, int up, int mtu, int ack)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf + *off);
    nlh->nlmsg_type = RTM_NEWLINK;
    nlh->nlmsg_flags = NLM_F_REQUEST | (ack ? NLM_F_ACK : 0);
    nlh->nlmsg_seq = seq;
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
    ifi->ifi_index = ifindex;
    if (mtu) {
        mnl_attr_put_u32(nlh, IFLA_MTU, up ? 9100 : 1500);
    } else {
        ifi->ifi_change = IFF_UP;
        ifi->ifi_flags = up ? IFF_UP : 0;
    }
    *off += NLMSG_ALIGN(nlh->nlmsg_len);
}

int pcd_nl_read_acks(struct mnl_socket *nl, int want)
{
    char rb[16384];
    int got = 0, refused = 0;
    while (got < want) {
        ssize_t n = mnl_socket_recvfrom(nl, rb, sizeof rb);
        if (n < 0)
            return -1;
        for (struct nlmsghdr *h = (struct nlmsghdr *)rb; mnl_nlmsg_ok(h, (int)n);
             h = mnl_nlmsg_next(h, (int *)&n)) {
            if (h->nlmsg_type != NLMSG_ERROR)
                continue;
            const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
            got++;
            refused += e->error != 0;
        }
    }
    return refused;
}

redisContext *pcd_redis_open(const char *sock, int db)
{
    redisContext *c = redisConnectUnix(sock);
    if (!c || c->err) {
        fprintf(stderr, "pcd-bench: cannot connect to Redis at %s: %s\n", sock,
                c ? c->errstr : "out of memory");
        exit(1);
    }
    redisReply *r = redisCommand(c, "SELECT %d", db);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "pcd-bench: SELECT %d on %s failed\n", db, sock);
        exit(1);
    }
    freeReplyObject(r);
    return c;
}

int pcd_notify_port(const redisReply *r)
{
    static const char pfx[] = "PORT_TABLE|Ethernet";
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
        r->element[2]->type != REDIS_REPLY_STRING)
        return -1;
    const char *k = strstr(r->element[2]->str, pfx);
    if (!k)
        return -1;
    char *end;
    long n = strtol(k + sizeof pfx - 1, &end, 10);
    return *end || n < 0 || n > 1 << 20 ? -1 : (int)n;
}

size_t pcd_sub_discard(redisContext *sub)
{
    char b[65536];
    size_t total = 0;
    ssize_t n;
    while ((n = recv(sub->fd, b, sizeof b, MSG_DONTWAIT)) > 0)
        total += (size_t)n;
    return total;
}
