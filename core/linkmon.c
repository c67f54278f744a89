/*
 * core/linkmon.c - the netlink reader thread (see linkmon.h): the socket, its
 * failures and their backoff, the dump requests and their timeout, SONiC's
 * old-interface snapshot. What the messages mean is linkstate.c's business.
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

#include "linkmon.h"
#include "linkstate.h"
#include "netlink.h"
#include "psu/clock.h"
#include "psu/log.h"

#define RETRY_MIN_MS    100u
#define RETRY_MAX_MS    5000u
#define DUMP_TIMEOUT_NS 5000000000ull

struct pcd_linkmon {
    struct pcd_linkmon_opts o;
    struct pcd_queue *q;
    struct pcd_metrics *m;
    struct pcd_linkstate *ls;
    int ctl_fd; /* eventfd: stop and resync requests */
    pthread_t thread;
    int running;            /* the thread runs; only the starting thread changes it */
    atomic_int stop;        /* set by pcd_linkmon_stop() */
    atomic_uint resync_req; /* bit per enum pcd_resync_reason, from other threads */
    /* Owned by the thread. */
    struct mnl_socket *nl;
    unsigned portid;
    uint32_t seq;
    uint64_t dump_started; /* CLOCK_MONOTONIC ns of the dump in flight */
    /* While the socket is closed after a failure: when to try again, and how long to wait next. */
    uint64_t retry_at;
    unsigned retry_ms, failures;
    char last_failure[384]; /* the last failure logged, to log a repeat only every 5 s */
};

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

/* Receive what the socket holds (up to 64 reads) and hand it to the model. */
static void receive(struct pcd_linkmon *lm, int fd)
{
    /*
     * 64 KiB holds many messages; the kernel never splits one across reads. On
     * this thread's stack, not _Thread_local: glibc allocates and clears static
     * TLS for every thread it creates, so each of portsyncd's threads kept 64 KiB
     * resident that only this one uses (tests/core/t_thread_memory.sh).
     */
    char buf[65536];
    for (int i = 0; i < 64 && lm->nl; i++) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
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
        if (pcd_linkstate_feed(lm->ls, buf, (size_t)n, psu_clock_mono_ns())) {
            /* The kernel's state is known again: a later failure starts a new episode. */
            lm->failures = 0;
            lm->retry_ms = 0;
            lm->last_failure[0] = '\0';
        }
    }
}

static void *thread_main(void *arg)
{
    struct pcd_linkmon *lm = arg;
    while (!atomic_load(&lm->stop)) {
        unsigned req = atomic_exchange(&lm->resync_req, 0);
        if (req)
            pcd_linkstate_resync(lm->ls, req);
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
        if (pcd_linkstate_dump_active(lm->ls) &&
            psu_clock_mono_ns() - lm->dump_started > DUMP_TIMEOUT_NS) {
            psu_log_warn("netlink: dump unanswered for 5 s: reopening the socket");
            reopen(lm);
            if (!lm->nl)
                continue;
        }
        /* After a full queue, wait for room: the dump restates every port. */
        int wanted = pcd_linkstate_dump_wanted(lm->ls);
        if (wanted && pcd_queue_ports(lm->q) <= pcd_queue_cap(lm->q) / 2)
            wanted = dump_start(lm) != 0;
        struct pollfd pfd[2] = {{.fd = mnl_socket_get_fd(lm->nl), .events = POLLIN},
                                {.fd = lm->ctl_fd, .events = POLLIN}};
        if (poll(pfd, 2, wanted ? 100 : 1000) < 0) {
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
        if (pfd[0].revents & (POLLIN | POLLERR))
            receive(lm, pfd[0].fd);
    }
    return NULL;
}

struct pcd_linkmon *pcd_linkmon_new(struct pcd_queue *q, struct pcd_metrics *m)
{
    struct pcd_linkmon *lm = calloc(1, sizeof *lm);
    if (!lm || !(lm->ls = pcd_linkstate_new(q, m))) {
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
    int rc = pthread_create(&lm->thread, NULL, thread_main, lm);
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

/* Wake the thread out of poll(). */
static void kick(struct pcd_linkmon *lm)
{
    uint64_t one = 1;
    ssize_t w = write(lm->ctl_fd, &one, sizeof one);
    (void)w;
}

void pcd_linkmon_resync(struct pcd_linkmon *lm, enum pcd_resync_reason why)
{
    /* Once stopped, nobody reads the requests (and the eventfd is closed). */
    if (!lm->running)
        return;
    atomic_fetch_or(&lm->resync_req, 1u << why);
    kick(lm);
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
    atomic_store(&lm->stop, 1);
    kick(lm);
    pthread_join(lm->thread, NULL);
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
    free(lm);
}
