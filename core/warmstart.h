/*
 * core/warmstart.h - SONiC's warm-restart bookkeeping for portsyncd, as
 * swss-common's WarmStart does it for the other daemons: STATE_DB
 * WARM_RESTART_TABLE|portsyncd state (with its NOTICE line) and the reconcile
 * timer, CONFIG_DB WARM_RESTART|swss portsyncd_timer. The hold that the state
 * reports on is reconcile.h's.
 */
#ifndef PCD_WARMSTART_H
#define PCD_WARMSTART_H

#include <stddef.h>

#include "dbconn.h"
#include "metrics.h"

#define PCD_WARM_TIMER_DEFAULT_S 30u   /* no or a bad portsyncd_timer */
#define PCD_WARM_TIMER_MAX_S     9999u /* SONiC's MAXIMUM_WARMRESTART_TIMER_VALUE */

/* SONiC's WARM_RESTART_TABLE state values that portsyncd writes. */
enum pcd_warm_state {
    PCD_WARM_DISABLED,
    PCD_WARM_INITIALIZED,
    PCD_WARM_RESTORED,
    PCD_WARM_RECONCILED,
    PCD_WARM_STATE_COUNT
};

/**
 * pcd_warm_state_name - SONiC's spelling of @s ("disabled", "initialized", ...)
 * @s: the state
 */
const char *pcd_warm_state_name(enum pcd_warm_state s);

/**
 * pcd_warm_state_set - HSET STATE_DB WARM_RESTART_TABLE|portsyncd state, the
 * NOTICE line SONiC logs ("portsyncd warm start state changed to ..."), the gauge
 * @db: the connection
 * @m: the metrics (portsyncd_warm_restart_state)
 * @s: the state
 * Returns 0 (an error reply is logged), -1 when the connection was lost (logged).
 */
int pcd_warm_state_set(struct pcd_dbconn *db, struct pcd_metrics *m, enum pcd_warm_state s);

/**
 * pcd_warm_timer_parse - CONFIG_DB WARM_RESTART|swss portsyncd_timer as seconds
 * @v: the value (NUL-terminated), or NULL when the field is absent
 * @out: receives the seconds: the value, or PCD_WARM_TIMER_DEFAULT_S
 * @err: receives why the value was refused ("" when taken)
 * @errlen: size of @err
 * A whole decimal number from 1 to 9999 (SONiC's bounds). Returns 0 taken, 1
 * absent (default), -1 refused (default; @err names the value and the bounds).
 */
int pcd_warm_timer_parse(const char *v, unsigned *out, char *err, size_t errlen);

/**
 * pcd_warm_timer_read - read and parse portsyncd_timer (logged: what was used, and why)
 * @db: the connection
 * @out: receives the seconds
 * Returns 0, -1 when the connection was lost (logged).
 */
int pcd_warm_timer_read(struct pcd_dbconn *db, unsigned *out);

#endif
