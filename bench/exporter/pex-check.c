/*
 * bench/exporter/pex-check.c - pex-scrape's --check: what every scraped body
 * must hold (histogram buckets cumulative with +Inf == _count, and on one
 * connection no counter series ever going down).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psu/hash.h"
#include "pex-scrape.h"

/* ---- per-connection counter memory (open addressing on the series key) ---- */

static uint64_t fnv(const char *s, size_t n)
{
    return psu_hash_fnv1a64(PSU_HASH_FNV1A64_SEED, s, n);
}

/* Returns 0, or 1 if @v is below the value last seen for @key. */
static int counter_seen(struct worker *w, const char *key, size_t klen, double v)
{
    if (w->hcount * 2 >= w->hcap) {
        size_t ncap = w->hcap ? w->hcap * 2 : 4096;
        char **nk = calloc(ncap, sizeof *nk);
        double *nv = calloc(ncap, sizeof *nv);
        if (!nk || !nv)
            abort();
        for (size_t i = 0; i < w->hcap; i++) {
            if (!w->keys[i])
                continue;
            size_t j = fnv(w->keys[i], strlen(w->keys[i])) & (ncap - 1);
            while (nk[j])
                j = (j + 1) & (ncap - 1);
            nk[j] = w->keys[i];
            nv[j] = w->vals[i];
        }
        free(w->keys);
        free(w->vals);
        w->keys = nk;
        w->vals = nv;
        w->hcap = ncap;
    }
    size_t j = fnv(key, klen) & (w->hcap - 1);
    while (w->keys[j]) {
        if (strlen(w->keys[j]) == klen && memcmp(w->keys[j], key, klen) == 0) {
            int bad = v < w->vals[j];
            w->vals[j] = v;
            return bad;
        }
        j = (j + 1) & (w->hcap - 1);
    }
    w->keys[j] = strndup(key, klen);
    w->vals[j] = v;
    w->hcount++;
    return 0;
}

/* ---- body checks ------------------------------------------------------------------ */

void pex_violation(struct worker *w, const char *what, const char *line, size_t len)
{
    w->violations++;
    if (!w->err[0])
        snprintf(w->err, sizeof w->err, "%s: %.*s", what, (int)(len > 160 ? 160 : len), line);
}

/*
 * Walks the exposition line by line. Families are typed by their # TYPE line;
 * histogram series are identified by their labels without "le" and checked
 * when their _count line arrives: each bucket >= the previous one, and the
 * +Inf bucket equal to _count.
 */
void pex_check_body(struct worker *w, const char *b, size_t n)
{
    char type[16] = "";
    char fam[256] = "";
    double prev_bucket = -1, inf_bucket = -1;
    const char *end = b + n;
    for (const char *p = b; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        const char *line = p;
        p = nl ? nl + 1 : end;
        if (len == 0)
            continue;
        if (line[0] == '#') {
            if (len > 7 && memcmp(line, "# TYPE ", 7) == 0) {
                const char *sp = memchr(line + 7, ' ', len - 7);
                if (sp) {
                    size_t fl = (size_t)(sp - line - 7);
                    snprintf(fam, sizeof fam, "%.*s", (int)fl, line + 7);
                    snprintf(type, sizeof type, "%.*s", (int)(line + len - sp - 1), sp + 1);
                }
                prev_bucket = -1;
            }
            continue;
        }
        const char *sp = memrchr(line, ' ', len);
        if (!sp) {
            pex_violation(w, "sample line without a value", line, len);
            continue;
        }
        double v = strtod(sp + 1, NULL);
        size_t klen = (size_t)(sp - line);
        if (strcmp(type, "counter") == 0) {
            if (counter_seen(w, line, klen, v))
                pex_violation(w, "counter went backwards on one connection", line, len);
        } else if (strcmp(type, "histogram") == 0) {
            size_t fl = strlen(fam);
            const char *suffix = line + fl;
            if (klen > fl + 7 && memcmp(suffix, "_bucket", 7) == 0) {
                if (v < prev_bucket)
                    pex_violation(w, "histogram buckets not cumulative", line, len);
                prev_bucket = v;
                if (memmem(line, klen, "le=\"+Inf\"", 9))
                    inf_bucket = v;
            } else if (klen >= fl + 6 && memcmp(suffix, "_count", 6) == 0) {
                if (inf_bucket != v)
                    pex_violation(w, "histogram +Inf bucket differs from _count", line, len);
                if (counter_seen(w, line, klen, v))
                    pex_violation(w, "histogram _count went backwards", line, len);
                prev_bucket = -1;
                inf_bucket = -1;
            }
        }
    }
}
