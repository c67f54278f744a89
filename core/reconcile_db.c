/*
 * core/reconcile_db.c - the hold's Redis side (see reconcile.h): the baseline
 * read back from STATE_DB PORT_TABLE, and the writes and deletes made at and
 * after reconciliation. The decisions are reconcile.c's.
 */
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psu/log.h"
#include "reconcile_int.h"
#include "reply.h"

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
            pcd__field_set(p->db.f[k], v->str, v->len);
        }
    }
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
            struct rport *p = h->type == REDIS_REPLY_ARRAY && h->elements
                                  ? pcd__reconcile_port_get(rc, nm)
                                  : NULL;
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

/*
 * STATE_DB PORT_TABLE|<name>: the fields that differ from what it holds, if
 * APPL_DB PORT_TABLE:<name> exists (SONiC's rule for every write). Returns 1
 * written, 0 nothing to write, -1 connection lost (logged).
 */
int pcd__reconcile_write_diff(struct pcd_reconcile *rc, struct rport *p)
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

/*
 * state=reconciled, owed until written: the hold is over once reconcile() ran,
 * but warm-reboot tooling waits on this field, so a connection lost while
 * writing it is retried after the reconnection rather than forgotten.
 */
int pcd__reconcile_state_write(struct pcd_reconcile *rc)
{
    if (!rc->state_owed)
        return 0;
    if (pcd_warm_state_set(rc->db, rc->m, PCD_WARM_RECONCILED) != 0)
        return -1;
    rc->state_owed = 0;
    return 0;
}

int pcd__reconcile_finish(struct pcd_reconcile *rc, uint64_t now, const char *why)
{
    size_t written = 0, removed = 0;
    for (uint32_t i = 0; i < rc->cap; i++) {
        struct rport *p = &rc->slots[i];
        if (!p->name[0] || !p->has_db)
            continue;
        if (p->seen && p->present) {
            int w = pcd__reconcile_write_diff(rc, p);
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
    return pcd__reconcile_state_write(rc);
}
