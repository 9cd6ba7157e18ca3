/* Unit tests of the agent's decoding of the IR (runtime/agent_build.c):
 * two threads share the flows out in chunks, one from each end; the
 * result must be what one pass over the IR gives, whatever the split. */
#include <config.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_private.h"
#include "check.h"
#include "diag.h"
#include "ir.h"
#include "ir_test_util.h"
#include "lower.h"
#include "ofsync.h"
#include "openvswitch/dynamic-string.h"
#include "spec.h"
#include "util.h"

/* N services of 4 reals from a shared pool of 64: many chunks of flows
 * (the forward flows are shared by every service of a real). */
static void
compile(struct compiled_fx *c, int n)
{
    struct ds text = DS_EMPTY_INITIALIZER;
    for (int i = 0; i < n; i++) {
        ds_put_format(&text, "service s%d {\n"
                      "    vip 172.16.%d.%d tcp 80;\n"
                      "    vip-mac 02:00:00:00:%02x:%02x;\n",
                      i, i / 250, i % 250 + 1, i / 256, i % 256);
        for (int r = 0; r < 4; r++) {
            int real = (i * 7 + r * 13) % 64;
            ds_put_format(&text, "    real 10.64.0.%d mac 02:00:00:01:00:%02x"
                          " weight %d;\n", real + 1, real, 1 + (i + r) % 3);
        }
        ds_put_cstr(&text, "}\n");
    }
    struct lower_options lo;
    lower_options_init(&lo);
    compiled_fx_from_text(c, ds_cstr(&text), &lo);
    ds_destroy(&text);
}

/* The state one pass over the IR, in order, decodes to. */
static void
decode_in_one_pass(const struct ir_pipeline *ir, struct ofsync_state *s)
{
    ofsync_state_init(s);
    for (size_t i = 0; i < ir->n_groups; i++) {
        char *line = ir_group_to_ofctl(&ir->groups[i]);
        char *err = ofsync_add_group_str(s, line, NULL);
        assert_null(err);
        free(line);
    }
    for (size_t i = 0; i < ir->n_flows; i++) {
        char *line = ir_flow_to_ofctl(&ir->flows[i]);
        char *err = ofsync_add_flow_str(s, line, NULL);
        assert_null(err);
        free(line);
    }
}

static void
assert_same(const struct ofsync_state *a, const struct ofsync_state *b)
{
    assert_int_equal(ofsync_state_n_flows(a), ofsync_state_n_flows(b));
    assert_int_equal(ofsync_state_n_groups(a), ofsync_state_n_groups(b));
    struct ofsync_diff diff;
    ofsync_diff_init(&diff);
    ofsync_diff(a, b, &diff);
    assert_int_equal(diff.n_ops, 0);
    ofsync_diff_destroy(&diff);
}

static void
test_two_threads_decode_what_one_pass_does(void **state)
{
    for (int n = 1; n <= 801; n += 400) {
        struct compiled_fx c;
        compile(&c, n);
        uint64_t *fp = xcalloc(c.ir.n_groups, sizeof *fp);
        uint64_t *flow_fp = xcalloc(c.ir.n_flows, sizeof *flow_fp);
        uint64_t flows_fp = 0;
        struct ofsync_state base, desired, want;
        ofsync_state_init(&base);
        ofsync_state_init(&desired);
        assert_int_equal(build_base_into(&base, &desired, &c.ir, NULL, true,
                                         false, fp, &flows_fp, flow_fp,
                                         NULL), 0);
        decode_in_one_pass(&c.ir, &want);
        assert_same(&base, &want);
        assert_same(&desired, &want);
        /* Every group and flow has its fingerprint (both threads decode
         * groups), and the fingerprint of all flows is the same again. */
        for (size_t i = 0; i < c.ir.n_groups; i++) {
            assert_true(fp[i] != 0);
        }
        for (size_t i = 0; i < c.ir.n_flows; i++) {
            assert_true(flow_fp[i] != 0);
        }
        uint64_t again = 0;
        ofsync_state_clear(&base);
        build_base_into(&base, NULL, &c.ir, NULL, false, false, fp, &again,
                        flow_fp, NULL);
        assert_true(again == flows_fp);
        assert_same(&base, &want);
        ofsync_state_destroy(&base);
        ofsync_state_destroy(&desired);
        ofsync_state_destroy(&want);
        free(fp);
        free(flow_fp);
        compiled_fx_destroy(&c);
    }
}

/* A reload skips the flows and groups the running base has: both threads
 * count and mark what they skip. */
static void
test_reuse_is_counted_across_threads(void **state)
{
    struct compiled_fx c;
    compile(&c, 600);
    size_t n_flows = c.ir.n_flows, n_groups = c.ir.n_groups;
    assert_true(n_flows > 2000);
    uint64_t *fp = xcalloc(n_groups, sizeof *fp);
    uint64_t *flow_fp = xcalloc(n_flows, sizeof *flow_fp);
    uint64_t flows_fp;
    struct ofsync_state base;
    ofsync_state_init(&base);
    build_base_into(&base, NULL, &c.ir, NULL, false, false, fp, &flows_fp,
                    flow_fp, NULL);

    /* The "running" flows: every third one. */
    struct build_reuse r;
    memset(&r, 0, sizeof r);
    r.flows = xmalloc(n_flows * sizeof *r.flows);
    for (size_t i = 0; i < n_flows; i += 3) {
        r.flows[r.n_flows++] = flow_fp[i];
    }
    /* The "running" groups: every fifth one (in both threads' halves). */
    r.groups = xmalloc(n_groups * sizeof *r.groups);
    for (size_t i = 0; i < n_groups; i += 5) {
        r.groups[r.n_groups].group_id = c.ir.groups[i].group_id;
        r.groups[r.n_groups++].fp = fp[i];
    }
    build_reuse_sort(&r);
    r.group_reused = xcalloc(n_groups, sizeof *r.group_reused);
    r.flow_reused = xcalloc(n_flows, sizeof *r.flow_reused);
    ofsync_state_clear(&base);
    build_base_into(&base, NULL, &c.ir, NULL, false, false, fp, &flows_fp,
                    flow_fp, &r);
    assert_int_equal(r.n_flows_reused, r.n_flows);
    assert_int_equal(r.n_groups_reused, r.n_groups);
    for (size_t i = 0; i < n_flows; i++) {
        assert_int_equal(r.flow_reused[i], i % 3 == 0);
    }
    for (size_t i = 0; i < n_groups; i++) {
        assert_int_equal(r.group_reused[i], i % 5 == 0);
    }
    assert_int_equal(ofsync_state_n_flows(&base), n_flows - r.n_flows);
    assert_int_equal(ofsync_state_n_groups(&base), n_groups - r.n_groups);

    ofsync_state_destroy(&base);
    free(r.flows);
    free(r.groups);
    free(r.group_reused);
    free(r.flow_reused);
    free(fp);
    free(flow_fp);
    compiled_fx_destroy(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_threads_decode_what_one_pass_does),
        cmocka_unit_test(test_reuse_is_counted_across_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
