/*
 * core/redis.h - SONiC's three databases over hiredis: where each one is (an
 * instance and a database number: they need not share a server), connections
 * with timeouts, round trips timed into the redis_latency histogram, and
 * SONiC's producer-state-table writes to APPL_DB. The STATE_DB batch of link
 * events is batch.c's.
 */
#ifndef PCD_REDIS_H
#define PCD_REDIS_H

#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "psm/writer.h"

/* The databases portsyncd uses, in the order they are connected. */
enum pcd_db { PCD_APPL_DB, PCD_CONFIG_DB, PCD_STATE_DB, PCD_DB_COUNT };

/* Where one database lives: a Redis server and the database number on it. */
struct pcd_redis_endpoint {
    const char *socket; /* unix socket path; NULL: host/port */
    const char *host;
    int port;
    int id; /* the database number (SELECT) */
};

struct pcd_redis_opts {
    struct pcd_redis_endpoint db[PCD_DB_COUNT]; /* indexed by enum pcd_db */
    int timeout_ms;                             /* connect and command timeout */
};

/*
 * Something else to serve while a reply is outstanding (the netlink socket,
 * when its reader runs inline): pcd_redis_get_reply() polls fd(arg) with the
 * connection and calls ready(arg) when it is readable. fd() may return -1.
 */
struct pcd_redis_side {
    int (*fd)(void *arg);
    void (*ready)(void *arg);
    void *arg;
};

struct pcd_redis {
    struct pcd_redis_opts o;
    struct pcd_redis_side side; /* ready NULL: none (hiredis's blocking read) */
    redisContext *appl, *config, *state;
    char set_sha[41], del_sha[41];
    /* The STATE_DB batch's scripts (batch.c): one of them is loaded per connection. */
    char apply_sha[41], write_sha[41];
    int split;                     /* APPL_DB and STATE_DB on different servers */
    psm_histogram_t *rtt;          /* may be NULL */
    char where[PCD_DB_COUNT][320]; /* "unix:/path" or "tcp:host:port", for messages */
    /* CLOCK_MONOTONIC ns at which the command (or connect) in flight began; 0: none.
     * The monitor thread reads it: a stalled Redis degrades health. */
    _Atomic uint64_t busy_since;
};

/** pcd_db_name - "APPL_DB", "CONFIG_DB" or "STATE_DB" */
const char *pcd_db_name(enum pcd_db db);

/**
 * pcd_redis_endpoint_where - an endpoint's server as messages name it
 * @e: the endpoint
 * @buf: receives "unix:<path>" or "tcp:<host>:<port>"
 * @len: size of @buf
 * Returns @buf.
 */
const char *pcd_redis_endpoint_where(const struct pcd_redis_endpoint *e, char *buf, size_t len);

/**
 * pcd_redis_endpoint_same_server - do two endpoints name the same server?
 * @a, @b: the endpoints
 * Returns 1 for the same socket path or the same host and port, else 0 (a
 * server reached once by socket and once by TCP counts as two).
 */
int pcd_redis_endpoint_same_server(const struct pcd_redis_endpoint *a,
                                   const struct pcd_redis_endpoint *b);

/**
 * pcd_redis_endpoint_connect - a connection to @e's server, with timeouts
 * @e: where the database is
 * @name: the database, for messages ("APPL_DB")
 * @timeout_ms: connect and command timeout
 * @select_db: 1 to SELECT @e->id (a command connection), 0 not to (a
 *             subscriber: channels name their database)
 * @err: buffer for what failed
 * @errlen: size of @err
 * Returns the context, or NULL with @err filled ("cannot connect for NAME: ..."
 * or "SELECT N for NAME failed: ...").
 */
redisContext *pcd_redis_endpoint_connect(const struct pcd_redis_endpoint *e, const char *name,
                                         int timeout_ms, int select_db, char *err, size_t errlen);

/**
 * pcd_redis_opts_describe - where the three databases are, for the log
 * @o: the options
 * @buf: receives e.g. "unix:/var/run/redis/redis.sock (APPL_DB 0, CONFIG_DB 4,
 *       STATE_DB 6)", or one "NAME N at WHERE" per database when they are not
 *       all on one server
 * @len: size of @buf
 * Returns @buf.
 */
const char *pcd_redis_opts_describe(const struct pcd_redis_opts *o, char *buf, size_t len);

/**
 * pcd_redis_where - the server of one of @r's contexts, as messages name it
 * @r: the connection set
 * @c: r->appl, r->config or r->state (anything else: the APPL_DB server)
 */
const char *pcd_redis_where(const struct pcd_redis *r, const redisContext *c);

/**
 * pcd_redis_failed - the first of @r's contexts whose connection failed
 * @r: the connection set
 * Returns it, or NULL when none has failed.
 */
redisContext *pcd_redis_failed(const struct pcd_redis *r);

/**
 * pcd_redis_script_load - SCRIPT LOAD @src on @c
 * @r: the connection set (for messages)
 * @c: the context whose server runs the script
 * @src: the script
 * @sha: receives its SHA1
 * @err: buffer for what failed
 * @errlen: size of @err
 * Returns 0, or -1 (@err says why; c->err is set when the connection failed).
 */
int pcd_redis_script_load(struct pcd_redis *r, redisContext *c, const char *src, char sha[41],
                          char *err, size_t errlen);

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
 * pcd_redis_get_reply - the next reply on @c, as redisGetReply(), but while it
 * is outstanding r->side is served (if set): the pending output is written,
 * then @c and the side's fd are polled until the reply is whole or the
 * command timeout passes (then c->err is set, as hiredis sets it)
 * @r: the connection set
 * @c: which context
 * @reply: receives the reply (caller frees)
 * Returns REDIS_OK or REDIS_ERR (c->errstr says why).
 */
int pcd_redis_get_reply(struct pcd_redis *r, redisContext *c, void **reply);

/**
 * pcd_redis_busy_begin - a round trip made outside pcd_redis_cmd() (a
 * pipeline) begins: the monitor sees Redis busy from now on
 * @r: the connection set
 * Returns the start time, for pcd_redis_busy_end().
 */
uint64_t pcd_redis_busy_begin(struct pcd_redis *r);

/**
 * pcd_redis_busy_end - that round trip ended; timed into the histogram if @ok
 * @r: the connection set
 * @t0: what pcd_redis_busy_begin() returned
 * @ok: 1 if the replies arrived
 */
void pcd_redis_busy_end(struct pcd_redis *r, uint64_t t0, int ok);

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
