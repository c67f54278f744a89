/*
 * core/queue.h - the bounded queue between the netlink reader and the Redis
 * writer. It holds at most one entry per port: a newer event for a port that is
 * still queued is folded into its entry (the kernel state is what matters, not
 * every step to it), so a slow Redis makes the queue coalesce, not grow.
 */
#ifndef PCD_QUEUE_H
#define PCD_QUEUE_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

struct pcd_link;
struct psm_gauge;

/* A port's pending change: the latest kernel state plus what was folded into it. */
struct pcd_event {
    char name[IFNAMSIZ];
    uint16_t type;     /* RTM_NEWLINK or RTM_DELLINK: the latest */
    uint8_t del_first; /* NEWLINK after a folded DELLINK: delete, then write */
    int ifindex;
    unsigned flags;
    uint32_t mtu;
    uint32_t folded;  /* netlink events this entry stands for */
    uint64_t t_first; /* CLOCK_MONOTONIC ns of the oldest folded receipt */
    uint64_t t_last;  /* ... and of the newest: when the kernel's state was this one */
};

/* Opaque: its lock, ring and hash belong to queue.c; both threads go through the functions. */
struct pcd_queue;

/**
 * pcd_queue_new - allocate a queue for at most @cap distinct ports
 * @cap: capacity in ports (0 is taken as 1)
 * @depth: a gauge that always holds pcd_queue_pending() (updated under the
 *         queue's lock, so it is never stale), or NULL
 * Everything is allocated here: push and pop never allocate.
 * Returns the queue, or NULL with errno ENOMEM.
 */
struct pcd_queue *pcd_queue_new(uint32_t cap, struct psm_gauge *depth);

/** pcd_queue_free - release @q (NULL is fine); no thread may be using it */
void pcd_queue_free(struct pcd_queue *q);

/** pcd_queue_cap - how many distinct ports @q holds at most */
uint32_t pcd_queue_cap(const struct pcd_queue *q);

/**
 * pcd_queue_push - queue a link event received at @t_ns, folding it into the
 * port's pending entry if there is one
 * @q: the queue
 * @l: the event
 * @t_ns: CLOCK_MONOTONIC receipt time
 * Returns 0 (new entry), 1 (folded), or -1 when the queue already holds @cap
 * other ports: the event is not queued and the caller must resynchronise.
 */
int pcd_queue_push(struct pcd_queue *q, const struct pcd_link *l, uint64_t t_ns);

/**
 * pcd_queue_pop - take up to @max entries, oldest first, waiting up to
 * @timeout_ms for the first one (or until pcd_queue_wake())
 * @q: the queue
 * @out: receives the entries
 * @max: size of @out
 * @timeout_ms: how long to wait when empty; 0 does not wait
 * Returns the number of entries taken. Their events still count in
 * pcd_queue_pending() until pcd_queue_done() is called for them.
 */
size_t pcd_queue_pop(struct pcd_queue *q, struct pcd_event *out, size_t max, int timeout_ms);

/** pcd_queue_done - @events popped events were applied (or given up on) */
void pcd_queue_done(struct pcd_queue *q, uint64_t events);

/**
 * pcd_queue_requeue - put back entries that could not be applied, merging each
 * with any newer entry for the same port (the newer state wins)
 * @q: the queue
 * @ev: the entries
 * @n: how many
 * Entries that find the queue full are dropped; returns how many were dropped
 * (the caller must then resynchronise).
 */
size_t pcd_queue_requeue(struct pcd_queue *q, const struct pcd_event *ev, size_t n);

/** pcd_queue_wake - make a waiting pcd_queue_pop() return (and write 1 to the wake fd, if set) */
void pcd_queue_wake(struct pcd_queue *q);

/**
 * pcd_queue_set_wake_fd - an eventfd pcd_queue_wake() also writes to, for a
 * consumer that waits in poll() rather than in pcd_queue_pop()
 * @q: the queue
 * @fd: the eventfd, or -1 for none
 */
void pcd_queue_set_wake_fd(struct pcd_queue *q, int fd);

/** pcd_queue_pending - events received and not yet applied */
uint64_t pcd_queue_pending(struct pcd_queue *q);

/** pcd_queue_ports - distinct ports queued */
uint32_t pcd_queue_ports(struct pcd_queue *q);

#endif
