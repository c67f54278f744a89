/*
 * bench/psm-loadgen-args.c - psm-loadgen's command line: --help, and every
 * flag checked with one line naming it, the value and what was expected.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psm-loadgen.h"
#include "psm/segment.h"
#include "psm/writer.h"

#ifndef PSM_BENCH_VERSION
#define PSM_BENCH_VERSION "0.0.0"
#endif

static void usage(FILE *f)
{
    fprintf(f,
            "usage: psm-loadgen [--name NAME] [--series S] [--threads T] [--seconds X]\n"
            "                   [--observe-value V] [--native]\n"
            "\n"
            "Build a fresh metrics segment with S labelled series (a third each of\n"
            "psm_loadgen_ops_total, psm_loadgen_level and psm_loadgen_latency_seconds, the\n"
            "remainder counters) and update random series from T threads at full speed.\n"
            "\n"
            "  --name, --shm-name NAME  shm segment name (default %s), or the absolute\n"
            "                           path of its file in any directory\n"
            "  --series S               series to create, 0..%u (default 3000)\n"
            "  --threads T              updating threads, 0..%u (default 1; 0: none)\n"
            "  --seconds X              run time in seconds, may be fractional\n"
            "                           (default 0: until SIGINT or SIGTERM)\n"
            "  --observe-value V        every histogram observation and gauge value is V\n"
            "                           and every counter step is 1, so _sum == _count * V\n"
            "                           (exactly, for a V such as 0.25 or 0.5)\n"
            "  --native                 the histograms have native buckets too (schema 3,\n"
            "                           1 us .. 10 s), as portsyncd's latency histograms\n"
            "  --help                   this text\n"
            "  --version                print the version\n"
            "\n"
            "Prints one line to stderr when the segment is ready and one with the total\n"
            "updates and updates/s at the end. Exit status: 0 done (also on SIGINT and\n"
            "SIGTERM), 1 the segment could not be built, 2 invalid arguments.\n",
            PSM_DEFAULT_NAME, LG_MAX_SERIES, LG_MAX_THREADS);
}

static int bad_arg(const char *flag, const char *value, const char *expected)
{
    fprintf(stderr, "psm-loadgen: invalid value '%s' for %s: expected %s\n", value, flag, expected);
    return -1;
}

/* The library's shm name rule (psm__shm_name_ok), checked here to name the flag. */
static int shm_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 200 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return 0;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* A name, or an absolute path whose last part is one (psm__seg_name_ok). */
static int name_ok(const char *s)
{
    if (s[0] != '/')
        return shm_name_ok(s);
    return strlen(s) < PSM_MAX_PATH_LEN && shm_name_ok(strrchr(s, '/') + 1);
}

/* Parse an unsigned decimal in [min, max]; no sign, no junk, no silent clamping. */
static int parse_u64(const char *flag, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char expected[96];
    snprintf(expected, sizeof expected, "an integer from %llu to %llu", (unsigned long long)min,
             (unsigned long long)max);
    if (*s < '0' || *s > '9')
        return bad_arg(flag, s, expected);
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return bad_arg(flag, s, expected);
    *out = v;
    return 0;
}

static int parse_double(const char *flag, const char *s, const char *expected, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return bad_arg(flag, s, expected);
    *out = v;
    return 0;
}

/**
 * parse_args - fill @o from the command line
 * @argc: argument count
 * @argv: arguments
 * @o: receives the options (defaults already set)
 *
 * Returns 0 to run, 1 when --help or --version was handled, -1 after printing
 * one line naming the bad flag and value.
 */
int lg_parse_args(int argc, char **argv, struct lg_opts *o)
{
    enum {
        OPT_HELP = 'h',
        OPT_VERSION = 'V',
        OPT_NAME = 'n',
        OPT_SERIES = 's',
        OPT_THREADS = 't',
        OPT_SECONDS = 'd',
        OPT_VALUE = 'v',
        OPT_NATIVE = 'N'
    };
    static const struct option longopts[] = {
        {"name", required_argument, NULL, OPT_NAME},
        {"shm-name", required_argument, NULL, OPT_NAME},
        {"series", required_argument, NULL, OPT_SERIES},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"seconds", required_argument, NULL, OPT_SECONDS},
        {"observe-value", required_argument, NULL, OPT_VALUE},
        {"native", no_argument, NULL, OPT_NATIVE},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    int c;
    opterr = 0;
    /* Leading ':' makes getopt report a missing value as ':' instead of '?'. */
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_NAME:
            if (!name_ok(optarg))
                return bad_arg("--name", optarg,
                               "a shm name of 1-200 characters of [A-Za-z0-9._-], or an "
                               "absolute path ending in one");
            o->name = optarg;
            break;
        case OPT_SERIES:
            if (parse_u64("--series", optarg, 0, LG_MAX_SERIES, &o->series))
                return -1;
            break;
        case OPT_THREADS:
            if (parse_u64("--threads", optarg, 0, LG_MAX_THREADS, &o->threads))
                return -1;
            break;
        case OPT_SECONDS:
            if (parse_double("--seconds", optarg,
                             "a number of seconds from 0 to 1e9 (0: until a signal)", &o->seconds))
                return -1;
            if (o->seconds < 0 || o->seconds > LG_MAX_SECONDS)
                return bad_arg("--seconds", optarg,
                               "a number of seconds from 0 to 1e9 (0: until a signal)");
            break;
        case OPT_VALUE:
            if (parse_double("--observe-value", optarg, "a finite number", &o->value))
                return -1;
            o->fixed = 1;
            break;
        case OPT_NATIVE:
            o->native = 1;
            break;
        case OPT_HELP:
            usage(stdout);
            return 1;
        case OPT_VERSION:
            printf("psm-loadgen (portsyncd) %s\n", PSM_BENCH_VERSION);
            return 1;
        case ':':
            fprintf(stderr, "psm-loadgen: option %s needs a value (see --help)\n",
                    argv[optind - 1]);
            return -1;
        default:
            /* optopt names an unknown short option; a long one is the last argument read. */
            if (optopt)
                fprintf(stderr, "psm-loadgen: unknown option '-%c' (see --help)\n", optopt);
            else
                fprintf(stderr, "psm-loadgen: unknown option '%s' (see --help)\n",
                        argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "psm-loadgen: unexpected argument '%s' (see --help)\n", argv[optind]);
        return -1;
    }
    return 0;
}
