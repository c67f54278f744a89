/*
 * core/dbconn.h - the Redis writer's hold on its connections: connect with a
 * capped exponential backoff, notice a lost connection once, commands with
 * C-string arguments, waits that a stop cuts short. SONiC's startup sequence
 * (startup.c) and the writer loop (sync.c) both work through it; only the
 * writer thread touches it.
 */
#ifndef PCD_DBCONN_H
#define PCD_DBCONN_H

#include <stdatomic.h>

#include "redis.h"

struct pcd_dbconn {
    struct pcd_redis r;     /* r.o says where Redis is; the contexts come and go */
    psm_gauge_t *gauge;     /* portsyncd_redis_connected */
    const atomic_int *stop; /* set when portsyncd is told to stop */
    int connected;          /* the contexts are open and believed good */
};

/**
 * pcd_dbconn_connect - connect to the three databases (each on its own server,
 * or sharing one) and load the scripts, retrying until it works
 * @db: the connection (r.o, gauge and stop filled in)
 *
 * Waits 100 ms after the first failure, doubling up to 5 s; logs the first
 * failure and then one line per 5 s wait, and the success.
 * Returns 0 when connected, -1 when told to stop first.
 */
int pcd_dbconn_connect(struct pcd_dbconn *db);

/**
 * pcd_dbconn_lost - a connection failed: say so once, close them all, tell the gauge
 * @db: the connection
 * @c: the context that failed (its server and errstr are logged), or NULL
 * @doing: what was being done, for the log line ("copying CONFIG_DB ports")
 *
 * Logs only if the connection was believed good (clear @db->connected first
 * to close without a line, when the cause was logged already). Whichever
 * server was lost, every context is closed and reconnected: the resync after a
 * reconnection then covers all three databases.
 */
void pcd_dbconn_lost(struct pcd_dbconn *db, redisContext *c, const char *doing);

/**
 * pcd_dbconn_cmd - one command with C-string arguments, timed
 * @db: the connection
 * @c: which database's context
 * @argc: the number of arguments (at most 16)
 * @argv: the arguments
 * Returns the reply (the caller frees it), or NULL when the connection failed
 * (c->errstr says why; the caller calls pcd_dbconn_lost()).
 */
redisReply *pcd_dbconn_cmd(struct pcd_dbconn *db, redisContext *c, int argc, const char **argv);

/**
 * pcd_dbconn_pause - sleep @ms in short steps, so a stop is not kept waiting
 * @db: the connection (for its stop flag)
 * @ms: how long
 * Returns 0, or -1 if told to stop meanwhile.
 */
int pcd_dbconn_pause(struct pcd_dbconn *db, int ms);

#endif
