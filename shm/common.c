/*
 * shm/common.c - layout hash and the validators the writer and the reader share,
 * so both sides agree on what a valid name, string and segment name are.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

int psm__fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

uint64_t psm_layout_hash(void)
{
    /* Every size and offset a reader relies on; change any and the hash changes. */
    const uint64_t shape[] = {
        sizeof(struct psm_header),
        offsetof(struct psm_header, generation),
        offsetof(struct psm_header, writer_pid),
        offsetof(struct psm_header, heartbeat_boottime),
        offsetof(struct psm_header, desc_capacity),
        offsetof(struct psm_header, series_count),
        offsetof(struct psm_header, cells_size),
        offsetof(struct psm_header, blob_used),
        offsetof(struct psm_header, overflow_cells),
        sizeof(struct psm_desc),
        offsetof(struct psm_desc, bounds_off),
        offsetof(struct psm_desc, name),
        offsetof(struct psm_desc, label_names),
        sizeof(struct psm_series),
        offsetof(struct psm_series, labels),
        offsetof(struct psm_series, cells_off),
        sizeof(struct psm_str),
        PSM_LINE,
        PSM_MAX_LABELS,
        PSM_MAX_BUCKETS,
        psm_type_cells(PSM_HISTOGRAM, 0),
    };
    return fnv1a(UINT64_C(0xcbf29ce484222325), shape, sizeof shape);
}

static int is_alpha_(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

int psm__metric_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > PSM_MAX_NAME_LEN)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(is_alpha_(c) || c == ':' || (i > 0 && is_digit(c))))
            return 0;
    }
    return 1;
}

int psm__label_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > PSM_MAX_NAME_LEN || (len >= 2 && s[0] == '_' && s[1] == '_'))
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(is_alpha_(c) || (i > 0 && is_digit(c))))
            return 0;
    }
    return 1;
}

int psm__utf8_ok(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        unsigned char c = *p;
        if (c == 0)
            return 0;
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            n = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if ((size_t)(end - p) < n)
            return 0;
        for (size_t i = 1; i < n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        p += n;
    }
    return 1;
}

int psm__shm_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 200 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!(is_alpha_(c) || is_digit(c) || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

int psm__seg_name_ok(const char *name)
{
    if (name[0] != '/')
        return psm__shm_name_ok(name);
    size_t n = strlen(name);
    const char *base = strrchr(name, '/') + 1;
    /* The writer builds "<path>.tmp.<pid>" beside it: leave room for that. */
    return n < PSM_MAX_PATH_LEN && psm__shm_name_ok(base);
}

int psm__seg_path(const char *name, char *path, size_t pathlen)
{
    if (!psm__seg_name_ok(name)) {
        errno = EINVAL;
        return -1;
    }
    int n = name[0] == '/' ? snprintf(path, pathlen, "%s", name)
                           : snprintf(path, pathlen, "/dev/shm/%s", name);
    if (n < 0 || (size_t)n >= pathlen) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

void psm__printable(const char *s, size_t len, char *out, size_t outlen)
{
    size_t o = 0;
    if (outlen == 0)
        return;
    for (size_t i = 0; i < len && i < 64 && o + 5 < outlen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f)
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
    }
    out[o] = '\0';
}

uint64_t psm__boottime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int psm__proc_stat(int pid, char *state, uint64_t *start_ticks)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* comm may contain spaces and parentheses: fields resume after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    /* After ')' come field 3 (state) onwards; starttime is field 22. */
    unsigned long long v = 0;
    char st = 0;
    for (int field = 3; field <= 22; field++) {
        while (*p == ' ')
            p++;
        if (field == 3)
            st = *p;
        if (field == 22) {
            if (sscanf(p, "%llu", &v) != 1)
                return -1;
            break;
        }
        while (*p && *p != ' ')
            p++;
    }
    if (!st)
        return -1;
    *state = st;
    *start_ticks = v;
    return 0;
}

uint64_t psm__proc_start_ticks(int pid)
{
    char state;
    uint64_t ticks;
    return psm__proc_stat(pid, &state, &ticks) == 0 ? ticks : 0;
}

int psm__proc_is_own(void)
{
    /* /proc/self names the caller as the mounting namespace numbers it. */
    char buf[32];
    ssize_t n = readlink("/proc/self", buf, sizeof buf - 1);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *end;
    long v = strtol(buf, &end, 10);
    return *end == '\0' && v == (long)getpid();
}

int psm__pidns_self(uint64_t *dev, uint64_t *ino)
{
    struct stat st;
    if (stat("/proc/self/ns/pid", &st) != 0) {
        *dev = *ino = 0;
        return -1;
    }
    *dev = (uint64_t)st.st_dev;
    *ino = (uint64_t)st.st_ino;
    return 0;
}
