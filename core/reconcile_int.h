/*
 * core/reconcile_int.h - what reconcile.c (the hold's decisions) and
 * reconcile_db.c (its Redis reads and writes) share; not for other files.
 */
#ifndef PCD_RECONCILE_INT_H
#define PCD_RECONCILE_INT_H

#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "reconcile.h"

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

/* @v as a baseline value: one that cannot be ours (too long) differs from any kernel state. */
static inline void pcd__field_set(char *dst, const char *v, size_t len)
{
    if (len >= FIELD_MAX || memchr(v, '\0', len))
        snprintf(dst, FIELD_MAX, "\x01");
    else
        memcpy(dst, v, len), dst[len] = '\0';
}

/* The port's record, or NULL. */
struct rport *pcd__reconcile_port_find(const struct pcd_reconcile *rc, const char *name);
/* The port's record, made if new; NULL when out of memory (errno ENOMEM). */
struct rport *pcd__reconcile_port_get(struct pcd_reconcile *rc, const char *name);
/* Reconciliation's write of one port: 1 written, 0 nothing to write, -1 connection lost. */
int pcd__reconcile_write_diff(struct pcd_reconcile *rc, struct rport *p);
/* state=reconciled if owed: 0, or -1 connection lost (owed still). */
int pcd__reconcile_state_write(struct pcd_reconcile *rc);
/* Reconcile now: write what differs, delete what is gone, end the hold (@why is logged). */
int pcd__reconcile_finish(struct pcd_reconcile *rc, uint64_t now, const char *why);

#endif
