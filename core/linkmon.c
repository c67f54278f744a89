/*
 * core/linkmon.c - the netlink reader thread (see linkmon.h).
 *
 * One socket carries both the RTNLGRP_LINK multicast and our dump replies; dump
 * replies carry our sequence number, multicasts carry 0. A dump is how we
 * (re)learn the kernel's whole state: at start, after ENOBUFS (the kernel
 * dropped messages for us), after a full queue, after Redis comes back. When a
 * dump ends, every port we believed present that the dump did not list gets a
 * synthetic DELLINK, so the databases end equal to the kernel.
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <net/if.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "linkmon.h"
#include "log.h"
#include "netlink.h"

struct pcd_port {
    char name[IFNAMSIZ];
    int ifindex;
    int oper; /* 1 up, 0 down, -1 unknown */
    int present;
    uint32_t seen; /* dump generation that last listed it */
    psm_counter_t *flaps;
    psm_gauge_t *oper_g;
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static struct pcd_port *port_get(struct pcd_linkmon *lm, const char *name)
{
    for (uint32_t i = 0; i < lm->nports; i++)
        if (strcmp(lm->ports[i].name, name) == 0)
            return &lm->ports[i];
    if (lm->nports == lm->cap_ports) {
        uint32_t cap = lm->cap_ports ? lm->cap_ports * 2 : 64;
        struct pcd_port *p = realloc(lm->ports, cap * sizeof *p);
        if (!p)
            return NULL;
        lm->ports = p;
        lm->cap_ports = cap;
    }
    struct pcd_port *p = &lm->ports[lm->nports++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->oper = -1;
    p->flaps = pcd_metrics_port_flaps(lm->m, name);
    p->oper_g = pcd_metrics_port_oper(lm->m, name);
    return p;
}

static int is_old(const struct pcd_linkmon *lm, const struct pcd_link *l)
{
    for (uint32_t i = 0; i < lm->nold; i++)
        if (lm->old[i].ifindex == l->ifindex && strcmp(lm->old[i].name, l->name) == 0)
            return 1;
    return 0;
}

static void ignore(struct pcd_linkmon *lm, enum pcd_ignore_reason why)
{
    psm_counter_inc(lm->m->ignored[why]);
    psm_counter_inc(lm->m->events_processed);
}

static void enqueue(struct pcd_linkmon *lm, const struct pcd_link *l, uint64_t t)
{
    int rc = pcd_queue_push(lm->q, l, t);
    if (rc == 1)
        psm_counter_inc(lm->m->events_coalesced);
    if (rc < 0) {
        /* More distinct ports pending than the queue holds: a dump will restate them. */
        pcd_warn("queue full (%u ports pending): dropping the event for %s, will resync",
                 lm->q->cap, l->name);
        psm_counter_inc(lm->m->events_failed);
        pcd_linkmon_resync(lm, PCD_RESYNC_QUEUE_FULL);
    }
    psm_gauge_set(lm->m->queue_depth, (double)pcd_queue_pending(lm->q));
}

/* SONiC's filters, in SONiC's order; then flap accounting and the queue. */
static void handle_link(struct pcd_linkmon *lm, const struct pcd_link *l, int from_dump, uint64_t t)
{
    if (!has_prefix(l->name, "Ethernet") && !has_prefix(l->name, "PortChannel"))
        return ignore(lm, PCD_IGN_NAME);
    if (strcmp(l->kind, "team") == 0)
        return ignore(lm, PCD_IGN_TEAM);
    if (l->type == RTM_DELLINK && l->master)
        return ignore(lm, PCD_IGN_DELLINK_MASTER);
    if (from_dump && lm->dump_initial && lm->o.cold && !lm->o.dpu &&
        lm->o.old_mode != PCD_OLD_OFF && has_prefix(l->name, "Ethernet")) {
        void *p = realloc(lm->old, (lm->nold + 1) * sizeof *lm->old);
        if (p) {
            lm->old = p;
            lm->old[lm->nold].ifindex = l->ifindex;
            snprintf(lm->old[lm->nold].name, sizeof lm->old[lm->nold].name, "%s", l->name);
            lm->nold++;
        }
        if (lm->o.old_mode == PCD_OLD_SONIC && (l->flags & IFF_UP)) {
            char err[256];
            if (pcd_nl_set_down(l->ifindex, err, sizeof err) != 0)
                pcd_warn("old interface %s: %s", l->name, err);
            else
                pcd_notice("old interface %s (ifindex %d) existed at cold start: brought down, "
                           "ignored for this run",
                           l->name, l->ifindex);
        } else {
            pcd_notice("old interface %s (ifindex %d) existed at cold start: ignored for this "
                       "run",
                       l->name, l->ifindex);
        }
        return ignore(lm, PCD_IGN_OLD);
    }
    if (lm->nold && is_old(lm, l))
        return ignore(lm, PCD_IGN_OLD);

    struct pcd_port *p = port_get(lm, l->name);
    if (p) {
        if (from_dump)
            p->seen = lm->dump_gen;
        if (l->type == RTM_NEWLINK) {
            int oper = (l->flags & IFF_RUNNING) != 0;
            if (p->oper == 1 && !oper)
                psm_counter_inc(p->flaps);
            p->oper = oper;
            p->present = 1;
            p->ifindex = l->ifindex;
            psm_gauge_set(p->oper_g, oper);
        } else {
            p->oper = -1;
            p->present = 0;
            psm_gauge_set(p->oper_g, 0);
        }
    }
    enqueue(lm, l, t);
}

static void dump_start(struct pcd_linkmon *lm)
{
    lm->dump_seq = ++lm->seq;
    lm->dump_gen++;
    lm->dump_intr = 0;
    if (pcd_nl_request_dump(lm->nl, lm->dump_seq) != 0) {
        pcd_err("netlink: RTM_GETLINK dump request failed: %s", strerror(errno));
        lm->redump = 1;
        return;
    }
    lm->dump_active = 1;
}

/* The dump is complete: every port it did not list is gone. */
static void dump_done(struct pcd_linkmon *lm, uint64_t t)
{
    lm->dump_active = 0;
    if (lm->dump_intr) {
        psm_counter_inc(lm->m->resyncs[PCD_RESYNC_INTERRUPTED]);
        pcd_info("netlink: dump was interrupted by changes, dumping again");
        lm->redump = 1;
        return;
    }
    for (uint32_t i = 0; i < lm->nports; i++) {
        struct pcd_port *p = &lm->ports[i];
        if (!p->present || p->seen == lm->dump_gen)
            continue;
        struct pcd_link l = {.type = RTM_DELLINK, .ifindex = p->ifindex};
        snprintf(l.name, sizeof l.name, "%s", p->name);
        pcd_info("netlink: %s is gone from the kernel (missed its DELLINK): deleting", p->name);
        p->present = 0;
        p->oper = -1;
        psm_gauge_set(p->oper_g, 0);
        enqueue(lm, &l, t);
    }
    if (lm->dump_initial) {
        lm->dump_initial = 0;
        atomic_store(&lm->initial_done, 1);
        pcd_queue_wake(lm->q);
    }
}

static void process(struct pcd_linkmon *lm, const char *buf, size_t len, uint64_t t)
{
    size_t left = len;
    const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
    for (; pcd_nlmsg_ok(nlh, left); nlh = pcd_nlmsg_next(nlh, &left)) {
        int ours =
            lm->dump_active && nlh->nlmsg_seq == lm->dump_seq && nlh->nlmsg_pid == lm->portid;
        if (ours && (nlh->nlmsg_flags & NLM_F_DUMP_INTR))
            lm->dump_intr = 1;
        if (nlh->nlmsg_type == NLMSG_DONE) {
            if (ours)
                dump_done(lm, t);
            continue;
        }
        if (nlh->nlmsg_type == NLMSG_ERROR) {
            if (ours) {
                const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
                int code = nlh->nlmsg_len >= NLMSG_LENGTH(sizeof *e) ? -e->error : EPROTO;
                pcd_warn("netlink: dump failed: %s; retrying", strerror(code));
                lm->dump_active = 0;
                lm->redump = 1;
            }
            continue;
        }
        struct pcd_link l;
        char err[256];
        int rc = pcd_link_parse(nlh, &l, err, sizeof err);
        if (rc < 0) {
            pcd_warn("netlink: skipping a malformed message: %s", err);
            psm_counter_inc(lm->m->events_failed);
        } else if (rc > 0) {
            handle_link(lm, &l, ours, t);
        }
    }
    if (left > 0) {
        pcd_warn("netlink: skipping %zu trailing bytes that do not form a message", left);
        psm_counter_inc(lm->m->events_failed);
    }
}

static void *thread_main(void *arg)
{
    struct pcd_linkmon *lm = arg;
    /* 64 KiB holds many messages; the kernel never splits one across reads. */
    static _Thread_local char buf[65536];
    struct pollfd pfd[2] = {{.fd = mnl_socket_get_fd(lm->nl), .events = POLLIN},
                            {.fd = lm->ctl_fd, .events = POLLIN}};
    while (!atomic_load(&lm->stop)) {
        unsigned req = atomic_exchange(&lm->resync_req, 0);
        if (req)
            lm->redump = 1;
        /* After a full queue, wait for room: the dump restates every port. */
        if (lm->redump && !lm->dump_active && pcd_queue_ports(lm->q) <= lm->q->cap / 2) {
            lm->redump = 0;
            dump_start(lm);
        }
        if (poll(pfd, 2, lm->redump ? 100 : 1000) < 0 && errno != EINTR)
            break;
        if (pfd[1].revents & POLLIN) {
            uint64_t v;
            ssize_t r = read(lm->ctl_fd, &v, sizeof v);
            (void)r;
        }
        for (int i = 0; i < 64 && (pfd[0].revents & POLLIN); i++) {
            ssize_t n = recv(pfd[0].fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n < 0) {
                if (errno == ENOBUFS) {
                    /* The kernel dropped events for us: only a dump can tell what changed. */
                    pcd_warn("netlink: receive buffer overflowed (ENOBUFS): resynchronising");
                    psm_counter_inc(lm->m->resyncs[PCD_RESYNC_ENOBUFS]);
                    lm->redump = 1;
                    if (lm->dump_active) {
                        /* The dump's own replies may be lost too: start it again. */
                        lm->dump_active = 0;
                    }
                    continue;
                }
                if (errno != EAGAIN && errno != EINTR)
                    pcd_err("netlink: recv failed: %s", strerror(errno));
                break;
            }
            process(lm, buf, (size_t)n, mono_ns());
        }
    }
    return NULL;
}

int pcd_linkmon_start(struct pcd_linkmon *lm, const struct pcd_linkmon_opts *o, struct pcd_queue *q,
                      struct pcd_metrics *m, char *err, size_t errlen)
{
    lm->o = *o;
    lm->q = q;
    lm->m = m;
    lm->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (lm->ctl_fd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        return -1;
    }
    lm->nl = pcd_nl_open_listener(o->rcvbuf, err, errlen);
    if (!lm->nl) {
        close(lm->ctl_fd);
        return -1;
    }
    lm->portid = mnl_socket_get_portid(lm->nl);
    lm->seq = (uint32_t)time(NULL);
    lm->dump_initial = 1;
    dump_start(lm);
    if (!lm->dump_active) {
        snprintf(err, errlen, "netlink: initial RTM_GETLINK dump request failed: %s",
                 strerror(errno));
        mnl_socket_close(lm->nl);
        close(lm->ctl_fd);
        return -1;
    }
    psm_gauge_set(m->netlink_connected, 1);
    int rc = pthread_create(&lm->thread, NULL, thread_main, lm);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the netlink thread: %s", strerror(rc));
        mnl_socket_close(lm->nl);
        close(lm->ctl_fd);
        return -1;
    }
    return 0;
}

void pcd_linkmon_resync(struct pcd_linkmon *lm, enum pcd_resync_reason why)
{
    if (why != PCD_RESYNC_ENOBUFS && why != PCD_RESYNC_INTERRUPTED)
        psm_counter_inc(lm->m->resyncs[why]);
    atomic_fetch_or(&lm->resync_req, 1u << why);
    uint64_t one = 1;
    ssize_t w = write(lm->ctl_fd, &one, sizeof one);
    (void)w;
}

void pcd_linkmon_stop(struct pcd_linkmon *lm)
{
    if (!lm->nl)
        return;
    atomic_store(&lm->stop, 1);
    uint64_t one = 1;
    ssize_t w = write(lm->ctl_fd, &one, sizeof one);
    (void)w;
    pthread_join(lm->thread, NULL);
    mnl_socket_close(lm->nl);
    lm->nl = NULL;
    close(lm->ctl_fd);
    psm_gauge_set(lm->m->netlink_connected, 0);
    free(lm->ports);
    free(lm->old);
}
