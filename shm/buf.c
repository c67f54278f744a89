/*
 * shm/buf.c - the growable output buffer every exposition writes into
 * (struct psm_buf in psm/render.h). Its own file because both renderers
 * (render.c, render_pb.c) append to it and neither may call the other back.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psm/render.h"

int psm_buf_reserve(struct psm_buf *b, size_t n)
{
    if (b->oom)
        return -1;
    if (b->cap - b->len >= n)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < n)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void psm_buf_puts(struct psm_buf *b, const char *s)
{
    psm_buf_put(b, s, strlen(s));
}

void psm_buf_printf(struct psm_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || psm_buf_reserve(b, (size_t)n + 1) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void psm_buf_free(struct psm_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}
