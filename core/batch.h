/*
 * core/batch.h - a batch of link events applied to STATE_DB: per event, in
 * order, SONiC's portsyncd check (does APPL_DB PORT_TABLE:<name> exist?) and
 * write (HSET or DEL STATE_DB PORT_TABLE|<name>).
 *
 * Where APPL_DB and STATE_DB share a server, the batch is one round trip: one
 * script does both per event, switching databases with SELECT (which Redis
 * confines to the script). Where they do not, it is two: one pipelined EXISTS
 * per event on the APPL_DB server, then one script on the STATE_DB server
 * that writes each event, in order, whose check found the entry. SONiC's own
 * portsyncd does the same two steps per event (HGETALL, then HSET), so neither
 * is atomic across servers there either.
 *
 * With an APPL_DB view (portview.h) that is known, the events of ports it
 * holds present (and every DELLINK) skip the check: one pipeline of plain
 * HSET / DEL on the STATE_DB connection, one round trip; the script costs
 * Redis five to seven times what its HSET does. The ports the view holds
 * absent still take the script, whose check in Redis stays the authority:
 * a port just created whose notification is still in flight is never lost.
 * What is traded: a port deleted from APPL_DB whose "del" notification is
 * still in flight may get one STATE_DB write it would not have had. SONiC's
 * own portsyncd has the same window between its HGETALL and its HSET.
 */
#ifndef PCD_BATCH_H
#define PCD_BATCH_H

#include "portview.h"
#include "redis.h"

/* The most events one batch takes. */
#define PCD_BATCH_MAX 256

/* One link event for pcd_batch_apply(). */
struct pcd_state_op {
    const char *name;  /* the port */
    char op;           /* 'N' write if in PORT_TABLE, 'D' delete, 'X' delete then 'N' */
    const char *oper;  /* "up" / "down" */
    const char *admin; /* "up" / "down" */
    char mtu[12];
};

/* pcd_batch_apply() result per event. */
#define PCD_APPLY_WRITTEN   1  /* STATE_DB PORT_TABLE|<name> written (or deleted, for 'D') */
#define PCD_APPLY_NOT_FOUND 0  /* 'N'/'X': no APPL_DB PORT_TABLE:<name>, nothing written */
#define PCD_APPLY_ERROR     -1 /* Redis refused this event's write (message in errs) */

/**
 * pcd_batch_load - load the batch's script on a new connection
 * @r: the connection set, just connected (r->split decides which script)
 * @err: buffer for what failed
 * @errlen: size of @err
 * Returns 0, or -1 (@err says why; the failed context has err set when the
 * connection was lost).
 */
int pcd_batch_load(struct pcd_redis *r, char *err, size_t errlen);

/**
 * pcd_batch_apply - apply a batch of link events
 * @r: the connection set
 * @view: the APPL_DB PORT_TABLE view (NULL or unknown: the script for every event)
 * @ops: the events
 * @n: how many (at most PCD_BATCH_MAX)
 * @res: receives PCD_APPLY_* per event
 * @errs: receives the Redis error of each PCD_APPLY_ERROR event
 * @round_trips: receives the round trips it took (1 for plain writes only or
 *               the script alone, 2 when split; one more for a batch of both;
 *               0 on failure)
 *
 * A write Redis refuses (e.g. a key of the wrong type) fails that event only.
 * Returns 0, 1 if the script as a whole failed (@errs[0] says why; nothing of
 * the script's share was written, the plain writes before it may have been:
 * applying the batch again repeats them, which changes nothing), -1 on
 * connection loss (pcd_redis_failed() says which).
 */
int pcd_batch_apply(struct pcd_redis *r, struct pcd_portview *view, const struct pcd_state_op *ops,
                    size_t n, int *res, char (*errs)[160], int *round_trips);

#endif
