/*
 * bench/psm-loadgen.h - psm-loadgen's options, shared by psm-loadgen.c (the
 * writer) and psm-loadgen-args.c (the command line).
 */
#ifndef PSM_LOADGEN_H
#define PSM_LOADGEN_H

#include <stdint.h>

/* The library refuses larger tables (writer.c, writer_create). */
#define LG_MAX_CAPACITY (1u << 24)
#define LG_MAX_SERIES   16000000u
#define LG_MAX_THREADS  1024u
#define LG_MAX_SECONDS  1e9
struct lg_opts {
    const char *name;
    uint64_t series;
    uint64_t threads;
    double seconds;
    int fixed; /* --observe-value given */
    double value;
    int native; /* --native: the histograms have native buckets too */
};

/**
 * lg_parse_args - the command line into @o
 * @argc, @argv: main's
 * @o: receives the options
 * Returns 0 go on, 1 done (--help, --version: printed), -1 bad arguments (one
 * line on stderr naming the flag, the value and what was expected).
 */
int lg_parse_args(int argc, char **argv, struct lg_opts *o);

#endif
