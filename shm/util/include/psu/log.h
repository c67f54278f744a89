/*
 * psu/log.h - the one logger of portsyncd's binaries: one line format, one set
 * of level names (SONiC's), three outputs, all changeable at run time.
 *
 * Levels are SONiC's swss log levels, which are the syslog priorities:
 *
 *   EMERG 0  ALERT 1  CRIT 2  ERROR 3  WARN 4  NOTICE 5  INFO 6  DEBUG 7
 *
 * A line is written when its level is at most the configured one (DEBUG shows
 * everything). What a line looks like depends on where it goes:
 *
 *   stderr/stdout    2026-12-01T09:25:00.123Z portsyncd[1234] NOTICE: message
 *   ... to journald  <5>NOTICE: message        (journald adds time, name, pid)
 *   syslog           message                   (syslog(3) records the rest)
 *
 * "To journald" means the stream is the one systemd connected to the journal:
 * JOURNAL_STREAM names its device and inode, and the descriptor matches them.
 * A message is always one line (newlines and carriage returns become spaces),
 * at most PSU_LOG_LINE_MAX bytes (a longer one ends in "..."), and goes out in
 * one write(2), so lines from several threads never interleave.
 *
 * Threads: psu_log_init() runs before any other thread logs; after that every
 * function here may be called from any thread, the setters included (level
 * and output are atomics; syslog is opened once, on first use).
 */
#ifndef PSU_LOG_H
#define PSU_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* SONiC's levels, numerically the syslog priorities (LOG_EMERG .. LOG_DEBUG). */
enum psu_log_level {
    PSU_LOG_EMERG = 0,
    PSU_LOG_ALERT = 1,
    PSU_LOG_CRIT = 2,
    PSU_LOG_ERROR = 3,
    PSU_LOG_WARN = 4,
    PSU_LOG_NOTICE = 5,
    PSU_LOG_INFO = 6,
    PSU_LOG_DEBUG = 7,
};

/* Where lines go: SONiC's LOGOUTPUT values. */
enum psu_log_output {
    PSU_LOG_STDERR = 0,
    PSU_LOG_STDOUT = 1,
    PSU_LOG_SYSLOG = 2,
};

/* How psu_log_format() lays a line out (psu_log() picks it from the output). */
enum psu_log_style {
    PSU_LOG_STYLE_PLAIN,   /* "<time> <ident>[<pid>] <LEVEL>: <message>\n" */
    PSU_LOG_STYLE_JOURNAL, /* "<N><LEVEL>: <message>\n" */
    PSU_LOG_STYLE_SYSLOG,  /* "<message>" */
};

/* The longest line written, newline included; well under PIPE_BUF, so one write is atomic. */
#define PSU_LOG_LINE_MAX 2048

/**
 * psu_log_init - name the program and set the starting level and output
 * @ident: the program name for lines and for syslog (copied; at most 63 bytes
 *         kept), e.g. "portsyncd"; NULL keeps the default, the executable's name
 * @level: the least severe level written (enum psu_log_level)
 * @output: where lines go (enum psu_log_output)
 *
 * Also finds out whether stderr and stdout are connected to the journal. Call
 * it once, before other threads log. Until it is called, lines go to stderr at
 * NOTICE and above under the executable's name.
 */
void psu_log_init(const char *ident, enum psu_log_level level, enum psu_log_output output);

/**
 * psu_log_level_parse - a level from its name
 * @s: SONiC's name (EMERG ALERT CRIT ERROR WARN NOTICE INFO DEBUG) or one of
 *     the older spellings (emerg alert crit error err warning warn notice info
 *     debug); case does not matter
 *
 * Returns the enum psu_log_level, or -1 when @s names no level (or is NULL).
 */
int psu_log_level_parse(const char *s);

/**
 * psu_log_level_name - SONiC's name of a level
 * @level: an enum psu_log_level
 *
 * Returns "EMERG" .. "DEBUG", or "UNKNOWN" for a value outside 0..7.
 */
const char *psu_log_level_name(int level);

/**
 * psu_log_output_parse - an output from its name
 * @s: "STDERR", "STDOUT" or "SYSLOG" (SONiC's LOGOUTPUT values), any case
 *
 * Returns the enum psu_log_output, or -1 when @s names no output (or is NULL).
 */
int psu_log_output_parse(const char *s);

/**
 * psu_log_output_name - SONiC's name of an output
 * @output: an enum psu_log_output
 *
 * Returns "STDERR", "STDOUT", "SYSLOG", or "UNKNOWN".
 */
const char *psu_log_output_name(int output);

/**
 * psu_log_level_set - change the least severe level written, from any thread
 * @level: an enum psu_log_level; values outside 0..7 are ignored
 */
void psu_log_level_set(int level);

/** psu_log_level_get - the least severe level written now */
enum psu_log_level psu_log_level_get(void);

/**
 * psu_log_output_set - send the following lines elsewhere, from any thread
 * @output: an enum psu_log_output; other values are ignored
 *
 * The first switch to PSU_LOG_SYSLOG opens syslog (openlog(3): the ident from
 * psu_log_init(), LOG_PID, facility LOG_USER, as SONiC's daemons do).
 */
void psu_log_output_set(int output);

/** psu_log_output_get - where lines go now */
enum psu_log_output psu_log_output_get(void);

/**
 * psu_log_enabled - would a line at @level be written now?
 * @level: an enum psu_log_level
 *
 * For callers whose message is costly to build. Returns 1 or 0.
 */
int psu_log_enabled(int level);

/**
 * psu_log - write one line at @level, if the level is enabled
 * @level: an enum psu_log_level
 * @fmt: printf format of the message (no newline needed; any becomes a space)
 *
 * Never fails visibly: a line that cannot be written is lost (there is nobody
 * to tell). Safe from any thread.
 */
void psu_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** psu_log_v - psu_log() with a va_list */
void psu_log_v(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/**
 * psu_log_format - lay out one line as psu_log() writes it (pure: for tests)
 * @buf: receives the line, NUL-terminated
 * @size: size of @buf, at least 16 (PSU_LOG_LINE_MAX + 1 holds any line)
 * @style: the layout
 * @level: the line's level
 * @ident: the program name (PSU_LOG_STYLE_PLAIN only)
 * @pid: the process id (PSU_LOG_STYLE_PLAIN only)
 * @real_ns: CLOCK_REALTIME in nanoseconds (PSU_LOG_STYLE_PLAIN only)
 * @msg: the message; newlines and carriage returns become spaces
 *
 * The line ends with a newline except in PSU_LOG_STYLE_SYSLOG; one that does
 * not fit ends in "..." (then the newline). Returns the length written,
 * without the NUL.
 */
size_t psu_log_format(char *buf, size_t size, enum psu_log_style style, int level,
                      const char *ident, int pid, uint64_t real_ns, const char *msg);

/* One macro per level: psu_log_error("redis %s: %s", where, why). */
#define psu_log_emerg(...)  psu_log(PSU_LOG_EMERG, __VA_ARGS__)
#define psu_log_alert(...)  psu_log(PSU_LOG_ALERT, __VA_ARGS__)
#define psu_log_crit(...)   psu_log(PSU_LOG_CRIT, __VA_ARGS__)
#define psu_log_error(...)  psu_log(PSU_LOG_ERROR, __VA_ARGS__)
#define psu_log_warn(...)   psu_log(PSU_LOG_WARN, __VA_ARGS__)
#define psu_log_notice(...) psu_log(PSU_LOG_NOTICE, __VA_ARGS__)
#define psu_log_info(...)   psu_log(PSU_LOG_INFO, __VA_ARGS__)
#define psu_log_debug(...)  psu_log(PSU_LOG_DEBUG, __VA_ARGS__)

#endif
