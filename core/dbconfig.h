/*
 * core/dbconfig.h - where SONiC says its databases are: database_config.json
 * and, on multi-ASIC switches, database_global.json (sonic-swss-common's
 * SonicDBConfig reads the same files).
 *
 *   database_config.json                     database_global.json
 *   {                                        {
 *     "INSTANCES": {                           "INCLUDES": [
 *       "redis": {                               {"include":
 * "../../redis/sonic-db/database_config.json"}, "hostname": "127.0.0.1", {"namespace": "asic0",
 *         "port": 6379,                           "include":
 * "../../redis0/sonic-db/database_config.json"} "unix_socket_path": "/var/run/redis/redis.sock" ],
 *       }                                      "VERSION": "1.0"
 *     },                                     }
 *     "DATABASES": {
 *       "APPL_DB":   {"id": 0, "separator": ":", "instance": "redis"},
 *       "CONFIG_DB": {"id": 4, "separator": "|", "instance": "redis"},
 *       "STATE_DB":  {"id": 6, "separator": "|", "instance": "redis"}, ...
 *     },
 *     "VERSION": "1.0"
 *   }
 *
 * Only what portsyncd uses is checked: APPL_DB, CONFIG_DB, STATE_DB and the
 * instances they name; other databases and keys are left alone, as SONiC's
 * other daemons own them. An instance is reached by its unix_socket_path when
 * it has a non-empty one (SONiC's C++ daemons do the same), else by hostname
 * and port. The separators must be those of portsyncd's keys (APPL_DB
 * PORT_TABLE:<name>, CONFIG_DB PORT|<name>, STATE_DB PORT_TABLE|<name>).
 * An include is relative to the directory of the global file.
 *
 * Every error is one line naming the file, the key, what was found and what
 * was expected.
 */
#ifndef PCD_DBCONFIG_H
#define PCD_DBCONFIG_H

#include <stddef.h>

#include "redis.h"

/* SONiC's paths (sonic-swss-common dbconnector.h). */
#define PCD_DBCONFIG_DEFAULT        "/var/run/redis/sonic-db/database_config.json"
#define PCD_DBCONFIG_GLOBAL_DEFAULT "/var/run/redis/sonic-db/database_global.json"

/* The largest file read: SONiC's are a few kB. */
#define PCD_DBCONFIG_MAX_BYTES (1 << 20)

/* A unix socket path must fit sockaddr_un's sun_path with its NUL. */
#define PCD_DBCONFIG_SOCKET_MAX 107

struct pcd_dbconfig_db {
    char instance[128];                       /* its INSTANCES name */
    char socket[PCD_DBCONFIG_SOCKET_MAX + 1]; /* "" when reached by TCP */
    char host[256];
    int port;
    int id;
};

struct pcd_dbconfig {
    char file[4096];                         /* the database_config.json it came from */
    struct pcd_dbconfig_db db[PCD_DB_COUNT]; /* indexed by enum pcd_db */
};

/**
 * pcd_dbconfig_parse - the three databases from the text of a database_config.json
 * @cfg: receives them (and @file, for messages)
 * @file: the file's name, for messages
 * @text: its contents (need not be NUL-terminated)
 * @len: their length
 * @err: buffer for what is wrong: "<file>: <key> ...: expected ..."
 * @errlen: size of @err
 * Returns 0, or -1 with @err filled.
 */
int pcd_dbconfig_parse(struct pcd_dbconfig *cfg, const char *file, const char *text, size_t len,
                       char *err, size_t errlen);

/**
 * pcd_dbconfig_load - pcd_dbconfig_parse() of a file
 * @cfg: receives the databases
 * @file: the path of a database_config.json
 * @err: buffer for what is wrong (a missing or unreadable file, a directory,
 *       more than PCD_DBCONFIG_MAX_BYTES, or what pcd_dbconfig_parse() finds)
 * @errlen: size of @err
 * Returns 0, or -1 with @err filled.
 */
int pcd_dbconfig_load(struct pcd_dbconfig *cfg, const char *file, char *err, size_t errlen);

/* A namespace's entry in database_global.json. */
struct pcd_dbconfig_include {
    char path[4096]; /* the database_config.json it names */
    char key[512];   /* e.g. 'INCLUDES[1].include "../../redis1/..." (namespace asic1)' */
};

/**
 * pcd_dbconfig_global_parse - the database_config.json of a namespace, from
 * the text of a database_global.json
 * @file: the global file's path: messages name it, and a relative include is
 *        taken from its directory
 * @text: its contents (need not be NUL-terminated)
 * @len: their length
 * @ns: the namespace (e.g. "asic1"); the entry must have that "namespace" and
 *      no "container_name" (that is a DPU's entry)
 * @inc: receives the entry's path, and its key for messages
 * @err: buffer for what is wrong (including a namespace that no entry lists)
 * @errlen: size of @err
 * Returns 0, or -1 with @err filled. Does not look at the included file.
 */
int pcd_dbconfig_global_parse(const char *file, const char *text, size_t len, const char *ns,
                              struct pcd_dbconfig_include *inc, char *err, size_t errlen);

/**
 * pcd_dbconfig_load_namespace - a namespace's databases through a database_global.json
 * @cfg: receives them
 * @global: the path of the database_global.json
 * @ns: the namespace
 * @err: buffer for what is wrong: in the global file, an include that does not
 *       exist (naming the entry, the include and where it led), or in the
 *       included file
 * @errlen: size of @err
 * Returns 0, or -1 with @err filled.
 */
int pcd_dbconfig_load_namespace(struct pcd_dbconfig *cfg, const char *global, const char *ns,
                                char *err, size_t errlen);

/**
 * pcd_dbconfig_endpoints - the databases as pcd_redis_opts wants them
 * @cfg: the configuration (its strings stay in use: keep it alive)
 * @o: its db[] receives socket or host/port and id per database
 */
void pcd_dbconfig_endpoints(const struct pcd_dbconfig *cfg, struct pcd_redis_opts *o);

#endif
