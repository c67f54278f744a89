/*
 * core/redis.h - the three SONiC databases over hiredis: connections with
 * timeouts, round trips timed into the redis_latency histogram, and SONiC's
 * producer-state-table writes to APPL_DB.
 */
#ifndef PCD_REDIS_H
#define PCD_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>

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
    char set_sha[41], del_sha[41];
    psm_histogram_t *rtt; /* may be NULL */
    char where[300];      /* "unix:/path" or "tcp:host:port", for messages */
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
 * pcd_redis_pipeline - send @n queued commands (redisAppendCommand*) and read
 * their replies in one timed round trip
 * @r: the connection set
 * @c: the context the commands were appended to
 * @replies: receives @n replies (caller frees each)
 * @n: number of commands appended
 * Returns 0, or -1 on a connection error (replies read so far are freed).
 */
int pcd_redis_pipeline(struct pcd_redis *r, redisContext *c, redisReply **replies, size_t n);

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

#endif
