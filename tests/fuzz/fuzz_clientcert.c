/*
 * tests/fuzz/fuzz_clientcert.c - libFuzzer target: arbitrary bytes as a DER
 * client certificate, judged by pex_tls_leaf_check(), the function the
 * exporter's TLS verify callback calls for every client leaf (CA:FALSE,
 * digitalSignature, clientAuth, SAN allow-list), with an allow-list of each
 * SAN type and without one. OpenSSL parses the DER first, as in a handshake.
 *
 * Seeds (tests/fuzz/run-fuzzer.sh): certificates made with openssl at seed
 * time: a good client, a CA:TRUE leaf, a keyAgreement-only leaf, a serverAuth
 * leaf, a leaf without extensions, RSA, IP/URI/e-mail SANs, the CA itself.
 */
#include <openssl/x509.h>
#include <stdint.h>

#include "stats.h"
#include "tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char dns[] = "scraper-1.example.net", ip6[] = "2001:db8::10", ip4[] = "192.0.2.7",
                uri[] = "spiffe://example.net/prom";
    static const struct pex_allow_list sans = {.n = 4, .entry = {dns, ip6, ip4, uri}};
    const unsigned char *p = data;
    X509 *x = d2i_X509(NULL, &p, (long)size);
    if (!x)
        return 0;
    int with = pex_tls_leaf_check(x, &sans);
    int without = pex_tls_leaf_check(x, NULL);
    /* The allow-list can only narrow: what it admits, the policy alone admits. */
    if (with == PEX_LEAF_OK && without != PEX_LEAF_OK)
        __builtin_trap();
    if ((with != PEX_LEAF_OK && (with < 0 || with >= PEX_HS_NREASONS)) ||
        (without != PEX_LEAF_OK && (without < 0 || without >= PEX_HS_NREASONS)))
        __builtin_trap();
    X509_free(x);
    return 0;
}
