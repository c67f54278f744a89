/*
 * core/log.h - one line per event on stderr, with a syslog level.
 *
 * Under systemd (JOURNAL_STREAM set) lines start with the sd-daemon prefix
 * "<N>" so journald records the level; elsewhere they start with an ISO time
 * and the level's name.
 */
#ifndef PCD_LOG_H
#define PCD_LOG_H

#include <syslog.h>

/** pcd_log_init - program name for the lines, and the lowest level printed */
void pcd_log_init(const char *prog, int max_level);

/** pcd_log_level_parse - "debug".."error" to LOG_*; -1 if unknown */
int pcd_log_level_parse(const char *s);

/** pcd_log - print one line at @level (LOG_ERR .. LOG_DEBUG) */
void pcd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pcd_err(...)    pcd_log(LOG_ERR, __VA_ARGS__)
#define pcd_warn(...)   pcd_log(LOG_WARNING, __VA_ARGS__)
#define pcd_notice(...) pcd_log(LOG_NOTICE, __VA_ARGS__)
#define pcd_info(...)   pcd_log(LOG_INFO, __VA_ARGS__)
#define pcd_debug(...)  pcd_log(LOG_DEBUG, __VA_ARGS__)

#endif
