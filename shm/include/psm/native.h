/*
 * psm/native.h - the exponential buckets of Prometheus native histograms: which
 * bucket a value falls in, and where a bucket ends.
 *
 * At schema s (PSM_NATIVE_SCHEMA_MIN..MAX, -4..8) the buckets grow by the factor
 * base = 2^(2^-s). Bucket i holds the values in (base^(i-1), base^i]: the upper
 * bound is inclusive, as Prometheus defines it, so 1 is the upper bound of
 * bucket 0 and a power of two is the upper bound of a bucket at every schema
 * >= 0. Indices are negative below 1.
 *
 * The index is computed from the bits of the double, without libm and without
 * a search, so that it can run on the writer's hot path:
 *
 *   v = (1 + m / 2^52) * 2^(E - 1023)        E: 11-bit exponent, m: 52-bit mantissa
 *
 *   63 62        52 51                                        0
 *   +-+------------+------------------------------------------+
 *   |0|     E      |                    m                     |
 *   +-+------------+------------------------------------------+
 *                   \__ cell: the top (fine + 1) bits of m
 *
 * With fine = max(s, 0), each power of two [2^k, 2^(k+1)) is split at the
 * 2^fine boundaries 2^(k + j/2^fine), j = 0..2^fine-1; in mantissa terms at the
 * same thresholds thr[j] for every k. The number j of thresholds below m is
 * the bucket within the power of two. Neighbouring thresholds are more than
 * 2^-(fine+1) apart (2^(1/2^f) - 1 > ln 2 / 2^f > 1/2^(f+1)), so a cell of that
 * width holds at most one of them: cell[] gives the count below the cell's
 * start and one comparison settles the cell, j = cell[c] + (m > thr[cell[c]]).
 * Then pos = E * 2^fine + j is the fine index shifted by 1023 * 2^fine; at
 * negative schemas (coarse = -s > 0) 2^coarse fine indices make one bucket,
 * and the index is the fine index divided by 2^coarse, rounded up (the upper
 * bound is inclusive). Both come out of one expression with per-schema
 * constants: index = ((pos + round) >> coarse) - base.
 *
 * The boundaries are Prometheus's own (its exponentialBounds table, which
 * client_golang's nativeHistogramBounds repeats) wherever they coincide with a
 * schema 3 boundary, so that a value lying exactly on a boundary lands in the
 * bucket Prometheus shows it in; see native.c.
 */
#ifndef PSM_NATIVE_H
#define PSM_NATIVE_H

#include <stdint.h>
#include <string.h>

#define PSM_NATIVE_SCHEMA_MIN (-4)
#define PSM_NATIVE_SCHEMA_MAX 8
/* The schema psm_metric_spec.native asks for when native_schema is 0 is not a
 * default: 0 is a schema. This is the one the project uses (FORMAT.md says why). */
#define PSM_NATIVE_SCHEMA_DEFAULT 3

/* The per-schema constants and tables of the index computation (see above). */
struct psm_native_map {
    int8_t schema;
    uint8_t fine;       /* max(schema, 0) */
    uint8_t coarse;     /* max(-schema, 0) */
    uint8_t cell_shift; /* 52 - (fine + 1): m >> cell_shift is m's cell */
    int32_t round;      /* index = ((pos + round) >> coarse) - base */
    int32_t base;
    const uint16_t *cell; /* 2^(fine+1) cells: thresholds strictly below the cell's start */
    const uint64_t *thr;  /* 2^fine thresholds (thr[0] = 0), then UINT64_MAX */
    const double *frac;   /* the 2^fine boundaries in [0.5, 1): 2^(j / 2^fine - 1) */
};

/**
 * psm_native_map_get - the index tables of a schema
 * @schema: PSM_NATIVE_SCHEMA_MIN..PSM_NATIVE_SCHEMA_MAX
 *
 * The tables are built once per process, on first use, and never change.
 * Returns the map, or NULL for a schema outside the range.
 */
const struct psm_native_map *psm_native_map_get(int schema);

/**
 * psm_native_index_bits - the bucket index of a positive normal double
 * @m: the schema's map (psm_native_map_get())
 * @u: the bits of v, 0 < v < +Inf and not subnormal
 *
 * The hot-path form: no call, no branch, two table reads. For +Inf and NaN
 * (exponent bits all ones) it returns an index no lower than that of any
 * finite value, which callers that clamp to a range of buckets rely on.
 */
static inline int32_t psm_native_index_bits(const struct psm_native_map *m, uint64_t u)
{
    uint64_t mant = u & ((UINT64_C(1) << 52) - 1);
    uint32_t e = (uint32_t)(u >> 52) & 0x7ffu;
    uint32_t b = m->cell[mant >> m->cell_shift];
    uint32_t j = b + (mant > m->thr[b]);
    int32_t pos = (int32_t)((e << m->fine) + j);
    return ((pos + m->round) >> m->coarse) - m->base;
}

/**
 * psm_native_index - the index of the bucket holding @v
 * @schema: PSM_NATIVE_SCHEMA_MIN..PSM_NATIVE_SCHEMA_MAX
 * @v: a value > 0 (subnormals included); +Inf gives the overflow index one
 *     above the bucket of DBL_MAX, as Prometheus numbers it
 *
 * Returns the index, or INT32_MIN for @v <= 0, NaN or an invalid schema.
 */
int32_t psm_native_index(int schema, double v);

/**
 * psm_native_bound - the upper bound of bucket @index, base^index
 * @schema: PSM_NATIVE_SCHEMA_MIN..PSM_NATIVE_SCHEMA_MAX
 * @index: the bucket
 *
 * The bound is exactly the double psm_native_index() compares with, so
 * psm_native_index(s, psm_native_bound(s, i)) == i. As in Prometheus, the
 * bucket whose upper bound would be 2^1024 ends at DBL_MAX, the one above it
 * at +Inf, and bounds below the smallest double are 0.
 * Returns the bound, or NaN for an invalid schema.
 */
double psm_native_bound(int schema, int32_t index);

#endif
