/*
 * core/portset.h - the "not yet created" set: CONFIG_DB ports still waiting for
 * their netdev. PortInitDone is written once it is empty, so a name it fails to
 * hold would announce PortInitDone early.
 */
#ifndef PCD_PORTSET_H
#define PCD_PORTSET_H

#include <stddef.h>
#include <stdint.h>

struct pcd_portset {
    char **names;
    uint32_t n, cap;
    void *(*realloc_fn)(void *, size_t); /* realloc; tests inject failures */
};

/**
 * pcd_portset_init - an empty set
 * @s: the set
 * @realloc_fn: the allocator (NULL: realloc); tests pass one that fails
 */
void pcd_portset_init(struct pcd_portset *s, void *(*realloc_fn)(void *, size_t));

/**
 * pcd_portset_add - remember @name as waiting for its netdev
 * @s: the set
 * @name: the port
 */
void pcd_portset_add(struct pcd_portset *s, const char *name);

/**
 * pcd_portset_del - @name has its netdev (or will never get one)
 * @s: the set
 * @name: the port
 */
void pcd_portset_del(struct pcd_portset *s, const char *name);

/**
 * pcd_portset_all_created - may PortInitDone be written?
 * @s: the set
 * Returns 1 when no port is waiting, else 0.
 */
int pcd_portset_all_created(const struct pcd_portset *s);

/** pcd_portset_free - release the set's memory; it is empty afterwards */
void pcd_portset_free(struct pcd_portset *s);

#endif
