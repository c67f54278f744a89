/*
 * exporter/webconfig.h - exporter-toolkit's web-config.yml (its
 * tls_server_config and http_server_config parts), read with libyaml into a
 * struct pex_tls_config.
 */
#ifndef PEX_WEBCONFIG_H
#define PEX_WEBCONFIG_H

#include <stddef.h>

#include "config.h"

/* Bits of pex_webconfig_load()'s @set: what the file gave (a flag must not give it too). */
#define PEX_WC_SET_CIPHERS 0x1u /* cipher_suites */
#define PEX_WC_SET_GROUPS  0x2u /* curve_preferences */
#define PEX_WC_SET_HTTP2   0x4u /* http_server_config.http2 */

/**
 * pex_webconfig_load - read exporter-toolkit's web-config.yml into @t
 * @path: the file
 * @t: values found override those already in @t (paths, lists, http2)
 * @set: receives the PEX_WC_SET_* bits of what the file gave
 * @err: one line naming the file, line, key, value and what was expected
 * @errlen: size of @err
 *
 * Unknown keys are errors. Returns 0, or -1 with @err filled.
 */
int pex_webconfig_load(const char *path, struct pex_tls_config *t, unsigned *set, char *err,
                       size_t errlen);

/**
 * pex_webconfig_parse - pex_webconfig_load() of a document held in memory
 * @name: what error messages call the document (a file name)
 * @text: the YAML text (need not be NUL-terminated)
 * @len: its length
 * @t: as for pex_webconfig_load()
 * @set: as for pex_webconfig_load()
 * @err: as for pex_webconfig_load()
 * @errlen: size of @err
 *
 * The file variant and the fuzzer both come here. On error @t may hold values
 * read before the bad key: the caller frees it with pex_tls_config_free().
 * Returns 0, or -1 with @err filled.
 */
int pex_webconfig_parse(const char *name, const char *text, size_t len, struct pex_tls_config *t,
                        unsigned *set, char *err, size_t errlen);

#endif
