/*
 * core/startup.h - SONiC portsyncd's startup sequence, in the order of
 * sonic-swss portsyncd/portsyncd.cpp (DESIGN.md section 4):
 *
 *   1. connect to APPL_DB, CONFIG_DB, STATE_DB; read DEVICE_METADATA|localhost
 *      switch_type (dpu: no old-interface handling)
 *   2. warm-start check: WARM_RESTART_ENABLE_TABLE|system or |swss enable=true;
 *      WARM_RESTART_TABLE|portsyncd restore_count incremented (warm) or 0
 *      (cold), and state initialized (warm) or disabled (cold)
 *   2a. CONFIG_DB PORT|<name> read (cold: which a consumer took before this
 *      run); a cold start where a consumed port's netdev exists is portsyncd
 *      restarted alone on a live switch (reconcile.h)
 *   2b. warm or alone: the reconcile timer and STATE_DB PORT_TABLE read as the
 *      baseline (warm: state restored)
 *   3. the netlink reader started: RTNLGRP_LINK joined, RTM_GETLINK dump asked
 *      for, before anything is copied to APPL_DB so that no netdev is missed
 *   4. every CONFIG_DB port into the "not yet created" set (cold: less the
 *      ports a consumer took before this run) and copied to APPL_DB
 *      PORT_TABLE (producer-state table); PortConfigDone count=<ports>
 *   5. after each batch of link events, once no port waits: PortInitDone lanes=0
 *
 * Steps 1-4 are pcd_startup_run(); step 5 is pcd_startup_port_init_done(), which
 * the writer loop (sync.c) calls after every batch. Only the writer thread uses
 * this state.
 */
#ifndef PCD_STARTUP_H
#define PCD_STARTUP_H

#include <stddef.h>
#include <stdint.h>

#include "dbconn.h"
#include "linkmon.h"
#include "metrics.h"
#include "portset.h"
#include "reconcile.h"

/* CONFIG_DB's ports as step 4 copies them, decided once (kept across a retry). */
struct pcd_config_plan {
    char **names;
    uint8_t *consumed; /* cold start: 1 if consumed before this run */
    size_t n;
};

struct pcd_startup {
    struct pcd_dbconn *db;
    struct pcd_metrics *m;
    int warm, dpu;                /* decided by steps 1 and 2 */
    int lm_started;               /* step 3 done */
    int init_done;                /* PortInitDone written */
    struct pcd_portset pending;   /* CONFIG_DB ports without a netdev yet */
    struct pcd_config_plan *plan; /* step 4's ports, kept across a retry */
    uint64_t started_ns;          /* CLOCK_MONOTONIC at pcd_startup_init() */
    enum pcd_restart kind;        /* decided by step 2a */
    unsigned settle_ms;           /* the reconcile settle window (set by the caller) */
    struct pcd_reconcile *rc;     /* warm or alone: the hold; NULL on a cold start */
    int baseline_done;            /* step 2b done */
    int count_done;               /* step 2's restore_count written: warm decided */
};

/**
 * pcd_startup_init - a sequence that has not begun
 * @st: the state
 * @db: the writer's Redis connection
 * @m: the metrics (warm_start, port_config_done, port_init_done gauges)
 */
void pcd_startup_init(struct pcd_startup *st, struct pcd_dbconn *db, struct pcd_metrics *m);

/**
 * pcd_startup_run - steps 1 to 4, reconnecting as often as it takes
 * @st: the state
 * @lm: the netlink reader, not yet started: step 3 starts it
 * @lm_opts: its options; cold and dpu are set here from steps 1 and 2
 *
 * A lost connection is logged and retried from the step it interrupted; the
 * steps already done are not redone (the reader is started once, the CONFIG_DB
 * plan is kept).
 * Returns 0 after PortConfigDone (or its warm-start skip), -1 when told to stop
 * or when the reader cannot start (logged).
 */
int pcd_startup_run(struct pcd_startup *st, struct pcd_linkmon *lm,
                    struct pcd_linkmon_opts *lm_opts);

/**
 * pcd_startup_port_created - @name's STATE_DB entry was written: it has a netdev
 * @st: the state
 * @name: the port
 */
void pcd_startup_port_created(struct pcd_startup *st, const char *name);

/**
 * pcd_startup_port_init_done - step 5: write PortInitDone once, when no
 * CONFIG_DB port waits for its netdev (also on a warm start, also with none)
 * @st: the state
 * Returns 0 (written now, before, or not due yet; a Redis error reply is
 * logged and tried again on the loop's next pass), -1 when the connection was lost.
 */
int pcd_startup_port_init_done(struct pcd_startup *st);

/** pcd_startup_free - release the state's memory */
void pcd_startup_free(struct pcd_startup *st);

#endif
