/*
 * core/linkmon.c - the netlink reader thread (see linkmon.h).
 *
 * One socket carries both the RTNLGRP_LINK multicast and our dump replies; dump
 * replies carry our sequence number, multicasts carry 0. A dump is how we
 * (re)learn the kernel's whole state: at start, after ENOBUFS (the kernel
 * dropped messages for us), after a full queue, after Redis comes back, after
 * the socket failed. When a dump ends, every port we believed present that the
 * dump neither listed nor saw announced by a NEWLINK while it ran gets a
 * synthetic DELLINK, so the databases end equal to the kernel.
 *
 * A port's "present" state changes only when its event is in the queue: an
 * event the full queue refused leaves the old state, so the reconcile after the
 * next dump restates it.
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "linkmon.h"
#include "netlink.h"
#include "psu/clock.h"
#include "psu/log.h"

struct pcd_port {
    char name[IFNAMSIZ];
    int ifindex;
    int oper; /* 1 up, 0 down, -1 unknown */
    int present;
    uint32_t seen; /* dump generation that last listed it */
    psm_counter_t *flaps;
    psm_gauge_t *oper_g;
};

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

/* Queue @l; returns 0, or -1 when the queue was full (a resync is requested). */
static int enqueue(struct pcd_linkmon *lm, const struct pcd_link *l, uint64_t t)
{
    int rc = pcd_queue_push(lm->q, l, t);
    if (rc == 1)
        psm_counter_inc(lm->m->events_coalesced);
    if (rc < 0) {
        /* More distinct ports pending than the queue holds: a dump will restate them. */
        psu_log_warn("queue full (%u ports pending): dropping the event for %s, will resync",
                     pcd_queue_cap(lm->q), l->name);
        psm_counter_inc(lm->m->events_failed);
        lm->reasons |= 1u << PCD_RESYNC_QUEUE_FULL;
        lm->redump = 1;
        return -1;
    }
    return 0;
}

int pcd_link_filter(const struct pcd_link *l)
{
    if (!has_prefix(l->name, "Ethernet") && !has_prefix(l->name, "PortChannel"))
        return PCD_IGN_NAME;
    if (strcmp(l->kind, "team") == 0)
        return PCD_IGN_TEAM;
    if (l->type == RTM_DELLINK && l->master)
        return PCD_IGN_DELLINK_MASTER;
    return -1;
}

/* SONiC's filters, in SONiC's order; then flap accounting and the queue. */
static void handle_link(struct pcd_linkmon *lm, const struct pcd_link *l, uint64_t t)
{
    int why = pcd_link_filter(l);
    if (why >= 0)
        return ignore(lm, (enum pcd_ignore_reason)why);
    if (lm->nold && is_old(lm, l))
        return ignore(lm, PCD_IGN_OLD);

    struct pcd_port *p = port_get(lm, l->name);
    if (!p) {
        enqueue(lm, l, t);
        return;
    }
    if (l->type == RTM_NEWLINK) {
        /*
         * Listed by the dump, or announced while it runs: either way the port
         * exists as of this dump. A multicast NEWLINK can come between the
         * dump's last part and its NLMSG_DONE (the kernel writes the DONE in a
         * later call that does not look at the links again, and does not flag
         * it NLM_F_DUMP_INTR); without this it would earn a synthetic DELLINK.
         * Any message lost meanwhile is an ENOBUFS, which brings another dump.
         * A DELLINK never counts as seen: refused by a full queue, it leaves
         * the port present and the reconciliation restates it.
         */
        if (lm->dump_active) /* every message of our dump comes while it is active */
            p->seen = lm->dump_gen;
        int oper = (l->flags & IFF_RUNNING) != 0;
        if (p->oper == 1 && !oper)
            psm_counter_inc(p->flaps);
        p->oper = oper;
        p->ifindex = l->ifindex;
        psm_gauge_set(p->oper_g, oper);
        /* A refused NEWLINK is restated by the dump that follows; present either way. */
        p->present = 1;
        enqueue(lm, l, t);
    } else {
        p->oper = -1;
        psm_gauge_set(p->oper_g, 0);
        /* Only a queued DELLINK makes the port absent: else the reconcile deletes it. */
        if (enqueue(lm, l, t) == 0)
            p->present = 0;
    }
}

/*
 * SONiC's cold-start "old interfaces": every Ethernet* netdev that exists now.
 * Taken once, from the kernel's interface list, before the first dump is
 * processed, so a netdev created after this point is never old, whatever
 * happens to the dump.
 */
static void snapshot_old(struct pcd_linkmon *lm)
{
    struct if_nameindex *ifs = if_nameindex();
    if (!ifs) {
        psu_log_warn("cannot list interfaces for the old-interface snapshot: %s", strerror(errno));
        return;
    }
    for (struct if_nameindex *i = ifs; i->if_index; i++) {
        if (!has_prefix(i->if_name, "Ethernet"))
            continue;
        void *p = realloc(lm->old, (lm->nold + 1) * sizeof *lm->old);
        if (!p)
            break;
        lm->old = p;
        lm->old[lm->nold].ifindex = (int)i->if_index;
        snprintf(lm->old[lm->nold].name, sizeof lm->old[lm->nold].name, "%s", i->if_name);
        lm->nold++;
        char err[256];
        if (lm->o.old_mode != PCD_OLD_SONIC)
            psu_log_notice("old interface %s (ifindex %u) existed at cold start: ignored for this "
                           "run",
                           i->if_name, i->if_index);
        else if (pcd_nl_set_down((int)i->if_index, err, sizeof err) != 0)
            psu_log_warn("old interface %s: %s", i->if_name, err);
        else
            psu_log_notice("old interface %s (ifindex %u) existed at cold start: brought down, "
                           "ignored for this run",
                           i->if_name, i->if_index);
    }
    if_freenameindex(ifs);
}

static void dump_start(struct pcd_linkmon *lm)
{
    lm->dump_seq = ++lm->seq;
    lm->dump_gen++;
    lm->dump_intr = 0;
    if (pcd_nl_request_dump(lm->nl, lm->dump_seq) != 0) {
        psu_log_error("netlink: RTM_GETLINK dump request failed: %s", strerror(errno));
        lm->redump = 1;
        return;
    }
    lm->dump_active = 1;
    lm->dump_started = psu_clock_mono_ns();
    /* One dump answers every cause pending now: count each cause once per dump. */
    for (int r = 0; r < PCD_RESYNC_COUNT; r++)
        if (lm->reasons & (1u << r))
            psm_counter_inc(lm->m->resyncs[r]);
    lm->reasons = 0;
}

#define RETRY_MIN_MS 100u
#define RETRY_MAX_MS 5000u

/*
 * The socket failed or could not be opened: close it, tell the gauge, and try
 * again after a capped exponential backoff. Whatever happened while the socket
 * was closed is learned from the dump that follows the reopen.
 */
static void socket_down(struct pcd_linkmon *lm)
{
    if (lm->nl)
        mnl_socket_close(lm->nl);
    lm->nl = NULL;
    lm->dump_active = 0;
    lm->redump = 1;
    lm->reasons |= 1u << PCD_RESYNC_NETLINK;
    psm_gauge_set(lm->m->netlink_connected, 0);
    lm->retry_ms = lm->retry_ms ? lm->retry_ms * 2 : RETRY_MIN_MS;
    if (lm->retry_ms > RETRY_MAX_MS)
        lm->retry_ms = RETRY_MAX_MS;
    lm->retry_at = psu_clock_mono_ns() + (uint64_t)lm->retry_ms * 1000000u;
    lm->failures++;
}

/*
 * Log a failure of the socket: always when its text is new in this episode,
 * else once per capped retry, so a lasting failure is one line every 5 s.
 */
static void log_failure(struct pcd_linkmon *lm, const char *line)
{
    if (strcmp(line, lm->last_failure) == 0 && lm->retry_ms < RETRY_MAX_MS)
        return;
    snprintf(lm->last_failure, sizeof lm->last_failure, "%s", line);
    psu_log_error("%s", line);
}

/*
 * Close the socket and open a new one. After ENOBUFS the kernel may have dropped
 * the replies of a dump in progress, and a new dump request on the same socket
 * then fails with EBUSY: a fresh socket is the only clean state.
 */
static void reopen(struct pcd_linkmon *lm)
{
    char err[256];
    if (lm->nl)
        mnl_socket_close(lm->nl);
    lm->dump_active = 0;
    lm->redump = 1;
    lm->nl = pcd_nl_open_listener(lm->o.rcvbuf, err, sizeof err);
    if (!lm->nl) {
        socket_down(lm);
        char line[384];
        snprintf(line, sizeof line, "%s; retrying with backoff (at most every %u ms)", err,
                 RETRY_MAX_MS);
        log_failure(lm, line);
        return;
    }
    lm->portid = mnl_socket_get_portid(lm->nl);
    psm_gauge_set(lm->m->netlink_connected, 1);
    if (lm->failures)
        psu_log_notice("netlink: socket reopened after %u failed attempt%s: resynchronising",
                       lm->failures, lm->failures == 1 ? "" : "s");
}

/*
 * poll() or recv() failed with something other than "try again": the reader
 * would be blind (or spin) on this socket, so give it up. EINVAL from poll()
 * means more descriptors than RLIMIT_NOFILE allows; name the limit.
 */
static void socket_failed(struct pcd_linkmon *lm, const char *call, int err, int nfds)
{
    char hint[96] = "";
    struct rlimit rl;
    if (err == EINVAL && nfds > 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0)
        snprintf(hint, sizeof hint, " (%d descriptors polled, RLIMIT_NOFILE is %llu)", nfds,
                 (unsigned long long)rl.rlim_cur);
    socket_down(lm);
    char line[384];
    snprintf(line, sizeof line,
             "netlink: %s failed: %s%s: link events are not seen until the socket is reopened "
             "(retrying with backoff) and a dump resynchronises",
             call, strerror(err), hint);
    log_failure(lm, line);
}

/* The dump is complete: every port it did not list is gone. */
static void dump_done(struct pcd_linkmon *lm, uint64_t t)
{
    lm->dump_active = 0;
    if (lm->dump_intr) {
        lm->reasons |= 1u << PCD_RESYNC_INTERRUPTED;
        psu_log_info("netlink: dump was interrupted by changes, dumping again");
        lm->redump = 1;
        return;
    }
    for (uint32_t i = 0; i < lm->nports; i++) {
        struct pcd_port *p = &lm->ports[i];
        if (!p->present || p->seen == lm->dump_gen)
            continue;
        struct pcd_link l = {.type = RTM_DELLINK, .ifindex = p->ifindex};
        snprintf(l.name, sizeof l.name, "%s", p->name);
        psu_log_info("netlink: %s is gone from the kernel (missed its DELLINK): deleting", p->name);
        p->oper = -1;
        psm_gauge_set(p->oper_g, 0);
        if (enqueue(lm, &l, t) == 0)
            p->present = 0;
    }
    /* The kernel's state is known again: a later failure starts a new episode. */
    lm->failures = 0;
    lm->retry_ms = 0;
    lm->last_failure[0] = '\0';
    if (lm->dump_initial) {
        lm->dump_initial = 0;
        atomic_store(&lm->initial_done, 1);
        pcd_queue_wake(lm->q);
    }
}

void pcd_linkmon_feed(struct pcd_linkmon *lm, const void *buf, size_t len, uint64_t t)
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
                /* EBUSY: a dump of ours is still running in the kernel; retry shortly. */
                psu_log_warn("netlink: dump failed: %s; retrying", strerror(code));
                lm->dump_active = 0;
                lm->redump = 1;
            }
            continue;
        }
        struct pcd_link l;
        char err[256];
        int rc = pcd_link_parse(nlh, &l, err, sizeof err);
        if (rc < 0) {
            psu_log_warn("netlink: skipping a malformed message: %s", err);
            psm_counter_inc(lm->m->events_failed);
        } else if (rc > 0) {
            handle_link(lm, &l, t);
        }
    }
    if (left > 0) {
        psu_log_warn("netlink: skipping %zu trailing bytes that do not form a message", left);
        psm_counter_inc(lm->m->events_failed);
    }
}

#define DUMP_TIMEOUT_NS 5000000000ull

/* Sleep until @until (CLOCK_MONOTONIC ns) in short steps, so a stop is not kept waiting. */
static void sleep_until(struct pcd_linkmon *lm, uint64_t until)
{
    uint64_t now;
    while (!atomic_load(&lm->stop) && (now = psu_clock_mono_ns()) < until) {
        uint64_t step = until - now < 50000000u ? until - now : 50000000u;
        struct timespec ts = {0, (long)step};
        nanosleep(&ts, NULL);
    }
}

static void *thread_main(void *arg)
{
    struct pcd_linkmon *lm = arg;
    /* 64 KiB holds many messages; the kernel never splits one across reads. */
    static _Thread_local char buf[65536];
    while (!atomic_load(&lm->stop)) {
        unsigned req = atomic_exchange(&lm->resync_req, 0);
        if (req) {
            lm->reasons |= req;
            lm->redump = 1;
        }
        if (!lm->nl) {
            /* No poll() while the socket is down: poll() itself may be what fails. */
            if (psu_clock_mono_ns() < lm->retry_at) {
                sleep_until(lm, lm->retry_at);
                continue;
            }
            reopen(lm);
            if (!lm->nl)
                continue;
        }
        if (lm->dump_active && psu_clock_mono_ns() - lm->dump_started > DUMP_TIMEOUT_NS) {
            psu_log_warn("netlink: dump unanswered for 5 s: reopening the socket");
            reopen(lm);
            if (!lm->nl)
                continue;
        }
        /* After a full queue, wait for room: the dump restates every port. */
        if (lm->redump && !lm->dump_active && pcd_queue_ports(lm->q) <= pcd_queue_cap(lm->q) / 2) {
            lm->redump = 0;
            dump_start(lm);
        }
        struct pollfd pfd[2] = {{.fd = mnl_socket_get_fd(lm->nl), .events = POLLIN},
                                {.fd = lm->ctl_fd, .events = POLLIN}};
        if (poll(pfd, 2, lm->redump ? 100 : 1000) < 0) {
            if (errno != EINTR)
                socket_failed(lm, "poll", errno, 2);
            continue;
        }
        if (pfd[1].revents & POLLIN) {
            uint64_t v;
            ssize_t r = read(lm->ctl_fd, &v, sizeof v);
            (void)r;
        }
        if (pfd[0].revents & POLLNVAL) {
            socket_failed(lm, "poll (POLLNVAL on the socket)", EBADF, 0);
            continue;
        }
        /* POLLERR too: the pending socket error is reported (and cleared) by recv. */
        for (int i = 0; i < 64 && lm->nl && (pfd[0].revents & (POLLIN | POLLERR)); i++) {
            ssize_t n = recv(pfd[0].fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n < 0) {
                if (errno == ENOBUFS) {
                    /* The kernel dropped events for us: only a dump can tell what changed. */
                    psu_log_warn("netlink: receive buffer overflowed (ENOBUFS): resynchronising");
                    lm->reasons |= 1u << PCD_RESYNC_ENOBUFS;
                    reopen(lm);
                } else if (errno != EAGAIN && errno != EINTR) {
                    socket_failed(lm, "recv", errno, 0);
                }
                break;
            }
            pcd_linkmon_feed(lm, buf, (size_t)n, psu_clock_mono_ns());
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
    /* Subscribed first, then the snapshot: no netdev falls between the two. */
    if (o->cold && !o->dpu && o->old_mode != PCD_OLD_OFF)
        snapshot_old(lm);
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
    lm->running = 1;
    return 0;
}

void pcd_linkmon_resync(struct pcd_linkmon *lm, enum pcd_resync_reason why)
{
    atomic_fetch_or(&lm->resync_req, 1u << why);
    uint64_t one = 1;
    ssize_t w = write(lm->ctl_fd, &one, sizeof one);
    (void)w;
}

void pcd_linkmon_stop(struct pcd_linkmon *lm)
{
    if (!lm->running)
        return;
    lm->running = 0;
    atomic_store(&lm->stop, 1);
    uint64_t one = 1;
    ssize_t w = write(lm->ctl_fd, &one, sizeof one);
    (void)w;
    pthread_join(lm->thread, NULL);
    if (lm->nl)
        mnl_socket_close(lm->nl);
    lm->nl = NULL;
    close(lm->ctl_fd);
    psm_gauge_set(lm->m->netlink_connected, 0);
    free(lm->ports);
    free(lm->old);
}
