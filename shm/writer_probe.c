/*
 * shm/writer_probe.c - what is at a segment's name, as far as a writer taking
 * the name goes: nothing, a segment of ours whose writer is gone (to
 * re-attach), something to replace (and why), or something not to touch
 * (another live writer, a directory, a foreign file in a sticky directory).
 *
 * The writer trusts a found file no more than a reader does: the reader's
 * file rules (trust.c), the reader's validation of every record, and the
 * reader's liveness verdict on the writer recorded in it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "psm/reader.h"
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

/*
 * 1 if native buckets of the segment @r maps may lack observations, @why saying
 * which: the last writer to attach was a release that keeps no native buckets
 * (it sets writer_start_realtime but not native_writer_start), and a histogram
 * has them. That writer counted its observations in the classic buckets, sum
 * and count only, so the native buckets add up to less than the count, and
 * nothing tells which buckets the missing observations belong in.
 */
static int native_missed(const psm_reader_t *r, char *why, size_t whylen)
{
    struct psm_info in;
    psm_reader_info(r, &in);
    if (in.minor < 2 || in.native_writer_start == in.writer_start_realtime)
        return 0;
    for (uint32_t i = 0; i < psm_reader_desc_count(r); i++) {
        const struct psm_desc_view *d = psm_reader_desc(r, i);
        if (d->native_count) {
            snprintf(why, whylen,
                     "its last writer (pid %d) keeps no native buckets, so those of %.*s may "
                     "lack its observations",
                     (int)in.writer_pid, (int)(d->name.len > 200 ? 200 : d->name.len), d->name.p);
            return 1;
        }
    }
    return 0;
}

/* 1 if another live process writes the segment @r maps, with its pid in *@pid. */
static int other_alive(const psm_reader_t *r, pid_t *pid)
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

void psm__writer_found_release(struct psm__found *f)
{
    psm_reader_close(f->r);
    if (f->base)
        munmap(f->base, f->size);
    if (f->fd >= 0)
        close(f->fd);
    *f = (struct psm__found){.fd = -1};
}

int psm__writer_name_inspect(psm_writer_t *w, const struct psm_writer_opts *o, struct psm__found *f,
                             char *why, size_t whylen, char *err, size_t errlen)
{
    *f = (struct psm__found){.fd = -1};
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
        psm__writer_found_release(f);
        return 0;
    }
    f->size = (size_t)st.st_size;
    f->base = mmap(NULL, f->size, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0);
    if (f->base == MAP_FAILED) {
        f->base = NULL;
        psm__writer_found_release(f);
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
        psm__writer_found_release(f);
        return 0;
    }
    pid_t pid;
    if (other_alive(f->r, &pid)) {
        psm__writer_found_release(f);
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
        psm__writer_found_release(f);
        return 0;
    }
    if (native_missed(f->r, why, whylen)) {
        psm__writer_found_release(f);
        return 0;
    }
    return 1;
}

int psm__writer_name_probe(psm_writer_t *w, char *why, size_t whylen, char *err, size_t errlen)
{
    struct psm__found f;
    why[0] = '\0';
    int rc = psm__writer_name_inspect(w, NULL, &f, why, whylen, err, errlen);
    if (rc == 1) {
        struct psm_info in;
        psm_reader_info(f.r, &in);
        snprintf(why, whylen, "its writer (pid %d) is gone", (int)in.writer_pid);
        psm__writer_found_release(&f);
        return 0;
    }
    return rc == 2 ? 1 : rc;
}
