/*
 * psu/hash.h - FNV-1a, the one non-cryptographic hash of portsyncd.
 *
 * 64-bit FNV-1a: for each byte, h ^= byte, then h *= prime. Small, no tables,
 * good enough spread for hash tables of names and for fingerprints such as the
 * segment's layout hash (which must never change: readers compare it with their
 * own, so its algorithm and seed are part of the format).
 *
 * It is not keyed: whoever chooses the input can make collisions. Use it where
 * the keys are our own, or where a collision costs a bounded extra comparison.
 */
#ifndef PSU_HASH_H
#define PSU_HASH_H

#include <stddef.h>
#include <stdint.h>

/* The FNV-1a 64-bit offset basis: the seed of a hash that starts from nothing. */
#define PSU_HASH_FNV1A64_SEED UINT64_C(0xcbf29ce484222325)
/* The FNV 64-bit prime. */
#define PSU_HASH_FNV1A64_PRIME UINT64_C(0x100000001b3)

/**
 * psu_hash_fnv1a64 - FNV-1a over @len bytes, continuing from @seed
 * @seed: PSU_HASH_FNV1A64_SEED for a fresh hash, or a previous result to chain
 *        several pieces into one hash
 * @data: the bytes (may be NULL when @len is 0)
 * @len: their count
 *
 * Returns the 64-bit hash; it cannot fail.
 */
static inline uint64_t psu_hash_fnv1a64(uint64_t seed, const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= PSU_HASH_FNV1A64_PRIME;
    }
    return h;
}

#endif
