/*
 * tests/unit/test_util_log.c - psu_log (shm/util/log.c): the level names both
 * daemons accept, the one line format on each output, and lines that stay
 * whole (one line per message, one write per line) from several threads.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "psu/log.h"

/* 2026-12-01T09:25:00.123Z */
#define T_NS (UINT64_C(1796117100) * 1000000000u + 123456789u)

Test(log, sonic_level_names_parse_in_any_case)
{
    const char *names[] = {"EMERG", "ALERT", "CRIT", "ERROR", "WARN", "NOTICE", "INFO", "DEBUG"};
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(psu_log_level_parse(names[i]), i, "%s", names[i]);
        char lower[16];
        for (size_t k = 0; k <= strlen(names[i]); k++)
            lower[k] = (char)(names[i][k] | (names[i][k] ? 0x20 : 0));
        cr_assert_eq(psu_log_level_parse(lower), i, "%s", lower);
    }
    cr_assert_eq(psu_log_level_parse("Notice"), PSU_LOG_NOTICE);
}

Test(log, the_old_spellings_still_parse)
{
    cr_assert_eq(psu_log_level_parse("error"), PSU_LOG_ERROR);
    cr_assert_eq(psu_log_level_parse("err"), PSU_LOG_ERROR);
    cr_assert_eq(psu_log_level_parse("warning"), PSU_LOG_WARN);
    cr_assert_eq(psu_log_level_parse("warn"), PSU_LOG_WARN);
    cr_assert_eq(psu_log_level_parse("notice"), PSU_LOG_NOTICE);
    cr_assert_eq(psu_log_level_parse("info"), PSU_LOG_INFO);
    cr_assert_eq(psu_log_level_parse("debug"), PSU_LOG_DEBUG);
    cr_assert_eq(psu_log_level_parse("emerg"), PSU_LOG_EMERG);
    cr_assert_eq(psu_log_level_parse("alert"), PSU_LOG_ALERT);
    cr_assert_eq(psu_log_level_parse("crit"), PSU_LOG_CRIT);
}

Test(log, anything_else_is_no_level)
{
    const char *bad[] = {"", "loud", "5", "DEBUG ", " info", "inf", "warnings", "ERR0R"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(psu_log_level_parse(bad[i]), -1, "'%s'", bad[i]);
    cr_assert_eq(psu_log_level_parse(NULL), -1);
}

Test(log, level_names_are_sonics)
{
    cr_assert_str_eq(psu_log_level_name(PSU_LOG_ERROR), "ERROR");
    cr_assert_str_eq(psu_log_level_name(PSU_LOG_WARN), "WARN");
    cr_assert_str_eq(psu_log_level_name(PSU_LOG_NOTICE), "NOTICE");
    cr_assert_str_eq(psu_log_level_name(PSU_LOG_DEBUG), "DEBUG");
    cr_assert_str_eq(psu_log_level_name(8), "UNKNOWN");
    cr_assert_str_eq(psu_log_level_name(-1), "UNKNOWN");
    for (int i = 0; i < 8; i++)
        cr_assert_eq(psu_log_level_parse(psu_log_level_name(i)), i, "name and parse agree");
}

Test(log, outputs_are_sonics_logoutput_values)
{
    cr_assert_eq(psu_log_output_parse("SYSLOG"), PSU_LOG_SYSLOG);
    cr_assert_eq(psu_log_output_parse("stdout"), PSU_LOG_STDOUT);
    cr_assert_eq(psu_log_output_parse("Stderr"), PSU_LOG_STDERR);
    cr_assert_eq(psu_log_output_parse("file"), -1);
    cr_assert_eq(psu_log_output_parse(NULL), -1);
    cr_assert_str_eq(psu_log_output_name(PSU_LOG_SYSLOG), "SYSLOG");
    cr_assert_str_eq(psu_log_output_name(7), "UNKNOWN");
}

Test(log, a_plain_line_has_utc_time_ident_pid_and_level)
{
    char line[256];
    size_t n = psu_log_format(line, sizeof line, PSU_LOG_STYLE_PLAIN, PSU_LOG_NOTICE, "portsyncd",
                              1234, T_NS, "hello");
    cr_assert_str_eq(line, "2026-12-01T09:25:00.123Z portsyncd[1234] NOTICE: hello\n");
    cr_assert_eq(n, strlen(line));
}

Test(log, a_journal_line_has_the_priority_prefix_and_the_level)
{
    char line[256];
    psu_log_format(line, sizeof line, PSU_LOG_STYLE_JOURNAL, PSU_LOG_WARN, "portsyncd", 1, T_NS,
                   "queue full");
    cr_assert_str_eq(line, "<4>WARN: queue full\n");
    psu_log_format(line, sizeof line, PSU_LOG_STYLE_JOURNAL, PSU_LOG_DEBUG, NULL, 0, 0, "x");
    cr_assert_str_eq(line, "<7>DEBUG: x\n");
}

Test(log, a_syslog_message_is_the_message_alone)
{
    char line[256];
    size_t n = psu_log_format(line, sizeof line, PSU_LOG_STYLE_SYSLOG, PSU_LOG_ERROR, "portsyncd",
                              1, T_NS, "redis lost");
    cr_assert_str_eq(line, "redis lost", "syslog(3) records priority, time, ident and pid");
    cr_assert_eq(n, 10);
}

Test(log, a_message_stays_one_line)
{
    char line[256];
    psu_log_format(line, sizeof line, PSU_LOG_STYLE_JOURNAL, PSU_LOG_INFO, NULL, 0, 0,
                   "two\nlines\r\nhere\n");
    cr_assert_str_eq(line, "<6>INFO: two lines  here \n");
    psu_log_format(line, sizeof line, PSU_LOG_STYLE_SYSLOG, PSU_LOG_INFO, NULL, 0, 0, "a\nb");
    cr_assert_str_eq(line, "a b");
}

Test(log, a_long_message_is_cut_with_an_ellipsis_and_keeps_its_newline)
{
    char msg[5000], line[PSU_LOG_LINE_MAX + 1];
    memset(msg, 'x', sizeof msg - 1);
    msg[sizeof msg - 1] = '\0';
    size_t n = psu_log_format(line, sizeof line, PSU_LOG_STYLE_PLAIN, PSU_LOG_INFO, "portsyncd", 1,
                              T_NS, msg);
    cr_assert_eq(n, PSU_LOG_LINE_MAX, "the line fills the buffer: %zu", n);
    cr_assert_eq(strlen(line), n);
    cr_assert_str_eq(line + n - 4, "...\n");
    /* A small buffer still gets a well-formed line. */
    char tiny[16];
    n = psu_log_format(tiny, sizeof tiny, PSU_LOG_STYLE_PLAIN, PSU_LOG_INFO, "portsyncd", 1, T_NS,
                       msg);
    cr_assert_eq(n, strlen(tiny));
    cr_assert_eq(tiny[n - 1], '\n');
    cr_assert_str_eq(tiny + n - 4, "...\n");
}

Test(log, levels_and_outputs_change_at_run_time)
{
    psu_log_init("t", PSU_LOG_INFO, PSU_LOG_STDERR);
    cr_assert_eq(psu_log_enabled(PSU_LOG_INFO), 1);
    cr_assert_eq(psu_log_enabled(PSU_LOG_DEBUG), 0);
    psu_log_level_set(PSU_LOG_DEBUG);
    cr_assert_eq(psu_log_level_get(), PSU_LOG_DEBUG);
    cr_assert_eq(psu_log_enabled(PSU_LOG_DEBUG), 1);
    psu_log_level_set(42); /* ignored */
    cr_assert_eq(psu_log_level_get(), PSU_LOG_DEBUG);
    psu_log_output_set(PSU_LOG_STDOUT);
    cr_assert_eq(psu_log_output_get(), PSU_LOG_STDOUT);
    psu_log_output_set(-3); /* ignored */
    cr_assert_eq(psu_log_output_get(), PSU_LOG_STDOUT);
}

/* Point stderr at a fresh file; returns its descriptor for reading back. */
static int capture_stderr(const char *tag)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/psu-log-%s-%d", tag, (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0);
    unlink(path);
    cr_assert_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    return fd;
}

static size_t read_back(int fd, char *buf, size_t size)
{
    ssize_t n = pread(fd, buf, size - 1, 0);
    cr_assert_geq(n, 0);
    buf[n] = '\0';
    return (size_t)n;
}

Test(log, lines_below_the_level_are_not_written)
{
    int fd = capture_stderr("level");
    unsetenv("JOURNAL_STREAM");
    psu_log_init("portsyncd", PSU_LOG_NOTICE, PSU_LOG_STDERR);
    psu_log_info("not shown");
    psu_log_notice("shown %d", 1);
    psu_log_error("shown %d", 2);
    char buf[1024];
    read_back(fd, buf, sizeof buf);
    cr_assert(!strstr(buf, "not shown"), "%s", buf);
    cr_assert(strstr(buf, "] NOTICE: shown 1\n"), "%s", buf);
    cr_assert(strstr(buf, "] ERROR: shown 2\n"), "%s", buf);
    char want[64];
    snprintf(want, sizeof want, "Z portsyncd[%d] NOTICE", (int)getpid());
    cr_assert(strstr(buf, want), "'%s' in %s", want, buf);
}

Test(log, the_journal_format_needs_the_very_stream_journal_stream_names)
{
    int fd = capture_stderr("journal");
    struct stat st;
    cr_assert_eq(fstat(STDERR_FILENO, &st), 0);
    char stream[64];
    /* Another stream's numbers: a child that inherited the variable, stderr elsewhere. */
    snprintf(stream, sizeof stream, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino + 1);
    setenv("JOURNAL_STREAM", stream, 1);
    psu_log_init("portsyncd", PSU_LOG_INFO, PSU_LOG_STDERR);
    psu_log_notice("plain");
    snprintf(stream, sizeof stream, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    setenv("JOURNAL_STREAM", stream, 1);
    psu_log_init("portsyncd", PSU_LOG_INFO, PSU_LOG_STDERR);
    psu_log_notice("journal");
    char buf[1024];
    read_back(fd, buf, sizeof buf);
    cr_assert(strstr(buf, "] NOTICE: plain\n"), "%s", buf);
    cr_assert(strstr(buf, "\n<5>NOTICE: journal\n"), "%s", buf);
}

enum { THREADS = 4, LINES = 2000 };

static void *spam(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < LINES; i++)
        psu_log_info("thread %ld line %d %s", id, i,
                     "padding padding padding padding padding padding padding padding");
    return NULL;
}

Test(log, lines_from_several_threads_never_interleave)
{
    int fd = capture_stderr("threads");
    unsetenv("JOURNAL_STREAM");
    psu_log_init("portsyncd", PSU_LOG_INFO, PSU_LOG_STDERR);
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, spam, (void *)i), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    static char buf[THREADS * LINES * 160];
    read_back(fd, buf, sizeof buf);
    int lines = 0;
    for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        long id;
        int n;
        const char *p = strstr(l, "] INFO: thread ");
        cr_assert_not_null(p, "a torn line: '%s'", l);
        cr_assert_eq(sscanf(p, "] INFO: thread %ld line %d", &id, &n), 2, "'%s'", l);
        size_t len = strlen(l);
        cr_assert(len > 7 && strcmp(l + len - 7, "padding") == 0, "a line cut short: '%s'", l);
        lines++;
    }
    cr_assert_eq(lines, THREADS * LINES);
}
