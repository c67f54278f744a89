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
 * computed in long double and rounded to double (exp2_frac8); where that differs from
 * Prometheus's table in the last bit, a value lying exactly on such a boundary
 * is counted one bucket away from where Prometheus would show it.
 */
#include <float.h>
#include <math.h> /* INFINITY, ldexp (which libc has: no libm) */
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

/*
 * 2^(j/256 - 1) for j = 0..255, computed with exp2l (long double) and rounded
 * to double: the boundaries of schema 8, and of schema s = 4..7 at every
 * 2^(8-s)-th position (j/2^s is (j << (8-s))/256 exactly, so exp2l gives the
 * same double). A table rather than exp2l at run time, so that portsyncd and
 * the exporter need not map libm (about 350 kB resident, with the kernel's
 * fault-around) for one function; unit.native checks every entry against
 * exp2l. Entries at multiples of 32 are schema 3's and unused: those are
 * Prometheus's numbers (prom_schema3).
 */
/* clang-format off */
static const double exp2_frac8[256] = {
    0x1p-1, 0x1.00b1afa5abcbfp-1, 0x1.0163da9fb3335p-1, 0x1.02168143b0281p-1,
    0x1.02c9a3e778061p-1, 0x1.037d42e11bbccp-1, 0x1.04315e86e7f85p-1, 0x1.04e5f72f654b1p-1,
    0x1.059b0d3158574p-1, 0x1.0650a0e3c1f89p-1, 0x1.0706b29ddf6dep-1, 0x1.07bd42b72a836p-1,
    0x1.0874518759bc8p-1, 0x1.092bdf66607ep-1, 0x1.09e3ecac6f383p-1, 0x1.0a9c79b1f3919p-1,
    0x1.0b5586cf9890fp-1, 0x1.0c0f145e46c85p-1, 0x1.0cc922b7247f7p-1, 0x1.0d83b23395decp-1,
    0x1.0e3ec32d3d1a2p-1, 0x1.0efa55fdfa9c5p-1, 0x1.0fb66affed31bp-1, 0x1.1073028d7233ep-1,
    0x1.11301d0125b51p-1, 0x1.11edbab5e2ab6p-1, 0x1.12abdc06c31ccp-1, 0x1.136a814f204abp-1,
    0x1.1429aaea92dep-1, 0x1.14e95934f312ep-1, 0x1.15a98c8a58e51p-1, 0x1.166a45471c3c2p-1,
    0x1.172b83c7d517bp-1, 0x1.17ed48695bbcp-1, 0x1.18af9388c8deap-1, 0x1.1972658375d2fp-1,
    0x1.1a35beb6fcb75p-1, 0x1.1af99f8138a1cp-1, 0x1.1bbe084045cd4p-1, 0x1.1c82f95281c6bp-1,
    0x1.1d4873168b9aap-1, 0x1.1e0e75eb44027p-1, 0x1.1ed5022fcd91dp-1, 0x1.1f9c18438ce4dp-1,
    0x1.2063b88628cd6p-1, 0x1.212be3578a819p-1, 0x1.21f49917ddc96p-1, 0x1.22bdda27912d1p-1,
    0x1.2387a6e756238p-1, 0x1.2451ffb82140ap-1, 0x1.251ce4fb2a63fp-1, 0x1.25e85711ece75p-1,
    0x1.26b4565e27cddp-1, 0x1.2780e341ddf29p-1, 0x1.284dfe1f56381p-1, 0x1.291ba7591bb7p-1,
    0x1.29e9df51fdee1p-1, 0x1.2ab8a66d10f13p-1, 0x1.2b87fd0dad99p-1, 0x1.2c57e39771b2fp-1,
    0x1.2d285a6e4030bp-1, 0x1.2df961f641589p-1, 0x1.2ecafa93e2f56p-1, 0x1.2f9d24abd886bp-1,
    0x1.306fe0a31b715p-1, 0x1.31432edeeb2fdp-1, 0x1.32170fc4cd831p-1, 0x1.32eb83ba8ea32p-1,
    0x1.33c08b26416ffp-1, 0x1.3496266e3fa2dp-1, 0x1.356c55f929ff1p-1, 0x1.36431a2de883bp-1,
    0x1.371a7373aa9cbp-1, 0x1.37f26231e754ap-1, 0x1.38cae6d05d866p-1, 0x1.39a401b7140efp-1,
    0x1.3a7db34e59ff7p-1, 0x1.3b57fbfec6cf4p-1, 0x1.3c32dc313a8e5p-1, 0x1.3d0e544ede173p-1,
    0x1.3dea64c123422p-1, 0x1.3ec70df1c5175p-1, 0x1.3fa4504ac801cp-1, 0x1.40822c367a024p-1,
    0x1.4160a21f72e2ap-1, 0x1.423fb2709468ap-1, 0x1.431f5d950a897p-1, 0x1.43ffa3f84b9d4p-1,
    0x1.44e086061892dp-1, 0x1.45c2042a7d232p-1, 0x1.46a41ed1d0057p-1, 0x1.4786d668b3237p-1,
    0x1.486a2b5c13cdp-1, 0x1.494e1e192aed2p-1, 0x1.4a32af0d7d3dep-1, 0x1.4b17dea6db7d7p-1,
    0x1.4bfdad5362a27p-1, 0x1.4ce41b817c114p-1, 0x1.4dcb299fddd0dp-1, 0x1.4eb2d81d8abffp-1,
    0x1.4f9b2769d2ca7p-1, 0x1.508417f4531eep-1, 0x1.516daa2cf6642p-1, 0x1.5257de83f4eefp-1,
    0x1.5342b569d4f82p-1, 0x1.542e2f4f6ad27p-1, 0x1.551a4ca5d920fp-1, 0x1.56070dde910d2p-1,
    0x1.56f4736b527dap-1, 0x1.57e27dbe2c4cfp-1, 0x1.58d12d497c7fdp-1, 0x1.59c0827ff07ccp-1,
    0x1.5ab07dd485429p-1, 0x1.5ba11fba87a03p-1, 0x1.5c9268a5946b7p-1, 0x1.5d84590998b93p-1,
    0x1.5e76f15ad2148p-1, 0x1.5f6a320dceb71p-1, 0x1.605e1b976dc09p-1, 0x1.6152ae6cdf6f4p-1,
    0x1.6247eb03a5585p-1, 0x1.633dd1d1929fdp-1, 0x1.6434634ccc32p-1, 0x1.652b9febc8fb7p-1,
    0x1.6623882552225p-1, 0x1.671c1c70833f6p-1, 0x1.68155d44ca973p-1, 0x1.690f4b19e9538p-1,
    0x1.6a09e667f3bcdp-1, 0x1.6b052fa75173ep-1, 0x1.6c012750bdabfp-1, 0x1.6cfdcddd47645p-1,
    0x1.6dfb23c651a2fp-1, 0x1.6ef9298593ae5p-1, 0x1.6ff7df9519484p-1, 0x1.70f7466f42e87p-1,
    0x1.71f75e8ec5f74p-1, 0x1.72f8286ead08ap-1, 0x1.73f9a48a58174p-1, 0x1.74fbd35d7cbfdp-1,
    0x1.75feb564267c9p-1, 0x1.77024b1ab6e09p-1, 0x1.780694fde5d3fp-1, 0x1.790b938ac1cf6p-1,
    0x1.7a11473eb0187p-1, 0x1.7b17b0976cfdbp-1, 0x1.7c1ed0130c132p-1, 0x1.7d26a62ff86fp-1,
    0x1.7e2f336cf4e62p-1, 0x1.7f3878491c491p-1, 0x1.80427543e1a12p-1, 0x1.814d2add106d9p-1,
    0x1.82589994cce13p-1, 0x1.8364c1eb941f7p-1, 0x1.8471a4623c7adp-1, 0x1.857f4179f5b21p-1,
    0x1.868d99b4492edp-1, 0x1.879cad931a436p-1, 0x1.88ac7d98a6699p-1, 0x1.89bd0a478580fp-1,
    0x1.8ace5422aa0dbp-1, 0x1.8be05bad61778p-1, 0x1.8cf3216b5448cp-1, 0x1.8e06a5e0866d9p-1,
    0x1.8f1ae99157736p-1, 0x1.902fed0282c8ap-1, 0x1.9145b0b91ffc6p-1, 0x1.925c353aa2fe2p-1,
    0x1.93737b0cdc5e5p-1, 0x1.948b82b5f98e5p-1, 0x1.95a44cbc8520fp-1, 0x1.96bdd9a7670b3p-1,
    0x1.97d829fde4e5p-1, 0x1.98f33e47a22a2p-1, 0x1.9a0f170ca07bap-1, 0x1.9b2bb4d53fe0dp-1,
    0x1.9c49182a3f09p-1, 0x1.9d674194bb8d5p-1, 0x1.9e86319e32323p-1, 0x1.9fa5e8d07f29ep-1,
    0x1.a0c667b5de565p-1, 0x1.a1e7aed8eb8bbp-1, 0x1.a309bec4a2d33p-1, 0x1.a42c980460ad8p-1,
    0x1.a5503b23e255dp-1, 0x1.a674a8af46052p-1, 0x1.a799e1330b358p-1, 0x1.a8bfe53c12e59p-1,
    0x1.a9e6b5579fdbfp-1, 0x1.ab0e521356ebap-1, 0x1.ac36bbfd3f37ap-1, 0x1.ad5ff3a3c2774p-1,
    0x1.ae89f995ad3adp-1, 0x1.afb4ce622f2ffp-1, 0x1.b0e07298db666p-1, 0x1.b20ce6c9a8952p-1,
    0x1.b33a2b84f15fbp-1, 0x1.b468415b749b1p-1, 0x1.b59728de5593ap-1, 0x1.b6c6e29f1c52ap-1,
    0x1.b7f76f2fb5e47p-1, 0x1.b928cf22749e4p-1, 0x1.ba5b030a1064ap-1, 0x1.bb8e0b79a6f1fp-1,
    0x1.bcc1e904bc1d2p-1, 0x1.bdf69c3f3a207p-1, 0x1.bf2c25bd71e09p-1, 0x1.c06286141b33dp-1,
    0x1.c199bdd85529cp-1, 0x1.c2d1cd9fa652cp-1, 0x1.c40ab5fffd07ap-1, 0x1.c544778fafb22p-1,
    0x1.c67f12e57d14bp-1, 0x1.c7ba88988c933p-1, 0x1.c8f6d9406e7b5p-1, 0x1.ca3405751c4dbp-1,
    0x1.cb720dcef9069p-1, 0x1.ccb0f2e6d1675p-1, 0x1.cdf0b555dc3fap-1, 0x1.cf3155b5bab74p-1,
    0x1.d072d4a07897cp-1, 0x1.d1b532b08c968p-1, 0x1.d2f87080d89f2p-1, 0x1.d43c8eacaa1d6p-1,
    0x1.d5818dcfba487p-1, 0x1.d6c76e862e6d3p-1, 0x1.d80e316c98398p-1, 0x1.d955d71ff6075p-1,
    0x1.da9e603db3285p-1, 0x1.dbe7cd63a8315p-1, 0x1.dd321f301b46p-1, 0x1.de7d5641c0658p-1,
    0x1.dfc97337b9b5fp-1, 0x1.e11676b197d17p-1, 0x1.e264614f5a129p-1, 0x1.e3b333b16ee12p-1,
    0x1.e502ee78b3ff6p-1, 0x1.e653924676d76p-1, 0x1.e7a51fbc74c83p-1, 0x1.e8f7977cdb74p-1,
    0x1.ea4afa2a490dap-1, 0x1.eb9f4867cca6ep-1, 0x1.ecf482d8e67f1p-1, 0x1.ee4aaa218851p-1,
    0x1.efa1bee615a27p-1, 0x1.f0f9c1cb6412ap-1, 0x1.f252b376bba97p-1, 0x1.f3ac948dd7274p-1,
    0x1.f50765b6e454p-1, 0x1.f6632798844f8p-1, 0x1.f7bfdad9cbe14p-1, 0x1.f91d802243c89p-1,
    0x1.fa7c1819e90d8p-1, 0x1.fbdba3692d514p-1, 0x1.fd3c22b8f71f1p-1, 0x1.fe9d96b2a23d9p-1,
};
/* clang-format on */

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
                frac[j] = exp2_frac8[j << (FINE_MAX - f)];
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
