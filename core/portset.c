/*
 * core/portset.c - the "not yet created" set (see portset.h).
 */
#include <stdlib.h>
#include <string.h>

#include "portset.h"

void pcd_portset_init(struct pcd_portset *s, void *(*realloc_fn)(void *, size_t))
{
    memset(s, 0, sizeof *s);
    s->realloc_fn = realloc_fn ? realloc_fn : realloc;
}

static int find(const struct pcd_portset *s, const char *name)
{
    for (uint32_t i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0)
            return (int)i;
    return -1;
}

void pcd_portset_add(struct pcd_portset *s, const char *name)
{
    if (find(s, name) >= 0)
        return;
    if (s->n == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 64;
        char **p = s->realloc_fn(s->names, cap * sizeof *p);
        if (!p)
            return;
        s->names = p;
        s->cap = cap;
    }
    size_t len = strlen(name) + 1;
    char *d = s->realloc_fn(NULL, len);
    if (d) {
        memcpy(d, name, len);
        s->names[s->n++] = d;
    }
}

void pcd_portset_del(struct pcd_portset *s, const char *name)
{
    int i = find(s, name);
    if (i < 0)
        return;
    free(s->names[i]);
    s->names[i] = s->names[--s->n];
}

int pcd_portset_all_created(const struct pcd_portset *s)
{
    return s->n == 0;
}

void pcd_portset_free(struct pcd_portset *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        free(s->names[i]);
    free(s->names);
    s->names = NULL;
    s->n = s->cap = 0;
}
