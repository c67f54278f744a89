/*
 * core/startup.c - SONiC portsyncd's startup sequence (see startup.h), step by
 * step in the order of sonic-swss portsyncd/portsyncd.cpp, and the PortInitDone
 * rule that ends it. Where this file parts from SONiC, the comment says so; what
 * SONiC does not have at all (restart alone, the warm-restart baseline) is
 * restart.c's.
 *
 * Every step returns 0, or -1 when the Redis connection was lost (the driver
 * reconnects and takes up where it stopped: steps already done are not redone).
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psu/clock.h"
#include "psu/log.h"
#include "reply.h"
#include "restart.h"
#include "startup.h"

/* A command with C-string arguments; NULL on connection loss. */
static redisReply *cmd(struct pcd_startup *st, redisContext *c, int argc, const char **argv)
{
    return pcd_dbconn_cmd(st->db, c, argc, argv);
}

/* The connection failed while doing @doing: logged once, closed; the driver reconnects. */
static void lost(struct pcd_startup *st, redisContext *c, const char *doing)
{
    pcd_dbconn_lost(st->db, c, doing);
}

/* ---- steps 1 and 2: switch_type, the warm-start check ---- */

static int read_switch_type(struct pcd_startup *st)
{
    redisReply *rep = cmd(st, st->db->r.config, 3,
                          (const char *[]){"HGET", "DEVICE_METADATA|localhost", "switch_type"});
    if (!rep)
        return lost(st, st->db->r.config, "reading DEVICE_METADATA"), -1;
    const char *v = NULL;
    size_t len = 0;
    char err[256];
    int rc = pcd_reply_field(rep, &v, &len, err, sizeof err);
    if (rc < 0)
        psu_log_warn("CONFIG_DB DEVICE_METADATA|localhost switch_type: %s (taken as not set)", err);
    st->dpu = rc == 1 && len == 3 && memcmp(v, "dpu", 3) == 0;
    psu_log_info("DEVICE_METADATA|localhost switch_type: %.*s", rc == 1 ? (int)strnlen(v, len) : 9,
                 rc == 1 ? v : "(not set)");
    freeReplyObject(rep);
    return 0;
}

static int field_is(struct pcd_startup *st, redisContext *c, const char *key, const char *field,
                    const char *want, int *out)
{
    redisReply *rep = cmd(st, c, 3, (const char *[]){"HGET", key, field});
    if (!rep)
        return -1;
    char err[256];
    *out = pcd_reply_field_is(rep, want, err, sizeof err);
    if (err[0])
        psu_log_warn("%s %s: %s (taken as not set)", key, field, err);
    freeReplyObject(rep);
    return 0;
}

static int warm_start_check(struct pcd_startup *st)
{
    /*
     * Once restore_count is written the decision is made: a connection lost
     * after it (writing the state) must not count this start twice.
     */
    if (st->count_done)
        return pcd_warm_state_set(st->db, st->m,
                                  st->warm ? PCD_WARM_INITIALIZED : PCD_WARM_DISABLED);
    int sys = 0, swss = 0;
    if (field_is(st, st->db->r.state, "WARM_RESTART_ENABLE_TABLE|system", "enable", "true", &sys) ||
        field_is(st, st->db->r.state, "WARM_RESTART_ENABLE_TABLE|swss", "enable", "true", &swss))
        return lost(st, st->db->r.state, "reading WARM_RESTART_ENABLE_TABLE"), -1;
    st->warm = sys || swss;
    long long count = 0;
    if (st->warm) {
        redisReply *rep =
            cmd(st, st->db->r.state, 3,
                (const char *[]){"HGET", "WARM_RESTART_TABLE|portsyncd", "restore_count"});
        if (!rep)
            return lost(st, st->db->r.state, "reading restore_count"), -1;
        char err[256];
        int rc = pcd_reply_count(rep, &count, err, sizeof err);
        if (rc != 1) {
            /* No usable restore_count: nothing to restore from, so this is a cold start. */
            psu_log_warn("warm restart enabled but WARM_RESTART_TABLE|portsyncd restore_count is "
                         "%s: starting cold",
                         rc == 0 ? "missing" : err);
            st->warm = 0;
            count = 0;
        } else {
            count++;
        }
        freeReplyObject(rep);
    }
    char num[32];
    snprintf(num, sizeof num, "%lld", count);
    redisReply *rep =
        cmd(st, st->db->r.state, 4,
            (const char *[]){"HSET", "WARM_RESTART_TABLE|portsyncd", "restore_count", num});
    if (!rep)
        return lost(st, st->db->r.state, "writing restore_count"), -1;
    if (rep->type == REDIS_REPLY_ERROR)
        psu_log_error("STATE_DB WARM_RESTART_TABLE|portsyncd restore_count: %s", rep->str);
    freeReplyObject(rep);
    st->count_done = 1;
    psm_gauge_set(st->m->warm_start, st->warm);
    psu_log_notice("%s start (restore_count %lld)", st->warm ? "warm" : "cold", count);
    /* SONiC's daemons say where a warm start is: initialized now, disabled when cold. */
    return pcd_warm_state_set(st->db, st->m, st->warm ? PCD_WARM_INITIALIZED : PCD_WARM_DISABLED);
}

/*
 * ---- step 4: the CONFIG_DB copy and PortConfigDone ----
 *
 * SONiC (handlePortConfigFromConfigDB) copies every CONFIG_DB PORT|<name> to
 * APPL_DB and only then drops from the "not yet created" set the ports whose
 * APPL_DB entry a consumer had already taken. That check races with a fast
 * consumer and announces PortInitDone before any netdev exists; here it is
 * made before the copy (config_plan()).
 */

/* Copy one CONFIG_DB port; 0 copied, 1 skipped (logged), -1 connection lost. */
static int copy_port(struct pcd_startup *st, const char *name, redisReply *h)
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
    int rc = pcd_pst_set(&st->db->r, name, strlen(name), (size_t)pairs, fv, len, err, sizeof err);
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
static struct pcd_config_plan *config_plan(struct pcd_startup *st, enum plan_failure *why)
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
        redisReply *rep = cmd(st, st->db->r.config, 6,
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
    for (size_t i = 0; i < p->n && !st->warm; i++) {
        char key[64];
        snprintf(key, sizeof key, "PORT_TABLE:%s", p->names[i]);
        redisReply *rep =
            cmd(st, st->db->r.appl, 3, (const char *[]){"HEXISTS", key, "admin_status"});
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
static int pending_build(struct pcd_startup *st, const struct pcd_config_plan *p)
{
    pcd_portset_free(&st->pending);
    pcd_portset_init(&st->pending, NULL);
    for (size_t i = 0; i < p->n; i++) {
        if (p->consumed[i] || pcd_portset_add(&st->pending, p->names[i]) >= 0)
            continue;
        psu_log_error("cannot remember CONFIG_DB port %s as waiting for its netdev (%s; %u of %zu "
                      "ports held): PortInitDone waits, retrying in 1 s",
                      p->names[i], strerror(errno), st->pending.count, p->n);
        return -1;
    }
    return 0;
}

/* The copy of every planned port, then PortConfigDone; 0, or -1 when the connection was lost. */
static int config_copy(struct pcd_startup *st, const struct pcd_config_plan *p)
{
    size_t copied = 0;
    for (size_t i = 0; i < p->n; i++) {
        char key[64];
        snprintf(key, sizeof key, "PORT|%s", p->names[i]);
        redisReply *h = cmd(st, st->db->r.config, 2, (const char *[]){"HGETALL", key});
        if (!h)
            return -1;
        int c = copy_port(st, p->names[i], h);
        freeReplyObject(h);
        if (c < 0)
            return -1;
        if (c == 0)
            copied++;
        else
            pcd_portset_del(&st->pending, p->names[i]);
    }
    char count[32], err[512];
    snprintf(count, sizeof count, "%zu", copied);
    const char *fv[] = {"count", count};
    size_t fl[] = {5, strlen(count)};
    int prc = pcd_pst_set(&st->db->r, "PortConfigDone", 14, 1, fv, fl, err, sizeof err);
    if (prc < 0)
        return -1;
    if (prc > 0)
        psu_log_error("PortConfigDone: %s", err);
    psu_log_notice("copied %zu CONFIG_DB ports to APPL_DB PORT_TABLE; PortConfigDone count=%zu",
                   copied, copied);
    return 0;
}

/* The plan (step 2a), once; 0, or -1 to retry (logged, paused where that helps). */
static int plan_ready(struct pcd_startup *st)
{
    if (!st->plan) {
        enum plan_failure why;
        if (!(st->plan = config_plan(st, &why))) {
            if (why == PLAN_OOM) {
                psu_log_error("out of memory reading the CONFIG_DB port list: retrying in 1 s");
            } else if (why == PLAN_LOST) {
                lost(st, pcd_redis_failed(&st->db->r), "reading CONFIG_DB ports");
                return -1;
            } else {
                /* Logged with the reply: start over on a new connection, after a pause. */
                st->db->connected = 0;
                lost(st, st->db->r.config, "reading CONFIG_DB ports");
            }
            pcd_dbconn_pause(st->db, 1000);
            return -1;
        }
        while (pending_build(st, st->plan) != 0)
            if (pcd_dbconn_pause(st->db, 1000) != 0)
                return -1;
    }
    return 0;
}

static int config_ports(struct pcd_startup *st)
{
    if (plan_ready(st) != 0)
        return -1;
    if (st->warm) {
        psu_log_notice("warm start: %zu CONFIG_DB ports, APPL_DB copy and PortConfigDone skipped",
                       st->plan->n);
    } else if (config_copy(st, st->plan) != 0) {
        /* The HGETALL (CONFIG_DB) or the copy (APPL_DB): whichever server failed. */
        lost(st, pcd_redis_failed(&st->db->r), "copying CONFIG_DB ports");
        return -1;
    }
    psm_gauge_set(st->m->config_done, 1);
    plan_free(st->plan);
    st->plan = NULL;
    return 0;
}

/* ---- step 5, after each batch: PortInitDone ---- */

static int write_port_init_done(struct pcd_startup *st)
{
    char err[512];
    const char *fv[] = {"lanes", "0"};
    size_t fl[] = {5, 1};
    int rc = pcd_pst_set(&st->db->r, "PortInitDone", 12, 1, fv, fl, err, sizeof err);
    if (rc < 0)
        return lost(st, st->db->r.appl, "writing PortInitDone"), -1;
    if (rc > 0) {
        psu_log_error("PortInitDone: %s", err);
        return 0;
    }
    st->init_done = 1;
    psm_gauge_set(st->m->init_done, 1);
    psu_log_notice("PortInitDone: every CONFIG_DB port has a netdev (%.1f ms after start)",
                   (double)(psu_clock_mono_ns() - st->started_ns) / 1e6);
    return 0;
}

/* ---- the sequence ---- */

void pcd_startup_init(struct pcd_startup *st, struct pcd_dbconn *db, struct pcd_metrics *m)
{
    memset(st, 0, sizeof *st);
    st->db = db;
    st->m = m;
    st->started_ns = psu_clock_mono_ns();
    pcd_portset_init(&st->pending, NULL);
}

int pcd_startup_run(struct pcd_startup *st, struct pcd_linkmon *lm,
                    struct pcd_linkmon_opts *lm_opts)
{
    for (;;) {
        if (atomic_load(st->db->stop))
            return -1;
        /* 1. The three databases. */
        if (!st->db->connected && pcd_dbconn_connect(st->db) != 0)
            return -1;
        if (!st->lm_started) {
            /* 1, 2. switch_type; warm or cold, and restore_count. */
            if (!st->plan && (read_switch_type(st) != 0 || warm_start_check(st) != 0))
                continue;
            /* 2a. CONFIG_DB's ports, and what kind of start this is. */
            if (!st->plan) {
                if (plan_ready(st) != 0)
                    continue;
                st->kind = pcd_restart_kind(st, lm_opts->old_mode);
            }
            /* 2b. The baseline, before any event is applied. */
            if (pcd_restart_baseline_ready(st) != 0)
                continue;
            /*
             * 3. Netlink: joined and its dump requested before anything is
             * copied to APPL_DB, so no netdev created meanwhile is missed. A
             * restart alone has no old interfaces: its netdevs are live.
             */
            lm_opts->cold = st->kind == PCD_RESTART_COLD && !st->warm;
            lm_opts->dpu = st->dpu;
            if (lm_opts->old_mode == PCD_OLD_AUTO)
                lm_opts->old_mode = PCD_OLD_SONIC;
            char err[512];
            if (pcd_linkmon_start(lm, lm_opts, err, sizeof err) != 0) {
                psu_log_error("%s", err);
                return -1;
            }
            st->lm_started = 1;
        }
        /* 4. CONFIG_DB PORT to APPL_DB PORT_TABLE, PortConfigDone. */
        if (config_ports(st) == 0)
            return 0;
    }
}

void pcd_startup_port_created(struct pcd_startup *st, const char *name)
{
    pcd_portset_del(&st->pending, name);
}

int pcd_startup_port_init_done(struct pcd_startup *st)
{
    if (st->init_done || !pcd_portset_all_created(&st->pending))
        return 0;
    return write_port_init_done(st);
}

void pcd_startup_free(struct pcd_startup *st)
{
    pcd_reconcile_free(st->rc);
    st->rc = NULL;
    pcd_portset_free(&st->pending);
    plan_free(st->plan);
    st->plan = NULL;
}
