/*
 * tests/unit/test_queue.c - the bounded per-port queue between the netlink
 * reader and the Redis writer: how events of one port fold, delete-then-write,
 * the capacity in ports, the order of requeued entries, and a producer and a
 * consumer thread against each other (this file also runs under TSan, through
 * tests/unit/minicr.h).
 */
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#ifdef PSM_MINICR
#include "minicr.h"
#else
#include <criterion/criterion.h>
#endif

#include "netlink.h"
#include "queue.h"

TestSuite(queue, .timeout = 120);

static struct pcd_link link_ev(uint16_t type, const char *name, unsigned flags, uint32_t mtu)
{
    struct pcd_link l = {.type = type, .ifindex = 1, .flags = flags, .mtu = mtu};
    snprintf(l.name, sizeof l.name, "%s", name);
    return l;
}

static int push(struct pcd_queue *q, uint16_t type, const char *name, uint32_t mtu, uint64_t t)
{
    struct pcd_link l = link_ev(type, name, IFF_UP, mtu);
    return pcd_queue_push(q, &l, t);
}

Test(queue, events_of_one_port_fold_into_its_latest_state)
{
    struct pcd_queue *q = pcd_queue_new(8, NULL);
    cr_assert_not_null(q);
    cr_assert_eq(push(q, RTM_NEWLINK, "Ethernet0", 1500, 10), 0, "a new entry");
    cr_assert_eq(push(q, RTM_NEWLINK, "Ethernet0", 9000, 20), 1, "folded");
    cr_assert_eq(push(q, RTM_NEWLINK, "Ethernet0", 9100, 30), 1, "folded");
    cr_assert_eq(pcd_queue_ports(q), 1);
    cr_assert_eq(pcd_queue_pending(q), 3, "pending counts events, not entries");
    struct pcd_event ev[4];
    cr_assert_eq(pcd_queue_pop(q, ev, 4, 0), 1);
    cr_assert_eq(ev[0].mtu, 9100, "the latest state wins: mtu %u", ev[0].mtu);
    cr_assert_eq(ev[0].folded, 3);
    cr_assert_eq(ev[0].t_first, 10, "the oldest receipt time is kept for the latency");
    cr_assert_eq(ev[0].del_first, 0);
    cr_assert_eq(pcd_queue_pending(q), 3, "popped events still count until done");
    pcd_queue_done(q, ev[0].folded);
    cr_assert_eq(pcd_queue_pending(q), 0);
    pcd_queue_free(q);
}

Test(queue, a_newlink_after_a_dellink_is_delete_then_write)
{
    struct pcd_event ev[4];
    struct pcd_queue *q = pcd_queue_new(8, NULL);
    cr_assert_not_null(q);
    /* DELLINK then NEWLINK: the old STATE_DB entry goes, then the new one is written. */
    push(q, RTM_DELLINK, "Ethernet0", 0, 1);
    push(q, RTM_NEWLINK, "Ethernet0", 9100, 2);
    cr_assert_eq(pcd_queue_pop(q, ev, 4, 0), 1);
    cr_assert_eq(ev[0].type, RTM_NEWLINK);
    cr_assert_eq(ev[0].del_first, 1, "DELLINK+NEWLINK must delete first");
    /* The delete survives more NEWLINKs folded on top. */
    push(q, RTM_DELLINK, "Ethernet4", 0, 3);
    push(q, RTM_NEWLINK, "Ethernet4", 1500, 4);
    push(q, RTM_NEWLINK, "Ethernet4", 9100, 5);
    cr_assert_eq(pcd_queue_pop(q, ev, 4, 0), 1);
    cr_assert_eq(ev[0].del_first, 1, "a later NEWLINK must not forget the delete");
    cr_assert_eq(ev[0].mtu, 9100);
    /* NEWLINK then DELLINK: just a delete. */
    push(q, RTM_NEWLINK, "Ethernet8", 1500, 6);
    push(q, RTM_DELLINK, "Ethernet8", 0, 7);
    cr_assert_eq(pcd_queue_pop(q, ev, 4, 0), 1);
    cr_assert_eq(ev[0].type, RTM_DELLINK);
    cr_assert_eq(ev[0].del_first, 0);
    /* DELLINK, NEWLINK, DELLINK: the port ends deleted. */
    push(q, RTM_DELLINK, "Ethernet12", 0, 8);
    push(q, RTM_NEWLINK, "Ethernet12", 1500, 9);
    push(q, RTM_DELLINK, "Ethernet12", 0, 10);
    cr_assert_eq(pcd_queue_pop(q, ev, 4, 0), 1);
    cr_assert_eq(ev[0].type, RTM_DELLINK);
    cr_assert_eq(ev[0].folded, 3);
    /* A NEWLINK alone writes without deleting. */
    push(q, RTM_NEWLINK, "Ethernet16", 1500, 11);
    cr_assert_eq(pcd_queue_pop(q, ev, 4, 0), 1);
    cr_assert_eq(ev[0].del_first, 0);
    pcd_queue_free(q);
}

Test(queue, entries_leave_in_order_of_first_arrival)
{
    struct pcd_event ev[8];
    struct pcd_queue *q = pcd_queue_new(8, NULL);
    cr_assert_not_null(q);
    push(q, RTM_NEWLINK, "Ethernet0", 1, 1);
    push(q, RTM_NEWLINK, "Ethernet4", 1, 2);
    push(q, RTM_NEWLINK, "Ethernet8", 1, 3);
    push(q, RTM_NEWLINK, "Ethernet0", 2, 4); /* folds: keeps its place */
    cr_assert_eq(pcd_queue_pop(q, ev, 2, 0), 2, "at most max entries");
    cr_assert_str_eq(ev[0].name, "Ethernet0");
    cr_assert_str_eq(ev[1].name, "Ethernet4");
    cr_assert_eq(pcd_queue_pop(q, ev, 8, 0), 1);
    cr_assert_str_eq(ev[0].name, "Ethernet8");
    cr_assert_eq(pcd_queue_pop(q, ev, 8, 0), 0, "empty");
    pcd_queue_free(q);
}

Test(queue, the_capacity_counts_distinct_ports)
{
    struct pcd_event ev[8];
    char name[16];
    struct pcd_queue *q = pcd_queue_new(4, NULL);
    cr_assert_not_null(q);
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "Ethernet%d", i * 4);
        cr_assert_eq(push(q, RTM_NEWLINK, name, 1500, (uint64_t)i), 0);
    }
    cr_assert_eq(push(q, RTM_NEWLINK, "Ethernet100", 1500, 9), -1, "a fifth port is refused");
    cr_assert_eq(pcd_queue_pending(q), 4, "a refused event is not pending");
    cr_assert_eq(push(q, RTM_NEWLINK, "Ethernet0", 9100, 10), 1,
                 "a full queue still folds events of queued ports");
    cr_assert_eq(pcd_queue_pop(q, ev, 1, 0), 1);
    cr_assert_eq(push(q, RTM_NEWLINK, "Ethernet100", 1500, 11), 0, "room again after a pop");
    struct pcd_queue *one = pcd_queue_new(0, NULL);
    cr_assert_not_null(one);
    cr_assert_eq(pcd_queue_cap(one), 1, "a capacity of 0 holds one port");
    pcd_queue_free(one);
    pcd_queue_free(q);
}

Test(queue, requeued_entries_keep_their_order_and_merge_with_newer_events)
{
    struct pcd_event batch[8], ev[8];
    struct pcd_queue *q = pcd_queue_new(8, NULL);
    cr_assert_not_null(q);
    push(q, RTM_NEWLINK, "Ethernet0", 1500, 1);
    push(q, RTM_DELLINK, "Ethernet4", 0, 2);
    push(q, RTM_NEWLINK, "Ethernet8", 1500, 3);
    cr_assert_eq(pcd_queue_pop(q, batch, 8, 0), 3);
    /* While the batch fails: Ethernet4 comes back, Ethernet12 is new. */
    push(q, RTM_NEWLINK, "Ethernet4", 9100, 4);
    push(q, RTM_NEWLINK, "Ethernet12", 1500, 5);
    cr_assert_eq(pcd_queue_requeue(q, batch, 3), 0, "nothing dropped");
    cr_assert_eq(pcd_queue_pending(q), 5, "every event still pending once");
    cr_assert_eq(pcd_queue_pop(q, ev, 8, 0), 4);
    /* Newer entries keep their place; requeued ones follow in their own order. */
    const char *order[] = {"Ethernet4", "Ethernet12", "Ethernet0", "Ethernet8"};
    for (int i = 0; i < 4; i++)
        cr_assert_str_eq(ev[i].name, order[i], "position %d", i);
    cr_assert_eq(ev[0].type, RTM_NEWLINK, "the newer state of Ethernet4 wins");
    cr_assert_eq(ev[0].mtu, 9100);
    cr_assert_eq(ev[0].del_first, 1, "its requeued DELLINK is still applied first");
    cr_assert_eq(ev[0].folded, 2);
    cr_assert_eq(ev[0].t_first, 2, "the older receipt time is carried");
    pcd_queue_done(q, 5);
    cr_assert_eq(pcd_queue_pending(q), 0);
    pcd_queue_free(q);
}

Test(queue, requeue_into_a_full_queue_reports_what_it_dropped)
{
    struct pcd_event batch[4];
    struct pcd_queue *q = pcd_queue_new(2, NULL);
    cr_assert_not_null(q);
    push(q, RTM_NEWLINK, "Ethernet0", 1500, 1);
    push(q, RTM_NEWLINK, "Ethernet4", 1500, 2);
    cr_assert_eq(pcd_queue_pop(q, batch, 4, 0), 2);
    push(q, RTM_NEWLINK, "Ethernet8", 1500, 3);
    push(q, RTM_NEWLINK, "Ethernet12", 1500, 4);
    cr_assert_eq(pcd_queue_requeue(q, batch, 2), 2, "two entries did not fit");
    cr_assert_eq(pcd_queue_pending(q), 2, "dropped events are no longer pending");
    pcd_queue_free(q);
}

/* An eventfd's count, 0 when nothing was written to it. */
static uint64_t fd_count(int fd)
{
    uint64_t v = 0;
    return read(fd, &v, sizeof v) == (ssize_t)sizeof v ? v : 0;
}

/*
 * The wake fd of a consumer that waits in poll() (the writer's loop reading
 * netlink inline): pcd_queue_wake() writes to it, and a wake that came before
 * the fd was set still reaches it. Without that, the dump that ended during
 * startup left READY=1 waiting out the loop's 200 ms poll.
 */
Test(queue, a_wake_reaches_the_wake_fd_even_one_that_came_before_it)
{
    struct pcd_queue *q = pcd_queue_new(4, NULL);
    cr_assert_not_null(q);
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    cr_assert_geq(fd, 0);
    pcd_queue_wake(q);
    pcd_queue_set_wake_fd(q, fd);
    cr_assert_eq(fd_count(fd), 1, "the earlier wake was lost");
    struct pcd_event ev[1];
    cr_assert_eq(pcd_queue_pop(q, ev, 1, 0), 0);
    pcd_queue_set_wake_fd(q, fd);
    cr_assert_eq(fd_count(fd), 0, "a wake taken by a pop is not repeated");
    pcd_queue_wake(q);
    cr_assert_eq(fd_count(fd), 1, "pcd_queue_wake() writes to the fd");
    pcd_queue_set_wake_fd(q, -1);
    pcd_queue_wake(q);
    cr_assert_eq(fd_count(fd), 0, "the fd is no longer written once unset");
    close(fd);
    pcd_queue_free(q);
}

/* ---- a producer and a consumer thread ---- */

enum { PORTS = 64, EVENTS = 200000 };

struct run {
    struct pcd_queue *q;
    atomic_int produced_all;
    uint32_t last_mtu[PORTS]; /* written by the producer */
    uint32_t seen_mtu[PORTS]; /* written by the consumer */
    int requeue;              /* the consumer puts every fifth batch back */
    uint64_t applied, requeued_batches;
};

static int port_of(const char *name)
{
    return atoi(name + strlen("Ethernet")) / 4;
}

static void *producer(void *arg)
{
    struct run *r = arg;
    char name[16];
    for (uint32_t i = 1; i <= EVENTS; i++) {
        int p = (int)((i * 2654435761u) % PORTS);
        snprintf(name, sizeof name, "Ethernet%d", p * 4);
        uint16_t type = i % 7 == 0 ? RTM_DELLINK : RTM_NEWLINK;
        struct pcd_link l = link_ev(type, name, IFF_UP, i);
        /* The reader resynchronises on a full queue; here the event is offered again. */
        while (pcd_queue_push(r->q, &l, i) < 0)
            sched_yield();
        r->last_mtu[p] = type == RTM_DELLINK ? 0 : i;
    }
    atomic_store(&r->produced_all, 1);
    pcd_queue_wake(r->q);
    return NULL;
}

static void *consumer(void *arg)
{
    struct run *r = arg;
    struct pcd_event ev[32];
    for (unsigned round = 0;; round++) {
        int done = atomic_load(&r->produced_all);
        size_t n = pcd_queue_pop(r->q, ev, 32, 5);
        if (n == 0 && done && pcd_queue_pending(r->q) == 0)
            return NULL;
        if (n && r->requeue && round % 5 == 0) {
            /* A failed batch (Redis lost): put it back, as sync.c does. */
            cr_assert_eq(pcd_queue_requeue(r->q, ev, n), 0, "the queue holds every port");
            r->requeued_batches++;
            continue;
        }
        uint64_t folded = 0;
        for (size_t i = 0; i < n; i++) {
            int p = port_of(ev[i].name);
            r->seen_mtu[p] = ev[i].type == RTM_DELLINK ? 0 : ev[i].mtu;
            folded += ev[i].folded;
        }
        r->applied += folded;
        pcd_queue_done(r->q, folded);
    }
}

Test(queue, a_consumer_thread_ends_with_every_port_s_last_state)
{
    static struct run r;
    memset(&r, 0, sizeof r);
    cr_assert_not_null(r.q = pcd_queue_new(PORTS, NULL));
    r.requeue = 1;
    pthread_t pt, ct;
    cr_assert_eq(pthread_create(&ct, NULL, consumer, &r), 0);
    cr_assert_eq(pthread_create(&pt, NULL, producer, &r), 0);
    pthread_join(pt, NULL);
    pthread_join(ct, NULL);
    cr_assert_eq(r.applied, EVENTS, "%llu events applied, %d pushed", (unsigned long long)r.applied,
                 EVENTS);
    cr_assert_geq(r.requeued_batches, 1, "the requeue path ran");
    for (int p = 0; p < PORTS; p++)
        cr_assert_eq(r.seen_mtu[p], r.last_mtu[p], "Ethernet%d ended with mtu %u, last pushed %u",
                     p * 4, r.seen_mtu[p], r.last_mtu[p]);
    cr_assert_eq(pcd_queue_pending(r.q), 0);
    pcd_queue_free(r.q);
}

Test(queue, a_small_queue_under_a_fast_producer_loses_nothing_it_accepted)
{
    static struct run r;
    memset(&r, 0, sizeof r);
    cr_assert_not_null(r.q =
                           pcd_queue_new(8, NULL)); /* fewer slots than ports: pushes are refused */
    pthread_t pt, ct;
    cr_assert_eq(pthread_create(&ct, NULL, consumer, &r), 0);
    cr_assert_eq(pthread_create(&pt, NULL, producer, &r), 0);
    pthread_join(pt, NULL);
    pthread_join(ct, NULL);
    for (int p = 0; p < PORTS; p++)
        cr_assert_eq(r.seen_mtu[p], r.last_mtu[p], "Ethernet%d ended with mtu %u, last pushed %u",
                     p * 4, r.seen_mtu[p], r.last_mtu[p]);
    cr_assert_eq(r.applied, EVENTS);
    pcd_queue_free(r.q);
}
