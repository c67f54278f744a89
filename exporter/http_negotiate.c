/*
 * exporter/http_negotiate.c - the exposition format and encoding a scraper's
 * Accept and Accept-Encoding headers ask for (RFC 9110 section 12.5: a
 * comma-separated list of elements with parameters, q the weight).
 *
 * Only what decides the answer is parsed: media type or coding, "version" and
 * "q". Anything unreadable weighs nothing, so a malformed header gets the
 * classic text format without gzip, which every scraper accepts.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_negotiate.h"

static int ieq(const char *a, size_t alen, const char *b)
{
    return alen == strlen(b) && strncasecmp(a, b, alen) == 0;
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
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

struct media {
    const char *type;
    size_t tlen;
    const char *version;
    size_t vlen;
    double q;
};

/* Parses one element "type/sub; k=v; q=0.5" of an Accept-like list. */
static void media_parse(const char *p, const char *end, struct media *m)
{
    memset(m, 0, sizeof *m);
    m->q = 1;
    const char *semi = memchr(p, ';', (size_t)(end - p));
    const char *tend = semi ? semi : end;
    m->type = p;
    m->tlen = (size_t)(tend - p);
    trim(&m->type, &m->tlen);
    while (semi) {
        p = skip_ws(semi + 1, end);
        semi = memchr(p, ';', (size_t)(end - p));
        const char *pend = semi ? semi : end;
        const char *eq = memchr(p, '=', (size_t)(pend - p));
        if (!eq)
            continue;
        const char *k = p, *v = eq + 1;
        size_t klen = (size_t)(eq - p), vlen = (size_t)(pend - v);
        trim(&k, &klen);
        trim(&v, &vlen);
        if (ieq(k, klen, "q")) {
            char num[16];
            size_t n = vlen < sizeof num - 1 ? vlen : sizeof num - 1;
            memcpy(num, v, n);
            num[n] = '\0';
            char *e;
            double q = strtod(num, &e);
            m->q = (*e || q < 0 || q > 1) ? 0 : q;
        } else if (ieq(k, klen, "version")) {
            m->version = v;
            m->vlen = vlen;
        }
    }
}

enum psm_format pex_accept_parse(const char *v, size_t len)
{
    double q_om = 0, q_text = 0;
    const char *end = v ? v + len : NULL;
    for (const char *p = v; p && p < end;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *eend = comma ? comma : end;
        struct media m;
        media_parse(p, eend, &m);
        p = comma ? comma + 1 : end;
        if (ieq(m.type, m.tlen, "application/openmetrics-text")) {
            if (!m.version || ieq(m.version, m.vlen, "1.0.0") || ieq(m.version, m.vlen, "0.0.1"))
                q_om = m.q > q_om ? m.q : q_om;
        } else if (ieq(m.type, m.tlen, "text/plain")) {
            if (!m.version || ieq(m.version, m.vlen, "0.0.4"))
                q_text = m.q > q_text ? m.q : q_text;
        } else if (ieq(m.type, m.tlen, "text/*") || ieq(m.type, m.tlen, "*/*")) {
            q_text = m.q > q_text ? m.q : q_text;
        }
    }
    /* Ties go to the classic text format, the one every scraper understands. */
    return q_om > 0 && q_om > q_text ? PSM_FMT_OPENMETRICS : PSM_FMT_TEXT;
}

int pex_gzip_accepted(const char *v, size_t len)
{
    double q_gzip = -1, q_star = -1;
    const char *end = v ? v + len : NULL;
    for (const char *p = v; p && p < end;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *eend = comma ? comma : end;
        struct media m;
        media_parse(p, eend, &m);
        p = comma ? comma + 1 : end;
        if (ieq(m.type, m.tlen, "gzip") || ieq(m.type, m.tlen, "x-gzip"))
            q_gzip = m.q;
        else if (ieq(m.type, m.tlen, "*"))
            q_star = m.q;
    }
    return q_gzip > 0 || (q_gzip < 0 && q_star > 0);
}
