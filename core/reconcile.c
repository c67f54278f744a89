/*
 * core/reconcile.c - see reconcile.h: the hold of STATE_DB writes against the
 * pre-restart baseline until reconciliation (the WARM_RESTART_TABLE state and
 * the timer it uses are warmstart.c's).
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psu/clock.h"
#include "psu/log.h"
#include "reconcile.h"
#include "reply.h"

/* The four fields portsyncd owns in STATE_DB PORT_TABLE|<name>, as strings. */
enum { F_STATE, F_OPER, F_ADMIN, F_MTU, F_COUNT };
static const char *const field_name[F_COUNT] = {"state", "netdev_oper_status", "admin_status",
                                                "mtu"};
#define FIELD_MAX 16 /* longer baseline values cannot be ours: kept as "differs" */

struct pstate {
    char f[F_COUNT][FIELD_MAX];
};

struct rport {
    char name[IFNAMSIZ]; /* "" : a free slot */
    uint8_t in_config;   /* a CONFIG_DB port: reconciliation waits for it */
    uint8_t has_db;      /* STATE_DB has an entry: db says what (as far as we wrote) */
    uint8_t seen;        /* the kernel's state is known (an event since the start) */
    uint8_t present;     /* ... and the netdev exists */
    uint8_t pending;     /* a change after the dump, in its settle window */
    uint64_t pending_since;
    struct pstate db, k;
};

struct pcd_reconcile {
    struct pcd_dbconn *db;
    struct pcd_metrics *m;
    enum pcd_restart kind;
    unsigned timer_s, settle_ms;
    uint64_t start_ns, deadline_ns;
    int done, baseline_loaded;
    int state_owed; /* reconciled, but WARM_RESTART_TABLE does not say so yet */
    struct rport *slots;
    uint32_t cap, count;
    uint64_t held, deferred; /* events held; writes made later on their behalf */
};

/* ---- the ports: an open-addressed table by name ---- */

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (uint8_t)*s++) * 16777619u;
    return h;
}

static struct rport *port_find(const struct pcd_reconcile *rc, const char *name)
{
    if (!rc->cap)
        return NULL;
    for (uint32_t i = name_hash(name) & (rc->cap - 1);; i = (i + 1) & (rc->cap - 1)) {
        if (!rc->slots[i].name[0])
            return NULL;
        if (strcmp(rc->slots[i].name, name) == 0)
            return &rc->slots[i];
    }
}

/* The port's record, made if new; NULL when out of memory (errno ENOMEM). */
static struct rport *port_get(struct pcd_reconcile *rc, const char *name)
{
    struct rport *p = port_find(rc, name);
    if (p)
        return p;
    if ((rc->count + 1) * 2 > rc->cap) {
        /* Half full at most: a probe is short and a free slot always ends it. */
        uint32_t cap = rc->cap ? rc->cap * 2 : 128;
        struct rport *s = calloc(cap, sizeof *s);
        if (!s) {
            errno = ENOMEM;
            return NULL;
        }
        for (uint32_t i = 0; i < rc->cap; i++) {
            if (!rc->slots[i].name[0])
                continue;
            uint32_t j = name_hash(rc->slots[i].name) & (cap - 1);
            while (s[j].name[0])
                j = (j + 1) & (cap - 1);
            s[j] = rc->slots[i];
        }
        free(rc->slots);
        rc->slots = s;
        rc->cap = cap;
    }
    uint32_t i = name_hash(name) & (rc->cap - 1);
    while (rc->slots[i].name[0])
        i = (i + 1) & (rc->cap - 1);
    p = &rc->slots[i];
    snprintf(p->name, sizeof p->name, "%s", name);
    rc->count++;
    return p;
}

/* ---- the hold ---- */

struct pcd_reconcile *pcd_reconcile_new(struct pcd_dbconn *db, struct pcd_metrics *m,
                                        enum pcd_restart kind, unsigned timer_s, unsigned settle_ms,
                                        uint64_t start_ns)
{
    if (kind == PCD_RESTART_COLD) {
        errno = 0;
        return NULL;
    }
    struct pcd_reconcile *rc = calloc(1, sizeof *rc);
    if (!rc) {
        errno = ENOMEM;
        return NULL;
    }
    rc->db = db;
    rc->m = m;
    rc->kind = kind;
    rc->timer_s = timer_s;
    rc->settle_ms = settle_ms;
    rc->start_ns = start_ns;
    rc->deadline_ns = start_ns + (uint64_t)timer_s * 1000000000ull;
    psm_gauge_set(m->warm_timer, timer_s);
    psm_gauge_set(m->reconcile_active, 1);
    return rc;
}

int pcd_reconcile_add_config_port(struct pcd_reconcile *rc, const char *name)
{
    struct rport *p = port_get(rc, name);
    if (!p)
        return -1;
    p->in_config = 1;
    return 0;
}

/* @v as a baseline value: one that cannot be ours (too long) differs from any kernel state. */
static void field_set(char *dst, const char *v, size_t len)
{
    if (len >= FIELD_MAX || memchr(v, '\0', len))
        snprintf(dst, FIELD_MAX, "\x01");
    else
        memcpy(dst, v, len), dst[len] = '\0';
}

/* One baseline entry: the four fields as STATE_DB has them ("" for an absent one). */
static void baseline_set(struct rport *p, const redisReply *h)
{
    memset(&p->db, 0, sizeof p->db);
    p->has_db = 1;
    for (size_t i = 0; h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements; i += 2) {
        const redisReply *f = h->element[i], *v = h->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        for (int k = 0; k < F_COUNT; k++) {
            if (f->len != strlen(field_name[k]) || memcmp(f->str, field_name[k], f->len) != 0)
                continue;
            field_set(p->db.f[k], v->str, v->len);
        }
    }
}

int pcd_reconcile_baseline_add(struct pcd_reconcile *rc, const char *name, const char *state,
                               const char *oper, const char *admin, const char *mtu)
{
    struct rport *p = port_get(rc, name);
    if (!p)
        return -1;
    const char *v[F_COUNT] = {state, oper, admin, mtu};
    for (int k = 0; k < F_COUNT; k++)
        field_set(p->db.f[k], v[k], strlen(v[k]));
    p->has_db = 1;
    rc->baseline_loaded = 1;
    return 0;
}

/* A name portsyncd writes STATE_DB for (pcd_link_filter()'s name rule). */
static int name_ours(const char *name)
{
    return strncmp(name, "Ethernet", 8) == 0 || strncmp(name, "PortChannel", 11) == 0;
}

int pcd_reconcile_load_baseline(struct pcd_reconcile *rc)
{
    char cursor[PCD_CURSOR_MAX] = "0";
    /* Starting over (a retry after a lost connection): forget what the last attempt read. */
    for (uint32_t i = 0; i < rc->cap; i++)
        rc->slots[i].has_db = 0;
    size_t n = 0;
    do {
        redisReply *rep = pcd_dbconn_cmd(
            rc->db, rc->db->r.state, 6,
            (const char *[]){"SCAN", cursor, "MATCH", "PORT_TABLE|*", "COUNT", "1000"});
        if (!rep)
            return pcd_dbconn_lost(rc->db, rc->db->r.state, "reading STATE_DB PORT_TABLE"), -1;
        redisReply *const *keys;
        size_t nkeys;
        char err[256];
        if (pcd_reply_scan(rep, cursor, &keys, &nkeys, err, sizeof err) != 0) {
            /* Without a baseline nothing can be held: every event is then written. */
            psu_log_error("STATE_DB SCAN MATCH PORT_TABLE|*: %s: no baseline, nothing held", err);
            freeReplyObject(rep);
            break;
        }
        for (size_t i = 0; i < nkeys; i++) {
            const redisReply *k = keys[i];
            if (k->type != REDIS_REPLY_STRING || k->len <= 11 ||
                memcmp(k->str, "PORT_TABLE|", 11) != 0)
                continue;
            const char *name = k->str + 11;
            size_t len = k->len - 11;
            if (!pcd_port_name_ok(name, len)) {
                psu_log_warn("STATE_DB key '%.*s' cannot name a netdev: left alone",
                             (int)(k->len > 64 ? 64 : k->len), k->str);
                continue;
            }
            char nm[IFNAMSIZ];
            memcpy(nm, name, len);
            nm[len] = '\0';
            if (!name_ours(nm)) {
                /* SONiC's name filter drops its events: never ours to write or delete. */
                psu_log_info("STATE_DB PORT_TABLE|%s: not an Ethernet or PortChannel name, left "
                             "alone",
                             nm);
                continue;
            }
            char key[IFNAMSIZ + 16];
            snprintf(key, sizeof key, "PORT_TABLE|%s", nm);
            redisReply *h =
                pcd_dbconn_cmd(rc->db, rc->db->r.state, 2, (const char *[]){"HGETALL", key});
            if (!h) {
                freeReplyObject(rep);
                return pcd_dbconn_lost(rc->db, rc->db->r.state, "reading STATE_DB PORT_TABLE"), -1;
            }
            struct rport *p = h->type == REDIS_REPLY_ARRAY && h->elements ? port_get(rc, nm) : NULL;
            if (p) {
                baseline_set(p, h);
                n++;
            } else if (h->type == REDIS_REPLY_ARRAY && h->elements) {
                psu_log_error("out of memory for the baseline of %s: its writes are not held", nm);
            }
            freeReplyObject(h);
        }
        freeReplyObject(rep);
    } while (strcmp(cursor, "0") != 0);
    rc->baseline_loaded = 1;
    psu_log_notice("%s: baseline of %zu STATE_DB PORT_TABLE entries read; writes held until "
                   "reconciliation (at the latest %u s after the start)",
                   rc->kind == PCD_RESTART_WARM ? "warm restart" : "restart alone", n, rc->timer_s);
    return 0;
}

int pcd_reconcile_active(const struct pcd_reconcile *rc)
{
    return rc && !rc->done;
}

/* What STATE_DB would say about the netdev of @e, as SONiC's portsyncd writes it. */
static void kernel_state(const struct pcd_event *e, struct pstate *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->f[F_STATE], FIELD_MAX, "ok");
    snprintf(s->f[F_OPER], FIELD_MAX, "%s", (e->flags & IFF_RUNNING) ? "up" : "down");
    snprintf(s->f[F_ADMIN], FIELD_MAX, "%s", (e->flags & IFF_UP) ? "up" : "down");
    snprintf(s->f[F_MTU], FIELD_MAX, "%" PRIu32, e->mtu);
}

static int state_equal(const struct pstate *a, const struct pstate *b)
{
    for (int k = 0; k < F_COUNT; k++)
        if (strcmp(a->f[k], b->f[k]) != 0)
            return 0;
    return 1;
}

static void hold(struct pcd_reconcile *rc)
{
    rc->held++;
    psm_counter_inc(rc->m->reconcile_held);
}

int pcd_reconcile_filter(struct pcd_reconcile *rc, const struct pcd_event *e, uint64_t dump_done_ns)
{
    if (!rc || rc->done || !rc->baseline_loaded)
        return 1;
    struct rport *p = port_find(rc, e->name);
    if (!p)
        return 1; /* neither in CONFIG_DB nor in STATE_DB: nothing to hold it against */
    p->seen = 1;
    if (e->type == RTM_DELLINK) {
        p->present = 0;
        p->pending = 0;
        if (!p->has_db)
            return 1;
        /* A netdev may come back (a warm reboot recreates them): decided at reconciliation. */
        psu_log_info("%s deleted during the hold: its STATE_DB entry is kept until "
                     "reconciliation",
                     p->name);
        hold(rc);
        return 0;
    }
    kernel_state(e, &p->k);
    p->present = 1;
    if (!p->has_db)
        return 1; /* a new entry: written at once */
    if (state_equal(&p->k, &p->db)) {
        if (p->pending)
            psu_log_info("%s came back to its STATE_DB state within %u ms: a transient, not "
                         "written",
                         p->name, rc->settle_ms);
        p->pending = 0;
        hold(rc);
        return 0;
    }
    /* Received by the end of our dump: the state the kernel had when we looked. */
    if (!dump_done_ns || e->t_last <= dump_done_ns) {
        psu_log_notice("%s changed while portsyncd was away (oper %s admin %s mtu %s): written",
                       p->name, p->k.f[F_OPER], p->k.f[F_ADMIN], p->k.f[F_MTU]);
        p->pending = 0;
        return 1;
    }
    if (!p->pending) {
        p->pending = 1;
        p->pending_since = e->t_last;
    }
    hold(rc);
    return 0;
}

void pcd_reconcile_applied(struct pcd_reconcile *rc, const struct pcd_event *e)
{
    struct rport *p = rc && !rc->done ? port_find(rc, e->name) : NULL;
    if (!p)
        return;
    if (e->type == RTM_DELLINK) {
        p->has_db = 0;
    } else {
        kernel_state(e, &p->db);
        p->has_db = 1;
    }
}

/*
 * STATE_DB PORT_TABLE|<name>: the fields that differ from what it holds, if
 * APPL_DB PORT_TABLE:<name> exists (SONiC's rule for every write). Returns 1
 * written, 0 nothing to write, -1 connection lost (logged).
 */
static int write_diff(struct pcd_reconcile *rc, struct rport *p)
{
    struct pcd_dbconn *db = rc->db;
    char key[IFNAMSIZ + 16];
    snprintf(key, sizeof key, "PORT_TABLE:%s", p->name);
    redisReply *rep = pcd_dbconn_cmd(db, db->r.appl, 2, (const char *[]){"EXISTS", key});
    if (!rep)
        return pcd_dbconn_lost(db, db->r.appl, "checking APPL_DB PORT_TABLE"), -1;
    char err[256];
    int found = pcd_reply_flag(rep, err, sizeof err);
    freeReplyObject(rep);
    if (found != 1) {
        if (found < 0)
            psu_log_warn("APPL_DB EXISTS %s: %s (taken as absent)", key, err);
        psu_log_info("%s is not in APPL_DB PORT_TABLE: not published to STATE_DB", p->name);
        p->db = p->k;
        return 0;
    }
    const char *argv[2 + 2 * F_COUNT];
    int argc = 2, nf = 0;
    key[10] = '|';
    argv[0] = "HSET";
    argv[1] = key;
    for (int k = 0; k < F_COUNT; k++) {
        if (strcmp(p->k.f[k], p->db.f[k]) == 0)
            continue;
        argv[argc++] = field_name[k];
        argv[argc++] = p->k.f[k];
        nf++;
    }
    if (!nf)
        return 0;
    rep = pcd_dbconn_cmd(db, db->r.state, argc, argv);
    if (!rep)
        return pcd_dbconn_lost(db, db->r.state, "writing STATE_DB PORT_TABLE"), -1;
    if (rep->type == REDIS_REPLY_ERROR)
        psu_log_warn("STATE_DB HSET %s: %s", key, rep->str);
    freeReplyObject(rep);
    psu_log_info("STATE_DB %s: %d field%s written (oper %s admin %s mtu %s)", key, nf,
                 nf == 1 ? "" : "s", p->k.f[F_OPER], p->k.f[F_ADMIN], p->k.f[F_MTU]);
    p->db = p->k;
    return 1;
}

/* Settled: the netdev seen since the start, nothing in its window, STATE_DB equal to it. */
static int port_settled(const struct rport *p)
{
    return p->seen && p->present && !p->pending && p->has_db && state_equal(&p->k, &p->db);
}

/* Up to @n names of unsettled CONFIG_DB ports into @buf, and how many there are. */
static size_t unsettled(const struct pcd_reconcile *rc, char *buf, size_t len)
{
    size_t count = 0, used = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < rc->cap; i++) {
        const struct rport *p = &rc->slots[i];
        if (!p->name[0] || !p->in_config || port_settled(p))
            continue;
        if (count++ < 8 && used + 40 < len)
            used += (size_t)snprintf(buf + used, len - used, "%s%s (%s)", count > 1 ? ", " : "",
                                     p->name,
                                     !p->seen      ? "no netdev seen"
                                     : !p->present ? "deleted"
                                     : p->pending  ? "changing"
                                                   : "not in APPL_DB");
    }
    return count;
}

/*
 * state=reconciled, owed until written: the hold is over once reconcile() ran,
 * but warm-reboot tooling waits on this field, so a connection lost while
 * writing it is retried after the reconnection rather than forgotten.
 */
static int state_write(struct pcd_reconcile *rc)
{
    if (!rc->state_owed)
        return 0;
    if (pcd_warm_state_set(rc->db, rc->m, PCD_WARM_RECONCILED) != 0)
        return -1;
    rc->state_owed = 0;
    return 0;
}

static int reconcile(struct pcd_reconcile *rc, uint64_t now, const char *why)
{
    size_t written = 0, removed = 0;
    for (uint32_t i = 0; i < rc->cap; i++) {
        struct rport *p = &rc->slots[i];
        if (!p->name[0] || !p->has_db)
            continue;
        if (p->seen && p->present) {
            int w = write_diff(rc, p);
            if (w < 0)
                return -1;
            written += (size_t)w;
            rc->deferred += (uint64_t)w;
            continue;
        }
        /*
         * A netdev of that name that no event showed us: its events are
         * filtered (link kind team), so it is not ours to delete either.
         */
        if (!p->seen && if_nametoindex(p->name) != 0) {
            psu_log_info("%s: STATE_DB entry left alone (its netdev's events are ignored)",
                         p->name);
            continue;
        }
        /* Gone from the kernel (deleted, or never came back): what a DELLINK would do. */
        char key[IFNAMSIZ + 16];
        snprintf(key, sizeof key, "PORT_TABLE|%s", p->name);
        redisReply *rep = pcd_dbconn_cmd(rc->db, rc->db->r.state, 2, (const char *[]){"DEL", key});
        if (!rep)
            return pcd_dbconn_lost(rc->db, rc->db->r.state, "deleting stale STATE_DB entries"), -1;
        if (rep->type == REDIS_REPLY_ERROR)
            psu_log_warn("STATE_DB DEL %s: %s", key, rep->str);
        freeReplyObject(rep);
        psu_log_notice("%s has no netdev at reconciliation: stale STATE_DB %s deleted", p->name,
                       key);
        p->has_db = 0;
        removed++;
        psm_counter_inc(rc->m->reconcile_stale);
    }
    rc->done = 1;
    uint64_t saved = rc->held > rc->deferred ? rc->held - rc->deferred : 0;
    psm_counter_add(rc->m->reconcile_saved, saved);
    double ms = (double)(now - rc->start_ns) / 1e6;
    psm_gauge_set(rc->m->reconcile_duration, ms / 1e3);
    psm_gauge_set(rc->m->reconcile_active, 0);
    psu_log_notice("reconciled (%s) %.1f ms after the start: %zu port%s written, %zu stale "
                   "entr%s deleted, %" PRIu64 " write%s held, %" PRIu64 " saved",
                   why, ms, written, written == 1 ? "" : "s", removed, removed == 1 ? "y" : "ies",
                   rc->held, rc->held == 1 ? "" : "s", saved);
    rc->state_owed = rc->kind == PCD_RESTART_WARM;
    return state_write(rc);
}

int pcd_reconcile_tick(struct pcd_reconcile *rc, uint64_t now, uint64_t dump_done_ns, int drained)
{
    if (!rc)
        return 0;
    if (rc->done)
        return state_write(rc);
    for (uint32_t i = 0; i < rc->cap; i++) {
        struct rport *p = &rc->slots[i];
        if (!p->name[0] || !p->pending ||
            now - p->pending_since < (uint64_t)rc->settle_ms * 1000000ull)
            continue;
        int w = write_diff(rc, p);
        if (w < 0)
            return -1;
        p->pending = 0;
        rc->deferred += (uint64_t)w;
        psu_log_notice("%s still differs from its STATE_DB state after %u ms: a real change, "
                       "written",
                       p->name, rc->settle_ms);
    }
    /*
     * Not before every event of our dump has been popped (the queue drained
     * after it ended): a port whose listing is still queued would look gone.
     */
    if (!dump_done_ns || !drained)
        return 0;
    char names[512];
    size_t left = unsettled(rc, names, sizeof names);
    if (left == 0)
        return reconcile(rc, now, "every CONFIG_DB port settled");
    if (now < rc->deadline_ns)
        return 0;
    char why[640];
    snprintf(why, sizeof why, "the %u s timer expired with %zu CONFIG_DB port%s not settled: %s%s",
             rc->timer_s, left, left == 1 ? "" : "s", names, left > 8 ? ", ..." : "");
    psu_log_warn("reconciling at the timer: %zu CONFIG_DB port%s not settled: %s%s", left,
                 left == 1 ? "" : "s", names, left > 8 ? ", ..." : "");
    return reconcile(rc, now, why);
}

int pcd_reconcile_wait_ms(const struct pcd_reconcile *rc, uint64_t now, int max_ms)
{
    if (!rc || rc->done)
        return max_ms;
    uint64_t next = rc->deadline_ns;
    for (uint32_t i = 0; i < rc->cap; i++) {
        const struct rport *p = &rc->slots[i];
        uint64_t due = p->pending_since + (uint64_t)rc->settle_ms * 1000000ull;
        if (p->name[0] && p->pending && due < next)
            next = due;
    }
    if (next <= now)
        return 1;
    uint64_t ms = (next - now) / 1000000ull + 1;
    return ms < (uint64_t)max_ms ? (int)ms : max_ms;
}

void pcd_reconcile_free(struct pcd_reconcile *rc)
{
    if (!rc)
        return;
    free(rc->slots);
    free(rc);
}
