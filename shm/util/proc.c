/*
 * shm/util/proc.c - see psu/proc.h.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "psu/clock.h"
#include "psu/proc.h"

/* Remember the first failure's errno, as the return value promises. */
static void failed(int *first)
{
    if (!*first)
        *first = errno ? errno : EIO;
}

static void sample_memory(struct psu_proc_stats *st, int *first)
{
    unsigned long vpages, rpages;
    FILE *f = fopen("/proc/self/statm", "re");
    if (!f)
        return failed(first);
    int n = fscanf(f, "%lu %lu", &vpages, &rpages);
    fclose(f);
    if (n != 2) {
        errno = EPROTO;
        return failed(first);
    }
    double page = (double)sysconf(_SC_PAGESIZE);
    st->virtual_bytes = (double)vpages * page;
    st->resident_bytes = (double)rpages * page;
    st->have |= PSU_PROC_VIRTUAL | PSU_PROC_RESIDENT;
}

static void sample_cpu(struct psu_proc_stats *st, int *first)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return failed(first);
    st->cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                      (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    st->have |= PSU_PROC_CPU;
}

static void sample_fds(struct psu_proc_stats *st, int *first)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return failed(first);
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    st->open_fds = (double)(n - 1); /* the directory's own descriptor */
    st->have |= PSU_PROC_OPEN_FDS;

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return failed(first);
    st->max_fds = rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur;
    st->have |= PSU_PROC_MAX_FDS;
}

/*
 * Field 22 of /proc/self/stat is when the process started, in clock ticks
 * after boot (boot time includes suspend, as CLOCK_BOOTTIME does). Its age is
 * then boottime now - start, and its wall-clock start is realtime now - age.
 * The command name (field 2) may hold spaces and parentheses: fields are
 * counted after its last ')'.
 */
static void sample_start(struct psu_proc_stats *st, int *first)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "re");
    if (!f)
        return failed(first);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long long ticks = 0;
    int field = 2, found = 0;
    for (char *save = NULL, *t = p ? strtok_r(p + 1, " ", &save) : NULL; t;
         t = strtok_r(NULL, " ", &save)) {
        if (++field == 22) {
            char *end;
            errno = 0;
            ticks = strtoull(t, &end, 10);
            found = errno == 0 && end != t;
            break;
        }
    }
    long hz = sysconf(_SC_CLK_TCK);
    if (!found || hz <= 0) {
        errno = EPROTO;
        return failed(first);
    }
    double age = (double)psu_clock_boot_ns() / 1e9 - (double)ticks / (double)hz;
    st->start_time = (double)psu_clock_real_ns() / 1e9 - (age > 0 ? age : 0);
    st->have |= PSU_PROC_START_TIME;
}

int psu_proc_sample(struct psu_proc_stats *st)
{
    int first = 0;
    memset(st, 0, sizeof *st);
    errno = 0;
    sample_memory(st, &first);
    sample_cpu(st, &first);
    sample_fds(st, &first);
    sample_start(st, &first);
    if (first) {
        errno = first;
        return -1;
    }
    return 0;
}
