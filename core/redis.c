/*
 * core/redis.c - hiredis connections to APPL_DB, CONFIG_DB and STATE_DB.
 *
 * SONiC's consumers (orchagent) never read APPL_DB PORT_TABLE:<key> written
 * directly: they pop the producer-state-table protocol. The two scripts below
 * do what sonic-swss-common's ProducerStateTable does, in one atomic EVALSHA
 * per write, so a consumer never sees the key set without the hash.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/*
 * ARGV: appl db, state db, then per event: name, op, oper, admin, mtu.
 * Returns per event 1 (written), 0 (not in PORT_TABLE) or the error text.
 */
static const char apply_script[] =
    "local appl, state, res = ARGV[1], ARGV[2], {}\n"
    "for i = 3, #ARGV, 5 do\n"
    "  local name, op, key = ARGV[i], ARGV[i + 1], 'PORT_TABLE|' .. ARGV[i]\n"
    "  local out = 1\n"
    "  redis.call('SELECT', state)\n"
    "  if op ~= 'N' then\n"
    "    local d = redis.pcall('DEL', key)\n"
    "    if type(d) == 'table' and d.err then out = d.err end\n"
    "  end\n"
    "  if op ~= 'D' and out == 1 then\n"
    "    redis.call('SELECT', appl)\n"
    "    if redis.call('EXISTS', 'PORT_TABLE:' .. name) == 1 then\n"
    "      redis.call('SELECT', state)\n"
    "      local h = redis.pcall('HSET', key, 'state', 'ok', 'netdev_oper_status', ARGV[i + 2],\n"
    "                            'admin_status', ARGV[i + 3], 'mtu', ARGV[i + 4])\n"
    "      if type(h) == 'table' and h.err then out = h.err end\n"
    "    else\n"
    "      out = 0\n"
    "    end\n"
    "  end\n"
    "  res[#res + 1] = out\n"
    "end\n"
    "return res\n";

static void observe(struct pcd_redis *r, uint64_t t0)
{
    if (r->rtt)
        psm_histogram_observe(r->rtt, (double)(psu_clock_mono_ns() - t0) / 1e9);
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

static redisContext *connect_one(struct pcd_redis *r, int db, const char *name, char *err,
                                 size_t errlen)
{
    struct timeval tv = {r->o.timeout_ms / 1000, (r->o.timeout_ms % 1000) * 1000};
    redisContext *c = r->o.socket ? redisConnectUnixWithTimeout(r->o.socket, tv)
                                  : redisConnectWithTimeout(r->o.host, r->o.port, tv);
    if (!c || c->err) {
        snprintf(err, errlen, "redis %s: cannot connect for %s: %s", r->where, name,
                 c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    redisReply *rep = redisCommand(c, "SELECT %d", db);
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "redis %s: SELECT %d for %s failed: %s", r->where, db, name,
                 rep ? rep->str : c->errstr);
        if (rep)
            freeReplyObject(rep);
        redisFree(c);
        return NULL;
    }
    freeReplyObject(rep);
    return c;
}

static int load_script(struct pcd_redis *r, const char *src, char sha[41], char *err, size_t errlen)
{
    redisReply *rep = redisCommand(r->appl, "SCRIPT LOAD %s", src);
    char why[256];
    if (!rep || pcd_reply_sha(rep, sha, why, sizeof why) != 0) {
        snprintf(err, errlen, "redis %s: SCRIPT LOAD failed: %s", r->where,
                 rep ? why : r->appl->errstr);
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
    if (r->o.socket)
        snprintf(r->where, sizeof r->where, "unix:%s", r->o.socket);
    else
        snprintf(r->where, sizeof r->where, "tcp:%s:%d", r->o.host, r->o.port);
    if (!(r->appl = connect_one(r, r->o.appl_db, "APPL_DB", err, errlen)) ||
        !(r->config = connect_one(r, r->o.config_db, "CONFIG_DB", err, errlen)) ||
        !(r->state = connect_one(r, r->o.state_db, "STATE_DB", err, errlen)) ||
        load_script(r, set_script, r->set_sha, err, errlen) != 0 ||
        load_script(r, del_script, r->del_sha, err, errlen) != 0 ||
        load_script(r, apply_script, r->apply_sha, err, errlen) != 0)
        pcd_redis_close(r);
    else
        rc = 0;
    atomic_store(&r->busy_since, 0);
    return rc;
}

redisReply *pcd_redis_cmd(struct pcd_redis *r, redisContext *c, int argc, const char **argv,
                          const size_t *lens)
{
    uint64_t t0 = psu_clock_mono_ns();
    atomic_store(&r->busy_since, t0);
    redisReply *rep = redisCommandArgv(c, argc, argv, lens);
    atomic_store(&r->busy_since, 0);
    if (rep)
        observe(r, t0);
    return rep;
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
            snprintf(err, errlen, "redis %s: producer-state-table write failed: %s", r->where, why);
            return 1;
        }
        if (load_script(r, src, sha, err, errlen) != 0)
            return r->appl->err ? -1 : 1;
    }
    snprintf(err, errlen, "redis %s: script vanished twice", r->where);
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
    int cl = snprintf(chan, sizeof chan, "PORT_TABLE_CHANNEL@%d", r->o.appl_db);
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
    int cl = snprintf(chan, sizeof chan, "PORT_TABLE_CHANNEL@%d", r->o.appl_db);
    argv[2] = "4", lens[2] = 1;
    argv[3] = "PORT_TABLE_KEY_SET", lens[3] = 18;
    argv[4] = hkey, lens[4] = (size_t)hl;
    argv[5] = chan, lens[5] = (size_t)cl;
    argv[6] = "PORT_TABLE_DEL_SET", lens[6] = 18;
    argv[7] = key, lens[7] = strlen(key);
    return eval(r, r->del_sha, del_script, 8, argv, lens, err, errlen);
}

int pcd_state_apply(struct pcd_redis *r, const struct pcd_state_op *ops, size_t n, int *res,
                    char (*errs)[160])
{
    enum { MAX = 256 };
    const char *argv[5 + 5 * MAX];
    size_t lens[5 + 5 * MAX];
    char appl[12], state[12];
    if (n > MAX)
        n = MAX;
    snprintf(appl, sizeof appl, "%d", r->o.appl_db);
    snprintf(state, sizeof state, "%d", r->o.state_db);
    size_t argc = 0;
    argv[argc++] = "EVALSHA";
    argv[argc++] = r->apply_sha;
    argv[argc++] = "0";
    argv[argc++] = appl;
    argv[argc++] = state;
    for (size_t i = 0; i < n; i++) {
        static const char opname[][2] = {{'N'}, {'D'}, {'X'}};
        argv[argc++] = ops[i].name;
        argv[argc++] = opname[ops[i].op == 'D' ? 1 : ops[i].op == 'X' ? 2 : 0];
        argv[argc++] = ops[i].oper;
        argv[argc++] = ops[i].admin;
        argv[argc++] = ops[i].mtu;
    }
    for (size_t i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    for (int attempt = 0; attempt < 2; attempt++) {
        redisReply *rep = pcd_redis_cmd(r, r->appl, (int)argc, argv, lens);
        if (!rep)
            return -1;
        int rc = pcd_reply_apply(rep, n, res, errs);
        freeReplyObject(rep);
        if (rc == PCD_EVAL_OK)
            return 0;
        if (rc == PCD_EVAL_ERROR)
            return 1;
        if (load_script(r, apply_script, r->apply_sha, errs[0], sizeof errs[0]) != 0)
            return r->appl->err ? -1 : 1;
    }
    snprintf(errs[0], sizeof errs[0], "STATE_DB batch script vanished twice");
    return 1;
}
