/*
 * core/reply.h - what portsyncd makes of Redis replies, apart from the I/O that
 * gets them: each function takes a parsed reply (hiredis's redisReply) and
 * checks its shape before using it, so a reply of an unexpected type, length or
 * content is refused with a message instead of being dereferenced. These are
 * the functions the Redis-reply fuzzer (tests/fuzz/fuzz_redis_reply.c) drives.
 *
 * Reply shapes, as hiredis parses RESP2:
 *
 *   STRING  $<len>\r\n<bytes>\r\n     str/len, binary-safe (may hold NUL bytes)
 *   STATUS  +<text>\r\n               str/len
 *   ERROR   -<text>\r\n               str/len
 *   INTEGER :<n>\r\n                  integer
 *   NIL     $-1\r\n or *-1\r\n        -
 *   ARRAY   *<n>\r\n<n replies>       element[0..elements)
 *
 * Errors fill @err with one line naming what was expected and what came.
 */
#ifndef PCD_REPLY_H
#define PCD_REPLY_H

#include <hiredis/hiredis.h>
#include <stddef.h>

/* A SCAN cursor: 1 to 20 decimal digits (an unsigned 64-bit number). */
#define PCD_CURSOR_MAX 21

/**
 * pcd_reply_describe - a short description of @rep for messages
 * @rep: any reply, or NULL
 * @buf: receives e.g. "an error reply 'WRONGTYPE ...'" or "an integer reply 3"
 * @len: size of @buf
 * Returns @buf.
 */
const char *pcd_reply_describe(const redisReply *rep, char *buf, size_t len);

/**
 * pcd_port_name_ok - can @p name a netdev (and so a port)?
 * @p: the name, not NUL-terminated
 * @len: its length
 * Returns 1 for 1 to IFNAMSIZ-1 printable ASCII bytes without '/', ':' or
 * spaces, else 0.
 */
int pcd_port_name_ok(const char *p, size_t len);

/**
 * pcd_reply_field - the value of an HGET reply
 * @rep: the reply
 * @val: receives the value (binary-safe, @len bytes) when there is one
 * @len: receives its length
 * @err: buffer for what was wrong
 * @errlen: size of @err
 * Returns 1 with a value, 0 for nil (field or key absent), -1 for an error
 * reply or any other type (@err says which).
 */
int pcd_reply_field(const redisReply *rep, const char **val, size_t *len, char *err, size_t errlen);

/**
 * pcd_reply_field_is - does an HGET reply hold exactly @want?
 * @rep: the reply
 * @want: the value, a C string
 * @err: filled for an error reply or an unexpected type (empty otherwise)
 * @errlen: size of @err
 * Returns 1 or 0 (an error or unexpected reply counts as "not set").
 */
int pcd_reply_field_is(const redisReply *rep, const char *want, char *err, size_t errlen);

/**
 * pcd_reply_count - WARM_RESTART_TABLE restore_count from an HGET reply
 * @rep: the reply
 * @out: receives the count, 0 to LLONG_MAX - 1 (so @out + 1 cannot overflow)
 * @err: buffer for what was wrong
 * @errlen: size of @err
 * Returns 1 with a count, 0 when absent (nil), -1 when not a decimal count in
 * range (@err quotes it).
 */
int pcd_reply_count(const redisReply *rep, long long *out, char *err, size_t errlen);

/**
 * pcd_reply_flag - an integer 0/1 reply (HEXISTS, EXISTS, SADD of one member)
 * @rep: the reply
 * @err: buffer for what was wrong
 * @errlen: size of @err
 * Returns 1 or 0, or -1 for anything but the integers 0 and 1.
 */
int pcd_reply_flag(const redisReply *rep, char *err, size_t errlen);

/**
 * pcd_reply_scan - one SCAN reply: [cursor, [key, ...]]
 * @rep: the reply
 * @cursor: receives the next cursor ("0" when the scan is complete)
 * @keys: receives the key replies (each still to be checked, pcd_reply_port_key())
 * @nkeys: receives their number
 * @err: buffer for what was wrong
 * @errlen: size of @err
 * Returns 0, or -1 when the shape is wrong or the cursor is not 1 to 20 digits.
 */
int pcd_reply_scan(const redisReply *rep, char cursor[PCD_CURSOR_MAX], redisReply *const **keys,
                   size_t *nkeys, char *err, size_t errlen);

/**
 * pcd_reply_port_key - the port name of a CONFIG_DB key reply "PORT|<name>"
 * @key: one key of a SCAN reply
 * @name: receives the name (not NUL-terminated), also when it cannot be a netdev
 * @len: receives its length
 * Returns 1 for a usable port name, 0 for a key that is not a string starting
 * with "PORT|" (@name NULL), -1 for a PORT| key whose name cannot be a netdev
 * (pcd_port_name_ok()).
 */
int pcd_reply_port_key(const redisReply *key, const char **name, size_t *len);

/**
 * pcd_reply_hash - the field/value pairs of an HGETALL reply
 * @h: the reply
 * @fv: receives 2 * pairs pointers (field, value, ...), @cap entries at most
 * @fvlen: receives their lengths
 * @cap: room in @fv and @fvlen; h->elements is always enough
 * @err: buffer for what was wrong
 * @errlen: size of @err
 * Returns the number of pairs (>= 1), 0 for an empty hash (the key is absent),
 * or -1 for an error reply, a non-array, an odd count, a field or value that is
 * not a string, or more elements than @cap.
 */
long pcd_reply_hash(const redisReply *h, const char **fv, size_t *fvlen, size_t cap, char *err,
                    size_t errlen);

/**
 * pcd_reply_sha - the SHA1 a SCRIPT LOAD replied
 * @rep: the reply
 * @sha: receives 40 lowercase hex digits and a NUL
 * @err: buffer for what was wrong
 * @errlen: size of @err
 * Returns 0, or -1 when the reply is not a string of 40 hex digits.
 */
int pcd_reply_sha(const redisReply *rep, char sha[41], char *err, size_t errlen);

/* What an EVALSHA replied (pcd_reply_eval(), pcd_reply_apply()). */
#define PCD_EVAL_OK       0
#define PCD_EVAL_ERROR    1 /* an error reply or an unexpected shape (@err) */
#define PCD_EVAL_NOSCRIPT 2 /* Redis lost the script: load it again and retry */

/**
 * pcd_reply_eval - the reply of a producer-state-table EVALSHA (an integer)
 * @rep: the reply
 * @err: buffer for the error
 * @errlen: size of @err
 * Returns PCD_EVAL_OK, PCD_EVAL_ERROR or PCD_EVAL_NOSCRIPT.
 */
int pcd_reply_eval(const redisReply *rep, char *err, size_t errlen);

/**
 * pcd_reply_apply - the reply of the STATE_DB batch script: one entry per event
 * @rep: the reply
 * @n: events in the batch
 * @res: receives PCD_APPLY_WRITTEN, PCD_APPLY_NOT_FOUND or PCD_APPLY_ERROR per event
 * @errs: receives the error text of each PCD_APPLY_ERROR event; errs[0] also
 *        says why for PCD_EVAL_ERROR
 *
 * An entry is the integer 1 (written), 0 (not in PORT_TABLE), or the text of
 * the error Redis gave that event's write (a string, status or error reply).
 * Returns PCD_EVAL_OK, PCD_EVAL_NOSCRIPT, or PCD_EVAL_ERROR when the reply is
 * an error or not an array of @n entries (nothing of @res is then valid).
 */
int pcd_reply_apply(const redisReply *rep, size_t n, int *res, char (*errs)[160]);

#endif
