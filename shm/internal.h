/*
 * shm/internal.h - helpers shared by the writer, reader and renderer of
 * libpsmetrics. Not installed; nothing outside shm/ includes it.
 */
#ifndef PSM_INTERNAL_H
#define PSM_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "psm/segment.h"

/* Writes "fmt..." into err (if errlen > 0); returns -1 so callers can return it. */
int psm__fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* 1 if s[0..len) is a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*). */
int psm__metric_name_ok(const char *s, size_t len);

/* 1 if s[0..len) is a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not __*). */
int psm__label_name_ok(const char *s, size_t len);

/* 1 if s[0..len) is well-formed UTF-8 without NUL bytes. */
int psm__utf8_ok(const char *s, size_t len);

/* 1 if name is a valid shm name: 1..200 bytes of [A-Za-z0-9._-], not "." or "..". */
int psm__shm_name_ok(const char *name);

/*
 * 1 if name names a segment: an shm name (the file /dev/shm/NAME), or an absolute
 * path shorter than PSM_MAX_PATH_LEN whose last component is a valid shm name.
 */
int psm__seg_name_ok(const char *name);

/*
 * The file behind a segment name: /dev/shm/NAME for an shm name, the path itself
 * for an absolute path. Returns 0, or -1 with errno EINVAL (not a segment name) or
 * ENAMETOOLONG (@pathlen too small).
 */
int psm__seg_path(const char *name, char *path, size_t pathlen);

/* Copy s[0..len) into out for an error message: non-printable bytes as \xNN,
 * at most 64 input bytes, always NUL-terminated. */
void psm__printable(const char *s, size_t len, char *out, size_t outlen);

/* CLOCK_BOOTTIME in nanoseconds. */
uint64_t psm__boottime_ns(void);

/* The PID namespace of the caller: st_dev and st_ino of /proc/self/ns/pid. Returns 0,
 * or -1 with both 0 when /proc is not mounted. */
int psm__pidns_self(uint64_t *dev, uint64_t *ino);

/* starttime (field 22 of /proc/<pid>/stat), or 0 if it cannot be read. */
uint64_t psm__proc_start_ticks(int pid);

/* State (field 3: R, S, D, Z, ...) and starttime of /proc/<pid>/stat. Returns 0, or -1
 * when it cannot be read (no such process, /proc hidden or not mounted). */
int psm__proc_stat(int pid, char *state, uint64_t *start_ticks);

/* 1 if /proc belongs to the caller's PID namespace (/proc/self is getpid()): only then
 * do /proc/<pid> entries describe the pids the caller sees. */
int psm__proc_is_own(void);

/* "a FIFO", "a directory", "a socket", ...: what a file of @mode is, for messages. */
const char *psm__file_kind(mode_t mode);

struct stat;
/*
 * 0 if @st is a file a reader trusts: a regular file owned by @owner that neither
 * group nor others may write. Otherwise -1 with errno EPERM (ELOOP for a symbolic
 * link) and @err saying "<where> is a FIFO..." / "is owned by uid N (name),
 * expected uid M (name)" / "has mode 0666: group or others may write it".
 */
int psm__stat_trusted(const struct stat *st, uid_t owner, const char *where, char *err,
                      size_t errlen);

struct psm_reader;
/* Start of the mapped cell area of a reader (for offset checks). */
const void *psm__reader_cells_base(const struct psm_reader *r);

/* Descriptor index of validated series @i: what grouping needs, without building a view. */
uint32_t psm__reader_series_desc(const struct psm_reader *r, uint32_t i);

struct psm_buf;
/*
 * Scratch memory a reader keeps for psm_render(), so a render allocates nothing
 * once warm and leaves nothing behind if the caller has to abandon it (a guard
 * that longjmps out on SIGBUS). Fills *start (ndesc + 1 zeroed entries), *fill
 * (ndesc + 1 zeroed), *order (nseries) and *labels; returns -1 when out of memory.
 */
int psm__reader_scratch(struct psm_reader *r, uint32_t ndesc, uint32_t nseries, uint32_t **start,
                        uint32_t **fill, uint32_t **order, struct psm_buf **labels);

#endif
