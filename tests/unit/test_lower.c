/* Lowering: the shape of the DR pipeline produced for a spec. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "check.h"
#include "emit.h"
#include "ir.h"
#include "lower.h"
#include "spec.h"
#include "values.h"

static struct lb_service *
add_service(struct lb_spec *spec, const char *name, const char *vip,
            enum lb_proto proto, uint16_t port, const char *vip_mac)
{
    struct lb_service *svc = lb_spec_add_service(spec);
    svc->name = strdup(name);
    svc->has_vip = true;
    assert_null(lb_parse_addr(vip, &svc->vip));
    svc->proto = proto;
    svc->port = port;
    if (vip_mac) {
        svc->has_vip_mac = true;
        assert_null(lb_parse_mac(vip_mac, &svc->vip_mac));
    }
    return svc;
}

static struct lb_real *
add_real(struct lb_service *svc, const char *addr, const char *mac,
         const char *port, uint32_t weight)
{
    struct lb_real *r = lb_service_add_real(svc);
    assert_null(lb_parse_addr(addr, &r->addr));
    assert_null(lb_parse_mac(mac, &r->mac));
    r->has_mac = true;
    r->port = port ? strdup(port) : NULL;
    r->weight = weight;
    return r;
}

static size_t
count_role(const struct ir_pipeline *p, enum ir_flow_role role)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n_flows; i++) {
        n += p->flows[i].role == role;
    }
    return n;
}

static const struct ir_flow *
find_flow(const struct ir_pipeline *p, uint8_t table, const char *match)
{
    for (size_t i = 0; i < p->n_flows; i++) {
        if (p->flows[i].table == table && !strcmp(p->flows[i].match, match)) {
            return &p->flows[i];
        }
    }
    fail_msg("no flow in table %u matching \"%s\"", table, match);
    return NULL;
}

/* Lowers 'spec' with 'opts' (NULL: defaults), asserting success and that
 * libopenvswitch accepts every emitted line. */
static void
lower_ok(const struct lb_spec *spec, const struct lower_options *opts,
         struct ir_pipeline *p)
{
    struct lower_options defaults;
    lower_options_init(&defaults);
    struct diag d;
    diag_init(&d);
    ir_init(p);
    assert_true(lb_check(spec, &d));
    assert_true(lower_spec(spec, opts ? opts : &defaults, p, &d));
    struct ds_buf out;
    ds_buf_init(&out);
    bool emitted = emit_ofctl_bundle(p, &out, &d);
    if (!emitted) {
        diag_print(&d, stderr);
    }
    assert_true(emitted);
    ds_buf_destroy(&out);
    diag_destroy(&d);
}

static void
test_web_example(void **state)
{
    struct lb_spec spec;
    lb_spec_init(&spec);
    struct lb_service *svc = add_service(&spec, "web", "10.0.0.100",
                                         LB_PROTO_TCP, 80,
                                         "02:00:00:00:01:00");
    add_real(svc, "10.0.0.11", "8e:97:27:0e:e3:18", NULL, 3);
    add_real(svc, "10.0.0.12", "f6:5e:d3:b7:50:8a", "3", 1);

    struct ir_pipeline p;
    lower_ok(&spec, NULL, &p);

    /* Per service: responder, classify, reply, dispatch; per real: one
     * forward flow; plus the fixed table-miss flows. */
    assert_int_equal(count_role(&p, IR_ROLE_RESPONDER), 1);
    assert_int_equal(count_role(&p, IR_ROLE_CLASSIFY), 1);
    assert_int_equal(count_role(&p, IR_ROLE_REPLY), 1);
    assert_int_equal(count_role(&p, IR_ROLE_DISPATCH), 1);
    assert_int_equal(count_role(&p, IR_ROLE_FORWARD), 2);
    assert_int_equal(p.n_groups, 1);

    const struct ir_flow *f = find_flow(&p, 0, "tcp,nw_dst=10.0.0.100,tp_dst=80");
    assert_string_equal(f->actions, "ct(zone=64000,table=1)");
    assert_int_equal(f->cookie & FLOWLB_COOKIE_MASK, FLOWLB_COOKIE_MAGIC);
    assert_int_equal((uint32_t) f->cookie, p.groups[0].group_id);

    f = find_flow(&p, 0, "tcp,nw_src=10.0.0.100,tp_src=80");
    assert_string_equal(f->actions, "ct(zone=64000,table=3)");

    f = find_flow(&p, 0, "arp,arp_op=1,arp_tpa=10.0.0.100");
    assert_non_null(strstr(f->actions, "set_field:02:00:00:00:01:00->arp_sha"));
    assert_non_null(strstr(f->actions, "IN_PORT"));

    f = find_flow(&p, 1, "ct_state=+trk-inv,ct_mark=0,tcp,nw_dst=10.0.0.100,tp_dst=80");
    char want[64];
    snprintf(want, sizeof want, "group:%u", p.groups[0].group_id);
    assert_string_equal(f->actions, want);

    f = find_flow(&p, 1, "ct_state=+trk+inv");
    assert_string_equal(f->actions, "drop");

    /* ct_mark is the IPv4 address of the real. */
    f = find_flow(&p, 2, "ct_mark=0xa00000b");
    assert_string_equal(f->actions, "set_field:8e:97:27:0e:e3:18->eth_dst,NORMAL");
    f = find_flow(&p, 2, "ct_mark=0xa00000c");
    assert_string_equal(f->actions, "set_field:f6:5e:d3:b7:50:8a->eth_dst,output:3");

    const struct ir_group *g = &p.groups[0];
    assert_true((g->group_id & ~(FLOWLB_GROUP_SPAN - 1)) == FLOWLB_GROUP_BASE);
    assert_string_equal(g->selection, "selection_method=hash,fields(ip_src,ip_dst,tcp_src,tcp_dst)");
    assert_int_equal(g->n_buckets, 2);
    assert_int_equal(g->buckets[0].bucket_id, 0x0a00000b);
    assert_string_equal(g->buckets[0].actions,
        "ct(commit,zone=64000,exec(set_field:0xa00000b->ct_mark),table=2)");
    /* 3:1 solved for OVS's scoring: the second real gets half the weight
     * of the first (75:25), not a third (which would give 83:17). */
    assert_int_equal(g->buckets[0].weight, 65535);
    assert_in_range(g->buckets[1].weight, 32766, 32769);

    ir_destroy(&p);
    lb_spec_destroy(&spec);
}

static void
test_shared_real_one_forward_flow(void **state)
{
    struct lb_spec spec;
    lb_spec_init(&spec);
    struct lb_service *a = add_service(&spec, "a", "10.0.0.100", LB_PROTO_TCP,
                                       80, "02:00:00:00:01:00");
    add_real(a, "10.0.0.11", "02:00:00:00:00:11", NULL, 1);
    add_real(a, "10.0.0.12", "02:00:00:00:00:12", NULL, 1);
    struct lb_service *b = add_service(&spec, "b", "10.0.0.100", LB_PROTO_TCP,
                                       443, "02:00:00:00:01:00");
    add_real(b, "10.0.0.11", "02:00:00:00:00:11", NULL, 1);
    struct ir_pipeline p;
    lower_ok(&spec, NULL, &p);
    assert_int_equal(count_role(&p, IR_ROLE_FORWARD), 2);
    /* Same VIP, same vip-mac: one ARP responder. */
    assert_int_equal(count_role(&p, IR_ROLE_RESPONDER), 1);
    assert_int_equal(p.n_groups, 2);
    assert_int_not_equal(p.groups[0].group_id, p.groups[1].group_id);
    ir_destroy(&p);
    lb_spec_destroy(&spec);
}

static void
test_drained_real_has_no_bucket(void **state)
{
    struct lb_spec spec;
    lb_spec_init(&spec);
    struct lb_service *s = add_service(&spec, "s", "10.0.0.100", LB_PROTO_UDP,
                                       53, NULL);
    s->scheduler = LB_SCHED_SH;
    add_real(s, "10.0.0.11", "02:00:00:00:00:11", NULL, 0);
    add_real(s, "10.0.0.12", "02:00:00:00:00:12", NULL, 2);
    struct ir_pipeline p;
    lower_ok(&spec, NULL, &p);
    assert_int_equal(p.groups[0].n_buckets, 1);
    assert_int_equal(p.groups[0].buckets[0].bucket_id, 0x0a00000c);
    assert_string_equal(p.groups[0].selection, "selection_method=hash,fields(ip_src)");
    /* The drained real still forwards its existing connections. */
    find_flow(&p, 2, "ct_mark=0xa00000b");
    /* No vip-mac: no responder. */
    assert_int_equal(count_role(&p, IR_ROLE_RESPONDER), 0);
    find_flow(&p, 0, "udp,nw_dst=10.0.0.100,tp_dst=53");
    ir_destroy(&p);
    lb_spec_destroy(&spec);
}

static void
test_ipv6_and_all_ports(void **state)
{
    struct lb_spec spec;
    lb_spec_init(&spec);
    struct lb_service *s = add_service(&spec, "v6", "2001:db8::100",
                                       LB_PROTO_TCP, 0, "02:00:00:00:01:06");
    s->scheduler = LB_SCHED_MH;
    add_real(s, "2001:db8::11", "02:00:00:00:00:11", "p1", 1);
    struct ir_pipeline p;
    lower_ok(&spec, NULL, &p);
    const struct ir_flow *f = find_flow(&p, 0, "tcp6,ipv6_dst=2001:db8::100");
    assert_true(f->priority < 200);     /* All ports: below exact ports. */
    f = find_flow(&p, 0, "icmp6,icmp_type=135,icmp_code=0,nd_target=2001:db8::100");
    assert_non_null(strstr(f->actions, "set_field:136->icmpv6_type"));
    f = find_flow(&p, 4, "icmp6,icmp_type=136,icmp_code=0,nd_target=2001:db8::100");
    assert_string_equal(f->actions, "set_field:02:00:00:00:01:06->nd_tll,IN_PORT");
    assert_string_equal(p.groups[0].selection,
                        "selection_method=hash,fields(ipv6_src,tcp_src)");
    ir_destroy(&p);
    lb_spec_destroy(&spec);
}

static void
test_table_base_and_next_table(void **state)
{
    struct lb_spec spec;
    lb_spec_init(&spec);
    struct lb_service *s = add_service(&spec, "s", "10.0.0.100", LB_PROTO_TCP,
                                       80, NULL);
    add_real(s, "10.0.0.11", "02:00:00:00:00:11", NULL, 1);
    struct lower_options opts;
    lower_options_init(&opts);
    opts.table_base = 10;
    opts.next_table = 40;
    opts.ct_zone = 7;
    struct ir_pipeline p;
    lower_ok(&spec, &opts, &p);
    for (size_t i = 0; i < p.n_flows; i++) {
        assert_in_range(p.flows[i].table, 10, 14);
    }
    const struct ir_flow *f = find_flow(&p, 10, "tcp,nw_dst=10.0.0.100,tp_dst=80");
    assert_string_equal(f->actions, "ct(zone=7,table=11)");
    f = find_flow(&p, 10, "");
    assert_string_equal(f->actions, "resubmit(,40)");
    f = find_flow(&p, 13, "");
    assert_string_equal(f->actions, "resubmit(,40)");
    ir_destroy(&p);
    lb_spec_destroy(&spec);
}

static void
test_ids_stable_across_order(void **state)
{
    /* Group ids come from names: reordering services keeps them. */
    struct lb_spec s1, s2;
    lb_spec_init(&s1);
    lb_spec_init(&s2);
    const char *names[] = { "alpha", "beta", "gamma" };
    for (int i = 0; i < 3; i++) {
        char vip[32];
        snprintf(vip, sizeof vip, "10.0.1.%d", i + 1);
        add_real(add_service(&s1, names[i], vip, LB_PROTO_TCP, 80, NULL),
                 "10.0.0.11", "02:00:00:00:00:11", NULL, 1);
        snprintf(vip, sizeof vip, "10.0.1.%d", 3 - i);
        add_real(add_service(&s2, names[2 - i], vip, LB_PROTO_TCP, 80, NULL),
                 "10.0.0.11", "02:00:00:00:00:11", NULL, 1);
    }
    struct ir_pipeline p1, p2;
    lower_ok(&s1, NULL, &p1);
    lower_ok(&s2, NULL, &p2);
    assert_int_equal(p1.n_groups, p2.n_groups);
    for (size_t i = 0; i < p1.n_groups; i++) {
        assert_int_equal(p1.groups[i].group_id, p2.groups[i].group_id);
        assert_string_equal(p1.groups[i].service, p2.groups[i].service);
    }
    ir_destroy(&p1);
    ir_destroy(&p2);
    lb_spec_destroy(&s1);
    lb_spec_destroy(&s2);
}

static void
test_conflicting_vip_mac_is_an_error(void **state)
{
    struct lb_spec spec;
    lb_spec_init(&spec);
    add_real(add_service(&spec, "a", "10.0.0.100", LB_PROTO_TCP, 80,
                         "02:00:00:00:01:00"),
             "10.0.0.11", "02:00:00:00:00:11", NULL, 1);
    add_real(add_service(&spec, "b", "10.0.0.100", LB_PROTO_TCP, 81,
                         "02:00:00:00:01:99"),
             "10.0.0.11", "02:00:00:00:00:11", NULL, 1);
    struct lower_options opts;
    lower_options_init(&opts);
    struct diag d;
    diag_init(&d);
    struct ir_pipeline p;
    ir_init(&p);
    bool ok = lb_check(&spec, &d) && lower_spec(&spec, &opts, &p, &d);
    assert_false(ok);
    assert_true(d.n_errors >= 1);
    assert_non_null(strstr(d.records[0].message, "vip-mac"));
    ir_destroy(&p);
    diag_destroy(&d);
    lb_spec_destroy(&spec);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_web_example),
        cmocka_unit_test(test_shared_real_one_forward_flow),
        cmocka_unit_test(test_drained_real_has_no_bucket),
        cmocka_unit_test(test_ipv6_and_all_ports),
        cmocka_unit_test(test_table_base_and_next_table),
        cmocka_unit_test(test_ids_stable_across_order),
        cmocka_unit_test(test_conflicting_vip_mac_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
