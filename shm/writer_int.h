/*
 * shm/writer_int.h - the writer's private state, shared by the files that
 * implement it. From the bottom up (each uses only those above it):
 *   writer_file.c     new segment files: layout, creation unseen, rename into place
 *   writer_bind.c     a mapped segment bound to the writer; its stamp and heartbeat
 *   writer_reg.c      registration, series, the handles and their index
 *   writer_probe.c    what is at the name: nothing, ours to re-attach, to replace
 *   writer_private.c  the private-memory fallback and publishing it
 *   writer.c          psm_writer_open/close: create, re-attach, repair, fall back
 * Not installed.
 */
#ifndef PSM_WRITER_INT_H
#define PSM_WRITER_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "psm/reader.h"
#include "psm/writer.h"

/* A segment path plus the ".<name>.tmp.<16 hex>" a writer stages beside it. */
#define PSM__PATH_MAX (PSM_MAX_PATH_LEN + 64)

/* Sizes and offsets of a segment to build (psm__writer_geometry). */
struct psm__geometry {
    uint32_t ndesc, nser;
    uint64_t off_desc, off_series, off_blob, blob, off_cells, cells, size;
};

struct psm_writer {
    pthread_mutex_t lock;
    char name[PSM__PATH_MAX]; /* as given: an shm name or an absolute path */
    char path[PSM__PATH_MAX]; /* the file behind it (psm__seg_path) */
    char dir[PSM__PATH_MAX];  /* its directory, where new segments are staged */
    mode_t mode;              /* mode of segments this writer makes */
    char group[256];          /* their group ("": the writer's own) */
    int fd;                   /* the segment's file; -1 while private */
    uint8_t *base;
    size_t size;
    _Atomic int is_private; /* nobody else sees the mapping (PSM_OPEN_PRIVATE) */
    struct psm_header *hdr;
    struct psm_desc *descs;
    struct psm_series *series;
    char *blob;
    uint8_t *cells;
    /* Series index: open addressing, slot = series index + 1, 0 = empty. */
    uint32_t *slots;
    uint32_t slot_mask;
    psm_histogram_t **hists; /* per series, created on first resolve */
    uint32_t series_cap;
    /* Overflow sink: big enough for the largest histogram, on a line of its own. */
    _Alignas(64) _Atomic uint64_t sink[PSM_MAX_BUCKETS + 3];
    psm_histogram_t sink_hist;
};

/* ---- writer_file.c ---- */

/* The layout for @o's capacities; -1 with EINVAL and @err when they are out of range. */
int psm__writer_geometry(const psm_writer_t *w, const struct psm_writer_opts *o,
                         struct psm__geometry *g, char *err, size_t errlen);

/* Write an empty segment's header for @g at @base (zeroed memory), generation odd. */
void psm__writer_format(void *base, const struct psm__geometry *g);

/*
 * A new segment file of @size bytes in w->dir, owned and moded as w says, its
 * space reserved: an unnamed O_TMPFILE where the filesystem has them (nobody can
 * see or pre-empt it), else a file under an unpredictable name made with
 * O_EXCL|O_NOFOLLOW (@staged receives that name; "" for an unnamed file).
 * Returns the descriptor, or -1 with errno and @err filled.
 */
int psm__writer_file_new(psm_writer_t *w, uint64_t size, char *staged, size_t stagedlen, char *err,
                         size_t errlen);

/*
 * Put the file @fd (from psm__writer_file_new, staged under @staged or unnamed)
 * at w->path, replacing what is there in one rename. On failure the staged name
 * is removed. Returns 0, or -1 with errno and @err filled.
 */
int psm__writer_file_link(psm_writer_t *w, int fd, const char *staged, char *err, size_t errlen);

/* ---- writer_bind.c ---- */

/* Point hdr, descs, series, blob and cells into w->base. */
void psm__writer_bind(psm_writer_t *w);

/* Allocate the series index for the header's capacity. Returns 0 or -1 + @err. */
int psm__writer_alloc_index(psm_writer_t *w, char *err, size_t errlen);

/* Record this process as the writer: pid, start time, PID namespace, heartbeat. */
void psm__writer_stamp(psm_writer_t *w);

/* ---- writer_reg.c ---- */

/* Add published series @idx to the index. */
void psm__writer_index_insert(psm_writer_t *w, uint32_t idx);

/* ---- writer_probe.c ---- */

/* A segment found at the name, mapped read-write and validated by a reader. */
struct psm__found {
    int fd;
    uint8_t *base;
    size_t size;
    psm_reader_t *r;
};

/*
 * Look at what is at the name. Returns 2 nothing; 1 a valid segment of ours whose
 * writer is gone (@f holds it, and @o's capacities fit when @o is given); 0 a
 * thing to replace (@why says what); -1 not to be touched: another live writer
 * (EBUSY), a directory (EISDIR), a foreign file we may not replace (EPERM), or an
 * error; @err says which.
 */
int psm__writer_name_inspect(psm_writer_t *w, const struct psm_writer_opts *o, struct psm__found *f,
                             char *why, size_t whylen, char *err, size_t errlen);

/* Unmap and close what @f holds, and close its reader; @f is empty after. */
void psm__writer_found_release(struct psm__found *f);

/*
 * What is at w->path, as far as taking the name goes. Returns 1 when nothing is
 * there; 0 when something is there that may be replaced (@why says what: dead
 * writer, incompatible, foreign owner, ...); -1 when it must not or cannot be
 * (another live writer: EBUSY; a directory: EISDIR; an open error), @err filled.
 */
int psm__writer_name_probe(psm_writer_t *w, char *why, size_t whylen, char *err, size_t errlen);

/* ---- writer_private.c ---- */

/* Build the segment in anonymous shared memory. Returns 0 or -1 + @err. */
int psm__writer_open_private(psm_writer_t *w, const struct psm__geometry *g, char *err,
                             size_t errlen);

#endif
