/*
 * core/queue.c - bounded, per-port coalescing queue (see queue.h).
 *
 * Slots live in one array; a chained hash finds a port's slot by name, a ring of
 * slot indices keeps arrival order, and freed slots form a stack (slots never
 * used are taken in order after it). Everything is allocated at init: push and
 * pop never allocate.
 */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "netlink.h"
#include "psm/writer.h"
#include "psu/clock.h"
#include "psu/hash.h"
#include "queue.h"

struct pcd_queue_slot {
    struct pcd_event ev;
    int32_t next; /* hash chain, or free stack */
};

/* Every field but cap and nbuckets is guarded by mu. */
struct pcd_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint32_t cap, nbuckets;
    struct pcd_queue_slot *slots;
    int32_t *buckets; /* hash heads, slot index or -1 */
    uint32_t *ring;   /* FIFO of slot indices */
    uint32_t head, count;
    int32_t free_top; /* free-slot stack through slot.next */
    uint32_t fresh;   /* slots from here on were never used (untouched: not resident) */
    uint64_t pending; /* folded events queued: the queue_depth gauge */
    int woken;
    int wake_fd;                   /* eventfd pcd_queue_wake() writes to, or -1 */
    struct psm_gauge *depth_gauge; /* if set: holds pending */
};

/* The bucket index takes the low bits: FNV-1a mixes every byte into them. */
static uint32_t name_hash(const char *s)
{
    return (uint32_t)psu_hash_fnv1a64(PSU_HASH_FNV1A64_SEED, s, strlen(s));
}

/* The gauge changes with pending, under the same lock, so it is never stale. */
static void publish_depth(struct pcd_queue *q)
{
    if (q->depth_gauge)
        psm_gauge_set(q->depth_gauge, (double)q->pending);
}

struct pcd_queue *pcd_queue_new(uint32_t cap, struct psm_gauge *depth)
{
    struct pcd_queue *q = calloc(1, sizeof *q);
    if (!q) {
        errno = ENOMEM;
        return NULL;
    }
    if (cap == 0)
        cap = 1;
    q->cap = cap;
    q->depth_gauge = depth;
    q->wake_fd = -1;
    q->nbuckets = 1;
    while (q->nbuckets < cap * 2)
        q->nbuckets <<= 1;
    q->slots = calloc(cap, sizeof *q->slots);
    q->buckets = malloc(q->nbuckets * sizeof *q->buckets);
    q->ring = calloc(cap, sizeof *q->ring);
    if (!q->slots || !q->buckets || !q->ring) {
        free(q->slots);
        free(q->buckets);
        free(q->ring);
        free(q);
        errno = ENOMEM;
        return NULL;
    }
    for (uint32_t i = 0; i < q->nbuckets; i++)
        q->buckets[i] = -1;
    /* The slots are taken in order as needed: a 4096-port queue at 512 ports touches 512. */
    q->free_top = -1;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    publish_depth(q);
    return q;
}

void pcd_queue_free(struct pcd_queue *q)
{
    if (!q)
        return;
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q->slots);
    free(q->buckets);
    free(q->ring);
    free(q);
}

uint32_t pcd_queue_cap(const struct pcd_queue *q)
{
    return q->cap; /* fixed at creation: no lock needed */
}

static int32_t find(const struct pcd_queue *q, const char *name)
{
    for (int32_t i = q->buckets[name_hash(name) & (q->nbuckets - 1)]; i >= 0; i = q->slots[i].next)
        if (strcmp(q->slots[i].ev.name, name) == 0)
            return i;
    return -1;
}

/* Fold the newer @n into the older pending @o. */
static void fold(struct pcd_event *o, const struct pcd_event *n)
{
    uint8_t del =
        n->type == RTM_NEWLINK && (n->del_first || o->type == RTM_DELLINK || o->del_first);
    uint64_t t = o->t_first < n->t_first ? o->t_first : n->t_first;
    uint32_t folded = o->folded + n->folded;
    *o = *n;
    o->del_first = del;
    o->t_first = t;
    o->folded = folded;
}

/* Insert or fold @e; caller holds the lock. Returns 0 new, 1 folded, -1 full. */
static int insert(struct pcd_queue *q, const struct pcd_event *e)
{
    int32_t i = find(q, e->name);
    if (i >= 0) {
        fold(&q->slots[i].ev, e);
        q->pending += e->folded;
        return 1;
    }
    if (q->free_top >= 0) {
        i = q->free_top;
        q->free_top = q->slots[i].next;
    } else if (q->fresh < q->cap) {
        i = (int32_t)q->fresh++;
    } else {
        return -1;
    }
    q->slots[i].ev = *e;
    uint32_t b = name_hash(e->name) & (q->nbuckets - 1);
    q->slots[i].next = q->buckets[b];
    q->buckets[b] = i;
    q->ring[(q->head + q->count) % q->cap] = (uint32_t)i;
    q->count++;
    q->pending += e->folded;
    return 0;
}

int pcd_queue_push(struct pcd_queue *q, const struct pcd_link *l, uint64_t t_ns)
{
    struct pcd_event e = {
        .type = l->type,
        .ifindex = l->ifindex,
        .flags = l->flags,
        .mtu = l->mtu,
        .folded = 1,
        .t_first = t_ns,
        .t_last = t_ns,
    };
    memcpy(e.name, l->name, sizeof e.name);
    pthread_mutex_lock(&q->mu);
    int rc = insert(q, &e);
    if (rc == 0)
        pthread_cond_signal(&q->cv);
    publish_depth(q);
    pthread_mutex_unlock(&q->mu);
    return rc;
}

static void unlink_slot(struct pcd_queue *q, int32_t i)
{
    int32_t *p = &q->buckets[name_hash(q->slots[i].ev.name) & (q->nbuckets - 1)];
    while (*p != i)
        p = &q->slots[*p].next;
    *p = q->slots[i].next;
    q->slots[i].next = q->free_top;
    q->free_top = i;
}

size_t pcd_queue_pop(struct pcd_queue *q, struct pcd_event *out, size_t max, int timeout_ms)
{
    pthread_mutex_lock(&q->mu);
    if (q->count == 0 && timeout_ms > 0 && !q->woken) {
        struct timespec ts = psu_clock_mono_deadline((uint64_t)timeout_ms * 1000000u);
        while (q->count == 0 && !q->woken)
            if (pthread_cond_timedwait(&q->cv, &q->mu, &ts) == ETIMEDOUT)
                break;
    }
    q->woken = 0;
    size_t n = 0;
    while (n < max && q->count > 0) {
        int32_t i = (int32_t)q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
        out[n++] = q->slots[i].ev;
        unlink_slot(q, i);
    }
    pthread_mutex_unlock(&q->mu);
    return n;
}

void pcd_queue_done(struct pcd_queue *q, uint64_t events)
{
    pthread_mutex_lock(&q->mu);
    q->pending = q->pending >= events ? q->pending - events : 0;
    publish_depth(q);
    pthread_mutex_unlock(&q->mu);
}

size_t pcd_queue_requeue(struct pcd_queue *q, const struct pcd_event *ev, size_t n)
{
    size_t dropped = 0;
    pthread_mutex_lock(&q->mu);
    for (size_t k = 0; k < n; k++) {
        /* The entry's events are still counted in pending: take them out first. */
        q->pending -= q->pending >= ev[k].folded ? ev[k].folded : q->pending;
        int32_t i = find(q, ev[k].name);
        if (i >= 0) {
            /* A newer event arrived meanwhile: keep its state, carry our history. */
            struct pcd_event newer = q->slots[i].ev;
            q->slots[i].ev = ev[k];
            fold(&q->slots[i].ev, &newer);
            q->pending += ev[k].folded;
        } else if (insert(q, &ev[k]) < 0) {
            dropped++;
        }
    }
    if (q->count)
        pthread_cond_signal(&q->cv);
    publish_depth(q);
    pthread_mutex_unlock(&q->mu);
    return dropped;
}

/* Write to the wake fd; caller holds the lock. */
static void wake_fd(struct pcd_queue *q)
{
    if (q->wake_fd >= 0) {
        uint64_t one = 1;
        ssize_t w = write(q->wake_fd, &one, sizeof one);
        (void)w;
    }
}

void pcd_queue_wake(struct pcd_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->woken = 1;
    pthread_cond_signal(&q->cv);
    wake_fd(q);
    pthread_mutex_unlock(&q->mu);
}

void pcd_queue_set_wake_fd(struct pcd_queue *q, int fd)
{
    pthread_mutex_lock(&q->mu);
    q->wake_fd = fd;
    /* A wake that came before the fd (the dump ended during startup) is not lost. */
    if (q->woken)
        wake_fd(q);
    pthread_mutex_unlock(&q->mu);
}

uint64_t pcd_queue_pending(struct pcd_queue *q)
{
    pthread_mutex_lock(&q->mu);
    uint64_t n = q->pending;
    pthread_mutex_unlock(&q->mu);
    return n;
}

uint32_t pcd_queue_ports(struct pcd_queue *q)
{
    pthread_mutex_lock(&q->mu);
    uint32_t n = q->count;
    pthread_mutex_unlock(&q->mu);
    return n;
}
