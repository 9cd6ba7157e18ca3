/* Lowering: the shape of the DR pipeline produced for a spec. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "check.h"
#include "ds_buf.h"
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
static bool skip_check;     /* Lower a spec lb_check does not accept. */

static void
lower_ok(const struct lb_spec *spec, const struct lower_options *opts,
         struct ir_pipeline *p)
{
    struct lower_options defaults;
    lower_options_init(&defaults);
    struct diag d;
    diag_init(&d);
    ir_init(p);
    bool checked = skip_check || lb_check(spec, &d);
    if (!checked) {
        diag_print(&d, stderr);
    }
    assert_true(checked);
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
    assert_non_null(strstr(f->actions,
                           "set_field:02:00:00:00:01:06->eth_src,"));
    /* The vip-mac, as Ethernet source, becomes the target link-layer
     * address in the nd table (one flow for every VIP). */
    f = find_flow(&p, 4, "icmp6,icmp_type=136,icmp_code=0");
    assert_string_equal(f->actions,
                        "move:NXM_OF_ETH_SRC[]->NXM_NX_ND_TLL[],IN_PORT");
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

/* --- issue 4: match-based services, fo, sorry, persistence, learn ------ */

static size_t
count_table(const struct ir_pipeline *p, uint8_t table, enum ir_flow_role role)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n_flows; i++) {
        n += p->flows[i].table == table && p->flows[i].role == role;
    }
    return n;
}

static bool
has_table(const struct ir_pipeline *p, uint8_t id, const char *name)
{
    for (size_t i = 0; i < p->n_tables; i++) {
        if (p->tables[i].id == id) {
            assert_string_equal(p->tables[i].name, name);
            return true;
        }
    }
    return false;
}

/* Parses "...tp_dst=V[/M]..." (decimal or 0x) of a match; false if the
 * match has no tp_dst (every port). */
static bool
parse_tp(const char *match, const char *key, unsigned *value, unsigned *mask)
{
    const char *p = strstr(match, key);
    if (!p) {
        return false;
    }
    char *end;
    *value = strtoul(p + strlen(key), &end, 0);
    *mask = *end == '/' ? strtoul(end + 1, NULL, 0) : 0xffff;
    return true;
}

static void
check_port_cover(const struct ir_pipeline *p, uint8_t table,
                 enum ir_flow_role role, const char *key, unsigned lo,
                 unsigned hi)
{
    uint8_t *hits = calloc(65536, 1);
    for (size_t i = 0; i < p->n_flows; i++) {
        const struct ir_flow *f = &p->flows[i];
        unsigned v = 0, m = 0;
        if (f->table != table || f->role != role) {
            continue;
        }
        assert_true(parse_tp(f->match, key, &v, &m));
        assert_int_equal(v & ~m & 0xffff, 0);   /* Aligned chunk. */
        for (unsigned port = 0; port < 65536; port++) {
            hits[port] += (port & m) == v;
        }
    }
    for (unsigned port = 0; port < 65536; port++) {
        assert_int_equal(hits[port], port >= lo && port <= hi ? 1 : 0);
    }
    free(hits);
}

static void
test_port_range_chunks(void **state)
{
    /* Ranges decompose into the fewest aligned masked matches, covering
     * exactly the range, one classify/dispatch/reply flow per chunk. */
    static const unsigned ranges[][3] = {
        /* lo, hi, expected number of chunks */
        { 8000, 8100, 4 },      /* 8000/10 (8000-8063), 8064/11, 8096/14, 8100 */
        { 1, 65535, 16 },
        { 1024, 2047, 1 },
        { 80, 81, 1 },
        { 443, 443, 1 },
        { 1000, 999, 1 },       /* port_max < port: the single port. */
    };
    for (size_t k = 0; k < sizeof ranges / sizeof ranges[0]; k++) {
        struct lb_spec spec;
        lb_spec_init(&spec);
        struct lb_service *svc = add_service(&spec, "range", "10.0.0.100",
                                             LB_PROTO_TCP, ranges[k][0],
                                             NULL);
        svc->port_max = ranges[k][1];
        add_real(svc, "10.0.0.11", "02:00:00:00:00:11", NULL, 1);
        struct ir_pipeline p;
        lower_ok(&spec, NULL, &p);
        unsigned hi = ranges[k][1] > ranges[k][0] ? ranges[k][1]
                                                   : ranges[k][0];
        assert_int_equal(count_role(&p, IR_ROLE_CLASSIFY), ranges[k][2]);
        assert_int_equal(count_role(&p, IR_ROLE_DISPATCH), ranges[k][2]);
        assert_int_equal(count_role(&p, IR_ROLE_REPLY), ranges[k][2]);
        check_port_cover(&p, 0, IR_ROLE_CLASSIFY, "tp_dst=", ranges[k][0],
                         hi);
        check_port_cover(&p, 1, IR_ROLE_DISPATCH, "tp_dst=", ranges[k][0],
                         hi);
        check_port_cover(&p, 0, IR_ROLE_REPLY, "tp_src=", ranges[k][0], hi);
        for (size_t i = 0; i < p.n_flows; i++) {
            if (p.flows[i].role == IR_ROLE_CLASSIFY) {
                /* A range sits below single ports of the same VIP. */
                assert_int_equal(p.flows[i].priority,
                                 hi > ranges[k][0] ? 195 : 200);
            }
        }
        assert_int_equal(p.n_groups, 1);
        ir_destroy(&p);
        lb_spec_destroy(&spec);
    }
}

static void
test_vip_prefix(void **state)
{
    struct lb_spec spec;
    lb_spec_init(&spec);
    struct lb_service *wide = add_service(&spec, "wide", "10.1.0.0",
                                          LB_PROTO_TCP, 0,
                                          "02:00:00:00:02:00");
    wide->vip_prefix_len = 24;
    add_real(wide, "10.0.0.11", "02:00:00:00:00:11", NULL, 1);
    /* A single VIP inside the prefix, and a /16 around both. */
    struct lb_service *one = add_service(&spec, "one", "10.1.0.5",
                                         LB_PROTO_TCP, 80,
                                         "02:00:00:00:02:01");
    one->vip_prefix_len = 32;
    one->port_max = 80;
    add_real(one, "10.0.0.12", "02:00:00:00:00:12", NULL, 1);
    struct lb_service *big = add_service(&spec, "big", "10.1.0.0",
                                         LB_PROTO_TCP, 443, NULL);
    big->vip_prefix_len = 16;
    add_real(big, "10.0.0.12", "02:00:00:00:00:12", NULL, 1);
    struct lb_service *v6 = add_service(&spec, "v6", "2001:db8:1::",
                                        LB_PROTO_UDP, 53,
                                        "02:00:00:00:02:06");
    v6->vip_prefix_len = 64;
    add_real(v6, "2001:db8::11", "02:00:00:00:00:11", NULL, 1);

    /* Nested prefixes are what the priorities order; the checker of the
     * time this was written called them overlapping, so lower directly. */
    struct ir_pipeline p;
    skip_check = true;
    lower_ok(&spec, NULL, &p);
    skip_check = false;
    const struct ir_flow *w = find_flow(&p, 0, "tcp,nw_dst=10.1.0.0/24");
    const struct ir_flow *o = find_flow(&p, 0, "tcp,nw_dst=10.1.0.5,tp_dst=80");
    const struct ir_flow *b = find_flow(&p, 0,
                                        "tcp,nw_dst=10.1.0.0/16,tp_dst=443");
    assert_int_equal(o->priority, 200);
    assert_int_equal(w->priority, 102 + 2 * 24);
    assert_int_equal(b->priority, 102 + 2 * 16 + 1);
    assert_true(o->priority > w->priority && w->priority > b->priority);
    assert_true(w->vip_answer && o->vip_answer && b->vip_answer);
    find_flow(&p, 0, "tcp,nw_src=10.1.0.0/24");
    find_flow(&p, 1, "ct_state=+trk-inv,ct_mark=0,tcp,nw_dst=10.1.0.0/24");
    find_flow(&p, 0, "udp6,ipv6_dst=2001:db8:1::/64,tp_dst=53");

    /* Responders: the prefix answers for every address in it (sender and
     * target swapped through the stack), below the single VIP's. */
    const struct ir_flow *r = find_flow(&p, 0, "arp,arp_op=1,arp_tpa=10.1.0.0/24");
    assert_non_null(strstr(r->actions, "push:NXM_OF_ARP_TPA[],"
                           "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],"
                           "pop:NXM_OF_ARP_SPA[]"));
    const struct ir_flow *r1 = find_flow(&p, 0, "arp,arp_op=1,arp_tpa=10.1.0.5");
    assert_true(r1->priority > r->priority);
    const struct ir_flow *nd = find_flow(
        &p, 0, "icmp6,icmp_type=135,icmp_code=0,nd_target=2001:db8:1::/64");
    assert_non_null(strstr(nd->actions,
                           "move:NXM_NX_ND_TARGET[]->NXM_NX_IPV6_SRC[]"));
    find_flow(&p, 4, "icmp6,icmp_type=136,icmp_code=0");
    ir_destroy(&p);

    /* Front ends that leave vip_prefix_len 0 mean the whole address. */
    wide->vip_prefix_len = 0;
    skip_check = true;
    lower_ok(&spec, NULL, &p);
    skip_check = false;
    find_flow(&p, 0, "tcp,nw_dst=10.1.0.0");
    ir_destroy(&p);
    lb_spec_destroy(&spec);
}

static const struct ir_bucket *
find_bucket(const struct ir_group *g, const char *real)
{
    for (size_t i = 0; i < g->n_buckets; i++) {
        if (!strcmp(g->buckets[i].real, real)) {
            return &g->buckets[i];
        }
    }
    fail_msg("no bucket for %s", real);
    return NULL;
}

static void
test_failover_and_sorry(void **state)
{
    struct lb_spec spec;
    lb_spec_init(&spec);
    struct lb_service *svc = add_service(&spec, "fo", "10.0.0.100",
                                         LB_PROTO_TCP, 80, NULL);
    svc->scheduler = LB_SCHED_FO;
    add_real(svc, "10.0.0.11", "02:00:00:00:00:11", NULL, 5);
    add_real(svc, "10.0.0.12", "02:00:00:00:00:12", NULL, 9);
    add_real(svc, "10.0.0.13", "02:00:00:00:00:13", NULL, 9);
    add_real(svc, "10.0.0.14", "02:00:00:00:00:14", NULL, 0);
    svc->has_sorry = true;
    assert_null(lb_parse_addr("10.0.0.99", &svc->sorry.addr));
    assert_null(lb_parse_mac("02:00:00:00:00:99", &svc->sorry.mac));
    svc->sorry.has_mac = true;
    svc->sorry.weight = 1;

    struct ir_pipeline p;
    lower_ok(&spec, NULL, &p);
    assert_int_equal(p.n_groups, 1);
    const struct ir_group *g = &p.groups[0];
    assert_true(g->failover);
    assert_true(g->has_sorry);
    assert_int_equal(g->n_buckets, 4);  /* 3 candidates + sorry; no 0. */
    const struct ir_bucket *b11 = find_bucket(g, "10.0.0.11");
    const struct ir_bucket *b12 = find_bucket(g, "10.0.0.12");
    const struct ir_bucket *b13 = find_bucket(g, "10.0.0.13");
    const struct ir_bucket *b99 = find_bucket(g, "10.0.0.99");
    assert_true(b11->standby && !b11->sorry);
    assert_false(b12->standby);
    assert_false(b13->standby);
    assert_int_equal(b12->weight, b13->weight);     /* Ties share. */
    assert_true(b99->standby && b99->sorry);
    assert_int_equal(b11->spec_weight, 5);
    assert_int_equal(b12->spec_weight, 9);
    assert_int_equal(b11->mark, 0x0a00000b);
    assert_int_equal(b99->mark, 0x0a000063);
    assert_non_null(strstr(b99->actions,
                           "exec(set_field:0xa000063->ct_mark)"));

    /* Only the active buckets are emitted. */
    char *line = ir_group_to_ofctl(g);
    assert_non_null(strstr(line, "bucket_id:167772172,"));
    assert_non_null(strstr(line, "bucket_id:167772173,"));
    assert_null(strstr(line, "bucket_id:167772171,"));
    assert_null(strstr(line, "bucket_id:167772259,"));
    free(line);

    /* The sorry real has a forward flow, ready for when it is used. */
    find_flow(&p, 2, "ct_mark=0xa000063");
    assert_int_equal(count_role(&p, IR_ROLE_FORWARD), 5);
    ir_destroy(&p);

    /* rr, lc, wlc: the weighted hash, every real active. */
    enum lb_scheduler scheds[] = { LB_SCHED_RR, LB_SCHED_LC, LB_SCHED_WLC };
    svc->has_sorry = false;
    for (size_t k = 0; k < 3; k++) {
        svc->scheduler = scheds[k];
        lower_ok(&spec, NULL, &p);
        assert_false(p.groups[0].failover);
        assert_int_equal(p.groups[0].n_buckets, 3);
        for (size_t i = 0; i < 3; i++) {
            assert_false(p.groups[0].buckets[i].standby);
        }
        assert_string_equal(p.groups[0].selection,
                            "selection_method=hash,"
                            "fields(ip_src,ip_dst,tcp_src,tcp_dst)");
        ir_destroy(&p);
    }
    lb_spec_destroy(&spec);
}

static void
test_persistence(void **state)
{
    struct lb_spec spec;
    lb_spec_init(&spec);
    struct lb_service *svc = add_service(&spec, "p", "10.0.0.100",
                                         LB_PROTO_TCP, 80,
                                         "02:00:00:00:01:00");
    svc->persistence_s = 3;
    svc->persistence_prefix_len = 24;
    add_real(svc, "10.0.0.11", "02:00:00:00:00:11", NULL, 1);
    add_real(svc, "10.0.0.12", "02:00:00:00:00:12", "2", 1);
    struct lb_service *v6 = add_service(&spec, "p6", "2001:db8::100",
                                        LB_PROTO_TCP, 80, NULL);
    v6->persistence_s = 100000;         /* Clamped to 16 bits. */
    v6->persistence_prefix_len = 64;
    add_real(v6, "2001:db8::11", "02:00:00:00:00:11", NULL, 1);

    struct ir_pipeline p;
    lower_ok(&spec, NULL, &p);
    assert_true(has_table(&p, 5, "persist"));
    assert_true(has_table(&p, 7, "assign"));
    assert_false(has_table(&p, 6, "sticky"));
    const struct ir_group *g = &p.groups[0];
    if (strcmp(g->service, "p")) {
        g = &p.groups[1];
    }
    assert_int_equal(g->persistence_s, 3);
    assert_int_equal(g->service_id, g->group_id & 0xfffff);
    assert_int_equal(g->cookie, FLOWLB_COOKIE_MAGIC | g->group_id);
    uint32_t sid = g->service_id;
    char buf[512];

    /* Dispatch: the client's entry, then assign. */
    const struct ir_flow *f = find_flow(
        &p, 1, "ct_state=+trk-inv,ct_mark=0,tcp,nw_dst=10.0.0.100,tp_dst=80");
    snprintf(buf, sizeof buf, "load:%u->NXM_NX_REG12[],load:0->NXM_NX_REG13[],"
             "resubmit(,5),resubmit(,7)", sid);
    assert_string_equal(f->actions, buf);
    assert_int_equal(f->role, IR_ROLE_DISPATCH);
    /* Marked packets keep the entry alive, then forward. */
    f = find_flow(&p, 1, "ct_state=+trk-inv,tcp,nw_dst=10.0.0.100,tp_dst=80");
    assert_int_equal(f->priority, 199);
    assert_int_equal(f->role, IR_ROLE_LOOKUP);
    snprintf(buf, sizeof buf, "load:%u->NXM_NX_REG12[],resubmit(,5),"
             "resubmit(,2)", sid);
    assert_string_equal(f->actions, buf);

    /* Buckets only load the mark; assign learns and commits. */
    const struct ir_bucket *b = find_bucket(g, "10.0.0.11");
    assert_string_equal(b->actions,
                        "load:0xa00000b->NXM_NX_REG13[],resubmit(,7)");
    snprintf(buf, sizeof buf, "tcp,reg12=%u,reg13=0xa00000b", sid);
    f = find_flow(&p, 7, buf);
    assert_int_equal(f->role, IR_ROLE_ASSIGN);
    assert_int_equal(f->mark, 0xa00000b);
    assert_int_equal(find_flow(&p, 2, "ct_mark=0xa00000c")->mark, 0xa00000c);
    assert_string_equal(f->actions,
        "learn(table=5,idle_timeout=3,cookie=0xf10b01000a00000b,"
        "eth_type=0x800,NXM_NX_REG12[],NXM_OF_IP_SRC[8..31],"
        "load:0xa00000b->NXM_NX_REG13[]),"
        "ct(commit,zone=64000,exec(set_field:0xa00000b->ct_mark),table=2)");
    snprintf(buf, sizeof buf, "tcp,reg12=%u", sid);
    f = find_flow(&p, 7, buf);
    snprintf(buf, sizeof buf, "group:%u", g->group_id);
    assert_string_equal(f->actions, buf);
    assert_int_equal(f->priority, 10);

    /* IPv6: a /64 client prefix, timeout clamped to 65535. */
    const struct ir_group *g6 = g == &p.groups[0] ? &p.groups[1]
                                                   : &p.groups[0];
    snprintf(buf, sizeof buf, "tcp6,reg12=%u,reg13=0x%x", g6->service_id,
             g6->buckets[0].mark);
    f = find_flow(&p, 7, buf);
    assert_non_null(strstr(f->actions, "idle_timeout=65535,"));
    assert_non_null(strstr(f->actions,
                           "eth_type=0x86dd,NXM_NX_REG12[],"
                           "NXM_NX_IPV6_SRC[64..127],"));
    assert_int_equal(count_table(&p, 5, IR_ROLE_DEFAULT), 1);
    ir_destroy(&p);
    lb_spec_destroy(&spec);
}

static void
test_learn_stickiness(void **state)
{
    struct lb_spec spec;
    lb_spec_init(&spec);
    struct lb_service *svc = add_service(&spec, "s", "10.0.0.100",
                                         LB_PROTO_UDP, 53, NULL);
    svc->stickiness = LB_STICKY_LEARN;
    svc->sticky_idle_s = 300;
    svc->udp_timeout_s = 20;            /* UDP: the learned entry's idle. */
    svc->persistence_s = 60;
    add_real(svc, "10.0.0.11", "02:00:00:00:00:11", NULL, 1);
    add_real(svc, "10.0.0.12", "02:00:00:00:00:12", NULL, 1);

    struct ir_pipeline p;
    lower_ok(&spec, NULL, &p);
    assert_true(has_table(&p, 6, "sticky"));
    assert_true(has_table(&p, 5, "persist"));
    const struct ir_group *g = &p.groups[0];
    assert_true(g->learn_mode);
    assert_int_equal(g->sticky_idle_s, 20);
    uint32_t sid = g->service_id;
    char buf[512];
    /* No conntrack anywhere for this service. */
    assert_int_equal(count_role(&p, IR_ROLE_REPLY), 0);
    assert_int_equal(count_role(&p, IR_ROLE_DISPATCH), 0);
    for (size_t i = 0; i < p.n_flows; i++) {
        if (p.flows[i].service) {
            assert_null(strstr(p.flows[i].actions, "ct("));
        }
    }
    const struct ir_flow *f = find_flow(&p, 0, "udp,nw_dst=10.0.0.100,tp_dst=53");
    snprintf(buf, sizeof buf, "load:%u->NXM_NX_REG12[],load:0->NXM_NX_REG13[],"
             "resubmit(,5),resubmit(,6),resubmit(,7)", sid);
    assert_string_equal(f->actions, buf);
    assert_true(f->vip_answer);
    snprintf(buf, sizeof buf, "udp,reg12=%u,reg13=0xa00000c", sid);
    f = find_flow(&p, 7, buf);
    assert_string_equal(f->actions,
        "learn(table=6,idle_timeout=20,cookie=0xf10b02000a00000c,"
        "eth_type=0x800,nw_proto=17,NXM_NX_REG12[],NXM_OF_IP_SRC[],"
        "NXM_OF_IP_DST[],NXM_OF_UDP_SRC[],NXM_OF_UDP_DST[],"
        "load:0xa00000c->NXM_NX_REG13[]),"
        "learn(table=5,idle_timeout=60,cookie=0xf10b01000a00000c,"
        "eth_type=0x800,NXM_NX_REG12[],NXM_OF_IP_SRC[],"
        "load:0xa00000c->NXM_NX_REG13[]),resubmit(,2)");
    /* Forwarding by register as well as by ct_mark. */
    f = find_flow(&p, 2, "reg13=0xa00000c");
    assert_string_equal(f->actions, "set_field:02:00:00:00:00:12->eth_dst,NORMAL");
    find_flow(&p, 2, "ct_mark=0xa00000c");
    /* Learn-mode UDP does not set the zone's conntrack timeout. */
    assert_int_equal(p.udp_timeout_s, 0);
    ir_destroy(&p);

    /* IPv6, TCP, with a sorry real: IPv6 fields in the learned 5-tuple,
     * and the sorry real's assign flow learns no persistence entry. */
    struct lb_service *v6 = add_service(&spec, "s6", "2001:db8::100",
                                        LB_PROTO_TCP, 80, NULL);
    v6->stickiness = LB_STICKY_LEARN;
    v6->sticky_idle_s = 0;              /* Default 300. */
    v6->persistence_s = 10;
    v6->persistence_prefix_len = 56;
    add_real(v6, "2001:db8::11", "02:00:00:00:00:11", NULL, 1);
    v6->has_sorry = true;
    assert_null(lb_parse_addr("2001:db8::99", &v6->sorry.addr));
    assert_null(lb_parse_mac("02:00:00:00:00:99", &v6->sorry.mac));
    v6->sorry.has_mac = true;
    v6->sorry.weight = 1;
    lower_ok(&spec, NULL, &p);
    size_t n_assign = 0;
    for (size_t i = 0; i < p.n_flows; i++) {
        const struct ir_flow *a = &p.flows[i];
        if (a->role != IR_ROLE_ASSIGN || strcmp(a->service, "s6")
            || !a->mark) {
            continue;
        }
        n_assign++;
        assert_non_null(strstr(a->actions,
                               "learn(table=6,idle_timeout=300,"));
        assert_non_null(strstr(a->actions, "eth_type=0x86dd,nw_proto=6,"
                               "NXM_NX_REG12[],NXM_NX_IPV6_SRC[],"
                               "NXM_NX_IPV6_DST[],NXM_OF_TCP_SRC[],"
                               "NXM_OF_TCP_DST[]"));
        bool is_sorry = strstr(a->match, "reg13=0x") && a->mark
                        == lower_real_mark(&v6->sorry.addr);
        assert_int_equal(strstr(a->actions, "NXM_NX_IPV6_SRC[72..127]")
                         != NULL, !is_sorry);
    }
    assert_int_equal(n_assign, 2);
    ir_destroy(&p);
    lb_spec_destroy(&spec);
}

static void
test_udp_timeout_and_cookies(void **state)
{
    struct lb_spec spec;
    lb_spec_init(&spec);
    struct lb_service *a = add_service(&spec, "dns", "10.0.0.100",
                                       LB_PROTO_UDP, 53, NULL);
    a->udp_timeout_s = 30;
    add_real(a, "10.0.0.11", "02:00:00:00:00:11", NULL, 1);
    struct lb_service *b = add_service(&spec, "syslog", "10.0.0.100",
                                       LB_PROTO_UDP, 514, NULL);
    b->udp_timeout_s = 90;
    add_real(b, "10.0.0.11", "02:00:00:00:00:11", NULL, 1);
    struct lower_options opts;
    lower_options_init(&opts);
    opts.ct_zone = 7;
    struct ir_pipeline p;
    lower_ok(&spec, &opts, &p);
    assert_int_equal(p.ct_zone, 7);
    assert_int_equal(p.udp_timeout_s, 90);      /* The longest. */
    find_flow(&p, 0, "udp,nw_src=10.0.0.100,tp_src=53");    /* Replies. */
    ir_destroy(&p);
    lb_spec_destroy(&spec);

    uint64_t c = flowlb_cookie_learned(FLOWLB_COOKIE_KIND_PERSIST,
                                       0x0a00000b);
    assert_int_equal(c, 0xf10b01000a00000bULL);
    assert_true(flowlb_cookie_is_learned(c));
    assert_int_equal(flowlb_cookie_kind(c), FLOWLB_COOKIE_KIND_PERSIST);
    assert_int_equal(flowlb_cookie_mark(c), 0x0a00000b);
    assert_false(flowlb_cookie_is_learned(0xf10b0000f1b9bc91ULL));
    assert_false(flowlb_cookie_is_learned(FLOWLB_COOKIE_MAGIC));
    assert_false(flowlb_cookie_is_learned(0x1201000000000001ULL));
    /* One real's persistence entries, whatever the service. */
    assert_int_equal(c & FLOWLB_COOKIE_LEARNED_MASK, c);
}

static void
test_quorum_flows(void **state)
{
    /* Two services on one VIP share one responder naming both; every
     * classify and responder flow is marked as making the VIP answer. */
    struct lb_spec spec;
    lb_spec_init(&spec);
    add_real(add_service(&spec, "http", "2001:db8::100", LB_PROTO_TCP, 80,
                         "02:00:00:00:01:00"),
             "2001:db8::11", "02:00:00:00:00:11", NULL, 1);
    add_real(add_service(&spec, "https", "2001:db8::100", LB_PROTO_TCP, 443,
                         "02:00:00:00:01:00"),
             "2001:db8::11", "02:00:00:00:00:11", NULL, 1);
    struct ir_pipeline p;
    lower_ok(&spec, NULL, &p);
    size_t answers = 0;
    for (size_t i = 0; i < p.n_flows; i++) {
        const struct ir_flow *f = &p.flows[i];
        assert_int_equal(f->vip_answer, f->role == IR_ROLE_RESPONDER
                                        || f->role == IR_ROLE_CLASSIFY);
        answers += f->vip_answer;
        if (f->role == IR_ROLE_RESPONDER) {
            assert_int_equal(f->n_shared_by, 2);
            assert_string_equal(f->shared_by[0], "http");
            assert_string_equal(f->shared_by[1], "https");
        } else {
            assert_int_equal(f->n_shared_by, 0);
        }
    }
    assert_int_equal(answers, 3);       /* The responder, 2 classify. */

    /* The advertisement's second step and the answer to duplicate address
     * detection are shared by every IPv6 VIP: fixed flows of the nd table,
     * the DAD one above, sending to all nodes, not solicited. */
    const struct ir_flow *na = NULL, *dad = NULL;
    size_t n_nd = 0;
    for (size_t i = 0; i < p.n_flows; i++) {
        const struct ir_flow *f = &p.flows[i];
        if (f->table == LOWER_T_ND && f->priority) {
            n_nd++;
            assert_int_equal(f->role, IR_ROLE_DEFAULT);
            *(strstr(f->match, "ipv6_dst=::,") ? &dad : &na) = f;
        }
    }
    assert_int_equal(n_nd, 2);
    assert_non_null(na);
    assert_non_null(dad);
    assert_true(dad->priority > na->priority);
    assert_string_equal(na->actions,
                        "move:NXM_OF_ETH_SRC[]->NXM_NX_ND_TLL[],IN_PORT");
    assert_non_null(strstr(dad->actions, "set_field:ff02::1->ipv6_dst,"));
    assert_non_null(strstr(dad->actions,
                           "set_field:33:33:00:00:00:01->eth_dst,"));
    assert_non_null(strstr(dad->actions,
                           "set_field:0x20000000->nd_reserved,"));
    ir_destroy(&p);
    lb_spec_destroy(&spec);
}

/* The printf-free writers lowering uses on its hot paths (one bucket
 * action and one address per real) write what printf and inet_ntop do. */
static void
test_fast_formatting(void **state)
{
    struct ds_buf b;
    ds_buf_init(&b);
    const unsigned long long values[] = { 0, 9, 10, 64000, 0xa4012bc,
                                          UINT32_MAX, ULLONG_MAX };
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        char want[64];
        snprintf(want, sizeof want, "x%llu/%llx", values[i], values[i]);
        ds_buf_clear(&b);
        ds_buf_put(&b, "x");
        ds_buf_put_uint(&b, values[i], false);
        ds_buf_put(&b, "/");
        ds_buf_put_uint(&b, values[i], true);
        assert_string_equal(b.s, want);
        assert_int_equal(b.len, strlen(want));
    }
    ds_buf_destroy(&b);

    srand(7);
    for (int i = 0; i < 20000; i++) {
        struct lb_addr a = { .family = AF_INET };
        uint32_t x = i < 4 ? (uint32_t[]) { 0, UINT32_MAX, 0x0a640001,
                                            0x01020304 }[i]
                           : (uint32_t) rand() ^ ((uint32_t) rand() << 16);
        a.v4.s_addr = htonl(x);
        char got[INET6_ADDRSTRLEN], want[INET6_ADDRSTRLEN];
        lb_addr_format(&a, got, sizeof got);
        inet_ntop(AF_INET, &a.v4, want, sizeof want);
        assert_string_equal(got, want);
    }
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
        cmocka_unit_test(test_port_range_chunks),
        cmocka_unit_test(test_vip_prefix),
        cmocka_unit_test(test_failover_and_sorry),
        cmocka_unit_test(test_persistence),
        cmocka_unit_test(test_learn_stickiness),
        cmocka_unit_test(test_udp_timeout_and_cookies),
        cmocka_unit_test(test_quorum_flows),
        cmocka_unit_test(test_fast_formatting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
