/*
 * tests/unit/test_trust.c - the reader trusts nothing about the path: /dev/shm is
 * world-writable, so whatever sits at a segment's name may have been planted by
 * any local user. Opening must not block (a FIFO), must not follow a link, and
 * must accept only a regular file owned by the expected writer that nobody else
 * may write; anything else is one line naming the path and what was found.
 * Segments may also live at an absolute path in any directory.
 */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "testutil.h"

#define NOBODY 65534

static const char *seg;
static char path[160];  /* /dev/shm/<seg>: where an attacker plants things */
static char good[128];  /* shm name of a real segment made by the writer */
static char goodp[200]; /* its path */
static char tmpdir[256];

static void rm_rf(const char *dir)
{
    if (!dir[0])
        return;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

static void setup(void)
{
    seg = tu_name("trust");
    snprintf(path, sizeof path, "/dev/shm/%s", seg);
    snprintf(good, sizeof good, "%s.good", seg);
    snprintf(goodp, sizeof goodp, "/dev/shm/%s", good);
    tmpdir[0] = '\0';
    rm_rf(path);
    shm_unlink(good);
}

static void teardown(void)
{
    rm_rf(path);
    shm_unlink(good);
    rm_rf(tmpdir);
}

TestSuite(trust, .init = setup, .fini = teardown, .timeout = 30);

/* A real segment with one counter at 7, its writer closed. */
static void make_good(void)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = good});
    int id = tu_register(w, "t_trust_total", PSM_COUNTER, 0, NULL);
    psm_counter_add(psm_counter_resolve(w, id, NULL), 7);
    psm_writer_close(w);
}

/* Copy the good segment's bytes to @dst as a new file with owner @uid and @mode. */
static void plant_copy(const char *dst, uid_t uid, mode_t mode)
{
    int in = open(goodp, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(in, 0, "open %s: %s", goodp, strerror(errno));
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    cr_assert_geq(out, 0, "create %s: %s", dst, strerror(errno));
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        cr_assert_eq(write(out, buf, (size_t)n), n, "write %s", dst);
    cr_assert_eq(fchown(out, uid, uid), 0, "fchown %s: %s", dst, strerror(errno));
    cr_assert_eq(fchmod(out, mode), 0, "fchmod %s: %s", dst, strerror(errno));
    close(out);
    close(in);
}

/* Open @name expecting a refusal with @want_errno and @needle (and the path) in the line. */
static void expect_refused(const char *name, const struct psm_reader_opts *o, int want_errno,
                           const char *needle, const char *where)
{
    char err[512] = "";
    psm_reader_t *r = NULL;
    int rc = psm_reader_open_opts(&r, name, o, err, sizeof err);
    int e = errno;
    cr_assert_eq(rc, -1, "%s was accepted", where);
    cr_assert_eq(e, want_errno, "errno %d (%s), expected %d: %s", e, strerror(e), want_errno, err);
    cr_assert(strstr(err, needle), "'%s' does not say '%s'", err, needle);
    cr_assert(strstr(err, where), "'%s' does not name %s", err, where);
    cr_assert(!strchr(err, '\n'), "more than one line: '%s'", err);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "psm_reader_open blocked on the FIFO for 5 s\n";
    /* _exit skips the suite's teardown: remove what the test planted here. */
    unlink(path);
    unlink(goodp);
    if (write(2, msg, sizeof msg - 1) < 0)
        _exit(99);
    _exit(98);
}

Test(trust, a_fifo_at_the_path_is_refused_without_blocking)
{
    cr_assert_eq(mkfifo(path, 0666), 0, "mkfifo: %s", strerror(errno));
    signal(SIGALRM, on_alarm);
    alarm(5);
    expect_refused(seg, NULL, EPERM, "is a FIFO", path);
    alarm(0);
}

Test(trust, a_directory_at_the_path_is_refused)
{
    cr_assert_eq(mkdir(path, 0755), 0, "mkdir: %s", strerror(errno));
    expect_refused(seg, NULL, EPERM, "is a directory", path);
}

Test(trust, a_symbolic_link_at_the_path_is_not_followed)
{
    make_good();
    cr_assert_eq(symlink(goodp, path), 0, "symlink: %s", strerror(errno));
    expect_refused(seg, NULL, ELOOP, "is a symbolic link", path);
}

Test(trust, a_socket_at_the_path_is_refused)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    cr_assert_lt(strlen(path), sizeof a.sun_path);
    memcpy(a.sun_path, path, strlen(path) + 1);
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0, "bind: %s", strerror(errno));
    expect_refused(seg, NULL, EPERM, "is a socket", path);
    close(s);
}

Test(trust, a_device_at_the_path_is_refused)
{
    /* /dev/null's numbers: harmless even if it were opened. */
    if (mknod(path, S_IFCHR | 0644, makedev(1, 3)) != 0)
        cr_skip_test("mknod not permitted here: %s", strerror(errno));
    expect_refused(seg, NULL, EPERM, "is a character device", path);
}

Test(trust, a_segment_owned_by_another_user_is_refused)
{
    make_good();
    plant_copy(path, NOBODY, 0640);
    struct passwd *pw = getpwuid(NOBODY);
    char want[128];
    snprintf(want, sizeof want, "is owned by uid %d%s%s%s, expected uid 0 (root)", NOBODY,
             pw ? " (" : "", pw ? pw->pw_name : "", pw ? ")" : "");
    expect_refused(seg, NULL, EPERM, want, path);
    /* The same with the expected owner spelled out. */
    expect_refused(seg, &(struct psm_reader_opts){.owner = 0, .owner_set = 1}, EPERM, want, path);
}

Test(trust, a_segment_owned_by_the_configured_user_is_accepted)
{
    make_good();
    plant_copy(path, NOBODY, 0640);
    char err[512] = "";
    psm_reader_t *r = NULL;
    cr_assert_eq(psm_reader_open_opts(&r, seg,
                                      &(struct psm_reader_opts){.owner = NOBODY, .owner_set = 1},
                                      err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(psm_reader_load(r), 0, "%s", psm_reader_error(r));
    struct psm_series_view v;
    psm_reader_series(r, 0, &v);
    cr_assert_eq(psm_series_u64(&v), 7);
    psm_reader_close(r);
    /* ...and then root's own segment is the foreign one. */
    expect_refused(good, &(struct psm_reader_opts){.owner = NOBODY, .owner_set = 1}, EPERM,
                   "is owned by uid 0 (root), expected uid 65534", goodp);
}

Test(trust, a_group_writable_segment_is_refused)
{
    make_good();
    plant_copy(path, 0, 0660);
    expect_refused(seg, NULL, EPERM, "has mode 0660: group or others may write it", path);
}

Test(trust, an_other_writable_segment_is_refused)
{
    make_good();
    plant_copy(path, 0, 0646);
    expect_refused(seg, NULL, EPERM, "has mode 0646: group or others may write it", path);
}

Test(trust, a_writers_own_segment_is_accepted)
{
    make_good();
    psm_reader_t *r = tu_reader(good);
    cr_assert_eq(psm_reader_series_count(r), 1);
    psm_reader_close(r);
}

/* A segment copied to @dir/<leaf> opens by its absolute path and reads back. */
static void open_at_absolute_path(const char *dir_template)
{
    make_good();
    snprintf(tmpdir, sizeof tmpdir, "%s", dir_template);
    cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp %s: %s", dir_template, strerror(errno));
    char file[400];
    snprintf(file, sizeof file, "%s/portsyncd-metrics", tmpdir);
    plant_copy(file, 0, 0640);
    psm_reader_t *r = tu_reader(file);
    cr_assert_str_eq(psm_reader_name(r), file);
    struct psm_series_view v;
    psm_reader_series(r, 0, &v);
    cr_assert_eq(psm_series_u64(&v), 7);
    cr_assert_eq(psm_reader_refresh(r), 0, "%s", psm_reader_error(r));
    psm_reader_close(r);
    /* The same checks apply there: a group-writable file is refused. */
    cr_assert_eq(chmod(file, 0660), 0);
    expect_refused(file, NULL, EPERM, "has mode 0660", file);
}

Test(trust, a_segment_at_an_absolute_path_in_tmp_opens)
{
    open_at_absolute_path("/tmp/psm-trust-XXXXXX");
}

Test(trust, a_segment_at_an_absolute_path_on_a_disk_filesystem_opens)
{
    open_at_absolute_path("/var/tmp/psm-trust-XXXXXX");
}

Test(trust, a_segment_at_a_long_absolute_path_opens)
{
    make_good();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/psm-trust-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    /* Longer than any shm name: the reader must not cut it to 255 bytes. */
    char file[1200];
    int n = snprintf(file, sizeof file, "%s", tmpdir);
    for (int i = 0; i < 8; i++) {
        n += snprintf(file + n, sizeof file - (size_t)n, "/%s",
                      "d123456789012345678901234567890123"
                      "45678901234567890123456789");
        cr_assert_eq(mkdir(file, 0755), 0, "mkdir %s: %s", file, strerror(errno));
    }
    snprintf(file + n, sizeof file - (size_t)n, "/seg");
    cr_assert_geq(strlen(file), 500);
    plant_copy(file, 0, 0640);
    psm_reader_t *r = tu_reader(file);
    cr_assert_str_eq(psm_reader_name(r), file);
    cr_assert_eq(psm_reader_refresh(r), 0, "%s", psm_reader_error(r));
    psm_reader_close(r);
}

Test(trust, a_relative_or_invalid_name_is_a_usage_error)
{
    char err[512];
    psm_reader_t *r;
    const char *bad[] = {"dir/seg", "../seg", "", "/tmp/", "/tmp/bad name"};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(psm_reader_open(&r, bad[i], err, sizeof err), -1, "'%s' accepted", bad[i]);
        cr_assert_eq(errno, EINVAL, "'%s': errno %d", bad[i], errno);
        cr_assert(strstr(err, "absolute path"), "'%s': %s", bad[i], err);
    }
}

Test(trust, refresh_keeps_the_patience_setting)
{
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){.name = seg});
    tu_register(w, "t_h_seconds", PSM_HISTOGRAM, 0, NULL);
    psm_reader_t *r = tu_reader(seg);
    psm_reader_set_patience(r, 1234);
    psm_writer_close(w);
    w = tu_writer(&(struct psm_writer_opts){.name = seg, .replace = 1});
    int id = tu_register(w, "t_h_seconds", PSM_HISTOGRAM, 0, NULL);
    psm_histogram_resolve(w, id, NULL);
    cr_assert_eq(psm_reader_refresh(r), 1, "not remapped: %s", psm_reader_error(r));
    cr_assert_eq(psm_reader_load(r), 0, "%s", psm_reader_error(r));
    struct psm_series_view v;
    psm_reader_series(r, 0, &v);
    cr_assert_eq(v.patience_us, 1234, "patience after refresh: %u", v.patience_us);
    psm_reader_close(r);
    psm_writer_close(w);
}

/* Replace the segment behind @seg with @plant (a function making something at path). */
static psm_reader_t *reader_then_replace(void (*plant)(void))
{
    make_good();
    plant_copy(path, 0, 0640);
    psm_reader_t *r = tu_reader(seg);
    cr_assert_eq(unlink(path), 0);
    plant();
    return r;
}

static void plant_fifo(void)
{
    cr_assert_eq(mkfifo(path, 0666), 0, "mkfifo: %s", strerror(errno));
}

static void plant_foreign(void)
{
    plant_copy(path, NOBODY, 0640);
}

static void plant_symlink(void)
{
    cr_assert_eq(symlink(goodp, path), 0, "symlink: %s", strerror(errno));
}

/* After a refused refresh the old mapping still reads. */
static void expect_refresh_refused(psm_reader_t *r, const char *needle)
{
    cr_assert_eq(psm_reader_refresh(r), -1, "an untrusted replacement was followed");
    const char *e = psm_reader_error(r);
    cr_assert(strstr(e, needle), "'%s' does not say '%s'", e, needle);
    cr_assert(strstr(e, path), "'%s' does not name %s", e, path);
    cr_assert(strstr(e, "keeping the old mapping"), "%s", e);
    cr_assert_eq(psm_reader_load(r), 0, "%s", psm_reader_error(r));
    struct psm_series_view v;
    psm_reader_series(r, 0, &v);
    cr_assert_eq(psm_series_u64(&v), 7);
}

Test(trust, refresh_does_not_follow_a_segment_replaced_by_a_fifo)
{
    psm_reader_t *r = reader_then_replace(plant_fifo);
    signal(SIGALRM, on_alarm);
    alarm(5);
    expect_refresh_refused(r, "is a FIFO");
    alarm(0);
    psm_reader_close(r);
}

Test(trust, refresh_does_not_follow_a_segment_replaced_by_another_users)
{
    psm_reader_t *r = reader_then_replace(plant_foreign);
    expect_refresh_refused(r, "is owned by uid 65534");
    psm_reader_close(r);
}

Test(trust, refresh_does_not_follow_a_symbolic_link)
{
    psm_reader_t *r = reader_then_replace(plant_symlink);
    expect_refresh_refused(r, "is a symbolic link");
    psm_reader_close(r);
}

Test(trust, owner_parse_takes_a_user_name_or_a_uid)
{
    char err[256];
    uid_t u = 42;
    cr_assert_eq(psm_owner_parse("root", &u, err, sizeof err), 0, "%s", err);
    cr_assert_eq(u, 0);
    cr_assert_eq(psm_owner_parse("0", &u, err, sizeof err), 0, "%s", err);
    cr_assert_eq(u, 0);
    cr_assert_eq(psm_owner_parse("65534", &u, err, sizeof err), 0, "%s", err);
    cr_assert_eq(u, 65534);
    /* A uid need not have a name: containers map users the host does not know. */
    cr_assert_eq(psm_owner_parse("123456", &u, err, sizeof err), 0, "%s", err);
    cr_assert_eq(u, 123456);
    struct passwd *pw = getpwuid(NOBODY);
    if (pw) {
        cr_assert_eq(psm_owner_parse(pw->pw_name, &u, err, sizeof err), 0, "%s", err);
        cr_assert_eq(u, NOBODY);
    }
}

Test(trust, owner_parse_names_a_bad_value_and_what_was_expected)
{
    const char *bad[] = {"", "no-such-user-psm", "12abc", "-1", "4294967295", "99999999999", " 0"};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        uid_t u = 42;
        cr_assert_eq(psm_owner_parse(bad[i], &u, err, sizeof err), -1, "'%s' accepted", bad[i]);
        cr_assert_eq(u, 42, "'%s' changed the uid", bad[i]);
        char quoted[64];
        snprintf(quoted, sizeof quoted, "'%s'", bad[i]);
        cr_assert(strstr(err, quoted), "'%s' does not name %s", err, quoted);
        cr_assert(strstr(err, "user name or a numeric uid"), "%s", err);
    }
}
