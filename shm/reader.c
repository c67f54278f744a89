/*
 * shm/reader.c - open a segment read-only, without trusting the path: map the
 * file, follow a replacement, close.
 *
 * Opening trusts nothing about what sits at the name (trust.c has the rules)
 * and hands the mapping to reader_load.c, which validates everything read from
 * it: the header here at open, the records at each load. The consistent
 * histogram snapshot is in reader_series.c, liveness in liveness.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "psm/reader.h"
#include "reader_int.h"

/* Word r->err whole (open errors name the path too), without touching errno. */
static void rsay(psm_reader_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rsay(psm_reader_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
}

const char *psm_reader_error(const psm_reader_t *r)
{
    return r->err;
}

const char *psm_reader_name(const psm_reader_t *r)
{
    return r->name;
}

static psm_reader_t *reader_new(const char *name)
{
    psm_reader_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    snprintf(r->name, sizeof r->name, "%s", name);
    r->fd = -1;
    return r;
}

int psm_reader_open_mem(psm_reader_t **out, const void *mem, size_t len, char *err, size_t errlen)
{
    psm_reader_t *r = reader_new("(memory)");
    if (!r)
        return psm__fail(err, errlen, "out of memory");
    r->base = mem;
    r->map_size = len;
    if (psm__reader_header_check(r) != 0) {
        psm__fail(err, errlen, "%s", r->err);
        psm_reader_close(r);
        errno = EPROTO;
        return -1;
    }
    *out = r;
    return 0;
}

/*
 * How messages about the file name it: "segment NAME: /dev/shm/NAME" for an shm
 * name, "segment PATH" for a path (saying it twice helps nobody).
 */
static void reader_where(const psm_reader_t *r, char *out, size_t len)
{
    if (r->name[0] == '/')
        snprintf(out, len, "segment %s", r->name);
    else
        snprintf(out, len, "segment %s: %s", r->name, r->path);
}

/* Why open(2) of r->path failed with @e, in r->err; returns -1 with errno set. */
static int reader_open_failed(psm_reader_t *r, int e)
{
    char where[2 * PSM_MAX_PATH_LEN + 16];
    reader_where(r, where, sizeof where);
    struct stat st;
    if (e == ENOENT) {
        rsay(r, "segment %s: no such segment (%s): is the writer running?", r->name, r->path);
    } else if (e == EACCES) {
        rsay(r,
             "segment %s: permission denied opening %s: the reader needs to be in the "
             "segment's group",
             r->name, r->path);
    } else if ((e == ELOOP || e == ENXIO || e == EOPNOTSUPP) && lstat(r->path, &st) == 0 &&
               !S_ISREG(st.st_mode)) {
        /* A symbolic link (O_NOFOLLOW), a socket, a device without a driver: say which. */
        psm__stat_trusted(&st, r->owner, where, r->err, sizeof r->err);
        e = S_ISLNK(st.st_mode) ? ELOOP : EPERM;
    } else {
        rsay(r, "%s: cannot open it: %s", where, strerror(e));
    }
    errno = e;
    return -1;
}

/*
 * Open, check and map r->path. O_NONBLOCK: a FIFO planted at the path would
 * otherwise block open(2) until some writer opens it, for ever in an event loop.
 * O_NOFOLLOW: a link would let anyone point the reader at any file. fstat() on
 * the descriptor then judges the object actually opened, not whatever is at the
 * path a moment later.
 */
static int reader_map(psm_reader_t *r)
{
    char where[2 * PSM_MAX_PATH_LEN + 16];
    reader_where(r, where, sizeof where);
    /*
     * Refuse what is plainly not a segment before opening it: opening a device
     * can do things (a tape rewinds on close), and a FIFO need not be touched.
     * The fstat() below still decides, should the file change in between.
     */
    struct stat st;
    if (lstat(r->path, &st) == 0 && !S_ISREG(st.st_mode))
        return psm__stat_trusted(&st, r->owner, where, r->err, sizeof r->err);
    int fd = open(r->path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return reader_open_failed(r, errno);
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        rsay(r, "segment %s: fstat of %s failed: %s", r->name, r->path, strerror(e));
        errno = e;
        return -1;
    }
    if (psm__stat_trusted(&st, r->owner, where, r->err, sizeof r->err) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    r->fd = fd;
    r->dev = st.st_dev;
    r->ino = st.st_ino;
    r->map_size = (size_t)st.st_size;
    if (r->map_size > 0) {
        void *p = mmap(NULL, r->map_size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            rsay(r, "segment %s: mmap of %s failed: %s", r->name, r->path, strerror(e));
            errno = e;
            return -1;
        }
        r->base = p;
        r->mapped = 1;
    }
    return psm__reader_header_check(r);
}

/* A reader for @name with the trust settings of @opts, not yet mapped. */
static psm_reader_t *reader_named(const char *name, const struct psm_reader_opts *opts)
{
    psm_reader_t *r = reader_new(name);
    if (!r)
        return NULL;
    /* The name was validated by the caller: only ENAMETOOLONG is left, and it fits. */
    psm__seg_path(name, r->path, sizeof r->path);
    r->owner = opts && opts->owner_set ? opts->owner : 0;
    return r;
}

int psm_reader_open(psm_reader_t **out, const char *name, char *err, size_t errlen)
{
    return psm_reader_open_opts(out, name, NULL, err, errlen);
}

int psm_reader_open_opts(psm_reader_t **out, const char *name, const struct psm_reader_opts *opts,
                         char *err, size_t errlen)
{
    if (!name)
        name = PSM_DEFAULT_NAME;
    if (!psm__seg_name_ok(name)) {
        errno = EINVAL;
        return psm__fail(err, errlen,
                         "segment name '%s' is invalid: expected an shm name (1-200 characters "
                         "of [A-Za-z0-9._-]) or an absolute path, shorter than %d bytes, whose "
                         "last part is one",
                         name, PSM_MAX_PATH_LEN);
    }
    psm_reader_t *r = reader_named(name, opts);
    if (!r)
        return psm__fail(err, errlen, "out of memory");
    if (reader_map(r) != 0) {
        int e = errno;
        psm__fail(err, errlen, "%s", r->err);
        psm_reader_close(r);
        errno = e;
        return -1;
    }
    r->patience_us = PSM_HIST_PATIENCE_US;
    *out = r;
    return 0;
}

void psm_reader_set_patience(psm_reader_t *r, uint32_t us)
{
    r->patience_us = us;
}

void psm_reader_close(psm_reader_t *r)
{
    if (!r)
        return;
    if (r->mapped)
        munmap((void *)r->base, r->map_size);
    if (r->fd >= 0)
        close(r->fd);
    free(r->descs);
    free(r->series);
    free(r);
}

void psm_reader_info(const psm_reader_t *r, struct psm_info *in)
{
    const struct psm_header *h = r->hdr;
    memset(in, 0, sizeof *in);
    in->major = h->major;
    /* A writer of a newer minor re-attaching to an older segment raises it. */
    in->minor = __atomic_load_n(&h->minor, __ATOMIC_RELAXED);
    in->layout_hash = h->layout_hash;
    in->segment_size = r->segment_size;
    in->generation = atomic_load_explicit(&h->generation, memory_order_acquire);
    /* Acquire: the writer stores its pid last, so what follows belongs to that pid. */
    in->writer_pid = atomic_load_explicit(&h->writer_pid, memory_order_acquire);
    in->writer_start_ticks = atomic_load_explicit(&h->writer_start_ticks, memory_order_relaxed);
    in->writer_start_realtime =
        atomic_load_explicit(&h->writer_start_realtime, memory_order_relaxed);
    in->heartbeat_boottime = atomic_load_explicit(&h->heartbeat_boottime, memory_order_relaxed);
    in->desc_capacity = r->desc_cap;
    in->desc_count = atomic_load_explicit(&h->desc_count, memory_order_acquire);
    in->series_capacity = r->series_cap;
    in->series_count = atomic_load_explicit(&h->series_count, memory_order_acquire);
    in->blob_size = r->blob_size;
    in->blob_used = atomic_load_explicit(&h->blob_used, memory_order_relaxed);
    in->cells_size = r->cells_size;
    in->cells_used = atomic_load_explicit(&h->cells_used, memory_order_relaxed);
    in->overflow_desc = atomic_load_explicit(&h->overflow_desc, memory_order_relaxed);
    in->overflow_series = atomic_load_explicit(&h->overflow_series, memory_order_relaxed);
    in->overflow_blob = atomic_load_explicit(&h->overflow_blob, memory_order_relaxed);
    in->overflow_cells = atomic_load_explicit(&h->overflow_cells, memory_order_relaxed);
    in->dev = r->dev;
    in->ino = r->ino;
    /* Bytes 184..199 are reserved (zero) in minor 0: only minor 1 gives them meaning. */
    if (in->minor >= 1) {
        in->writer_pidns_dev = atomic_load_explicit(&h->writer_pidns_dev, memory_order_relaxed);
        in->writer_pidns_ino = atomic_load_explicit(&h->writer_pidns_ino, memory_order_relaxed);
    }
    if (in->minor >= 2)
        in->native_writer_start =
            atomic_load_explicit(&h->native_writer_start, memory_order_relaxed);
}

int psm_reader_refresh(psm_reader_t *r)
{
    if (r->fd < 0)
        return 0;
    struct stat st;
    /* lstat: a link planted at the name is a replacement to refuse, not to follow. */
    if (lstat(r->path, &st) != 0) {
        rsay(r, "segment %s: %s is gone (%s); keeping the old mapping", r->name, r->path,
             strerror(errno));
        return -1;
    }
    if (st.st_dev == r->dev && st.st_ino == r->ino)
        return 0;
    psm_reader_t *n = reader_named(r->name, &(struct psm_reader_opts){r->owner, 1});
    if (!n) {
        rsay(r, "segment %s: out of memory", r->name);
        return -1;
    }
    if (reader_map(n) != 0) {
        rsay(r, "%s; keeping the old mapping", n->err);
        psm_reader_close(n);
        return -1;
    }
    /* What the caller chose for this reader stays chosen. */
    n->patience_us = r->patience_us;
    /* Swap the new mapping into @r so callers keep their pointer. */
    psm_reader_t old = *r;
    *r = *n;
    *n = old;
    psm_reader_close(n);
    return 1;
}
