/*
 * core/portview.c - see portview.h: the APPL_DB PORT_TABLE view and its thread.
 *
 * The names live in a pcd_portset (a netdev name has at most IFNAMSIZ-1
 * bytes; longer keys are never looked up and are not kept), emptied at each
 * new session.
 */
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "keyspace.h"
#include "portset.h"
#include "portview.h"
#include "psu/clock.h"
#include "psu/hash.h"
#include "psu/log.h"
#include "reply.h"

#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 5000
/* More names than a switch has ports: past that the view gives up (unknown). */
#define NAMES_MAX (1u << 15)

struct pcd_portview {
    struct pcd_portview_opts o;
    char pattern[64]; /* __keyspace@<id>__:PORT_TABLE:* */
    size_t prefix;    /* strlen of the channel's part before the port name */
    char where[320];
    pthread_t thread;
    atomic_int stop, reset;
    int wake_fd; /* eventfd: stop or invalidate ends any wait at once */
    redisContext *cmd, *sub;
    /* Under lock: the writer reads, the thread writes. */
    pthread_mutex_t lock;
    int known;
    struct pcd_portset names; /* the PORT_TABLE:<name> keys that exist */
    /* The thread's own. */
    int off_said, lost_said;
};

/*
 * Set @name (@len bytes) present or absent (under lock). A name that cannot
 * be a netdev is not kept: no lookup asks for it. Returns 0, -1 when the set
 * cannot hold it (no memory, NAMES_MAX): the view must then be unknown, as a
 * present key it does not hold would only send writes to the script, but the
 * set is no longer the truth.
 */
static int table_set(struct pcd_portview *v, const char *name, size_t len, int present)
{
    char n[IFNAMSIZ];
    if (!pcd_port_name_ok(name, len))
        return 0;
    memcpy(n, name, len);
    n[len] = '\0';
    if (!present) {
        pcd_portset_del(&v->names, n);
        return 0;
    }
    if (v->names.count >= NAMES_MAX && !pcd_portset_has(&v->names, n))
        return -1;
    return pcd_portset_add(&v->names, n) < 0 ? -1 : 0;
}

static void view_forget(struct pcd_portview *v)
{
    pthread_mutex_lock(&v->lock);
    v->known = 0;
    pcd_portset_free(&v->names);
    pcd_portset_init(&v->names, NULL);
    pthread_mutex_unlock(&v->lock);
}

int pcd_portview_lookup(struct pcd_portview *v, const char *const *names, size_t n,
                        unsigned char *present)
{
    if (!v)
        return 0;
    pthread_mutex_lock(&v->lock);
    int known = v->known;
    for (size_t i = 0; known && i < n; i++) {
        present[i] = (unsigned char)pcd_portset_has(&v->names, names[i]);
    }
    pthread_mutex_unlock(&v->lock);
    return known;
}

/* A wake-up read: the eventfd stays readable until read, and a poll would spin. */
static void wake_consume(struct pcd_portview *v)
{
    uint64_t n;
    if (read(v->wake_fd, &n, sizeof n) < 0) {
        /* EAGAIN: nothing pending. */
    }
}

/* Wait @ms or until woken; returns 1 when told to stop or to start over. */
static int pause_ms(struct pcd_portview *v, int ms)
{
    struct pollfd p = {.fd = v->wake_fd, .events = POLLIN};
    uint64_t end = psu_clock_mono_ns() + (uint64_t)ms * 1000000u;
    while (!atomic_load(&v->stop) && !atomic_load(&v->reset)) {
        uint64_t now = psu_clock_mono_ns();
        if (now >= end)
            break;
        if (poll(&p, 1, (int)((end - now) / 1000000u) + 1) > 0)
            wake_consume(v);
    }
    return atomic_load(&v->stop) || atomic_load(&v->reset);
}

/* The events after which the key is a hash that exists; any other leaves it absent. */
static int event_leaves_hash(const char *e)
{
    static const char *const kept[] = {"hset",      "hsetnx",  "hincrby", "hincrbyfloat",
                                       "rename_to", "restore", "copy_to", "move_to"};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        if (strcmp(e, kept[i]) == 0)
            return 1;
    return 0;
}

/*
 * Apply every notification the subscriber has read so far, under one lock.
 * Returns 0, -1 when the table is full.
 */
static int apply_notifications(struct pcd_portview *v)
{
    void *r = NULL;
    int rc = 0;
    pthread_mutex_lock(&v->lock);
    while (redisReaderGetReply(v->sub->reader, &r) == REDIS_OK && r) {
        redisReply *m = r;
        /* ["pmessage", pattern, channel, event] */
        if (m->type == REDIS_REPLY_ARRAY && m->elements == 4 &&
            m->element[2]->type == REDIS_REPLY_STRING &&
            m->element[3]->type == REDIS_REPLY_STRING && m->element[2]->len > v->prefix) {
            const char *name = m->element[2]->str + v->prefix;
            size_t len = m->element[2]->len - v->prefix;
            if (table_set(v, name, len, event_leaves_hash(m->element[3]->str)) != 0)
                rc = -1;
        }
        freeReplyObject(m);
        r = NULL;
    }
    pthread_mutex_unlock(&v->lock);
    return rc;
}

/* Read what the subscriber has without waiting; returns 0, -1 when lost. */
static int drain_subscriber(struct pcd_portview *v, int timeout_ms)
{
    struct pollfd p = {.fd = v->sub->fd, .events = POLLIN};
    int n = poll(&p, 1, timeout_ms);
    if (n < 0 && errno != EINTR)
        return -1;
    if (n > 0 && redisBufferRead(v->sub) != REDIS_OK)
        return -1;
    return 0;
}

/* SCAN APPL_DB PORT_TABLE:* into the table. Returns 0, -1 lost, -2 bad reply or full (@err). */
static int scan_ports(struct pcd_portview *v, char *err, size_t errlen)
{
    char cursor[PCD_CURSOR_MAX] = "0";
    do {
        redisReply *rep = redisCommand(v->cmd, "SCAN %s MATCH PORT_TABLE:* COUNT 1000", cursor);
        if (!rep)
            return -1;
        redisReply *const *keys;
        size_t nkeys;
        if (pcd_reply_scan(rep, cursor, &keys, &nkeys, err, errlen) != 0) {
            freeReplyObject(rep);
            return -2;
        }
        int full = 0;
        pthread_mutex_lock(&v->lock);
        for (size_t i = 0; i < nkeys; i++)
            if (keys[i]->type == REDIS_REPLY_STRING && keys[i]->len > 11)
                full |= table_set(v, keys[i]->str + 11, keys[i]->len - 11, 1) != 0;
        pthread_mutex_unlock(&v->lock);
        freeReplyObject(rep);
        if (full) {
            snprintf(err, errlen, "more than %u PORT_TABLE keys", NAMES_MAX);
            return -2;
        }
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

/* EXISTS of every key in @names (one command); returns the count, -1 lost, -2 bad reply. */
static long long exists_all(struct pcd_portview *v, char (*names)[IFNAMSIZ], size_t n)
{
    const char **argv = malloc((n + 1) * sizeof *argv);
    size_t *lens = malloc((n + 1) * sizeof *lens);
    char(*keys)[IFNAMSIZ + 11] = malloc(n * sizeof *keys);
    long long got = -2;
    if (argv && lens && keys) {
        argv[0] = "EXISTS";
        lens[0] = 6;
        for (size_t i = 0; i < n; i++) {
            lens[i + 1] = (size_t)snprintf(keys[i], sizeof keys[i], "PORT_TABLE:%s", names[i]);
            argv[i + 1] = keys[i];
        }
        redisReply *rep = redisCommandArgv(v->cmd, (int)n + 1, argv, lens);
        got = !rep ? -1 : rep->type == REDIS_REPLY_INTEGER ? rep->integer : -2;
        if (rep)
            freeReplyObject(rep);
    }
    free(argv);
    free(lens);
    free(keys);
    return got;
}

/*
 * The keys held present still exist? FLUSHDB and SWAPDB send no keyspace
 * event. One EXISTS of them all (the usual answer: all of them); when fewer
 * exist, one pipeline of EXISTS per key, and a 0 sets that key absent (a
 * notification read later sets it again). Returns 0, -1 lost.
 */
static int verify_present(struct pcd_portview *v)
{
    size_t n = 0, cap = 0;
    char(*names)[IFNAMSIZ] = NULL;
    pthread_mutex_lock(&v->lock);
    n = v->names.count;
    if (n && (names = malloc(n * sizeof *names)))
        for (size_t i = 0; i < v->names.cap; i++)
            if (v->names.slots[i][0])
                memcpy(names[cap++], v->names.slots[i], IFNAMSIZ);
    pthread_mutex_unlock(&v->lock);
    long long all = cap ? exists_all(v, names, cap) : 0;
    if (all == -1 || (long long)cap == all) {
        free(names);
        return all == -1 ? -1 : 0;
    }
    for (size_t i = 0; i < cap; i++)
        redisAppendCommand(v->cmd, "EXISTS PORT_TABLE:%s", names[i]);
    int rc = 0;
    for (size_t i = 0; i < cap; i++) {
        void *r = NULL;
        if (redisGetReply(v->cmd, &r) != REDIS_OK || !r) {
            rc = -1;
            break;
        }
        char why[128];
        if (pcd_reply_flag(r, why, sizeof why) == 0) {
            psu_log_info("APPL_DB PORT_TABLE:%s is gone without a notification (FLUSHDB?)",
                         names[i]);
            pthread_mutex_lock(&v->lock);
            table_set(v, names[i], strlen(names[i]), 0);
            pthread_mutex_unlock(&v->lock);
        }
        freeReplyObject(r);
    }
    free(names);
    return rc;
}

/*
 * Notifications until the subscriber fails (-1), the settings change or an
 * invalidate asks for a new session (-2), or we are told to stop (0).
 */
static int listen_events(struct pcd_portview *v)
{
    uint64_t next = psu_clock_mono_ns() + (uint64_t)v->o.verify_ms * 1000000u;
    for (;;) {
        uint64_t now = psu_clock_mono_ns();
        if (now >= next) {
            char why[256];
            int on = pcd_keyspace_enabled(v->cmd, "ghxe", why, sizeof why);
            if (on <= 0)
                return on < 0 ? -1 : -2; /* off now: the new session says so */
            if (verify_present(v) != 0)
                return -1;
            next = psu_clock_mono_ns() + (uint64_t)v->o.verify_ms * 1000000u;
            continue;
        }
        struct pollfd p[2] = {{.fd = v->sub->fd, .events = POLLIN},
                              {.fd = v->wake_fd, .events = POLLIN}};
        int n = poll(p, 2, (int)((next - now) / 1000000u) + 1);
        if (n > 0 && (p[1].revents & POLLIN))
            wake_consume(v);
        if (atomic_load(&v->stop))
            return 0;
        if (atomic_load(&v->reset))
            return -2;
        if (n < 0 && errno != EINTR)
            return -1;
        if (n <= 0 || !(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        if (redisBufferRead(v->sub) != REDIS_OK)
            return -1;
        if (apply_notifications(v) != 0) {
            psu_log_warn("APPL_DB PORT_TABLE view: more than %u ports: unknown from now on, "
                         "every STATE_DB write checks APPL_DB in the script",
                         NAMES_MAX);
            return -2;
        }
    }
}

static void close_all(struct pcd_portview *v)
{
    if (v->cmd)
        redisFree(v->cmd);
    if (v->sub)
        redisFree(v->sub);
    v->cmd = v->sub = NULL;
}

/*
 * One session: subscribe, scan, follow. Returns 0 when told to stop, -1 when
 * the view could not be built (no connection, a refused subscription or
 * scan: the backoff grows), -2 when the session ended otherwise (lost after
 * the view was built, settings off or changed, invalidated).
 */
static int session(struct pcd_portview *v)
{
    char err[512], why[256];
    int made = 0;
    atomic_store(&v->reset, 0);
    view_forget(v);
    if (!(v->cmd = pcd_redis_endpoint_connect(&v->o.appl, "APPL_DB", v->o.timeout_ms, 1, err,
                                              sizeof err)))
        goto failed;
    int on = pcd_keyspace_enabled(v->cmd, "ghxe", why, sizeof why);
    if (on < 0)
        goto lost;
    if (!on) {
        if (!v->off_said)
            psu_log_warn("redis %s: keyspace notifications are off (%s): no APPL_DB PORT_TABLE "
                         "view, every STATE_DB write checks APPL_DB in the script",
                         v->where, why);
        v->off_said = 1;
        /* Read again every verify period: notifications switched on are used. */
        if (pause_ms(v, v->o.verify_ms))
            return atomic_load(&v->stop) ? 0 : -2;
        return -2;
    }
    if (!(v->sub = pcd_redis_endpoint_connect(&v->o.appl, "APPL_DB", v->o.timeout_ms, 0, err,
                                              sizeof err)))
        goto failed;
    /* Subscribed before the scan: a key changed during it is told afterwards. */
    redisReply *rep = redisCommand(v->sub, "PSUBSCRIBE %s", v->pattern);
    if (!rep)
        goto lost;
    /* ["psubscribe", pattern, count]; anything else (NOPERM...) is no subscription. */
    int subscribed = rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
                     rep->element[0]->type == REDIS_REPLY_STRING &&
                     strcmp(rep->element[0]->str, "psubscribe") == 0;
    if (!subscribed) {
        char d[200];
        snprintf(err, sizeof err, "PSUBSCRIBE %s answered %s", v->pattern,
                 pcd_reply_describe(rep, d, sizeof d));
        freeReplyObject(rep);
        goto failed;
    }
    freeReplyObject(rep);
    int s = scan_ports(v, err, sizeof err);
    if (s == -1)
        goto lost;
    if (s == -2) {
        psu_log_warn("APPL_DB SCAN PORT_TABLE:* at %s: %s: no view, every STATE_DB write checks "
                     "APPL_DB in the script; trying again",
                     v->where, err);
        return -1;
    }
    /* What came in during the scan, before the view is trusted. */
    if (drain_subscriber(v, 0) != 0)
        goto lost;
    if (apply_notifications(v) != 0)
        return -1;
    pthread_mutex_lock(&v->lock);
    /* Under the lock invalidate takes: a scan older than an invalidate is never trusted. */
    if (!atomic_load(&v->reset))
        v->known = 1;
    size_t n = v->names.count;
    pthread_mutex_unlock(&v->lock);
    if (v->lost_said || v->off_said)
        psu_log_notice("APPL_DB PORT_TABLE view at %s: back, %zu keys, followed through %s",
                       v->where, n, v->pattern);
    else
        psu_log_info("APPL_DB PORT_TABLE view at %s: %zu keys, followed through %s", v->where, n,
                     v->pattern);
    v->lost_said = v->off_said = 0;
    made = 1; /* a failure from here on starts the backoff over */
    int rc = listen_events(v);
    view_forget(v);
    if (rc != -1)
        return rc;
lost:
    view_forget(v);
    snprintf(err, sizeof err, "%s",
             v->cmd && v->cmd->err   ? v->cmd->errstr
             : v->sub && v->sub->err ? v->sub->errstr
                                     : "connection lost");
failed:
    view_forget(v);
    if (!v->lost_said && !atomic_load(&v->stop))
        psu_log_warn("APPL_DB PORT_TABLE view at %s: %s; unknown until it is back: every "
                     "STATE_DB write checks APPL_DB in the script meanwhile",
                     v->where, err);
    v->lost_said = 1;
    return made ? -2 : -1;
}

static void *portview_thread(void *arg)
{
    struct pcd_portview *v = arg;
    int delay = RETRY_MIN_MS;
    while (!atomic_load(&v->stop)) {
        int rc = session(v);
        close_all(v);
        if (rc == 0)
            break;
        if (rc == -2) {
            delay = RETRY_MIN_MS; /* it worked until now: start the backoff over */
            if (atomic_load(&v->reset))
                continue; /* invalidated: a new session at once */
        }
        if (pause_ms(v, delay) && atomic_load(&v->stop))
            break;
        if (rc == -1)
            delay = delay * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : delay * 2;
    }
    close_all(v);
    view_forget(v);
    return NULL;
}

struct pcd_portview *pcd_portview_start(const struct pcd_portview_opts *o, char *err, size_t errlen)
{
    struct pcd_portview *v = calloc(1, sizeof *v);
    if (!v) {
        snprintf(err, errlen, "APPL_DB PORT_TABLE view: out of memory");
        return NULL;
    }
    v->o = *o;
    if (v->o.verify_ms <= 0)
        v->o.verify_ms = 5000;
    snprintf(v->pattern, sizeof v->pattern, "__keyspace@%d__:PORT_TABLE:*", o->appl.id);
    v->prefix = strlen(v->pattern) - 1;
    pcd_redis_endpoint_where(&o->appl, v->where, sizeof v->where);
    pthread_mutex_init(&v->lock, NULL);
    pcd_portset_init(&v->names, NULL);
    v->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (v->wake_fd < 0) {
        snprintf(err, errlen, "APPL_DB PORT_TABLE view: eventfd: %s", strerror(errno));
        pthread_mutex_destroy(&v->lock);
        free(v);
        return NULL;
    }
    int e = pthread_create(&v->thread, NULL, portview_thread, v);
    if (e == 0)
        pthread_setname_np(v->thread, "applview");
    if (e != 0) {
        snprintf(err, errlen, "APPL_DB PORT_TABLE view: cannot start its thread: %s", strerror(e));
        close(v->wake_fd);
        pthread_mutex_destroy(&v->lock);
        free(v);
        return NULL;
    }
    return v;
}

static void wake(struct pcd_portview *v)
{
    uint64_t one = 1;
    if (write(v->wake_fd, &one, sizeof one) < 0) {
        /* Only EAGAIN at a full counter: a wake-up is pending anyway. */
    }
}

void pcd_portview_invalidate(struct pcd_portview *v)
{
    if (!v)
        return;
    pthread_mutex_lock(&v->lock);
    v->known = 0;
    atomic_store(&v->reset, 1);
    pthread_mutex_unlock(&v->lock);
    wake(v);
}

void pcd_portview_stop(struct pcd_portview *v)
{
    if (!v)
        return;
    atomic_store(&v->stop, 1);
    wake(v);
    pthread_join(v->thread, NULL);
    close(v->wake_fd);
    pthread_mutex_destroy(&v->lock);
    pcd_portset_free(&v->names);
    free(v);
}
