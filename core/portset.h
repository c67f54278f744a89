/*
 * core/portset.h - the "not yet created" set: CONFIG_DB ports still waiting for
 * their netdev. PortInitDone is written once no port waits, so a name the set
 * failed to hold must never count as created: a failed insert is reported to
 * the caller and leaves the set incomplete until it is rebuilt.
 *
 * Names are netdev names (1..IFNAMSIZ-1 bytes), stored inline in an
 * open-addressing table, so an insert allocates only when the table grows.
 * The APPL_DB view (portview.c) keeps its PORT_TABLE names in one too.
 */
#ifndef PCD_PORTSET_H
#define PCD_PORTSET_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

struct pcd_portset {
    char (*slots)[IFNAMSIZ];             /* "" is a free slot */
    uint32_t cap;                        /* 0 or a power of two */
    uint32_t count;                      /* names held */
    int incomplete;                      /* an insert failed since the last pcd_portset_init() */
    void *(*realloc_fn)(void *, size_t); /* realloc; tests inject failures */
};

/**
 * pcd_portset_init - an empty, complete set
 * @s: the set (its previous memory, if any, must have been freed)
 * @realloc_fn: the allocator (NULL: realloc); tests pass one that fails
 */
void pcd_portset_init(struct pcd_portset *s, void *(*realloc_fn)(void *, size_t));

/**
 * pcd_portset_add - remember @name as waiting for its netdev
 * @s: the set
 * @name: the port, 1 to IFNAMSIZ-1 bytes
 *
 * Returns 0 if added, 1 if it was already there, or -1 with errno ENOMEM (the
 * table could not grow) or EINVAL (an empty or too long name). After a failure
 * the set is incomplete: pcd_portset_all_created() stays 0 until the caller
 * rebuilds it (pcd_portset_free() and pcd_portset_init()).
 */
int pcd_portset_add(struct pcd_portset *s, const char *name);

/**
 * pcd_portset_del - @name has its netdev (or will never get one)
 * @s: the set
 * @name: the port
 * Returns 1 if @name was waiting, 0 if not.
 */
int pcd_portset_del(struct pcd_portset *s, const char *name);

/**
 * pcd_portset_has - is @name in the set?
 * @s: the set
 * @name: the port (an empty or too long name is never there)
 * Returns 1 or 0.
 */
int pcd_portset_has(const struct pcd_portset *s, const char *name);

/**
 * pcd_portset_all_created - may PortInitDone be written?
 * @s: the set
 * Returns 1 when every insert succeeded and no port is waiting, else 0.
 */
int pcd_portset_all_created(const struct pcd_portset *s);

/** pcd_portset_free - release the set's memory; it is empty and complete afterwards */
void pcd_portset_free(struct pcd_portset *s);

#endif
