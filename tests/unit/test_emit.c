/* The ofctl emitter checks every line with libopenvswitch, on several
 * threads for large pipelines: a line OVS refuses is reported, with the
 * location of what produced it, in line order, and the emit fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "diag.h"
#include "emit.h"
#include "ir.h"

/* 'n' valid flows, except those whose index is in 'bad' (refused by OVS:
 * a field that does not exist); flow i is "at" line i + 1. */
static void
build(struct ir_pipeline *ir, size_t n, const size_t *bad, size_t n_bad,
      bool bad_group)
{
    ir_init(ir);
    struct ir_group *g = ir_add_group(ir, 7, "selection_method=hash,"
                                      "fields(ip_src)");
    g->loc.line = 1000000;
    ir_group_add_bucket(g, 1, 10, bad_group ? "output:1,no_such_action"
                                            : "output:1");
    ir_group_add_bucket(g, 2, 20, "output:2");
    for (size_t i = 0; i < n; i++) {
        bool broken = false;
        for (size_t k = 0; k < n_bad; k++) {
            broken = broken || bad[k] == i;
        }
        char match[64];
        snprintf(match, sizeof match, "%s=10.%zu.%zu.%zu",
                 broken ? "ip,no_such_field" : "ip,nw_dst",
                 i >> 16, (i >> 8) & 255, i & 255);
        struct ir_flow *f = ir_add_flow(ir, 0, 100, 0xf10b000000000000ULL,
                                        IR_ROLE_DEFAULT, match, "group:7");
        f->loc.line = (int) i + 1;
        f->loc.col = 3;
    }
}

static void
test_large_pipeline_all_valid(void **state)
{
    (void) state;
    struct ir_pipeline ir;
    build(&ir, 5000, NULL, 0, false);
    struct diag d;
    diag_init(&d);
    struct ds_buf out;
    ds_buf_init(&out);
    assert_true(emit_ofctl_bundle(&ir, &out, &d));
    assert_int_equal(d.n_errors, 0);
    /* Header, one group, 5000 flows, in order. */
    size_t lines = 0;
    for (size_t i = 0; i < out.len; i++) {
        lines += out.s[i] == '\n';
    }
    assert_int_equal(lines, 1 + 1 + 5000);
    assert_non_null(strstr(out.s, "\ngroup add group_id=7,type=select,"));
    assert_non_null(strstr(out.s, "nw_dst=10.0.19.135,actions=group:7\n"));
    ds_buf_destroy(&out);
    diag_destroy(&d);
    ir_destroy(&ir);
}

static void
test_refused_lines_reported_in_order(void **state)
{
    (void) state;
    /* Spread over the blocks different threads take. */
    const size_t bad[] = { 4999, 3, 2600, 1300 };
    struct ir_pipeline ir;
    build(&ir, 5000, bad, 4, true);
    struct diag d;
    diag_init(&d);
    struct ds_buf out;
    ds_buf_init(&out);
    assert_false(emit_ofctl_bundle(&ir, &out, &d));
    assert_int_equal(d.n_errors, 5);
    assert_int_equal(d.n_records, 5);
    const int want_lines[] = { 1000000, 4, 1301, 2601, 5000 };
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(d.records[i].loc.line, want_lines[i]);
        assert_non_null(strstr(d.records[i].message,
                               "internal compiler error: OVS refuses"));
    }
    assert_non_null(strstr(d.records[0].message, "no_such_action"));
    assert_non_null(strstr(d.records[1].message, "no_such_field=10.0.0.3"));
    ds_buf_destroy(&out);
    diag_destroy(&d);
    ir_destroy(&ir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_large_pipeline_all_valid),
        cmocka_unit_test(test_refused_lines_reported_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
