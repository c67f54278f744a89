/*
 * psm/segment.h - on-segment layout of the portsyncd metrics segment, format v1.
 *
 * The segment is one POSIX shared-memory object (/dev/shm/<name>). Every offset
 * below is in bytes from the start of the segment; all integers are native
 * endian (the segment never leaves the host). shm/FORMAT.md explains every field,
 * the consistency protocol and the restart protocol.
 *
 *  0        +--------------------------------------------------------------+
 *           | struct psm_header (256 B)                                    |
 *           |  magic "PSMSEG01" | major | minor | header_size | layout_hash |
 *           |  segment_size | generation (odd = writer initialising)       |
 *           |  writer_pid | writer_start_ticks | writer_start_realtime_ns   |
 *           |  heartbeat_boottime_ns | capacities, counts, region offsets  |
 *           |  blob_used | cells_used | overflow counters (4)              |
 *           |  writer_pidns_dev | writer_pidns_ino (minor >= 1)            |
 *           |  native_writer_start (minor >= 2)                            |
 *  desc_off +--------------------------------------------------------------+
 *           | struct psm_desc [desc_capacity]        (64 B each)           |
 *           |  state | type | label_count | bucket_count | flags           |
 *           |  name, help, unit, label names: (off, len) into the blob     |
 *           |  bounds_off: bucket_count doubles in the blob (8-aligned)    |
 *           |  native schema | native count | first index | zero threshold |
 *           |  (minor >= 2; count 0: classic buckets only)                 |
 *  ser_off  +--------------------------------------------------------------+
 *           | struct psm_series [series_capacity]    (32 B each)           |
 *           |  state | desc_index | label values (off, len) | cells_off    |
 *           |  native_cells (minor >= 2; 0: none)                          |
 *  blob_off +--------------------------------------------------------------+
 *           | blob: NUL-terminated strings and bucket bounds, append-only, |
 *           | used up to blob_used                                         |
 *  cell_off +--------------------------------------------------------------+
 *           | cells: 64-bit atomics, append-only, used up to cells_used    |
 *           |  counter/gauge: 1 cell, alone in a 64 B line                 |
 *           |  histogram:     [count][sum][b0]..[bN] (N = bucket_count:    |
 *           |                 bN counts values above the last bound),      |
 *           |                 rounded up to whole 64 B lines, then with    |
 *           |                 native buckets, on the next line:            |
 *           |                 [zero][n_0]..[n_K-1] (K = native count: n_k  |
 *           |                 counts bucket first + k), whole lines        |
 *  size     +--------------------------------------------------------------+
 *
 * Records are published in order: the writer fills a record and the blob bytes
 * it points at, release-stores its state (PSM_STATE_PUBLISHED), then
 * release-stores the table's count. A reader acquire-loads the count and reads
 * only records below it.
 */
#ifndef PSM_SEGMENT_H
#define PSM_SEGMENT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* "PSMSEG01" read as a little-endian 64-bit integer. */
#define PSM_MAGIC              UINT64_C(0x31304745534d5350)
#define PSM_VERSION_MAJOR      1
#define PSM_VERSION_MINOR      2
#define PSM_DEFAULT_NAME       "portsyncd-metrics"
#define PSM_LINE               64
#define PSM_MAX_LABELS         8
#define PSM_MAX_BUCKETS        32
#define PSM_MAX_NATIVE_BUCKETS 4096
#define PSM_MAX_NAME_LEN       200
#define PSM_MAX_HELP_LEN       1024
#define PSM_MAX_VALUE_LEN      1024
#define PSM_MAX_PATH_LEN       3800 /* segment paths, without the writer's ".tmp.<pid>" */
#define PSM_STATE_FREE         0
#define PSM_STATE_PUBLISHED    1

enum psm_type {
    PSM_COUNTER = 1,
    PSM_GAUGE = 2,
    PSM_HISTOGRAM = 3,
};

/* Descriptor flags. */
#define PSM_F_COUNTER_DOUBLE 0x1u /* counter cell holds a double's bits, not a u64 */
#define PSM_F_KNOWN_FLAGS    PSM_F_COUNTER_DOUBLE

struct psm_header {
    uint64_t magic;                         /*   0 PSM_MAGIC */
    uint16_t major;                         /*   8 incompatible changes bump this */
    uint16_t minor;                         /*  10 compatible additions bump this */
    uint32_t header_size;                   /*  12 sizeof(struct psm_header) */
    uint64_t layout_hash;                   /*  16 psm_layout_hash() of the writer */
    uint64_t segment_size;                  /* 24 bytes; the object is at least this large */
    _Atomic uint64_t generation;            /*  32 odd while (re)initialising */
    _Atomic int32_t writer_pid;             /*  40 0 after a clean close */
    uint32_t flags;                         /*  44 reserved, 0 */
    _Atomic uint64_t writer_start_ticks;    /*  48 /proc/<pid>/stat starttime */
    _Atomic uint64_t writer_start_realtime; /*  56 ns since the epoch */
    _Atomic uint64_t heartbeat_boottime;    /*  64 CLOCK_BOOTTIME ns, >= 1/s */
    uint32_t desc_capacity;                 /*  72 */
    _Atomic uint32_t desc_count;            /*  76 published descriptors */
    uint32_t series_capacity;               /*  80 */
    _Atomic uint32_t series_count;          /*  84 published series */
    uint64_t desc_offset;                   /*  88 */
    uint64_t series_offset;                 /*  96 */
    uint64_t blob_offset;                   /* 104 */
    uint64_t blob_size;                     /* 112 */
    uint64_t cells_offset;                  /* 120 */
    uint64_t cells_size;                    /* 128 */
    _Atomic uint64_t blob_used;             /* 136 */
    _Atomic uint64_t cells_used;            /* 144 */
    _Atomic uint64_t overflow_desc;         /* 152 registrations refused: table full */
    _Atomic uint64_t overflow_series;       /* 160 series refused: table full */
    _Atomic uint64_t overflow_blob;         /* 168 refused: string space full */
    _Atomic uint64_t overflow_cells;        /* 176 refused: cell space full */
    /* Minor 1: the writer's PID namespace, st_dev and st_ino of its /proc/self/ns/pid
     * (0 = not recorded, as in minor 0). A reader in another namespace cannot use the
     * pid: it judges liveness by the heartbeat alone. */
    _Atomic uint64_t writer_pidns_dev; /* 184 */
    _Atomic uint64_t writer_pidns_ino; /* 192 */
    /* Minor 2: writer_start_realtime of the last writer that keeps native buckets. An
     * older writer re-attaching changes writer_start_realtime and not this, so a
     * difference says the native buckets may have missed its observations. */
    _Atomic uint64_t native_writer_start; /* 200 */
    uint8_t reserved[256 - 208];          /* 208 zero */
};

/* A string in the blob: bytes [off, off+len) followed by a NUL at off+len. */
struct psm_str {
    uint32_t off;
    uint32_t len;
};

struct psm_desc {
    _Atomic uint32_t state;     /*  0 PSM_STATE_* */
    uint8_t type;               /*  4 enum psm_type */
    uint8_t label_count;        /*  5 <= PSM_MAX_LABELS */
    uint16_t bucket_count;      /*  6 finite bounds, histograms only */
    uint32_t flags;             /*  8 PSM_F_* */
    uint32_t bounds_off;        /* 12 blob offset of bucket_count doubles */
    struct psm_str name;        /* 16 */
    struct psm_str help;        /* 24 */
    struct psm_str unit;        /* 32 len 0: no unit */
    struct psm_str label_names; /* 40 label_count NUL-terminated names back to back;
                                      len counts every byte but the last NUL */
    /* Minor 2, histograms: native buckets beside the classic ones (FORMAT.md, "Native
     * buckets"). Zero in older segments, which older readers never look at. */
    int8_t native_schema;         /* 48 PSM_NATIVE_SCHEMA_MIN..MAX */
    uint8_t native_pad;           /* 49 zero */
    uint16_t native_count;        /* 50 native buckets, <= PSM_MAX_NATIVE_BUCKETS; 0: none */
    int32_t native_first;         /* 52 index of the first native bucket */
    double native_zero_threshold; /* 56 the first bucket's lower bound: the zero bucket's end */
};

struct psm_series {
    _Atomic uint32_t state; /*  0 PSM_STATE_* */
    uint32_t desc_index;    /*  4 index into the descriptor table */
    struct psm_str labels;  /*  8 label values, laid out as desc label_names */
    uint64_t cells_off;     /* 16 offset into the cell area, 64-aligned */
    /* Minor 2: cells the writer gave the native buckets after the classic lines,
     * 1 + native_count of the descriptor; 0: none (also when an older writer made a
     * series of a descriptor that has native buckets). */
    uint32_t native_cells;     /* 24 */
    uint8_t reserved[32 - 28]; /* 28 zero */
};

_Static_assert(sizeof(struct psm_header) == 256, "header is 256 bytes");
_Static_assert(sizeof(struct psm_desc) == 64, "descriptor is 64 bytes");
_Static_assert(sizeof(struct psm_series) == 32, "series record is 32 bytes");
_Static_assert(offsetof(struct psm_header, overflow_cells) == 176, "header offsets");
_Static_assert(offsetof(struct psm_header, native_writer_start) == 200, "header offsets");
_Static_assert(offsetof(struct psm_desc, native_zero_threshold) == 56, "descriptor offsets");
_Static_assert(offsetof(struct psm_series, native_cells) == 24, "series offsets");
_Static_assert(sizeof(_Atomic uint64_t) == 8, "64-bit atomics are plain words");

/* Cells a series of this type and bucket count occupies (8 bytes each). */
static inline uint32_t psm_type_cells(unsigned type, unsigned bucket_count)
{
    return type == PSM_HISTOGRAM ? 2u + bucket_count + 1u : 1u;
}

/* Bytes of the cell area a series occupies: whole 64-byte lines. */
static inline uint64_t psm_type_cell_bytes(unsigned type, unsigned bucket_count)
{
    uint64_t b = (uint64_t)psm_type_cells(type, bucket_count) * 8u;
    return (b + PSM_LINE - 1) / PSM_LINE * PSM_LINE;
}

/*
 * Where a histogram's native cells start, in cells from the series' first cell:
 * on the line after the classic cells, so that what a reader of minor 1 reads
 * (and the extent it checks) is exactly what it read before.
 */
static inline uint64_t psm_native_cells_offset(unsigned bucket_count)
{
    return psm_type_cell_bytes(PSM_HISTOGRAM, bucket_count) / 8u;
}

/* Bytes of @native_cells native cells (the zero bucket included): whole lines. */
static inline uint64_t psm_native_cell_bytes(unsigned native_cells)
{
    uint64_t b = (uint64_t)native_cells * 8u;
    return (b + PSM_LINE - 1) / PSM_LINE * PSM_LINE;
}

/* Bytes of the cell area a series occupies, native cells included. */
static inline uint64_t psm_series_cell_bytes(unsigned type, unsigned bucket_count,
                                             unsigned native_cells)
{
    return psm_type_cell_bytes(type, bucket_count) + psm_native_cell_bytes(native_cells);
}

/**
 * psm_layout_hash - hash of the record sizes and field offsets of this build
 *
 * Two builds interoperate only if their hashes are equal; the writer stores its
 * hash in the header and readers refuse a segment whose hash differs.
 * Returns the 64-bit FNV-1a hash of a description of the layout.
 */
uint64_t psm_layout_hash(void);

#endif
