/*
 * tests/unit/test_segment_bad.c - hostile segments. A good segment is built by a
 * real writer, copied, and one field is broken per test; the reader must fail
 * with the message that names that field, and never read out of bounds (these
 * tests also run under ASan/UBSan).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static const char *seg;
static uint8_t *img;
static size_t img_len;

/* A segment with a labelled counter, a gauge and a histogram, copied to memory. */
static void setup(void)
{
    seg = tu_name("bad");
    shm_unlink(seg);
    psm_writer_t *w = tu_writer(&(struct psm_writer_opts){
        .name = seg, .desc_capacity = 8, .series_capacity = 16, .blob_size = 4096});
    const char *ln[] = {"port"};
    int c = tu_register(w, "t_flaps_total", PSM_COUNTER, 1, ln);
    int g = tu_register(w, "t_depth", PSM_GAUGE, 0, NULL);
    int h = tu_register(w, "t_lat_seconds", PSM_HISTOGRAM, 0, NULL);
    psm_counter_add(psm_counter_resolve(w, c, (const char *[]){"Ethernet0"}), 7);
    psm_gauge_set(psm_gauge_resolve(w, g, NULL), 2.5);
    psm_histogram_observe(psm_histogram_resolve(w, h, NULL), 0.02);
    psm_reader_t *r = tu_reader(seg);
    struct psm_info in;
    psm_reader_info(r, &in);
    img_len = in.segment_size;
    img = malloc(img_len);
    int fd = shm_open(seg, O_RDONLY, 0);
    cr_assert(fd >= 0);
    cr_assert_eq(pread(fd, img, img_len, 0), (ssize_t)img_len);
    close(fd);
    psm_reader_close(r);
    psm_writer_close(w);
    shm_unlink(seg);
}

static void teardown(void)
{
    free(img);
}

TestSuite(bad, .init = setup, .fini = teardown, .timeout = 30);

static struct psm_header *hdr(void)
{
    return (struct psm_header *)img;
}

static struct psm_desc *desc(unsigned i)
{
    return (struct psm_desc *)(img + hdr()->desc_offset) + i;
}

static struct psm_series *series(unsigned i)
{
    return (struct psm_series *)(img + hdr()->series_offset) + i;
}

/* Open @len bytes of the image; expect failure at open with @needle in the message. */
static void expect_open_error(size_t len, const char *needle)
{
    char err[512] = "";
    psm_reader_t *r = NULL;
    cr_assert_eq(psm_reader_open_mem(&r, img, len, err, sizeof err), -1, "accepted");
    cr_assert_eq(errno, EPROTO);
    cr_assert(strstr(err, needle), "message '%s' lacks '%s'", err, needle);
}

/* Open succeeds; load (or check) must fail with @needle. */
static void expect_load_error(const char *needle)
{
    char err[512] = "";
    psm_reader_t *r = NULL;
    cr_assert_eq(psm_reader_open_mem(&r, img, img_len, err, sizeof err), 0, "open: %s", err);
    int rc = psm_reader_load(r), unreadable = rc != 0;
    const char *msg = psm_reader_error(r);
    if (rc == 0) {
        /* Readable but inconsistent: only the full check must catch it. */
        rc = psm_reader_check(r, err, sizeof err);
        msg = err;
    }
    cr_assert_eq(rc, -1, "accepted a segment that should fail with '%s'", needle);
    cr_assert(strstr(msg, needle), "message '%s' lacks '%s'", msg, needle);
    /* An unreadable segment is refused by the renderer too, not printed in part. */
    struct psm_buf b = {0};
    psm_renderer_t *rn = psm_renderer_new();
    cr_assert_eq(psm_render(rn, r, PSM_FMT_TEXT, &b, 0, NULL), unreadable ? -1 : 0);
    psm_renderer_free(rn);
    psm_buf_free(&b);
    psm_reader_close(r);
}

Test(bad, the_good_image_passes_every_check)
{
    char err[512];
    psm_reader_t *r = NULL;
    cr_assert_eq(psm_reader_open_mem(&r, img, img_len, err, sizeof err), 0, "%s", err);
    cr_assert_eq(psm_reader_check(r, err, sizeof err), 0, "%s", err);
    psm_reader_close(r);
}

Test(bad, an_empty_file_is_reported_as_empty)
{
    expect_open_error(0, "empty (0 bytes)");
}

Test(bad, a_truncated_header_is_reported)
{
    expect_open_error(100, "truncated header: 100 bytes");
}

Test(bad, a_segment_shorter_than_its_header_says_is_truncated)
{
    expect_open_error(img_len - 4096, "truncated: header says");
}

Test(bad, wrong_magic_is_reported)
{
    memcpy(img, "NOTMAGIC", 8);
    expect_open_error(img_len, "wrong magic");
}

Test(bad, a_future_major_version_is_unsupported)
{
    hdr()->major = 2;
    expect_open_error(img_len, "unsupported format version 2.");
}

Test(bad, a_different_layout_hash_is_refused)
{
    hdr()->layout_hash ^= 1;
    expect_open_error(img_len, "layout hash");
}

Test(bad, a_descriptor_table_past_the_end_is_reported)
{
    hdr()->desc_offset = img_len - 64;
    expect_open_error(img_len, "descriptor table (offset");
}

Test(bad, a_series_table_past_the_end_is_reported)
{
    hdr()->series_capacity = 1u << 23;
    expect_open_error(img_len, "series table (offset");
}

Test(bad, a_blob_past_the_end_is_reported)
{
    hdr()->blob_size = UINT32_MAX;
    expect_open_error(img_len, "string blob (offset");
}

Test(bad, overlapping_regions_are_reported)
{
    hdr()->series_offset = hdr()->desc_offset;
    expect_open_error(img_len, "overlap");
}

Test(bad, a_descriptor_count_larger_than_the_table_is_reported)
{
    atomic_store(&hdr()->desc_count, 9);
    expect_load_error("descriptor count 9 is larger than the descriptor table (8)");
}

Test(bad, a_series_count_larger_than_the_table_is_reported)
{
    atomic_store(&hdr()->series_count, 1000);
    expect_load_error("series count 1000 is larger than the series table (16)");
}

Test(bad, blob_used_past_the_blob_is_reported)
{
    atomic_store(&hdr()->blob_used, 1u << 20);
    expect_load_error("blob_used");
}

Test(bad, a_string_offset_past_the_used_blob_is_reported)
{
    desc(1)->name.off = 4000;
    expect_load_error("descriptor 1: string at offset 4000");
}

Test(bad, a_string_length_past_the_used_blob_is_reported)
{
    desc(0)->help.len = 0xffffffffu;
    expect_load_error("points past the used blob");
}

Test(bad, a_label_string_without_terminator_is_reported)
{
    struct psm_series *s = series(0);
    char *blob = (char *)img + hdr()->blob_offset;
    blob[s->labels.off + s->labels.len] = 'X';
    expect_load_error("series 0: string at offset");
}

Test(bad, a_label_string_without_terminator_names_the_missing_nul)
{
    struct psm_series *s = series(0);
    char *blob = (char *)img + hdr()->blob_offset;
    blob[s->labels.off + s->labels.len] = 'X';
    expect_load_error("no terminating NUL");
}

Test(bad, an_unknown_type_is_reported)
{
    desc(1)->type = 7;
    expect_load_error("descriptor 1: type 7");
}

Test(bad, an_unpublished_descriptor_below_the_count_is_reported)
{
    atomic_store(&desc(2)->state, 0);
    expect_load_error("descriptor 2 is below desc_count but not published");
}

Test(bad, a_series_pointing_at_a_missing_descriptor_is_reported)
{
    series(1)->desc_index = 5;
    expect_load_error("series 1: descriptor index 5");
}

Test(bad, cells_past_the_used_cell_area_are_reported)
{
    series(0)->cells_off = 1u << 20;
    expect_load_error("series 0 (t_flaps_total): cells at offset");
}

Test(bad, misaligned_cells_are_reported)
{
    series(0)->cells_off = 8;
    expect_load_error("not 64-byte aligned");
}

Test(bad, too_many_buckets_are_reported)
{
    desc(2)->bucket_count = 40;
    expect_load_error("40 buckets");
}

Test(bad, bucket_bounds_out_of_order_are_reported)
{
    double *b = (double *)(img + hdr()->blob_offset + desc(2)->bounds_off);
    b[3] = 0;
    expect_load_error("bucket bound 3");
}

Test(bad, a_label_count_that_disagrees_with_the_names_is_reported)
{
    desc(0)->label_count = 2;
    expect_load_error("label names do not hold exactly 2 names");
}

Test(bad, a_metric_name_with_bad_characters_is_reported)
{
    char *blob = (char *)img + hdr()->blob_offset;
    blob[desc(1)->name.off] = '{';
    expect_load_error("is not [a-zA-Z_:]");
}

Test(bad, a_label_value_that_is_not_utf8_is_reported)
{
    char *blob = (char *)img + hdr()->blob_offset;
    blob[series(0)->labels.off] = (char)0xff;
    expect_load_error("label value 0 is not UTF-8");
}

Test(bad, duplicate_metric_names_are_reported_by_check)
{
    desc(1)->name = desc(0)->name;
    desc(1)->type = PSM_COUNTER;
    expect_load_error("share the name t_flaps_total");
}

Test(bad, duplicate_series_are_reported_by_check)
{
    psm_reader_t *r;
    char err[512];
    /* Point the gauge series at the counter's descriptor and labels. */
    series(1)->desc_index = 0;
    series(1)->labels = series(0)->labels;
    cr_assert_eq(psm_reader_open_mem(&r, img, img_len, err, sizeof err), 0);
    cr_assert_eq(psm_reader_check(r, err, sizeof err), -1);
    cr_assert(strstr(err, "have the same labels"), "%s", err);
    psm_reader_close(r);
}

Test(bad, overlapping_cells_are_reported_by_check)
{
    series(1)->cells_off = series(0)->cells_off;
    expect_load_error("overlap the previous series");
}

Test(bad, a_histogram_whose_buckets_disagree_with_its_count_is_reported_by_check)
{
    _Atomic uint64_t *cells =
        (_Atomic uint64_t *)(img + hdr()->cells_offset + series(2)->cells_off);
    atomic_store(&cells[0], 5); /* count 5, one observation in the buckets */
    expect_load_error("never added up to its count");
}

Test(bad, an_odd_generation_is_reported_by_check)
{
    atomic_store(&hdr()->generation, 7);
    expect_load_error("generation 7 is odd");
}

Test(bad, random_garbage_never_crashes_the_reader)
{
    /* Flip random bytes across the whole image many times; any outcome but a crash is fine. */
    uint8_t *copy = malloc(img_len);
    /* One renderer for every round, as a scraper keeps one across segments. */
    psm_renderer_t *rn = psm_renderer_new();
    cr_assert(copy && rn);
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int round = 0; round < 2000; round++) {
        memcpy(copy, img, img_len);
        for (int k = 0; k < 8; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            /* Bias towards the header and tables, where the structure is. */
            size_t span = (round & 1) ? img_len : 4096;
            copy[x % span] = (uint8_t)(x >> 32);
        }
        psm_reader_t *r = NULL;
        char err[512];
        if (psm_reader_open_mem(&r, copy, img_len, err, sizeof err) == 0) {
            struct psm_buf b = {0};
            psm_render(rn, r, PSM_FMT_OPENMETRICS, &b, 0, NULL);
            psm_reader_check(r, err, sizeof err);
            psm_buf_free(&b);
            psm_reader_close(r);
        }
    }
    psm_renderer_free(rn);
    free(copy);
}
