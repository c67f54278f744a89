/*
 * core/redis.c - hiredis connections to APPL_DB, CONFIG_DB and STATE_DB, each
 * on its own server and database number (they may share one).
 *
 * SONiC's consumers (orchagent) never read APPL_DB PORT_TABLE:<key> written
 * directly: they pop the producer-state-table protocol. The two scripts below
 * do what sonic-swss-common's ProducerStateTable does, in one atomic EVALSHA
 * per write, so a consumer never sees the key set without the hash.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "psu/clock.h"
#include "redis.h"
#include "reply.h"

/* KEYS: key set, "_PORT_TABLE:<key>", channel. ARGV: key, field, value, ... */
static const char set_script[] =
    "local added = redis.call('SADD', KEYS[1], ARGV[1])\n"
    "for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end\n"
    "if added > 0 then redis.call('PUBLISH', KEYS[3], 'G') end\n"
    "return added\n";

/* KEYS: key set, "_PORT_TABLE:<key>", channel, del set. ARGV: key. */
static const char del_script[] = "local added = redis.call('SADD', KEYS[1], ARGV[1])\n"
                                 "redis.call('SADD', KEYS[4], ARGV[1])\n"
                                 "redis.call('DEL', KEYS[2])\n"
                                 "if added > 0 then redis.call('PUBLISH', KEYS[3], 'G') end\n"
                                 "return added\n";

static void observe(struct pcd_redis *r, uint64_t t0)
{
    if (r->rtt)
        pcd_metrics_observe_ns(r->rtt, "portsyncd_redis_latency_seconds", psu_clock_mono_ns() - t0);
}

void pcd_redis_close(struct pcd_redis *r)
{
    redisContext **c[] = {&r->appl, &r->config, &r->state};
    for (size_t i = 0; i < 3; i++) {
        if (*c[i])
            redisFree(*c[i]);
        *c[i] = NULL;
    }
}

const char *pcd_db_name(enum pcd_db db)
{
    static const char *const names[PCD_DB_COUNT] = {"APPL_DB", "CONFIG_DB", "STATE_DB"};
    return db < PCD_DB_COUNT ? names[db] : "?";
}

const char *pcd_redis_endpoint_where(const struct pcd_redis_endpoint *e, char *buf, size_t len)
{
    if (e->socket)
        snprintf(buf, len, "unix:%s", e->socket);
    else
        snprintf(buf, len, "tcp:%s:%d", e->host ? e->host : "", e->port);
    return buf;
}

int pcd_redis_endpoint_same_server(const struct pcd_redis_endpoint *a,
                                   const struct pcd_redis_endpoint *b)
{
    if (a->socket || b->socket)
        return a->socket && b->socket && strcmp(a->socket, b->socket) == 0;
    return a->port == b->port && a->host && b->host && strcmp(a->host, b->host) == 0;
}

const char *pcd_redis_opts_describe(const struct pcd_redis_opts *o, char *buf, size_t len)
{
    char w[PCD_DB_COUNT][320];
    for (int i = 0; i < PCD_DB_COUNT; i++)
        pcd_redis_endpoint_where(&o->db[i], w[i], sizeof w[i]);
    if (pcd_redis_endpoint_same_server(&o->db[PCD_APPL_DB], &o->db[PCD_CONFIG_DB]) &&
        pcd_redis_endpoint_same_server(&o->db[PCD_APPL_DB], &o->db[PCD_STATE_DB]))
        snprintf(buf, len, "%s (APPL_DB %d, CONFIG_DB %d, STATE_DB %d)", w[0], o->db[0].id,
                 o->db[1].id, o->db[2].id);
    else
        snprintf(buf, len, "APPL_DB %d at %s, CONFIG_DB %d at %s, STATE_DB %d at %s", o->db[0].id,
                 w[0], o->db[1].id, w[1], o->db[2].id, w[2]);
    return buf;
}

const char *pcd_redis_where(const struct pcd_redis *r, const redisContext *c)
{
    if (c && c == r->config)
        return r->where[PCD_CONFIG_DB];
    if (c && c == r->state)
        return r->where[PCD_STATE_DB];
    return r->where[PCD_APPL_DB];
}

redisContext *pcd_redis_failed(const struct pcd_redis *r)
{
    redisContext *c[] = {r->appl, r->config, r->state};
    for (size_t i = 0; i < 3; i++)
        if (c[i] && c[i]->err)
            return c[i];
    return NULL;
}

redisContext *pcd_redis_endpoint_connect(const struct pcd_redis_endpoint *e, const char *name,
                                         int timeout_ms, int select_db, char *err, size_t errlen)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *c = e->socket ? redisConnectUnixWithTimeout(e->socket, tv)
                                : redisConnectWithTimeout(e->host, e->port, tv);
    if (!c || c->err) {
        snprintf(err, errlen, "cannot connect for %s: %s", name, c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    if (select_db) {
        redisReply *rep = redisCommand(c, "SELECT %d", e->id);
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "SELECT %d for %s failed: %s", e->id, name,
                     rep ? rep->str : c->errstr);
            if (rep)
                freeReplyObject(rep);
            redisFree(c);
            return NULL;
        }
        freeReplyObject(rep);
    }
    return c;
}

/* One of @r's databases, SELECTed; @err names the server and the database. */
static redisContext *connect_one(struct pcd_redis *r, enum pcd_db db, char *err, size_t errlen)
{
    char why[400];
    redisContext *c = pcd_redis_endpoint_connect(&r->o.db[db], pcd_db_name(db), r->o.timeout_ms, 1,
                                                 why, sizeof why);
    if (!c)
        snprintf(err, errlen, "redis %s: %s", r->where[db], why);
    return c;
}

int pcd_redis_script_load(struct pcd_redis *r, redisContext *c, const char *src, char sha[41],
                          char *err, size_t errlen)
{
    /*
     * Through pcd_redis_get_reply(), as every command after startup: a reload
     * (the server lost the script) is a reply like any other, and netlink is
     * still read while it is outstanding (tests/core/t_script_reload_slow.sh).
     */
    redisReply *rep = NULL;
    void *v = NULL;
    if (redisAppendCommand(c, "SCRIPT LOAD %s", src) == REDIS_OK &&
        pcd_redis_get_reply(r, c, &v) == REDIS_OK)
        rep = v;
    char why[256];
    if (!rep || pcd_reply_sha(rep, sha, why, sizeof why) != 0) {
        snprintf(err, errlen, "redis %s: SCRIPT LOAD failed: %s", pcd_redis_where(r, c),
                 rep ? why : c->errstr);
        if (rep)
            freeReplyObject(rep);
        return -1;
    }
    freeReplyObject(rep);
    return 0;
}

int pcd_redis_connect(struct pcd_redis *r, char *err, size_t errlen)
{
    int rc = -1;
    atomic_store(&r->busy_since, psu_clock_mono_ns());
    pcd_redis_close(r);
    for (int i = 0; i < PCD_DB_COUNT; i++)
        pcd_redis_endpoint_where(&r->o.db[i], r->where[i], sizeof r->where[i]);
    r->split = !pcd_redis_endpoint_same_server(&r->o.db[PCD_APPL_DB], &r->o.db[PCD_STATE_DB]);
    if (!(r->appl = connect_one(r, PCD_APPL_DB, err, errlen)) ||
        !(r->config = connect_one(r, PCD_CONFIG_DB, err, errlen)) ||
        !(r->state = connect_one(r, PCD_STATE_DB, err, errlen)) ||
        pcd_redis_script_load(r, r->appl, set_script, r->set_sha, err, errlen) != 0 ||
        pcd_redis_script_load(r, r->appl, del_script, r->del_sha, err, errlen) != 0)
        pcd_redis_close(r);
    else
        rc = 0;
    atomic_store(&r->busy_since, 0);
    return rc;
}

int pcd_redis_get_reply(struct pcd_redis *r, redisContext *c, void **reply)
{
    *reply = NULL;
    if (!r->side.ready)
        return redisGetReply(c, reply);
    if (redisGetReplyFromReader(c, reply) != REDIS_OK || *reply)
        return c->err ? REDIS_ERR : REDIS_OK;
    /* Sent whole before waiting: at most one batch is in flight, far below a socket's buffer. */
    int done = 0;
    do
        if (redisBufferWrite(c, &done) != REDIS_OK)
            return REDIS_ERR;
    while (!done);
    uint64_t deadline = psu_clock_mono_ns() + (uint64_t)r->o.timeout_ms * 1000000u;
    for (;;) {
        uint64_t now = psu_clock_mono_ns();
        if (now >= deadline) {
            /* What hiredis says when its own blocking read times out. */
            c->err = REDIS_ERR_IO;
            snprintf(c->errstr, sizeof c->errstr, "%s", strerror(EAGAIN));
            return REDIS_ERR;
        }
        int side = r->side.fd(r->side.arg);
        struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = side, .events = POLLIN}};
        int n = poll(p, side >= 0 ? 2 : 1, (int)((deadline - now + 999999) / 1000000));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            /* poll() itself failed (RLIMIT_NOFILE below 2?): wait as hiredis would. */
            return redisGetReply(c, reply);
        }
        /*
         * The reply first: once it is whole, return, and the writer's loop reads
         * netlink next. Served first, netlink would be timed into the round trip
         * (portsyncd_redis_latency_seconds, and the monitor's busy_since).
         */
        if (p[0].revents) {
            if (redisBufferRead(c) != REDIS_OK || redisGetReplyFromReader(c, reply) != REDIS_OK)
                return REDIS_ERR;
            if (*reply)
                return REDIS_OK;
        }
        if (side >= 0 && p[1].revents)
            r->side.ready(r->side.arg);
    }
}

redisReply *pcd_redis_cmd(struct pcd_redis *r, redisContext *c, int argc, const char **argv,
                          const size_t *lens)
{
    uint64_t t0 = psu_clock_mono_ns();
    atomic_store(&r->busy_since, t0);
    redisReply *rep = NULL;
    void *v = NULL;
    if (redisAppendCommandArgv(c, argc, argv, lens) == REDIS_OK &&
        pcd_redis_get_reply(r, c, &v) == REDIS_OK)
        rep = v;
    atomic_store(&r->busy_since, 0);
    if (rep)
        observe(r, t0);
    return rep;
}

uint64_t pcd_redis_busy_begin(struct pcd_redis *r)
{
    uint64_t t0 = psu_clock_mono_ns();
    atomic_store(&r->busy_since, t0);
    return t0;
}

void pcd_redis_busy_end(struct pcd_redis *r, uint64_t t0, int ok)
{
    atomic_store(&r->busy_since, 0);
    if (ok)
        observe(r, t0);
}

/* EVALSHA, falling back to loading the script again if Redis forgot it. */
static int eval(struct pcd_redis *r, char sha[41], const char *src, int argc, const char **argv,
                size_t *lens, char *err, size_t errlen)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        argv[0] = "EVALSHA";
        lens[0] = 7;
        argv[1] = sha;
        lens[1] = 40;
        redisReply *rep = pcd_redis_cmd(r, r->appl, argc, argv, lens);
        if (!rep)
            return -1;
        char why[256];
        int rc = pcd_reply_eval(rep, why, sizeof why);
        freeReplyObject(rep);
        if (rc == PCD_EVAL_OK)
            return 0;
        if (rc == PCD_EVAL_ERROR) {
            snprintf(err, errlen, "redis %s: producer-state-table write failed: %s",
                     r->where[PCD_APPL_DB], why);
            return 1;
        }
        if (pcd_redis_script_load(r, r->appl, src, sha, err, errlen) != 0)
            return r->appl->err ? -1 : 1;
    }
    snprintf(err, errlen, "redis %s: script vanished twice", r->where[PCD_APPL_DB]);
    return 1;
}

int pcd_pst_set(struct pcd_redis *r, const char *key, size_t keylen, size_t nfields,
                const char **fv, const size_t *fvlen, char *err, size_t errlen)
{
    size_t argc = 7 + 2 * nfields;
    const char **argv = malloc(argc * sizeof *argv);
    size_t *lens = malloc(argc * sizeof *lens);
    char hkey[1100], chan[64];
    if (!argv || !lens || keylen > 1024) {
        free(argv);
        free(lens);
        snprintf(err, errlen, "port key of %zu bytes is too long (at most 1024)", keylen);
        return 1;
    }
    int hl = snprintf(hkey, sizeof hkey, "_PORT_TABLE:%.*s", (int)keylen, key);
    int cl = snprintf(chan, sizeof chan, "PORT_TABLE_CHANNEL@%d", r->o.db[PCD_APPL_DB].id);
    argv[2] = "3", lens[2] = 1;
    argv[3] = "PORT_TABLE_KEY_SET", lens[3] = 18;
    argv[4] = hkey, lens[4] = (size_t)hl;
    argv[5] = chan, lens[5] = (size_t)cl;
    argv[6] = key, lens[6] = keylen;
    for (size_t i = 0; i < 2 * nfields; i++) {
        argv[7 + i] = fv[i];
        lens[7 + i] = fvlen[i];
    }
    int rc = eval(r, r->set_sha, set_script, (int)argc, argv, lens, err, errlen);
    free(argv);
    free(lens);
    return rc;
}

int pcd_pst_del(struct pcd_redis *r, const char *key, char *err, size_t errlen)
{
    char hkey[1100], chan[64];
    const char *argv[8];
    size_t lens[8];
    int hl = snprintf(hkey, sizeof hkey, "_PORT_TABLE:%s", key);
    int cl = snprintf(chan, sizeof chan, "PORT_TABLE_CHANNEL@%d", r->o.db[PCD_APPL_DB].id);
    argv[2] = "4", lens[2] = 1;
    argv[3] = "PORT_TABLE_KEY_SET", lens[3] = 18;
    argv[4] = hkey, lens[4] = (size_t)hl;
    argv[5] = chan, lens[5] = (size_t)cl;
    argv[6] = "PORT_TABLE_DEL_SET", lens[6] = 18;
    argv[7] = key, lens[7] = strlen(key);
    return eval(r, r->del_sha, del_script, 8, argv, lens, err, errlen);
}
