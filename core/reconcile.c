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
#include "psu/hash.h"
#include "psu/log.h"
#include "reconcile_int.h"

/* ---- the ports: an open-addressed table by name ---- */

static uint32_t name_hash(const char *s)
{
    return (uint32_t)psu_hash_fnv1a64(PSU_HASH_FNV1A64_SEED, s, strlen(s));
}

struct rport *pcd__reconcile_port_find(const struct pcd_reconcile *rc, const char *name)
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

struct rport *pcd__reconcile_port_get(struct pcd_reconcile *rc, const char *name)
{
    struct rport *p = pcd__reconcile_port_find(rc, name);
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
    struct rport *p = pcd__reconcile_port_get(rc, name);
    if (!p)
        return -1;
    p->in_config = 1;
    return 0;
}

int pcd_reconcile_baseline_add(struct pcd_reconcile *rc, const char *name, const char *state,
                               const char *oper, const char *admin, const char *mtu)
{
    struct rport *p = pcd__reconcile_port_get(rc, name);
    if (!p)
        return -1;
    const char *v[F_COUNT] = {state, oper, admin, mtu};
    for (int k = 0; k < F_COUNT; k++)
        pcd__field_set(p->db.f[k], v[k], strlen(v[k]));
    p->has_db = 1;
    rc->baseline_loaded = 1;
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
    struct rport *p = pcd__reconcile_port_find(rc, e->name);
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
    struct rport *p = rc && !rc->done ? pcd__reconcile_port_find(rc, e->name) : NULL;
    if (!p)
        return;
    if (e->type == RTM_DELLINK) {
        p->has_db = 0;
    } else {
        kernel_state(e, &p->db);
        p->has_db = 1;
    }
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

int pcd_reconcile_tick(struct pcd_reconcile *rc, uint64_t now, uint64_t dump_done_ns, int drained)
{
    if (!rc)
        return 0;
    if (rc->done)
        return pcd__reconcile_state_write(rc);
    for (uint32_t i = 0; i < rc->cap; i++) {
        struct rport *p = &rc->slots[i];
        if (!p->name[0] || !p->pending ||
            now - p->pending_since < (uint64_t)rc->settle_ms * 1000000ull)
            continue;
        int w = pcd__reconcile_write_diff(rc, p);
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
        return pcd__reconcile_finish(rc, now, "every CONFIG_DB port settled");
    if (now < rc->deadline_ns)
        return 0;
    char why[640];
    snprintf(why, sizeof why, "the %u s timer expired with %zu CONFIG_DB port%s not settled: %s%s",
             rc->timer_s, left, left == 1 ? "" : "s", names, left > 8 ? ", ..." : "");
    psu_log_warn("reconciling at the timer: %zu CONFIG_DB port%s not settled: %s%s", left,
                 left == 1 ? "" : "s", names, left > 8 ? ", ..." : "");
    return pcd__reconcile_finish(rc, now, why);
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
