/*
 * tests/core/pcd-consumer.c - a stand-in for orchagent's consumer of APPL_DB
 * PORT_TABLE, for tests and the demo: it pops the producer-state table the way
 * orchagent does, so portsyncd's writes become PORT_TABLE:<key> only if they
 * follow the protocol.
 *
 *   pcd-consumer --socket PATH [--db N] [--once]
 *
 * On start and on every message on PORT_TABLE_CHANNEL@N it pops keys from
 * PORT_TABLE_KEY_SET until the set is empty: a key in PORT_TABLE_DEL_SET deletes
 * PORT_TABLE:<key>; the fields of _PORT_TABLE:<key> are moved into
 * PORT_TABLE:<key>; a key with neither is a delete. --once pops once and exits.
 */
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char pop_script[] =
    "local keys = redis.call('SPOP', KEYS[1], 128)\n"
    "for _, k in ipairs(keys) do\n"
    "  local deleted = redis.call('SREM', KEYS[2], k) == 1\n"
    "  if deleted then redis.call('DEL', 'PORT_TABLE:' .. k) end\n"
    "  local fv = redis.call('HGETALL', '_PORT_TABLE:' .. k)\n"
    "  if #fv > 0 then\n"
    "    for i = 1, #fv, 2 do redis.call('HSET', 'PORT_TABLE:' .. k, fv[i], fv[i + 1]) end\n"
    "    redis.call('DEL', '_PORT_TABLE:' .. k)\n"
    "  elseif not deleted then\n"
    "    redis.call('DEL', 'PORT_TABLE:' .. k)\n"
    "  end\n"
    "end\n"
    "return #keys\n";

static redisContext *connect_db(const char *sock, int db)
{
    redisContext *c = redisConnectUnix(sock);
    if (!c || c->err) {
        fprintf(stderr, "pcd-consumer: cannot connect to %s: %s\n", sock,
                c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        exit(1);
    }
    redisReply *r = redisCommand(c, "SELECT %d", db);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "pcd-consumer: SELECT %d failed\n", db);
        if (r)
            freeReplyObject(r);
        redisFree(c);
        exit(1);
    }
    freeReplyObject(r);
    return c;
}

/* Pop until the key set is empty; returns keys popped, -1 on error. */
static long pop_all(redisContext *c)
{
    long total = 0;
    for (;;) {
        redisReply *r =
            redisCommand(c, "EVAL %s 2 PORT_TABLE_KEY_SET PORT_TABLE_DEL_SET", pop_script);
        if (!r || r->type != REDIS_REPLY_INTEGER) {
            fprintf(stderr, "pcd-consumer: pop failed: %s\n",
                    r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
            if (r)
                freeReplyObject(r);
            return -1;
        }
        long n = (long)r->integer;
        freeReplyObject(r);
        total += n;
        if (n == 0)
            return total;
    }
}

int main(int argc, char **argv)
{
    const char *sock = NULL;
    int db = 0, once = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
            sock = argv[++i];
        else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            db = atoi(argv[++i]);
        else if (strcmp(argv[i], "--once") == 0)
            once = 1;
        else {
            fprintf(stderr, "usage: pcd-consumer --socket PATH [--db N] [--once]\n");
            return 2;
        }
    }
    if (!sock) {
        fprintf(stderr, "pcd-consumer: --socket is required\n");
        return 2;
    }
    redisContext *c = connect_db(sock, db);
    if (once) {
        int rc = pop_all(c) < 0;
        redisFree(c);
        return rc;
    }
    redisContext *sub = connect_db(sock, db);
    char chan[64];
    snprintf(chan, sizeof chan, "PORT_TABLE_CHANNEL@%d", db);
    int rc = 1;
    redisReply *r = redisCommand(sub, "SUBSCRIBE %s", chan);
    if (!r) {
        fprintf(stderr, "pcd-consumer: SUBSCRIBE failed\n");
        goto out;
    }
    freeReplyObject(r);
    /* Subscribed first, then popped: nothing published in between is missed. */
    if (pop_all(c) < 0)
        goto out;
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        void *msg = NULL;
        if (redisGetReply(sub, &msg) != REDIS_OK) {
            /* Redis went away (a test restarting it): say so and leave cleanly. */
            fprintf(stderr, "pcd-consumer: connection lost: %s\n", sub->errstr);
            goto out;
        }
        freeReplyObject(msg);
        if (pop_all(c) < 0)
            goto out;
    }
out:
    redisFree(sub);
    redisFree(c);
    return rc;
}
