/*
 * core/batch.c - see batch.h: a batch of link events to STATE_DB: a pipeline
 * of plain writes for the ports the APPL_DB view holds present, the script
 * (one round trip where APPL_DB and STATE_DB share a server, two where not)
 * for the others and whenever the view is unknown.
 */
#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "reply.h"

/*
 * APPL_DB and STATE_DB on one server. ARGV: appl db, state db, then per event:
 * name, op, oper, admin, mtu. Returns per event 1 (written), 0 (not in
 * PORT_TABLE) or the error text.
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

/*
 * STATE_DB on a server of its own: run there, in the client's database, after
 * the APPL_DB check. ARGV per event: name, op, oper, admin, mtu, and '1' if
 * APPL_DB PORT_TABLE:<name> existed. Returns what apply_script returns.
 */
static const char write_script[] =
    "local res = {}\n"
    "for i = 1, #ARGV, 6 do\n"
    "  local op, key, out = ARGV[i + 1], 'PORT_TABLE|' .. ARGV[i], 1\n"
    "  if op ~= 'N' then\n"
    "    local d = redis.pcall('DEL', key)\n"
    "    if type(d) == 'table' and d.err then out = d.err end\n"
    "  end\n"
    "  if op ~= 'D' and out == 1 then\n"
    "    if ARGV[i + 5] == '1' then\n"
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

static const char opname[][2] = {{'N'}, {'D'}, {'X'}};

static const char *op_arg(char op)
{
    return opname[op == 'D' ? 1 : op == 'X' ? 2 : 0];
}

int pcd_batch_load(struct pcd_redis *r, char *err, size_t errlen)
{
    if (r->split)
        return pcd_redis_script_load(r, r->state, write_script, r->write_sha, err, errlen);
    return pcd_redis_script_load(r, r->appl, apply_script, r->apply_sha, err, errlen);
}

/*
 * EVALSHA @sha on @c with the arguments from argv[3] on, reloading the script
 * once if the server lost it. Returns as pcd_batch_apply().
 */
static int run_script(struct pcd_redis *r, redisContext *c, char *sha, const char *src,
                      const char **argv, size_t *lens, size_t argc, size_t n, int *res,
                      char (*errs)[160])
{
    argv[0] = "EVALSHA";
    argv[2] = "0";
    for (int attempt = 0; attempt < 2; attempt++) {
        argv[1] = sha;
        for (size_t i = 0; i < 3; i++)
            lens[i] = strlen(argv[i]);
        redisReply *rep = pcd_redis_cmd(r, c, (int)argc, argv, lens);
        if (!rep)
            return -1;
        int rc = pcd_reply_apply(rep, n, res, errs);
        freeReplyObject(rep);
        if (rc == PCD_EVAL_OK)
            return 0;
        if (rc == PCD_EVAL_ERROR)
            return 1;
        if (pcd_redis_script_load(r, c, src, sha, errs[0], sizeof errs[0]) != 0)
            return c->err ? -1 : 1;
    }
    snprintf(errs[0], sizeof errs[0], "STATE_DB batch script vanished twice");
    return 1;
}

/* One batch, both databases on one server: one script. */
static int apply_shared(struct pcd_redis *r, const struct pcd_state_op *ops, size_t n, int *res,
                        char (*errs)[160])
{
    const char *argv[5 + 5 * PCD_BATCH_MAX];
    size_t lens[5 + 5 * PCD_BATCH_MAX];
    char appl[12], state[12];
    snprintf(appl, sizeof appl, "%d", r->o.db[PCD_APPL_DB].id);
    snprintf(state, sizeof state, "%d", r->o.db[PCD_STATE_DB].id);
    size_t argc = 3;
    argv[argc++] = appl;
    argv[argc++] = state;
    for (size_t i = 0; i < n; i++) {
        argv[argc++] = ops[i].name;
        argv[argc++] = op_arg(ops[i].op);
        argv[argc++] = ops[i].oper;
        argv[argc++] = ops[i].admin;
        argv[argc++] = ops[i].mtu;
    }
    for (size_t i = 3; i < argc; i++)
        lens[i] = strlen(argv[i]);
    return run_script(r, r->appl, r->apply_sha, apply_script, argv, lens, argc, n, res, errs);
}

/*
 * The APPL_DB half of a split batch: one pipelined EXISTS PORT_TABLE:<name> per
 * event that writes, all sent before any reply is read. @found receives "1" or
 * "0" per event. Returns 0, 1 for an error reply (@errs[0]), -1 on connection loss.
 */
static int check_appl(struct pcd_redis *r, const struct pcd_state_op *ops, size_t n,
                      const char **found, char (*errs)[160], int *round_trips)
{
    size_t sent = 0;
    for (size_t i = 0; i < n; i++) {
        found[i] = "0";
        if (ops[i].op == 'D')
            continue;
        char key[64];
        int kl = snprintf(key, sizeof key, "PORT_TABLE:%s", ops[i].name);
        const char *argv[] = {"EXISTS", key};
        size_t lens[] = {6, (size_t)kl};
        if (redisAppendCommandArgv(r->appl, 2, argv, lens) != REDIS_OK)
            return -1;
        sent++;
    }
    if (!sent)
        return 0;
    uint64_t t0 = pcd_redis_busy_begin(r);
    int rc = 0;
    size_t got = 0;
    for (size_t i = 0; i < n && got < sent; i++) {
        if (ops[i].op == 'D')
            continue;
        void *v = NULL;
        if (pcd_redis_get_reply(r, r->appl, &v) != REDIS_OK || !v) {
            pcd_redis_busy_end(r, t0, 0);
            return -1;
        }
        got++;
        char why[128];
        int f = pcd_reply_flag(v, why, sizeof why);
        freeReplyObject(v);
        if (f < 0 && rc == 0) {
            /* Read every reply anyway: the connection stays in step. */
            snprintf(errs[0], sizeof errs[0], "APPL_DB EXISTS PORT_TABLE:%s: %s", ops[i].name, why);
            rc = 1;
        }
        found[i] = f == 1 ? "1" : "0";
    }
    pcd_redis_busy_end(r, t0, 1);
    (*round_trips)++;
    return rc;
}

/* One batch, STATE_DB on a server of its own: the check, then the writes. */
static int apply_split(struct pcd_redis *r, const struct pcd_state_op *ops, size_t n, int *res,
                       char (*errs)[160], int *round_trips)
{
    const char *found[PCD_BATCH_MAX];
    int rc = check_appl(r, ops, n, found, errs, round_trips);
    if (rc != 0)
        return rc;
    const char *argv[3 + 6 * PCD_BATCH_MAX];
    size_t lens[3 + 6 * PCD_BATCH_MAX];
    size_t argc = 3;
    for (size_t i = 0; i < n; i++) {
        argv[argc++] = ops[i].name;
        argv[argc++] = op_arg(ops[i].op);
        argv[argc++] = ops[i].oper;
        argv[argc++] = ops[i].admin;
        argv[argc++] = ops[i].mtu;
        argv[argc++] = found[i];
    }
    for (size_t i = 3; i < argc; i++)
        lens[i] = strlen(argv[i]);
    return run_script(r, r->state, r->write_sha, write_script, argv, lens, argc, n, res, errs);
}

/* The script path for @ops (as before the view): one round trip, or two when split. */
static int script_path(struct pcd_redis *r, const struct pcd_state_op *ops, size_t n, int *res,
                       char (*errs)[160], int *trips)
{
    int rc =
        r->split ? apply_split(r, ops, n, res, errs, trips) : apply_shared(r, ops, n, res, errs);
    if (rc == 0)
        (*trips)++;
    return rc;
}

/*
 * Which events take the plain path (@plain[i] = 1): with the view known, a
 * DELLINK (STATE_DB's entry goes whatever APPL_DB holds) and a NEWLINK of a
 * port the view holds present. A delete-then-write ('X') stays in the script,
 * atomic; so does every event of a port that has one event in the script,
 * since the plain writes are made first. Returns how many take the plain path.
 */
static size_t route(struct pcd_portview *view, const struct pcd_state_op *ops, size_t n,
                    unsigned char *plain)
{
    const char *names[PCD_BATCH_MAX] = {0}; /* = {0}: gcc cannot see n bounds the reads */
    unsigned char present[PCD_BATCH_MAX];
    for (size_t i = 0; i < n; i++)
        names[i] = ops[i].name;
    if (!pcd_portview_lookup(view, names, n, present)) {
        memset(plain, 0, n);
        return 0;
    }
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        plain[i] = ops[i].op == 'D' || (ops[i].op == 'N' && present[i]);
        np += plain[i];
    }
    /* The queue coalesces per port, so a port is in a batch once; this keeps order if not. */
    for (size_t i = 0; i < n && np < n; i++)
        for (size_t j = 0; plain[i] && j < n; j++)
            if (!plain[j] && strcmp(ops[i].name, ops[j].name) == 0)
                plain[i] = 0, np--;
    return np;
}

/*
 * The plain path: one pipeline on the STATE_DB connection, HSET or DEL
 * PORT_TABLE|<name> per event with @plain[i] set, all sent before any reply
 * is read. Returns 0 (@res and @errs per event), -1 on connection loss.
 */
static int apply_plain(struct pcd_redis *r, const struct pcd_state_op *ops, size_t n,
                       const unsigned char *plain, int *res, char (*errs)[160])
{
    for (size_t i = 0; i < n; i++) {
        if (!plain[i])
            continue;
        char key[64];
        int kl = snprintf(key, sizeof key, "PORT_TABLE|%s", ops[i].name);
        const char *argv[] = {ops[i].op == 'D' ? "DEL" : "HSET",
                              key,
                              "state",
                              "ok",
                              "netdev_oper_status",
                              ops[i].oper,
                              "admin_status",
                              ops[i].admin,
                              "mtu",
                              ops[i].mtu};
        size_t lens[10];
        for (size_t k = 0; k < 10; k++)
            lens[k] = k == 1 ? (size_t)kl : strlen(argv[k]);
        if (redisAppendCommandArgv(r->state, ops[i].op == 'D' ? 2 : 10, argv, lens) != REDIS_OK)
            return -1;
    }
    uint64_t t0 = pcd_redis_busy_begin(r);
    for (size_t i = 0; i < n; i++) {
        if (!plain[i])
            continue;
        void *v = NULL;
        if (pcd_redis_get_reply(r, r->state, &v) != REDIS_OK || !v) {
            pcd_redis_busy_end(r, t0, 0);
            return -1;
        }
        redisReply *rep = v;
        res[i] = PCD_APPLY_WRITTEN;
        if (rep->type == REDIS_REPLY_ERROR) {
            /* The error text alone, as the script path reports it. */
            res[i] = PCD_APPLY_ERROR;
            snprintf(errs[i], sizeof errs[i], "%s", rep->str);
        } else if (rep->type != REDIS_REPLY_INTEGER) {
            char d[160];
            res[i] = PCD_APPLY_ERROR;
            snprintf(errs[i], sizeof errs[i], "%s answered %s", ops[i].op == 'D' ? "DEL" : "HSET",
                     pcd_reply_describe(rep, d, sizeof d));
        }
        freeReplyObject(rep);
    }
    pcd_redis_busy_end(r, t0, 1);
    return 0;
}

int pcd_batch_apply(struct pcd_redis *r, struct pcd_portview *view, const struct pcd_state_op *ops,
                    size_t n, int *res, char (*errs)[160], int *round_trips)
{
    if (n > PCD_BATCH_MAX)
        n = PCD_BATCH_MAX;
    unsigned char plain[PCD_BATCH_MAX];
    size_t np = route(view, ops, n, plain);
    int trips = 0, rc = 0;
    *round_trips = 0;
    if (np == 0) {
        rc = script_path(r, ops, n, res, errs, &trips);
    } else {
        if ((rc = apply_plain(r, ops, n, plain, res, errs)) != 0)
            return rc;
        trips = 1;
        if (np < n) {
            /* The rest through the script, in order; results and errors put back in place. */
            struct pcd_state_op sops[PCD_BATCH_MAX];
            int sres[PCD_BATCH_MAX];
            static char serrs[PCD_BATCH_MAX][160]; /* the writer thread's only */
            size_t at[PCD_BATCH_MAX], m = 0;
            for (size_t i = 0; i < n; i++)
                if (!plain[i])
                    at[m] = i, sops[m++] = ops[i];
            if ((rc = script_path(r, sops, m, sres, serrs, &trips)) != 0) {
                memcpy(errs[0], serrs[0], sizeof errs[0]);
                return rc;
            }
            for (size_t k = 0; k < m; k++) {
                res[at[k]] = sres[k];
                if (sres[k] == PCD_APPLY_ERROR)
                    memcpy(errs[at[k]], serrs[k], sizeof errs[0]);
            }
        }
    }
    if (rc == 0)
        *round_trips = trips;
    return rc;
}
