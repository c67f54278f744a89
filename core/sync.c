/*
 * core/sync.c - SONiC portsyncd's behaviour on the Redis side.
 *
 * Startup (DESIGN.md section 4): switch_type, the warm-start check and
 * restore_count, the netlink reader (whose dump is requested before CONFIG_DB is
 * read, so nothing is missed), the CONFIG_DB PORT copy through the
 * producer-state table, PortConfigDone. Then the loop: each batch of queued
 * events costs one round trip whatever its size (a script checks APPL_DB
 * PORT_TABLE and writes STATE_DB per event, in order), and PortInitDone is
 * written once the last CONFIG_DB port has a netdev.
 */
#include <errno.h>
#include <net/if.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "portset.h"
#include "psu/clock.h"
#include "psu/log.h"
#include "psu/notify.h"
#include "reply.h"
#include "sync.h"

#define BATCH_MAX 256

/* ---- helpers ---- */

/* Tell systemd (Type=notify); a failure is logged, never fatal: port sync goes on. */
static void notify(const char *state)
{
    if (psu_notify_send(state) < 0)
        psu_log_warn("sd_notify to NOTIFY_SOCKET %s failed: %s (sending '%.*s')",
                     getenv("NOTIFY_SOCKET"), strerror(errno), (int)strcspn(state, "\n"), state);
}

/* A command with C-string arguments; NULL on connection loss. */
static redisReply *cmd(struct pcd_sync *s, redisContext *c, int argc, const char **argv)
{
    size_t lens[16];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    return pcd_redis_cmd(&s->r, c, argc, argv, lens);
}

/* Redis connection lost: say so once, count, back off in the caller. */
static void lost(struct pcd_sync *s, redisContext *c, const char *doing)
{
    if (s->connected)
        psu_log_error("redis %s: connection lost while %s: %s", s->r.where, doing,
                      c && c->errstr[0] ? c->errstr : "no reply");
    s->connected = 0;
    psm_gauge_set(s->m->redis_connected, 0);
    pcd_redis_close(&s->r);
}

/* ---- startup steps; each returns 0, or -1 when the connection was lost ---- */

static int read_switch_type(struct pcd_sync *s)
{
    redisReply *rep = cmd(s, s->r.config, 3,
                          (const char *[]){"HGET", "DEVICE_METADATA|localhost", "switch_type"});
    if (!rep)
        return lost(s, s->r.config, "reading DEVICE_METADATA"), -1;
    const char *v = NULL;
    size_t len = 0;
    char err[256];
    int rc = pcd_reply_field(rep, &v, &len, err, sizeof err);
    if (rc < 0)
        psu_log_warn("CONFIG_DB DEVICE_METADATA|localhost switch_type: %s (taken as not set)", err);
    s->dpu = rc == 1 && len == 3 && memcmp(v, "dpu", 3) == 0;
    psu_log_info("DEVICE_METADATA|localhost switch_type: %.*s", rc == 1 ? (int)strnlen(v, len) : 9,
                 rc == 1 ? v : "(not set)");
    freeReplyObject(rep);
    return 0;
}

static int field_is(struct pcd_sync *s, redisContext *c, const char *key, const char *field,
                    const char *want, int *out)
{
    redisReply *rep = cmd(s, c, 3, (const char *[]){"HGET", key, field});
    if (!rep)
        return -1;
    char err[256];
    *out = pcd_reply_field_is(rep, want, err, sizeof err);
    if (err[0])
        psu_log_warn("%s %s: %s (taken as not set)", key, field, err);
    freeReplyObject(rep);
    return 0;
}

static int warm_start_check(struct pcd_sync *s)
{
    int sys = 0, swss = 0;
    if (field_is(s, s->r.state, "WARM_RESTART_ENABLE_TABLE|system", "enable", "true", &sys) ||
        field_is(s, s->r.state, "WARM_RESTART_ENABLE_TABLE|swss", "enable", "true", &swss))
        return lost(s, s->r.state, "reading WARM_RESTART_ENABLE_TABLE"), -1;
    s->warm = sys || swss;
    long long count = 0;
    if (s->warm) {
        redisReply *rep =
            cmd(s, s->r.state, 3,
                (const char *[]){"HGET", "WARM_RESTART_TABLE|portsyncd", "restore_count"});
        if (!rep)
            return lost(s, s->r.state, "reading restore_count"), -1;
        char err[256];
        int rc = pcd_reply_count(rep, &count, err, sizeof err);
        if (rc != 1) {
            /* No usable restore_count: nothing to restore from, so this is a cold start. */
            psu_log_warn("warm restart enabled but WARM_RESTART_TABLE|portsyncd restore_count is "
                         "%s: starting cold",
                         rc == 0 ? "missing" : err);
            s->warm = 0;
            count = 0;
        } else {
            count++;
        }
        freeReplyObject(rep);
    }
    char num[32];
    snprintf(num, sizeof num, "%lld", count);
    redisReply *rep =
        cmd(s, s->r.state, 4,
            (const char *[]){"HSET", "WARM_RESTART_TABLE|portsyncd", "restore_count", num});
    if (!rep)
        return lost(s, s->r.state, "writing restore_count"), -1;
    if (rep->type == REDIS_REPLY_ERROR)
        psu_log_error("STATE_DB WARM_RESTART_TABLE|portsyncd restore_count: %s", rep->str);
    freeReplyObject(rep);
    psm_gauge_set(s->m->warm_start, s->warm);
    psu_log_notice("%s start (restore_count %lld)", s->warm ? "warm" : "cold", count);
    return 0;
}

/* Copy one CONFIG_DB port; 0 copied, 1 skipped (logged), -1 connection lost. */
static int copy_port(struct pcd_sync *s, const char *name, redisReply *h)
{
    char err[512];
    const char **fv = malloc((h->type == REDIS_REPLY_ARRAY ? h->elements : 0) * sizeof *fv + 1);
    size_t *len = malloc((h->type == REDIS_REPLY_ARRAY ? h->elements : 0) * sizeof *len + 1);
    long pairs = -1;
    if (!fv || !len)
        snprintf(err, sizeof err, "out of memory for its %zu fields", h->elements / 2);
    else
        pairs = pcd_reply_hash(h, fv, len, h->type == REDIS_REPLY_ARRAY ? h->elements : 0, err,
                               sizeof err);
    if (pairs <= 0) {
        if (pairs == 0)
            psu_log_warn("CONFIG_DB PORT|%s has no fields: skipped", name);
        else
            psu_log_warn("CONFIG_DB PORT|%s is %s: skipped", name, err);
        free(fv);
        free(len);
        return 1;
    }
    int rc = pcd_pst_set(&s->r, name, strlen(name), (size_t)pairs, fv, len, err, sizeof err);
    free(fv);
    free(len);
    if (rc > 0)
        psu_log_warn("APPL_DB PORT_TABLE:%s: %s", name, err);
    return rc;
}

/*
 * CONFIG_DB's ports and, on a cold start, which of them a consumer had already
 * taken before this run (APPL_DB PORT_TABLE:<name> has admin_status: a
 * portsyncd-only restart, their netdevs exist). Decided once, before the first
 * copy attempt, and kept across retries: after a partial copy the consumer has
 * taken some ports from *this* run, and asking again would drop them from the
 * "not yet created" set, announcing PortInitDone before their netdevs exist.
 */
struct pcd_config_plan {
    char **names;
    uint8_t *consumed; /* cold start: 1 if consumed before this run */
    size_t n;
};

static void plan_free(struct pcd_config_plan *p)
{
    for (size_t i = 0; p && i < p->n; i++)
        free(p->names[i]);
    if (p) {
        free(p->names);
        free(p->consumed);
    }
    free(p);
}

enum plan_failure { PLAN_LOST, PLAN_OOM, PLAN_BAD_REPLY };

/*
 * SCAN CONFIG_DB PORT|*, then (cold) the consumed check. Returns the plan, or
 * NULL with *@why saying what failed.
 */
static struct pcd_config_plan *config_plan(struct pcd_sync *s, enum plan_failure *why)
{
    /* SCAN, not KEYS: a large CONFIG_DB is not blocked while we read it. */
    char cursor[PCD_CURSOR_MAX] = "0";
    struct pcd_config_plan *p = calloc(1, sizeof *p);
    struct pcd_portset seen; /* SCAN may return a key more than once */
    size_t cap = 0;
    pcd_portset_init(&seen, NULL);
    *why = PLAN_OOM;
    if (!p)
        return NULL;
    do {
        redisReply *rep = cmd(s, s->r.config, 6,
                              (const char *[]){"SCAN", cursor, "MATCH", "PORT|*", "COUNT", "1000"});
        if (!rep)
            goto lost;
        redisReply *const *keys;
        size_t nkeys;
        char err[256];
        if (pcd_reply_scan(rep, cursor, &keys, &nkeys, err, sizeof err) != 0) {
            psu_log_error("CONFIG_DB SCAN MATCH PORT|*: %s; reconnecting in 1 s", err);
            freeReplyObject(rep);
            *why = PLAN_BAD_REPLY;
            goto fail;
        }
        for (size_t i = 0; i < nkeys; i++) {
            const char *k;
            size_t kl;
            int ok = pcd_reply_port_key(keys[i], &k, &kl);
            if (ok == 0)
                continue; /* not PORT|..., whatever MATCH let through */
            if (ok < 0) {
                psu_log_warn("CONFIG_DB key 'PORT|%.*s' (%zu bytes after PORT|) cannot name a "
                             "netdev (1-15 printable bytes without '/', ':' or spaces): skipped",
                             (int)strnlen(k, kl > 64 ? 64 : kl), k, kl);
                continue;
            }
            char name[IFNAMSIZ];
            memcpy(name, k, kl);
            name[kl] = '\0';
            int dup = pcd_portset_add(&seen, name);
            if (dup < 0) {
                freeReplyObject(rep);
                goto fail;
            }
            if (dup)
                continue;
            if (p->n == cap) {
                cap = cap ? cap * 2 : 64;
                char **names = realloc(p->names, cap * sizeof *names);
                if (!names) {
                    freeReplyObject(rep);
                    goto fail;
                }
                p->names = names;
            }
            if (!(p->names[p->n] = strdup(name))) {
                freeReplyObject(rep);
                goto fail;
            }
            p->n++;
        }
        freeReplyObject(rep);
    } while (strcmp(cursor, "0") != 0);

    p->consumed = calloc(p->n ? p->n : 1, 1);
    if (!p->consumed)
        goto fail;
    for (size_t i = 0; i < p->n && !s->warm; i++) {
        char key[64];
        snprintf(key, sizeof key, "PORT_TABLE:%s", p->names[i]);
        redisReply *rep = cmd(s, s->r.appl, 3, (const char *[]){"HEXISTS", key, "admin_status"});
        if (!rep)
            goto lost;
        char err[256];
        int f = pcd_reply_flag(rep, err, sizeof err);
        if (f < 0)
            psu_log_warn("APPL_DB HEXISTS %s admin_status: %s (taken as not consumed)", key, err);
        p->consumed[i] = f == 1;
        freeReplyObject(rep);
    }
    pcd_portset_free(&seen);
    return p;
lost:
    *why = PLAN_LOST;
fail:
    pcd_portset_free(&seen);
    plan_free(p);
    return NULL;
}

/*
 * The "not yet created" set from the plan: every port not consumed before this
 * run, warm or cold. Returns 0, or -1 (logged) when a name could not be stored;
 * the set is then incomplete, so PortInitDone cannot come early, and the caller
 * builds it again.
 */
static int pending_build(struct pcd_sync *s, const struct pcd_config_plan *p)
{
    pcd_portset_free(s->pending_ports);
    pcd_portset_init(s->pending_ports, NULL);
    for (size_t i = 0; i < p->n; i++) {
        if (p->consumed[i] || pcd_portset_add(s->pending_ports, p->names[i]) >= 0)
            continue;
        psu_log_error("cannot remember CONFIG_DB port %s as waiting for its netdev (%s; %u of %zu "
                      "ports held): PortInitDone waits, retrying in 1 s",
                      p->names[i], strerror(errno), s->pending_ports->count, p->n);
        return -1;
    }
    return 0;
}

/* Sleep @ms in short steps; returns -1 if told to stop meanwhile. */
static int pause_ms(struct pcd_sync *s, int ms)
{
    for (int waited = 0; waited < ms && !atomic_load(s->stop); waited += 50)
        usleep(50 * 1000);
    return atomic_load(s->stop) ? -1 : 0;
}

/* The copy of every planned port, then PortConfigDone; 0, or -1 when the connection was lost. */
static int config_copy(struct pcd_sync *s, const struct pcd_config_plan *p)
{
    size_t copied = 0;
    for (size_t i = 0; i < p->n; i++) {
        char key[64];
        snprintf(key, sizeof key, "PORT|%s", p->names[i]);
        redisReply *h = cmd(s, s->r.config, 2, (const char *[]){"HGETALL", key});
        if (!h)
            return -1;
        int c = copy_port(s, p->names[i], h);
        freeReplyObject(h);
        if (c < 0)
            return -1;
        if (c == 0)
            copied++;
        else
            pcd_portset_del(s->pending_ports, p->names[i]);
    }
    char count[32], err[512];
    snprintf(count, sizeof count, "%zu", copied);
    const char *fv[] = {"count", count};
    size_t fl[] = {5, strlen(count)};
    int prc = pcd_pst_set(&s->r, "PortConfigDone", 14, 1, fv, fl, err, sizeof err);
    if (prc < 0)
        return -1;
    if (prc > 0)
        psu_log_error("PortConfigDone: %s", err);
    psu_log_notice("copied %zu CONFIG_DB ports to APPL_DB PORT_TABLE; PortConfigDone count=%zu",
                   copied, copied);
    return 0;
}

static int config_ports(struct pcd_sync *s)
{
    if (!s->plan) {
        enum plan_failure why;
        if (!(s->plan = config_plan(s, &why))) {
            if (why == PLAN_OOM) {
                psu_log_error("out of memory reading the CONFIG_DB port list: retrying in 1 s");
            } else if (why == PLAN_LOST) {
                lost(s, s->r.config, "reading CONFIG_DB ports");
                return -1;
            } else {
                /* Logged with the reply: start over on a new connection, after a pause. */
                s->connected = 0;
                lost(s, s->r.config, "reading CONFIG_DB ports");
            }
            pause_ms(s, 1000);
            return -1;
        }
        while (pending_build(s, s->plan) != 0)
            if (pause_ms(s, 1000) != 0)
                return -1;
    }
    if (s->warm) {
        psu_log_notice("warm start: %zu CONFIG_DB ports, APPL_DB copy and PortConfigDone skipped",
                       s->plan->n);
    } else if (config_copy(s, s->plan) != 0) {
        lost(s, s->r.config, "copying CONFIG_DB ports");
        return -1;
    }
    psm_gauge_set(s->m->config_done, 1);
    plan_free(s->plan);
    s->plan = NULL;
    return 0;
}

/* ---- the event loop ---- */

static int write_port_init_done(struct pcd_sync *s)
{
    char err[512];
    const char *fv[] = {"lanes", "0"};
    size_t fl[] = {5, 1};
    int rc = pcd_pst_set(&s->r, "PortInitDone", 12, 1, fv, fl, err, sizeof err);
    if (rc < 0)
        return lost(s, s->r.appl, "writing PortInitDone"), -1;
    if (rc > 0) {
        psu_log_error("PortInitDone: %s", err);
        return 0;
    }
    s->init_done = 1;
    psm_gauge_set(s->m->init_done, 1);
    psu_log_notice("PortInitDone: every CONFIG_DB port has a netdev (%.1f ms after start)",
                   (double)(psu_clock_mono_ns() - s->started_ns) / 1e6);
    return 0;
}

/*
 * Apply a batch in one round trip (pcd_state_apply: check APPL_DB PORT_TABLE,
 * write STATE_DB, per event, in order). Returns 0, or -1 when the connection
 * was lost (nothing of the batch is accounted; the caller requeues).
 */
static int apply_batch(struct pcd_sync *s, struct pcd_event *ev, size_t n)
{
    struct pcd_state_op ops[BATCH_MAX];
    int res[BATCH_MAX];
    static char errs[BATCH_MAX][160];
    for (size_t i = 0; i < n; i++) {
        ops[i].name = ev[i].name;
        ops[i].op = ev[i].type == RTM_DELLINK ? 'D' : ev[i].del_first ? 'X' : 'N';
        ops[i].oper = (ev[i].flags & IFF_RUNNING) ? "up" : "down";
        ops[i].admin = (ev[i].flags & IFF_UP) ? "up" : "down";
        snprintf(ops[i].mtu, sizeof ops[i].mtu, "%u", ev[i].mtu);
    }
    int rc = pcd_state_apply(&s->r, ops, n, res, errs);
    if (rc < 0)
        return lost(s, s->r.appl, "writing STATE_DB PORT_TABLE"), -1;
    if (rc > 0) {
        /*
         * The script as a whole failed (BUSY, READONLY, LOADING...): nothing of the
         * batch was applied. Start over from a new connection after a pause; the
         * batch is requeued and the reconnection resynchronises.
         */
        psu_log_error("%s: reconnecting", errs[0]);
        lost(s, s->r.appl, "applying a batch");
        usleep(200 * 1000);
        return -1;
    }
    uint64_t now = psu_clock_mono_ns(), done = 0;
    for (size_t i = 0; i < n; i++) {
        done += ev[i].folded;
        if (res[i] == PCD_APPLY_ERROR) {
            psu_log_warn("STATE_DB PORT_TABLE|%s: %s", ev[i].name, errs[i]);
            psm_counter_add(s->m->events_failed, ev[i].folded);
            continue;
        }
        psm_counter_add(s->m->events_processed, ev[i].folded);
        if (res[i] == PCD_APPLY_NOT_FOUND) {
            psm_counter_add(s->m->ignored[PCD_IGN_NOT_IN_TABLE], ev[i].folded);
            psu_log_info("%s is not in APPL_DB PORT_TABLE: not published to STATE_DB", ev[i].name);
            continue;
        }
        psm_histogram_observe(s->m->event_latency, (double)(now - ev[i].t_first) / 1e9);
        if (ev[i].type == RTM_NEWLINK) {
            pcd_portset_del(s->pending_ports, ev[i].name);
            psu_log_debug("STATE_DB PORT_TABLE|%s: oper %s admin %s mtu %s", ev[i].name,
                          ops[i].oper, ops[i].admin, ops[i].mtu);
        } else {
            psu_log_debug("STATE_DB PORT_TABLE|%s deleted", ev[i].name);
        }
    }
    pcd_queue_done(s->q, done);
    return 0;
}

/* Connect with capped exponential backoff until connected or told to stop. */
static int connect_backoff(struct pcd_sync *s)
{
    int delay_ms = 100, attempts = 0;
    char err[512];
    while (!atomic_load(s->stop)) {
        if (pcd_redis_connect(&s->r, err, sizeof err) == 0) {
            s->connected = 1;
            psm_gauge_set(s->m->redis_connected, 1);
            psu_log_notice("redis %s: connected (APPL_DB %d, CONFIG_DB %d, STATE_DB %d)",
                           s->r.where, s->r.o.appl_db, s->r.o.config_db, s->r.o.state_db);
            return 0;
        }
        if (attempts++ == 0 || delay_ms >= 5000)
            psu_log_error("%s; retrying every %.1f s at most", err, 5.0);
        /* Short sleeps: SIGTERM while waiting ends the wait promptly. */
        for (int waited = 0; waited < delay_ms && !atomic_load(s->stop); waited += 50)
            usleep(50 * 1000);
        delay_ms = delay_ms * 2 > 5000 ? 5000 : delay_ms * 2;
    }
    return -1;
}

/* The startup sequence up to (and including) the CONFIG_DB copy. */
static int startup(struct pcd_sync *s)
{
    for (;;) {
        if (atomic_load(s->stop))
            return -1;
        if (!s->connected && connect_backoff(s) != 0)
            return -1;
        if (!s->lm) {
            if (read_switch_type(s) != 0 || warm_start_check(s) != 0)
                continue;
            s->lm_opts.cold = !s->warm;
            s->lm_opts.dpu = s->dpu;
            char err[512] = "out of memory for the netlink reader";
            struct pcd_linkmon *lm = pcd_linkmon_new(s->q, s->m);
            if (!lm || pcd_linkmon_start(lm, &s->lm_opts, err, sizeof err) != 0) {
                psu_log_error("%s", err);
                pcd_linkmon_free(lm);
                return -1;
            }
            s->lm = lm;
        }
        if (config_ports(s) == 0)
            return 0;
    }
}

int pcd_sync_run(struct pcd_sync *s)
{
    s->started_ns = psu_clock_mono_ns();
    s->pending_ports = calloc(1, sizeof *s->pending_ports);
    if (s->pending_ports)
        pcd_portset_init(s->pending_ports, NULL);
    s->r.rtt = s->m->redis_latency;
    if (!s->pending_ports || startup(s) != 0) {
        pcd_linkmon_free(s->lm);
        s->lm = NULL;
        pcd_redis_close(&s->r);
        if (s->pending_ports)
            pcd_portset_free(s->pending_ports);
        free(s->pending_ports);
        plan_free(s->plan);
        s->plan = NULL;
        return atomic_load(s->stop) ? 0 : -1;
    }
    struct pcd_event batch[BATCH_MAX];
    uint64_t last_tick = 0;
    int draining = 0;
    for (;;) {
        if (atomic_load(s->stop) && !draining) {
            /* No new events from here on: apply what is queued, then leave. */
            psu_log_notice("stopping: draining %llu queued events",
                           (unsigned long long)pcd_queue_pending(s->q));
            pcd_linkmon_stop(s->lm);
            draining = 1;
        }
        if (!s->connected) {
            if (draining || connect_backoff(s) != 0)
                break;
            psm_counter_inc(s->m->redis_reconnects);
            pcd_linkmon_resync(s->lm, PCD_RESYNC_REDIS);
        }
        size_t n = pcd_queue_pop(s->q, batch, BATCH_MAX, draining ? 0 : 200);
        if (n && apply_batch(s, batch, n) != 0) {
            uint64_t folded = 0;
            for (size_t i = 0; i < n; i++)
                folded += batch[i].folded;
            psm_counter_add(s->m->events_failed, folded);
            if (pcd_queue_requeue(s->q, batch, n))
                pcd_linkmon_resync(s->lm, PCD_RESYNC_QUEUE_FULL);
            continue;
        }
        if (!s->init_done && pcd_portset_all_created(s->pending_ports) &&
            write_port_init_done(s) != 0)
            continue;
        if (!s->ready_sent && pcd_linkmon_initial_done(s->lm) && pcd_queue_pending(s->q) == 0) {
            s->ready_sent = 1;
            notify("READY=1\nSTATUS=initial link dump applied");
            psu_log_notice("ready: initial link dump applied (%.1f ms after start)",
                           (double)(psu_clock_mono_ns() - s->started_ns) / 1e6);
        }
        if (draining && n == 0)
            break;
        if (psu_clock_mono_ns() - last_tick >= 1000000000ull) {
            last_tick = psu_clock_mono_ns();
            /* An idle daemon notices a lost Redis too: redis_connected tells the truth. */
            if (s->connected && !draining) {
                redisReply *pong = cmd(s, s->r.appl, 1, (const char *[]){"PING"});
                if (pong)
                    freeReplyObject(pong);
                else
                    lost(s, s->r.appl, "checking the connection (PING)");
            }
        }
    }
    /* On every way out: the thread uses the queue and the metrics. */
    pcd_linkmon_free(s->lm);
    s->lm = NULL;
    uint64_t left = pcd_queue_pending(s->q);
    if (left)
        psu_log_warn("exiting with %llu events not applied (Redis unavailable)",
                     (unsigned long long)left);
    pcd_redis_close(&s->r);
    if (s->pending_ports)
        pcd_portset_free(s->pending_ports);
    free(s->pending_ports);
    notify("STOPPING=1");
    return 0;
}
