/*
 * core/log.c - see log.h. Each line is formatted into one buffer and written
 * with a single write(2), so lines from two threads never interleave.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *prog_name = "portsyncd";
static int max_lvl = LOG_INFO;
static int journal;

static const char *const names[] = {"emerg",   "alert",  "crit", "error",
                                    "warning", "notice", "info", "debug"};

void pcd_log_init(const char *prog, int max_level)
{
    prog_name = prog;
    max_lvl = max_level;
    journal = getenv("JOURNAL_STREAM") != NULL;
}

int pcd_log_level_parse(const char *s)
{
    for (int i = LOG_ERR; i <= LOG_DEBUG; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    if (strcmp(s, "warn") == 0)
        return LOG_WARNING;
    return -1;
}

void pcd_log(int level, const char *fmt, ...)
{
    if (level > max_lvl)
        return;
    char line[2048];
    int n;
    if (journal) {
        n = snprintf(line, sizeof line, "<%d>", level);
    } else {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = snprintf(line, sizeof line,
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, prog_name, (int)getpid(), names[level]);
    }
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
