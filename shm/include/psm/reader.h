/*
 * psm/reader.h - reader API of libpsmetrics.
 *
 * A reader maps a segment read-only (O_RDONLY, PROT_READ) and treats it as
 * hostile: every offset, length and count is checked against the header and the
 * object's size before use, strings are used as (pointer, length) pairs that were
 * checked to lie inside the used blob, and nothing is ever written through the
 * mapping. A failed check is reported as -1 with a message that names the record
 * and the value, never as a crash.
 *
 * The reader needs nothing the writer owns: only the segment's name.
 */
#ifndef PSM_READER_H
#define PSM_READER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "psm/segment.h"

typedef struct psm_reader psm_reader_t;

struct psm_strview {
    const char *p;
    size_t len;
};

struct psm_desc_view {
    uint32_t index;
    enum psm_type type;
    uint32_t flags;
    struct psm_strview name, help, unit;
    unsigned label_count;
    struct psm_strview label_names[PSM_MAX_LABELS];
    unsigned bucket_count;
    double bounds[PSM_MAX_BUCKETS];
    /*
     * Native buckets (segments of minor >= 2): native_count buckets of index
     * native_first onwards at native_schema, and the zero bucket up to
     * native_zero_threshold. native_count 0: classic buckets only.
     */
    int native_schema;
    uint32_t native_count;
    int32_t native_first;
    double native_zero_threshold;
};

struct psm_series_view {
    uint32_t index;
    const struct psm_desc_view *desc;
    struct psm_strview values[PSM_MAX_LABELS];
    const _Atomic uint64_t *cells;
    /* The native cells (the zero bucket, then desc->native_count buckets), or NULL:
     * none (a classic histogram, or a series an older writer made). */
    const _Atomic uint64_t *native;
    uint32_t patience_us; /* psm_reader_hist_read(): how long to wait out a writer */
};

/* A consistent histogram: cumulative[bucket_count] is the +Inf bucket == count. */
struct psm_hist_snapshot {
    uint64_t count;
    double sum;
    uint64_t cumulative[PSM_MAX_BUCKETS + 1];
    unsigned attempts; /* reads it took */
    int torn;          /* 1: no consistent read; buckets/count agree, sum may not */
};

/* One populated native bucket: index i holds the values in (base^(i-1), base^i]. */
struct psm_native_bucket {
    int32_t index;
    uint64_t count; /* not cumulative */
};

/*
 * The native part of a histogram snapshot, read with its classic part
 * (psm_reader_hist_read_native()): the same observations as count and sum
 * when valid. The caller provides the bucket array.
 */
struct psm_native_snapshot {
    struct psm_native_bucket *buckets; /* in: room for cap buckets (desc->native_count do) */
    uint32_t cap;                      /* in */
    uint32_t nbuckets;                 /* populated buckets, ascending index, in buckets[] */
    int valid;  /* 1: zero_count + the buckets' counts == count of the classic snapshot */
    int stale;  /* 1: they add up to less than the count: a writer that keeps no native
                   buckets (an older release) observed into this histogram */
    int schema; /* desc->native_schema */
    double zero_threshold;
    uint64_t zero_count; /* values <= zero_threshold (0, negative values) */
};

struct psm_info {
    uint16_t major, minor;
    uint64_t layout_hash, segment_size, generation;
    pid_t writer_pid;
    uint64_t writer_start_ticks, writer_start_realtime, heartbeat_boottime;
    uint32_t desc_capacity, desc_count, series_capacity, series_count;
    uint64_t blob_size, blob_used, cells_size, cells_used;
    uint64_t overflow_desc, overflow_series, overflow_blob, overflow_cells;
    dev_t dev;
    ino_t ino;
    /* Minor >= 1: the writer's PID namespace (st_dev, st_ino of /proc/self/ns/pid);
     * 0 when not recorded (minor 0, or the writer could not read /proc). */
    uint64_t writer_pidns_dev, writer_pidns_ino;
    /* Minor >= 2: writer_start_realtime of the last writer that keeps native buckets
     * (0 before minor 2). Differs from writer_start_realtime after a writer of an
     * older release re-attached: native buckets may then lack its observations. */
    uint64_t native_writer_start;
};

/* How psm_reader_liveness() judged the writer. */
enum psm_liveness_method {
    /* The reader shares the writer's PID namespace: the pid exists, is not a zombie,
     * has the recorded start time, and the heartbeat is recent. */
    PSM_LIVENESS_PID = 1,
    /* Another PID namespace (or a segment that does not record one): the pid means
     * nothing here, so the heartbeat alone decides. */
    PSM_LIVENESS_HEARTBEAT = 2,
};

struct psm_liveness {
    int alive;                       /* 1: the writer process exists and heartbeats */
    pid_t pid;                       /* 0: the writer closed the segment cleanly */
    double heartbeat_age;            /* seconds since the last heartbeat (one from the
                                        future, i.e. before a reboot: the time since boot) */
    const char *reason;              /* when not alive: why, for logs */
    enum psm_liveness_method method; /* how it was judged */
};

/*
 * Who may have made a segment a reader accepts. /dev/shm is world-writable: a name
 * there is no proof of origin, so the reader checks the file it opened.
 */
struct psm_reader_opts {
    uid_t owner;   /* the segment's file must be owned by this user... */
    int owner_set; /* ...if nonzero; otherwise by root (uid 0) */
};

/* Back-to-back histogram reads before psm_reader_hist_read() starts to sleep. */
#define PSM_HIST_SPIN_ATTEMPTS 64
/* Default patience of a reader opened by name; memory images get none. */
#define PSM_HIST_PATIENCE_US 20000

/**
 * psm_reader_open - map the segment @name read-only and validate its header
 * @r: receives the reader
 * @name: shm name without '/' (the file /dev/shm/NAME), or the absolute path of
 *        the segment's file in any directory (NULL: PSM_DEFAULT_NAME)
 * @err: buffer for one line saying what failed (no such segment, permission
 *       denied, not a regular file, foreign owner, writable by others, wrong
 *       magic, unsupported version, truncated, corrupt), naming the path
 * @errlen: size of @err
 *
 * As psm_reader_open_opts() with @opts NULL: the file must be owned by root.
 */
int psm_reader_open(psm_reader_t **r, const char *name, char *err, size_t errlen);

/**
 * psm_reader_open_opts - psm_reader_open() with a choice of trusted owner
 * @r: receives the reader
 * @name: as for psm_reader_open()
 * @opts: the expected owner (NULL: root)
 * @err: as for psm_reader_open()
 * @errlen: size of @err
 *
 * Opens without blocking and without following a symbolic link (a FIFO or a
 * device planted at the path must not hang the reader), then accepts only a
 * regular file owned by the expected user with neither the group nor the other
 * write bit; anything else is refused with one line naming the path and what was
 * found there (FIFO, directory, owner uid and name, mode).
 * Returns 0, or -1 with errno set (EINVAL for an invalid name, ENOENT, EACCES,
 * EPERM for a file the reader does not trust, ELOOP for a symbolic link at the
 * path, EPROTO for a bad segment) and @err filled. A writer builds a
 * new segment under a temporary name and renames it into place, so a reader
 * never opens a half-built one.
 */
int psm_reader_open_opts(psm_reader_t **r, const char *name, const struct psm_reader_opts *opts,
                         char *err, size_t errlen);

/**
 * psm_owner_parse - a user name or a numeric uid, for the expected-owner options
 * @s: "root", "portsyncd", "0", "1000"
 * @uid: receives the uid
 * @err: one line naming the value and what was expected
 * @errlen: size of @err
 * Returns 0, or -1 with @err filled.
 */
int psm_owner_parse(const char *s, uid_t *uid, char *err, size_t errlen);

/**
 * psm_reader_open_mem - validate a segment image held in memory (tests, fuzzing)
 * @r: receives the reader
 * @mem: the image; it must stay valid and unchanged-in-size until close
 * @len: its length, playing the part of the object's size
 * @err: as for psm_reader_open()
 * @errlen: size of @err
 *
 * Returns 0, or -1 with errno EPROTO and @err filled.
 */
int psm_reader_open_mem(psm_reader_t **r, const void *mem, size_t len, char *err, size_t errlen);

/** psm_reader_close - unmap and free; @r may be NULL */
void psm_reader_close(psm_reader_t *r);

/** psm_reader_error - the message of the last failed call on @r */
const char *psm_reader_error(const psm_reader_t *r);

/**
 * psm_reader_set_patience - how long psm_reader_hist_read() may wait out a writer
 * @r: the reader
 * @us: microseconds per histogram (0: never sleep)
 */
void psm_reader_set_patience(psm_reader_t *r, uint32_t us);

/** psm_reader_name - the shm name @r was opened with ("(memory)" for images) */
const char *psm_reader_name(const psm_reader_t *r);

/**
 * psm_reader_info - copy the header's fields
 * @r: the reader
 * @info: receives them (counts are as read, not yet validated)
 */
void psm_reader_info(const psm_reader_t *r, struct psm_info *info);

/**
 * psm_reader_load - validate every descriptor and series published so far
 * @r: the reader
 *
 * Call once per snapshot (a scrape, a dump): it reads the counts, validates new
 * records and caches their views. Records are append-only, so views stay valid
 * until the segment is replaced.
 * Returns 0, or -1 with errno EPROTO and psm_reader_error() naming the first bad
 * record and field.
 */
int psm_reader_load(psm_reader_t *r);

/** psm_reader_desc_count - descriptors validated by the last psm_reader_load() */
uint32_t psm_reader_desc_count(const psm_reader_t *r);

/** psm_reader_desc - descriptor @i (< psm_reader_desc_count()) */
const struct psm_desc_view *psm_reader_desc(const psm_reader_t *r, uint32_t i);

/** psm_reader_series_count - series validated by the last psm_reader_load() */
uint32_t psm_reader_series_count(const psm_reader_t *r);

/**
 * psm_reader_series_desc_index - the descriptor index of series @i
 * @r: the reader
 * @i: series index (< psm_reader_series_count())
 *
 * What grouping series by metric needs, without building a view (the label
 * values are not split). Returns an index below psm_reader_desc_count().
 */
uint32_t psm_reader_series_desc_index(const psm_reader_t *r, uint32_t i);

/**
 * psm_reader_series - fill @view with series @i (< psm_reader_series_count())
 * @r: the reader
 * @i: series index
 * @view: receives the descriptor, label values and cells
 */
void psm_reader_series(const psm_reader_t *r, uint32_t i, struct psm_series_view *view);

/** psm_series_u64 - a counter's value */
static inline uint64_t psm_series_u64(const struct psm_series_view *s)
{
    return atomic_load_explicit(&s->cells[0], memory_order_relaxed);
}

/** psm_series_f64 - a gauge's (or double counter's) value */
static inline double psm_series_f64(const struct psm_series_view *s)
{
    union {
        uint64_t u;
        double d;
    } v = {.u = atomic_load_explicit(&s->cells[0], memory_order_relaxed)};
    return v.d;
}

/** psm_series_value - the value of a counter or gauge as a double */
double psm_series_value(const struct psm_series_view *s);

/**
 * psm_reader_hist_read - take a consistent snapshot of a histogram series
 * @s: a series of a histogram
 * @snap: receives count, sum and cumulative buckets
 *
 * Reads without writing: acquire-load the count, then the sum, then the buckets,
 * and accept when the buckets add up to the count. Buckets above the count mean
 * an observation is in flight: retry, PSM_HIST_SPIN_ATTEMPTS times back to back,
 * then sleeping 50 us between reads for up to @s->patience_us (a writer
 * preempted mid-observation needs the CPU to finish it). Buckets below the count
 * cannot happen in a live segment: that is corruption, reported at once. If no
 * read was consistent, the snapshot is built from the last buckets read (count =
 * their total, so the exposition invariants hold) and @snap->torn is 1.
 * Returns 0 (consistent) or 1 (torn).
 */
int psm_reader_hist_read(const struct psm_series_view *s, struct psm_hist_snapshot *snap);

/**
 * psm_reader_hist_read_native - a histogram snapshot with its native buckets
 * @s: a series of a histogram
 * @snap: receives count, sum and cumulative classic buckets
 * @nat: receives the native buckets into @nat->buckets (@nat->cap of them); NULL
 *       or a series without native cells: as psm_reader_hist_read()
 *
 * Reads as psm_reader_hist_read() does, the native cells after the classic
 * ones in the same read, and accepts a read when the classic buckets and the
 * native ones (zero bucket included) each add up to the count: then buckets of
 * both kinds, count and sum describe the same observations (FORMAT.md,
 * "Histogram snapshots"). Native buckets adding up to less than the count
 * cannot be a writer in flight (it counts last): the classic part is then
 * returned alone, with @nat->valid 0 and @nat->stale 1. More populated
 * buckets than @nat->cap also leave @nat->valid 0.
 * Returns 0 (consistent) or 1 (torn: @nat->valid is 0).
 */
int psm_reader_hist_read_native(const struct psm_series_view *s, struct psm_hist_snapshot *snap,
                                struct psm_native_snapshot *nat);

/**
 * psm_native_quantile - the @q-quantile of a native snapshot, as Prometheus 2.42
 *                       estimates it
 * @n: a valid native snapshot (psm_reader_hist_read_native())
 * @q: 0..1
 *
 * Walks the zero bucket and the buckets upwards to the first whose cumulative
 * count reaches q * count, then interpolates linearly within it, as
 * histogram_quantile() does on native histograms in Prometheus 2.42: the zero
 * bucket spans [0, threshold] (or [-threshold, threshold] when it is the only
 * populated bucket), bucket i spans (base^(i-1), base^i]. The estimate is off
 * by less than the width of the bucket holding it (9 % of its value at
 * schema 3), and the last bucket also holds everything above it.
 * Returns the estimate; NaN for an empty or invalid snapshot or @q NaN, -Inf
 * for @q < 0 and +Inf for @q > 1 (as Prometheus).
 */
double psm_native_quantile(const struct psm_native_snapshot *n, double q);

/**
 * psm_reader_check - verify every invariant of the segment
 * @r: the reader
 * @err: buffer for one line naming the first violation
 * @errlen: size of @err
 *
 * Header geometry, every published record, string terminators and UTF-8, name
 * syntax, unique names and label sets, non-overlapping cells, bucket bounds,
 * histogram buckets adding up to the count (native buckets and the zero
 * bucket too, the zero threshold on the first bucket's lower bound), an even
 * generation.
 * Returns 0, or -1 with errno EPROTO and @err filled.
 */
int psm_reader_check(psm_reader_t *r, char *err, size_t errlen);

/**
 * psm_reader_refresh - follow a replaced segment
 * @r: a reader opened by name
 *
 * Compares the device and inode behind the name with the mapped ones; if the
 * segment was replaced, maps the new one (with the same trust rules and
 * patience) and drops every cached view. If the name no longer exists,
 * keeps the old mapping. Returns 0 unchanged, 1 remapped, -1 (the new segment is bad or the name is
 * gone: psm_reader_error() says which; the old mapping stays usable).
 */
int psm_reader_refresh(psm_reader_t *r);

/**
 * psm_reader_liveness - is the writer alive?
 * @r: the reader
 * @max_age: seconds without a heartbeat after which the writer counts as dead
 * @l: receives the verdict, pid, heartbeat age and reason
 *
 * In the writer's PID namespace (PSM_LIVENESS_PID), alive means: pid non-zero,
 * the process exists and is not a zombie, its start time matches the one
 * recorded (a recycled pid is not the writer), and the heartbeat is recent. In
 * another namespace, or for a segment that does not record the writer's
 * (PSM_LIVENESS_HEARTBEAT): pid non-zero and the heartbeat recent.
 */
void psm_reader_liveness(const psm_reader_t *r, double max_age, struct psm_liveness *l);

#endif
