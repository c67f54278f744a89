/*
 * tests/unit/test_util.c - psutil (shm/util): the shared clock and hash.
 *
 * The hash is part of the segment format (the layout hash), so it is pinned to
 * the published FNV-1a test vectors: a change would make every reader refuse
 * every segment an older writer made.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "psu/clock.h"
#include "psu/hash.h"

Test(util, fnv1a64_matches_the_published_test_vectors)
{
    cr_assert_eq(psu_hash_fnv1a64(PSU_HASH_FNV1A64_SEED, "", 0), UINT64_C(0xcbf29ce484222325));
    cr_assert_eq(psu_hash_fnv1a64(PSU_HASH_FNV1A64_SEED, "a", 1), UINT64_C(0xaf63dc4c8601ec8c));
    cr_assert_eq(psu_hash_fnv1a64(PSU_HASH_FNV1A64_SEED, "foobar", 6),
                 UINT64_C(0x85944171f73967e8));
}

Test(util, fnv1a64_chains_pieces_into_the_hash_of_their_concatenation)
{
    uint64_t h = psu_hash_fnv1a64(PSU_HASH_FNV1A64_SEED, "foo", 3);
    cr_assert_eq(psu_hash_fnv1a64(h, "bar", 3),
                 psu_hash_fnv1a64(PSU_HASH_FNV1A64_SEED, "foobar", 6));
}

Test(util, fnv1a64_of_nothing_is_its_seed)
{
    cr_assert_eq(psu_hash_fnv1a64(42, NULL, 0), 42);
}

Test(util, clocks_are_the_kernels_in_nanoseconds)
{
    struct timespec m, b, r;
    clock_gettime(CLOCK_MONOTONIC, &m);
    uint64_t mono = psu_clock_mono_ns();
    clock_gettime(CLOCK_BOOTTIME, &b);
    uint64_t boot = psu_clock_boot_ns();
    clock_gettime(CLOCK_REALTIME, &r);
    uint64_t real = psu_clock_real_ns();
    /* Each helper reads after its reference: not before it, and within a second. */
    const uint64_t s = 1000000000u;
    uint64_t m0 = (uint64_t)m.tv_sec * s + (uint64_t)m.tv_nsec;
    uint64_t b0 = (uint64_t)b.tv_sec * s + (uint64_t)b.tv_nsec;
    uint64_t r0 = (uint64_t)r.tv_sec * s + (uint64_t)r.tv_nsec;
    cr_assert(mono >= m0 && mono - m0 < s, "mono %llu vs %llu", (unsigned long long)mono,
              (unsigned long long)m0);
    cr_assert(boot >= b0 && boot - b0 < s, "boot %llu vs %llu", (unsigned long long)boot,
              (unsigned long long)b0);
    cr_assert(real >= r0 && real - r0 < s, "real %llu vs %llu", (unsigned long long)real,
              (unsigned long long)r0);
}

Test(util, boottime_counts_at_least_what_monotonic_does)
{
    /* Boottime adds suspended time to monotonic; it is never behind it. */
    uint64_t mono = psu_clock_mono_ns();
    cr_assert_geq(psu_clock_boot_ns(), mono);
}

Test(util, monotonic_never_goes_back)
{
    uint64_t prev = psu_clock_mono_ns();
    for (int i = 0; i < 100000; i++) {
        uint64_t now = psu_clock_mono_ns();
        cr_assert_geq(now, prev);
        prev = now;
    }
}

Test(util, a_monotonic_deadline_is_normalised_and_ahead_by_what_was_asked)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    struct timespec d = psu_clock_mono_deadline(1500000000u);
    cr_assert(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L, "tv_nsec %ld", d.tv_nsec);
    int64_t ahead = ((int64_t)d.tv_sec - now.tv_sec) * 1000000000 + (d.tv_nsec - now.tv_nsec);
    cr_assert(ahead >= 1500000000 && ahead < 2500000000, "%lld ns ahead", (long long)ahead);
}
