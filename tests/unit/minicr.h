/*
 * tests/unit/minicr.h - the subset of Criterion's API the unit tests use, for
 * the one build where Criterion cannot run: under ThreadSanitizer, Criterion's
 * shared arena cannot be mapped ("Could not initialize inheritable arena"), so
 * the TSan build compiles the concurrency tests against this instead. Each test
 * runs in a forked child, as under Criterion, so .signal and isolation hold.
 */
#ifndef PSM_MINICR_H
#define PSM_MINICR_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct mc_suite {
    void (*init)(void);
    void (*fini)(void);
    int timeout;
};

struct mc_opts {
    int signal;
};

struct mc_test {
    const char *suite, *name;
    const struct mc_suite *s;
    void (*fn)(void);
    struct mc_opts o;
};

static struct mc_test mc_tests[64];
static int mc_ntests;
/* The running test's fini, for mc_fail(): set in the test's own process. */
static void (*mc_fini)(void);

static inline void mc_register(struct mc_test t)
{
    if (mc_ntests < 64)
        mc_tests[mc_ntests++] = t;
}

static inline void mc_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
    fprintf(stderr, "%s:%d: assertion failed: %s", file, line, expr);
    if (fmt && *fmt) {
        va_list ap;
        va_start(ap, fmt);
        fputs(": ", stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
    /* As Criterion does: a failed test still cleans up (its names exist only here). */
    if (mc_fini)
        mc_fini();
    _exit(1);
}

#define TestSuite(suite, ...) static const struct mc_suite mc_suite_##suite = {__VA_ARGS__}

#define Test(suite, name, ...)                                                                     \
    static void mc_fn_##suite##_##name(void);                                                      \
    __attribute__((constructor)) static void mc_reg_##suite##_##name(void)                         \
    {                                                                                              \
        mc_register((struct mc_test){                                                              \
            #suite, #name, &mc_suite_##suite, mc_fn_##suite##_##name, {__VA_ARGS__}});             \
    }                                                                                              \
    static void mc_fn_##suite##_##name(void)

#define cr_assert(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond))                                                                               \
            mc_fail(__FILE__, __LINE__, #cond, "" __VA_ARGS__);                                    \
    } while (0)
#define cr_assert_not(cond, ...)    cr_assert(!(cond), __VA_ARGS__)
#define cr_assert_eq(a, b, ...)     cr_assert((a) == (b), __VA_ARGS__)
#define cr_assert_neq(a, b, ...)    cr_assert((a) != (b), __VA_ARGS__)
#define cr_assert_geq(a, b, ...)    cr_assert((a) >= (b), __VA_ARGS__)
#define cr_assert_not_null(p, ...)  cr_assert((p) != NULL, __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) cr_assert(strcmp((a), (b)) == 0, __VA_ARGS__)
#define cr_assert_float_eq(a, b, eps, ...)                                                         \
    cr_assert(fabs((double)(a) - (double)(b)) <= (eps), __VA_ARGS__)
#define cr_assert_fail(...) cr_assert(0, __VA_ARGS__)

int main(void)
{
    int failed = 0;
    for (int i = 0; i < mc_ntests; i++) {
        const struct mc_test *t = &mc_tests[i];
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            alarm(t->s->timeout ? (unsigned)t->s->timeout : 60);
            mc_fini = t->s->fini;
            if (t->s->init)
                t->s->init();
            t->fn();
            if (t->s->fini)
                t->s->fini();
            _exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
        int ok = t->o.signal ? WIFSIGNALED(st) && WTERMSIG(st) == t->o.signal
                             : WIFEXITED(st) && WEXITSTATUS(st) == 0;
        printf("[%s] %s::%s\n", ok ? "PASS" : "FAIL", t->suite, t->name);
        failed += !ok;
    }
    printf("%d passed, %d failed\n", mc_ntests - failed, failed);
    return failed ? 1 : 0;
}

#endif
