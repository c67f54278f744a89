/*
 * shm/shmdump.c - portsyncd-shmdump: print the metrics segment for an operator.
 *
 * This file owns the command line and the --check verdict; shmdump.h lists
 * the files that do the rest (the table, the JSON document, a snapshot in the
 * chosen format, the --watch loop). The Prometheus, OpenMetrics and protobuf
 * formats are psm_render() unchanged, so the tool prints exactly what the
 * exporter serves.
 *
 * The segment is hostile input: everything shown comes through the validating
 * reader, and any failure is one line on stderr and exit status 1, never a
 * crash. Usage errors exit with status 2.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psm/reader.h"
#include "psm/render.h"
#include "shmdump.h"

#define VERSION         "0.1.0"
#define MAX_WATCH       86400.0 /* a day: anything longer is a typo, not a refresh rate */
#define MAX_AGE_DEFAULT 5.0     /* the writer heartbeats every second; allow four misses */

static const char *const format_names[] = {"table", "prometheus", "openmetrics", "json",
                                           "protobuf"};

static void usage(FILE *f)
{
    fputs("Usage: " SHMDUMP_PROG " [--name NAME] [--format FORMAT] [--watch SECONDS] [--check]\n"
          "                         [--shm-owner USER] [--max-age SECONDS]\n"
          "Print the portsyncd metrics shared-memory segment (/dev/shm/NAME).\n"
          "\n"
          "  -n, --name NAME      segment name (default " PSM_DEFAULT_NAME "), or the absolute\n"
          "                       path of the segment's file in any directory; alias --shm-name\n"
          "  -f, --format FORMAT  table (default): header and one row per series;\n"
          "                       prometheus, openmetrics: exactly what the exporter serves;\n"
          "                       json: one object per snapshot, on one line;\n"
          "                       protobuf: the exporter's protobuf body (binary, delimited\n"
          "                       MetricFamily messages, native buckets included)\n"
          "  -w, --watch SECONDS  print again every SECONDS (e.g. 1 or 0.5) until SIGINT or\n"
          "                       SIGTERM; the table gains a per-second rate column\n"
          "  -c, --check          verify every invariant of the segment: prints OK and exits\n"
          "                       0, or names the first violation and exits 1; with --format\n"
          "                       or --watch the verdict goes to stderr and the dump follows\n"
          "      --shm-owner USER\n"
          "                       trust only a segment file owned by USER (a name or a uid;\n"
          "                       default root) that group and others cannot write; anything\n"
          "                       else at the path is refused with exit status 1\n"
          "      --max-age SECONDS\n"
          "                       the writer counts as dead after SECONDS without a heartbeat\n"
          "                       (default 5, as portsyncd-exporter's --writer.heartbeat-max-age)\n"
          "  -h, --help           show this help and exit\n"
          "  -V, --version        show the version and exit\n"
          "\n"
          "Writer liveness: in the writer's PID namespace by its pid (exists, not a zombie,\n"
          "same start time) and heartbeat; from another PID namespace (a container) by the\n"
          "heartbeat alone. The table and JSON say which.\n"
          "\n"
          "Exit status: 0 success, 1 segment problem (missing, unreadable, not trusted,\n"
          "corrupt), 2 usage error.\n",
          f);
}

/* Long option values that have no short option. */
enum {
    OPT_SHM_NAME = 256,
    OPT_SHM_OWNER,
    OPT_MAX_AGE,
};

static const struct option long_opts[] = {
    {"name", required_argument, NULL, 'n'},
    {"shm-name", required_argument, NULL, OPT_SHM_NAME},
    {"format", required_argument, NULL, 'f'},
    {"watch", required_argument, NULL, 'w'},
    {"check", no_argument, NULL, 'c'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {"shm-owner", required_argument, NULL, OPT_SHM_OWNER},
    {"max-age", required_argument, NULL, OPT_MAX_AGE},
    {NULL, 0, NULL, 0},
};

/* What a value of option @opt must be, for the "needs a value" message. */
static const char *option_expects(int opt, const char **optname)
{
    switch (opt) {
    case 'n':
    case OPT_SHM_NAME:
        *optname = opt == 'n' ? "--name" : "--shm-name";
        return "a segment name such as " PSM_DEFAULT_NAME " or an absolute path";
    case OPT_SHM_OWNER:
        *optname = "--shm-owner";
        return "a user name or a numeric uid such as root or 0";
    case OPT_MAX_AGE:
        *optname = "--max-age";
        return "a positive number of seconds such as 5 or 2.5";
    case 'f':
        *optname = "--format";
        return "one of table, prometheus, openmetrics, json, protobuf";
    case 'w':
        *optname = "--watch";
        return "a positive number of seconds such as 1 or 0.5";
    default:
        *optname = "option";
        return "a value";
    }
}

/**
 * parse_seconds - parse a number of seconds (--watch, --max-age)
 * @s: the argument as given
 * @out: receives the value in seconds
 *
 * Accepts a finite decimal number in (0, MAX_WATCH]; "1s", "0", "-1", "nan"
 * and the like are refused rather than guessed at.
 * Returns 0, or -1 if @s is not such a number.
 */
static int parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v) || v <= 0 || v > MAX_WATCH)
        return -1;
    *out = v;
    return 0;
}

/**
 * parse_args - fill @o from the command line
 * @argc: argument count
 * @argv: arguments
 * @o: receives the options (defaults first)
 *
 * Returns 0 to go on, 1 when --help or --version was answered (exit 0), or -1
 * after printing a usage error (exit SHMDUMP_EXIT_USAGE).
 */
static int parse_args(int argc, char **argv, struct shmdump_opts *o)
{
    *o = (struct shmdump_opts){
        .name = PSM_DEFAULT_NAME, .max_age = MAX_AGE_DEFAULT, .format = SHMDUMP_FMT_TABLE};
    opterr = 0; /* our own messages: one line naming the option and what it expects */
    int c;
    while ((c = getopt_long(argc, argv, ":n:f:w:chV", long_opts, NULL)) != -1) {
        const char *optname;
        switch (c) {
        case 'n':
        case OPT_SHM_NAME:
            o->name = optarg;
            break;
        case 'f': {
            size_t i;
            for (i = 0; i < sizeof format_names / sizeof format_names[0]; i++)
                if (strcmp(optarg, format_names[i]) == 0)
                    break;
            if (i == sizeof format_names / sizeof format_names[0]) {
                shmdump_say(
                    "--format '%s' is not one of table, prometheus, openmetrics, json, protobuf",
                    optarg);
                return -1;
            }
            o->format = (enum shmdump_format)i;
            o->format_set = 1;
            break;
        }
        case 'w':
            if (parse_seconds(optarg, &o->watch) != 0) {
                shmdump_say(
                    "--watch '%s' is not a positive number of seconds up to %.0f (e.g. 1 or 0.5)",
                    optarg, MAX_WATCH);
                return -1;
            }
            break;
        case 'c':
            o->check = 1;
            break;
        case OPT_SHM_OWNER: {
            char err[512];
            if (psm_owner_parse(optarg, &o->trust.owner, err, sizeof err) != 0) {
                shmdump_say("--shm-owner: %s", err);
                return -1;
            }
            o->trust.owner_set = 1;
            break;
        }
        case OPT_MAX_AGE:
            if (parse_seconds(optarg, &o->max_age) != 0) {
                shmdump_say(
                    "--max-age '%s' is not a positive number of seconds up to %.0f (e.g. 5 or "
                    "2.5)",
                    optarg, MAX_WATCH);
                return -1;
            }
            break;
        case 'h':
            usage(stdout);
            return 1;
        case 'V':
            puts(SHMDUMP_PROG " " VERSION);
            return 1;
        case ':': {
            const char *what = option_expects(optopt, &optname);
            shmdump_say("%s needs a value: %s", optname, what);
            return -1;
        }
        default: {
            /*
             * getopt_long sets optopt for an unknown short option and for a
             * known long one given a value it does not take ("--check=1");
             * an unknown long option is only in argv.
             */
            const char *arg = argv[optind - 1];
            if (optopt && strncmp(arg, "--", 2) == 0)
                shmdump_say("option '%s' takes no value (see --help)", arg);
            else if (optopt)
                shmdump_say("unknown option '-%c' (see --help)", optopt);
            else
                shmdump_say("unknown option '%s' (see --help)", arg);
            return -1;
        }
        }
    }
    if (optind < argc) {
        shmdump_say("unexpected argument '%s': options only (see --help)", argv[optind]);
        return -1;
    }
    return 0;
}

/**
 * run_check - psm_reader_check() and its one-line verdict
 * @r: the reader
 * @max_age: the --max-age for the liveness part of the verdict
 * @f: where the OK line goes (stdout alone, stderr when a dump follows)
 *
 * A dead writer is not a violation: the segment outlives its writer by design
 * and the verdict says so rather than failing.
 * Returns 0 (OK) or SHMDUMP_EXIT_SEGMENT after printing the first violation.
 */
static int run_check(psm_reader_t *r, double max_age, FILE *f)
{
    char err[1024];
    if (psm_reader_check(r, err, sizeof err) != 0) {
        shmdump_say("%s", err);
        return SHMDUMP_EXIT_SEGMENT;
    }
    struct psm_liveness l;
    psm_reader_liveness(r, max_age, &l);
    fprintf(f, "segment %s: OK (%u descriptors, %u series, writer pid %d %s%s%s, liveness by %s)\n",
            psm_reader_name(r), psm_reader_desc_count(r), psm_reader_series_count(r), (int)l.pid,
            l.alive ? "alive" : "dead", l.alive ? "" : ": ", l.alive ? "" : l.reason,
            l.method == PSM_LIVENESS_PID ? "pid" : "heartbeat");
    fflush(f);
    return 0;
}

static int dump_once(psm_reader_t *r, const struct shmdump_opts *o)
{
    struct psm_buf out = {0};
    psm_renderer_t *rn = psm_renderer_new();
    if (!rn) {
        shmdump_say("out of memory");
        return SHMDUMP_EXIT_SEGMENT;
    }
    int rc = shmdump_snapshot(r, rn, o, NULL, NULL, &out);
    if (rc == 0 && shmdump_write_all(out.p, out.len, NULL) != 0) {
        shmdump_say("cannot write to standard output: %s", strerror(errno));
        rc = -1;
    }
    psm_renderer_free(rn);
    psm_buf_free(&out);
    return rc == 0 ? 0 : SHMDUMP_EXIT_SEGMENT;
}

int main(int argc, char **argv)
{
    struct shmdump_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? 0 : SHMDUMP_EXIT_USAGE;
    psm_reader_t *r;
    char err[1024];
    if (psm_reader_open_opts(&r, o.name, &o.trust, err, sizeof err) != 0) {
        int e = errno;
        shmdump_say("%s", err);
        /* An invalid name is a bad argument; anything else is the segment's fault. */
        return e == EINVAL ? SHMDUMP_EXIT_USAGE : SHMDUMP_EXIT_SEGMENT;
    }
    int dump = !o.check || o.format_set || o.watch > 0;
    if (o.check)
        rc = run_check(r, o.max_age, dump ? stderr : stdout);
    if (rc == 0 && dump)
        rc = o.watch > 0 ? shmdump_watch(r, &o) : dump_once(r, &o);
    psm_reader_close(r);
    return rc;
}
