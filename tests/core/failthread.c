/*
 * tests/core/failthread.c - LD_PRELOAD shim for core.thread_start_fails:
 * pthread_create() fails with EAGAIN (as at a threads or pids limit) while the
 * file named by $FAIL_THREAD_FILE exists.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

int pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*f)(void *), void *arg)
{
    static int (*real)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
    if (!real)
        real = dlsym(RTLD_NEXT, "pthread_create");
    const char *p = getenv("FAIL_THREAD_FILE");
    if (p && access(p, F_OK) == 0)
        return EAGAIN;
    return real(t, a, f, arg);
}
