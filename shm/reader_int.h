/*
 * shm/reader_int.h - the reader's private state, shared by the files that
 * implement it: reader.c (open, map, refresh, close) and reader_load.c (the
 * validation of the header and of every record, and the views built from
 * them). Not installed.
 */
#ifndef PSM_READER_INT_H
#define PSM_READER_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "psm/reader.h"

/* A validated series, compactly: views are built on access. */
struct series_rec {
    uint32_t desc_index;
    uint32_t labels_off, labels_len;
    uint32_t native; /* 1: native cells follow the classic ones */
    uint64_t cells_off;
};

struct psm_reader {
    char name[PSM_MAX_PATH_LEN]; /* as given: an shm name or an absolute path */
    char path[PSM_MAX_PATH_LEN]; /* the file behind it (psm__seg_path) */
    uid_t owner;                 /* who must own that file */
    int fd;                      /* -1 for memory images */
    const uint8_t *base;
    size_t map_size; /* bytes mapped (== object size at open) */
    int mapped;      /* 1: munmap on close */
    dev_t dev;
    ino_t ino;
    /* Geometry copied from the header at open and validated once. */
    uint64_t segment_size, generation;
    uint32_t desc_cap, series_cap;
    uint64_t desc_off, series_off, blob_off, blob_size, cells_off, cells_size;
    const struct psm_header *hdr;
    /* Validated records. */
    struct psm_desc_view *descs; /* desc_cap entries */
    uint32_t ndesc;
    struct series_rec *series;
    uint32_t nseries, series_alloc;
    uint32_t patience_us;
    char err[2 * PSM_MAX_PATH_LEN + 512]; /* room for the name and the path */
};

/*
 * Validate the header of the image at r->base (r->map_size bytes), copy its
 * geometry into @r and allocate the descriptor views it sizes (reader_load.c).
 * Returns 0, or -1 with errno EPROTO and r->err naming the bad field.
 */
int psm__reader_header_check(psm_reader_t *r);

#endif
