/*
 * shm/shmdump.c - portsyncd-shmdump: print the metrics segment for an operator.
 *
 * This file owns the command line, the --check verdict, the --watch loop and
 * the grouping of series both renderers use; shmdump_table.c draws the human
 * table and shmdump_json.c the JSON document (and holds the text helpers).
 * The Prometheus and OpenMetrics formats are psm_render() unchanged, so the
 * tool prints exactly what the exporter serves.
 *
 * The segment is hostile input: everything shown comes through the validating
 * reader, and any failure is one line on stderr and exit status 1, never a
 * crash. Usage errors exit with status 2.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "psm/reader.h"
#include "psm/render.h"

#define PROG            "portsyncd-shmdump"
#define VERSION         "0.1.0"
#define EXIT_SEGMENT    1
#define EXIT_USAGE      2
#define MAX_WATCH       86400.0 /* a day: anything longer is a typo, not a refresh rate */
#define MAX_AGE_DEFAULT 5.0     /* the writer heartbeats every second; allow four misses */
#define CLEAR_SCREEN    "\033[H\033[2J"

/*
 * Interface between the shmdump*.c files. There is no private header (the
 * tool is three files), so these declarations are repeated in the files that
 * define or use them and must be kept in sync. shmdump_table.c defines the
 * rates and the table, shmdump_json.c the JSON and the two text helpers.
 */
struct shmdump_rates;
struct shmdump_rates *shmdump_rates_new(void);
void shmdump_rates_free(struct shmdump_rates *rt);
void shmdump_rates_reset(struct shmdump_rates *rt);
int shmdump_table(psm_reader_t *r, const struct psm_info *in, const struct psm_liveness *l,
                  double max_age, struct shmdump_rates *rt, const char *banner,
                  struct psm_buf *out);
int shmdump_json(psm_reader_t *r, const struct psm_info *in, const struct psm_liveness *l,
                 double max_age, struct psm_buf *out);
int shmdump_group(const psm_reader_t *r, uint32_t **order, uint32_t **start);
void shmdump_iso_time(uint64_t realtime_ns, char *out, size_t len);
size_t shmdump_utf8_next(const char *s, size_t len, uint32_t *cp);

enum dump_format {
    FMT_TABLE,
    FMT_PROMETHEUS,
    FMT_OPENMETRICS,
    FMT_JSON,
};

static const char *const format_names[] = {"table", "prometheus", "openmetrics", "json"};

struct dump_opts {
    const char *name;
    struct psm_reader_opts trust; /* --shm-owner: who must own the segment's file */
    double max_age;               /* --max-age: heartbeat age after which the writer is dead */
    enum dump_format format;
    int format_set; /* --format given: with --check, the dump follows the verdict */
    double watch;   /* seconds between snapshots, 0: print once */
    int check;
};

/* Set by SIGINT/SIGTERM while --watch runs. */
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/**
 * say - one line on stderr, prefixed with the program name
 * @fmt: printf format
 *
 * Messages can quote bytes of a hostile segment (the reader names an invalid
 * metric name as found), so control characters and broken UTF-8 are written
 * as \xNN and C1 controls as \uNNNN: the line stays one line and cannot drive
 * the operator's terminal. Plain messages print unchanged.
 */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t n = len < 0 ? 0 : (size_t)len < sizeof msg ? (size_t)len : sizeof msg - 1;
    fputs(PROG ": ", stderr);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = shmdump_utf8_next(msg + i, n - i, &cp);
        if (k == 0 || cp < 0x20 || cp == 0x7f)
            fprintf(stderr, "\\x%02x", (unsigned char)msg[i]);
        else if (cp >= 0x80 && cp < 0xa0)
            fprintf(stderr, "\\u%04x", (unsigned)cp);
        else
            fwrite(msg + i, 1, k, stderr);
        i += k ? k : 1;
    }
    fputc('\n', stderr);
}

static void usage(FILE *f)
{
    fputs("Usage: " PROG " [--name NAME] [--format FORMAT] [--watch SECONDS] [--check]\n"
          "                         [--shm-owner USER] [--max-age SECONDS]\n"
          "Print the portsyncd metrics shared-memory segment (/dev/shm/NAME).\n"
          "\n"
          "  -n, --name NAME      segment name (default " PSM_DEFAULT_NAME "), or the absolute\n"
          "                       path of the segment's file in any directory; alias --shm-name\n"
          "  -f, --format FORMAT  table (default): header and one row per series;\n"
          "                       prometheus, openmetrics: exactly what the exporter serves;\n"
          "                       json: one object per snapshot, on one line\n"
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
        return "one of table, prometheus, openmetrics, json";
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
 * after printing a usage error (exit EXIT_USAGE).
 */
static int parse_args(int argc, char **argv, struct dump_opts *o)
{
    *o = (struct dump_opts){
        .name = PSM_DEFAULT_NAME, .max_age = MAX_AGE_DEFAULT, .format = FMT_TABLE};
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
                say("--format '%s' is not one of table, prometheus, openmetrics, json", optarg);
                return -1;
            }
            o->format = (enum dump_format)i;
            o->format_set = 1;
            break;
        }
        case 'w':
            if (parse_seconds(optarg, &o->watch) != 0) {
                say("--watch '%s' is not a positive number of seconds up to %.0f (e.g. 1 or 0.5)",
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
                say("--shm-owner: %s", err);
                return -1;
            }
            o->trust.owner_set = 1;
            break;
        }
        case OPT_MAX_AGE:
            if (parse_seconds(optarg, &o->max_age) != 0) {
                say("--max-age '%s' is not a positive number of seconds up to %.0f (e.g. 5 or "
                    "2.5)",
                    optarg, MAX_WATCH);
                return -1;
            }
            break;
        case 'h':
            usage(stdout);
            return 1;
        case 'V':
            puts(PROG " " VERSION);
            return 1;
        case ':': {
            const char *what = option_expects(optopt, &optname);
            say("%s needs a value: %s", optname, what);
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
                say("option '%s' takes no value (see --help)", arg);
            else if (optopt)
                say("unknown option '-%c' (see --help)", optopt);
            else
                say("unknown option '%s' (see --help)", arg);
            return -1;
        }
        }
    }
    if (optind < argc) {
        say("unexpected argument '%s': options only (see --help)", argv[optind]);
        return -1;
    }
    return 0;
}

/**
 * shmdump_group - order the loaded series by descriptor
 * @r: a reader after a successful psm_reader_load()
 * @order: receives series indexes grouped by descriptor, creation order within each
 * @start: receives desc_count + 1 offsets: descriptor d owns order[start[d]..start[d+1])
 *
 * One counting sort, as the renderer does, so a dump of 4096 series costs two
 * passes rather than one pass per descriptor. The caller frees both arrays.
 * Returns 0, or -1 when out of memory (both set to NULL).
 */
int shmdump_group(const psm_reader_t *r, uint32_t **order, uint32_t **start)
{
    uint32_t nd = psm_reader_desc_count(r), ns = psm_reader_series_count(r);
    uint32_t *st = calloc((size_t)nd + 1, sizeof *st);
    uint32_t *fill = calloc((size_t)nd + 1, sizeof *fill);
    uint32_t *ord = malloc((size_t)(ns ? ns : 1) * sizeof *ord);
    *order = *start = NULL;
    if (!st || !fill || !ord) {
        free(st);
        free(fill);
        free(ord);
        return -1;
    }
    struct psm_series_view sv;
    for (uint32_t i = 0; i < ns; i++) {
        psm_reader_series(r, i, &sv);
        st[sv.desc->index + 1]++;
    }
    for (uint32_t d = 0; d < nd; d++)
        st[d + 1] += st[d];
    for (uint32_t i = 0; i < ns; i++) {
        psm_reader_series(r, i, &sv);
        uint32_t d = sv.desc->index;
        ord[st[d] + fill[d]++] = i;
    }
    free(fill);
    *order = ord;
    *start = st;
    return 0;
}

static double now_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/**
 * write_all - write @n bytes of @p to stdout
 * @p: the bytes
 * @n: their count
 *
 * Raw write(2) rather than stdio, so that a stop signal interrupting a write
 * to a stalled pipe ends the loop instead of being retried forever.
 * Returns 0, or -1 with errno set (EINTR only when a stop was requested).
 */
static int write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(STDOUT_FILENO, p, n);
        if (k < 0) {
            if (errno == EINTR && !stop_requested)
                continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/**
 * snapshot - append one snapshot of @r in the chosen format to @out
 * @r: the reader
 * @o: the options
 * @rt: rate state for the table under --watch, or NULL
 * @banner: lines the table prints first (--watch), or NULL
 * @out: the buffer
 *
 * Returns 0, or -1 after printing why (the segment failed validation, or
 * memory ran out).
 */
static int snapshot(psm_reader_t *r, const struct dump_opts *o, struct shmdump_rates *rt,
                    const char *banner, struct psm_buf *out)
{
    if (psm_reader_load(r) != 0) {
        say("%s", psm_reader_error(r));
        return -1;
    }
    int rc;
    if (o->format == FMT_PROMETHEUS || o->format == FMT_OPENMETRICS) {
        rc = psm_render(r, o->format == FMT_PROMETHEUS ? PSM_FMT_TEXT : PSM_FMT_OPENMETRICS, out, 0,
                        NULL);
        if (rc != 0 && !out->oom) {
            say("%s", psm_reader_error(r));
            return -1;
        }
    } else {
        struct psm_info in;
        struct psm_liveness l;
        psm_reader_info(r, &in);
        psm_reader_liveness(r, o->max_age, &l);
        if (o->format == FMT_JSON)
            rc = shmdump_json(r, &in, &l, o->max_age, out);
        else
            rc = shmdump_table(r, &in, &l, o->max_age, rt, banner, out);
    }
    if (rc != 0 || out->oom) {
        say("segment %s: out of memory while formatting it", psm_reader_name(r));
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
 * Returns 0 (OK) or EXIT_SEGMENT after printing the first violation.
 */
static int run_check(psm_reader_t *r, double max_age, FILE *f)
{
    char err[1024];
    if (psm_reader_check(r, err, sizeof err) != 0) {
        say("%s", err);
        return EXIT_SEGMENT;
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

static int dump_once(psm_reader_t *r, const struct dump_opts *o)
{
    struct psm_buf out = {0};
    int rc = snapshot(r, o, NULL, NULL, &out);
    if (rc == 0 && write_all(out.p, out.len) != 0) {
        say("cannot write to standard output: %s", strerror(errno));
        rc = -1;
    }
    psm_buf_free(&out);
    return rc == 0 ? 0 : EXIT_SEGMENT;
}

/**
 * wait_until - sleep until @deadline (CLOCK_MONOTONIC seconds) or a stop signal
 * @deadline: when to wake up
 *
 * The stop signals are blocked while they are tested and then waited for with
 * sigtimedwait(), so a signal arriving between the test and the sleep is not
 * lost until the next interval.
 * Returns 1 if a stop was requested, 0 when the deadline passed.
 */
static int wait_until(double deadline)
{
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, &old);
    while (!stop_requested) {
        double left = deadline - now_monotonic();
        if (left <= 0)
            break;
        struct timespec ts = {.tv_sec = (time_t)left};
        ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
        if (ts.tv_nsec > 999999999L)
            ts.tv_nsec = 999999999L;
        if (sigtimedwait(&set, NULL, &ts) > 0)
            stop_requested = 1;
        else if (errno == EAGAIN)
            break;
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    return stop_requested != 0;
}

/**
 * watch - print a snapshot every o->watch seconds until SIGINT/SIGTERM
 * @r: the reader
 * @o: the options
 *
 * Before each snapshot the name is looked up again (psm_reader_refresh()), so
 * a writer that replaced the segment is followed; rates start over then, since
 * series indexes of the new segment mean other series. Deadlines advance by
 * the interval rather than "now + interval", so the period does not drift by
 * the time a snapshot takes.
 * Returns 0 when stopped by a signal, EXIT_SEGMENT on a segment or output error.
 */
static int watch(psm_reader_t *r, const struct dump_opts *o)
{
    struct sigaction sa = {.sa_handler = on_stop_signal}; /* no SA_RESTART: interrupt writes */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int tty = isatty(STDOUT_FILENO);
    struct shmdump_rates *rt = o->format == FMT_TABLE ? shmdump_rates_new() : NULL;
    if (o->format == FMT_TABLE && !rt) {
        say("out of memory");
        return EXIT_SEGMENT;
    }
    struct psm_buf out = {0};
    char notice[600] = "";
    int rc = 0;
    double next = now_monotonic();
    for (int first = 1; !stop_requested; first = 0) {
        notice[0] = '\0';
        int rf = first ? 0 : psm_reader_refresh(r);
        if (rf == 1) {
            struct psm_info in;
            psm_reader_info(r, &in);
            snprintf(notice, sizeof notice,
                     "segment %s was replaced: remapped to the new one (inode %llu, generation "
                     "%llu)",
                     psm_reader_name(r), (unsigned long long)in.ino,
                     (unsigned long long)in.generation);
            if (rt)
                shmdump_rates_reset(rt);
        } else if (rf < 0) {
            snprintf(notice, sizeof notice, "%s", psm_reader_error(r));
        }
        /* The table shows notices in its frame (a cleared screen would hide stderr). */
        if (notice[0] && o->format != FMT_TABLE)
            say("%s", notice);
        out.len = 0;
        if (tty)
            psm_buf_puts(&out, CLEAR_SCREEN);
        char now[48], banner[800];
        struct timespec rt_now;
        clock_gettime(CLOCK_REALTIME, &rt_now);
        shmdump_iso_time((uint64_t)rt_now.tv_sec * 1000000000u + (uint64_t)rt_now.tv_nsec, now,
                         sizeof now);
        snprintf(banner, sizeof banner, "%s  every %g s (Ctrl-C stops)\n%s%s", now, o->watch,
                 notice, notice[0] ? "\n" : "");
        if (snapshot(r, o, rt, banner, &out) != 0) {
            rc = EXIT_SEGMENT;
            break;
        }
        if (write_all(out.p, out.len) != 0) {
            if (!stop_requested) {
                say("cannot write to standard output: %s", strerror(errno));
                rc = EXIT_SEGMENT;
            }
            break;
        }
        next += o->watch;
        double t = now_monotonic();
        if (next < t)
            next = t + o->watch; /* a slow snapshot or a suspend: skip, do not catch up */
        if (wait_until(next))
            break;
    }
    psm_buf_free(&out);
    shmdump_rates_free(rt);
    return rc;
}

int main(int argc, char **argv)
{
    struct dump_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? 0 : EXIT_USAGE;
    psm_reader_t *r;
    char err[1024];
    if (psm_reader_open_opts(&r, o.name, &o.trust, err, sizeof err) != 0) {
        int e = errno;
        say("%s", err);
        /* An invalid name is a bad argument; anything else is the segment's fault. */
        return e == EINVAL ? EXIT_USAGE : EXIT_SEGMENT;
    }
    int dump = !o.check || o.format_set || o.watch > 0;
    if (o.check)
        rc = run_check(r, o.max_age, dump ? stderr : stdout);
    if (rc == 0 && dump)
        rc = o.watch > 0 ? watch(r, &o) : dump_once(r, &o);
    psm_reader_close(r);
    return rc;
}
