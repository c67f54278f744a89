/*
 * core/linkmon.c - the netlink reader (see linkmon.h): the socket, its
 * failures and their backoff, the dump requests and their timeout, SONiC's
 * old-interface snapshot, one turn of reading. Whether its thread or the
 * writer's loop takes the turns is linkmon_run.c's; what the messages mean is
 * linkstate.c's.
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "linkmon_int.h"
#include "linkstate.h"
#include "netlink.h"
#include "psu/clock.h"
#include "psu/log.h"

#define RETRY_MIN_MS    100u
#define RETRY_MAX_MS    5000u
#define DUMP_TIMEOUT_NS 5000000000ull

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
        if (strncmp(i->if_name, "Ethernet", 8) != 0)
            continue;
        if (pcd_linkstate_add_old(lm->ls, (int)i->if_index, i->if_name) != 0)
            break; /* out of memory: the rest are handled like any netdev */
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

/* Request a dump; returns 0, or -1 (logged) when the request could not be sent. */
static int dump_start(struct pcd_linkmon *lm)
{
    uint32_t seq = ++lm->seq;
    if (pcd_nl_request_dump(lm->nl, seq) != 0) {
        psu_log_error("netlink: RTM_GETLINK dump request failed: %s", strerror(errno));
        pcd_linkstate_dump_failed(lm->ls);
        return -1;
    }
    pcd_linkstate_dump_begin(lm->ls, seq, lm->portid);
    lm->dump_started = psu_clock_mono_ns();
    lm->dump_overflows = pcd_linkstate_overflows(lm->ls);
    return 0;
}

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
    pcd_linkstate_dump_failed(lm->ls);
    pcd_linkstate_resync(lm->ls, 1u << PCD_RESYNC_NETLINK);
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
    pcd_linkstate_dump_failed(lm->ls);
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

/* Take what the control eventfd holds (stop, resync and wake requests). */
static void ctl_drain(struct pcd_linkmon *lm)
{
    uint64_t v;
    ssize_t r = read(lm->ctl_fd, &v, sizeof v);
    (void)r;
}

/*
 * Wait until @until (CLOCK_MONOTONIC ns) or a request on the control eventfd
 * (a stop, a resync, SIGTERM's wake in inline mode), whichever comes first.
 */
static void sleep_until(struct pcd_linkmon *lm, uint64_t until)
{
    uint64_t now = psu_clock_mono_ns();
    if (now >= until)
        return;
    struct pollfd pfd = {.fd = lm->ctl_fd, .events = POLLIN};
    if (poll(&pfd, 1, (int)((until - now + 999999) / 1000000)) > 0)
        ctl_drain(lm);
}

/* See linkmon_int.h. */
void pcd_linkmon_receive(struct pcd_linkmon *lm, int fd, int reads)
{
    char *buf = lm->buf;
    for (int i = 0; i < reads && lm->nl; i++) {
        ssize_t n = recv(fd, buf, RECV_BUF, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == ENOBUFS) {
                /* The kernel dropped events for us: only a dump can tell what changed. */
                psu_log_warn("netlink: receive buffer overflowed (ENOBUFS): resynchronising");
                pcd_linkstate_resync(lm->ls, 1u << PCD_RESYNC_ENOBUFS);
                reopen(lm);
            } else if (errno != EAGAIN && errno != EINTR) {
                socket_failed(lm, "recv", errno, 0);
            }
            return;
        }
        unsigned overflows = pcd_linkstate_overflows(lm->ls);
        int complete = pcd_linkstate_feed(lm->ls, buf, (size_t)n, psu_clock_mono_ns());
        /*
         * Congested until a dump completes that the queue held whole. Not just
         * any complete dump: its NLMSG_DONE mostly comes in a read of its own,
         * after the reads whose events overflowed, and a dump that overflowed
         * has asked for the next one; read inline, that one overflows the same
         * way, and so on for ever (tests/core/t_resync_inline.sh).
         */
        unsigned now_overflows = pcd_linkstate_overflows(lm->ls);
        if (now_overflows != overflows)
            atomic_store(&lm->congested, 1);
        else if (complete && now_overflows == lm->dump_overflows)
            atomic_store(&lm->congested, 0);
        if (complete) {
            /* The kernel's state is known again: a later failure starts a new episode. */
            lm->failures = 0;
            lm->retry_ms = 0;
            lm->last_failure[0] = '\0';
        }
    }
}

/* See linkmon_int.h. */
void pcd_linkmon_step(struct pcd_linkmon *lm, int max_ms, int reads)
{
    unsigned req = atomic_exchange(&lm->resync_req, 0);
    if (req)
        pcd_linkstate_resync(lm->ls, req);
    uint64_t now = psu_clock_mono_ns();
    if (!lm->nl) {
        /* No poll() of the socket while it is down: poll() itself may be what fails. */
        if (now < lm->retry_at) {
            uint64_t until = now + (uint64_t)max_ms * 1000000u;
            sleep_until(lm, until < lm->retry_at ? until : lm->retry_at);
            return;
        }
        reopen(lm);
        if (!lm->nl)
            return;
    }
    if (pcd_linkstate_dump_active(lm->ls) && now - lm->dump_started > DUMP_TIMEOUT_NS) {
        psu_log_warn("netlink: dump unanswered for 5 s: reopening the socket");
        reopen(lm);
        if (!lm->nl)
            return;
    }
    /* After a full queue, wait for room: the dump restates every port. */
    int wanted = pcd_linkstate_dump_wanted(lm->ls);
    if (wanted && pcd_queue_ports(lm->q) <= pcd_queue_cap(lm->q) / 2)
        wanted = dump_start(lm) != 0;
    if (wanted && max_ms > 100)
        max_ms = 100;
    struct pollfd pfd[2] = {{.fd = mnl_socket_get_fd(lm->nl), .events = POLLIN},
                            {.fd = lm->ctl_fd, .events = POLLIN}};
    if (poll(pfd, 2, max_ms) < 0) {
        if (errno != EINTR)
            socket_failed(lm, "poll", errno, 2);
        return;
    }
    if (pfd[1].revents & POLLIN)
        ctl_drain(lm);
    if (pfd[0].revents & POLLNVAL) {
        socket_failed(lm, "poll (POLLNVAL on the socket)", EBADF, 0);
        return;
    }
    /* POLLERR too: the pending socket error is reported (and cleared) by recv. */
    /*
     * Inline, one read: its events go to Redis at once, and whatever arrived
     * after it is read while the reply is outstanding (pcd_linkmon_service()),
     * which saves the read that would find the socket empty.
     */
    if (pfd[0].revents & (POLLIN | POLLERR))
        pcd_linkmon_receive(lm, pfd[0].fd, reads);
}

struct pcd_linkmon *pcd_linkmon_new(struct pcd_queue *q, struct pcd_metrics *m)
{
    struct pcd_linkmon *lm = calloc(1, sizeof *lm);
    if (!lm || !(lm->buf = malloc(RECV_BUF)) || !(lm->ls = pcd_linkstate_new(q, m))) {
        if (lm)
            free(lm->buf);
        free(lm);
        errno = ENOMEM;
        return NULL;
    }
    lm->q = q;
    lm->m = m;
    lm->ctl_fd = -1;
    return lm;
}

int pcd_linkmon_start(struct pcd_linkmon *lm, const struct pcd_linkmon_opts *o, char *err,
                      size_t errlen)
{
    if (lm->running) {
        snprintf(err, errlen, "the netlink reader is already running");
        return -1;
    }
    lm->o = *o;
    lm->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (lm->ctl_fd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        return -1;
    }
    lm->nl = pcd_nl_open_listener(o->rcvbuf, err, errlen);
    if (!lm->nl)
        goto fail;
    lm->portid = mnl_socket_get_portid(lm->nl);
    lm->seq = (uint32_t)time(NULL);
    /* Subscribed first, then the snapshot: no netdev falls between the two. */
    if (o->cold && !o->dpu && o->old_mode != PCD_OLD_OFF)
        snapshot_old(lm);
    if (dump_start(lm) != 0) {
        snprintf(err, errlen, "netlink: initial RTM_GETLINK dump request failed: %s",
                 strerror(errno));
        goto fail;
    }
    psm_gauge_set(lm->m->netlink_connected, 1);
    int rc = pcd_linkmon_thread_start(lm);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the netlink thread: %s", strerror(rc));
        psm_gauge_set(lm->m->netlink_connected, 0);
        goto fail;
    }
    lm->running = 1;
    return 0;
fail:
    if (lm->nl)
        mnl_socket_close(lm->nl);
    lm->nl = NULL;
    close(lm->ctl_fd);
    lm->ctl_fd = -1;
    return -1;
}

void pcd_linkmon_resync(struct pcd_linkmon *lm, enum pcd_resync_reason why)
{
    /* Once stopped, nobody reads the requests (and the eventfd is closed). */
    if (!lm->running)
        return;
    atomic_fetch_or(&lm->resync_req, 1u << why);
    pcd_linkmon_kick(lm);
}

int pcd_linkmon_initial_done(struct pcd_linkmon *lm)
{
    return pcd_linkstate_initial_done(lm->ls);
}

uint64_t pcd_linkmon_initial_done_ns(struct pcd_linkmon *lm)
{
    return pcd_linkstate_initial_done_ns(lm->ls);
}

void pcd_linkmon_stop(struct pcd_linkmon *lm)
{
    if (!lm || !lm->running)
        return;
    lm->running = 0;
    pcd_linkmon_thread_join(lm);
    pcd_queue_set_wake_fd(lm->q, -1);
    if (lm->nl)
        mnl_socket_close(lm->nl);
    lm->nl = NULL;
    close(lm->ctl_fd);
    lm->ctl_fd = -1;
    psm_gauge_set(lm->m->netlink_connected, 0);
}

void pcd_linkmon_free(struct pcd_linkmon *lm)
{
    if (!lm)
        return;
    pcd_linkmon_stop(lm);
    pcd_linkstate_free(lm->ls);
    free(lm->buf);
    free(lm);
}
