/*
 * core/reply.c - interpretation of Redis replies (see reply.h). No I/O, no
 * allocation: every function only reads the reply it is given, after checking
 * the type, the element count and the lengths it relies on.
 */
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "reply.h"

/* Bytes of a reply's text shown in messages: a hostile reply may be megabytes. */
#define SHOWN 96

static int is_text(const redisReply *r)
{
    return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
           r->type == REDIS_REPLY_ERROR;
}

/* @r's text, quoted and cut at SHOWN bytes or the first NUL, for a message. */
static int shown_len(const redisReply *r)
{
    size_t n = strnlen(r->str, r->len < SHOWN ? r->len : SHOWN);
    return (int)n;
}

const char *pcd_reply_describe(const redisReply *rep, char *buf, size_t len)
{
    if (!rep) {
        snprintf(buf, len, "no reply");
        return buf;
    }
    switch (rep->type) {
    case REDIS_REPLY_STRING:
        snprintf(buf, len, "a string reply '%.*s'%s", shown_len(rep), rep->str,
                 rep->len > SHOWN ? "..." : "");
        break;
    case REDIS_REPLY_STATUS:
        snprintf(buf, len, "a status reply '%.*s'", shown_len(rep), rep->str);
        break;
    case REDIS_REPLY_ERROR:
        snprintf(buf, len, "an error reply '%.*s'", shown_len(rep), rep->str);
        break;
    case REDIS_REPLY_INTEGER:
        snprintf(buf, len, "an integer reply %lld", rep->integer);
        break;
    case REDIS_REPLY_NIL:
        snprintf(buf, len, "a nil reply");
        break;
    case REDIS_REPLY_ARRAY:
        snprintf(buf, len, "an array reply of %zu elements", rep->elements);
        break;
    default:
        snprintf(buf, len, "a reply of unknown type %d", rep->type);
        break;
    }
    return buf;
}

int pcd_port_name_ok(const char *p, size_t len)
{
    if (len == 0 || len >= IFNAMSIZ)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (p[i] <= ' ' || p[i] >= 0x7f || p[i] == '/' || p[i] == ':')
            return 0;
    return 1;
}

int pcd_reply_field(const redisReply *rep, const char **val, size_t *len, char *err, size_t errlen)
{
    char d[160];
    err[0] = '\0';
    if (rep->type == REDIS_REPLY_NIL)
        return 0;
    if (rep->type != REDIS_REPLY_STRING) {
        snprintf(err, errlen, "expected a string or nil, got %s",
                 pcd_reply_describe(rep, d, sizeof d));
        return -1;
    }
    *val = rep->str;
    *len = rep->len;
    return 1;
}

int pcd_reply_field_is(const redisReply *rep, const char *want, char *err, size_t errlen)
{
    const char *v;
    size_t n;
    if (pcd_reply_field(rep, &v, &n, err, errlen) != 1)
        return 0;
    return n == strlen(want) && memcmp(v, want, n) == 0;
}

int pcd_reply_count(const redisReply *rep, long long *out, char *err, size_t errlen)
{
    const char *v;
    size_t n;
    int rc = pcd_reply_field(rep, &v, &n, err, errlen);
    if (rc <= 0)
        return rc;
    /* Digits only: strtoll would take signs, spaces and overflow quietly. */
    long long c = 0;
    int ok = n > 0 && n <= 19;
    for (size_t i = 0; ok && i < n; i++) {
        ok = v[i] >= '0' && v[i] <= '9' && c <= (LLONG_MAX - 1 - (v[i] - '0')) / 10;
        if (ok)
            c = c * 10 + (v[i] - '0');
    }
    if (!ok) {
        /* "not a count" ends the text: the caller adds what it does about it. */
        snprintf(err, errlen, "'%.*s'%s, not a count", (int)strnlen(v, n < SHOWN ? n : SHOWN), v,
                 n > SHOWN ? "..." : "");
        return -1;
    }
    *out = c;
    return 1;
}

int pcd_reply_flag(const redisReply *rep, char *err, size_t errlen)
{
    char d[160];
    if (rep->type == REDIS_REPLY_INTEGER && (rep->integer == 0 || rep->integer == 1))
        return (int)rep->integer;
    snprintf(err, errlen, "expected the integer 0 or 1, got %s",
             pcd_reply_describe(rep, d, sizeof d));
    return -1;
}

int pcd_reply_scan(const redisReply *rep, char cursor[PCD_CURSOR_MAX], redisReply *const **keys,
                   size_t *nkeys, char *err, size_t errlen)
{
    char d[160];
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
        snprintf(err, errlen, "expected an array of a cursor and keys, got %s",
                 pcd_reply_describe(rep, d, sizeof d));
        return -1;
    }
    const redisReply *c = rep->element[0], *k = rep->element[1];
    int digits = c->type == REDIS_REPLY_STRING && c->len >= 1 && c->len < PCD_CURSOR_MAX;
    for (size_t i = 0; digits && i < c->len; i++)
        digits = c->str[i] >= '0' && c->str[i] <= '9';
    if (!digits) {
        snprintf(err, errlen, "expected a cursor of 1 to %d digits, got %s", PCD_CURSOR_MAX - 1,
                 pcd_reply_describe(c, d, sizeof d));
        return -1;
    }
    if (k->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "expected an array of keys, got %s",
                 pcd_reply_describe(k, d, sizeof d));
        return -1;
    }
    memcpy(cursor, c->str, c->len);
    cursor[c->len] = '\0';
    *keys = k->element;
    *nkeys = k->elements;
    return 0;
}

int pcd_reply_port_key(const redisReply *key, const char **name, size_t *len)
{
    *name = NULL;
    *len = 0;
    if (key->type != REDIS_REPLY_STRING || key->len < 5 || memcmp(key->str, "PORT|", 5) != 0)
        return 0;
    *name = key->str + 5;
    *len = key->len - 5;
    return pcd_port_name_ok(*name, *len) ? 1 : -1;
}

long pcd_reply_hash(const redisReply *h, const char **fv, size_t *fvlen, size_t cap, char *err,
                    size_t errlen)
{
    char d[160];
    if (h->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "not a hash (%s)", pcd_reply_describe(h, d, sizeof d));
        return -1;
    }
    if (h->elements % 2) {
        snprintf(err, errlen, "expected field/value pairs, got %zu elements", h->elements);
        return -1;
    }
    if (h->elements > cap || h->elements / 2 > LONG_MAX) {
        snprintf(err, errlen, "%zu elements, more than the %zu expected", h->elements, cap);
        return -1;
    }
    for (size_t i = 0; i < h->elements; i++) {
        if (h->element[i]->type != REDIS_REPLY_STRING) {
            snprintf(err, errlen, "%s %zu is %s, expected a string", i % 2 ? "value" : "field",
                     i / 2, pcd_reply_describe(h->element[i], d, sizeof d));
            return -1;
        }
        fv[i] = h->element[i]->str;
        fvlen[i] = h->element[i]->len;
    }
    return (long)(h->elements / 2);
}

int pcd_reply_sha(const redisReply *rep, char sha[41], char *err, size_t errlen)
{
    char d[160];
    int ok = rep->type == REDIS_REPLY_STRING && rep->len == 40;
    for (size_t i = 0; ok && i < 40; i++)
        ok = (rep->str[i] >= '0' && rep->str[i] <= '9') ||
             (rep->str[i] >= 'a' && rep->str[i] <= 'f');
    if (!ok) {
        snprintf(err, errlen, "expected a SHA1 of 40 hex digits, got %s",
                 pcd_reply_describe(rep, d, sizeof d));
        return -1;
    }
    memcpy(sha, rep->str, 40);
    sha[40] = '\0';
    return 0;
}

static int is_noscript(const redisReply *rep)
{
    return rep->type == REDIS_REPLY_ERROR && rep->len >= 8 && memcmp(rep->str, "NOSCRIPT", 8) == 0;
}

int pcd_reply_eval(const redisReply *rep, char *err, size_t errlen)
{
    char d[160];
    if (is_noscript(rep))
        return PCD_EVAL_NOSCRIPT;
    if (rep->type == REDIS_REPLY_INTEGER)
        return PCD_EVAL_OK;
    snprintf(err, errlen, "%s", pcd_reply_describe(rep, d, sizeof d));
    return PCD_EVAL_ERROR;
}

int pcd_reply_apply(const redisReply *rep, size_t n, int *res, char (*errs)[160])
{
    char d[160];
    if (is_noscript(rep))
        return PCD_EVAL_NOSCRIPT;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != n) {
        if (rep->type == REDIS_REPLY_ERROR)
            snprintf(errs[0], sizeof errs[0], "STATE_DB batch script failed: %.*s", shown_len(rep),
                     rep->str);
        else
            snprintf(errs[0], sizeof errs[0],
                     "STATE_DB batch script: expected an array of %zu results, got %s", n,
                     pcd_reply_describe(rep, d, sizeof d));
        return PCD_EVAL_ERROR;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *e = rep->element[i];
        if (e->type == REDIS_REPLY_INTEGER && (e->integer == 0 || e->integer == 1)) {
            res[i] = e->integer == 1 ? PCD_APPLY_WRITTEN : PCD_APPLY_NOT_FOUND;
            continue;
        }
        res[i] = PCD_APPLY_ERROR;
        if (is_text(e))
            snprintf(errs[i], sizeof errs[i], "%.*s", shown_len(e), e->str);
        else
            snprintf(errs[i], sizeof errs[i], "unexpected result: %s",
                     pcd_reply_describe(e, d, sizeof d));
    }
    return PCD_EVAL_OK;
}
