/*
 * core/reconcile.h - a restart without a flap: STATE_DB PORT_TABLE as it was
 * before this run (the baseline) is held against the kernel until
 * reconciliation, so a port whose state did not change is never rewritten and
 * a transient never reaches STATE_DB.
 *
 * Two kinds of restart use it (portsyncd(8), WARM RESTART):
 *   warm   WARM_RESTART_ENABLE_TABLE|system or |swss enable=true; progress in
 *          STATE_DB WARM_RESTART_TABLE|portsyncd state, as SONiC's daemons
 *          write it: initialized -> restored (baseline read) -> reconciled
 *   alone  a cold start of portsyncd alone on a live switch (CONFIG_DB ports
 *          already consumed into APPL_DB, their netdevs present): the same
 *          hold, and `state disabled`, as on any cold start
 *
 * During the hold, per port whose STATE_DB entry is in the baseline:
 *
 *   kernel state as our dump found it   == baseline  -> no write (held)
 *   (received up to the dump's DONE)    != baseline  -> written at once: it
 *                                          changed while portsyncd was away
 *   a change received after the DONE    -> held for the settle window: back to
 *                                          the baseline within it, no write (a
 *                                          transient); still different after
 *                                          it, written then
 *   DELLINK, or never seen              -> held until reconciliation
 *
 * Ports without a baseline entry are written at once (nothing to compare to).
 * Reconciliation comes when every CONFIG_DB port is settled (its netdev seen
 * since the dump, nothing in the settle window, and STATE_DB holds its kernel
 * state), or at the timer (CONFIG_DB WARM_RESTART|swss portsyncd_timer),
 * whichever is first. It writes the fields that still differ and deletes the
 * entries of ports the kernel no longer has. After it, every event is written
 * as on any run. Only the writer thread uses this.
 */
#ifndef PCD_RECONCILE_H
#define PCD_RECONCILE_H

#include <stdint.h>

#include "dbconn.h"
#include "metrics.h"
#include "queue.h"
#include "warmstart.h"

#define PCD_SETTLE_DEFAULT_MS 500u

/* What kind of start this run is: which of the holds applies. */
enum pcd_restart {
    PCD_RESTART_COLD,  /* nothing held */
    PCD_RESTART_WARM,  /* warm restart: WARM_RESTART_TABLE state goes to reconciled */
    PCD_RESTART_ALONE, /* portsyncd restarted alone on a live switch */
};

struct pcd_reconcile;

/**
 * pcd_reconcile_new - a hold that has not begun
 * @db: the writer's connection
 * @m: the metrics
 * @kind: PCD_RESTART_WARM or PCD_RESTART_ALONE (COLD: NULL is returned, nothing held)
 * @timer_s: reconcile at the latest this long after @start_ns
 * @settle_ms: the settle window for changes after the dump
 * @start_ns: CLOCK_MONOTONIC ns of the start (the timer and the duration count from it)
 * Returns it, or NULL (errno ENOMEM, or 0 for COLD).
 */
struct pcd_reconcile *pcd_reconcile_new(struct pcd_dbconn *db, struct pcd_metrics *m,
                                        enum pcd_restart kind, unsigned timer_s, unsigned settle_ms,
                                        uint64_t start_ns);

/**
 * pcd_reconcile_add_config_port - @name is a CONFIG_DB port: reconciliation
 * before the timer waits until it is settled
 * @rc: the hold
 * @name: the port
 * Returns 0, -1 with errno ENOMEM.
 */
int pcd_reconcile_add_config_port(struct pcd_reconcile *rc, const char *name);

/**
 * pcd_reconcile_load_baseline - read STATE_DB PORT_TABLE|* (SCAN, HGETALL) as
 * the baseline; again after a lost connection (it starts over)
 * @rc: the hold
 * Logs how many entries it read. Returns 0, -1 when the connection was lost
 * (logged) or memory ran out (logged).
 */
int pcd_reconcile_load_baseline(struct pcd_reconcile *rc);

/**
 * pcd_reconcile_baseline_add - one baseline entry, as STATE_DB PORT_TABLE|@name holds it
 * @rc: the hold
 * @name: the port
 * @state: its fields state, netdev_oper_status, admin_status, mtu ("" for an absent one)
 * @oper: see @state
 * @admin: see @state
 * @mtu: see @state
 * What pcd_reconcile_load_baseline() does per entry it reads; the hold begins
 * with the first. Returns 0, -1 with errno ENOMEM.
 */
int pcd_reconcile_baseline_add(struct pcd_reconcile *rc, const char *name, const char *state,
                               const char *oper, const char *admin, const char *mtu);

/** pcd_reconcile_active - 1 until reconciliation is done (NULL: 0) */
int pcd_reconcile_active(const struct pcd_reconcile *rc);

/**
 * pcd_reconcile_filter - decide one popped event during the hold
 * @rc: the hold (NULL or done: every event passes)
 * @e: the event
 * @dump_done_ns: pcd_linkmon_initial_done_ns() read before the pop
 * Returns 1: apply it as usual (written at once), 0: held (no write now; the
 * event is handled: count it processed).
 */
int pcd_reconcile_filter(struct pcd_reconcile *rc, const struct pcd_event *e,
                         uint64_t dump_done_ns);

/**
 * pcd_reconcile_applied - an event pcd_reconcile_filter() passed was written
 * @rc: the hold (NULL or done: nothing)
 * @e: the event: STATE_DB now holds its state (or, for a DELLINK, nothing)
 *
 * Only a write Redis acknowledged changes what the hold compares with: a batch
 * that failed is filtered again when it is retried.
 */
void pcd_reconcile_applied(struct pcd_reconcile *rc, const struct pcd_event *e);

/**
 * pcd_reconcile_tick - write what outlived the settle window; reconcile when due
 * @rc: the hold (NULL: nothing; done: only a state=reconciled still owed, retried)
 * @now_ns: CLOCK_MONOTONIC now
 * @dump_done_ns: pcd_linkmon_initial_done_ns() read before the last pop;
 * reconciliation waits for it, even at the timer (before it, the kernel's state is unknown)
 * @drained: the last pop emptied the queue, so every event of that dump has been
 * through pcd_reconcile_filter() (a port still queued would look gone)
 * Returns 0, -1 when the connection was lost (logged; call again once reconnected).
 */
int pcd_reconcile_tick(struct pcd_reconcile *rc, uint64_t now_ns, uint64_t dump_done_ns,
                       int drained);

/**
 * pcd_reconcile_wait_ms - how long the writer may wait for events before the
 * next tick is due (at most @max_ms)
 * @rc: the hold
 * @now_ns: CLOCK_MONOTONIC now
 * @max_ms: the writer's usual wait
 */
int pcd_reconcile_wait_ms(const struct pcd_reconcile *rc, uint64_t now_ns, int max_ms);

/** pcd_reconcile_free - release @rc (NULL is fine) */
void pcd_reconcile_free(struct pcd_reconcile *rc);

#endif
