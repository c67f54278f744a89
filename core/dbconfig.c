/*
 * core/dbconfig.c - see dbconfig.h. Parsed with jansson, which reports the
 * line and column of a syntax error; every other message names the key as a
 * path from the top (DATABASES.STATE_DB.instance) and quotes what it found.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dbconfig.h"

/* Per database: its name in DATABASES, the separator of portsyncd's keys, and an example. */
static const struct {
    const char *name, *sep, *example;
} wanted[PCD_DB_COUNT] = {
    {"APPL_DB", ":", "PORT_TABLE:<name>"},
    {"CONFIG_DB", "|", "PORT|<name>"},
    {"STATE_DB", "|", "PORT_TABLE|<name>"},
};

/* printf into @err, always NUL-terminated; returns -1 for "return fail(...)". */
__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/*
 * @s (@len bytes) with the bytes that are not printable ASCII (and '"', '\\')
 * as \xNN, cut after @max bytes ("..."), in double quotes if @quotes.
 */
static const char *escape(const char *s, size_t len, size_t max, int quotes, char *buf, size_t size)
{
    size_t o = 0;
    if (quotes)
        buf[o++] = '"';
    for (size_t i = 0; i < len && o + 8 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == max) {
            o += (size_t)snprintf(buf + o, size - o, "...");
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
    }
    snprintf(buf + o, size - o, "%s", quotes ? "\"" : "");
    return buf;
}

/* A value from the file for messages: quoted, cut after 64 bytes. */
static const char *quote(const char *s, size_t len, char *buf, size_t size)
{
    return escape(s, len, 64, 1, buf, size);
}

/* A key as part of a path in messages: as it is when plain, else quoted. */
static const char *key_part(const char *k, char *buf, size_t size)
{
    quote(k, strlen(k), buf, size);
    if (strlen(buf) == strlen(k) + 2) {
        memmove(buf, buf + 1, strlen(k));
        buf[strlen(k)] = '\0';
    }
    return buf;
}

/* A JSON value as a message shows it: '"6379" (a string)', '6379 (an integer)', 'an array'. */
static const char *describe(const json_t *v, char *buf, size_t size)
{
    char q[300];
    switch (json_typeof(v)) {
    case JSON_STRING:
        snprintf(buf, size, "%s (a string)",
                 quote(json_string_value(v), json_string_length(v), q, sizeof q));
        break;
    case JSON_INTEGER:
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT " (an integer)", json_integer_value(v));
        break;
    case JSON_REAL:
        snprintf(buf, size, "%g (a number with a fraction)", json_real_value(v));
        break;
    case JSON_TRUE:
        snprintf(buf, size, "true");
        break;
    case JSON_FALSE:
        snprintf(buf, size, "false");
        break;
    case JSON_NULL:
        snprintf(buf, size, "null");
        break;
    case JSON_OBJECT:
        snprintf(buf, size, "an object");
        break;
    case JSON_ARRAY:
        snprintf(buf, size, "an array");
        break;
    }
    return buf;
}

/* The keys of @obj, comma-separated, for "it has: ..." (about 200 bytes at most). */
static const char *keys_of(const json_t *obj, char *buf, size_t size)
{
    const char *k;
    json_t *v;
    size_t o = 0;
    snprintf(buf, size, "none");
    json_object_foreach((json_t *)obj, k, v)
    {
        (void)v;
        char q[300];
        if (o > 200) {
            snprintf(buf + o, size - o, ", ...");
            break;
        }
        quote(k, strlen(k), q, sizeof q);
        int n = snprintf(buf + o, size - o, "%s%s", o ? ", " : "", q);
        if (n < 0 || o + (size_t)n >= size)
            break;
        o += (size_t)n;
    }
    return buf;
}

/* JSON text to a value; NULL with "<file>: line L, column C: <jansson's text>". */
static json_t *json_parse(const char *file, const char *text, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    if (!root) {
        /* jansson quotes the input near the error, control bytes and all: keep one line. */
        char shown[4 * JSON_ERROR_TEXT_LENGTH];
        size_t o = 0;
        for (const char *p = je.text; *p && o + 5 < sizeof shown; p++) {
            unsigned char c = (unsigned char)*p;
            if (c < 0x20 || c == 0x7f)
                o += (size_t)snprintf(shown + o, sizeof shown - o, "\\x%02x", c);
            else
                shown[o++] = (char)c;
        }
        shown[o] = '\0';
        fail(err, errlen, "%s: line %d, column %d: %s: expected valid JSON", file, je.line,
             je.column, shown);
    }
    return root;
}

/* Copy string member @key of @obj (at @path) into @out; 0 absent, 1 copied, -1 bad. */
static int get_string(const char *file, const char *path, const json_t *obj, const char *key,
                      char *out, size_t outlen, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    char d[400];
    if (!v)
        return 0;
    if (!json_is_string(v))
        return fail(err, errlen, "%s: %s.%s is %s: expected a string", file, path, key,
                    describe(v, d, sizeof d));
    if (json_string_length(v) >= outlen)
        return fail(err, errlen, "%s: %s.%s is %s, %zu bytes: expected at most %zu", file, path,
                    key, describe(v, d, sizeof d), json_string_length(v), outlen - 1);
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 1;
}

/* Integer member @key in [lo, hi]; 0 absent, 1 read, -1 bad. */
static int get_int(const char *file, const char *path, const json_t *obj, const char *key,
                   long long lo, long long hi, const char *what, int *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    char d[400];
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return fail(err, errlen, "%s: %s.%s is %s: expected %s (an integer from %lld to %lld)",
                    file, path, key, describe(v, d, sizeof d), what, lo, hi);
    *out = (int)json_integer_value(v);
    return 1;
}

/* INSTANCES.<name> into @db: a socket, or a hostname and a port. */
static int parse_instance(const char *file, const json_t *insts, const char *name,
                          struct pcd_dbconfig_db *db, char *err, size_t errlen)
{
    char path[320], q[300], d[400];
    json_t *in = json_object_get(insts, name);
    snprintf(path, sizeof path, "INSTANCES.%s", key_part(name, q, sizeof q));
    if (!json_is_object(in))
        return fail(err, errlen,
                    "%s: %s is %s: expected an object with unix_socket_path, or hostname and port",
                    file, path, describe(in, d, sizeof d));
    db->socket[0] = db->host[0] = '\0';
    db->port = 0;
    int has_port;
    if (get_string(file, path, in, "unix_socket_path", db->socket, sizeof db->socket, err, errlen) <
            0 ||
        get_string(file, path, in, "hostname", db->host, sizeof db->host, err, errlen) < 0 ||
        (has_port =
             get_int(file, path, in, "port", 1, 65535, "a TCP port", &db->port, err, errlen)) < 0)
        return -1;
    if (db->socket[0] && db->socket[0] != '/')
        return fail(err, errlen, "%s: %s.unix_socket_path is %s: expected an absolute path", file,
                    path, quote(db->socket, strlen(db->socket), q, sizeof q));
    if (db->socket[0])
        return 0;
    if (!db->host[0])
        return fail(err, errlen,
                    "%s: %s has neither a unix_socket_path nor a hostname: expected one of them",
                    file, path);
    if (!has_port)
        return fail(err, errlen,
                    "%s: %s has a hostname but no port (and no unix_socket_path): expected a "
                    "port, an integer from 1 to 65535",
                    file, path);
    return 0;
}

/* DATABASES.<wanted[i]> and its instance into cfg->db[i]. */
static int parse_db(const char *file, const json_t *dbs, const json_t *insts, int i,
                    struct pcd_dbconfig *cfg, char *err, size_t errlen)
{
    const char *name = wanted[i].name;
    struct pcd_dbconfig_db *db = &cfg->db[i];
    char path[64], d[400], list[300], sep[8];
    json_t *e = json_object_get(dbs, name);
    snprintf(path, sizeof path, "DATABASES.%s", name);
    if (!e)
        return fail(err, errlen,
                    "%s: DATABASES has no %s: expected APPL_DB, CONFIG_DB and STATE_DB (it has: "
                    "%s)",
                    file, name, keys_of(dbs, list, sizeof list));
    if (!json_is_object(e))
        return fail(err, errlen, "%s: %s is %s: expected an object with id, separator and instance",
                    file, path, describe(e, d, sizeof d));
    int got = get_int(file, path, e, "id", 0, INT_MAX, "a database number", &db->id, err, errlen);
    if (got <= 0)
        return got < 0 ? -1
                       : fail(err, errlen,
                              "%s: %s has no id: expected a database number (an integer from 0)",
                              file, path);
    got = get_string(file, path, e, "separator", sep, sizeof sep, err, errlen);
    if (got == 0)
        return fail(err, errlen, "%s: %s has no separator: expected \"%s\"", file, path,
                    wanted[i].sep);
    if (got < 0 || strcmp(sep, wanted[i].sep) != 0) {
        json_t *v = json_object_get(e, "separator");
        return fail(err, errlen,
                    "%s: %s.separator is %s: expected \"%s\" (portsyncd's %s keys are %s)", file,
                    path, describe(v, d, sizeof d), wanted[i].sep, name, wanted[i].example);
    }
    got = get_string(file, path, e, "instance", db->instance, sizeof db->instance, err, errlen);
    if (got <= 0)
        return got < 0 ? -1
                       : fail(err, errlen,
                              "%s: %s has no instance: expected the name of one of "
                              "INSTANCES",
                              file, path);
    char q[300];
    if (!insts)
        return fail(err, errlen,
                    "%s: %s.instance is %s, but the file has no INSTANCES: expected an "
                    "INSTANCES object that defines it",
                    file, path, quote(db->instance, strlen(db->instance), q, sizeof q));
    if (!json_object_get(insts, db->instance)) {
        return fail(err, errlen,
                    "%s: %s.instance is %s, which INSTANCES does not define: expected one of: %s",
                    file, path, quote(db->instance, strlen(db->instance), q, sizeof q),
                    keys_of(insts, list, sizeof list));
    }
    return parse_instance(file, insts, db->instance, db, err, errlen);
}

int pcd_dbconfig_parse(struct pcd_dbconfig *cfg, const char *file, const char *text, size_t len,
                       char *err, size_t errlen)
{
    char d[400];
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->file, sizeof cfg->file, "%s", file);
    json_t *root = json_parse(file, text, len, err, errlen);
    if (!root)
        return -1;
    int rc = -1;
    json_t *dbs = json_object_get(root, "DATABASES"), *insts = json_object_get(root, "INSTANCES");
    if (!json_is_object(root))
        fail(err, errlen,
             "%s: the top level is %s: expected an object with INSTANCES and DATABASES", file,
             describe(root, d, sizeof d));
    else if (!dbs)
        fail(err, errlen,
             "%s: no DATABASES: expected DATABASES with APPL_DB, CONFIG_DB and STATE_DB", file);
    else if (!json_is_object(dbs))
        fail(err, errlen, "%s: DATABASES is %s: expected an object", file,
             describe(dbs, d, sizeof d));
    else if (insts && !json_is_object(insts))
        fail(err, errlen, "%s: INSTANCES is %s: expected an object", file,
             describe(insts, d, sizeof d));
    else if (parse_db(file, dbs, insts, PCD_APPL_DB, cfg, err, errlen) == 0 &&
             parse_db(file, dbs, insts, PCD_CONFIG_DB, cfg, err, errlen) == 0 &&
             parse_db(file, dbs, insts, PCD_STATE_DB, cfg, err, errlen) == 0)
        rc = 0;
    json_decref(root);
    return rc;
}

/* The whole of @file into a malloc()ed buffer; @what names the kind of file for messages. */
static char *read_all(const char *file, const char *what, size_t *len, char *err, size_t errlen)
{
    /* O_NONBLOCK: a FIFO at the path must not hang the daemon's start. */
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    if (fd < 0) {
        fail(err, errlen, "%s: cannot open it: %s: expected SONiC's %s", file, strerror(errno),
             what);
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > PCD_DBCONFIG_MAX_BYTES) {
        if (S_ISREG(st.st_mode))
            fail(err, errlen, "%s: %lld bytes: expected SONiC's %s, at most %d bytes", file,
                 (long long)st.st_size, what, PCD_DBCONFIG_MAX_BYTES);
        else
            fail(err, errlen, "%s: %s: expected SONiC's %s, a regular file", file,
                 S_ISDIR(st.st_mode) ? "a directory" : "not a regular file", what);
        close(fd);
        return NULL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    if (!buf)
        fail(err, errlen, "%s: out of memory reading %lld bytes", file, (long long)st.st_size);
    while (buf && got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fail(err, errlen, "%s: cannot read it: %s", file,
                 n < 0 ? strerror(errno) : "it shrank");
            free(buf);
            buf = NULL;
        } else {
            got += (size_t)n;
        }
    }
    close(fd);
    *len = got;
    return buf;
}

int pcd_dbconfig_load(struct pcd_dbconfig *cfg, const char *file, char *err, size_t errlen)
{
    size_t len;
    char *text = read_all(file, "database_config.json", &len, err, errlen);
    if (!text)
        return -1;
    int rc = pcd_dbconfig_parse(cfg, file, text, len, err, errlen);
    free(text);
    return rc;
}

/* The namespaces the global file lists, for "expected one of: ...". */
static const char *namespaces_of(const json_t *incs, char *buf, size_t size)
{
    size_t i, o = 0;
    json_t *e;
    buf[0] = '\0';
    json_array_foreach((json_t *)incs, i, e)
    {
        json_t *ns = json_object_get(e, "namespace");
        if (!json_is_string(ns) || o > 200)
            continue;
        char q[300];
        int n = snprintf(buf + o, size - o, "%s%s", o ? ", " : "",
                         quote(json_string_value(ns), json_string_length(ns), q, sizeof q));
        if (n > 0 && o + (size_t)n < size)
            o += (size_t)n;
    }
    return buf;
}

/* Does entry @e belong to namespace @ns (and not to a DPU's container)? -1: malformed. */
static int entry_is(const char *file, size_t i, const json_t *e, const char *ns, char *err,
                    size_t errlen)
{
    char d[400];
    if (!json_is_object(e))
        return fail(err, errlen,
                    "%s: INCLUDES[%zu] is %s: expected an object with include and "
                    "namespace",
                    file, i, describe(e, d, sizeof d));
    json_t *n = json_object_get(e, "namespace"), *c = json_object_get(e, "container_name");
    if (n && !json_is_string(n))
        return fail(err, errlen, "%s: INCLUDES[%zu].namespace is %s: expected a string", file, i,
                    describe(n, d, sizeof d));
    if (c && !json_is_string(c))
        return fail(err, errlen, "%s: INCLUDES[%zu].container_name is %s: expected a string", file,
                    i, describe(c, d, sizeof d));
    if (c && json_string_length(c) > 0)
        return 0;
    return n && strcmp(json_string_value(n), ns) == 0 && json_string_length(n) == strlen(ns);
}

int pcd_dbconfig_global_parse(const char *file, const char *text, size_t len, const char *ns,
                              struct pcd_dbconfig_include *inc, char *err, size_t errlen)
{
    char d[400], q[300], list[300];
    memset(inc, 0, sizeof *inc);
    json_t *root = json_parse(file, text, len, err, errlen);
    if (!root)
        return -1;
    int rc = -1;
    long found = -1;
    size_t i;
    json_t *e, *incs = json_object_get(root, "INCLUDES");
    if (!json_is_object(root)) {
        fail(err, errlen, "%s: the top level is %s: expected an object with INCLUDES", file,
             describe(root, d, sizeof d));
        goto out;
    }
    if (!json_is_array(incs)) {
        if (!incs)
            fail(err, errlen,
                 "%s: no INCLUDES: expected an INCLUDES array, one entry per "
                 "namespace",
                 file);
        else
            fail(err, errlen, "%s: INCLUDES is %s: expected an array, one entry per namespace",
                 file, describe(incs, d, sizeof d));
        goto out;
    }
    json_array_foreach(incs, i, e)
    {
        int is = entry_is(file, i, e, ns, err, errlen);
        if (is < 0)
            goto out;
        if (is && found >= 0) {
            fail(err, errlen,
                 "%s: INCLUDES[%ld] and INCLUDES[%zu] both have namespace %s: "
                 "expected one entry per namespace",
                 file, found, i, quote(ns, strlen(ns), q, sizeof q));
            goto out;
        }
        if (is)
            found = (long)i;
    }
    if (found < 0) {
        namespaces_of(incs, list, sizeof list);
        fail(err, errlen, "%s: no INCLUDES entry has namespace %s: expected %s%s", file,
             quote(ns, strlen(ns), q, sizeof q), list[0] ? "one of: " : "",
             list[0] ? list
                     : "none: it lists no namespace (a single-ASIC switch: run without "
                       "--namespace)");
        goto out;
    }
    e = json_array_get(incs, (size_t)found);
    json_t *in = json_object_get(e, "include");
    if (!json_is_string(in) || json_string_length(in) == 0) {
        fail(err, errlen,
             "%s: INCLUDES[%ld] (namespace %s) %s%s: expected the path of that namespace's "
             "database_config.json, relative to this file's directory",
             file, found, quote(ns, strlen(ns), q, sizeof q),
             in ? "has include " : "has no include", in ? describe(in, d, sizeof d) : "");
        goto out;
    }
    const char *s = json_string_value(in), *slash = strrchr(file, '/');
    /* SONiC: the directory of the global file, its last '/' included, then the include. */
    int dirlen = s[0] == '/' || !slash ? 0 : (int)(slash - file + 1);
    int n = snprintf(inc->path, sizeof inc->path, "%.*s%s", dirlen, file, s);
    if (n < 0 || (size_t)n >= sizeof inc->path) {
        fail(err, errlen,
             "%s: INCLUDES[%ld].include leads to a path of %d bytes: expected at "
             "most %zu",
             file, found, n, sizeof inc->path - 1);
        goto out;
    }
    snprintf(inc->key, sizeof inc->key, "INCLUDES[%ld].include %s (namespace %s)", found,
             quote(s, strlen(s), d, sizeof d), quote(ns, strlen(ns), q, sizeof q));
    rc = 0;
out:
    json_decref(root);
    return rc;
}

int pcd_dbconfig_load_namespace(struct pcd_dbconfig *cfg, const char *global, const char *ns,
                                char *err, size_t errlen)
{
    size_t len;
    struct pcd_dbconfig_include inc;
    char *text = read_all(global, "database_global.json", &len, err, errlen);
    if (!text)
        return -1;
    int rc = pcd_dbconfig_global_parse(global, text, len, ns, &inc, err, errlen);
    free(text);
    if (rc != 0)
        return -1;
    struct stat st;
    char shown[4 * sizeof inc.path];
    if (stat(inc.path, &st) != 0)
        return fail(err, errlen,
                    "%s: %s leads to %s: %s: expected an existing "
                    "database_config.json",
                    global, inc.key,
                    escape(inc.path, strlen(inc.path), sizeof inc.path, 0, shown, sizeof shown),
                    strerror(errno));
    return pcd_dbconfig_load(cfg, inc.path, err, errlen);
}

void pcd_dbconfig_endpoints(const struct pcd_dbconfig *cfg, struct pcd_redis_opts *o)
{
    for (int i = 0; i < PCD_DB_COUNT; i++) {
        const struct pcd_dbconfig_db *db = &cfg->db[i];
        o->db[i] = (struct pcd_redis_endpoint){
            .socket = db->socket[0] ? db->socket : NULL,
            .host = db->host[0] ? db->host : NULL,
            .port = db->port,
            .id = db->id,
        };
    }
}
