/*
 * exporter/log.c - one line per event on stderr.
 *
 * Under systemd (JOURNAL_STREAM is set) each line starts with the sd-daemon
 * priority prefix "<N>", which journald turns into the entry's priority;
 * elsewhere the prefix is left out. The rest is logfmt-like and the same in
 * both cases: "portsyncd-exporter: level=error msg=...".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pex.h"

static enum pex_log_level log_max = PEX_LOG_INFO;
static int log_journal = -1;

void pex_log_set_level(enum pex_log_level level)
{
    log_max = level;
}

int pex_log_level_parse(const char *s, enum pex_log_level *out)
{
    static const struct {
        const char *name;
        enum pex_log_level level;
    } names[] = {{"error", PEX_LOG_ERROR},
                 {"warn", PEX_LOG_WARN},
                 {"info", PEX_LOG_INFO},
                 {"debug", PEX_LOG_DEBUG}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].level;
            return 0;
        }
    }
    return -1;
}

static const char *level_name(enum pex_log_level level)
{
    switch (level) {
    case PEX_LOG_ERROR:
        return "error";
    case PEX_LOG_WARN:
        return "warn";
    case PEX_LOG_INFO:
        return "info";
    default:
        return "debug";
    }
}

void pex_log(enum pex_log_level level, const char *fmt, ...)
{
    if (level > log_max)
        return;
    if (log_journal < 0)
        log_journal = getenv("JOURNAL_STREAM") != NULL;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* A message must stay one line: a newline would split the journal entry. */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    char prefix[8] = "";
    if (log_journal)
        snprintf(prefix, sizeof prefix, "<%d>", (int)level);
    /* One fprintf per line: stderr is unbuffered, so a single write keeps lines whole. */
    fprintf(stderr, "%s" PEX_NAME ": level=%s msg=%s\n", prefix, level_name(level), msg);
}
