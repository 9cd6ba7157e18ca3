/* Unit tests of runtime/reply_bytes.c: installed flows and groups found by
 * their bytes in OpenFlow 1.5 replies. The replies are made with the
 * encoders ovs-vswitchd uses for its own (from the flows and groups as
 * ovs-ofctl would write them), so what is found here is what a switch's
 * reply would be; every change to a flow or group must make the shortcut
 * give up, never pass. */
#include <config.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "openvswitch/vlog.h"
#include "../../runtime/ofsync.h"
#include "../../runtime/reply_bytes.h"
#include "ofsync_test_util.h"

static void
add_one_group(struct ofsync_state *s, const char *g)
{
    add_desired_groups(s, (const char *const[]) { g, NULL });
}

static bool
any_cookie(uint64_t cookie OVS_UNUSED)
{
    return true;
}

static bool
no_cookie(uint64_t cookie OVS_UNUSED)
{
    return false;
}

static bool
any_group(uint32_t id OVS_UNUSED)
{
    return true;
}

static void
count_flow(const struct ofsync_flow *f OVS_UNUSED, void *n)
{
    ++*(size_t *) n;
}

static void
count_group(const struct ofsync_group *g OVS_UNUSED, void *n)
{
    ++*(size_t *) n;
}

/* Whether 'reply' is found, byte for byte, in the state made of 'installed'
 * ('*n' the flows it found). */
static bool
flows_found(const char *const *installed, const struct ofpbuf *reply,
            size_t *n)
{
    struct ofsync_state s;
    ofsync_state_init(&s);
    add_desired_flows(&s, installed);
    struct flow_bytes_index *ix = flow_bytes_index_create(&s);
    assert_int_equal(flow_bytes_index_count(ix), ofsync_state_n_flows(&s));
    *n = 0;
    bool found = flow_bytes_match_reply(ix, reply->data, any_cookie,
                                        count_flow, n);
    flow_bytes_index_destroy(ix);
    ofsync_state_destroy(&s);
    return found;
}

static void
test_flows_as_installed(void **state OVS_UNUSED)
{
    struct ofpbuf *reply = switch_flow_reply(base_flows);
    size_t n;
    assert_true(flows_found(base_flows, reply, &n));
    assert_int_equal(n, 5);
    ofpbuf_delete(reply);
}

/* Each of these differs from one installed flow in one respect. */
static void
test_any_difference_gives_up(void **state OVS_UNUSED)
{
    static const char *const changed[] = {
        /* Actions: another port. */
        "table=2,priority=100,cookie=0xf10b000000000000,ct_mark=0x0a000001,"
        "actions=mod_dl_dst:02:00:00:00:00:01,output:2",
        /* Match: another mark. */
        "table=2,priority=100,cookie=0xf10b000000000000,ct_mark=0x0a000002,"
        "actions=mod_dl_dst:02:00:00:00:00:01,output:1",
        /* Priority. */
        "table=2,priority=101,cookie=0xf10b000000000000,ct_mark=0x0a000001,"
        "actions=mod_dl_dst:02:00:00:00:00:01,output:1",
        /* Table. */
        "table=3,priority=100,cookie=0xf10b000000000000,ct_mark=0x0a000001,"
        "actions=mod_dl_dst:02:00:00:00:00:01,output:1",
        /* Cookie. */
        "table=2,priority=100,cookie=0xf10b000000000001,ct_mark=0x0a000001,"
        "actions=mod_dl_dst:02:00:00:00:00:01,output:1",
        NULL
    };
    for (const char *const *c = changed; *c; c++) {
        const char *v[] = { base_flows[0], base_flows[1], *c, NULL };
        struct ofpbuf *reply = switch_flow_reply(v);
        size_t n;
        assert_false(flows_found(base_flows, reply, &n));
        ofpbuf_delete(reply);
    }
}

/* Entries the caller does not want (learned flows) are passed over. */
static void
test_unwanted_entries_skipped(void **state OVS_UNUSED)
{
    static const char *const learned[] = {
        "table=5,priority=100,cookie=0xf10b010000000001,ip,nw_src=10.0.1.0/24,"
        "actions=load:0xa00000b->NXM_NX_REG13[]",
        NULL
    };
    struct ofpbuf *reply = switch_flow_reply(learned);
    struct ofsync_state s;
    ofsync_state_init(&s);
    add_desired_flows(&s, base_flows);
    struct flow_bytes_index *ix = flow_bytes_index_create(&s);
    size_t n = 0;
    assert_false(flow_bytes_match_reply(ix, reply->data, any_cookie,
                                        count_flow, &n));
    assert_true(flow_bytes_match_reply(ix, reply->data, no_cookie,
                                       count_flow, &n));
    assert_int_equal(n, 0);
    flow_bytes_index_destroy(ix);
    ofsync_state_destroy(&s);
    ofpbuf_delete(reply);
}

/* A reply of another kind, or cut short, is left to the decoder. */
static void
test_unreadable_gives_up(void **state OVS_UNUSED)
{
    struct ofsync_state s;
    ofsync_state_init(&s);
    add_desired_flows(&s, base_flows);
    struct flow_bytes_index *ix = flow_bytes_index_create(&s);
    struct ofpbuf *greply = switch_group_reply(G1 B(0, 100, 0x0a000001));
    size_t n = 0;
    assert_false(flow_bytes_match_reply(ix, greply->data, any_cookie,
                                        count_flow, &n));
    struct ofpbuf *reply = switch_flow_reply(base_flows);
    struct ofp_header *oh = reply->data;
    oh->length = htons(ntohs(oh->length) - 8);
    assert_false(flow_bytes_match_reply(ix, oh, any_cookie, count_flow, &n));
    assert_false(flow_bytes_match_reply(NULL, oh, any_cookie, count_flow,
                                        &n));
    ofpbuf_delete(reply);
    ofpbuf_delete(greply);
    flow_bytes_index_destroy(ix);
    ofsync_state_destroy(&s);
}

static bool
group_found(const char *installed, const char *replied)
{
    struct ofsync_state s;
    ofsync_state_init(&s);
    add_one_group(&s, installed);
    struct ofpbuf *reply = switch_group_reply(replied);
    size_t n = 0;
    bool found = group_bytes_match_reply(&s, reply->data, any_group,
                                         count_group, &n);
    assert_int_equal(n, found ? 1 : 0);
    ofpbuf_delete(reply);
    ofsync_state_destroy(&s);
    return found;
}

static void
test_groups(void **state OVS_UNUSED)
{
    const char *g = G1 B(0, 100, 0x0a000001) B(1, 100, 0x0a000002)
                    B(2, 50, 0x0a000003);
    assert_true(group_found(g, g));
    /* A weight, a bucket's actions, a bucket gone, another selection
     * method's fields, another group id: each gives up. */
    assert_false(group_found(g, G1 B(0, 100, 0x0a000001)
                             B(1, 99, 0x0a000002) B(2, 50, 0x0a000003)));
    assert_false(group_found(g, G1 B(0, 100, 0x0a000001)
                             B(1, 100, 0x0a000009) B(2, 50, 0x0a000003)));
    assert_false(group_found(g, G1 B(0, 100, 0x0a000001)
                             B(1, 100, 0x0a000002)));
    assert_false(group_found(g, "group_id=0xf1b00001,type=select,"
                             "selection_method=hash,fields(ip_src,ip_dst)"
                             B(0, 100, 0x0a000001) B(1, 100, 0x0a000002)
                             B(2, 50, 0x0a000003)));
    assert_false(group_found(g, "group_id=0xf1b00002,type=select,"
                             "selection_method=hash,"
                             "fields(ip_src,ip_dst,tcp_src,tcp_dst)"
                             B(0, 100, 0x0a000001) B(1, 100, 0x0a000002)
                             B(2, 50, 0x0a000003)));
    /* The same buckets in another order: equal for the comparison, but
     * not these bytes; the decoder judges it. */
    assert_false(group_found(g, G1 B(1, 100, 0x0a000002)
                             B(0, 100, 0x0a000001) B(2, 50, 0x0a000003)));
    /* Twice (the encoder's scratch reply is reused): still equal. */
    struct ofsync_state s;
    ofsync_state_init(&s);
    add_one_group(&s, g);
    add_one_group(&s, "group_id=0xf1b00002,type=select,selection_method=hash,"
              "fields(ip_src)" B(0, 1, 0x0a000004));
    struct ofpbuf *r1 = switch_group_reply(g);
    struct ofpbuf *r2 = switch_group_reply("group_id=0xf1b00002,type=select,"
                                    "selection_method=hash,fields(ip_src)"
                                    B(0, 1, 0x0a000004));
    /* Both entries in one reply. */
    struct ofp_header *h1 = r1->data;
    size_t body2 = r2->size - sizeof(struct ofp_header) - 8;
    ofpbuf_put(r1, (const uint8_t *) r2->data + r2->size - body2, body2);
    h1 = r1->data;
    h1->length = htons(r1->size);
    size_t n = 0;
    assert_true(group_bytes_match_reply(&s, r1->data, any_group, count_group,
                                        &n));
    assert_int_equal(n, 2);
    ofpbuf_delete(r1);
    ofpbuf_delete(r2);
    ofsync_state_destroy(&s);
}

int
main(void)
{
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flows_as_installed),
        cmocka_unit_test(test_any_difference_gives_up),
        cmocka_unit_test(test_unwanted_entries_skipped),
        cmocka_unit_test(test_unreadable_gives_up),
        cmocka_unit_test(test_groups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
