/*
 * shm/util/log.c - see psu/log.h.
 *
 * The level and the output are atomics read on every line, so another thread
 * (issue 10: the CONFIG_DB LOGGER|<daemon> watcher) can change them while the
 * daemon runs, without a lock on the path of every log line. Everything else
 * is written once, by psu_log_init(), before other threads exist.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "psu/clock.h"
#include "psu/log.h"

/* The enum is the syslog priorities: psu_log() hands a level to syslog(3) as is. */
_Static_assert(PSU_LOG_EMERG == LOG_EMERG && PSU_LOG_ALERT == LOG_ALERT &&
                   PSU_LOG_CRIT == LOG_CRIT && PSU_LOG_ERROR == LOG_ERR &&
                   PSU_LOG_WARN == LOG_WARNING && PSU_LOG_NOTICE == LOG_NOTICE &&
                   PSU_LOG_INFO == LOG_INFO && PSU_LOG_DEBUG == LOG_DEBUG,
               "psu_log levels are syslog priorities");

static const char *const level_names[] = {"EMERG", "ALERT",  "CRIT", "ERROR",
                                          "WARN",  "NOTICE", "INFO", "DEBUG"};
static const char *const output_names[] = {"STDERR", "STDOUT", "SYSLOG"};

static atomic_int log_level = PSU_LOG_NOTICE;
static atomic_int log_output = PSU_LOG_STDERR;
/* openlog(3) keeps the pointer it is given: the ident lives here for good. */
static char log_ident[64];
/* Per descriptor (1 stdout, 2 stderr): is it the stream systemd gave to the journal? */
static int log_journal[3];
static pthread_once_t syslog_once = PTHREAD_ONCE_INIT;

static const char *ident_get(void)
{
    return log_ident[0] ? log_ident : program_invocation_short_name;
}

/*
 * systemd sets JOURNAL_STREAM to "<device>:<inode>" of the stream it connected
 * to the journal; the variable is inherited by children whose stderr may go
 * elsewhere, so only a descriptor that is that very stream counts.
 */
static int fd_is_journal(int fd, const char *stream)
{
    unsigned long long dev, ino;
    char extra;
    struct stat st;
    if (!stream || sscanf(stream, "%llu:%llu%c", &dev, &ino, &extra) != 2)
        return 0;
    if (fstat(fd, &st) != 0)
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void psu_log_init(const char *ident, enum psu_log_level level, enum psu_log_output output)
{
    if (ident)
        snprintf(log_ident, sizeof log_ident, "%s", ident);
    const char *stream = getenv("JOURNAL_STREAM");
    log_journal[STDOUT_FILENO] = fd_is_journal(STDOUT_FILENO, stream);
    log_journal[STDERR_FILENO] = fd_is_journal(STDERR_FILENO, stream);
    psu_log_level_set((int)level);
    psu_log_output_set((int)output);
}

int psu_log_level_parse(const char *s)
{
    /* The older spellings: syslog's (err, warning) and the binaries' lower-case ones. */
    static const struct {
        const char *name;
        int level;
    } aliases[] = {{"err", PSU_LOG_ERROR}, {"warning", PSU_LOG_WARN}};
    if (!s)
        return -1;
    for (int i = 0; i <= PSU_LOG_DEBUG; i++)
        if (strcasecmp(s, level_names[i]) == 0)
            return i;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcasecmp(s, aliases[i].name) == 0)
            return aliases[i].level;
    return -1;
}

const char *psu_log_level_name(int level)
{
    return level >= 0 && level <= PSU_LOG_DEBUG ? level_names[level] : "UNKNOWN";
}

int psu_log_output_parse(const char *s)
{
    if (!s)
        return -1;
    for (int i = 0; i <= PSU_LOG_SYSLOG; i++)
        if (strcasecmp(s, output_names[i]) == 0)
            return i;
    return -1;
}

const char *psu_log_output_name(int output)
{
    return output >= 0 && output <= PSU_LOG_SYSLOG ? output_names[output] : "UNKNOWN";
}

void psu_log_level_set(int level)
{
    if (level >= PSU_LOG_EMERG && level <= PSU_LOG_DEBUG)
        atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

enum psu_log_level psu_log_level_get(void)
{
    return (enum psu_log_level)atomic_load_explicit(&log_level, memory_order_relaxed);
}

static void syslog_open(void)
{
    openlog(ident_get(), LOG_PID, LOG_USER);
}

void psu_log_output_set(int output)
{
    if (output < PSU_LOG_STDERR || output > PSU_LOG_SYSLOG)
        return;
    /* Opened before the store: a thread that sees SYSLOG finds syslog open. */
    if (output == PSU_LOG_SYSLOG)
        pthread_once(&syslog_once, syslog_open);
    atomic_store_explicit(&log_output, output, memory_order_release);
}

enum psu_log_output psu_log_output_get(void)
{
    return (enum psu_log_output)atomic_load_explicit(&log_output, memory_order_acquire);
}

int psu_log_enabled(int level)
{
    return level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

/* The prefix of @style into @buf (size >= 1); returns its length, clamped to size - 1. */
static size_t format_prefix(char *buf, size_t size, enum psu_log_style style, int level,
                            const char *ident, int pid, uint64_t real_ns)
{
    int n = 0;
    if (style == PSU_LOG_STYLE_PLAIN) {
        time_t sec = (time_t)(real_ns / 1000000000u);
        unsigned ms = (unsigned)(real_ns / 1000000u % 1000u);
        struct tm tm;
        gmtime_r(&sec, &tm);
        n = snprintf(buf, size,
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ %s[%d] %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms,
                     ident ? ident : "", pid, psu_log_level_name(level));
    } else if (style == PSU_LOG_STYLE_JOURNAL) {
        /* The sd-daemon(3) prefix: journald takes the priority from it and strips it. */
        n = snprintf(buf, size, "<%d>%s: ", level & 7, psu_log_level_name(level));
    } else {
        buf[0] = '\0';
    }
    if (n < 0)
        n = 0;
    return (size_t)n < size ? (size_t)n : size - 1;
}

size_t psu_log_format(char *buf, size_t size, enum psu_log_style style, int level,
                      const char *ident, int pid, uint64_t real_ns, const char *msg)
{
    if (size < 16) {
        if (size)
            buf[0] = '\0';
        return 0;
    }
    int newline = style != PSU_LOG_STYLE_SYSLOG;
    /* Room for the newline and the NUL, and at least "..." of the message. */
    size_t len = format_prefix(buf, size - 4 - (size_t)newline, style, level, ident, pid, real_ns);
    size_t room = size - 1 - (size_t)newline - len;
    size_t mlen = msg ? strlen(msg) : 0;
    int cut = mlen > room;
    size_t take = cut ? room - 3 : mlen;
    for (size_t i = 0; i < take; i++) {
        char c = msg[i];
        /* One message, one line: a newline would split it into two entries. */
        buf[len++] = c == '\n' || c == '\r' ? ' ' : c;
    }
    if (cut) {
        memcpy(buf + len, "...", 3);
        len += 3;
    }
    if (newline)
        buf[len++] = '\n';
    buf[len] = '\0';
    return len;
}

/* write(2) the whole line, once: a line never shares a write with another thread's. */
static void write_line(int fd, const char *line, size_t len)
{
    ssize_t w;
    do
        w = write(fd, line, len);
    while (w < 0 && errno == EINTR);
}

void psu_log_v(int level, const char *fmt, va_list ap)
{
    if (level < PSU_LOG_EMERG)
        level = PSU_LOG_EMERG;
    if (level > PSU_LOG_DEBUG)
        level = PSU_LOG_DEBUG;
    if (!psu_log_enabled(level))
        return;
    int saved = errno; /* callers log with %m or errno after this call */
    /* The message alone may fill a line: psu_log_format() then cuts it with "...". */
    char msg[PSU_LOG_LINE_MAX];
    char line[PSU_LOG_LINE_MAX + 1];
    if (vsnprintf(msg, sizeof msg, fmt, ap) >= (int)sizeof msg)
        memcpy(msg + sizeof msg - 4, "...", 3); /* cut here already: say so on every output */
    int output = (int)psu_log_output_get();
    if (output == PSU_LOG_SYSLOG) {
        pthread_once(&syslog_once, syslog_open);
        psu_log_format(line, sizeof line, PSU_LOG_STYLE_SYSLOG, level, NULL, 0, 0, msg);
        syslog(LOG_USER | level, "%s", line);
    } else {
        int fd = output == PSU_LOG_STDOUT ? STDOUT_FILENO : STDERR_FILENO;
        enum psu_log_style style = log_journal[fd] ? PSU_LOG_STYLE_JOURNAL : PSU_LOG_STYLE_PLAIN;
        size_t len = psu_log_format(line, sizeof line, style, level, ident_get(), (int)getpid(),
                                    psu_clock_real_ns(), msg);
        write_line(fd, line, len);
    }
    errno = saved;
}

void psu_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    psu_log_v(level, fmt, ap);
    va_end(ap);
}
