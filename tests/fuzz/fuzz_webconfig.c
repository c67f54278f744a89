/*
 * tests/fuzz/fuzz_webconfig.c - libFuzzer target: arbitrary bytes as the
 * exporter's web-config YAML, through pex_webconfig_parse(), the code the
 * exporter runs for --web.config.file at startup and on every SIGHUP. Any
 * crash, leak, ASan or UBSan report is a bug: a bad file must give one error
 * line naming the file, the line and the key.
 *
 * Seeds (tests/fuzz/run-fuzzer.sh): the YAML of tests/exporter/config.sh and
 * the example of exporter/README.md.
 */
#include <stdint.h>
#include <string.h>

#include "pex.h"
#include "webconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pex_tls_config t;
    memset(&t, 0, sizeof t);
    unsigned set = 0;
    char err[PEX_ERR_LEN];
    err[0] = '\0';
    if (pex_webconfig_parse("fuzz.yml", (const char *)data, size, &t, &set, err, sizeof err) != 0) {
        /* Every refusal says something, and ends inside the buffer. */
        if (err[0] == '\0' || memchr(err, '\0', sizeof err) == NULL)
            __builtin_trap();
    }
    pex_tls_config_free(&t);
    return 0;
}
