/*
 * tests/unit/test_native.c - the exponential bucket index of native histograms
 * (psm/native.h): bucket (base^(i-1), base^i], upper bound inclusive, with the
 * boundaries Prometheus itself uses.
 *
 * The oracles are independent of the bit tricks under test: powers of two and
 * the integer arithmetic of negative schemas, Prometheus's schema 3
 * boundaries written out here, and frexp() with a binary search (the way
 * client_golang computes an index) for random doubles.
 */
#include <float.h>
#include <math.h>
#include <string.h>
#include <stdint.h>

#include "psm/native.h"
#include "testutil.h"

TestSuite(native, .timeout = 60);

/* Prometheus's boundaries in [0.5, 1) at schema 3 (its exponentialBounds row). */
static const double prom3[8] = {0.5,
                                0.5452538663326288,
                                0.5946035575013605,
                                0.6484197773255048,
                                0.7071067811865475,
                                0.7711054127039704,
                                0.8408964152537144,
                                0.9170040432046711};

/* ceil(a / 2^n) in plain integer arithmetic. */
static int32_t ceil_div_pow2(int32_t a, unsigned n)
{
    int32_t d = 1 << n, q = a / d;
    return q + (a % d > 0);
}

Test(native, exact_powers_of_two_land_in_the_bucket_they_close)
{
    for (int s = PSM_NATIVE_SCHEMA_MIN; s <= PSM_NATIVE_SCHEMA_MAX; s++)
        for (int k = -60; k <= 60; k++) {
            int32_t want = s >= 0 ? k * (1 << s) : ceil_div_pow2(k, (unsigned)-s);
            cr_assert_eq(psm_native_index(s, ldexp(1, k)), want, "schema %d, 2^%d", s, k);
        }
}

Test(native, one_closes_bucket_zero_at_every_schema)
{
    for (int s = PSM_NATIVE_SCHEMA_MIN; s <= PSM_NATIVE_SCHEMA_MAX; s++) {
        cr_assert_eq(psm_native_index(s, 1.0), 0, "schema %d", s);
        cr_assert_eq(psm_native_index(s, nextafter(1.0, 2)), 1, "schema %d", s);
        cr_assert_eq(psm_native_bound(s, 0), 1.0, "schema %d", s);
    }
}

Test(native, prometheus_schema3_boundaries_and_their_neighbours)
{
    for (int e = -40; e <= 40; e++)
        for (int j = 0; j < 8; j++) {
            double b = ldexp(prom3[j], e);
            int32_t i = j + (e - 1) * 8;
            cr_assert_eq(psm_native_index(3, b), i, "%a (j %d, e %d) is the bound of %d", b, j, e,
                         i);
            cr_assert_eq(psm_native_index(3, nextafter(b, 0)), i, "just below %a", b);
            cr_assert_eq(psm_native_index(3, nextafter(b, INFINITY)), i + 1, "just above %a", b);
            cr_assert_eq(psm_native_bound(3, i), b, "bound of %d", i);
        }
}

Test(native, the_notes_worked_examples_at_schema3)
{
    /* Values checked against a real Prometheus 2.42 (notes/prom-research.md, section 3). */
    cr_assert_eq(psm_native_index(3, 1.0), 0);
    cr_assert_eq(psm_native_index(3, 1.5), 5);
    cr_assert_eq(psm_native_index(3, 2.0), 8);
    cr_assert_eq(psm_native_index(3, 3.0), 13);
    cr_assert_eq(psm_native_index(3, 100), 54);
    cr_assert_eq(psm_native_index(3, 0.5), -8);
    cr_assert_eq(psm_native_index(3, 0.001), -79);
}

/* client_golang's way: frexp, then the first boundary >= frac (a binary search). */
static int32_t reference_index(int s, double v)
{
    int e;
    double frac = frexp(v, &e);
    if (s <= 0) {
        int key = frac == 0.5 ? e - 1 : e;
        return ceil_div_pow2(key, (unsigned)-s);
    }
    const double *b = psm_native_map_get(s)->frac;
    unsigned lo = 0, hi = 1u << s;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (b[mid] >= frac)
            hi = mid;
        else
            lo = mid + 1;
    }
    return (int32_t)lo + (e - 1) * (1 << s);
}

Test(native, random_doubles_agree_with_frexp_and_a_binary_search)
{
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int s = PSM_NATIVE_SCHEMA_MIN; s <= PSM_NATIVE_SCHEMA_MAX; s++)
        for (int n = 0; n < 200000; n++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            double v = psm_bits_f64(x & ~(UINT64_C(1) << 63)); /* positive */
            if (!isfinite(v) || v == 0)
                continue;
            cr_assert_eq(psm_native_index(s, v), reference_index(s, v), "schema %d, %a", s, v);
        }
}

/*
 * The boundaries of schemas 4..8 that are not schema 3's come from a table
 * (shm/native.c: no libm at run time). They must be what exp2l gives, rounded
 * to double, bit for bit: 2^(j/2^s) = 2 * 2^(j/2^s - 1) bounds bucket j.
 */
Test(native, the_finer_schemas_bounds_are_exp2l_s_bit_for_bit)
{
    for (int s = 4; s <= PSM_NATIVE_SCHEMA_MAX; s++) {
        int32_t k = 1 << s;
        for (int32_t j = 1; j < k; j++) {
            if (j % (1 << (s - 3)) == 0)
                continue; /* Prometheus's schema 3 numbers (the test above) */
            double want = 2 * (double)exp2l((long double)j / (long double)k - 1.0L);
            double got = psm_native_bound(s, j);
            cr_assert(memcmp(&got, &want, sizeof got) == 0, "schema %d, j %d: %a, exp2l %a", s, j,
                      got, want);
        }
    }
}

Test(native, every_bound_is_the_last_value_of_its_bucket)
{
    for (int s = PSM_NATIVE_SCHEMA_MIN; s <= PSM_NATIVE_SCHEMA_MAX; s++) {
        int32_t span = 40 * (s > 0 ? 1 << s : 1);
        for (int32_t i = -span; i <= span; i++) {
            double b = psm_native_bound(s, i);
            cr_assert_eq(psm_native_index(s, b), i, "schema %d: bound %a of %d", s, b, i);
            cr_assert_eq(psm_native_index(s, nextafter(b, INFINITY)), i + 1, "schema %d: %d", s, i);
        }
    }
}

Test(native, each_cell_of_the_lookup_holds_at_most_one_threshold)
{
    for (int s = 0; s <= PSM_NATIVE_SCHEMA_MAX; s++) {
        const struct psm_native_map *m = psm_native_map_get(s);
        unsigned k = 1u << m->fine;
        for (unsigned j = 1; j < k; j++)
            cr_assert_neq(m->thr[j] >> m->cell_shift, m->thr[j - 1] >> m->cell_shift,
                          "schema %d: thresholds %u and %u share a cell", s, j - 1, j);
    }
}

Test(native, schemas_outside_minus4_to_8_are_refused)
{
    cr_assert_null(psm_native_map_get(-5));
    cr_assert_null(psm_native_map_get(9));
    cr_assert_eq(psm_native_index(9, 1.0), INT32_MIN);
    cr_assert(isnan(psm_native_bound(-5, 0)));
    cr_assert_not_null(psm_native_map_get(-4));
    cr_assert_not_null(psm_native_map_get(8));
}

Test(native, schema_minus4_buckets_span_a_factor_of_65536)
{
    cr_assert_eq(psm_native_index(-4, 65536), 1);
    cr_assert_eq(psm_native_index(-4, nextafter(65536, 0)), 1);
    cr_assert_eq(psm_native_index(-4, nextafter(65536, INFINITY)), 2);
    cr_assert_eq(psm_native_index(-4, 1.0 / 65536), -1);
    cr_assert_eq(psm_native_index(-4, nextafter(1.0 / 65536, 1)), 0);
    cr_assert_eq(psm_native_bound(-4, 2), 4294967296.0);
}

Test(native, schema8_splits_a_power_of_two_into_256)
{
    cr_assert_eq(psm_native_index(8, 2.0), 256);
    cr_assert_eq(psm_native_index(8, nextafter(1.0, 2)), 1);
    cr_assert_eq(psm_native_index(8, nextafter(2.0, 0)), 256);
    double b1 = psm_native_bound(8, 1);
    cr_assert(b1 > 1.0027 && b1 < 1.0028, "2^(1/256) is %.17g", b1);
}

Test(native, extremes_follow_prometheus)
{
    for (int s = 0; s <= PSM_NATIVE_SCHEMA_MAX; s++) {
        int32_t top = 1024 * (1 << s);
        cr_assert_eq(psm_native_index(s, DBL_MAX), top, "schema %d", s);
        cr_assert_eq(psm_native_bound(s, top), DBL_MAX, "schema %d", s);
        cr_assert_eq(psm_native_index(s, INFINITY), top + 1, "schema %d: +Inf overflow", s);
        cr_assert_eq(psm_native_bound(s, top + 1), INFINITY, "schema %d", s);
        cr_assert_eq(psm_native_index(s, 0x1p-1074), -1074 * (1 << s), "schema %d", s);
        cr_assert_eq(psm_native_index(s, 0x1p-1050 * 1.5), reference_index(s, 0x1p-1050 * 1.5),
                     "schema %d: subnormal", s);
    }
    cr_assert_eq(psm_native_index(-2, DBL_MAX), 256);
    cr_assert_eq(psm_native_bound(-2, 256), DBL_MAX);
}

Test(native, zero_negative_and_nan_have_no_index)
{
    cr_assert_eq(psm_native_index(3, 0.0), INT32_MIN);
    cr_assert_eq(psm_native_index(3, -0.0), INT32_MIN);
    cr_assert_eq(psm_native_index(3, -1.0), INT32_MIN);
    cr_assert_eq(psm_native_index(3, -INFINITY), INT32_MIN);
    cr_assert_eq(psm_native_index(3, NAN), INT32_MIN);
}
