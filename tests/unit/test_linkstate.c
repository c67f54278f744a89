/*
 * tests/unit/test_linkstate.c - the netlink reader's reconciliation
 * (core/linkstate.c): when a dump of ours ends, every port believed present
 * that the dump did not list gets a synthetic DELLINK, and nothing else does.
 *
 * The model is driven through its public API, as the reader thread drives it:
 * pcd_linkstate_dump_begin() when a request is sent, pcd_linkstate_feed() with
 * the messages in the order the kernel can deliver them on one socket; there
 * is no socket and no thread. The order that matters: the
 * kernel writes NLMSG_DONE in a later netlink_dump() call than the last part
 * when the last part's buffer has no room left for it, and that call does not
 * run the dump callback again, so a link created in between is not listed and
 * the DONE is not flagged NLM_F_DUMP_INTR; its multicast NEWLINK arrives
 * between the last part and the DONE.
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifdef PSM_MINICR
#include "minicr.h"
#else
#include <criterion/criterion.h>
#endif

#include "linkstate.h"
#include "metrics.h"
#include "netlink.h"
#include "queue.h"

#define PORTID 4242u

static struct pcd_metrics m;
static struct pcd_queue *q;
static struct pcd_linkstate *ls;
static uint32_t seq;
static char seg[64];

static void setup(void)
{
    snprintf(seg, sizeof seg, "pcd-test-linkmon-%d", (int)getpid());
    cr_assert_eq(pcd_metrics_open(&m, seg, NULL), 0);
    cr_assert_not_null(q = pcd_queue_new(64, NULL));
    cr_assert_not_null(ls = pcd_linkstate_new(q, &m));
    seq = 0;
}

static void teardown(void)
{
    char path[80];
    pcd_linkstate_free(ls);
    pcd_metrics_close(&m);
    pcd_queue_free(q);
    snprintf(path, sizeof path, "/%s", seg);
    shm_unlink(path);
}

TestSuite(reconcile, .init = setup, .fini = teardown, .timeout = 30);

/* As the reader does once its request is sent. */
static void dump_begin(void)
{
    pcd_linkstate_dump_begin(ls, ++seq, PORTID);
}

static char buf[8192];

/* One RTM_NEWLINK/DELLINK: a part of our dump (dump != 0) or a multicast. */
static void feed_link(uint16_t type, int dump, int ifindex, const char *name, unsigned flags)
{
    memset(buf, 0, sizeof buf);
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = dump ? NLM_F_MULTI : 0;
    nlh->nlmsg_seq = dump ? seq : 0;
    nlh->nlmsg_pid = dump ? PORTID : 0;
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
    ifi->ifi_index = ifindex;
    ifi->ifi_flags = flags;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    mnl_attr_put_u32(nlh, IFLA_MTU, 9100);
    pcd_linkstate_feed(ls, buf, nlh->nlmsg_len, 1);
}

/* Our dump's NLMSG_DONE (or NLMSG_ERROR with @error); returns what the feed said. */
static int feed_end(uint16_t type, uint16_t flags, int error)
{
    memset(buf, 0, sizeof buf);
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_MULTI | flags;
    nlh->nlmsg_seq = seq;
    nlh->nlmsg_pid = PORTID;
    if (type == NLMSG_ERROR) {
        struct nlmsgerr *e = mnl_nlmsg_put_extra_header(nlh, sizeof *e);
        e->error = error;
    } else {
        int *err = mnl_nlmsg_put_extra_header(nlh, sizeof(int));
        *err = 0;
    }
    return pcd_linkstate_feed(ls, buf, nlh->nlmsg_len, 1);
}

static void feed_done(void)
{
    cr_assert_eq(feed_end(NLMSG_DONE, 0, 0), 1, "the dump completes");
}

static struct pcd_event got[64];
static size_t ngot;

/* Take everything queued, as the Redis writer would, and account it done. */
static void drain(void)
{
    ngot = pcd_queue_pop(q, got, 64, 0);
    uint64_t folded = 0;
    for (size_t i = 0; i < ngot; i++)
        folded += got[i].folded;
    pcd_queue_done(q, folded);
}

static const struct pcd_event *queued(const char *name)
{
    for (size_t i = 0; i < ngot; i++)
        if (strcmp(got[i].name, name) == 0)
            return &got[i];
    return NULL;
}

#define UP (IFF_UP | IFF_RUNNING)

Test(reconcile, a_port_the_dump_no_longer_lists_gets_a_synthetic_dellink)
{
    dump_begin();
    feed_link(RTM_NEWLINK, 1, 5, "Ethernet0", UP);
    feed_link(RTM_NEWLINK, 1, 6, "Ethernet8", UP);
    feed_done();
    drain();
    cr_assert_eq(ngot, 2, "%zu events queued by the first dump", ngot);
    dump_begin();
    feed_link(RTM_NEWLINK, 1, 5, "Ethernet0", UP);
    feed_done();
    drain();
    const struct pcd_event *e = queued("Ethernet8");
    cr_assert_not_null(e, "Ethernet8 vanished from the dump but got no DELLINK");
    cr_assert_eq(e->type, RTM_DELLINK, "Ethernet8: type %u, expected RTM_DELLINK", e->type);
    cr_assert_eq(queued("Ethernet0")->type, RTM_NEWLINK);
}

Test(reconcile, a_newlink_between_the_last_part_and_done_is_not_deleted)
{
    dump_begin();
    feed_link(RTM_NEWLINK, 1, 5, "Ethernet0", UP);
    feed_link(RTM_NEWLINK, 0, 9, "Ethernet4", UP); /* created after the last part */
    feed_done();
    drain();
    const struct pcd_event *e = queued("Ethernet4");
    cr_assert_not_null(e, "the NEWLINK of Ethernet4 was not queued");
    cr_assert_eq(e->type, RTM_NEWLINK,
                 "Ethernet4 exists (its NEWLINK came after the dump's last part) but the "
                 "reconciliation deleted it: type %u, del_first %u",
                 e->type, e->del_first);
    cr_assert_eq(e->del_first, 0, "Ethernet4 would be deleted before it is written");
    /* The next dump lists it: still nothing to delete. */
    dump_begin();
    feed_link(RTM_NEWLINK, 1, 5, "Ethernet0", UP);
    feed_link(RTM_NEWLINK, 1, 9, "Ethernet4", UP);
    feed_done();
    drain();
    for (size_t i = 0; i < ngot; i++)
        cr_assert_eq(got[i].type, RTM_NEWLINK, "%s deleted by the second dump", got[i].name);
}

Test(reconcile, a_newlink_before_the_dump_that_it_does_not_list_is_deleted)
{
    /* The dump is newer than the event: the port is gone (its DELLINK was missed). */
    feed_link(RTM_NEWLINK, 0, 9, "Ethernet4", UP);
    drain();
    dump_begin();
    feed_link(RTM_NEWLINK, 1, 5, "Ethernet0", UP);
    feed_done();
    drain();
    const struct pcd_event *e = queued("Ethernet4");
    cr_assert_not_null(e, "Ethernet4 is gone from the kernel but got no DELLINK");
    cr_assert_eq(e->type, RTM_DELLINK);
}

Test(reconcile, a_dellink_during_a_dump_that_the_full_queue_refused_is_reconciled)
{
    pcd_linkstate_free(ls);
    pcd_queue_free(q);
    cr_assert_not_null(q = pcd_queue_new(2, NULL));
    cr_assert_not_null(ls = pcd_linkstate_new(q, &m));
    dump_begin();
    feed_link(RTM_NEWLINK, 1, 5, "Ethernet0", UP);
    feed_link(RTM_NEWLINK, 1, 6, "Ethernet4", UP);
    feed_done();
    drain();
    /* Two other ports fill the queue; Ethernet4's DELLINK during the next dump is refused. */
    feed_link(RTM_NEWLINK, 0, 7, "Ethernet100", UP);
    feed_link(RTM_NEWLINK, 0, 8, "Ethernet104", UP);
    dump_begin();
    feed_link(RTM_DELLINK, 0, 6, "Ethernet4", 0);
    feed_link(RTM_NEWLINK, 1, 5, "Ethernet0", UP);
    feed_link(RTM_NEWLINK, 1, 7, "Ethernet100", UP);
    feed_link(RTM_NEWLINK, 1, 8, "Ethernet104", UP);
    feed_done();
    cr_assert_eq(pcd_linkstate_dump_wanted(ls), 1, "a refused event must ask for another dump");
    drain();
    cr_assert_null(queued("Ethernet4"), "the queue was full: nothing of Ethernet4 fits");
    /* The writer keeps up this time: each part is applied before the next arrives. */
    dump_begin();
    feed_link(RTM_NEWLINK, 1, 5, "Ethernet0", UP);
    drain();
    feed_link(RTM_NEWLINK, 1, 7, "Ethernet100", UP);
    drain();
    feed_link(RTM_NEWLINK, 1, 8, "Ethernet104", UP);
    drain();
    feed_done();
    drain();
    const struct pcd_event *e = queued("Ethernet4");
    cr_assert_not_null(e, "Ethernet4's refused DELLINK was never restated");
    cr_assert_eq(e->type, RTM_DELLINK);
}

Test(reconcile, the_first_complete_dump_makes_the_initial_state_known)
{
    cr_assert_eq(pcd_linkstate_initial_done(ls), 0);
    cr_assert_eq(pcd_linkstate_dump_wanted(ls), 1, "nothing is known before a dump");
    dump_begin();
    cr_assert_eq(pcd_linkstate_dump_active(ls), 1);
    cr_assert_eq(pcd_linkstate_dump_wanted(ls), 0, "one dump at a time");
    feed_link(RTM_NEWLINK, 1, 5, "Ethernet0", UP);
    cr_assert_eq(pcd_linkstate_initial_done(ls), 0, "not before its end");
    feed_done();
    cr_assert_eq(pcd_linkstate_initial_done(ls), 1);
    cr_assert_eq(pcd_linkstate_dump_active(ls), 0);
    cr_assert_eq(pcd_linkstate_dump_wanted(ls), 0);
}

Test(reconcile, an_interrupted_dump_deletes_nothing_and_asks_for_another)
{
    dump_begin();
    feed_link(RTM_NEWLINK, 1, 5, "Ethernet0", UP);
    feed_link(RTM_NEWLINK, 1, 6, "Ethernet4", UP);
    feed_done();
    drain();
    /* The kernel flags a dump whose links changed while it ran: its list cannot be trusted. */
    dump_begin();
    feed_link(RTM_NEWLINK, 1, 5, "Ethernet0", UP);
    cr_assert_eq(feed_end(NLMSG_DONE, NLM_F_DUMP_INTR, 0), 0, "an interrupted dump is no answer");
    drain();
    cr_assert_null(queued("Ethernet4"), "Ethernet4 was deleted on an inconsistent dump");
    cr_assert_eq(pcd_linkstate_dump_wanted(ls), 1, "another dump is wanted");
    dump_begin();
    cr_assert_eq(psm_counter_get(m.resyncs[PCD_RESYNC_INTERRUPTED]), 1);
}

Test(reconcile, an_error_reply_to_our_dump_asks_for_another)
{
    dump_begin();
    feed_end(NLMSG_ERROR, 0, -EBUSY);
    cr_assert_eq(pcd_linkstate_dump_active(ls), 0);
    cr_assert_eq(pcd_linkstate_dump_wanted(ls), 1);
    cr_assert_eq(pcd_linkstate_initial_done(ls), 0);
}

Test(reconcile, each_cause_is_counted_once_by_the_dump_that_answers_it)
{
    pcd_linkstate_resync(ls, 1u << PCD_RESYNC_ENOBUFS);
    pcd_linkstate_resync(ls, 1u << PCD_RESYNC_ENOBUFS | 1u << PCD_RESYNC_REDIS);
    cr_assert_eq(psm_counter_get(m.resyncs[PCD_RESYNC_ENOBUFS]), 0, "counted when answered");
    dump_begin();
    cr_assert_eq(psm_counter_get(m.resyncs[PCD_RESYNC_ENOBUFS]), 1);
    cr_assert_eq(psm_counter_get(m.resyncs[PCD_RESYNC_REDIS]), 1);
    feed_done();
    dump_begin();
    cr_assert_eq(psm_counter_get(m.resyncs[PCD_RESYNC_ENOBUFS]), 1, "a later dump answers none");
}

Test(reconcile, an_old_interface_is_ignored_but_its_new_incarnation_is_not)
{
    cr_assert_eq(pcd_linkstate_add_old(ls, 5, "Ethernet0"), 0);
    dump_begin();
    feed_link(RTM_NEWLINK, 1, 5, "Ethernet0", UP);
    feed_done();
    drain();
    cr_assert_eq(ngot, 0, "the old Ethernet0 was queued");
    cr_assert_eq(psm_counter_get(m.ignored[PCD_IGN_OLD]), 1);
    feed_link(RTM_NEWLINK, 0, 9, "Ethernet0", UP); /* re-created: a new ifindex */
    drain();
    cr_assert_not_null(queued("Ethernet0"), "the re-created Ethernet0 was ignored");
}
