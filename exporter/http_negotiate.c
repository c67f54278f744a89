/*
 * exporter/http_negotiate.c - the exposition format and encoding a scraper's
 * Accept and Accept-Encoding headers ask for (RFC 9110 section 12.5: a
 * comma-separated list of elements with parameters, q the weight).
 *
 *   Accept: application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;
 *           encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,...
 *           `-- media range --' `-- parameters --------------------------------' `q'
 *
 * Each format we serve takes the q of the most specific range that matches
 * it (RFC 9110 12.5.1: "text/plain;q=0, * / *" refuses text even though the
 * wildcard would take it). The format with the highest q wins; see
 * pex_accept_parse() for ties. Only what decides the answer is read: the
 * range, "version", "proto", "encoding" and "q". An element that cannot be
 * read (a q that is not an RFC qvalue, an unterminated quote) weighs nothing,
 * so a malformed header gets the classic text format without gzip, which
 * every scraper accepts.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_negotiate.h"

static int ieq(const char *a, size_t alen, const char *b)
{
    return alen == strlen(b) && strncasecmp(a, b, alen) == 0;
}

/*
 * The first @sep in [p, end) outside a quoted-string (with its backslash
 * escapes), or end. A comma inside a quoted parameter value must not start a
 * new element: "x;a=\"y, text/plain\"" names one range, not two.
 * *bad is set when a quote is left open.
 */
static const char *find_sep(const char *p, const char *end, char sep, int *bad)
{
    int quoted = 0;
    for (; p < end; p++) {
        if (quoted) {
            if (*p == '\\' && p + 1 < end)
                p++;
            else if (*p == '"')
                quoted = 0;
        } else if (*p == '"') {
            quoted = 1;
        } else if (*p == sep) {
            return p;
        }
    }
    if (quoted)
        *bad = 1;
    return end;
}

/* Trims blanks and one pair of quotes. */
static void trim(const char **p, size_t *len)
{
    while (*len && ((*p)[0] == ' ' || (*p)[0] == '\t'))
        (*p)++, (*len)--;
    while (*len && ((*p)[*len - 1] == ' ' || (*p)[*len - 1] == '\t'))
        (*len)--;
    if (*len >= 2 && (*p)[0] == '"' && (*p)[*len - 1] == '"')
        (*p)++, *len -= 2;
}

/*
 * RFC 9110 qvalue: "0" [ "." 0*3DIGIT ] / "1" [ "." 0*3("0") ]. Returns the
 * weight, or -1 for anything else ("0.5000", "1.5", "-0", "0x1", "inf"):
 * strtod would read several of those as a weight the client never wrote.
 */
static double qvalue_parse(const char *v, size_t len)
{
    if (len == 0 || (v[0] != '0' && v[0] != '1'))
        return -1;
    if (len == 1)
        return v[0] - '0';
    if (v[1] != '.' || len > 5)
        return -1;
    int frac = 0, scale = 1000;
    for (size_t i = 2; i < len; i++) {
        if (v[i] < '0' || v[i] > '9' || (v[0] == '1' && v[i] != '0'))
            return -1;
        scale /= 10;
        frac += (v[i] - '0') * scale;
    }
    return (v[0] - '0') + frac / 1000.0;
}

struct param {
    const char *v;
    size_t len;
    int set;
};

/* One element "type/sub; k=v; q=0.5" of an Accept-like list. */
struct media {
    const char *type;
    size_t tlen;
    struct param version, proto, encoding;
    double q;
    int bad; /* unreadable: weighs nothing */
};

static void media_parse(const char *p, const char *end, struct media *m)
{
    memset(m, 0, sizeof *m);
    m->q = 1;
    const char *semi = find_sep(p, end, ';', &m->bad);
    m->type = p;
    m->tlen = (size_t)(semi - p);
    trim(&m->type, &m->tlen);
    if (m->tlen == 0)
        m->bad = 1;
    while (semi < end && !m->bad) {
        p = semi + 1;
        semi = find_sep(p, end, ';', &m->bad);
        const char *eq = memchr(p, '=', (size_t)(semi - p));
        if (!eq)
            continue; /* a bare token: no parameter we know */
        const char *k = p, *v = eq + 1;
        size_t klen = (size_t)(eq - p), vlen = (size_t)(semi - v);
        trim(&k, &klen);
        trim(&v, &vlen);
        struct param *dst = NULL;
        if (ieq(k, klen, "q")) {
            m->q = qvalue_parse(v, vlen);
            if (m->q < 0)
                m->bad = 1;
        } else if (ieq(k, klen, "version")) {
            dst = &m->version;
        } else if (ieq(k, klen, "proto")) {
            dst = &m->proto;
        } else if (ieq(k, klen, "encoding")) {
            dst = &m->encoding;
        }
        if (dst)
            *dst = (struct param){v, vlen, 1};
    }
}

static int param_is(const struct param *p, const char *want)
{
    return p->set && ieq(p->v, p->len, want);
}

/* Specificity of a match (RFC 9110 12.5.1); 0 = no match. */
enum {
    MATCH_NONE = 0,
    MATCH_ANY = 1,      /* * / * */
    MATCH_SUBTYPES = 2, /* text/ * */
    MATCH_TYPE = 3,     /* text/plain */
    MATCH_PARAMS = 4,   /* text/plain;version=0.0.4 */
};

/* How specifically @m names @fmt. */
static int media_match(const struct media *m, enum psm_format fmt)
{
    switch (fmt) {
    case PSM_FMT_TEXT:
        if (ieq(m->type, m->tlen, "text/plain")) {
            if (!m->version.set)
                return MATCH_TYPE;
            return param_is(&m->version, "0.0.4") ? MATCH_PARAMS : MATCH_NONE;
        }
        if (ieq(m->type, m->tlen, "text/*"))
            return MATCH_SUBTYPES;
        return ieq(m->type, m->tlen, "*/*") ? MATCH_ANY : MATCH_NONE;
    case PSM_FMT_OPENMETRICS:
        /* No wildcard selects it: "* / *" means "whatever you serve by default". */
        if (!ieq(m->type, m->tlen, "application/openmetrics-text"))
            return MATCH_NONE;
        if (!m->version.set)
            return MATCH_TYPE;
        return param_is(&m->version, "1.0.0") || param_is(&m->version, "0.0.1") ? MATCH_PARAMS
                                                                                : MATCH_NONE;
    case PSM_FMT_PROTOBUF:
        /*
         * Only the exact stream Prometheus asks for: the type alone does not
         * say which message or framing (client_golang's expfmt requires both
         * parameters too). Prometheus picks its parser from our Content-Type,
         * so protobuf sent to one that did not ask fails its whole scrape.
         */
        return ieq(m->type, m->tlen, "application/vnd.google.protobuf") &&
                       param_is(&m->proto, "io.prometheus.client.MetricFamily") &&
                       param_is(&m->encoding, "delimited")
                   ? MATCH_PARAMS
                   : MATCH_NONE;
    }
    return MATCH_NONE;
}

/* The weight the most specific matching element gives each format. */
struct weight {
    double q;
    int spec;
};

/* Ties go to the first of these: the format every scraper understands first. */
static const enum psm_format tie_order[] = {PSM_FMT_TEXT, PSM_FMT_PROTOBUF, PSM_FMT_OPENMETRICS};
#define NFORMATS (sizeof tie_order / sizeof tie_order[0])

enum psm_format pex_accept_parse(const char *v, size_t len)
{
    struct weight w[NFORMATS] = {{0, MATCH_NONE}};
    const char *end = v ? v + len : NULL;
    for (const char *p = v; p && p < end;) {
        int bad = 0;
        const char *comma = find_sep(p, end, ',', &bad);
        struct media m;
        media_parse(p, comma, &m);
        p = comma < end ? comma + 1 : end;
        if (m.bad || bad)
            continue;
        for (size_t i = 0; i < NFORMATS; i++) {
            int s = media_match(&m, tie_order[i]);
            if (s > w[i].spec || (s == w[i].spec && s != MATCH_NONE && m.q > w[i].q))
                w[i] = (struct weight){m.q, s};
        }
    }
    /* Highest q; for equal q a named type beats a wildcard (as client_golang's
     * negotiation sorts them), then tie_order. Nothing acceptable: text. */
    size_t best = 0;
    for (size_t i = 1; i < NFORMATS; i++) {
        int named = w[i].spec >= MATCH_TYPE, best_named = w[best].spec >= MATCH_TYPE;
        if (w[i].q > w[best].q || (w[i].q == w[best].q && named && !best_named))
            best = i;
    }
    return w[best].q > 0 ? tie_order[best] : PSM_FMT_TEXT;
}

int pex_gzip_accepted(const char *v, size_t len)
{
    double q_gzip = -1, q_star = -1;
    const char *end = v ? v + len : NULL;
    for (const char *p = v; p && p < end;) {
        int bad = 0;
        const char *comma = find_sep(p, end, ',', &bad);
        struct media m;
        media_parse(p, comma, &m);
        p = comma < end ? comma + 1 : end;
        if (m.bad || bad)
            continue;
        if (ieq(m.type, m.tlen, "gzip") || ieq(m.type, m.tlen, "x-gzip"))
            q_gzip = m.q;
        else if (ieq(m.type, m.tlen, "*"))
            q_star = m.q;
    }
    return q_gzip > 0 || (q_gzip < 0 && q_star > 0);
}
