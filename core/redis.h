/*
 * core/redis.h - the three SONiC databases over hiredis: connections with
 * timeouts, round trips timed into the redis_latency histogram, and SONiC's
 * producer-state-table writes to APPL_DB.
 */
#ifndef PCD_REDIS_H
#define PCD_REDIS_H

#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "psm/writer.h"

struct pcd_redis_opts {
    const char *socket; /* unix socket path; NULL: use host/port */
    const char *host;
    int port;
    int appl_db, config_db, state_db;
    int timeout_ms; /* connect and command timeout */
};

struct pcd_redis {
    struct pcd_redis_opts o;
    redisContext *appl, *config, *state;
    char set_sha[41], del_sha[41], apply_sha[41];
    psm_histogram_t *rtt; /* may be NULL */
    char where[300];      /* "unix:/path" or "tcp:host:port", for messages */
    /* CLOCK_MONOTONIC ns at which the command (or connect) in flight began; 0: none.
     * The monitor thread reads it: a stalled Redis degrades health. */
    _Atomic uint64_t busy_since;
};

/**
 * pcd_redis_connect - connect to the three databases and load the scripts
 * @r: the connection set (r->o filled in; contexts are replaced)
 * @err: buffer for what failed, naming the address and database
 * @errlen: size of @err
 * Returns 0, or -1 with every context closed and @err filled.
 */
int pcd_redis_connect(struct pcd_redis *r, char *err, size_t errlen);

/** pcd_redis_close - close every context (safe to call twice) */
void pcd_redis_close(struct pcd_redis *r);

/**
 * pcd_redis_cmd - one command, timed
 * @r: the connection set
 * @c: which context
 * @argc, @argv, @lens: the command, binary-safe
 * Returns the reply (caller frees), or NULL when the connection failed
 * (c->errstr says why; the caller reconnects).
 */
redisReply *pcd_redis_cmd(struct pcd_redis *r, redisContext *c, int argc, const char **argv,
                          const size_t *lens);

/**
 * pcd_pst_set - ProducerStateTable set of APPL_DB PORT_TABLE:<key> (atomic EVALSHA):
 * SADD PORT_TABLE_KEY_SET key; HSET _PORT_TABLE:key fields; PUBLISH
 * PORT_TABLE_CHANNEL@<db> G if the key was new to the key set
 * @r: the connection set
 * @key: the port name (binary-safe, @keylen bytes)
 * @keylen: its length
 * @nfields: number of field/value pairs (>= 1)
 * @fv: 2*@nfields strings: field, value, ...
 * @fvlen: their lengths
 * Returns 0, 1 for a Redis error reply (@err says which), -1 on connection loss.
 */
int pcd_pst_set(struct pcd_redis *r, const char *key, size_t keylen, size_t nfields,
                const char **fv, const size_t *fvlen, char *err, size_t errlen);

/** pcd_pst_del - ProducerStateTable delete of PORT_TABLE:<key>; returns as pcd_pst_set() */
int pcd_pst_del(struct pcd_redis *r, const char *key, char *err, size_t errlen);

/* One link event for pcd_state_apply(). */
struct pcd_state_op {
    const char *name;  /* the port */
    char op;           /* 'N' write if in PORT_TABLE, 'D' delete, 'X' delete then 'N' */
    const char *oper;  /* "up" / "down" */
    const char *admin; /* "up" / "down" */
    char mtu[12];
};

/* pcd_state_apply() result per event. */
#define PCD_APPLY_WRITTEN   1  /* STATE_DB PORT_TABLE|<name> written (or deleted, for 'D') */
#define PCD_APPLY_NOT_FOUND 0  /* 'N'/'X': no APPL_DB PORT_TABLE:<name>, nothing written */
#define PCD_APPLY_ERROR     -1 /* Redis refused this event's write (message in errs) */

/**
 * pcd_state_apply - apply a batch of link events in one round trip
 * @r: the connection set
 * @ops: the events
 * @n: how many (at most 256)
 * @res: receives PCD_APPLY_* per event
 * @errs: receives the Redis error of each PCD_APPLY_ERROR event
 *
 * One EVALSHA on the APPL_DB connection does, per event and in order, what
 * SONiC's portsyncd does in two round trips: check APPL_DB PORT_TABLE:<name>,
 * then HSET (or DEL) STATE_DB PORT_TABLE|<name>. The script switches databases
 * with SELECT, which Redis confines to the script, so all three databases must
 * live on the one server portsyncd connects to (they do: one address is
 * configured). A write Redis refuses (e.g. a key of the wrong type) fails that
 * event only.
 * Returns 0, 1 if the script itself failed (@errs[0] says why), -1 on connection loss.
 */
int pcd_state_apply(struct pcd_redis *r, const struct pcd_state_op *ops, size_t n, int *res,
                    char (*errs)[160]);

#endif
