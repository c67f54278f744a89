/*
 * tests/fuzz/fuzz_reader.c - libFuzzer target: arbitrary bytes as a segment
 * image through the reader, the checker, the three expositions (text,
 * OpenMetrics, protobuf with native buckets) and the native snapshot and its
 * quantiles. Any crash, ASan report or UBSan report is a bug: the reader must
 * reject bad segments with an error, never read outside the image.
 *
 * Run longer than tests/run.sh does:
 *   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DPSM_FUZZ=ON \
 *         -DPSM_SANITIZE=address,undefined && make -C build-fuzz fuzz_reader
 *   tests/fuzz/run-fuzzer.sh build-fuzz/tests/fuzz_reader 3600 tests/fuzz/corpus-reader
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "psm/reader.h"
#include "psm/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Kept across inputs, as a scraper keeps its renderer across segments. */
    static psm_renderer_t *rn;
    if (!rn && !(rn = psm_renderer_new()))
        return 0;
    /* Segments are mapped page-aligned; cells need 8-byte alignment for atomics. */
    uint8_t *img = aligned_alloc(64, (size + 64) / 64 * 64);
    if (!img)
        return 0;
    memcpy(img, data, size);
    char err[512];
    psm_reader_t *r = NULL;
    if (psm_reader_open_mem(&r, img, size, err, sizeof err) == 0) {
        struct psm_buf b = {0};
        psm_render(rn, r, PSM_FMT_TEXT, &b, 0, NULL);
        b.len = 0;
        psm_render(rn, r, PSM_FMT_OPENMETRICS, &b, 0, NULL);
        b.len = 0;
        psm_render(rn, r, PSM_FMT_PROTOBUF, &b, 0, NULL);
        psm_reader_check(r, err, sizeof err);
        /* What portsyncd-shmdump's table does with each histogram. */
        static struct psm_native_bucket nb[PSM_MAX_NATIVE_BUCKETS];
        for (uint32_t i = 0; i < psm_reader_series_count(r); i++) {
            struct psm_series_view v;
            psm_reader_series(r, i, &v);
            if (v.desc->type != PSM_HISTOGRAM)
                continue;
            struct psm_hist_snapshot h;
            struct psm_native_snapshot n = {.buckets = nb, .cap = PSM_MAX_NATIVE_BUCKETS};
            psm_reader_hist_read_native(&v, &h, &n);
            psm_native_quantile(&n, 0.5);
            psm_native_quantile(&n, 0.99);
        }
        struct psm_info in;
        psm_reader_info(r, &in);
        /* Hostile pid, namespace and heartbeat fields: kill(pid, 0) sends nothing. */
        struct psm_liveness l;
        psm_reader_liveness(r, 5.0, &l);
        psm_buf_free(&b);
        psm_reader_close(r);
    }
    free(img);
    return 0;
}
