/*
 * tests/fuzz/fuzz_redis_reply.c - libFuzzer target: arbitrary bytes as what a
 * Redis server sent portsyncd, parsed by hiredis's reader into replies, each
 * handed to every function of core that interprets a reply (core/reply.c): the
 * HGET fields of the startup sequence (switch_type, the warm-start flags,
 * restore_count), HEXISTS, the SCAN of CONFIG_DB and its keys, the HGETALL of a
 * port, SCRIPT LOAD, the producer-state-table EVALSHA and the STATE_DB batch
 * script's per-event results. Any crash, sanitizer report or broken promise of
 * those functions (checked below) is a finding.
 *
 * The harness itself is left out of the coverage (HARNESS below): the edges
 * libFuzzer reports and run-fuzzer.sh's floor checks are those of core, so a
 * build whose core lacks coverage instrumentation reaches none.
 */
#include <hiredis/hiredis.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "reply.h"

/*
 * hiredis 0.14 allocates an array of whatever element count the input claims
 * ("*100000000\r\n"); portsyncd runs with malloc returning NULL for what it
 * cannot have, and hiredis reports that as an error. Let ASan do the same for
 * allocations above 1 GiB instead of calling it a finding in hiredis.
 */
const char *__asan_default_options(void);
extern volatile char fuzz_sink;
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1:max_allocation_size_mb=1024";
}

#define HARNESS __attribute__((no_sanitize("coverage")))

#define require(cond)                                                                              \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

HARNESS static int terminated(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

/* Read the first and last byte of what a function handed out: ASan checks they exist. */
volatile char fuzz_sink;
HARNESS static void touch(const char *p, size_t len)
{
    if (len)
        fuzz_sink = (char)(p[0] ^ p[len - 1]);
}

HARNESS static void check_hash(const redisReply *rep)
{
    size_t cap = rep->type == REDIS_REPLY_ARRAY ? rep->elements : 0;
    const char **fv = malloc(cap * sizeof *fv + 1);
    size_t *len = malloc(cap * sizeof *len + 1);
    char err[256];
    if (fv && len) {
        long pairs = pcd_reply_hash(rep, fv, len, cap, err, sizeof err);
        require(pairs >= -1 && (pairs < 0 || (size_t)pairs * 2 == cap));
        for (long i = 0; i < 2 * pairs; i++) {
            require(fv[i] != NULL);
            touch(fv[i], len[i]);
        }
        if (pairs < 0)
            require(terminated(err, sizeof err) && err[0]);
        /* Less room than elements must be refused, never overrun. */
        if (cap >= 2)
            require(pcd_reply_hash(rep, fv, len, cap - 2, err, sizeof err) == -1);
    }
    free(fv);
    free(len);
}

HARNESS static void check_scan(const redisReply *rep)
{
    char cursor[PCD_CURSOR_MAX], err[256];
    redisReply *const *keys = NULL;
    size_t nkeys = 0;
    if (pcd_reply_scan(rep, cursor, &keys, &nkeys, err, sizeof err) != 0) {
        require(terminated(err, sizeof err) && err[0]);
        return;
    }
    size_t cl = strlen(cursor);
    require(cl >= 1 && cl < PCD_CURSOR_MAX);
    for (size_t i = 0; i < cl; i++)
        require(cursor[i] >= '0' && cursor[i] <= '9');
    for (size_t i = 0; i < nkeys; i++) {
        const char *name;
        size_t len;
        int ok = pcd_reply_port_key(keys[i], &name, &len);
        require(ok >= -1 && ok <= 1);
        if (ok == 1) {
            require(len >= 1 && len <= 15 && pcd_port_name_ok(name, len));
            require(memchr(name, '\0', len) == NULL);
            touch(name, len);
        }
        if (ok == 0)
            require(name == NULL);
        check_hash(keys[i]); /* a key reply is also some reply */
    }
}

HARNESS static void check_apply(const redisReply *rep, size_t n)
{
    if (n > 256)
        return;
    int res[256];
    static char errs[256][160];
    int rc = pcd_reply_apply(rep, n, res, errs);
    require(rc == PCD_EVAL_OK || rc == PCD_EVAL_ERROR || rc == PCD_EVAL_NOSCRIPT);
    if (rc == PCD_EVAL_ERROR)
        require(terminated(errs[0], sizeof errs[0]));
    for (size_t i = 0; rc == PCD_EVAL_OK && i < n; i++) {
        require(res[i] == PCD_APPLY_WRITTEN || res[i] == PCD_APPLY_NOT_FOUND ||
                res[i] == PCD_APPLY_ERROR);
        if (res[i] == PCD_APPLY_ERROR)
            require(terminated(errs[i], sizeof errs[i]));
    }
}

HARNESS static void check_one(const redisReply *rep)
{
    char err[256], sha[41], desc[160];
    const char *v;
    size_t len;
    long long count = -1;

    require(terminated(pcd_reply_describe(rep, desc, sizeof desc), sizeof desc));
    int f = pcd_reply_field(rep, &v, &len, err, sizeof err);
    require(f >= -1 && f <= 1);
    if (f == 1)
        require(v == rep->str && len == rep->len);
    (void)pcd_reply_field_is(rep, "dpu", err, sizeof err);
    (void)pcd_reply_field_is(rep, "true", err, sizeof err);
    int c = pcd_reply_count(rep, &count, err, sizeof err);
    require(c >= -1 && c <= 1);
    if (c == 1)
        require(count >= 0 && count < LLONG_MAX); /* count + 1 must not overflow */
    int fl = pcd_reply_flag(rep, err, sizeof err);
    require(fl >= -1 && fl <= 1);
    if (pcd_reply_sha(rep, sha, err, sizeof err) == 0)
        require(strlen(sha) == 40);
    int e = pcd_reply_eval(rep, err, sizeof err);
    require(e == PCD_EVAL_OK || e == PCD_EVAL_ERROR || e == PCD_EVAL_NOSCRIPT);
    check_scan(rep);
    check_hash(rep);
    size_t n = rep->type == REDIS_REPLY_ARRAY ? rep->elements : 1;
    check_apply(rep, n);
    check_apply(rep, n + 1);
    if (n)
        check_apply(rep, n - 1);
    if (rep->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < rep->elements && i < 64; i++)
            check_one(rep->element[i]);
}

HARNESS int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    redisReader *r = redisReaderCreate();
    if (!r)
        return 0;
    /* Fed in two parts, as replies arrive from a socket. */
    size_t cut = size ? data[0] % (size + 1) : 0;
    if (redisReaderFeed(r, (const char *)data, cut) == REDIS_OK &&
        redisReaderFeed(r, (const char *)data + cut, size - cut) == REDIS_OK) {
        void *reply = NULL;
        for (int i = 0; i < 64 && redisReaderGetReply(r, &reply) == REDIS_OK && reply; i++) {
            check_one(reply);
            freeReplyObject(reply);
            reply = NULL;
        }
    }
    redisReaderFree(r);
    return 0;
}
