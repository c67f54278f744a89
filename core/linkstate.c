/*
 * core/linkstate.c - see linkstate.h.
 *
 * One socket carries both the RTNLGRP_LINK multicast and our dump replies; dump
 * replies carry our sequence number and port id, multicasts carry 0. A dump is
 * how the reader (re)learns the kernel's whole state: at start, after ENOBUFS
 * (the kernel dropped messages for us), after a full queue, after Redis comes
 * back, after the socket failed. When a dump ends, every port we believed
 * present that the dump neither listed nor saw announced by a NEWLINK while it
 * ran gets a synthetic DELLINK, so the databases end equal to the kernel.
 *
 * A port's "present" state changes only when its event is in the queue: an
 * event the full queue refused leaves the old state, so the reconcile after the
 * next dump restates it.
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linkstate.h"
#include "netlink.h"
#include "psu/log.h"

/* What the reader believes about one port it has seen. */
struct pcd_port {
    char name[IFNAMSIZ];
    int ifindex;
    int oper; /* 1 up, 0 down, -1 unknown */
    int present;
    uint32_t seen; /* dump generation that last listed it */
    psm_counter_t *flaps;
    psm_gauge_t *oper_g;
};

struct pcd_old {
    int ifindex;
    char name[IFNAMSIZ];
};

struct pcd_linkstate {
    struct pcd_queue *q;
    struct pcd_metrics *m;
    /* The dump in flight: its request, and whether the kernel flagged it inconsistent. */
    uint32_t dump_seq, portid, dump_gen;
    int dump_active, dump_intr;
    int redump;         /* a dump is wanted */
    unsigned reasons;   /* enum pcd_resync_reason bits the next dump answers */
    unsigned overflows; /* events the full queue refused */
    atomic_int initial_done;
    _Atomic uint64_t initial_done_ns; /* receipt time of that dump's NLMSG_DONE */
    struct pcd_port *ports;
    uint32_t nports, cap_ports;
    struct pcd_old *old;
    uint32_t nold;
};

static int has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

struct pcd_linkstate *pcd_linkstate_new(struct pcd_queue *q, struct pcd_metrics *m)
{
    struct pcd_linkstate *ls = calloc(1, sizeof *ls);
    if (!ls) {
        errno = ENOMEM;
        return NULL;
    }
    ls->q = q;
    ls->m = m;
    ls->redump = 1; /* nothing is known before the first dump */
    return ls;
}

void pcd_linkstate_free(struct pcd_linkstate *ls)
{
    if (!ls)
        return;
    free(ls->ports);
    free(ls->old);
    free(ls);
}

int pcd_linkstate_add_old(struct pcd_linkstate *ls, int ifindex, const char *name)
{
    struct pcd_old *p = realloc(ls->old, (ls->nold + 1) * sizeof *ls->old);
    if (!p) {
        errno = ENOMEM;
        return -1;
    }
    ls->old = p;
    ls->old[ls->nold].ifindex = ifindex;
    snprintf(ls->old[ls->nold].name, sizeof ls->old[ls->nold].name, "%s", name);
    ls->nold++;
    return 0;
}

static struct pcd_port *port_get(struct pcd_linkstate *ls, const char *name)
{
    for (uint32_t i = 0; i < ls->nports; i++)
        if (strcmp(ls->ports[i].name, name) == 0)
            return &ls->ports[i];
    if (ls->nports == ls->cap_ports) {
        uint32_t cap = ls->cap_ports ? ls->cap_ports * 2 : 64;
        struct pcd_port *p = realloc(ls->ports, cap * sizeof *p);
        if (!p)
            return NULL;
        ls->ports = p;
        ls->cap_ports = cap;
    }
    struct pcd_port *p = &ls->ports[ls->nports++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->oper = -1;
    p->flaps = pcd_metrics_port_flaps(ls->m, name);
    p->oper_g = pcd_metrics_port_oper(ls->m, name);
    return p;
}

static int is_old(const struct pcd_linkstate *ls, const struct pcd_link *l)
{
    for (uint32_t i = 0; i < ls->nold; i++)
        if (ls->old[i].ifindex == l->ifindex && strcmp(ls->old[i].name, l->name) == 0)
            return 1;
    return 0;
}

static void ignore(struct pcd_linkstate *ls, enum pcd_ignore_reason why)
{
    psm_counter_inc(ls->m->ignored[why]);
    psm_counter_inc(ls->m->events_processed);
}

/* Queue @l; returns 0, or -1 when the queue was full (a resync is requested). */
static int enqueue(struct pcd_linkstate *ls, const struct pcd_link *l, uint64_t t)
{
    int rc = pcd_queue_push(ls->q, l, t);
    if (rc == 1)
        psm_counter_inc(ls->m->events_coalesced);
    if (rc < 0) {
        /* More distinct ports pending than the queue holds: a dump will restate them. */
        psu_log_warn("queue full (%u ports pending): dropping the event for %s, will resync",
                     pcd_queue_cap(ls->q), l->name);
        psm_counter_inc(ls->m->events_failed);
        ls->overflows++;
        pcd_linkstate_resync(ls, 1u << PCD_RESYNC_QUEUE_FULL);
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
static void handle_link(struct pcd_linkstate *ls, const struct pcd_link *l, uint64_t t)
{
    int why = pcd_link_filter(l);
    if (why >= 0)
        return ignore(ls, (enum pcd_ignore_reason)why);
    if (ls->nold && is_old(ls, l))
        return ignore(ls, PCD_IGN_OLD);

    struct pcd_port *p = port_get(ls, l->name);
    if (!p) {
        enqueue(ls, l, t);
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
        if (ls->dump_active) /* every message of our dump comes while it is active */
            p->seen = ls->dump_gen;
        int oper = (l->flags & IFF_RUNNING) != 0;
        if (p->oper == 1 && !oper)
            psm_counter_inc(p->flaps);
        p->oper = oper;
        p->ifindex = l->ifindex;
        psm_gauge_set(p->oper_g, oper);
        /* A refused NEWLINK is restated by the dump that follows; present either way. */
        p->present = 1;
        enqueue(ls, l, t);
    } else {
        p->oper = -1;
        psm_gauge_set(p->oper_g, 0);
        /* Only a queued DELLINK makes the port absent: else the reconcile deletes it. */
        if (enqueue(ls, l, t) == 0)
            p->present = 0;
    }
}

/* Our dump ended; returns 1 if it was complete: every port it did not list is gone. */
static int dump_done(struct pcd_linkstate *ls, uint64_t t)
{
    ls->dump_active = 0;
    if (ls->dump_intr) {
        psu_log_info("netlink: dump was interrupted by changes, dumping again");
        pcd_linkstate_resync(ls, 1u << PCD_RESYNC_INTERRUPTED);
        return 0;
    }
    for (uint32_t i = 0; i < ls->nports; i++) {
        struct pcd_port *p = &ls->ports[i];
        if (!p->present || p->seen == ls->dump_gen)
            continue;
        struct pcd_link l = {.type = RTM_DELLINK, .ifindex = p->ifindex};
        snprintf(l.name, sizeof l.name, "%s", p->name);
        psu_log_info("netlink: %s is gone from the kernel (missed its DELLINK): deleting", p->name);
        p->oper = -1;
        psm_gauge_set(p->oper_g, 0);
        if (enqueue(ls, &l, t) == 0)
            p->present = 0;
    }
    if (!atomic_load(&ls->initial_done)) {
        /* The time first: a thread that sees initial_done also sees when. */
        atomic_store(&ls->initial_done_ns, t ? t : 1);
        atomic_store(&ls->initial_done, 1);
        pcd_queue_wake(ls->q); /* the writer may be waiting to say READY=1 */
    }
    return 1;
}

int pcd_linkstate_feed(struct pcd_linkstate *ls, const void *buf, size_t len, uint64_t t)
{
    int complete = 0;
    size_t left = len;
    const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
    for (; pcd_nlmsg_ok(nlh, left); nlh = pcd_nlmsg_next(nlh, &left)) {
        int ours =
            ls->dump_active && nlh->nlmsg_seq == ls->dump_seq && nlh->nlmsg_pid == ls->portid;
        if (ours && (nlh->nlmsg_flags & NLM_F_DUMP_INTR))
            ls->dump_intr = 1;
        if (nlh->nlmsg_type == NLMSG_DONE) {
            if (ours)
                complete |= dump_done(ls, t);
            continue;
        }
        if (nlh->nlmsg_type == NLMSG_ERROR) {
            if (ours) {
                const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
                int code = nlh->nlmsg_len >= NLMSG_LENGTH(sizeof *e) ? -e->error : EPROTO;
                /* EBUSY: a dump of ours is still running in the kernel; retry shortly. */
                psu_log_warn("netlink: dump failed: %s; retrying", strerror(code));
                pcd_linkstate_dump_failed(ls);
            }
            continue;
        }
        struct pcd_link l;
        char err[256];
        int rc = pcd_link_parse(nlh, &l, err, sizeof err);
        if (rc < 0) {
            psu_log_warn("netlink: skipping a malformed message: %s", err);
            psm_counter_inc(ls->m->events_failed);
        } else if (rc > 0) {
            handle_link(ls, &l, t);
        }
    }
    if (left > 0) {
        psu_log_warn("netlink: skipping %zu trailing bytes that do not form a message", left);
        psm_counter_inc(ls->m->events_failed);
    }
    return complete;
}

void pcd_linkstate_resync(struct pcd_linkstate *ls, unsigned reasons)
{
    ls->reasons |= reasons;
    ls->redump = 1;
}

int pcd_linkstate_dump_wanted(const struct pcd_linkstate *ls)
{
    return ls->redump && !ls->dump_active;
}

void pcd_linkstate_dump_begin(struct pcd_linkstate *ls, uint32_t seq, uint32_t portid)
{
    ls->dump_seq = seq;
    ls->portid = portid;
    ls->dump_gen++;
    ls->dump_intr = 0;
    ls->dump_active = 1;
    ls->redump = 0;
    /* One dump answers every cause pending now: count each cause once per dump. */
    for (int r = 0; r < PCD_RESYNC_COUNT; r++)
        if (ls->reasons & (1u << r))
            psm_counter_inc(ls->m->resyncs[r]);
    ls->reasons = 0;
}

void pcd_linkstate_dump_failed(struct pcd_linkstate *ls)
{
    ls->dump_active = 0;
    ls->redump = 1;
}

int pcd_linkstate_dump_active(const struct pcd_linkstate *ls)
{
    return ls->dump_active;
}

int pcd_linkstate_initial_done(struct pcd_linkstate *ls)
{
    return atomic_load(&ls->initial_done);
}

uint64_t pcd_linkstate_initial_done_ns(struct pcd_linkstate *ls)
{
    return atomic_load(&ls->initial_done_ns);
}

unsigned pcd_linkstate_overflows(const struct pcd_linkstate *ls)
{
    return ls->overflows;
}
