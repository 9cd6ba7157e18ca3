/* Unit tests of runtime/flow_fast.c: every flow it builds must be what
 * ovs-ofctl's parser (parse_ofp_flow_mod_str()) makes of the same text,
 * match, actions and usable protocols alike, on every flow of the example
 * specs and of generated pipelines; what it declines must still be added
 * (by the parser) by ofsync_add_flow_parts_tagged(). */
#include <config.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "diag.h"
#include "flow.h"
#include "flow_fast.h"
#include "ir.h"
#include "ir_test_util.h"
#include "lower.h"
#include "ofsync.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/ofpbuf.h"
#include "spec.h"
#include "util.h"

/* Whether two action lists encode to the same OpenFlow 1.5 bytes. (Not a
 * memcmp of the lists: the parser leaves some padding uninitialized.) */
static bool
same_on_the_wire(const struct ofpbuf *a, const struct ofpact *b, size_t b_len)
{
    struct ofpbuf wa, wb;
    ofpbuf_init(&wa, 64);
    ofpbuf_init(&wb, 64);
    ofpacts_put_openflow_instructions(a->data, a->size, &wa, OFP15_VERSION);
    ofpacts_put_openflow_instructions(b, b_len, &wb, OFP15_VERSION);
    bool same = wa.size == wb.size && !memcmp(wa.data, wb.data, wa.size);
    ofpbuf_uninit(&wa);
    ofpbuf_uninit(&wb);
    return same;
}

/* Compares the fast build of every flow of 'ir' with the parser's;
 * returns how many flows were built fast. */
static size_t
compare_pipeline(const struct ir_pipeline *ir,
                 const struct ofputil_port_map *ports, const char *what)
{
    struct ofsync_state parsed, built;
    ofsync_state_init(&parsed);
    ofsync_state_init(&built);
    struct ofpbuf ofpacts;
    ofpbuf_init(&ofpacts, 64);
    size_t n_fast = 0;
    for (size_t i = 0; i < ir->n_flows; i++) {
        const struct ir_flow *f = &ir->flows[i];
        char *text = ir_flow_to_ofctl(f);

        struct ofputil_flow_mod fm;
        enum ofputil_protocol usable;
        char *error = parse_ofp_flow_mod_str(&fm, text, ports, NULL,
                                             OFPFC_ADD, &usable);
        struct match m;
        enum ofputil_protocol fast_usable;
        bool fast = flow_fast_build(f->match, f->actions, f->table, ports,
                                    &m, &ofpacts, &fast_usable);
        if (error) {
            /* What the parser refuses is never built. */
            if (fast) {
                fail_msg("%s: built what the parser refuses (%s): %s", what,
                         error, text);
            }
            free(error);
        } else {
            if (fast) {
                struct match pm;
                minimatch_expand(&fm.match, &pm);
                if (!match_equal(&m, &pm)
                    || !same_on_the_wire(&ofpacts, fm.ofpacts,
                                         fm.ofpacts_len)
                    || fast_usable != usable) {
                    fail_msg("%s: built differently from the parser "
                             "(match %d, actions %d, usable %#x / %#x): %s",
                             what, match_equal(&m, &pm),
                             same_on_the_wire(&ofpacts, fm.ofpacts,
                                              fm.ofpacts_len),
                             fast_usable, usable, text);
                }
                n_fast++;
            }
            minimatch_destroy(&fm.match);
            free(fm.ofpacts);
        }

        char *e1 = ofsync_add_flow_str_tagged(&parsed, text, ports, i + 1);
        char *e2 = ofsync_add_flow_parts_tagged(&built, f->table,
                                                f->priority, f->cookie,
                                                f->match, f->actions, ports,
                                                i + 1);
        assert_true((e1 == NULL) == (e2 == NULL));
        if (e1 && e2) {
            assert_string_equal(e1, e2);    /* The parser's message. */
        }
        free(e1);
        free(e2);
        free(text);
    }
    ofpbuf_uninit(&ofpacts);

    /* Both states hold the same flows, to the byte. */
    assert_int_equal(ofsync_state_n_flows(&parsed),
                     ofsync_state_n_flows(&built));
    struct ofsync_diff diff;
    ofsync_diff_init(&diff);
    ofsync_diff(&built, &parsed, &diff);
    assert_int_equal(diff.n_ops, 0);
    ofsync_diff_destroy(&diff);
    ofsync_state_destroy(&parsed);
    ofsync_state_destroy(&built);
    return n_fast;
}

/* A pipeline shaped like bench/gen-spec's: IPv4 services with and without
 * a responder, several schedulers and protocols, a port range, reals on
 * numbered ports and on NORMAL, shared between services. Every one of its
 * flows is of a shape built fast. */
static void
test_generated_pipeline_all_built(void **state OVS_UNUSED)
{
    struct ds text = DS_EMPTY_INITIALIZER;
    static const char *scheds[] = { "wrr", "sh", "mh", "rr" };
    for (int i = 0; i < 200; i++) {
        ds_put_format(&text, "service s%d {\n    vip 172.16.%d.%d %s %d;\n",
                      i, i / 250, i % 250 + 1, i % 5 ? "tcp" : "udp",
                      i % 7 ? 80 + i : 0);
        if (i % 4) {
            ds_put_format(&text, "    vip-mac 02:f1:00:00:%02x:%02x;\n",
                          i / 256, i % 256);
        }
        ds_put_format(&text, "    scheduler %s;\n", scheds[i % 4]);
        for (int r = 0; r < 6; r++) {
            int real = (i * 7 + r * 13) % 97;
            ds_put_format(&text, "    real 10.64.0.%d mac 02:00:00:01:00:%02x",
                          real + 1, real);
            if (real % 3) {
                ds_put_format(&text, " port %d", real + 1);
            }
            ds_put_format(&text, " weight %d;\n", (i + r) % 4);
        }
        ds_put_cstr(&text, "}\n");
    }
    ds_put_cstr(&text, "service range {\n    vip 172.31.0.1 tcp 8000-8063;\n"
                "    real 10.64.1.1 mac 02:00:00:02:00:01;\n}\n");

    struct lower_options lo;
    lower_options_init(&lo);
    struct compiled_fx c;
    compiled_fx_from_text(&c, ds_cstr(&text), &lo);
    size_t n = compare_pipeline(&c.ir, NULL, "generated");
    assert_int_equal(n, c.ir.n_flows);
    compiled_fx_destroy(&c);

    /* Other tables, zone and a next table (resubmit: declined, parsed). */
    lo.table_base = 20;
    lo.ct_zone = 7;
    lo.next_table = 60;
    compiled_fx_from_text(&c, ds_cstr(&text), &lo);
    n = compare_pipeline(&c.ir, NULL, "generated, table base 20");
    assert_true(n > 0 && n < c.ir.n_flows);
    compiled_fx_destroy(&c);
    ds_destroy(&text);
}

/* Every example, with the default options and with others: the parser's
 * result, whatever was built fast (IPv6, persistence, learn and port
 * names included: those are declined). */
static void
test_examples_same_as_parser(void **state OVS_UNUSED)
{
    static const char *files[] = {
        "demo.lb", "failover.lb", "fwmark.lb", "ipv6.lb", "multi.lb",
        "persistence.lb", "udp.lb", "web.lb", "web.yaml",
    };
    struct ofputil_port_map ports = OFPUTIL_PORT_MAP_INITIALIZER(&ports);
    ofputil_port_map_put(&ports, u16_to_ofp(7), "uplink");
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        for (int variant = 0; variant < 2; variant++) {
            char *path = xasprintf("%s/examples/%s", SOURCE_DIR, files[i]);
            struct lower_options lo;
            lower_options_init(&lo);
            if (variant) {
                lo.table_base = 10;
                lo.ct_zone = 1;
                lo.next_table = 40;
            }
            struct compiled_fx c;
            compiled_fx_from_file(&c, path, &lo);
            size_t n = compare_pipeline(&c.ir, &ports, files[i]);
            /* Every example has table-miss flows at least. */
            assert_true(n > 0);
            compiled_fx_destroy(&c);
            free(path);
        }
    }
    ofputil_port_map_destroy(&ports);
}

/* Shapes and texts that are declined, each still added by the parser
 * (or refused with the parser's message). */
static void
test_declined_go_to_the_parser(void **state OVS_UNUSED)
{
    static const struct {
        const char *match, *actions;
    } cases[] = {
        { "tcp,reg12=1", "learn(table=6,NXM_NX_REG12[]),resubmit(,2)" },
        { "tcp,nw_dst=1.2.3.4", "ct(commit,zone=1,table=2)" },
        { "tcp,nw_dst=1.2.3.4", "ct(zone=1,nat)" },
        { "", "load:1->NXM_NX_REG12[]" },
        { "", "output:uplink" },
        { "", "NORMAL,drop" },
        { "", "goto_table:2,NORMAL" },
        { "", "group:010" },
        { "tcp,nw_dst=1.2.3.4", "ct(zone=010,table=2)" },
        { "tcp", "set_field:2->arp_op" },
        { "tcp,no_such_field=1", "drop" },
        { "tcp,ip_dscp=8", "drop" },
        { "tcp,nw_dst=", "drop" },
        { "", "" },
    };
    struct ofpbuf ofpacts;
    ofpbuf_init(&ofpacts, 64);
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct match m;
        enum ofputil_protocol usable;
        assert_false(flow_fast_build(cases[i].match, cases[i].actions, 1,
                                     NULL, &m, &ofpacts, &usable));
        char *text = xasprintf("table=1,priority=5,cookie=0x1%s%s,actions=%s",
                               *cases[i].match ? "," : "", cases[i].match,
                               cases[i].actions);
        struct ofsync_state s;
        ofsync_state_init(&s);
        char *e1 = ofsync_add_flow_str(&s, text, NULL);
        ofsync_state_clear(&s);
        char *e2 = ofsync_add_flow_parts_tagged(&s, 1, 5, 1, cases[i].match,
                                                cases[i].actions, NULL, 0);
        if (!e1) {
            if (e2) {
                fail_msg("%s: %s", text, e2);
            }
            assert_int_equal(ofsync_state_n_flows(&s), 1);
        } else {
            assert_non_null(e2);
            assert_string_equal(e1, e2);
        }
        free(e1);
        free(e2);
        ofsync_state_destroy(&s);
        free(text);
    }
    ofpbuf_uninit(&ofpacts);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generated_pipeline_all_built),
        cmocka_unit_test(test_examples_same_as_parser),
        cmocka_unit_test(test_declined_go_to_the_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
