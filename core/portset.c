/*
 * core/portset.c - the "not yet created" set (see portset.h): linear probing,
 * load at most one half, deletion by backward shift (no tombstones), so a
 * lookup stops at the first free slot.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "portset.h"
#include "psu/hash.h"

void pcd_portset_init(struct pcd_portset *s, void *(*realloc_fn)(void *, size_t))
{
    memset(s, 0, sizeof *s);
    s->realloc_fn = realloc_fn ? realloc_fn : realloc;
}

/* The home slot takes the low bits: FNV-1a mixes every byte into them. */
static uint32_t name_hash(const char *name)
{
    return (uint32_t)psu_hash_fnv1a64(PSU_HASH_FNV1A64_SEED, name, strlen(name));
}

/* The slot holding @name, or the free slot where it would go; cap > 0. */
static uint32_t probe(const struct pcd_portset *s, const char *name)
{
    uint32_t mask = s->cap - 1, i = name_hash(name) & mask;
    while (s->slots[i][0] && strcmp(s->slots[i], name) != 0)
        i = (i + 1) & mask;
    return i;
}

/* Double the table (64 slots at first); -1 with errno ENOMEM, the set unchanged. */
static int grow(struct pcd_portset *s)
{
    uint32_t cap = s->cap ? s->cap * 2 : 64;
    if (cap < s->cap) {
        errno = ENOMEM;
        return -1;
    }
    char(*slots)[IFNAMSIZ] = s->realloc_fn(NULL, (size_t)cap * IFNAMSIZ);
    if (!slots) {
        errno = ENOMEM;
        return -1;
    }
    memset(slots, 0, (size_t)cap * IFNAMSIZ);
    struct pcd_portset bigger = *s;
    bigger.slots = slots;
    bigger.cap = cap;
    for (uint32_t i = 0; i < s->cap; i++)
        if (s->slots[i][0])
            memcpy(slots[probe(&bigger, s->slots[i])], s->slots[i], IFNAMSIZ);
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return 0;
}

int pcd_portset_add(struct pcd_portset *s, const char *name)
{
    size_t len = strnlen(name, IFNAMSIZ);
    if (len == 0 || len >= IFNAMSIZ) {
        s->incomplete = 1;
        errno = EINVAL;
        return -1;
    }
    if (s->cap && s->slots[probe(s, name)][0])
        return 1;
    if ((uint64_t)(s->count + 1) * 2 > s->cap && grow(s) != 0) {
        s->incomplete = 1;
        return -1;
    }
    memcpy(s->slots[probe(s, name)], name, len + 1);
    s->count++;
    return 0;
}

int pcd_portset_del(struct pcd_portset *s, const char *name)
{
    if (!s->cap)
        return 0;
    uint32_t mask = s->cap - 1, i = probe(s, name);
    if (!s->slots[i][0])
        return 0;
    /* Backward shift: move up each later entry of the run that may sit in the hole. */
    for (uint32_t j = (i + 1) & mask; s->slots[j][0]; j = (j + 1) & mask) {
        uint32_t home = name_hash(s->slots[j]) & mask;
        /* j's entry stays if its home lies cyclically in (i, j]. */
        int stays = i < j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            memcpy(s->slots[i], s->slots[j], IFNAMSIZ);
            i = j;
        }
    }
    memset(s->slots[i], 0, IFNAMSIZ);
    s->count--;
    return 1;
}

int pcd_portset_has(const struct pcd_portset *s, const char *name)
{
    size_t len = strnlen(name, IFNAMSIZ);
    return len > 0 && len < IFNAMSIZ && s->cap && s->slots[probe(s, name)][0];
}

int pcd_portset_all_created(const struct pcd_portset *s)
{
    return !s->incomplete && s->count == 0;
}

void pcd_portset_free(struct pcd_portset *s)
{
    free(s->slots);
    s->slots = NULL;
    s->cap = s->count = 0;
    s->incomplete = 0;
}
