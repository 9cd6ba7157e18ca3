/* The weight solver against OVS's own bucket scoring.
 *
 * OVS's select group (selection_method=hash) scores each bucket as
 * (hash_int(bucket_id, basis) & 0xffff) * weight and takes the best, with
 * 'basis' a hash of the packet's fields. We replay exactly that with
 * libopenvswitch's hash_int over many random bases. */
#include <config.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "hash.h"
#include "random.h"
#include "weights.h"

#define SAMPLES 200000

/* Returns the fraction of SAMPLES flows that OVS would send to each bucket. */
static void
ovs_shares(const uint32_t *ids, const uint16_t *w, size_t n, double *share)
{
    size_t *count = calloc(n, sizeof *count);
    uint32_t basis = 12345;
    for (int s = 0; s < SAMPLES; s++) {
        basis = hash_int(basis, s);      /* Well-mixed per-flow basis. */
        uint32_t best_score = 0;
        size_t best = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t score = (hash_int(ids[i], basis) & 0xffff) * w[i];
            if (score >= best_score) {
                best_score = score;
                best = i;
            }
        }
        count[best]++;
    }
    for (size_t i = 0; i < n; i++) {
        share[i] = (double) count[i] / SAMPLES;
    }
    free(count);
}

static void
assert_proportional(const uint32_t *want, size_t n)
{
    uint16_t out[64];
    uint32_t ids[64];
    double share[64];
    double sum = 0;
    weights_solve(want, n, out);
    for (size_t i = 0; i < n; i++) {
        ids[i] = 0x0a000000 + 11 + i;   /* bucket ids like lower.c's */
        sum += want[i];
        assert_true(out[i] >= 1);
    }
    ovs_shares(ids, out, n, share);
    for (size_t i = 0; i < n; i++) {
        double p = want[i] / sum;
        /* 5 standard deviations of a binomial share, plus 0.5% for the
         * 16-bit quantization of hash scores. */
        double tol = 5 * sqrt(p * (1 - p) / SAMPLES) + 0.005;
        if (fabs(share[i] - p) > tol) {
            fail_msg("bucket %zu: share %.4f, want %.4f (+-%.4f)", i,
                     share[i], p, tol);
        }
    }
}

static void
test_equal_weights_unchanged(void **state)
{
    uint32_t want[] = { 5, 5, 5 };
    uint16_t out[3];
    weights_solve(want, 3, out);
    assert_int_equal(out[0], 5);
    assert_int_equal(out[2], 5);
    assert_proportional(want, 3);
}

static void
test_three_to_one(void **state)
{
    /* Raw weights 3:1 would give about 83:17 in OVS. */
    uint32_t want[] = { 3, 1 };
    assert_proportional(want, 2);
}

static void
test_raw_weights_are_not_proportional(void **state)
{
    /* Guards the premise: without solving, OVS is far from 75:25. */
    uint32_t ids[] = { 1, 2 };
    uint16_t raw[] = { 3, 1 };
    double share[2];
    ovs_shares(ids, raw, 2, share);
    assert_true(share[0] > 0.80);
}

static void
test_mixed_weights(void **state)
{
    uint32_t want[] = { 1, 2, 3, 4, 10, 1, 1 };
    assert_proportional(want, 7);
}

static void
test_extreme_ratio(void **state)
{
    uint32_t want[] = { 100, 1, 1, 1 };
    assert_proportional(want, 4);
}

static void
test_many_buckets(void **state)
{
    uint32_t want[32];
    for (int i = 0; i < 32; i++) {
        want[i] = 1 + i % 4;
    }
    assert_proportional(want, 32);
}

static void
test_model_matches_formula(void **state)
{
    /* weights_shares() (the closed form) against a direct simulation. */
    double w[] = { 1.0, 0.5, 0.25 };
    double share[3];
    weights_shares(w, 3, share);
    uint32_t ids[] = { 7, 8, 9 };
    uint16_t wq[] = { 65535, 32768, 16384 };
    double sim[3];
    ovs_shares(ids, wq, 3, sim);
    for (int i = 0; i < 3; i++) {
        assert_true(fabs(share[i] - sim[i]) < 0.01);
    }
    assert_true(fabs(share[0] + share[1] + share[2] - 1.0) < 1e-9);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_weights_unchanged),
        cmocka_unit_test(test_three_to_one),
        cmocka_unit_test(test_raw_weights_are_not_proportional),
        cmocka_unit_test(test_mixed_weights),
        cmocka_unit_test(test_extreme_ratio),
        cmocka_unit_test(test_many_buckets),
        cmocka_unit_test(test_model_matches_formula),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
