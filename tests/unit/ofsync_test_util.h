/* Helpers for the tests of the switch's side of the comparison
 * (rt_test_ofsync.c, rt_test_reply_bytes.c): a small pipeline in
 * ovs-ofctl's syntax, and OpenFlow 1.5 replies holding flows or a group as
 * ovs-vswitchd encodes them (its own encoders, length set as sent).
 * Header-only, like the other *_test_util.h (static inline: no unused
 * warnings). Include after cmocka.h. */
#ifndef FLOWLB_OFSYNC_TEST_UTIL_H
#define FLOWLB_OFSYNC_TEST_UTIL_H 1

#include <string.h>

#include "openvswitch/list.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofpbuf.h"
#include "../../runtime/ofsync.h"

#define C "cookie=0xf10b0000f1b00001,"
#define G1 "group_id=0xf1b00001,type=select,selection_method=hash," \
           "fields(ip_src,ip_dst,tcp_src,tcp_dst)"
#define B(ID, W, MARK) ",bucket=bucket_id:" #ID ",weight:" #W \
    ",actions=ct(commit,zone=64000,exec(set_field:" #MARK "->ct_mark),table=2)"

/* One service's pipeline: ARP responder, classifier, table miss, dispatch
 * to its group, one forward flow. */
static const char *const base_flows[] = {
    "table=0,priority=300," C "arp,arp_op=1,arp_tpa=10.0.0.100,"
    "actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
    "mod_dl_src:02:00:00:00:00:64,load:0x2->NXM_OF_ARP_OP[],"
    "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
    "load:0x020000000064->NXM_NX_ARP_SHA[],"
    "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],"
    "load:0x0a000064->NXM_OF_ARP_SPA[],IN_PORT",
    "table=0,priority=200," C "tcp,nw_dst=10.0.0.100,tp_dst=80,"
    "actions=ct(zone=64000,table=1)",
    "table=0,priority=0,cookie=0xf10b000000000000,actions=NORMAL",
    "table=1,priority=200," C "ct_state=+trk-inv,ct_mark=0,tcp,"
    "nw_dst=10.0.0.100,tp_dst=80,actions=group:0xf1b00001",
    "table=2,priority=100,cookie=0xf10b000000000000,ct_mark=0x0a000001,"
    "actions=mod_dl_dst:02:00:00:00:00:01,output:1",
    NULL
};

/* The desired side: flows and groups as the agent decodes its own. */
static inline void
add_desired_flows(struct ofsync_state *s, const char *const *flows)
{
    for (; *flows; flows++) {
        char *err = ofsync_add_flow_str(s, *flows, NULL);
        if (err) {
            fail_msg("%s", err);
        }
    }
}

static inline void
add_desired_groups(struct ofsync_state *s, const char *const *groups)
{
    for (; *groups; groups++) {
        char *err = ofsync_add_group_str(s, *groups, NULL);
        if (err) {
            fail_msg("%s", err);
        }
    }
}

/* One OF1.5 flow stats reply holding 'flows' (ovs-ofctl syntax) as the
 * switch encodes them. */
static inline struct ofpbuf *
switch_flow_reply(const char *const *flows)
{
    struct ofputil_flow_stats_request fsr = {
        .out_port = OFPP_ANY, .out_group = OFPG_ANY, .table_id = 0xff,
    };
    match_init_catchall(&fsr.match);
    struct ofpbuf *req = ofputil_encode_flow_stats_request(
        &fsr, OFPUTIL_P_OF15_OXM);
    struct ovs_list replies;
    ofpmp_init(&replies, req->data);
    ofpbuf_delete(req);
    for (; *flows; flows++) {
        struct ofputil_flow_mod fm;
        enum ofputil_protocol usable;
        char *err = parse_ofp_flow_mod_str(&fm, *flows, NULL, NULL,
                                           OFPFC_ADD, &usable);
        assert_null(err);
        struct ofputil_flow_stats fs;
        memset(&fs, 0, sizeof fs);
        minimatch_expand(&fm.match, &fs.match);
        fs.cookie = fm.new_cookie;
        fs.table_id = fm.table_id;
        fs.priority = fm.priority;
        fs.idle_age = fs.hard_age = -1;
        fs.duration_sec = 42;
        fs.packet_count = 7;
        fs.ofpacts = fm.ofpacts;
        fs.ofpacts_len = fm.ofpacts_len;
        ofputil_append_flow_stats_reply(&fs, &replies, NULL);
        minimatch_destroy(&fm.match);
        free(fm.ofpacts);
    }
    assert_true(ovs_list_is_singleton(&replies));
    struct ofpbuf *reply = ofpbuf_from_list(ovs_list_pop_front(&replies));
    ofpmsg_update_length(reply);    /* As sent. */
    return reply;
}

/* One OF1.5 group description reply holding 'group' (ovs-ofctl syntax) as
 * the switch encodes it. */
static inline struct ofpbuf *
switch_group_reply(const char *group)
{
    struct ofputil_group_mod gm;
    enum ofputil_protocol usable;
    char *err = parse_ofp_group_mod_str(&gm, OFPGC11_ADD, group, NULL, NULL,
                                        &usable);
    assert_null(err);
    struct ofpbuf *req = ofputil_encode_group_desc_request(OFP15_VERSION,
                                                           OFPG_ALL);
    struct ovs_list replies;
    ofpmp_init(&replies, req->data);
    ofpbuf_delete(req);
    struct ofputil_group_desc gd = {
        .type = gm.type, .group_id = gm.group_id, .props = gm.props,
    };
    ofputil_append_group_desc_reply(&gd, &gm.buckets, &replies);
    ofputil_uninit_group_mod(&gm);
    assert_true(ovs_list_is_singleton(&replies));
    struct ofpbuf *reply = ofpbuf_from_list(ovs_list_pop_front(&replies));
    ofpmsg_update_length(reply);    /* As sent. */
    return reply;
}

#endif /* FLOWLB_OFSYNC_TEST_UTIL_H */
