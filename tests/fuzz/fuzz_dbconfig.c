/*
 * tests/fuzz/fuzz_dbconfig.c - libFuzzer target: arbitrary bytes as SONiC's
 * database_config.json and as database_global.json, parsed by core/dbconfig.c
 * (jansson underneath). Any crash, sanitizer report or broken promise is a
 * finding: a file accepted gives three usable endpoints (an absolute socket
 * path that fits sun_path, or a host and a port 1-65535; a database number of
 * 0 or more), a namespace's include is a path beside the global file (or an
 * absolute one), and a refused file gives one line that starts with the file's
 * name.
 *
 * The harness is left out of the coverage (HARNESS): the edges reported are
 * dbconfig.c's (jansson is Debian's, uninstrumented).
 */
#include <stdint.h>
#include <string.h>

#include "dbconfig.h"

#define HARNESS __attribute__((no_sanitize("coverage")))

#define require(cond)                                                                              \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static const char cfg_file[] = "/var/run/redis/sonic-db/database_config.json";
static const char global_file[] = "/var/run/redis/sonic-db/database_global.json";

HARNESS static void check_error(const char *err, size_t size, const char *file)
{
    require(memchr(err, '\0', size) != NULL);
    require(strncmp(err, file, strlen(file)) == 0);
    /* One line of text: no newline, no other control byte from the input. */
    for (const char *p = err; *p; p++)
        require((unsigned char)*p >= 0x20 && (unsigned char)*p != 0x7f);
}

HARNESS static void check_config(const uint8_t *data, size_t size)
{
    struct pcd_dbconfig cfg;
    char err[2048];
    if (pcd_dbconfig_parse(&cfg, cfg_file, (const char *)data, size, err, sizeof err) != 0) {
        check_error(err, sizeof err, cfg_file);
        return;
    }
    struct pcd_redis_opts o;
    pcd_dbconfig_endpoints(&cfg, &o);
    for (int i = 0; i < PCD_DB_COUNT; i++) {
        const struct pcd_redis_endpoint *e = &o.db[i];
        require(e->id >= 0);
        if (e->socket) {
            require(e->socket[0] == '/' && strlen(e->socket) <= PCD_DBCONFIG_SOCKET_MAX);
        } else {
            require(e->host && e->host[0]);
            require(e->port >= 1 && e->port <= 65535);
        }
        require(memchr(cfg.db[i].instance, '\0', sizeof cfg.db[i].instance) != NULL);
    }
}

HARNESS static void check_global(const uint8_t *data, size_t size, const char *ns)
{
    struct pcd_dbconfig_include inc;
    char err[2048];
    if (pcd_dbconfig_global_parse(global_file, (const char *)data, size, ns, &inc, err,
                                  sizeof err) != 0) {
        check_error(err, sizeof err, global_file);
        return;
    }
    require(inc.path[0]);
    require(inc.path[0] == '/');
    require(memchr(inc.key, '\0', sizeof inc.key) != NULL);
}

HARNESS int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_config(data, size);
    check_global(data, size, "asic0");
    check_global(data, size, "asic1");
    return 0;
}
