/*
 * shm/writer.c - open a metrics segment: create it, or re-attach to one this
 * writer can trust, repairing what a dead writer left half-done.
 *
 * /dev/shm is world-writable, so a name there proves nothing about who made the
 * file behind it. The writer re-attaches only to a regular file owned by its own
 * effective uid that neither the group nor others may write; anything else is
 * replaced by a segment built where nobody can see or pre-empt it
 * (writer_file.c) and renamed into place. Registration and series resolution
 * are in writer_reg.c, the private-memory fallback in writer_private.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "psm/reader.h"
#include "psu/clock.h"
#include "writer_int.h"

/*
 * A writer in another PID namespace cannot be judged by its pid: one whose
 * heartbeat is older than this has stopped, and its name may be taken over.
 */
#define PSM_TAKEOVER_AGE_S 10.0

static uint32_t opt_u32(uint32_t v, uint32_t def)
{
    return v ? v : def;
}

static void writer_bind(psm_writer_t *w)
{
    w->hdr = (struct psm_header *)w->base;
    w->descs = (struct psm_desc *)(w->base + w->hdr->desc_offset);
    w->series = (struct psm_series *)(w->base + w->hdr->series_offset);
    w->blob = (char *)(w->base + w->hdr->blob_offset);
    w->cells = w->base + w->hdr->cells_offset;
}

static int writer_alloc_index(psm_writer_t *w, char *err, size_t errlen)
{
    uint32_t cap = w->hdr->series_capacity, n = 1;
    while (n < cap * 2u)
        n <<= 1;
    w->slots = calloc(n, sizeof *w->slots);
    w->hists = calloc(cap, sizeof *w->hists);
    if (!w->slots || !w->hists)
        return psm__fail(err, errlen, "segment %s: out of memory for the series index", w->name);
    w->slot_mask = n - 1;
    w->series_cap = cap;
    return 0;
}

static void writer_stamp(psm_writer_t *w)
{
    /*
     * Our PID namespace, so a reader can tell whether our pid means anything to it
     * (0 if /proc is missing: readers then judge by the heartbeat alone). The start
     * time only where /proc is our own: another namespace's /proc/<pid> is some
     * other process, and a wrong start time would make readers call us recycled.
     */
    uint64_t ns_dev, ns_ino;
    psm__pidns_self(&ns_dev, &ns_ino);
    atomic_store(&w->hdr->writer_pidns_dev, ns_dev);
    atomic_store(&w->hdr->writer_pidns_ino, ns_ino);
    /* A segment an older (minor 0) writer made gains the minor 1 fields now. */
    if (__atomic_load_n(&w->hdr->minor, __ATOMIC_RELAXED) < 1)
        __atomic_store_n(&w->hdr->minor, 1, __ATOMIC_RELAXED);
    atomic_store(&w->hdr->writer_start_ticks,
                 psm__proc_is_own() ? psm__proc_start_ticks(getpid()) : 0);
    atomic_store(&w->hdr->writer_start_realtime, psu_clock_real_ns());
    atomic_store(&w->hdr->heartbeat_boottime, psu_clock_boot_ns());
    /* Last, with release: a reader that sees our pid sees the fields above with it. */
    atomic_store_explicit(&w->hdr->writer_pid, (int32_t)getpid(), memory_order_release);
}

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

/* Build a fresh segment where nobody sees it, then rename it over the name. */
static int writer_create(psm_writer_t *w, const struct psm_writer_opts *o, char *err, size_t errlen)
{
    struct psm__geometry g;
    if (psm__writer_geometry(w, o, &g, err, errlen) != 0)
        return -1;
    char staged[PSM__PATH_MAX];
    int fd = psm__writer_file_new(w, g.size, staged, sizeof staged, err, errlen);
    if (fd < 0)
        return -1;
    void *base = mmap(NULL, g.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        int e = errno;
        close(fd);
        if (staged[0])
            unlink(staged);
        errno = e;
        return psm__fail(err, errlen, "segment %s: mmap of %llu bytes failed: %s", w->name,
                         (unsigned long long)g.size, strerror(e));
    }
    psm__writer_format(base, &g);
    w->fd = fd;
    w->base = base;
    w->size = g.size;
    writer_bind(w);
    writer_stamp(w);
    atomic_store_explicit(&w->hdr->generation, 2, memory_order_release);
    if (psm__writer_file_link(w, fd, staged, err, errlen) != 0) {
        int e = errno;
        munmap(base, g.size);
        close(fd);
        w->base = NULL;
        w->fd = -1;
        errno = e;
        return -1;
    }
    return writer_alloc_index(w, err, errlen);
}

/* 1 if the file @st describes is one this writer made; otherwise 0, @why saying what it is. */
static int file_trusted(const struct stat *st, char *why, size_t whylen)
{
    return psm__stat_trusted(st, geteuid(), "it", why, whylen) == 0;
}

/*
 * -1 (EPERM) if this writer could not rename over the file @st describes: in a
 * sticky directory (/dev/shm) only the file's owner, the directory's owner or a
 * privileged process may replace it.
 */
static int replace_allowed(const psm_writer_t *w, const struct stat *st, char *err, size_t errlen)
{
    struct stat d;
    char user[320];
    if (geteuid() == 0 || st->st_uid == geteuid() || stat(w->dir, &d) != 0 ||
        !(d.st_mode & S_ISVTX) || d.st_uid == geteuid())
        return 0;
    psm__uid_label(st->st_uid, user, sizeof user);
    psm__fail(err, errlen,
              "segment %s: %s is owned by %s in the sticky directory %s: this writer (uid %u) "
              "can neither use nor replace it; remove it",
              w->name, w->path, user, w->dir, (unsigned)geteuid());
    errno = EPERM;
    return -1;
}

int psm__writer_other_alive(const struct psm_reader *r, pid_t *pid)
{
    struct psm_liveness lv;
    psm_reader_liveness(r, 1e9, &lv);
    *pid = lv.pid;
    if (lv.pid <= 0)
        return 0;
    /* Across PID namespaces the pid means nothing here, not even equal to ours: the
     * heartbeat decides. */
    if (lv.method == PSM_LIVENESS_HEARTBEAT)
        return lv.heartbeat_age <= PSM_TAKEOVER_AGE_S;
    return lv.alive && lv.pid != getpid();
}

/* A segment found at the name, mapped read-write and validated. */
struct found {
    int fd;
    uint8_t *base;
    size_t size;
    psm_reader_t *r;
};

static void found_release(struct found *f)
{
    psm_reader_close(f->r);
    if (f->base)
        munmap(f->base, f->size);
    if (f->fd >= 0)
        close(f->fd);
    *f = (struct found){.fd = -1};
}

/*
 * Look at what is at the name. Returns 2 nothing; 1 a valid segment of ours whose
 * writer is gone (@f holds it, and @o's capacities fit when @o is given); 0 a
 * thing to replace (@why says what); -1 not to be touched: another live writer
 * (EBUSY), a directory (EISDIR), a foreign file we may not replace (EPERM), or an
 * error; @err says which.
 */
static int name_inspect(psm_writer_t *w, const struct psm_writer_opts *o, struct found *f,
                        char *why, size_t whylen, char *err, size_t errlen)
{
    *f = (struct found){.fd = -1};
    struct stat st;
    if (lstat(w->path, &st) != 0) {
        if (errno == ENOENT)
            return 2;
        return psm__fail(err, errlen, "segment %s: cannot look at %s: %s", w->name, w->path,
                         strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        return psm__fail(err, errlen,
                         "segment %s: %s is a directory, which a segment cannot replace; "
                         "remove it",
                         w->name, w->path);
    }
    if (replace_allowed(w, &st, err, errlen) != 0)
        return -1;
    if (!file_trusted(&st, why, whylen))
        return 0;
    /* Never follow a link, never block on a FIFO swapped in since the lstat. */
    f->fd = open(w->path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (f->fd < 0) {
        if (errno == ENOENT)
            return 2;
        if (errno == ELOOP || errno == EACCES) {
            snprintf(why, whylen, "%s",
                     errno == ELOOP ? "it is a symbolic link"
                                    : "this writer may not open it read-write");
            return 0;
        }
        return psm__fail(err, errlen, "segment %s: cannot open %s read-write: %s", w->name, w->path,
                         strerror(errno));
    }
    if (fstat(f->fd, &st) != 0 || !file_trusted(&st, why, whylen) ||
        st.st_size < (off_t)sizeof(struct psm_header)) {
        if (!why[0])
            snprintf(why, whylen, "it is smaller than a header (%lld bytes)",
                     (long long)st.st_size);
        found_release(f);
        return 0;
    }
    f->size = (size_t)st.st_size;
    f->base = mmap(NULL, f->size, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0);
    if (f->base == MAP_FAILED) {
        f->base = NULL;
        found_release(f);
        return psm__fail(err, errlen, "segment %s: mmap failed: %s", w->name, strerror(errno));
    }
    /* Validate with the reader's checks: the writer trusts no more than a reader. */
    if (psm_reader_open_mem(&f->r, f->base, f->size, why, whylen) != 0 ||
        psm_reader_load(f->r) != 0) {
        if (f->r)
            snprintf(why, whylen, "%s", psm_reader_error(f->r));
        /* The reader names an image "(memory)": the caller names the segment. */
        static const char mem[] = "segment (memory): ";
        if (strncmp(why, mem, sizeof mem - 1) == 0)
            memmove(why, why + sizeof mem - 1, strlen(why + sizeof mem - 1) + 1);
        found_release(f);
        return 0;
    }
    pid_t pid;
    if (psm__writer_other_alive(f->r, &pid)) {
        found_release(f);
        errno = EBUSY;
        return psm__fail(err, errlen, "segment %s is in use by another writer, pid %d", w->name,
                         (int)pid);
    }
    struct psm_info in;
    psm_reader_info(f->r, &in);
    if (o && (in.desc_capacity < opt_u32(o->desc_capacity, 256) ||
              in.series_capacity < opt_u32(o->series_capacity, 4096))) {
        snprintf(why, whylen,
                 "its capacities (%u descriptors, %u series) are below those asked for",
                 in.desc_capacity, in.series_capacity);
        found_release(f);
        return 0;
    }
    return 1;
}

int psm__writer_name_probe(psm_writer_t *w, char *why, size_t whylen, char *err, size_t errlen)
{
    struct found f;
    why[0] = '\0';
    int rc = name_inspect(w, NULL, &f, why, whylen, err, errlen);
    if (rc == 1) {
        struct psm_info in;
        psm_reader_info(f.r, &in);
        snprintf(why, whylen, "its writer (pid %d) is gone", (int)in.writer_pid);
        found_release(&f);
        return 0;
    }
    return rc == 2 ? 1 : rc;
}

/*
 * A writer that died mid-observe left a bucket incremented without the count
 * (psm_histogram_observe: bucket, then sum, then count), and every reader would
 * retry on that histogram for ever. Nobody else writes the segment now: make each
 * histogram's count the total of its buckets. Returns how many needed it; @names
 * lists their metrics.
 */
static unsigned writer_repair(psm_writer_t *w, uint32_t nseries, char *names, size_t nameslen)
{
    unsigned repaired = 0;
    size_t used = 0;
    names[0] = '\0';
    for (uint32_t i = 0; i < nseries; i++) {
        const struct psm_series *s = &w->series[i];
        const struct psm_desc *d = &w->descs[s->desc_index];
        if (d->type != PSM_HISTOGRAM)
            continue;
        _Atomic uint64_t *c = (_Atomic uint64_t *)(w->cells + s->cells_off);
        uint64_t total = 0;
        for (unsigned b = 0; b <= d->bucket_count; b++)
            total += atomic_load_explicit(&c[2 + b], memory_order_relaxed);
        if (atomic_load_explicit(&c[0], memory_order_relaxed) == total)
            continue;
        atomic_store_explicit(&c[0], total, memory_order_release);
        if (repaired++ < 4 && used < nameslen) {
            int n = snprintf(names + used, nameslen - used, "%s%.*s", used ? ", " : "",
                             (int)(d->name.len > 64 ? 64 : d->name.len), w->blob + d->name.off);
            used += n > 0 ? (size_t)n : 0;
        }
    }
    return repaired;
}

/*
 * Re-attach to the segment at the name if it is ours, valid, compatible and its
 * writer is gone. Returns 1 attached, 2 nothing there, 0 something to replace
 * (@why says what), -1 an error (@err).
 */
static int writer_attach(psm_writer_t *w, const struct psm_writer_opts *o, char *why, size_t whylen,
                         char *err, size_t errlen)
{
    struct found f;
    int rc = name_inspect(w, o, &f, why, whylen, err, errlen);
    if (rc != 1)
        return rc;
    w->fd = f.fd;
    w->base = f.base;
    w->size = f.size;
    writer_bind(w);
    if (writer_alloc_index(w, err, errlen) != 0) {
        w->fd = -1;
        w->base = NULL;
        found_release(&f);
        return -1;
    }
    f.fd = -1; /* the writer owns the file and the mapping now */
    f.base = NULL;
    uint64_t gen = atomic_load(&w->hdr->generation);
    atomic_store(&w->hdr->generation, gen | 1); /* odd while we take over */
    uint32_t n = psm_reader_series_count(f.r);
    for (uint32_t i = 0; i < n; i++)
        psm__writer_index_insert(w, i);
    char names[320];
    unsigned repaired = writer_repair(w, n, names, sizeof names);
    found_release(&f);
    writer_stamp(w);
    atomic_store_explicit(&w->hdr->generation, (gen | 1) + 1, memory_order_release);
    if (repaired)
        psm__fail(err, errlen,
                  "segment %s: re-attached; repaired %u histogram%s a dead writer left torn "
                  "mid-observation (%s%s): count set to the total of the buckets",
                  w->name, repaired, repaired == 1 ? "" : "s", names, repaired > 4 ? ", ..." : "");
    return 1;
}

int psm_writer_open(psm_writer_t **out, const struct psm_writer_opts *opts,
                    enum psm_open_result *result, char *err, size_t errlen)
{
    static const struct psm_writer_opts defaults;
    const struct psm_writer_opts *o = opts ? opts : &defaults;
    const char *name = o->name ? o->name : PSM_DEFAULT_NAME;
    mode_t mode = o->mode ? o->mode : 0640;
    if (err && errlen)
        err[0] = '\0';
    if (!psm__seg_name_ok(name)) {
        errno = EINVAL;
        return psm__fail(err, errlen,
                         "segment name '%s' is invalid: expected 1-200 characters of "
                         "[A-Za-z0-9._-], or an absolute path shorter than %d bytes ending in "
                         "such a name",
                         name, PSM_MAX_PATH_LEN);
    }
    if ((mode & ~(mode_t)0755) || (mode & 0600) != 0600) {
        errno = EINVAL;
        return psm__fail(err, errlen,
                         "segment %s: mode %04o is not accepted: expected the owner's read and "
                         "write bits and no write bit for group or others (the writer would "
                         "not trust its own segment on re-attach)",
                         name, (unsigned)mode);
    }
    if (o->group && strlen(o->group) >= sizeof((psm_writer_t *)0)->group) {
        errno = EINVAL;
        return psm__fail(err, errlen, "segment %s: group name of %zu bytes is too long", name,
                         strlen(o->group));
    }
    /*
     * The overflow sink is 64-byte aligned (a line of its own): calloc only
     * promises 16, and member access through a misaligned struct is undefined.
     */
    psm_writer_t *w = NULL;
    if (posix_memalign((void **)&w, _Alignof(psm_writer_t), sizeof *w) != 0)
        return psm__fail(err, errlen, "segment %s: out of memory", name);
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
    snprintf(w->name, sizeof w->name, "%s", name);
    psm__seg_path(name, w->path, sizeof w->path);
    snprintf(w->dir, sizeof w->dir, "%s", w->path);
    char *slash = strrchr(w->dir, '/');
    slash[slash == w->dir] = '\0'; /* "/x" lives in "/" */
    w->mode = mode;
    snprintf(w->group, sizeof w->group, "%s", o->group ? o->group : "");
    w->fd = -1;
    w->sink_hist.count = &w->sink[0];
    w->sink_hist.sum = &w->sink[1];
    w->sink_hist.buckets = &w->sink[2];
    w->sink_hist.bucket_count = 0;

    char why[512] = "a fresh segment was asked for";
    int rc = o->replace ? 0 : (why[0] = '\0', writer_attach(w, o, why, sizeof why, err, errlen));
    enum psm_open_result res = rc == 1 ? PSM_OPEN_ATTACHED : PSM_OPEN_CREATED;
    if (rc == 0 || rc == 2) {
        res = rc == 2 ? PSM_OPEN_CREATED : PSM_OPEN_REPLACED;
        rc = writer_create(w, o, err, errlen);
        if (rc == 0 && res == PSM_OPEN_REPLACED)
            psm__fail(err, errlen, "segment %s: replaced %s: %s", w->name, w->path, why);
    }
    if (rc < 0 && o->fallback && w->base == NULL) {
        int cause = errno;
        char what[1024];
        snprintf(what, sizeof what, "%s", err && errlen ? err : "cannot be used");
        struct psm__geometry g;
        if (psm__writer_geometry(w, o, &g, err, errlen) == 0 &&
            psm__writer_open_private(w, &g, err, errlen) == 0) {
            psm__fail(err, errlen,
                      "%s; its metrics are kept in private memory until the name "
                      "can be used",
                      what);
            res = PSM_OPEN_PRIVATE;
            rc = 0;
            errno = cause;
        }
    }
    if (rc < 0) {
        int e = errno;
        psm_writer_close(w);
        errno = e;
        return -1;
    }
    if (result)
        *result = res;
    *out = w;
    return 0;
}

void psm_writer_close(psm_writer_t *w)
{
    if (!w)
        return;
    if (w->base) {
        atomic_store(&w->hdr->writer_pid, 0);
        munmap(w->base, w->size);
    }
    if (w->fd >= 0)
        close(w->fd);
    for (uint32_t i = 0; w->hists && i < w->series_cap; i++)
        free(w->hists[i]);
    free(w->hists);
    free(w->slots);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

void psm_writer_heartbeat(psm_writer_t *w)
{
    atomic_store_explicit(&w->hdr->heartbeat_boottime, psu_clock_boot_ns(), memory_order_relaxed);
}

const char *psm_writer_name(const psm_writer_t *w)
{
    return w->name;
}

/* For writer_file.c and writer_private.c, which build segments the same way. */
int psm__writer_set_owner(int fd, const struct psm_writer_opts *o, const char *what, char *err,
                          size_t errlen)
{
    return set_owner(fd, o, what, err, errlen);
}

void psm__writer_bind(psm_writer_t *w)
{
    writer_bind(w);
}

int psm__writer_alloc_index(psm_writer_t *w, char *err, size_t errlen)
{
    return writer_alloc_index(w, err, errlen);
}

void psm__writer_stamp(psm_writer_t *w)
{
    writer_stamp(w);
}
