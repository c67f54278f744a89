/*
 * core/restart.h - what kind of start this is beyond SONiC's cold and warm
 * (restart alone), and the hold's setup; steps 2a and 2b of startup.c.
 */
#ifndef PCD_RESTART_H
#define PCD_RESTART_H

#include "linkmon.h"
#include "startup.h"

/**
 * pcd_restart_kind - cold, warm, or restart alone (step 2a)
 * @st: the startup, with its CONFIG_DB plan read and the warm check done
 * @mode: --old-interfaces; sonic and ignore keep SONiC's cold path (logged)
 *
 * Restart alone: no warm flag, and a CONFIG_DB port consumed into APPL_DB
 * whose netdev exists. Sets portsyncd_restart_alone. Returns the kind.
 */
enum pcd_restart pcd_restart_kind(struct pcd_startup *st, enum pcd_old_mode mode);

/**
 * pcd_restart_baseline_ready - the timer, the hold and its baseline (step 2b)
 * @st: the startup; nothing to do on a cold start or once done
 *
 * On a warm start, writes state=restored once the baseline is read. Out of
 * memory for the hold: logged, and the start goes on unheld. Returns 0, or -1
 * to retry after a lost connection (logged).
 */
int pcd_restart_baseline_ready(struct pcd_startup *st);

#endif
