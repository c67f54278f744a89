/*
 * shm/native.c - the tables behind psm/native.h: bucket boundaries of every
 * schema, the mantissa thresholds and cells of the index computation, and the
 * slow-path index and bound functions.
 *
 * Which doubles are the boundaries matters only for a value lying exactly on
 * one, but there it decides the bucket, and the reader of the histogram
 * (Prometheus) computes bucket bounds from its own table. The exact value
 * 2^(j/8 - 1) rounded to nearest differs from Prometheus's in the last bit
 * for j = 4, 6 and 7 (0.7071067811865476 against Prometheus's
 * 0.7071067811865475, and so on). Schema 3 therefore uses Prometheus's eight
 * numbers, and every schema takes them wherever its boundary is a schema 3
 * boundary: schemas 0..3 are all Prometheus's, schemas 4..8 at every
 * 2^(s-3)-th position. The other boundaries of schemas 4..8 are 2^(j/2^s - 1)
 * computed in long double and rounded to double; where that differs from
 * Prometheus's table in the last bit, a value lying exactly on such a boundary
 * is counted one bucket away from where Prometheus would show it.
 */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "psm/native.h"

/*
 * Prometheus's bucket boundaries at schema 3 in [0.5, 1), as its
 * model/histogram exponentialBounds table (and client_golang's
 * nativeHistogramBounds) has them: interoperability data, like a field number.
 */
static const double prom_schema3[8] = {
    0.5,
    0.5452538663326288,
    0.5946035575013605,
    0.6484197773255048,
    0.7071067811865475,
    0.7711054127039704,
    0.8408964152537144,
    0.9170040432046711,
};

#define FINE_MAX  8
#define MANT_MASK ((UINT64_C(1) << 52) - 1)

/* Tables of fine 0..8 back to back: 2^f boundaries, 2^f + 1 thresholds, 2^(f+1) cells. */
static double frac_all[(2u << FINE_MAX) - 1];
static uint64_t thr_all[(2u << FINE_MAX) - 1 + FINE_MAX + 1];
static uint16_t cell_all[(4u << FINE_MAX) - 2];
static struct psm_native_map maps[PSM_NATIVE_SCHEMA_MAX - PSM_NATIVE_SCHEMA_MIN + 1];
static pthread_once_t maps_once = PTHREAD_ONCE_INIT;

static uint64_t bits_of(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static void maps_build(void)
{
    const double *frac_of[FINE_MAX + 1];
    const uint64_t *thr_of[FINE_MAX + 1];
    const uint16_t *cell_of[FINE_MAX + 1];
    size_t fo = 0, to = 0, co = 0;
    for (unsigned f = 0; f <= FINE_MAX; f++) {
        unsigned k = 1u << f, cells = 2u << f, shift = 52 - (f + 1);
        double *frac = frac_all + fo;
        uint64_t *thr = thr_all + to;
        uint16_t *cell = cell_all + co;
        for (unsigned j = 0; j < k; j++) {
            if (f <= 3)
                frac[j] = prom_schema3[j << (3 - f)];
            else if (j % (1u << (f - 3)) == 0)
                frac[j] = prom_schema3[j >> (f - 3)];
            else
                frac[j] = (double)exp2l((long double)j / (long double)k - 1.0L);
            /* frac in [0.5, 1): its mantissa is the threshold for values in [1, 2). */
            thr[j] = bits_of(frac[j]) & MANT_MASK;
        }
        thr[k] = UINT64_MAX;
        for (unsigned c = 0, below = 0; c < cells; c++) {
            while (below < k && thr[below] < ((uint64_t)c << shift))
                below++;
            cell[c] = (uint16_t)below;
        }
        frac_of[f] = frac;
        thr_of[f] = thr;
        cell_of[f] = cell;
        fo += k;
        to += k + 1;
        co += cells;
    }
    for (int s = PSM_NATIVE_SCHEMA_MIN; s <= PSM_NATIVE_SCHEMA_MAX; s++) {
        struct psm_native_map *m = &maps[s - PSM_NATIVE_SCHEMA_MIN];
        unsigned f = s > 0 ? (unsigned)s : 0, c = s < 0 ? (unsigned)-s : 0;
        m->schema = (int8_t)s;
        m->fine = (uint8_t)f;
        m->coarse = (uint8_t)c;
        m->cell_shift = (uint8_t)(52 - (f + 1));
        /*
         * pos = E * 2^f + j. At f > 0 the index is pos - 1023 * 2^f. At f = 0 it
         * is ceil((pos - 1023) / 2^c) = ((pos + 2^c) >> c) - 1024 / 2^c, which
         * keeps the shifted value non-negative (1024 is a multiple of 2^c).
         */
        m->round = f ? 0 : (int32_t)(1u << c);
        m->base = f ? (int32_t)(1023u << f) : (int32_t)(1024u >> c);
        m->cell = cell_of[f];
        m->thr = thr_of[f];
        m->frac = frac_of[f];
    }
}

const struct psm_native_map *psm_native_map_get(int schema)
{
    if (schema < PSM_NATIVE_SCHEMA_MIN || schema > PSM_NATIVE_SCHEMA_MAX)
        return NULL;
    pthread_once(&maps_once, maps_build);
    return &maps[schema - PSM_NATIVE_SCHEMA_MIN];
}

int32_t psm_native_index(int schema, double v)
{
    const struct psm_native_map *m = psm_native_map_get(schema);
    if (!m || !(v > 0))
        return INT32_MIN;
    if (isinf(v))
        return psm_native_index_bits(m, bits_of(DBL_MAX)) + 1;
    if (v >= DBL_MIN)
        return psm_native_index_bits(m, bits_of(v));
    /*
     * Subnormal: scaling by 2^64 is exact and moves the fine index by 64 * 2^f,
     * which at negative schemas is 64 / 2^c whole buckets (c <= 4).
     */
    int32_t shifted = psm_native_index_bits(m, bits_of(v * 0x1p64));
    return shifted - (m->fine ? (64 << m->fine) : (64 >> m->coarse));
}

double psm_native_bound(int schema, int32_t index)
{
    const struct psm_native_map *m = psm_native_map_get(schema);
    if (!m)
        return NAN;
    if (m->fine) {
        /* index = j + (e - 1) * 2^f with 0 <= j < 2^f: the bound is frac[j] * 2^e. */
        uint32_t j = (uint32_t)index & ((1u << m->fine) - 1);
        int64_t e = ((int64_t)index - j) / (1 << m->fine) + 1;
        if (j == 0 && e == 1025)
            return DBL_MAX;
        return e > 1025 ? INFINITY : ldexp(m->frac[j], (int)(e < -1100 ? -1100 : e));
    }
    /* The bound is 2^(index * 2^c). */
    int64_t e = (int64_t)index * (1 << m->coarse);
    if (e == 1024)
        return DBL_MAX;
    return e > 1024 ? INFINITY : ldexp(1.0, (int)(e < -1100 ? -1100 : e));
}
