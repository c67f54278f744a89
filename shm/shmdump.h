/*
 * shm/shmdump.h - the interface between the files of portsyncd-shmdump. From
 * the bottom up (each uses only those above it):
 *   shmdump_common.c    what every output shares: error lines, UTF-8, times,
 *                       series grouped by metric
 *   shmdump_table.c     the human table, and its per-second rates under --watch
 *   shmdump_json.c      the JSON document
 *   shmdump_snapshot.c  one snapshot in the chosen format, written to stdout
 *   shmdump_watch.c     the --watch loop
 *   shmdump.c           the command line, --check, main
 * Not installed.
 */
#ifndef SHMDUMP_H
#define SHMDUMP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "psm/reader.h"
#include "psm/render.h"

#define SHMDUMP_PROG         "portsyncd-shmdump"
#define SHMDUMP_EXIT_SEGMENT 1 /* missing, unreadable, untrusted or corrupt segment */
#define SHMDUMP_EXIT_USAGE   2

enum shmdump_format {
    SHMDUMP_FMT_TABLE,
    SHMDUMP_FMT_PROMETHEUS,
    SHMDUMP_FMT_OPENMETRICS,
    SHMDUMP_FMT_JSON,
    SHMDUMP_FMT_PROTOBUF,
};

/* The command line, parsed (shmdump.c). */
struct shmdump_opts {
    const char *name;
    struct psm_reader_opts trust; /* --shm-owner: who must own the segment's file */
    double max_age;               /* --max-age: heartbeat age after which the writer is dead */
    enum shmdump_format format;
    int format_set; /* --format given: with --check, the dump follows the verdict */
    double watch;   /* seconds between snapshots, 0: print once */
    int check;
};

/* ---- shmdump_common.c ---- */

/**
 * shmdump_say - one line on stderr, prefixed with the program name
 * @fmt: printf format
 *
 * Messages can quote bytes of a hostile segment (the reader names an invalid
 * metric name as found), so control characters and broken UTF-8 are written
 * as \xNN and C1 controls as \uNNNN: the line stays one line and cannot drive
 * the operator's terminal. Plain messages print unchanged.
 */
void shmdump_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/**
 * shmdump_utf8_next - decode one UTF-8 sequence of @s (@len > 0 bytes) into *@cp
 *
 * Returns the sequence's length, or 0 if it is not well-formed.
 */
size_t shmdump_utf8_next(const char *s, size_t len, uint32_t *cp);

/** shmdump_iso_time - local ISO 8601 time of @realtime_ns (0: "unknown") into @out (>= 32 bytes) */
void shmdump_iso_time(uint64_t realtime_ns, char *out, size_t len);

/**
 * shmdump_group - the loaded series of @r grouped by descriptor
 *
 * Descriptor d owns (*@order)[(*@start)[d] .. (*@start)[d+1]); the caller frees
 * both. Returns 0, or -1 when out of memory.
 */
int shmdump_group(const psm_reader_t *r, uint32_t **order, uint32_t **start);

/* ---- shmdump_table.c ---- */

/* Previous values of every series, for the rate column under --watch. */
struct shmdump_rates;
struct shmdump_rates *shmdump_rates_new(void);
void shmdump_rates_free(struct shmdump_rates *rt);
/* Forget every previous value (the segment was replaced): the next frame shows no rates. */
void shmdump_rates_reset(struct shmdump_rates *rt);

/* Append the table of one snapshot to @out (@rt and @banner only under --watch). Returns 0 or -1.
 */
int shmdump_table(psm_reader_t *r, const struct psm_info *in, const struct psm_liveness *l,
                  double max_age, struct shmdump_rates *rt, const char *banner,
                  struct psm_buf *out);

/* ---- shmdump_json.c ---- */

/* Append the JSON document of one snapshot, on one line, to @out. Returns 0 or -1. */
int shmdump_json(psm_reader_t *r, const struct psm_info *in, const struct psm_liveness *l,
                 double max_age, struct psm_buf *out);

/* ---- shmdump_snapshot.c ---- */

/**
 * shmdump_snapshot - append one snapshot of @r in o->format to @out
 * @r: the reader
 * @rn: the renderer for the prometheus and openmetrics formats
 * @o: the options
 * @rt: rate state for the table under --watch, or NULL
 * @banner: lines the table prints first (--watch), or NULL
 * @out: the buffer
 *
 * Returns 0, or -1 after printing why (the segment failed validation, or
 * memory ran out).
 */
int shmdump_snapshot(psm_reader_t *r, psm_renderer_t *rn, const struct shmdump_opts *o,
                     struct shmdump_rates *rt, const char *banner, struct psm_buf *out);

/**
 * shmdump_write_all - write @n bytes of @p to stdout
 * @p: the bytes
 * @n: their count
 * @stop: a flag a stop signal sets, or NULL when no handler can interrupt
 *
 * Raw write(2) rather than stdio, so that a stop signal interrupting a write
 * to a stalled pipe ends the loop instead of being retried forever.
 * Returns 0, or -1 with errno set (EINTR only when *@stop was set).
 */
int shmdump_write_all(const char *p, size_t n, const volatile sig_atomic_t *stop);

/* ---- shmdump_watch.c ---- */

/**
 * shmdump_watch - print a snapshot every o->watch seconds until SIGINT/SIGTERM
 * @r: the reader
 * @o: the options
 *
 * Before each snapshot the name is looked up again (psm_reader_refresh()), so
 * a writer that replaced the segment is followed; rates start over then, since
 * series indexes of the new segment mean other series.
 * Returns 0 when stopped by a signal, SHMDUMP_EXIT_SEGMENT on a segment or
 * output error.
 */
int shmdump_watch(psm_reader_t *r, const struct shmdump_opts *o);

#endif
