/* Unit tests of the desired-vs-installed difference (runtime/ofsync.c).
 *
 * The installed side is built the way the agent builds it: flows and
 * groups encoded into OpenFlow 1.5 dump replies (as the switch sends them)
 * and decoded again, so "identical after canonicalization" is tested on the
 * same path as in the daemon. */
#include <config.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "byte-order.h"
#include "flow.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "../../runtime/ofsync.h"
#include "ofsync_test_util.h"

/* Builds the installed side: the flows as the switch would report them in
 * an OF1.5 flow stats reply, decoded back. */
static void
add_installed_flows(struct ofsync_state *s, const char *const *flows)
{
    struct ofpbuf *reply = switch_flow_reply(flows);
    reply->header = NULL;       /* As received: decoding pulls it. */
    struct ofpbuf ofpacts;
    ofpbuf_init(&ofpacts, 64);
    for (;;) {
        struct ofputil_flow_stats dec;
        int retval = ofputil_decode_flow_stats_reply(&dec, reply, false,
                                                     &ofpacts);
        if (retval == EOF) {
            break;
        }
        assert_int_equal(retval, 0);
        ofsync_add_flow_stats(s, &dec);
    }
    ofpbuf_uninit(&ofpacts);
    ofpbuf_delete(reply);
}

static void
add_installed_groups(struct ofsync_state *s, const char *const *groups)
{
    for (; *groups; groups++) {
        struct ofpbuf *reply = switch_group_reply(*groups);
        reply->header = NULL;   /* As received: decoding pulls it. */
        struct ofputil_group_desc dec;
        assert_int_equal(ofputil_decode_group_desc_reply(&dec, reply,
                                                         OFP15_VERSION), 0);
        ofsync_add_group_desc(s, &dec);
        ofputil_uninit_group_desc(&dec);
        ofpbuf_delete(reply);
    }
}

struct fixture {
    struct ofsync_state desired, installed;
    struct ofsync_diff diff;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    ofsync_state_init(&f->desired);
    ofsync_state_init(&f->installed);
    ofsync_diff_init(&f->diff);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    ofsync_state_destroy(&f->desired);
    ofsync_state_destroy(&f->installed);
    ofsync_diff_destroy(&f->diff);
    free(f);
    return 0;
}

static const char *const base_groups[] = {
    G1 B(0, 100, 0x0a000001) B(1, 100, 0x0a000002) B(2, 50, 0x0a000003),
    NULL
};

/* Same pipeline as the switch prints it back: other spellings of the same
 * matches and actions. */
static const char *const canon_flows[] = {
    "table=0,priority=300," C "arp,arp_op=1,arp_tpa=10.0.0.100,"
    "actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
    "set_field:02:00:00:00:00:64->eth_src,set_field:2->arp_op,"
    "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
    "set_field:02:00:00:00:00:64->arp_sha,"
    "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],"
    "set_field:10.0.0.100->arp_spa,IN_PORT",
    "table=0,priority=200," C "ip,nw_proto=6,ip_dst=10.0.0.100,tcp_dst=80,"
    "actions=ct(table=1,zone=64000)",
    "table=0,priority=0,cookie=0xf10b000000000000,actions=NORMAL",
    "table=1,priority=200," C "ct_state=-inv+trk,ct_mark=0x0,tcp,"
    "nw_dst=10.0.0.100,tp_dst=80,actions=group:4054843393",
    "table=2,priority=100,cookie=0xf10b000000000000,ct_mark=167772161,"
    "actions=set_field:02:00:00:00:00:01->eth_dst,output:1",
    NULL
};

static void
test_identical_is_empty(void **state)
{
    struct fixture *f = *state;
    add_desired_flows(&f->desired, base_flows);
    add_desired_groups(&f->desired, base_groups);
    add_installed_flows(&f->installed, base_flows);
    add_installed_groups(&f->installed, base_groups);
    ofsync_diff(&f->desired, &f->installed, &f->diff);
    assert_int_equal(f->diff.n_ops, 0);
}

/* The base pipeline on both sides: as given (desired) and as the switch
 * reports it back (installed). */
static void
load_base_pipeline(struct fixture *f)
{
    add_desired_flows(&f->desired, base_flows);
    add_desired_groups(&f->desired, base_groups);
    add_installed_flows(&f->installed, canon_flows);
    add_installed_groups(&f->installed, base_groups);
}

static void
test_canonical_forms_are_empty(void **state)
{
    struct fixture *f = *state;
    load_base_pipeline(f);
    ofsync_diff(&f->desired, &f->installed, &f->diff);
    for (size_t i = 0; i < f->diff.n_ops; i++) {
        char *s = ofsync_op_to_string(&f->diff.ops[i], NULL);
        print_message("unexpected: %s\n", s);
        free(s);
    }
    assert_int_equal(f->diff.n_ops, 0);
}

static void
test_empty_installed_adds_all_groups_first(void **state)
{
    struct fixture *f = *state;
    add_desired_flows(&f->desired, base_flows);
    add_desired_groups(&f->desired, base_groups);
    ofsync_diff(&f->desired, &f->installed, &f->diff);
    assert_int_equal(f->diff.n_ops, 6);
    assert_int_equal(f->diff.ops[0].type, OFSYNC_GROUP_ADD);
    assert_int_equal(ofsync_diff_count(&f->diff, OFSYNC_FLOW_ADD), 5);
}

static void
test_extra_and_missing_flows(void **state)
{
    struct fixture *f = *state;
    add_desired_flows(&f->desired, base_flows);
    add_installed_flows(&f->installed, base_flows + 1);  /* ARP missing. */
    const char *const extra[] = {
        "table=2,priority=100,cookie=0xf10b000000000000,ct_mark=0x0a000009,"
        "actions=output:9", NULL
    };
    add_installed_flows(&f->installed, extra);
    ofsync_diff(&f->desired, &f->installed, &f->diff);
    assert_int_equal(f->diff.n_ops, 2);
    /* Deletes come before adds. */
    assert_int_equal(f->diff.ops[0].type, OFSYNC_FLOW_DELETE);
    assert_int_equal(f->diff.ops[0].flow->priority, 100);
    assert_int_equal(f->diff.ops[1].type, OFSYNC_FLOW_ADD);
    assert_int_equal(f->diff.ops[1].flow->priority, 300);
}

static void
test_changed_actions_modify_changed_cookie_add(void **state)
{
    struct fixture *f = *state;
    add_desired_flows(&f->desired, base_flows);
    const char *const changed[] = {
        base_flows[0],
        /* Other actions: modify_strict. */
        "table=0,priority=200," C "tcp,nw_dst=10.0.0.100,tp_dst=80,"
        "actions=ct(zone=64001,table=1)",
        /* Other cookie (modify cannot change it): add, which replaces. */
        "table=0,priority=0,cookie=0xf10b000000000005,actions=NORMAL",
        base_flows[3], base_flows[4], NULL
    };
    add_installed_flows(&f->installed, changed);
    ofsync_diff(&f->desired, &f->installed, &f->diff);
    assert_int_equal(f->diff.n_ops, 2);
    assert_int_equal(ofsync_diff_count(&f->diff, OFSYNC_FLOW_MODIFY), 1);
    assert_int_equal(ofsync_diff_count(&f->diff, OFSYNC_FLOW_ADD), 1);
    for (size_t i = 0; i < f->diff.n_ops; i++) {
        const struct ofsync_op *op = &f->diff.ops[i];
        if (op->type == OFSYNC_FLOW_MODIFY) {
            assert_int_equal(op->flow->priority, 200);
        } else {
            assert_int_equal(op->flow->priority, 0);
            assert_true(op->flow->cookie == 0xf10b000000000000ULL);
        }
    }
}

static void
test_bucket_removed_is_one_remove(void **state)
{
    struct fixture *f = *state;
    const char *const down[] = {
        G1 B(0, 100, 0x0a000001) B(2, 50, 0x0a000003), NULL
    };
    add_desired_groups(&f->desired, down);
    add_installed_groups(&f->installed, base_groups);
    ofsync_diff(&f->desired, &f->installed, &f->diff);
    assert_int_equal(f->diff.n_ops, 1);
    assert_int_equal(f->diff.ops[0].type, OFSYNC_BUCKET_REMOVE);
    assert_int_equal(f->diff.ops[0].bucket_id, 1);

    /* The message is a remove_buckets with that command_bucket_id. */
    struct ofpbuf *msg = ofsync_op_encode(&f->diff.ops[0]);
    struct ofputil_group_mod gm;
    assert_int_equal(ofputil_decode_group_mod(msg->data, &gm), 0);
    assert_int_equal(gm.command, OFPGC15_REMOVE_BUCKET);
    assert_int_equal(gm.command_bucket_id, 1);
    assert_int_equal(gm.group_id, 0xf1b00001);
    ofputil_uninit_group_mod(&gm);
    ofpbuf_delete(msg);

    /* And back up: one insert of that bucket, where it was: after bucket
     * 0, the one before it in the desired group. */
    ofsync_diff(&f->installed, &f->desired, &f->diff);
    assert_int_equal(f->diff.n_ops, 1);
    assert_int_equal(f->diff.ops[0].type, OFSYNC_BUCKET_INSERT);
    msg = ofsync_op_encode(&f->diff.ops[0]);
    assert_int_equal(ofputil_decode_group_mod(msg->data, &gm), 0);
    assert_int_equal(gm.command, OFPGC15_INSERT_BUCKET);
    assert_int_equal(gm.command_bucket_id, 0);
    assert_int_equal(ovs_list_size(&gm.buckets), 1);
    const struct ofputil_bucket *b = ofputil_bucket_list_front(&gm.buckets);
    assert_int_equal(b->bucket_id, 1);
    assert_int_equal(b->weight, 100);
    ofputil_uninit_group_mod(&gm);
    ofpbuf_delete(msg);
}

/* The bucket ids of the group 'id' of 'st', in list order, into 'ids'
 * (at most 'max'); returns how many. */
static size_t
group_bucket_ids(const struct ofsync_state *st, uint32_t id, uint32_t *ids,
                 size_t max)
{
    const struct ofsync_group *g = ofsync_find_group(st, id);
    assert_non_null(g);
    size_t n = 0;
    const struct ofputil_bucket *b;
    LIST_FOR_EACH (b, list_node, &g->buckets) {
        assert_true(n < max);
        ids[n++] = b->bucket_id;
    }
    return n;
}

/* Replays the diff's bucket operations on a group's bucket ids the way
 * ovs-vswitchd does (ofproto.c: an insert goes first, last, or after the
 * bucket named by command_bucket_id, which must be there). */
static size_t
replay_bucket_ops(const struct ofsync_diff *d, uint32_t *ids, size_t n)
{
    for (size_t i = 0; i < d->n_ops; i++) {
        const struct ofsync_op *op = &d->ops[i];
        if (op->type == OFSYNC_BUCKET_REMOVE) {
            size_t k = 0;
            while (k < n && ids[k] != op->bucket_id) {
                k++;
            }
            assert_true(k < n);
            memmove(&ids[k], &ids[k + 1], (n - k - 1) * sizeof *ids);
            n--;
        } else if (op->type == OFSYNC_BUCKET_INSERT) {
            struct ofpbuf *msg = ofsync_op_encode(op);
            struct ofputil_group_mod gm;
            assert_int_equal(ofputil_decode_group_mod(msg->data, &gm), 0);
            size_t at;
            if (gm.command_bucket_id == OFPG15_BUCKET_FIRST) {
                at = 0;
            } else if (gm.command_bucket_id == OFPG15_BUCKET_LAST) {
                at = n;
            } else {
                for (at = 0; at < n && ids[at] != gm.command_bucket_id;
                     at++) {
                    continue;
                }
                assert_true(at < n);    /* Else the switch refuses it. */
                at++;
            }
            memmove(&ids[at + 1], &ids[at], (n - at) * sizeof *ids);
            ids[at] = op->bucket_id;
            n++;
            ofputil_uninit_group_mod(&gm);
            ofpbuf_delete(msg);
        } else {
            fail_msg("unexpected op %d", op->type);
        }
    }
    return n;
}

/* Buckets put back (a real up again, a weight changed) go where the
 * desired group has them, whatever the order of their ids, so that the
 * switch's group is the desired one byte for byte. Random groups: a
 * desired order, the buckets the switch has kept (in that order), and
 * some with another weight. */
static void
test_inserts_keep_desired_order(void **state)
{
    struct fixture *f = *state;
    unsigned int seed = 7;
    for (int round = 0; round < 300; round++) {
        enum { MAX_B = 12 };
        uint32_t order[MAX_B];
        seed = seed * 1103515245 + 12345;
        size_t n = 1 + (seed >> 16) % MAX_B;
        for (size_t i = 0; i < n; i++) {
            order[i] = i;
        }
        for (size_t i = n - 1; i > 0; i--) {
            seed = seed * 1103515245 + 12345;
            size_t j = (seed >> 16) % (i + 1);
            uint32_t t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        char want[4096], have[4096];
        size_t wl = snprintf(want, sizeof want, "%s", G1);
        size_t hl = snprintf(have, sizeof have, "%s", G1);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245 + 12345;
            unsigned int r = (seed >> 16) % 4;  /* 0: gone, 1: weight. */
            wl += snprintf(want + wl, sizeof want - wl,
                           ",bucket=bucket_id:%u,weight:10,actions=ct("
                           "commit,zone=64000,exec(set_field:%u->ct_mark),"
                           "table=2)", order[i], 0x0a000001 + order[i]);
            if (r) {
                hl += snprintf(have + hl, sizeof have - hl,
                               ",bucket=bucket_id:%u,weight:%u,actions=ct("
                               "commit,zone=64000,exec(set_field:%u->"
                               "ct_mark),table=2)", order[i],
                               r == 1 ? 20 : 10, 0x0a000001 + order[i]);
            }
        }
        const char *const wg[] = { want, NULL }, *const hg[] = { have, NULL };
        ofsync_state_clear(&f->desired);
        ofsync_state_clear(&f->installed);
        add_desired_groups(&f->desired, wg);
        add_installed_groups(&f->installed, hg);
        ofsync_diff(&f->desired, &f->installed, &f->diff);
        if (ofsync_diff_count(&f->diff, OFSYNC_GROUP_MODIFY)) {
            continue;           /* Most buckets changed: one modify. */
        }
        uint32_t ids[MAX_B], expect[MAX_B];
        size_t m = group_bucket_ids(&f->installed, 0xf1b00001, ids, MAX_B);
        m = replay_bucket_ops(&f->diff, ids, m);
        assert_int_equal(group_bucket_ids(&f->desired, 0xf1b00001, expect,
                                          MAX_B), m);
        assert_memory_equal(ids, expect, m * sizeof *ids);
    }
}

static void
test_bucket_order_does_not_matter(void **state)
{
    struct fixture *f = *state;
    const char *const reordered[] = {
        G1 B(2, 50, 0x0a000003) B(0, 100, 0x0a000001) B(1, 100, 0x0a000002),
        NULL
    };
    add_desired_groups(&f->desired, base_groups);
    add_installed_groups(&f->installed, reordered);
    ofsync_diff(&f->desired, &f->installed, &f->diff);
    assert_int_equal(f->diff.n_ops, 0);
}

static void
test_weight_change_is_remove_insert(void **state)
{
    struct fixture *f = *state;
    const char *const heavier[] = {
        G1 B(0, 100, 0x0a000001) B(1, 100, 0x0a000002) B(2, 80, 0x0a000003),
        NULL
    };
    add_desired_groups(&f->desired, heavier);
    add_installed_groups(&f->installed, base_groups);
    ofsync_diff(&f->desired, &f->installed, &f->diff);
    assert_int_equal(f->diff.n_ops, 2);
    assert_int_equal(f->diff.ops[0].type, OFSYNC_BUCKET_REMOVE);
    assert_int_equal(f->diff.ops[1].type, OFSYNC_BUCKET_INSERT);
    assert_int_equal(f->diff.ops[0].bucket_id, 2);
    assert_int_equal(f->diff.ops[1].bucket_id, 2);
}

static void
test_all_buckets_changed_is_one_modify(void **state)
{
    struct fixture *f = *state;
    const char *const resolved[] = {
        G1 B(0, 70, 0x0a000001) B(1, 70, 0x0a000002) B(2, 20, 0x0a000003),
        NULL
    };
    add_desired_groups(&f->desired, resolved);
    add_installed_groups(&f->installed, base_groups);
    ofsync_diff(&f->desired, &f->installed, &f->diff);
    assert_int_equal(f->diff.n_ops, 1);
    assert_int_equal(f->diff.ops[0].type, OFSYNC_GROUP_MODIFY);
}

static void
test_selection_change_is_modify(void **state)
{
    struct fixture *f = *state;
    const char *const sh[] = {
        "group_id=0xf1b00001,type=select,selection_method=hash,fields(ip_src)"
        B(0, 100, 0x0a000001) B(1, 100, 0x0a000002) B(2, 50, 0x0a000003),
        NULL
    };
    add_desired_groups(&f->desired, sh);
    add_installed_groups(&f->installed, base_groups);
    ofsync_diff(&f->desired, &f->installed, &f->diff);
    assert_int_equal(f->diff.n_ops, 1);
    assert_int_equal(f->diff.ops[0].type, OFSYNC_GROUP_MODIFY);
}

/* Change tracking: generic changes count as whole-state changes;
 * ofsync_state_put_group() records only its group. */
static void
collect_id(uint32_t id, void *aux)
{
    uint32_t *ids = aux;
    ids[ids[0]++ + 1] = id;
}

static void
test_put_group_is_tracked_alone(void **state)
{
    struct fixture *f = *state;
    add_desired_flows(&f->desired, base_flows);
    add_desired_groups(&f->desired, base_groups);
    uint64_t g0 = f->desired.gen;
    assert_int_equal(f->desired.full_gen, g0);

    struct ofsync_group *g = ofsync_group_clone(
        ofsync_find_group(&f->desired, 0xf1b00001));
    assert_true(ofsync_group_remove_bucket(g, 2));
    ofsync_state_put_group(&f->desired, g);
    assert_true(f->desired.gen > g0);
    assert_int_equal(f->desired.full_gen, g0);
    uint32_t ids[4] = { 0 };
    ofsync_state_touched_since(&f->desired, g0, collect_id, ids);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 0xf1b00001);
    ids[0] = 0;
    ofsync_state_touched_since(&f->desired, f->desired.gen, collect_id, ids);
    assert_int_equal(ids[0], 0);

    /* A generic change is a whole-state change and forgets the log. */
    add_desired_flows(&f->desired, base_flows);
    assert_int_equal(f->desired.full_gen, f->desired.gen);
    ids[0] = 0;
    ofsync_state_touched_since(&f->desired, g0, collect_id, ids);
    assert_int_equal(ids[0], 0);
}

/* The incremental diff of one group gives the same ops as the full one,
 * and the cached bucket encoding follows in-place changes. */
static void
test_diff_groups_matches_full_diff(void **state)
{
    struct fixture *f = *state;
    load_base_pipeline(f);
    ofsync_diff(&f->desired, &f->installed, &f->diff);
    assert_int_equal(f->diff.n_ops, 0);     /* Caches now computed. */

    struct ofsync_group *dg = ofsync_find_group(&f->desired, 0xf1b00001);
    struct ofputil_bucket *b = ofputil_bucket_find(&dg->buckets, 1);
    b->weight = 0;                          /* In place: stale cache... */
    ofsync_group_changed(dg);               /* ...until told. */
    ofsync_diff(&f->desired, &f->installed, &f->diff);
    assert_int_equal(f->diff.n_ops, 2);

    uint32_t id = 0xf1b00001;
    struct ofsync_diff d2;
    ofsync_diff_init(&d2);
    ofsync_diff_groups(&f->desired, &f->installed, &id, 1, &d2);
    assert_int_equal(d2.n_ops, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(d2.ops[i].type, f->diff.ops[i].type);
        assert_int_equal(d2.ops[i].bucket_id, 1);
    }
    /* A group only installed is deleted; an unknown id gives nothing. */
    uint32_t ids[2] = { 0xf1b00001, 0xf1b00077 };
    struct ofsync_group *gone = ofsync_find_group(&f->desired, 0xf1b00001);
    hmap_remove(&f->desired.groups, &gone->node);
    ofsync_group_free(gone);
    ofsync_diff_groups(&f->desired, &f->installed, ids, 2, &d2);
    assert_int_equal(d2.n_ops, 1);
    assert_int_equal(d2.ops[0].type, OFSYNC_GROUP_DELETE);
    ofsync_diff_destroy(&d2);
}

static void
collect_key(const struct ofsync_flow_key *key, void *aux)
{
    struct ofsync_flow_key *keys = aux;
    keys[keys[0].priority++ + 1] = *key;
}

/* ofsync_state_put_flow() and ofsync_state_delete_flow() record only their
 * flow's key, and the diff restricted to those keys gives what the whole
 * diff gives: an add, a modify and a delete. */
static void
test_tracked_flows_diff_as_full(void **state)
{
    struct fixture *f = *state;
    load_base_pipeline(f);
    ofsync_diff(&f->desired, &f->installed, &f->diff);
    assert_int_equal(f->diff.n_ops, 0);
    uint64_t g0 = f->desired.gen;

    struct ofsync_state other;
    ofsync_state_init(&other);
    static const char *const changed[] = {
        /* New (another VIP). */
        "table=0,priority=200," C "tcp,nw_dst=10.0.0.101,tp_dst=80,"
        "actions=ct(zone=64000,table=1)",
        /* Same key as one installed, other actions. */
        "table=0,priority=0,cookie=0xf10b000000000000,actions=drop",
        NULL
    };
    add_desired_flows(&other, changed);
    const struct ofsync_flow *of;
    HMAP_FOR_EACH (of, node, &other.flows) {
        ofsync_state_put_flow(&f->desired, of);
    }
    struct ofsync_flow *gone = NULL, *df;
    HMAP_FOR_EACH (df, node, &f->desired.flows) {
        if (df->table_id == 1) {
            gone = df;
        }
    }
    assert_non_null(gone);
    ofsync_state_delete_flow(&f->desired, gone);
    assert_int_equal(f->desired.full_gen, g0);     /* Tracked, not whole. */

    struct ofsync_flow_key keys[8];
    keys[0].priority = 0;
    ofsync_state_flows_touched_since(&f->desired, g0, collect_key, keys);
    assert_int_equal(keys[0].priority, 3);
    struct ofsync_diff sub;
    ofsync_diff_init(&sub);
    ofsync_diff_subset(&f->desired, &f->installed, NULL, 0, keys + 1, 3,
                       &sub);
    ofsync_diff(&f->desired, &f->installed, &f->diff);
    assert_int_equal(f->diff.n_ops, 3);
    assert_int_equal(sub.n_ops, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(sub.ops[i].type, f->diff.ops[i].type);
        assert_ptr_equal(sub.ops[i].flow, f->diff.ops[i].flow);
    }
    assert_int_equal(ofsync_diff_count(&sub, OFSYNC_FLOW_ADD), 1);
    assert_int_equal(ofsync_diff_count(&sub, OFSYNC_FLOW_MODIFY), 1);
    assert_int_equal(ofsync_diff_count(&sub, OFSYNC_FLOW_DELETE), 1);
    ofsync_diff_destroy(&sub);

    /* A whole-state change forgets the keys. */
    ofsync_state_changed(&f->desired);
    keys[0].priority = 0;
    ofsync_state_flows_touched_since(&f->desired, g0, collect_key, keys);
    assert_int_equal(keys[0].priority, 0);
    ofsync_state_destroy(&other);
}

/* Applying a commit by moving the changed entries in. */
static void
test_move_into_replaces(void **state)
{
    struct fixture *f = *state;
    const char *const heavier[] = {
        G1 B(0, 100, 0x0a000001) B(1, 100, 0x0a000002) B(2, 80, 0x0a000003),
        NULL
    };
    add_installed_flows(&f->installed, canon_flows);
    add_installed_groups(&f->installed, base_groups);
    add_desired_flows(&f->desired, base_flows);
    add_desired_groups(&f->desired, heavier);
    struct ofsync_state pending;
    ofsync_state_init(&pending);
    ofsync_state_put_group(&pending, ofsync_group_clone(
                               ofsync_find_group(&f->desired, 0xf1b00001)));
    ofsync_state_move_into(&f->installed, &pending);
    assert_int_equal(ofsync_state_n_groups(&pending), 0);
    assert_int_equal(ofsync_state_n_groups(&f->installed), 1);
    ofsync_diff(&f->desired, &f->installed, &f->diff);
    assert_int_equal(f->diff.n_ops, 0);
    ofsync_state_destroy(&pending);
}

/* A flow operation appends the flow's instructions encoded once ('wire')
 * to the flow_mod instead of encoding them again: the bytes must be what
 * OVS's encoder gives for the whole flow_mod, for each kind of operation. */
static void
test_flow_ops_encode_as_ovs_does(void **state OVS_UNUSED)
{
    static const char *const flows[] = {
        "table=0,priority=300," C "arp,arp_op=1,arp_tpa=172.16.0.1,"
        "actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
        "set_field:02:f1:ac:10:00:01->eth_src,set_field:2->arp_op,IN_PORT",
        "table=0,priority=200," C "tcp,nw_dst=172.16.0.1,tp_dst=80,"
        "actions=ct(zone=64000,table=1)",
        "table=1,priority=200," C "ct_state=+trk-inv,ct_mark=0,tcp,"
        "nw_dst=172.16.0.1,tp_dst=80,actions=group:4054955830",
        "table=1,priority=100," C "ct_state=+trk-inv,actions=goto_table:2",
        "table=2,priority=100," C "ct_mark=0xa400001,"
        "actions=set_field:02:0a:0a:40:00:01->eth_dst,output:1",
        "table=4,priority=0," C "actions=drop",
        NULL,
    };
    struct ofsync_state s;
    ofsync_state_init(&s);
    add_desired_flows(&s, flows);
    static const enum ofsync_op_type types[] = {
        OFSYNC_FLOW_ADD, OFSYNC_FLOW_MODIFY, OFSYNC_FLOW_DELETE,
    };
    size_t n = 0;
    const struct ofsync_flow *f;
    HMAP_FOR_EACH (f, node, &s.flows) {
        for (size_t t = 0; t < ARRAY_SIZE(types); t++) {
            struct ofsync_op op = { .type = types[t], .flow = f };
            struct ofpbuf *got = ofsync_op_encode(&op);
            struct ofputil_flow_mod fm = {
                .priority = f->priority,
                .table_id = f->table_id,
                .buffer_id = UINT32_MAX,
                .out_port = OFPP_ANY,
                .out_group = OFPG_ANY,
                .ofpacts = f->ofpacts,
                .ofpacts_len = f->ofpacts_len,
                .new_cookie = OVS_BE64_MAX,
                .match = f->match,
            };
            if (types[t] == OFSYNC_FLOW_ADD) {
                fm.command = OFPFC_ADD;
                fm.new_cookie = htonll(f->cookie);
            } else {
                fm.command = (types[t] == OFSYNC_FLOW_MODIFY
                              ? OFPFC_MODIFY_STRICT : OFPFC_DELETE_STRICT);
                fm.cookie = htonll(f->cookie);
                fm.cookie_mask = OVS_BE64_MAX;
                if (types[t] == OFSYNC_FLOW_DELETE) {
                    fm.ofpacts = NULL;
                    fm.ofpacts_len = 0;
                }
            }
            struct ofpbuf *want = ofputil_encode_flow_mod(&fm,
                                                          OFPUTIL_P_OF15_OXM);
            /* Transaction ids aside. */
            ((struct ofp_header *) got->data)->xid = 0;
            ((struct ofp_header *) want->data)->xid = 0;
            assert_int_equal(got->size, want->size);
            assert_memory_equal(got->data, want->data, want->size);
            ofpbuf_delete(got);
            ofpbuf_delete(want);
            n++;
        }
    }
    assert_int_equal(n, 3 * 6);
    ofsync_state_destroy(&s);
}

/* Joining two halves decoded apart: where both have a flow with one key
 * or a group with one id, the one already in the destination (the later
 * one) stays; the others move over. */
static void
test_move_older_keeps_newer(void **state)
{
    struct fixture *f = *state;
    struct ofsync_state older, newer;
    ofsync_state_init(&older);
    ofsync_state_init(&newer);
    char *err = ofsync_add_flow_str(&older, "table=0,priority=5,"
                                    "cookie=0xf10b000000000001,tcp,"
                                    "actions=drop", NULL);
    assert_null(err);
    err = ofsync_add_flow_str(&older, "table=0,priority=6,"
                              "cookie=0xf10b000000000001,udp,"
                              "actions=drop", NULL);
    assert_null(err);
    err = ofsync_add_flow_str(&newer, "table=0,priority=5,"
                              "cookie=0xf10b000000000002,tcp,"
                              "actions=NORMAL", NULL);
    assert_null(err);
    err = ofsync_add_group_str(&older, "group_id=1,type=select,"
                               "bucket=bucket_id:1,actions=drop", NULL);
    assert_null(err);
    err = ofsync_add_group_str(&older, "group_id=2,type=select,"
                               "bucket=bucket_id:1,actions=drop", NULL);
    assert_null(err);
    err = ofsync_add_group_str(&newer, "group_id=1,type=select,"
                               "bucket=bucket_id:7,actions=drop", NULL);
    assert_null(err);
    ofsync_state_move_older(&newer, &older);
    assert_int_equal(ofsync_state_n_flows(&older), 0);
    assert_int_equal(ofsync_state_n_flows(&newer), 2);
    size_t n_newer = 0;
    const struct ofsync_flow *fl;
    HMAP_FOR_EACH (fl, node, &newer.flows) {
        n_newer += fl->cookie == 0xf10b000000000002ULL;
    }
    assert_int_equal(n_newer, 1);
    assert_int_equal(ofsync_state_n_groups(&older), 0);
    assert_int_equal(ofsync_state_n_groups(&newer), 2);
    const struct ofsync_group *g1 = ofsync_find_group(&newer, 1);
    assert_non_null(g1);
    const struct ofputil_bucket *b = ofputil_bucket_find(&g1->buckets, 7);
    assert_non_null(b);
    assert_non_null(ofsync_find_group(&newer, 2));
    ofsync_state_destroy(&older);
    ofsync_state_destroy(&newer);
    (void) f;
}

/* A group built from parts equals the same group parsed whole. */
static void
test_group_builder_equals_parse(void **state)
{
    struct fixture *f = *state;
    add_desired_groups(&f->desired, base_groups);
    struct ofsync_group_builder *gb = ofsync_group_builder_create(NULL);
    const char *acts = "ct(commit,zone=64000,exec(set_field:%s->ct_mark),"
                       "table=2)";
    const char *marks[] = { "0x0a000001", "0x0a000002", "0x0a000003" };
    const int weights[] = { 100, 100, 50 };
    for (int round = 0; round < 2; round++) {   /* 2nd: from the cache. */
        assert_null(ofsync_group_builder_start(
                        gb, 0xf1b00001, "type=select,selection_method=hash,"
                        "fields(ip_src,ip_dst,tcp_src,tcp_dst)"));
        for (int i = 2; i >= 0; i--) {
            char *a = xasprintf(acts, marks[i]);
            assert_null(ofsync_group_builder_bucket(gb, i, weights[i], a));
            free(a);
        }
        ofsync_group_builder_finish(gb, &f->installed);
        assert_true(ofsync_groups_equal(
                        ofsync_find_group(&f->desired, 0xf1b00001),
                        ofsync_find_group(&f->installed, 0xf1b00001)));
    }
    /* A bad piece drops the group and says why. */
    assert_null(ofsync_group_builder_start(gb, 0xf1b00002, "type=select"));
    char *err = ofsync_group_builder_bucket(gb, 0, 1, "no_such_action:1");
    assert_non_null(err);
    free(err);
    ofsync_group_builder_finish(gb, &f->installed);
    assert_null(ofsync_find_group(&f->installed, 0xf1b00002));
    ofsync_group_builder_destroy(gb);
}

static void
test_group_deleted_after_flows(void **state)
{
    struct fixture *f = *state;
    add_desired_flows(&f->desired, base_flows);
    add_installed_flows(&f->installed, base_flows);
    add_installed_groups(&f->installed, base_groups);
    const char *const other[] = {
        "table=1,priority=200,cookie=0xf10b0000f1b00002,ct_state=+trk-inv,"
        "ct_mark=0,tcp,nw_dst=10.0.0.101,tp_dst=80,actions=group:0xf1b00002",
        NULL
    };
    const char *const other_group[] = {
        "group_id=0xf1b00002,type=select" B(0, 1, 0x0a000001), NULL
    };
    add_installed_flows(&f->installed, other);
    add_installed_groups(&f->installed, other_group);
    /* The desired side no longer has group 1 either: keep its flows out. */
    ofsync_diff(&f->desired, &f->installed, &f->diff);
    /* group 0xf1b00001 is referenced by a desired flow but not desired
     * itself in this test: it is deleted last, after the flow delete. */
    assert_int_equal(f->diff.n_ops, 3);
    assert_int_equal(f->diff.ops[0].type, OFSYNC_FLOW_DELETE);
    assert_int_equal(f->diff.ops[1].type, OFSYNC_GROUP_DELETE);
    assert_int_equal(f->diff.ops[2].type, OFSYNC_GROUP_DELETE);
}

static void
test_state_copy_is_equal(void **state)
{
    struct fixture *f = *state;
    add_desired_flows(&f->desired, base_flows);
    add_desired_groups(&f->desired, base_groups);
    ofsync_state_copy(&f->installed, &f->desired);
    assert_int_equal(ofsync_state_n_flows(&f->installed), 5);
    assert_int_equal(ofsync_state_n_groups(&f->installed), 1);
    ofsync_diff(&f->desired, &f->installed, &f->diff);
    assert_int_equal(f->diff.n_ops, 0);

    /* Removing a bucket from the copy shows up as one insert. */
    struct ofsync_group *g = ofsync_find_group(&f->installed, 0xf1b00001);
    assert_non_null(g);
    assert_true(ofsync_group_remove_bucket(g, 2));
    assert_false(ofsync_group_remove_bucket(g, 2));
    ofsync_diff(&f->desired, &f->installed, &f->diff);
    assert_int_equal(f->diff.n_ops, 1);
    assert_int_equal(f->diff.ops[0].type, OFSYNC_BUCKET_INSERT);
}

static void
test_flow_ops_encode_strict_with_cookie(void **state)
{
    struct fixture *f = *state;
    add_installed_flows(&f->installed, base_flows + 4);
    ofsync_diff(&f->desired, &f->installed, &f->diff);
    assert_int_equal(f->diff.n_ops, 1);
    struct ofpbuf *msg = ofsync_op_encode(&f->diff.ops[0]);
    struct ofputil_flow_mod fm;
    struct ofpbuf ofpacts;
    ofpbuf_init(&ofpacts, 0);
    assert_int_equal(ofputil_decode_flow_mod(&fm, msg->data,
                                             OFPUTIL_P_OF15_OXM, NULL, NULL,
                                             &ofpacts, OFPP_MAX, 255), 0);
    assert_int_equal(fm.command, OFPFC_DELETE_STRICT);
    assert_true(fm.cookie_mask == OVS_BE64_MAX);
    assert_true(ntohll(fm.cookie) == 0xf10b000000000000ULL);
    minimatch_destroy(&fm.match);
    ofpbuf_uninit(&ofpacts);
    ofpbuf_delete(msg);
}

static void
test_bad_flow_reports_error(void **state)
{
    struct fixture *f = *state;
    char *err = ofsync_add_flow_str(&f->desired,
                                    "table=0,tcp,actions=output:nosuchport",
                                    NULL);
    assert_non_null(err);
    free(err);
    assert_int_equal(ofsync_state_n_flows(&f->desired), 0);

    /* With a port map the name resolves. */
    struct ofputil_port_map map;
    ofputil_port_map_init(&map);
    ofputil_port_map_put(&map, u16_to_ofp(7), "nosuchport");
    err = ofsync_add_flow_str(&f->desired,
                              "table=0,tcp,actions=output:nosuchport", &map);
    assert_null(err);
    ofputil_port_map_destroy(&map);
    assert_int_equal(ofsync_state_n_flows(&f->desired), 1);
}

int
main(void)
{
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
    const struct CMUnitTest tests[] = {
#define T(NAME) cmocka_unit_test_setup_teardown(NAME, setup, teardown)
        T(test_identical_is_empty),
        T(test_canonical_forms_are_empty),
        T(test_empty_installed_adds_all_groups_first),
        T(test_extra_and_missing_flows),
        T(test_changed_actions_modify_changed_cookie_add),
        T(test_bucket_removed_is_one_remove),
        T(test_bucket_order_does_not_matter),
        T(test_put_group_is_tracked_alone),
        T(test_diff_groups_matches_full_diff),
        T(test_tracked_flows_diff_as_full),
        T(test_move_into_replaces),
        T(test_move_older_keeps_newer),
        T(test_flow_ops_encode_as_ovs_does),
        T(test_group_builder_equals_parse),
        T(test_weight_change_is_remove_insert),
        T(test_inserts_keep_desired_order),
        T(test_all_buckets_changed_is_one_modify),
        T(test_selection_change_is_modify),
        T(test_group_deleted_after_flows),
        T(test_state_copy_is_equal),
        T(test_flow_ops_encode_strict_with_cookie),
        T(test_bad_flow_reports_error),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
