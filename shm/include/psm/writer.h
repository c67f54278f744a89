/*
 * psm/writer.h - writer API of libpsmetrics.
 *
 * One process owns a segment as its writer. It registers metric descriptors and
 * resolves series once, off the hot path (those calls take a mutex, allocate and
 * hash), then updates the resolved handles from any thread with the inline
 * functions at the end of this file: one atomic read-modify-write or store each,
 * no lock, no lookup, no allocation, no string work.
 *
 * A handle is never NULL: when a table or the string/cell space is full the
 * writer counts an overflow in the header and hands out a private sink, so the
 * event path carries on and only that series goes unexported.
 */
#ifndef PSM_WRITER_H
#define PSM_WRITER_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "psm/native.h"
#include "psm/segment.h"

typedef struct psm_writer psm_writer_t;

/* A counter or gauge handle is its cell in the segment. */
typedef struct psm_counter {
    _Atomic uint64_t v;
} psm_counter_t;

typedef struct psm_gauge {
    _Atomic uint64_t bits; /* the double's bit pattern */
} psm_gauge_t;

/* A histogram handle lives in the writer's memory and points at its cells. */
typedef struct psm_histogram {
    _Atomic uint64_t *count; /* then sum, then buckets */
    _Atomic uint64_t *sum;
    _Atomic uint64_t *buckets; /* bucket_count + 1 */
    uint32_t bucket_count;
    double bounds[PSM_MAX_BUCKETS];
    /*
     * Native buckets, or NULL: native[0] is the zero bucket (values <= native_zt),
     * native[k] for k = 1..native_count the bucket of index native_base + k.
     */
    _Atomic uint64_t *native;
    double native_zt;
    uint32_t native_count;
    int32_t native_base;
    const struct psm_native_map *native_map;
} psm_histogram_t;

struct psm_writer_opts {
    const char *name;         /* shm name, or absolute path of the file; NULL: PSM_DEFAULT_NAME */
    uint32_t desc_capacity;   /* 0: 256 */
    uint32_t series_capacity; /* 0: 4096 */
    uint64_t blob_size;       /* 0: 96 B per series + 512 B per descriptor */
    uint64_t cells_size;      /* 0: 128 B per series */
    mode_t mode;              /* 0: 0640 */
    const char *group;        /* group owner of the segment; NULL: unchanged */
    int replace;              /* nonzero: never re-attach, always build anew */
    /*
     * Nonzero: when the named segment can be neither re-attached nor built (another
     * live writer holds the name, no space, no permission), build it in private
     * memory instead of failing (PSM_OPEN_PRIVATE). Handles work as usual; nobody
     * else sees the values until psm_writer_publish() succeeds.
     */
    int fallback;
};

/* What psm_writer_open() did, for the caller's log line. */
enum psm_open_result {
    PSM_OPEN_CREATED = 1,  /* no segment existed */
    PSM_OPEN_ATTACHED = 2, /* re-attached: counters continue */
    PSM_OPEN_REPLACED = 3, /* an incompatible or untrusted segment was replaced */
    PSM_OPEN_PRIVATE = 4,  /* opts.fallback: the segment lives in private memory */
};

struct psm_metric_spec {
    const char *name;               /* [a-zA-Z_:][a-zA-Z0-9_:]*, counters end in _total */
    const char *help;               /* UTF-8, any length up to PSM_MAX_HELP_LEN */
    const char *unit;               /* NULL or "" for none; name must end in _<unit> */
    enum psm_type type;             /* PSM_COUNTER, PSM_GAUGE or PSM_HISTOGRAM */
    unsigned label_count;           /* <= PSM_MAX_LABELS */
    const char *const *label_names; /* [a-zA-Z_][a-zA-Z0-9_]*, not __*, not le */
    unsigned bucket_count;          /* histograms: 1..PSM_MAX_BUCKETS */
    const double *bounds;           /* strictly increasing, finite */
    uint32_t flags;                 /* PSM_F_* */
    /*
     * Histograms: native (exponential) buckets beside the classic ones, which
     * stay exactly as given (FORMAT.md, "Native buckets"). Buckets of index
     * psm_native_index(native_min) to psm_native_index(native_max); the zero
     * bucket takes everything at or below the first one's lower bound (negative
     * values too), the last bucket everything above it (+Inf and NaN too).
     */
    int native;        /* nonzero: keep native buckets */
    int native_schema; /* PSM_NATIVE_SCHEMA_MIN..MAX; 0 is schema 0, 3 is the usual */
    double native_min; /* smallest value with a bucket of its own; 0: 1e-6 */
    double native_max; /* largest; 0: 10 (so both 0 suit latencies in seconds) */
};

/* The range native buckets cover when psm_metric_spec leaves it 0: 1 us to 10 s. */
#define PSM_NATIVE_MIN_DEFAULT 1e-6
#define PSM_NATIVE_MAX_DEFAULT 10.0

/**
 * psm_writer_open - create a segment, or re-attach to a compatible one
 * @w: receives the writer
 * @opts: name, capacities, permissions (NULL: all defaults)
 * @result: receives what was done (may be NULL)
 * @err: buffer for one line saying what failed, naming the segment and value
 * @errlen: size of @err
 *
 * A compatible segment (same major version and layout hash, capacities at least
 * those asked for) made by this user (regular file, owned by the effective uid, no
 * group or other write bit) is re-attached: its descriptors and series are indexed
 * again, histograms a dead writer left torn are repaired, and values continue.
 * Anything else (incompatible, corrupt, or a file this writer did not make) is
 * replaced by a segment built where nobody can see it (an unnamed O_TMPFILE) and
 * renamed into place, so a reader never sees it half-built; @err then says what
 * was replaced and why (and, after a re-attach, which histograms were repaired).
 * Another live writer (EBUSY), a directory at the name (EISDIR) or a foreign file
 * this writer may not rename over (EPERM) are errors. With opts->fallback, a
 * failure to do either gives PSM_OPEN_PRIVATE and 0, with errno saying the cause
 * (EBUSY, ENOSPC, EACCES...) and @err what failed.
 * Returns 0, or -1 with errno set and @err filled.
 */
int psm_writer_open(psm_writer_t **w, const struct psm_writer_opts *opts,
                    enum psm_open_result *result, char *err, size_t errlen);

/**
 * psm_writer_close - mark the writer gone (pid 0) and unmap; the segment stays
 * @w: the writer, may be NULL
 */
void psm_writer_close(psm_writer_t *w);

/**
 * psm_writer_heartbeat - record that the writer is alive; call at least once a second
 * @w: the writer
 *
 * Call it from a thread that never waits on anything slow (not the thread that
 * talks to a database): readers in another PID namespace judge liveness by the
 * heartbeat alone.
 */
void psm_writer_heartbeat(psm_writer_t *w);

/**
 * psm_writer_is_private - 1 while the segment lives in private memory (PSM_OPEN_PRIVATE)
 * @w: the writer
 */
int psm_writer_is_private(const psm_writer_t *w);

/**
 * psm_writer_publish - put a private segment under its name, if that works now
 * @w: the writer
 * @err: one line saying why it is still private
 * @errlen: size of @err
 *
 * Refuses while another live writer holds the name (EBUSY); replaces a segment
 * whose writer is gone, a foreign or untrusted file, an incompatible segment.
 * Handles stay valid and values continue: the private pages are copied into a new
 * file that is mapped over them at the same address, and what reached the
 * private pages after the copy is added to the file before it is renamed into
 * place (see FORMAT.md, "Private fallback and publishing"). Takes the writer's
 * mutex; call it from any thread, e.g. every few seconds while
 * psm_writer_is_private().
 * Returns 1 published now, 0 already public, -1 still private (errno, @err).
 */
int psm_writer_publish(psm_writer_t *w, char *err, size_t errlen);

/**
 * psm_metric_register - publish a descriptor, or find the identical one
 * @w: the writer
 * @spec: the metric
 * @err: buffer for one line naming the metric and what is wrong with it
 * @errlen: size of @err
 *
 * Registering a name that exists with the same type, labels and bounds returns
 * its id (this is how a re-attached writer finds its metrics).
 * Returns the metric id (>= 0), or -1 with errno: EINVAL for a bad spec, EEXIST
 * for a name registered with another shape, ENOSPC when a table is full.
 */
int psm_metric_register(psm_writer_t *w, const struct psm_metric_spec *spec, char *err,
                        size_t errlen);

/**
 * psm_counter_resolve - find or create the series of a counter
 * @w: the writer
 * @metric: id from psm_metric_register()
 * @values: label_count label values (UTF-8, <= PSM_MAX_VALUE_LEN bytes), or NULL
 *
 * Returns the handle, never NULL (see the file comment about overflow). A wrong
 * metric id, type or value returns the sink and sets errno to EINVAL.
 */
psm_counter_t *psm_counter_resolve(psm_writer_t *w, int metric, const char *const *values);

/** psm_gauge_resolve - as psm_counter_resolve(), for a gauge */
psm_gauge_t *psm_gauge_resolve(psm_writer_t *w, int metric, const char *const *values);

/** psm_histogram_resolve - as psm_counter_resolve(), for a histogram */
psm_histogram_t *psm_histogram_resolve(psm_writer_t *w, int metric, const char *const *values);

/**
 * psm_writer_name - the segment's shm name
 * @w: the writer
 */
const char *psm_writer_name(const psm_writer_t *w);

/* ---- hot path ------------------------------------------------------------ */

static inline uint64_t psm_f64_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static inline double psm_bits_f64(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/** psm_counter_inc - add 1, relaxed */
static inline void psm_counter_inc(psm_counter_t *c)
{
    atomic_fetch_add_explicit(&c->v, 1, memory_order_relaxed);
}

/** psm_counter_get - the current value, relaxed */
static inline uint64_t psm_counter_get(const psm_counter_t *c)
{
    return atomic_load_explicit(&((psm_counter_t *)c)->v, memory_order_relaxed);
}

/** psm_counter_add - add @n, relaxed */
static inline void psm_counter_add(psm_counter_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}

/**
 * psm_counter_store_f64 - mirror an external monotonic total (PSM_F_COUNTER_DOUBLE)
 * @c: a counter registered with PSM_F_COUNTER_DOUBLE
 * @v: the new total; the caller keeps it monotonic
 */
static inline void psm_counter_store_f64(psm_counter_t *c, double v)
{
    atomic_store_explicit(&c->v, psm_f64_bits(v), memory_order_relaxed);
}

/** psm_gauge_set - store @v, relaxed */
static inline void psm_gauge_set(psm_gauge_t *g, double v)
{
    atomic_store_explicit(&g->bits, psm_f64_bits(v), memory_order_relaxed);
}

/** psm_gauge_get - the current value, relaxed */
static inline double psm_gauge_get(const psm_gauge_t *g)
{
    return psm_bits_f64(atomic_load_explicit(&((psm_gauge_t *)g)->bits, memory_order_relaxed));
}

/** psm_gauge_add - add @d (negative to subtract) with a compare-and-swap loop */
static inline void psm_gauge_add(psm_gauge_t *g, double d)
{
    uint64_t old = atomic_load_explicit(&g->bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&g->bits, &old,
                                                  psm_f64_bits(psm_bits_f64(old) + d),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

/**
 * psm_histogram_native_slot - the native cell @v is counted in
 * @h: a histogram with native buckets
 * @v: the observation
 *
 * 0, the zero bucket, for @v at most the zero threshold (0, negative values,
 * -Inf); otherwise the bucket of @v's index, clamped to the last bucket for
 * values above it (+Inf and NaN included). One comparison, the index from
 * the double's bits (psm/native.h), and a clamp: no branch the data decides
 * but the first.
 */
static inline uint32_t psm_histogram_native_slot(const psm_histogram_t *h, double v)
{
    if (v <= h->native_zt)
        return 0;
    int32_t k = psm_native_index_bits(h->native_map, psm_f64_bits(v)) - h->native_base;
    k = k < 1 ? 1 : k; /* v > native_zt, the first bucket's lower bound: never taken */
    return k > (int32_t)h->native_count ? h->native_count : (uint32_t)k;
}

/**
 * psm_histogram_observe - count @v in its bucket, add it to the sum, count it
 * @h: the histogram
 * @v: the observation (NaN is counted in the last bucket, as Prometheus does,
 *     and in the last native bucket)
 *
 * Order matters for readers (FORMAT.md, "Histogram snapshots"): the classic
 * bucket is incremented first, then the native one, the sum is updated with
 * release, the count last with release. A reader that acquire-loads the count,
 * then the sum, then the buckets, and finds the classic buckets and the native
 * ones each adding up to the count, holds buckets and sum of exactly that many
 * observations.
 */
static inline void psm_histogram_observe(psm_histogram_t *h, double v)
{
    uint32_t i = 0;
    while (i < h->bucket_count && !(v <= h->bounds[i]))
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    if (h->native)
        atomic_fetch_add_explicit(&h->native[psm_histogram_native_slot(h, v)], 1,
                                  memory_order_relaxed);
    uint64_t old = atomic_load_explicit(h->sum, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(h->sum, &old, psm_f64_bits(psm_bits_f64(old) + v),
                                                  memory_order_release, memory_order_relaxed))
        ;
    atomic_fetch_add_explicit(h->count, 1, memory_order_release);
}

#endif
