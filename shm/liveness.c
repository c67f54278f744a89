/*
 * shm/liveness.c - is a segment's writer alive: what the writer records about
 * itself, where it can be read, and how a reader judges it.
 *
 * Liveness has two methods because a pid means nothing outside its PID
 * namespace: on a SONiC switch the writer runs in the swss container and the
 * exporter in its own. The writer records its namespace (st_dev, st_ino of
 * /proc/self/ns/pid); a reader in the same namespace, whose /proc is its own, can
 * check the process itself (exists, not a zombie, same start time); any other
 * reader has only the heartbeat.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "psm/reader.h"
#include "psu/clock.h"

/* A heartbeat this far ahead of our clock was not written in this boot. */
#define FUTURE_SLACK_NS 1000000000ull

int psm__proc_stat(int pid, char *state, uint64_t *start_ticks)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* comm may contain spaces and parentheses: fields resume after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    /* After ')' come field 3 (state) onwards; starttime is field 22. */
    unsigned long long v = 0;
    char st = 0;
    for (int field = 3; field <= 22; field++) {
        while (*p == ' ')
            p++;
        if (field == 3)
            st = *p;
        if (field == 22) {
            if (sscanf(p, "%llu", &v) != 1)
                return -1;
            break;
        }
        while (*p && *p != ' ')
            p++;
    }
    if (!st)
        return -1;
    *state = st;
    *start_ticks = v;
    return 0;
}

uint64_t psm__proc_start_ticks(int pid)
{
    char state;
    uint64_t ticks;
    return psm__proc_stat(pid, &state, &ticks) == 0 ? ticks : 0;
}

int psm__proc_is_own(void)
{
    /* /proc/self names the caller as the mounting namespace numbers it. */
    char buf[32];
    ssize_t n = readlink("/proc/self", buf, sizeof buf - 1);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *end;
    long v = strtol(buf, &end, 10);
    return *end == '\0' && v == (long)getpid();
}

int psm__pidns_self(uint64_t *dev, uint64_t *ino)
{
    struct stat st;
    if (stat("/proc/self/ns/pid", &st) != 0) {
        *dev = *ino = 0;
        return -1;
    }
    *dev = (uint64_t)st.st_dev;
    *ino = (uint64_t)st.st_ino;
    return 0;
}

/*
 * The method for @in: by pid only where a pid means what the writer meant, i.e.
 * the segment records the writer's namespace, it is ours, and our /proc is ours.
 */
static enum psm_liveness_method liveness_method(const struct psm_info *in)
{
    uint64_t dev, ino;
    if (in->minor < 1 || in->writer_pidns_ino == 0)
        return PSM_LIVENESS_HEARTBEAT;
    if (psm__pidns_self(&dev, &ino) != 0 || dev != in->writer_pidns_dev ||
        ino != in->writer_pidns_ino || !psm__proc_is_own())
        return PSM_LIVENESS_HEARTBEAT;
    return PSM_LIVENESS_PID;
}

/* By pid: NULL if the process is the writer and running, else why not. */
static const char *pid_verdict(pid_t pid, uint64_t want_ticks)
{
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return "the writer process no longer exists";
    char state;
    uint64_t have = 0;
    /* Unreadable (/proc mounted hidepid): the heartbeat still decides. */
    if (psm__proc_stat(pid, &state, &have) != 0)
        return NULL;
    if (want_ticks && have && want_ticks != have)
        return "the writer's pid now belongs to another process";
    if (state == 'Z' || state == 'X')
        return "the writer exited and was not reaped (zombie)";
    return NULL;
}

void psm_reader_liveness(const psm_reader_t *r, double max_age, struct psm_liveness *l)
{
    struct psm_info in;
    psm_reader_info(r, &in);
    uint64_t now = psu_clock_boot_ns();
    uint64_t hb = in.heartbeat_boottime;
    memset(l, 0, sizeof *l);
    l->pid = in.writer_pid;
    l->method = liveness_method(&in);
    l->heartbeat_age = now > hb ? (double)(now - hb) / 1e9 : 0.0;
    if (l->pid <= 0) {
        l->reason = "the writer closed the segment";
        return;
    }
    /*
     * CLOCK_BOOTTIME never goes back within a boot, so a heartbeat ahead of it was
     * written before a reboot (a segment kept on disk) or by a broken writer.
     */
    if (hb > now + FUTURE_SLACK_NS) {
        /* Its true age is unknown but at least the time since boot: say that, so a
         * caller comparing the age with a limit sees it as old, not fresh. */
        l->heartbeat_age = (double)now / 1e9;
        l->reason = "the writer's heartbeat is in the future: written before a reboot, or by "
                    "a broken writer";
        return;
    }
    if (l->method == PSM_LIVENESS_PID) {
        l->reason = pid_verdict(l->pid, in.writer_start_ticks);
        if (l->reason)
            return;
    }
    if (l->heartbeat_age > max_age) {
        l->reason = l->method == PSM_LIVENESS_PID
                        ? "the writer's heartbeat is stale"
                        : "the writer's heartbeat is stale (judged by the heartbeat alone: the "
                          "writer's PID namespace is not ours or not recorded)";
        return;
    }
    l->alive = 1;
}
