/*
 * core/restart.c - steps 2a and 2b of the startup (see restart.h), which
 * SONiC's portsyncd does not have: recognising a restart alone, and the
 * warm-restart timer, hold and baseline before any event is applied.
 */
#include <net/if.h>
#include <stdio.h>

#include "psu/log.h"
#include "restart.h"

/*
 * Restart alone: a cold start (no warm flag) where at least one CONFIG_DB port
 * was consumed into APPL_DB (PORT_TABLE:<name> has admin_status) and its netdev
 * exists. On a real cold start swss.sh flushes APPL_DB first, so a consumed
 * port means orchagent is alive and created that netdev: bringing the netdevs
 * down (SONiC's cold path) would be an outage for a daemon restart.
 */
enum pcd_restart pcd_restart_kind(struct pcd_startup *st, enum pcd_old_mode mode)
{
    if (st->warm)
        return PCD_RESTART_WARM;
    const struct pcd_config_plan *p = st->plan;
    size_t consumed = 0, live = 0;
    const char *example = NULL;
    for (size_t i = 0; i < p->n; i++) {
        if (!p->consumed[i])
            continue;
        consumed++;
        if (if_nametoindex(p->names[i]) != 0) {
            live++;
            example = example ? example : p->names[i];
        }
    }
    if (live == 0)
        return PCD_RESTART_COLD;
    char what[256];
    snprintf(what, sizeof what,
             "portsyncd restarted alone on a live switch: %zu of %zu CONFIG_DB ports already "
             "consumed into APPL_DB, %zu of them with their netdev (%s, ...)",
             consumed, p->n, live, example);
    switch (mode) {
    case PCD_OLD_SONIC:
        psu_log_warn("%s; --old-interfaces sonic: bringing every Ethernet netdev down as SONiC's "
                     "cold start does (an outage of every port)",
                     what);
        return PCD_RESTART_COLD;
    case PCD_OLD_IGNORE:
        psu_log_warn("%s; --old-interfaces ignore: their STATE_DB entries stay STALE for the "
                     "whole run (no flap, MTU change or deletion of those netdevs is published)",
                     what);
        return PCD_RESTART_COLD;
    default:
        psu_log_notice("%s: taking over without touching the links; STATE_DB reconciled "
                       "against its pre-restart state",
                       what);
        psm_gauge_set(st->m->restart_alone, 1);
        return PCD_RESTART_ALONE;
    }
}

int pcd_restart_baseline_ready(struct pcd_startup *st)
{
    if (st->baseline_done || st->kind == PCD_RESTART_COLD)
        return 0;
    if (!st->rc) {
        unsigned timer;
        if (pcd_warm_timer_read(st->db, &timer) != 0)
            return -1;
        st->rc = pcd_reconcile_new(st->db, st->m, st->kind, timer, st->settle_ms, st->started_ns);
        for (size_t i = 0; st->rc && i < st->plan->n; i++)
            if (pcd_reconcile_add_config_port(st->rc, st->plan->names[i]) != 0) {
                pcd_reconcile_free(st->rc);
                st->rc = NULL;
            }
        if (!st->rc) {
            /* Without a hold every event is written, as on a cold start: no flap avoided. */
            psu_log_error("out of memory for the reconciliation: STATE_DB is rewritten as on a "
                          "cold start");
            st->baseline_done = 1;
            return 0;
        }
    }
    if (pcd_reconcile_load_baseline(st->rc) != 0)
        return -1;
    if (st->kind == PCD_RESTART_WARM && pcd_warm_state_set(st->db, st->m, PCD_WARM_RESTORED) != 0)
        return -1;
    st->baseline_done = 1;
    return 0;
}
