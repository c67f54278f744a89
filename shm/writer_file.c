/*
 * shm/writer_file.c - new segment files: their layout, and how one is made
 * where nobody can see or pre-empt it and then put under its name in one
 * rename().
 *
 * /dev/shm is world-writable. A name chosen in advance ("<name>.tmp.<pid>")
 * could be planted by anyone as a link or a FIFO before the writer gets to it,
 * so a segment is built in an unnamed O_TMPFILE where the filesystem has them,
 * else in a file made with O_EXCL|O_NOFOLLOW under a random name; a planted file
 * can then only make an attempt fail, never be used or removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "psu/clock.h"
#include "writer_int.h"

static uint32_t opt_u32(uint32_t v, uint32_t def)
{
    return v ? v : def;
}

static uint64_t round_line(uint64_t v)
{
    return (v + PSM_LINE - 1) / PSM_LINE * PSM_LINE;
}

int psm__writer_geometry(const psm_writer_t *w, const struct psm_writer_opts *o,
                         struct psm__geometry *g, char *err, size_t errlen)
{
    g->ndesc = opt_u32(o->desc_capacity, 256);
    g->nser = opt_u32(o->series_capacity, 4096);
    g->blob = o->blob_size ? o->blob_size : (uint64_t)g->nser * 96 + (uint64_t)g->ndesc * 512;
    uint64_t cells = o->cells_size ? o->cells_size : (uint64_t)g->nser * 128;
    if (g->ndesc > (1u << 20) || g->nser > (1u << 24) || g->blob > UINT32_MAX || g->blob < 64 ||
        cells > (UINT64_C(1) << 36)) {
        errno = EINVAL;
        return psm__fail(err, errlen,
                         "segment %s: capacities out of range (descriptors %u <= 1048576, "
                         "series %u <= 16777216, blob %llu in 64..4294967295 bytes, cells "
                         "%llu <= 64 GiB)",
                         w->name, g->ndesc, g->nser, (unsigned long long)g->blob,
                         (unsigned long long)cells);
    }
    g->off_desc = sizeof(struct psm_header);
    g->off_series = round_line(g->off_desc + (uint64_t)g->ndesc * sizeof(struct psm_desc));
    g->off_blob = round_line(g->off_series + (uint64_t)g->nser * sizeof(struct psm_series));
    g->off_cells = round_line(g->off_blob + g->blob);
    g->cells = round_line(cells);
    g->size = g->off_cells + g->cells;
    return 0;
}

void psm__writer_format(void *base, const struct psm__geometry *g)
{
    struct psm_header *h = base;
    atomic_store(&h->generation, 1); /* odd: initialising */
    h->magic = PSM_MAGIC;
    h->major = PSM_VERSION_MAJOR;
    h->minor = PSM_VERSION_MINOR;
    h->header_size = sizeof *h;
    h->layout_hash = psm_layout_hash();
    h->segment_size = g->size;
    h->desc_capacity = g->ndesc;
    h->series_capacity = g->nser;
    h->desc_offset = g->off_desc;
    h->series_offset = g->off_series;
    h->blob_offset = g->off_blob;
    h->blob_size = g->blob;
    h->cells_offset = g->off_cells;
    h->cells_size = g->cells;
    /* Blob offset 0 holds a NUL so empty strings have a terminator; keep 8-alignment. */
    atomic_store(&h->blob_used, 8);
    atomic_store(&h->cells_used, 0);
}

/* Give @fd the mode and group of @o; @what names the segment in @err. */
static int set_owner(int fd, const struct psm_writer_opts *o, const char *what, char *err,
                     size_t errlen)
{
    mode_t mode = o->mode ? o->mode : 0640;
    if (o->group && *o->group) {
        struct group *g = getgrnam(o->group);
        if (!g) {
            errno = ENOENT;
            return psm__fail(err, errlen, "segment %s: group '%s' does not exist", what, o->group);
        }
        if (fchown(fd, (uid_t)-1, g->gr_gid) != 0)
            return psm__fail(err, errlen, "segment %s: cannot give it to group '%s': %s", what,
                             o->group, strerror(errno));
    }
    if (fchmod(fd, mode) != 0)
        return psm__fail(err, errlen, "segment %s: cannot set mode %04o: %s", what, (unsigned)mode,
                         strerror(errno));
    return 0;
}

/* "<dir>/<base>.tmp.<16 random hex digits>": a name nobody can guess ahead of us. */
static void staged_name(const psm_writer_t *w, char *out, size_t outlen)
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = psu_clock_boot_ns() * UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)getpid();
    snprintf(out, outlen, "%s/%s.tmp.%016llx", w->dir, strrchr(w->path, '/') + 1,
             (unsigned long long)r);
}

int psm__writer_file_new(psm_writer_t *w, uint64_t size, char *staged, size_t stagedlen, char *err,
                         size_t errlen)
{
    staged[0] = '\0';
    int fd = open(w->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        /* No O_TMPFILE here. O_EXCL|O_NOFOLLOW: a planted file or link fails us, never is used. */
        for (int i = 0; i < 16; i++) {
            staged_name(w, staged, stagedlen);
            fd = open(staged, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
            if (fd >= 0 || errno != EEXIST)
                break;
        }
        if (fd < 0)
            staged[0] = '\0';
    }
    if (fd < 0)
        return psm__fail(err, errlen, "segment %s: cannot create a file in %s: %s", w->name, w->dir,
                         strerror(errno));
    /*
     * posix_fallocate reserves the pages: on a full tmpfs a plain ftruncate would
     * succeed and the first write to a cell would SIGBUS instead.
     */
    struct psm_writer_opts o = {.mode = w->mode, .group = w->group[0] ? w->group : NULL};
    int fe = 0;
    if (set_owner(fd, &o, w->name, err, errlen) != 0 || ftruncate(fd, (off_t)size) != 0 ||
        (fe = posix_fallocate(fd, 0, (off_t)size)) != 0) {
        int e = fe ? fe : errno;
        if (err && !*err)
            psm__fail(err, errlen, "segment %s: cannot reserve %llu bytes in %s: %s", w->name,
                      (unsigned long long)size, w->dir, strerror(e));
        close(fd);
        if (staged[0])
            unlink(staged);
        staged[0] = '\0';
        errno = e;
        return -1;
    }
    return fd;
}

int psm__writer_file_link(psm_writer_t *w, int fd, const char *staged, char *err, size_t errlen)
{
    char tmp[PSM__PATH_MAX];
    if (staged[0]) {
        snprintf(tmp, sizeof tmp, "%s", staged);
    } else {
        /* linkat cannot replace a name, rename can: give the file a staging name first. */
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        int rc = -1;
        for (int i = 0; i < 16 && rc != 0; i++) {
            staged_name(w, tmp, sizeof tmp);
            rc = linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW);
            if (rc != 0 && errno == ENOENT) /* no /proc: needs CAP_DAC_READ_SEARCH */
                rc = linkat(fd, "", AT_FDCWD, tmp, AT_EMPTY_PATH);
            if (rc != 0 && errno != EEXIST)
                break;
        }
        if (rc != 0)
            return psm__fail(err, errlen, "segment %s: cannot link the new segment into %s: %s",
                             w->name, w->dir, strerror(errno));
    }
    if (rename(tmp, w->path) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return psm__fail(err, errlen, "segment %s: cannot rename the new segment over %s: %s",
                         w->name, w->path, strerror(e));
    }
    return 0;
}
