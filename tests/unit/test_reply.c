/*
 * tests/unit/test_reply.c - how core interprets Redis replies (core/reply.c):
 * each reply is parsed from RESP bytes by hiredis's own reader, as portsyncd
 * receives it, and each wrong shape is refused with a message naming it.
 */
#include <hiredis/hiredis.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#ifdef PSM_MINICR
#include "minicr.h"
#else
#include <criterion/criterion.h>
#endif

#include "batch.h"
#include "reply.h"

TestSuite(reply, .timeout = 30);

/* The reply that @resp (RESP bytes, @len of them) parses to; the caller frees it. */
static redisReply *parse_n(const char *resp, size_t len)
{
    redisReader *r = redisReaderCreate();
    cr_assert_not_null(r);
    cr_assert_eq(redisReaderFeed(r, resp, len), REDIS_OK);
    void *rep = NULL;
    cr_assert_eq(redisReaderGetReply(r, &rep), REDIS_OK, "'%s' does not parse", resp);
    cr_assert_not_null(rep, "'%s' is not a whole reply", resp);
    redisReaderFree(r);
    return rep;
}

static redisReply *parse(const char *resp)
{
    return parse_n(resp, strlen(resp));
}

static char err[256];

Test(reply, an_hget_value_nil_or_anything_else)
{
    const char *v = NULL;
    size_t len = 0;
    redisReply *r = parse("$3\r\ndpu\r\n");
    cr_assert_eq(pcd_reply_field(r, &v, &len, err, sizeof err), 1);
    cr_assert_eq(len, 3);
    cr_assert_eq(pcd_reply_field_is(r, "dpu", err, sizeof err), 1);
    cr_assert_eq(pcd_reply_field_is(r, "dp", err, sizeof err), 0);
    freeReplyObject(r);
    r = parse("$-1\r\n");
    cr_assert_eq(pcd_reply_field(r, &v, &len, err, sizeof err), 0, "nil: not set");
    cr_assert_eq(pcd_reply_field_is(r, "true", err, sizeof err), 0);
    cr_assert_eq(err[0], '\0', "nil is not an error");
    freeReplyObject(r);
    r = parse("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    cr_assert_eq(pcd_reply_field(r, &v, &len, err, sizeof err), -1);
    cr_assert(strstr(err, "an error reply 'WRONGTYPE"), "%s", err);
    freeReplyObject(r);
    r = parse(":1\r\n");
    cr_assert_eq(pcd_reply_field_is(r, "true", err, sizeof err), 0);
    cr_assert(strstr(err, "expected a string or nil, got an integer reply 1"), "%s", err);
    freeReplyObject(r);
    r = parse_n("$4\r\ndp\0u\r\n", 10); /* binary: not "dpu" */
    cr_assert_eq(pcd_reply_field_is(r, "dp", err, sizeof err), 0);
    freeReplyObject(r);
}

static int count_of(const char *resp, long long *out)
{
    redisReply *r = parse(resp);
    int rc = pcd_reply_count(r, out, err, sizeof err);
    freeReplyObject(r);
    return rc;
}

Test(reply, restore_count_is_a_decimal_that_can_be_incremented)
{
    long long c = -1;
    cr_assert_eq(count_of("$1\r\n3\r\n", &c), 1);
    cr_assert_eq(c, 3);
    cr_assert_eq(count_of("$19\r\n9223372036854775806\r\n", &c), 1);
    cr_assert_eq(c, LLONG_MAX - 1);
    cr_assert_eq(count_of("$-1\r\n", &c), 0, "absent");
    const char *bad[] = {"$0\r\n\r\n",
                         "$7\r\ngarbage\r\n",
                         "$2\r\n-1\r\n",
                         "$2\r\n 3\r\n",
                         "$2\r\n3 \r\n",
                         "$2\r\n+3\r\n",
                         "$19\r\n9223372036854775807\r\n",
                         "$20\r\n99999999999999999999\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(count_of(bad[i], &c), -1, "%s accepted as %lld", bad[i], c);
        cr_assert(strstr(err, "not a count"), "%s", err);
    }
    cr_assert_eq(count_of("$7\r\ngarbage\r\n", &c), -1);
    cr_assert_str_eq(err, "'garbage', not a count");
}

Test(reply, hexists_is_the_integer_0_or_1)
{
    redisReply *r = parse(":1\r\n");
    cr_assert_eq(pcd_reply_flag(r, err, sizeof err), 1);
    freeReplyObject(r);
    r = parse(":0\r\n");
    cr_assert_eq(pcd_reply_flag(r, err, sizeof err), 0);
    freeReplyObject(r);
    const char *bad[] = {":2\r\n", "$1\r\n1\r\n", "-ERR no\r\n", "$-1\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = parse(bad[i]);
        cr_assert_eq(pcd_reply_flag(r, err, sizeof err), -1, "%s", bad[i]);
        freeReplyObject(r);
    }
}

Test(reply, scan_gives_a_cursor_and_keys)
{
    char cursor[PCD_CURSOR_MAX];
    redisReply *const *keys;
    size_t n;
    redisReply *r = parse("*2\r\n$2\r\n17\r\n*3\r\n$14\r\nPORT|Ethernet0\r\n$5\r\nPORT|\r\n"
                          ":5\r\n");
    cr_assert_eq(pcd_reply_scan(r, cursor, &keys, &n, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(cursor, "17");
    cr_assert_eq(n, 3);
    const char *name;
    size_t len;
    cr_assert_eq(pcd_reply_port_key(keys[0], &name, &len), 1);
    cr_assert_eq(len, 9);
    cr_assert_eq(memcmp(name, "Ethernet0", 9), 0);
    cr_assert_eq(pcd_reply_port_key(keys[1], &name, &len), -1, "an empty name");
    cr_assert_eq(pcd_reply_port_key(keys[2], &name, &len), 0, "not a string");
    cr_assert_null(name);
    freeReplyObject(r);
    const char *bad[] = {
        "*2\r\n$3\r\nabc\r\n*0\r\n",                    /* cursor not digits */
        "*2\r\n$21\r\n123456789012345678901\r\n*0\r\n", /* 21 digits */
        "*2\r\n$0\r\n\r\n*0\r\n",                       /* empty cursor */
        "*2\r\n:0\r\n*0\r\n",                           /* integer cursor */
        "*2\r\n$1\r\n0\r\n$3\r\nkey\r\n",               /* keys not an array */
        "*1\r\n$1\r\n0\r\n",                            /* one element */
        "-ERR unknown command 'SCAN'\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = parse(bad[i]);
        err[0] = '\0';
        cr_assert_eq(pcd_reply_scan(r, cursor, &keys, &n, err, sizeof err), -1, "%s", bad[i]);
        cr_assert(err[0], "no message for %s", bad[i]);
        freeReplyObject(r);
    }
}

Test(reply, port_keys_must_name_a_netdev)
{
    const char *name;
    size_t len;
    const char *bad[] = {"$14\r\nPORT|Eth ernet\r\n", "$21\r\nPORT|Ethernet012345678\r\n",
                         "$15\r\nPORT|Ethernet/1\r\n", "$15\r\nPORT|Ethernet:1\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        redisReply *r = parse(bad[i]);
        cr_assert_eq(pcd_reply_port_key(r, &name, &len), -1, "%s", bad[i]);
        freeReplyObject(r);
    }
    redisReply *r = parse_n("$8\r\nPORT|a\0b\r\n", 14);
    cr_assert_eq(pcd_reply_port_key(r, &name, &len), -1, "a NUL in the name");
    freeReplyObject(r);
    r = parse("$20\r\nPORT|Ethernet0123456\r\n");
    cr_assert_eq(pcd_reply_port_key(r, &name, &len), 1, "15 bytes fit IFNAMSIZ");
    freeReplyObject(r);
    r = parse("$13\r\nPORTEthernet0\r\n");
    cr_assert_eq(pcd_reply_port_key(r, &name, &len), 0, "not PORT|");
    freeReplyObject(r);
}

Test(reply, hgetall_gives_string_pairs)
{
    const char *fv[8];
    size_t fl[8];
    redisReply *r = parse("*4\r\n$5\r\nlanes\r\n$3\r\n0,1\r\n$3\r\nmtu\r\n$4\r\n9100\r\n");
    cr_assert_eq(pcd_reply_hash(r, fv, fl, 8, err, sizeof err), 2, "%s", err);
    cr_assert_eq(fl[3], 4);
    cr_assert_eq(memcmp(fv[3], "9100", 4), 0);
    cr_assert_eq(pcd_reply_hash(r, fv, fl, 3, err, sizeof err), -1, "no room for 4");
    freeReplyObject(r);
    r = parse("*0\r\n");
    cr_assert_eq(pcd_reply_hash(r, fv, fl, 8, err, sizeof err), 0, "an absent key");
    freeReplyObject(r);
    r = parse("*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
    cr_assert_eq(pcd_reply_hash(r, fv, fl, 8, err, sizeof err), -1);
    cr_assert(strstr(err, "3 elements"), "%s", err);
    freeReplyObject(r);
    r = parse("*2\r\n$1\r\na\r\n:7\r\n");
    cr_assert_eq(pcd_reply_hash(r, fv, fl, 8, err, sizeof err), -1);
    cr_assert(strstr(err, "value 0 is an integer reply 7"), "%s", err);
    freeReplyObject(r);
    r = parse("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    cr_assert_eq(pcd_reply_hash(r, fv, fl, 8, err, sizeof err), -1);
    cr_assert(strstr(err, "not a hash (an error reply 'WRONGTYPE"), "%s", err);
    freeReplyObject(r);
}

Test(reply, script_load_gives_forty_hex_digits)
{
    char sha[41];
    redisReply *r = parse("$40\r\n0123456789abcdef0123456789abcdef01234567\r\n");
    cr_assert_eq(pcd_reply_sha(r, sha, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(sha, "0123456789abcdef0123456789abcdef01234567");
    freeReplyObject(r);
    const char *bad[] = {"$39\r\n0123456789abcdef0123456789abcdef0123456\r\n",
                         "$40\r\n0123456789abcdef0123456789abcdef0123456g\r\n",
                         "-NOSCRIPT No matching script\r\n", "+OK\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = parse(bad[i]);
        cr_assert_eq(pcd_reply_sha(r, sha, err, sizeof err), -1, "%s", bad[i]);
        freeReplyObject(r);
    }
}

Test(reply, evalsha_integer_error_or_noscript)
{
    redisReply *r = parse(":1\r\n");
    cr_assert_eq(pcd_reply_eval(r, err, sizeof err), PCD_EVAL_OK);
    freeReplyObject(r);
    r = parse("-NOSCRIPT No matching script. Please use EVAL.\r\n");
    cr_assert_eq(pcd_reply_eval(r, err, sizeof err), PCD_EVAL_NOSCRIPT);
    freeReplyObject(r);
    r = parse("-READONLY You can't write against a read only replica.\r\n");
    cr_assert_eq(pcd_reply_eval(r, err, sizeof err), PCD_EVAL_ERROR);
    cr_assert(strstr(err, "READONLY"), "%s", err);
    freeReplyObject(r);
    r = parse("-NOSCRIP\r\n"); /* a prefix of it is not it */
    cr_assert_eq(pcd_reply_eval(r, err, sizeof err), PCD_EVAL_ERROR);
    freeReplyObject(r);
}

Test(reply, the_batch_script_gives_one_result_per_event)
{
    int res[4];
    static char errs[4][160];
    redisReply *r = parse("*3\r\n:1\r\n:0\r\n$65\r\nWRONGTYPE Operation against a key holding "
                          "the wrong kind of value\r\n");
    cr_assert_eq(pcd_reply_apply(r, 3, res, errs), PCD_EVAL_OK);
    cr_assert_eq(res[0], PCD_APPLY_WRITTEN);
    cr_assert_eq(res[1], PCD_APPLY_NOT_FOUND);
    cr_assert_eq(res[2], PCD_APPLY_ERROR);
    cr_assert(strncmp(errs[2], "WRONGTYPE", 9) == 0, "%s", errs[2]);
    cr_assert_eq(pcd_reply_apply(r, 2, res, errs), PCD_EVAL_ERROR, "3 results for 2 events");
    cr_assert(strstr(errs[0], "expected an array of 2 results, got an array reply of 3"), "%s",
              errs[0]);
    freeReplyObject(r);
    r = parse("*2\r\n:5\r\n$-1\r\n");
    cr_assert_eq(pcd_reply_apply(r, 2, res, errs), PCD_EVAL_OK);
    cr_assert_eq(res[0], PCD_APPLY_ERROR, "5 is neither written nor not found");
    cr_assert(strstr(errs[0], "unexpected result: an integer reply 5"), "%s", errs[0]);
    cr_assert_eq(res[1], PCD_APPLY_ERROR);
    freeReplyObject(r);
    r = parse("-BUSY Redis is busy running a script.\r\n");
    cr_assert_eq(pcd_reply_apply(r, 1, res, errs), PCD_EVAL_ERROR);
    cr_assert(strstr(errs[0], "STATE_DB batch script failed: BUSY"), "%s", errs[0]);
    freeReplyObject(r);
    r = parse("-NOSCRIPT No matching script.\r\n");
    cr_assert_eq(pcd_reply_apply(r, 1, res, errs), PCD_EVAL_NOSCRIPT);
    freeReplyObject(r);
}
