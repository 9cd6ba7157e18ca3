/* The agent's OpenFlow connection and synchronization: see swconn.h. */
#include <config.h>
#include "swconn.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "byte-order.h"
#include "flow.h"
#include "foreign_flows.h"
#include "hash.h"
#include "ir.h"
#include "ofsync.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/ofp-bundle.h"
#include "openvswitch/ofp-connection.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/ofp-print.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofp-table.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/rconn.h"
#include "openvswitch/vconn.h"
#include "openvswitch/vlog.h"
#include "reply_bytes.h"
#include "socket-util.h"
#include "timeval.h"

VLOG_DEFINE_THIS_MODULE(swconn);

/* A reply that never comes (it should not, on a reliable stream) must not
 * wedge the agent: reconnect after this long. */
#define SW_REPLY_TIMEOUT_MS 30000
/* Operations described individually in error messages up to this many. */
#define SW_MAX_DESCRIBED_OPS 4096
/* Bundle messages queued between sends. A Unix socket holds about 200 kB,
 * some 100 group_mods of 32 buckets, which the switch takes in within a
 * millisecond or two: sent every 256 (about 1.5 ms of encoding), the
 * socket ran dry and the switch waited. */
#define SW_FLUSH_EVERY 16

enum sw_state {
    SW_DOWN,                    /* Not connected (or before first dump). */
    SW_DUMPING,                 /* Waiting for dump replies. */
    SW_READY,                   /* Installed view known, nothing in flight. */
    SW_COMMITTING,              /* Bundle sent, waiting for the barrier. */
};

/* Periodic rounds are read in small requests, a few at a time ("sliced"):
 * ovs-vswitchd is single-threaded and builds a whole reply before it reads
 * the next message of any connection, so one request for every flow or
 * every group of 10,000 services held a bundle sent meanwhile for 0.1-0.5
 * s. One request per service (its flows by exact cookie, which the switch
 * finds through its cookie index; its group; the group's counters), the
 * shared flows per table, and in a table with many shared flows slices by
 * the low bits of the field they match exactly (ct_mark or a register):
 * each costs the switch well under 1 ms (measured at 10k x 32: about 40 us
 * per service request, 0.7-1 ms per shared request, which walks the ~20,000
 * flows that share the cookie). At most about 1 ms of such work is in flight
 * at once, and none is sent while a bundle is in flight, so a bundle waits
 * for at most that. A sliced round only compares what it reads with the
 * installed view: on any difference it starts a full dump (which replaces
 * the view and makes the whole comparison), else nothing changes and no
 * comparison is needed. What a sliced round cannot see (entries the
 * installed view does not know: a flow with a flowlb cookie of no known
 * service, a group in flowlb's range the agent never had; in a table with
 * many shared flows, the shared flows that do not match the slicing field)
 * is read by the full dumps: on every (re)connection, after an error and
 * after drift. A round during which a bundle changed flows (a reload)
 * judges none of its flows: the next round does. */
#define SW_SHARED_SMALL 256     /* Shared flows of a table read at once. */
#define SW_SLICE_FLOWS 96       /* Flows per slice, about. */
#define SW_INFLIGHT_COST 300    /* us of switch work per batch, about. */
#define SW_MAX_INFLIGHT 64
/* Requests are also paced so that the switch spends at most about 1/3 of
 * the round's time on them: on 2 CPUs shared with the agent and others, a
 * switch kept busy answering is not scheduled at once when a bundle
 * comes. */
#define SW_PACE 2
#define SW_N_FIELDS 17          /* Slicing fields: reg0..15, ct_mark. */
#define SW_FIELD_CT_MARK 16

enum sw_req_kind {
    SWR_FLOWS,                  /* Flows with one exact cookie. */
    SWR_SHARED,                 /* Shared flows of one table. */
    SWR_SLICE,                  /* Shared flows of one table, one slice. */
    SWR_GDESC,                  /* One group's description. */
    SWR_GSTATS,                 /* One group's counters. */
};

struct sw_req {
    uint8_t kind;               /* enum sw_req_kind. */
    uint8_t table_id;           /* SWR_SHARED, SWR_SLICE. */
    uint8_t field;              /* SWR_SLICE: 0..15 reg, 16 ct_mark. */
    uint32_t value, mask;       /* SWR_SLICE. */
    uint64_t cookie;            /* SWR_FLOWS. */
    uint32_t group_id;          /* SWR_GDESC, SWR_GSTATS. */
};

struct sw_inflight {
    ovs_be32 xid;
    size_t req;                 /* Index in 'reqs'. */
    int cost;
    bool seen;                  /* SWR_GDESC: the group was in a reply. */
};

/* Statistics of one group, joined from a group desc reply (bucket ids in
 * the switch's order) and a group stats reply (counters in that order). */
struct sw_gstats {
    struct hmap_node node;      /* By group_id. */
    uint32_t group_id;
    size_t n_ids;
    uint32_t *bucket_ids;       /* From group desc; NULL until seen. */
    size_t n_counters;
    struct bucket_counter *counters; /* From group stats; NULL until seen. */
};

struct swconn {
    struct rconn *rconn;
    /* A second connection for dumps: the switch answers a connection's
     * requests in order and reads no more from it while a large reply is
     * pending, so on the one connection a bundle sent during a dump of
     * 10,000 services waited seconds behind it. Dumps go here when it is
     * up (else on 'rconn'); bundles always on 'rconn'. */
    struct rconn *dconn;
    unsigned int dconn_seqno;
    struct rconn *dump_via;     /* The connection of the dump running. */
    char *target;
    unsigned int conn_seqno;    /* rconn connection seqno last acted on. */
    enum sw_state state;
    long long int state_entered; /* time_msec(). */
    bool ready_synced;          /* swconn_sync() ran since READY began: a
                                 * dump waits for it, so that requested
                                 * rounds back to back cannot starve the
                                 * comparisons that need READY. */
    int reconcile_ms;
    long long int next_dump;    /* time_msec() of the next periodic dump. */
    unsigned int dumps_requested; /* Highest number asked for. */
    unsigned int dumps_done;
    long long int last_dump;    /* time_msec() of the last completed one. */
    int error_backoff_ms;       /* After a failed commit. */

    /* Dump in progress. */
    ovs_be32 xid_ports, xid_flows, xid_gdesc, xid_gstats;
    bool got_ports, got_flows, got_gdesc, got_gstats;
    struct ofsync_state dumped;
    struct ds new_port_sig;     /* "NUMBER=NAME;..." of the dump. */
    struct ofputil_port_map new_ports;
    size_t n_new_ports;
    struct hmap new_gstats;
    /* Sliced round (see above). */
    bool sliced;                /* The dump in progress is one. */
    bool force_full;            /* The next dump reads everything at once. */
    bool round_stats;           /* The round reads group counters: asked
                                 * for (flowlb/show), not periodic ones. */
    /* The plan of sliced rounds, made from the installed view; kept while
     * only groups' buckets change (health), as planning reads every
     * installed flow (about 10 ms at 10k x 32). */
    bool plan_valid;
    struct flow_bytes_index *plan_flows; /* The installed flows by their
                                          * bytes, made with the plan. */
    size_t sl_by_bytes;         /* Flows the round found by their bytes. */
    size_t sl_groups_by_bytes;  /* Group replies found by their bytes. */
    struct sw_req *reqs;
    size_t n_reqs, next_req;
    struct sw_inflight inflight[SW_MAX_INFLIGHT];
    size_t n_inflight;
    long long int pace_next;    /* time_usec() before which to wait. */
    uint8_t slice_field[256];   /* Per table: the slicing field, or 0xff. */
    size_t sl_covered;          /* Installed flows the round reads. */
    size_t sl_matched;          /* Of those, read back equal. */
    size_t sl_drift;            /* Differences found. */
    bool sl_flows_changed;      /* A bundle changed flows during the round:
                                 * the switch may answer for them from
                                 * before or after it (dumps and bundles go
                                 * on different connections), so the
                                 * round's flows are not judged. */
    long long int dump_started; /* time_msec(). */
    struct ofsync_state scratch;
    /* Table statistics asked for with each round, judged against the
     * installed view (see foreign_flows.h) if no bundle was in flight when
     * they were asked for nor sent since. */
    ovs_be32 xid_tstats;
    bool tstats_judgeable;
    uint32_t tstats_bundle_id;  /* 'bundle_id' when asked for. */
    struct ofputil_table_stats *tstats;
    size_t n_tstats, allocated_tstats;
    struct foreign_flows foreign;

    /* Result of the last complete dump (and of commits since). */
    struct ofsync_state installed;
    bool installed_valid;       /* False until a dump and after errors. */
    struct ofputil_port_map ports;
    size_t n_ports;
    char *port_sig;
    unsigned int ports_seqno;
    struct hmap gstats;
    unsigned int installed_gen; /* Changes with the installed view. */
    unsigned int compared_gen;  /* 'installed_gen' at the last diff. */
    unsigned int compared_seqno;/* Desired seqno at the last diff. */
    bool compared;              /* A diff was made at all. */
    /* Incremental comparison: when 'inc_valid', the installed view (once
     * the bundle in flight, if any, commits) equals 'inc_state' as it was
     * at its generation 'inc_gen', so only what changed in it since needs
     * comparing (see ofsync.h, change tracking). */
    bool inc_valid;
    const struct ofsync_state *inc_state;
    uint64_t inc_gen;

    /* Commit in progress. */
    uint32_t bundle_id;
    ovs_be32 xid_barrier;
    /* What changes in the installed view if it succeeds: 'pending' holds
     * copies of the flows and groups added or changed, the others the
     * entries deleted (pointers into 'installed', ids). */
    struct ofsync_state pending;
    struct ofsync_state pending_del;    /* Copies of the flows deleted. */
    uint32_t *pending_gdel;
    size_t n_pending_gdel;
    /* A bundle may also go out during a dump (only the groups and flows
     * changed since the last comparison, as tracked by the desired
     * state): a health change or a reload must not wait for a dump of the
     * whole pipeline. The switch may answer the dump requests from before
     * or after the bundle; what such bundles changed is replayed on the
     * dump's result, and a sliced round does not judge what they touched
     * (the groups they changed; all flows, if they changed any). */
    bool commit_in_dump;        /* That bundle is in flight (state stays
                                 * DUMPING). */
    struct ofsync_state replay, replay_del;
    uint32_t *replay_gdel;
    size_t n_replay_gdel, allocated_replay_gdel;
    ovs_be32 *op_xids;
    char **op_descs;            /* NULL or one per op. */
    size_t n_sent;
    bool commit_replied, commit_failed;

    /* Deletions of learned flows asked for by the agent, sent with the
     * next bundle and kept until a bundle carrying them commits. */
    struct swconn_purge *purges;
    size_t n_purges, allocated_purges;
    size_t n_purges_sent;       /* The first n were in the bundle in
                                 * flight. */

    struct swconn_counters c;
};

static void sw_set_state(struct swconn *, enum sw_state);

void
swconn_queue_purge(struct swconn *sc, const struct swconn_purge *p)
{
    for (size_t i = 0; i < sc->n_purges; i++) {
        const struct swconn_purge *q = &sc->purges[i];
        if (q->table_id == p->table_id && q->has_reg == p->has_reg
            && q->reg == p->reg && q->reg_value == p->reg_value
            && q->cookie == p->cookie && q->cookie_mask == p->cookie_mask) {
            return;             /* Already queued. */
        }
    }
    if (sc->n_purges >= sc->allocated_purges) {
        sc->purges = x2nrealloc(sc->purges, &sc->allocated_purges,
                                sizeof *sc->purges);
    }
    sc->purges[sc->n_purges++] = *p;
}

size_t
swconn_n_purges(const struct swconn *sc)
{
    return sc->n_purges;
}

/* Non-strict delete of the learned flows 'p' selects: table, cookie under
 * mask (magic + kind + mark), and the service register if given. */
static struct ofpbuf *
encode_purge(const struct swconn_purge *p)
{
    struct match match;
    match_init_catchall(&match);
    if (p->has_reg) {
        match_set_reg(&match, p->reg, p->reg_value);
    }
    struct ofputil_flow_mod fm = {
        .command = OFPFC_DELETE,
        .table_id = p->table_id,
        .cookie = htonll(p->cookie),
        .cookie_mask = htonll(p->cookie_mask),
        .new_cookie = OVS_BE64_MAX,
        .buffer_id = UINT32_MAX,
        .out_port = OFPP_ANY,
        .out_group = OFPG_ANY,
    };
    minimatch_init(&fm.match, &match);
    struct ofpbuf *msg = ofputil_encode_flow_mod(&fm, OFPUTIL_P_OF15_OXM);
    minimatch_destroy(&fm.match);
    return msg;
}

static void
gstats_clear(struct hmap *h)
{
    struct sw_gstats *g;
    HMAP_FOR_EACH_POP (g, node, h) {
        free(g->bucket_ids);
        free(g->counters);
        free(g);
    }
}

static struct sw_gstats *
gstats_get(struct hmap *h, uint32_t group_id)
{
    struct sw_gstats *g;
    HMAP_FOR_EACH_WITH_HASH (g, node, hash_int(group_id, 0), h) {
        if (g->group_id == group_id) {
            return g;
        }
    }
    g = xzalloc(sizeof *g);
    g->group_id = group_id;
    hmap_insert(h, &g->node, hash_int(group_id, 0));
    return g;
}

static bool
flowlb_group(uint32_t group_id)
{
    return (group_id & ~(FLOWLB_GROUP_SPAN - 1)) == FLOWLB_GROUP_BASE;
}

struct swconn *
swconn_create(const char *target, int reconcile_ms)
{
    struct swconn *sc = xzalloc(sizeof *sc);
    /* Probe every 5 s, back off up to 4 s: a restarted ovs-vswitchd is
     * found again within a few seconds. Only OpenFlow 1.5 (bundles with
     * group mods, insert/remove buckets). */
    sc->rconn = rconn_create(5, 4, DSCP_DEFAULT, 1u << OFP15_VERSION);
    sc->target = xstrdup(target);
    rconn_connect(sc->rconn, target, target);
    sc->dconn = rconn_create(5, 4, DSCP_DEFAULT, 1u << OFP15_VERSION);
    rconn_connect(sc->dconn, target, target);
    sc->reconcile_ms = reconcile_ms;
    sc->next_dump = LLONG_MAX;
    sc->state = SW_DOWN;
    sc->state_entered = time_msec();
    ofsync_state_init(&sc->dumped);
    ofsync_state_init(&sc->installed);
    ofsync_state_init(&sc->pending);
    ofsync_state_init(&sc->pending_del);
    ofsync_state_init(&sc->replay);
    ofsync_state_init(&sc->replay_del);
    ofsync_state_init(&sc->scratch);
    ds_init(&sc->new_port_sig);
    ofputil_port_map_init(&sc->new_ports);
    ofputil_port_map_init(&sc->ports);
    sc->port_sig = xstrdup("");
    hmap_init(&sc->new_gstats);
    hmap_init(&sc->gstats);
    return sc;
}

static void
clear_sent(struct swconn *sc)
{
    if (sc->op_descs) {
        for (size_t i = 0; i < sc->n_sent; i++) {
            free(sc->op_descs[i]);
        }
    }
    free(sc->op_descs);
    free(sc->op_xids);
    sc->op_descs = NULL;
    sc->op_xids = NULL;
    sc->n_sent = 0;
    ofsync_state_clear(&sc->pending);
    ofsync_state_clear(&sc->pending_del);
    free(sc->pending_gdel);
    sc->pending_gdel = NULL;
    sc->n_pending_gdel = 0;
    sc->commit_in_dump = false;
}

static void
clear_replay(struct swconn *sc)
{
    ofsync_state_clear(&sc->replay);
    ofsync_state_clear(&sc->replay_del);
    sc->n_replay_gdel = 0;
}

/* Deletes from 'installed' the flows keyed like those of 'del' and the
 * groups 'gdel', then moves the entries of 'set' in (replacing). */
static void
apply_changes(struct ofsync_state *installed, const struct ofsync_state *del,
              const uint32_t *gdel, size_t n_gdel, struct ofsync_state *set)
{
    const struct ofsync_flow *f;
    HMAP_FOR_EACH (f, node, &del->flows) {
        struct ofsync_flow *h = ofsync_find_flow(installed, f->table_id,
                                                 f->priority, &f->match);
        if (h) {
            ofsync_remove_flow(installed, h);
        }
    }
    for (size_t i = 0; i < n_gdel; i++) {
        struct ofsync_group *g = ofsync_find_group(installed, gdel[i]);
        if (g) {
            hmap_remove(&installed->groups, &g->node);
            ofsync_group_free(g);
        }
    }
    ofsync_state_move_into(installed, set);
}

/* Adds the committed bundle's changes to the replay for the dump in
 * progress, in order: a later change of the same entry wins. */
static void
record_replay(struct swconn *sc)
{
    const struct ofsync_flow *f;
    HMAP_FOR_EACH (f, node, &sc->pending_del.flows) {
        struct ofsync_flow *r = ofsync_find_flow(&sc->replay, f->table_id,
                                                 f->priority, &f->match);
        if (r) {
            ofsync_remove_flow(&sc->replay, r);
        }
        ofsync_add_flow_copy(&sc->replay_del, f);
    }
    for (size_t i = 0; i < sc->n_pending_gdel; i++) {
        struct ofsync_group *g = ofsync_find_group(&sc->replay,
                                                   sc->pending_gdel[i]);
        if (g) {
            hmap_remove(&sc->replay.groups, &g->node);
            ofsync_group_free(g);
        }
        if (sc->n_replay_gdel >= sc->allocated_replay_gdel) {
            sc->replay_gdel = x2nrealloc(sc->replay_gdel,
                                         &sc->allocated_replay_gdel,
                                         sizeof *sc->replay_gdel);
        }
        sc->replay_gdel[sc->n_replay_gdel++] = sc->pending_gdel[i];
    }
    HMAP_FOR_EACH (f, node, &sc->pending.flows) {
        ofsync_add_flow_copy(&sc->replay, f);
    }
    const struct ofsync_group *g;
    HMAP_FOR_EACH (g, node, &sc->pending.groups) {
        ofsync_state_put_group(&sc->replay, ofsync_group_clone(g));
    }
}

/* The dump is over (done or failed): on to the bundle still in flight, if
 * one went out during it, else ready. */
static void
leave_dump(struct swconn *sc)
{
    if (sc->commit_in_dump) {
        sc->commit_in_dump = false;
        sw_set_state(sc, SW_COMMITTING);
    } else {
        sw_set_state(sc, SW_READY);
    }
}

void
swconn_destroy(struct swconn *sc)
{
    if (!sc) {
        return;
    }
    rconn_destroy(sc->rconn);
    rconn_destroy(sc->dconn);
    free(sc->target);
    clear_sent(sc);
    ofsync_state_destroy(&sc->dumped);
    ofsync_state_destroy(&sc->installed);
    flow_bytes_index_destroy(sc->plan_flows);
    free(sc->tstats);
    ofsync_state_destroy(&sc->pending);
    ofsync_state_destroy(&sc->pending_del);
    ofsync_state_destroy(&sc->replay);
    ofsync_state_destroy(&sc->replay_del);
    ofsync_state_destroy(&sc->scratch);
    free(sc->reqs);
    free(sc->replay_gdel);
    ds_destroy(&sc->new_port_sig);
    ofputil_port_map_destroy(&sc->new_ports);
    ofputil_port_map_destroy(&sc->ports);
    free(sc->port_sig);
    gstats_clear(&sc->new_gstats);
    hmap_destroy(&sc->new_gstats);
    gstats_clear(&sc->gstats);
    hmap_destroy(&sc->gstats);
    free(sc->purges);
    free(sc);
}

static const char *
state_name(enum sw_state s)
{
    switch (s) {
    case SW_DOWN: return "disconnected";
    case SW_DUMPING: return "dumping";
    case SW_READY: return "ready";
    case SW_COMMITTING: return "committing";
    }
    return "?";
}

static void
sw_set_state(struct swconn *sc, enum sw_state s)
{
    if (sc->state != s) {
        VLOG_DBG("%s: %s -> %s", sc->target, state_name(sc->state),
                 state_name(s));
        sc->state = s;
        sc->state_entered = time_msec();
        sc->ready_synced = false;
    }
}

static ovs_be32
send_via(struct swconn *sc, struct rconn *rc, struct ofpbuf *msg)
{
    ovs_be32 xid = ((struct ofp_header *) msg->data)->xid;
    int error = rconn_send(rc, msg, NULL);
    if (error) {
        VLOG_DBG("%s: send failed (%s)", sc->target, ovs_strerror(error));
    }
    return xid;
}

static ovs_be32
send_msg(struct swconn *sc, struct ofpbuf *msg)
{
    return send_via(sc, sc->rconn, msg);
}

/* A bridge's management socket (and any ptcp/punix service) sends no
 * asynchronous message unless asked: ask for port status only, so that a
 * port added or removed is seen at once (port names in the spec). */
static void
enable_port_status(struct swconn *sc)
{
    struct ofputil_async_cfg ac = OFPUTIL_ASYNC_CFG_INIT;
    ac.primary[OAM_PORT_STATUS] = OFPPR_BITS;
    ac.secondary[OAM_PORT_STATUS] = OFPPR_BITS;
    send_msg(sc, ofputil_encode_set_async_config(&ac, 1u << OAM_PORT_STATUS,
                                                 OFP15_VERSION));
}

/* The u32 offset in struct flow of slicing field 'f'. */
static unsigned int
field_u32_ofs(int f)
{
    return (f == SW_FIELD_CT_MARK
            ? offsetof(struct flow, ct_mark)
            : offsetof(struct flow, regs) + 4 * f) / 4;
}

/* The first slicing field that 'f' matches exactly, or SW_N_FIELDS. */
static int
first_exact_field(const struct ofsync_flow *f)
{
    const struct miniflow *mask = &f->match.mask->masks;
    if (miniflow_get_u32(mask, field_u32_ofs(SW_FIELD_CT_MARK))
        == UINT32_MAX) {
        return SW_FIELD_CT_MARK;
    }
    for (int i = 0; i < FLOW_N_REGS && i < SW_FIELD_CT_MARK; i++) {
        if (miniflow_get_u32(mask, field_u32_ofs(i)) == UINT32_MAX) {
            return i;
        }
    }
    return SW_N_FIELDS;
}

struct sw_cookie {
    struct hmap_node node;
    uint64_t cookie;
};

static struct sw_req *
add_req(struct swconn *sc, size_t *allocated, enum sw_req_kind kind)
{
    if (sc->n_reqs >= *allocated) {
        sc->reqs = x2nrealloc(sc->reqs, allocated, sizeof *sc->reqs);
    }
    struct sw_req *r = &sc->reqs[sc->n_reqs++];
    memset(r, 0, sizeof *r);
    r->kind = kind;
    return r;
}

/* The installed flows change: the plan and its index of them go. */
static void
plan_invalidate(struct swconn *sc)
{
    sc->plan_valid = false;
    flow_bytes_index_destroy(sc->plan_flows);
    sc->plan_flows = NULL;
}

/* Plans a sliced round from the installed view (see the top of this
 * file): per group, its flows, description and counters; per other
 * cookie, its flows; shared flows per table, sliced where many. */
static void
plan_sliced(struct swconn *sc)
{
    long long int t0 = time_usec();
    size_t *n_shared = xcalloc(256, sizeof *n_shared);
    size_t (*n_field)[SW_N_FIELDS + 1] = xcalloc(256, sizeof *n_field);
    struct hmap others = HMAP_INITIALIZER(&others);
    const struct ofsync_flow *f;
    HMAP_FOR_EACH (f, node, &sc->installed.flows) {
        if (f->cookie == FLOWLB_COOKIE_MAGIC) {
            n_shared[f->table_id]++;
            n_field[f->table_id][first_exact_field(f)]++;
        } else if ((f->cookie & ~(uint64_t) UINT32_MAX) != FLOWLB_COOKIE_MAGIC
                   || !ofsync_find_group(&sc->installed,
                                         (uint32_t) f->cookie)) {
            /* A cookie that names no installed group. */
            uint32_t hash = hash_uint64(f->cookie);
            struct sw_cookie *c;
            bool found = false;
            HMAP_FOR_EACH_WITH_HASH (c, node, hash, &others) {
                found |= c->cookie == f->cookie;
            }
            if (!found) {
                c = xmalloc(sizeof *c);
                c->cookie = f->cookie;
                hmap_insert(&others, &c->node, hash);
            }
        }
    }

    size_t allocated = 3 * hmap_count(&sc->installed.groups)
                       + hmap_count(&others) + 64;
    sc->reqs = xrealloc(sc->reqs, allocated * sizeof *sc->reqs);
    sc->n_reqs = 0;
    const struct ofsync_group *g;
    HMAP_FOR_EACH (g, node, &sc->installed.groups) {
        add_req(sc, &allocated, SWR_FLOWS)->cookie
            = FLOWLB_COOKIE_MAGIC | g->group_id;
        add_req(sc, &allocated, SWR_GDESC)->group_id = g->group_id;
        add_req(sc, &allocated, SWR_GSTATS)->group_id = g->group_id;
    }
    struct sw_cookie *c;
    HMAP_FOR_EACH_POP (c, node, &others) {
        add_req(sc, &allocated, SWR_FLOWS)->cookie = c->cookie;
        free(c);
    }
    hmap_destroy(&others);

    size_t uncovered = 0;
    for (int t = 0; t < 256; t++) {
        sc->slice_field[t] = 0xff;
        if (!n_shared[t]) {
            continue;
        }
        if (n_shared[t] <= SW_SHARED_SMALL) {
            add_req(sc, &allocated, SWR_SHARED)->table_id = t;
            continue;
        }
        int best = 0;
        for (int i = 1; i < SW_N_FIELDS; i++) {
            if (n_field[t][i] > n_field[t][best]) {
                best = i;
            }
        }
        uncovered += n_shared[t] - n_field[t][best];
        if (!n_field[t][best]) {
            continue;
        }
        sc->slice_field[t] = best;
        uint32_t n_slices = 1;
        while (n_slices < (1u << 16)
               && n_field[t][best] / n_slices > SW_SLICE_FLOWS) {
            n_slices <<= 1;
        }
        for (uint32_t v = 0; v < n_slices; v++) {
            struct sw_req *r = add_req(sc, &allocated, SWR_SLICE);
            r->table_id = t;
            r->field = best;
            r->value = v;
            r->mask = n_slices - 1;
        }
    }
    free(n_shared);
    free(n_field);
    sc->sl_covered = hmap_count(&sc->installed.flows) - uncovered;
    flow_bytes_index_destroy(sc->plan_flows);
    sc->plan_flows = flow_bytes_index_create(&sc->installed);
    sc->plan_valid = true;
    VLOG_DBG("%s: sliced round: %"PRIuSIZE" requests for %"PRIuSIZE
             " flows (%"PRIuSIZE" left to full dumps) and %"PRIuSIZE
             " groups, planned in %lld us", sc->target, sc->n_reqs,
             sc->sl_covered, uncovered, hmap_count(&sc->installed.groups),
             time_usec() - t0);
}

static int
req_cost(const struct sw_req *r)
{
    switch ((enum sw_req_kind) r->kind) {
    case SWR_FLOWS: return 40;
    case SWR_GDESC: return 30;
    case SWR_GSTATS: return 20;
    case SWR_SHARED:
    case SWR_SLICE: return 800;
    }
    return 800;
}

static struct ofpbuf *
encode_req(const struct sw_req *r)
{
    if (r->kind == SWR_GDESC) {
        return ofputil_encode_group_desc_request(OFP15_VERSION, r->group_id);
    } else if (r->kind == SWR_GSTATS) {
        return ofputil_encode_group_stats_request(OFP15_VERSION,
                                                  r->group_id);
    }
    /* An exact cookie: the switch looks it up in its cookie index instead
     * of walking every table. */
    struct ofputil_flow_stats_request fsr = {
        .aggregate = false,
        .cookie = htonll(r->kind == SWR_FLOWS ? r->cookie
                                              : FLOWLB_COOKIE_MAGIC),
        .cookie_mask = OVS_BE64_MAX,
        .out_port = OFPP_ANY,
        .out_group = OFPG_ANY,
        .table_id = r->kind == SWR_FLOWS ? 0xff : r->table_id,
    };
    match_init_catchall(&fsr.match);
    if (r->kind == SWR_SLICE) {
        if (r->field == SW_FIELD_CT_MARK) {
            match_set_ct_mark_masked(&fsr.match, r->value, r->mask);
        } else {
            match_set_reg_masked(&fsr.match, r->field, r->value, r->mask);
        }
    }
    return ofputil_encode_flow_stats_request(&fsr, OFPUTIL_P_OF15_OXM);
}

/* Sends the round's next batch of requests, about 1 ms of switch work,
 * once the previous batch is answered and its pause is over; none while a
 * bundle is in flight: it goes first. A batch at a time, rather than a
 * request per reply, lets the switch answer it in one pass of its loop
 * (it reads up to 50 messages per connection per pass). */
static void
sliced_issue(struct swconn *sc)
{
    if (sc->state != SW_DUMPING || !sc->sliced || sc->commit_in_dump
        || sc->n_inflight || sc->next_req >= sc->n_reqs) {
        return;
    }
    long long int now = time_usec();
    if (now < sc->pace_next) {
        return;
    }
    int batch = 0;
    while (sc->next_req < sc->n_reqs && sc->n_inflight < SW_MAX_INFLIGHT) {
        const struct sw_req *r = &sc->reqs[sc->next_req];
        if (r->kind == SWR_GSTATS && !sc->round_stats) {
            sc->next_req++;
            continue;
        }
        int cost = req_cost(r);
        if (batch && batch + cost > SW_INFLIGHT_COST) {
            break;
        }
        struct sw_inflight *in = &sc->inflight[sc->n_inflight++];
        in->xid = send_via(sc, sc->dump_via, encode_req(r));
        in->req = sc->next_req++;
        in->cost = cost;
        in->seen = false;
        batch += cost;
    }
    sc->pace_next = now + SW_PACE * batch;
}

/* Starts a dump round: ports, then either everything at once (flowlb's
 * flows, all group descriptions and group stats; the groups outside
 * flowlb's range are dropped on receipt: OpenFlow cannot filter groups by
 * range) or, when the installed view is known, a sliced round. */
static void
start_dump(struct swconn *sc)
{
    ofsync_state_clear(&sc->dumped);
    ofsync_state_clear(&sc->scratch);
    clear_replay(sc);
    ds_clear(&sc->new_port_sig);
    ofputil_port_map_destroy(&sc->new_ports);
    ofputil_port_map_init(&sc->new_ports);
    sc->n_new_ports = 0;
    gstats_clear(&sc->new_gstats);
    sc->got_ports = sc->got_flows = sc->got_gdesc = sc->got_gstats = false;
    sc->n_inflight = 0;
    sc->next_req = 0;
    sc->sl_matched = 0;
    sc->sl_by_bytes = 0;
    sc->sl_groups_by_bytes = 0;
    sc->sl_drift = 0;
    sc->sl_flows_changed = false;
    sc->dump_via = rconn_is_connected(sc->dconn) ? sc->dconn : sc->rconn;
    sc->dump_started = time_msec();

    sc->xid_ports = send_via(sc, sc->dump_via, ofputil_encode_port_desc_stats_request(
                                 OFP15_VERSION, OFPP_ANY));
    sc->n_tstats = 0;
    sc->tstats_judgeable = sc->installed_valid && !sc->commit_in_dump
                           && sc->state != SW_COMMITTING;
    sc->tstats_bundle_id = sc->bundle_id;
    sc->xid_tstats = send_via(sc, sc->dump_via, ofpraw_alloc(
                                  OFPRAW_OFPST_TABLE_REQUEST, OFP15_VERSION,
                                  0));

    sc->sliced = sc->installed_valid && !sc->force_full;
    sw_set_state(sc, SW_DUMPING);
    sc->state_entered = time_msec();
    if (sc->sliced) {
        if (!sc->plan_valid) {
            plan_sliced(sc);
        }
        sliced_issue(sc);
        return;
    }

    struct ofputil_flow_stats_request fsr = {
        .aggregate = false,
        .cookie = htonll(FLOWLB_COOKIE_MAGIC),
        .cookie_mask = htonll(FLOWLB_COOKIE_MASK),
        .out_port = OFPP_ANY,
        .out_group = OFPG_ANY,
        .table_id = 0xff,
    };
    match_init_catchall(&fsr.match);
    sc->xid_flows = send_via(sc, sc->dump_via, ofputil_encode_flow_stats_request(
                                 &fsr, OFPUTIL_P_OF15_OXM));
    sc->xid_gdesc = send_via(sc, sc->dump_via, ofputil_encode_group_desc_request(
                                 OFP15_VERSION, OFPG_ALL));
    sc->xid_gstats = send_via(sc, sc->dump_via, ofputil_encode_group_stats_request(
                                  OFP15_VERSION, OFPG_ALL));
}

/* Ports and group counters of the round just completed. */
static void
take_ports_and_stats(struct swconn *sc)
{
    if (strcmp(sc->port_sig, ds_cstr(&sc->new_port_sig))) {
        VLOG_INFO("%s: %"PRIuSIZE" ports: %s", sc->target, sc->n_new_ports,
                  ds_cstr(&sc->new_port_sig));
        free(sc->port_sig);
        sc->port_sig = xstrdup(ds_cstr(&sc->new_port_sig));
        hmap_swap(&sc->ports.map.by_name, &sc->new_ports.map.by_name);
        hmap_swap(&sc->ports.map.by_number, &sc->new_ports.map.by_number);
        sc->n_ports = sc->n_new_ports;
        sc->ports_seqno++;
    }

    if (sc->sliced && !sc->round_stats) {
        gstats_clear(&sc->new_gstats);  /* Counters as of the last read. */
        return;
    }
    gstats_clear(&sc->gstats);
    struct sw_gstats *g;
    HMAP_FOR_EACH_POP (g, node, &sc->new_gstats) {
        hmap_insert(&sc->gstats, &g->node, hash_int(g->group_id, 0));
    }
}

static void
round_done(struct swconn *sc)
{
    sc->dumps_done++;
    sc->c.n_dumps++;
    sc->last_dump = time_msec();
    if (sc->reconcile_ms > 0) {
        sc->next_dump = time_msec() + sc->reconcile_ms;
    }
    leave_dump(sc);
}

static void
finish_dump(struct swconn *sc)
{
    /* Installed view. */
    ofsync_state_clear(&sc->installed);
    hmap_swap(&sc->installed.flows, &sc->dumped.flows);
    hmap_swap(&sc->installed.groups, &sc->dumped.groups);
    apply_changes(&sc->installed, &sc->replay_del, sc->replay_gdel,
                  sc->n_replay_gdel, &sc->replay);
    clear_replay(sc);
    sc->installed_valid = true;
    sc->installed_gen++;
    sc->inc_valid = false;      /* Compare everything with the dump. */
    sc->force_full = false;
    plan_invalidate(sc);

    take_ports_and_stats(sc);
    VLOG_DBG("%s: dump %u: %"PRIuSIZE" flows, %"PRIuSIZE" groups installed "
             "(full, %lld ms)", sc->target, sc->dumps_done + 1,
             ofsync_state_n_flows(&sc->installed),
             ofsync_state_n_groups(&sc->installed),
             time_msec() - sc->dump_started);
    round_done(sc);
}

static void
finish_sliced(struct swconn *sc)
{
    if (sc->sl_flows_changed) {
        /* Its flows were not judged; the next round reads them. Groups
         * were (those the bundles touched excepted). */
        VLOG_DBG("%s: flows changed during the sliced round: its flows are "
                 "read again next round", sc->target);
    } else if (!sc->sl_drift && sc->sl_matched != sc->sl_covered) {
        VLOG_INFO("%s: drift: %"PRIuSIZE" of the %"PRIuSIZE" installed "
                  "flows read back", sc->target, sc->sl_matched,
                  sc->sl_covered);
        sc->sl_drift++;
    }
    if (sc->sl_drift) {
        /* Repair from a full dump: it replaces the installed view and the
         * whole comparison follows. */
        VLOG_INFO("%s: %"PRIuSIZE" differences from the installed view; "
                  "reading everything", sc->target, sc->sl_drift);
        sc->force_full = true;
        start_dump(sc);
        return;
    }
    take_ports_and_stats(sc);
    VLOG_DBG("%s: dump %u: sliced, %"PRIuSIZE" requests, %"PRIuSIZE
             " flows and the groups as installed (as their bytes: %"PRIuSIZE
             " flows, %"PRIuSIZE" group replies) (%lld ms)", sc->target,
             sc->dumps_done + 1, sc->n_reqs, sc->sl_matched, sc->sl_by_bytes,
             sc->sl_groups_by_bytes, time_msec() - sc->dump_started);
    round_done(sc);
}

/* A part of the table statistics asked for at the start of the round; with
 * the last, judges them (see foreign_flows.h). */
static void
process_table_stats(struct swconn *sc, const struct ofp_header *oh)
{
    struct ofpbuf b = ofpbuf_const_initializer(oh, ntohs(oh->length));
    for (;;) {
        struct ofputil_table_stats ts;
        struct ofputil_table_features tf;
        if (ofputil_decode_table_stats_reply(&b, &ts, &tf)) {
            break;
        }
        if (sc->n_tstats >= sc->allocated_tstats) {
            sc->tstats = x2nrealloc(sc->tstats, &sc->allocated_tstats,
                                    sizeof *sc->tstats);
        }
        sc->tstats[sc->n_tstats++] = ts;
    }
    if (ofpmp_more(oh)) {
        return;
    }
    if (sc->tstats_judgeable && sc->installed_valid
        && sc->bundle_id == sc->tstats_bundle_id) {
        foreign_flows_judge(&sc->foreign, &sc->installed, sc->tstats,
                            sc->n_tstats, sc->target);
    }
    sc->xid_tstats = 0;
}

static void
process_port_desc(struct swconn *sc, const struct ofp_header *oh)
{
    struct ofpbuf b = ofpbuf_const_initializer(oh, ntohs(oh->length));
    ofpraw_pull_assert(&b);
    struct ofputil_phy_port pp;
    while (!ofputil_pull_phy_port(oh->version, &b, &pp)) {
        if ((uint16_t) pp.port_no >= (uint16_t) OFPP_MAX) {
            continue;           /* LOCAL and friends. */
        }
        ofputil_port_map_put(&sc->new_ports, pp.port_no, pp.name);
        ds_put_format(&sc->new_port_sig, "%s%"PRIu32"=%s",
                      sc->n_new_ports ? "," : "",
                      (uint32_t) (uint16_t) pp.port_no, pp.name);
        sc->n_new_ports++;
    }
    if (!ofpmp_more(oh)) {
        sc->got_ports = true;
    }
}

/* Flows the switch learned (persistence, learn-mode stickiness) carry
 * flowlb's magic too but are runtime state, not pipeline: never compared,
 * never deleted by the difference. */
static bool
is_pipeline_cookie(uint64_t cookie)
{
    return ((cookie & FLOWLB_COOKIE_MASK) == FLOWLB_COOKIE_MAGIC
            && !flowlb_cookie_is_learned(cookie));
}

/* Adds the pipeline flows of flow stats reply 'oh' to 'dst'. */
static void
add_pipeline_flows(struct swconn *sc, const struct ofp_header *oh,
                   struct ofsync_state *dst)
{
    struct ofpbuf b = ofpbuf_const_initializer(oh, ntohs(oh->length));
    struct ofpbuf ofpacts;
    ofpbuf_init(&ofpacts, 64);
    for (;;) {
        struct ofputil_flow_stats fs;
        int retval = ofputil_decode_flow_stats_reply(&fs, &b, false,
                                                     &ofpacts);
        if (retval) {
            if (retval != EOF) {
                VLOG_WARN("%s: bad flow stats reply (%s)", sc->target,
                          ofperr_to_string(retval));
            }
            break;
        }
        /* The request already filtered by cookie; check again anyway. */
        if (is_pipeline_cookie(ntohll(fs.cookie))) {
            ofsync_add_flow_stats(dst, &fs);
        }
    }
    ofpbuf_uninit(&ofpacts);
}

static void
process_flow_stats(struct swconn *sc, const struct ofp_header *oh)
{
    add_pipeline_flows(sc, oh, &sc->dumped);
    if (!ofpmp_more(oh)) {
        sc->got_flows = true;
    }
}

/* The group's bucket ids in the switch's order, for its counters. */
static void
note_bucket_ids(struct swconn *sc, const struct ofputil_group_desc *gd)
{
    struct sw_gstats *g = gstats_get(&sc->new_gstats, gd->group_id);
    free(g->bucket_ids);
    g->n_ids = ovs_list_size(&gd->buckets);
    g->bucket_ids = xcalloc(MAX(g->n_ids, 1), sizeof *g->bucket_ids);
    size_t i = 0;
    const struct ofputil_bucket *bk;
    LIST_FOR_EACH (bk, list_node, &gd->buckets) {
        g->bucket_ids[i++] = bk->bucket_id;
    }
}

/* Calls 'fn' for each of flowlb's groups in group desc reply 'oh'. */
static void
for_each_group_desc(struct swconn *sc, const struct ofp_header *oh,
                    void (*fn)(struct swconn *, struct ofputil_group_desc *,
                               void *aux),
                    void *aux)
{
    struct ofpbuf b = ofpbuf_const_initializer(oh, ntohs(oh->length));
    for (;;) {
        struct ofputil_group_desc gd;
        int retval = ofputil_decode_group_desc_reply(&gd, &b, oh->version);
        if (retval) {
            if (retval != EOF) {
                VLOG_WARN("%s: bad group desc reply (%s)", sc->target,
                          ofperr_to_string(retval));
            }
            break;
        }
        if (flowlb_group(gd.group_id)) {
            fn(sc, &gd, aux);
        }
        ofputil_uninit_group_desc(&gd);
    }
}

static void
dumped_group(struct swconn *sc, struct ofputil_group_desc *gd,
             void *aux OVS_UNUSED)
{
    note_bucket_ids(sc, gd);
    ofsync_add_group_desc(&sc->dumped, gd);
    /* Encode for comparison now, a reply at a time, rather than all at
     * once in the comparison after the dump. */
    ofsync_group_prepare(ofsync_find_group(&sc->dumped, gd->group_id));
}

static void
process_group_desc(struct swconn *sc, const struct ofp_header *oh)
{
    for_each_group_desc(sc, oh, dumped_group, NULL);
    if (!ofpmp_more(oh)) {
        sc->got_gdesc = true;
    }
}

static void
process_group_stats(struct swconn *sc, const struct ofp_header *oh)
{
    struct ofpbuf b = ofpbuf_const_initializer(oh, ntohs(oh->length));
    for (;;) {
        struct ofputil_group_stats gs;
        int retval = ofputil_decode_group_stats_reply(&b, &gs);
        if (retval) {
            if (retval != EOF) {
                VLOG_WARN("%s: bad group stats reply (%s)", sc->target,
                          ofperr_to_string(retval));
            }
            break;
        }
        if (flowlb_group(gs.group_id)) {
            struct sw_gstats *g = gstats_get(&sc->new_gstats, gs.group_id);
            free(g->counters);
            g->n_counters = gs.n_buckets;
            g->counters = gs.bucket_stats;
            gs.bucket_stats = NULL;
        }
        free(gs.bucket_stats);
    }
    if (!ofpmp_more(oh)) {
        sc->got_gstats = true;
    }
}

static void
sliced_drift(struct swconn *sc, const char *what, uint8_t table_id,
             uint16_t priority, uint64_t cookie, uint32_t group_id)
{
    if (!sc->sl_drift++) {
        if (group_id) {
            VLOG_INFO("%s: drift: group %#"PRIx32" %s", sc->target,
                      group_id, what);
        } else {
            VLOG_INFO("%s: drift: flow table=%u priority=%u cookie=%#"PRIx64
                      " %s", sc->target, table_id, priority, cookie, what);
        }
    }
}

/* Whether a bundle committed during the round, or the one in flight,
 * changes group 'id': the switch may answer for it from before or after,
 * so it is not compared (the bundle's result stands). */
static bool
group_touched(const struct swconn *sc, uint32_t id)
{
    if (ofsync_find_group(&sc->replay, id)) {
        return true;
    }
    for (size_t i = 0; i < sc->n_replay_gdel; i++) {
        if (sc->replay_gdel[i] == id) {
            return true;
        }
    }
    if (sc->commit_in_dump) {
        if (ofsync_find_group(&sc->pending, id)) {
            return true;
        }
        for (size_t i = 0; i < sc->n_pending_gdel; i++) {
            if (sc->pending_gdel[i] == id) {
                return true;
            }
        }
    }
    return false;
}

struct sliced_count {
    const struct sw_req *r;
    size_t n_covered;           /* Flows the request covers. */
    size_t n_flows;
};

static void
count_sliced(const struct ofsync_flow *f, void *c_)
{
    struct sliced_count *c = c_;
    c->n_flows++;
    if (c->r->kind != SWR_SLICE || first_exact_field(f) == c->r->field) {
        c->n_covered++;
    }
}

/* A flow stats reply of a sliced round: every flow must be in the
 * installed view, the same; those the request covers are counted. */
static void
sliced_flows(struct swconn *sc, const struct sw_req *r,
             const struct ofp_header *oh)
{
    if (sc->sl_flows_changed) {
        return;
    }
    /* Most replies are what was installed, byte for byte: no decoding
     * (reply_bytes.h). Anything else is decoded and compared. */
    struct sliced_count c = { .r = r };
    if (sc->plan_valid
        && flow_bytes_match_reply(sc->plan_flows, oh, is_pipeline_cookie,
                                  count_sliced, &c)) {
        sc->sl_matched += c.n_covered;
        sc->sl_by_bytes += c.n_flows;
        return;
    }
    add_pipeline_flows(sc, oh, &sc->scratch);

    const struct ofsync_flow *f;
    HMAP_FOR_EACH (f, node, &sc->scratch.flows) {
        const struct ofsync_flow *h = ofsync_find_flow(&sc->installed,
                                                       f->table_id,
                                                       f->priority,
                                                       &f->match);
        if (!h) {
            sliced_drift(sc, "not in the installed view", f->table_id,
                         f->priority, f->cookie, 0);
        } else if (h->cookie != f->cookie || h->wire_len != f->wire_len
                   || memcmp(h->wire, f->wire, f->wire_len)) {
            sliced_drift(sc, "differs", f->table_id, f->priority,
                         f->cookie, 0);
        } else if (r->kind != SWR_SLICE || first_exact_field(f) == r->field) {
            sc->sl_matched++;
        }
    }
    ofsync_state_clear(&sc->scratch);
}

/* A group of a sliced round's reply: it must be as installed. */
static void
sliced_group(struct swconn *sc, struct ofputil_group_desc *gd, void *in_)
{
    struct sw_inflight *in = in_;
    uint32_t id = gd->group_id;
    in->seen = true;
    if (sc->round_stats) {
        note_bucket_ids(sc, gd);
    }
    ofsync_add_group_desc(&sc->scratch, gd);
    const struct ofsync_group *g = ofsync_find_group(&sc->scratch, id);
    const struct ofsync_group *h = ofsync_find_group(&sc->installed, id);
    if (g && !group_touched(sc, id) && (!h || !ofsync_groups_equal(g, h))) {
        sliced_drift(sc, h ? "differs" : "not in the installed view",
                     0, 0, 0, id);
    }
    ofsync_state_clear(&sc->scratch);
}

static void
note_group_seen(const struct ofsync_group *g OVS_UNUSED, void *in_)
{
    struct sw_inflight *in = in_;
    in->seen = true;
}

static void
sliced_group_desc(struct swconn *sc, struct sw_inflight *in,
                  const struct ofp_header *oh)
{
    /* As installed, byte for byte (reply_bytes.h): nothing to decode,
     * unless the round reads counters (their bucket ids come from the
     * decoded buckets). */
    if (!sc->round_stats
        && group_bytes_match_reply(&sc->installed, oh, flowlb_group,
                                   note_group_seen, in)) {
        sc->sl_groups_by_bytes += in->seen;
        return;
    }
    for_each_group_desc(sc, oh, sliced_group, in);
}

/* A reply to a request of the sliced round in progress. */
static void
sliced_reply(struct swconn *sc, enum ofptype type,
             const struct ofp_header *oh)
{
    size_t i;
    for (i = 0; i < sc->n_inflight; i++) {
        if (sc->inflight[i].xid == oh->xid) {
            break;
        }
    }
    if (i >= sc->n_inflight) {
        return;                 /* Of an earlier round. */
    }
    struct sw_inflight *in = &sc->inflight[i];
    const struct sw_req *r = &sc->reqs[in->req];
    if (type == OFPTYPE_FLOW_STATS_REPLY) {
        sliced_flows(sc, r, oh);
    } else if (type == OFPTYPE_GROUP_DESC_STATS_REPLY) {
        sliced_group_desc(sc, in, oh);
    } else if (type == OFPTYPE_GROUP_STATS_REPLY) {
        process_group_stats(sc, oh);
    }
    if (ofpmp_more(oh)) {
        return;
    }
    if (r->kind == SWR_GDESC && !in->seen
        && ofsync_find_group(&sc->installed, r->group_id)
        && !group_touched(sc, r->group_id)) {
        sliced_drift(sc, "missing", 0, 0, 0, r->group_id);
    }
    *in = sc->inflight[--sc->n_inflight];
    sliced_issue(sc);
}

static bool
dump_complete(const struct swconn *sc)
{
    return (sc->got_ports
            && (sc->sliced
                ? sc->next_req >= sc->n_reqs && !sc->n_inflight
                : sc->got_flows && sc->got_gdesc && sc->got_gstats));
}

/* Looks up the sent operation with 'xid', for error messages. */
static const char *
sent_op_desc(const struct swconn *sc, ovs_be32 xid, size_t *idx)
{
    for (size_t i = 0; i < sc->n_sent; i++) {
        if (sc->op_xids[i] == xid) {
            *idx = i;
            return sc->op_descs ? sc->op_descs[i] : "";
        }
    }
    return NULL;
}

static void
process_error(struct swconn *sc, const struct ofp_header *oh)
{
    struct ofpbuf payload;
    enum ofperr error = ofperr_decode_msg(oh, &payload);
    size_t idx = 0;
    bool commit = sc->state == SW_COMMITTING || sc->commit_in_dump;
    const char *desc = commit ? sent_op_desc(sc, oh->xid, &idx) : NULL;
    if (desc) {
        VLOG_ERR("%s: switch refused operation %"PRIuSIZE" of the bundle "
                 "(%s): %s", sc->target, idx + 1, ofperr_to_string(error),
                 desc);
    } else {
        char *s = ofp_to_string(oh, ntohs(oh->length), NULL, NULL, 1);
        VLOG_ERR("%s: error from switch: %s", sc->target, s);
        free(s);
    }
    if (commit) {
        sc->commit_failed = true;
    }
    if (sc->state == SW_DUMPING && !desc) {
        /* A dump that failed is retried from scratch later. */
        VLOG_WARN("%s: dump failed, retrying", sc->target);
        sc->next_dump = time_msec() + 1000;
        sc->installed_valid = false;
        sc->inc_valid = false;
        clear_replay(sc);
        leave_dump(sc);
    }
}

static void
finish_commit(struct swconn *sc)
{
    if (sc->commit_failed || !sc->commit_replied) {
        sc->c.n_bundle_errors++;
        /* The bundle was atomic: nothing of it applied. Find out from the
         * switch what it holds, after a pause that grows while errors
         * repeat, so that a permanent refusal does not spin. */
        sc->installed_valid = false;
        sc->inc_valid = false;
        sc->error_backoff_ms = MIN(MAX(sc->error_backoff_ms * 2, 1000),
                                   60000);
        sc->next_dump = time_msec() + sc->error_backoff_ms;
        VLOG_WARN("%s: bundle %"PRIu32" failed; state re-read in %d ms",
                  sc->target, sc->bundle_id, sc->error_backoff_ms);
    } else {
        if (sc->state == SW_DUMPING) {
            record_replay(sc);
        }
        /* The flows or the set of groups change: plan rounds anew. */
        if (hmap_count(&sc->pending.flows) || hmap_count(&sc->pending_del.flows)
            || sc->n_pending_gdel) {
            plan_invalidate(sc);
        }
        const struct ofsync_group *pg;
        HMAP_FOR_EACH (pg, node, &sc->pending.groups) {
            if (!ofsync_find_group(&sc->installed, pg->group_id)) {
                plan_invalidate(sc);
                break;
            }
        }
        /* Apply the bundle to the installed view: only what it changed. */
        bool was_compared = sc->compared
                            && sc->compared_gen == sc->installed_gen;
        apply_changes(&sc->installed, &sc->pending_del, sc->pending_gdel,
                      sc->n_pending_gdel, &sc->pending);
        sc->installed_gen++;
        if (was_compared) {
            /* The view is now what that comparison wanted: nothing to
             * compare again (a sliced round may not leave room for it, as
             * it allows incremental comparisons only). */
            sc->compared_gen = sc->installed_gen;
        }
        if (sc->n_purges_sent) {
            memmove(sc->purges, sc->purges + sc->n_purges_sent,
                    (sc->n_purges - sc->n_purges_sent) * sizeof *sc->purges);
            sc->n_purges -= sc->n_purges_sent;
        }
        sc->error_backoff_ms = 0;
        sc->c.n_bundles++;
        sc->c.last_commit = time_wall_msec();
        VLOG_DBG("%s: bundle %"PRIu32" committed", sc->target,
                 sc->bundle_id);
    }
    sc->n_purges_sent = 0;
    bool dumping = sc->state == SW_DUMPING;
    clear_sent(sc);
    if (!dumping) {
        sw_set_state(sc, SW_READY);
    }
}

static void
process_msg(struct swconn *sc, struct rconn *from, struct ofpbuf *msg)
{
    const struct ofp_header *oh = msg->data;
    enum ofptype type;
    if (ofptype_decode(&type, oh)) {
        return;
    }
    switch (type) {
    case OFPTYPE_ECHO_REQUEST:
        rconn_send(from, ofputil_encode_echo_reply(oh), NULL);
        break;
    case OFPTYPE_ERROR:
        process_error(sc, oh);
        break;
    case OFPTYPE_PORT_DESC_STATS_REPLY:
        if (sc->state == SW_DUMPING && oh->xid == sc->xid_ports) {
            process_port_desc(sc, oh);
        }
        break;
    case OFPTYPE_TABLE_STATS_REPLY:
        if (sc->xid_tstats && oh->xid == sc->xid_tstats) {
            process_table_stats(sc, oh);
        }
        break;
    case OFPTYPE_FLOW_STATS_REPLY:
    case OFPTYPE_GROUP_DESC_STATS_REPLY:
    case OFPTYPE_GROUP_STATS_REPLY:
        if (sc->state != SW_DUMPING) {
            break;
        } else if (sc->sliced) {
            sliced_reply(sc, type, oh);
        } else if (type == OFPTYPE_FLOW_STATS_REPLY
                   && oh->xid == sc->xid_flows) {
            process_flow_stats(sc, oh);
        } else if (type == OFPTYPE_GROUP_DESC_STATS_REPLY
                   && oh->xid == sc->xid_gdesc) {
            process_group_desc(sc, oh);
        } else if (type == OFPTYPE_GROUP_STATS_REPLY
                   && oh->xid == sc->xid_gstats) {
            process_group_stats(sc, oh);
        }
        break;
    case OFPTYPE_PORT_STATUS:
        /* A port came, went or changed: re-read ports (and everything). */
        swconn_request_dump(sc);
        break;
    case OFPTYPE_BUNDLE_CONTROL: {
        struct ofputil_bundle_ctrl_msg bc;
        if (!ofputil_decode_bundle_ctrl(oh, &bc)
            && (sc->state == SW_COMMITTING || sc->commit_in_dump)
            && bc.bundle_id == sc->bundle_id
            && bc.type == OFPBCT_COMMIT_REPLY) {
            sc->commit_replied = true;
        }
        break;
    }
    case OFPTYPE_BARRIER_REPLY:
        if ((sc->state == SW_COMMITTING || sc->commit_in_dump)
            && oh->xid == sc->xid_barrier) {
            if (!sc->commit_failed && sc->commit_replied) {
                sc->c.last_commit_usec = time_usec();
            }
            finish_commit(sc);
        }
        break;
    default:
        break;
    }
    if (sc->state == SW_DUMPING && dump_complete(sc)) {
        if (sc->sliced) {
            finish_sliced(sc);
        } else {
            finish_dump(sc);
        }
    }
}

void
swconn_run(struct swconn *sc)
{
    rconn_run(sc->rconn);

    unsigned int seqno = rconn_get_connection_seqno(sc->rconn);
    if (seqno != sc->conn_seqno) {
        sc->conn_seqno = seqno;
        sc->n_purges_sent = 0;
        clear_sent(sc);
        clear_replay(sc);
        sc->installed_valid = false;
        sc->inc_valid = false;
        if (rconn_is_connected(sc->rconn)) {
            sc->c.n_connects++;
            VLOG_INFO("%s: connected (OpenFlow 1.5); reading installed "
                      "state", sc->target);
            enable_port_status(sc);
            start_dump(sc);
        } else {
            sw_set_state(sc, SW_DOWN);
        }
    }
    if (!rconn_is_connected(sc->rconn)) {
        /* The dump connection's backoff must advance too: swconn_wait()
         * waits on its timer, which otherwise stays expired and wakes the
         * loop at once, forever (a disconnected agent spun at 50-70% of a
         * core). */
        rconn_run(sc->dconn);
        if (sc->state != SW_DOWN) {
            VLOG_WARN("%s: disconnected", sc->target);
            sw_set_state(sc, SW_DOWN);
        }
        return;
    }

    for (int i = 0; i < 200 && sc->state != SW_DOWN; i++) {
        struct ofpbuf *msg = rconn_recv(sc->rconn);
        if (!msg) {
            break;
        }
        process_msg(sc, sc->rconn, msg);
        ofpbuf_delete(msg);
    }

    rconn_run(sc->dconn);
    seqno = rconn_get_connection_seqno(sc->dconn);
    if (seqno != sc->dconn_seqno) {
        sc->dconn_seqno = seqno;
        if (sc->state == SW_DUMPING && sc->dump_via == sc->dconn) {
            VLOG_INFO("%s: dump connection lost; dumping again",
                      sc->target);
            start_dump(sc);
        }
    }
    /* Dump replies for at most about 1 ms per iteration, so that a health
     * verdict never waits long for the loop (a full dump's replies hold up
     * to 64 kB of flows each; a sliced round's are small). */
    long long int t_end = time_usec() + 1000;
    for (int i = 0; i < 200 && sc->state != SW_DOWN
                    && (i == 0 || time_usec() < t_end); i++) {
        struct ofpbuf *msg = rconn_recv(sc->dconn);
        if (!msg) {
            break;
        }
        process_msg(sc, sc->dconn, msg);
        ofpbuf_delete(msg);
    }
    sliced_issue(sc);           /* Also after a commit that paused it. */

    long long int now = time_msec();
    if ((sc->state == SW_DUMPING || sc->state == SW_COMMITTING)
        && now - sc->state_entered > SW_REPLY_TIMEOUT_MS) {
        VLOG_WARN("%s: no reply for %d s while %s; reconnecting",
                  sc->target, SW_REPLY_TIMEOUT_MS / 1000,
                  state_name(sc->state));
        if (sc->state == SW_DUMPING && sc->dump_via == sc->dconn) {
            rconn_reconnect(sc->dconn);
            sw_set_state(sc, SW_DOWN);  /* Dumps again on reconnection. */
        }
        rconn_reconnect(sc->rconn);
        return;
    }
    if (sc->state == SW_READY && sc->ready_synced
        && (now >= sc->next_dump || sc->dumps_requested > sc->dumps_done)) {
        /* One round satisfies every request made before it started. A
         * periodic round (none asked for) leaves the group counters out:
         * a third of the requests. */
        sc->round_stats = sc->dumps_requested > sc->dumps_done;
        if (sc->dumps_requested <= sc->dumps_done) {
            sc->dumps_requested = sc->dumps_done + 1;
        }
        sc->next_dump = LLONG_MAX;
        start_dump(sc);
    }
}

struct sw_ids {
    uint32_t *ids;
    size_t n, allocated;
};

static void
add_id(uint32_t id, void *ids_)
{
    struct sw_ids *ids = ids_;
    if (ids->n >= ids->allocated) {
        ids->ids = x2nrealloc(ids->ids, &ids->allocated, sizeof *ids->ids);
    }
    ids->ids[ids->n++] = id;
}

struct sw_keys {
    struct ofsync_flow_key *keys;
    size_t n, allocated;
};

static void
add_key(const struct ofsync_flow_key *key, void *keys_)
{
    struct sw_keys *keys = keys_;
    if (keys->n >= keys->allocated) {
        keys->keys = x2nrealloc(keys->keys, &keys->allocated,
                                sizeof *keys->keys);
    }
    keys->keys[keys->n++] = *key;
}

/* Called with each operation 'i' of a bundle being sent and then recorded:
 * flushes the connection every SW_FLUSH_EVERY. The switch decodes each
 * message of a bundle as it arrives, and takes them in slower than they
 * are encoded, so most of a large bundle is still queued while it is
 * recorded: both loops keep the socket full, or the switch waits. */
static void
flush_every(struct swconn *sc, size_t i)
{
    if (i % SW_FLUSH_EVERY == SW_FLUSH_EVERY - 1) {
        rconn_run(sc->rconn);
    }
}

/* What the installed view becomes when the bundle commits: copies of the
 * desired entries it adds or changes, and the deletions. Started for a
 * bundle of 'n_ops' operations, then record_op() for each. */
static void
record_pending_start(struct swconn *sc, size_t n_ops)
{
    ofsync_state_clear(&sc->pending);
    ofsync_state_clear(&sc->pending_del);
    sc->pending_gdel = xcalloc(MAX(n_ops, 1), sizeof *sc->pending_gdel);
}

static void
record_op(struct swconn *sc, const struct ofsync_state *desired,
          const struct ofsync_op *op)
{
    const struct ofsync_group *g;
    switch (op->type) {
    case OFSYNC_GROUP_ADD:
    case OFSYNC_GROUP_MODIFY:
    case OFSYNC_BUCKET_INSERT:
    case OFSYNC_BUCKET_REMOVE:
        /* A remove names the installed group; copy the desired one. */
        g = ofsync_find_group(desired, op->group->group_id);
        if (g && !ofsync_find_group(&sc->pending, g->group_id)) {
            ofsync_state_put_group(&sc->pending, ofsync_group_clone(g));
        }
        break;
    case OFSYNC_GROUP_DELETE:
        sc->pending_gdel[sc->n_pending_gdel++] = op->group->group_id;
        break;
    case OFSYNC_FLOW_ADD:
    case OFSYNC_FLOW_MODIFY:
        ofsync_add_flow_copy(&sc->pending, op->flow);
        break;
    case OFSYNC_FLOW_DELETE:
        ofsync_add_flow_copy(&sc->pending_del, op->flow);
        break;
    }
}

void
swconn_sync(struct swconn *sc, const struct ofsync_state *desired,
            unsigned int desired_seqno)
{
    if (sc->state == SW_READY) {
        sc->ready_synced = true;
    }
    bool dumping = sc->state == SW_DUMPING;
    if (!(sc->state == SW_READY || (dumping && !sc->commit_in_dump))
        || !sc->installed_valid || !desired) {
        return;
    }
    bool inc = (sc->inc_valid && sc->inc_state == desired
                && desired->full_gen <= sc->inc_gen);
    if (dumping && (!inc || desired->gen == sc->inc_gen)) {
        return;                 /* Whole comparisons wait for the dump. */
    }
    if (sc->compared && sc->compared_gen == sc->installed_gen
        && sc->compared_seqno == desired_seqno && !sc->n_purges) {
        return;                 /* Nothing new on either side. */
    }
    sc->compared = true;
    sc->compared_gen = sc->installed_gen;
    sc->compared_seqno = desired_seqno;
    struct ofsync_diff diff;
    ofsync_diff_init(&diff);
    if (inc) {
        /* Only the groups and flows changed since the last comparison. */
        struct sw_ids ids = { .ids = NULL };
        struct sw_keys keys = { .keys = NULL };
        ofsync_state_touched_since(desired, sc->inc_gen, add_id, &ids);
        ofsync_state_flows_touched_since(desired, sc->inc_gen, add_key,
                                         &keys);
        ofsync_diff_subset(desired, &sc->installed, ids.ids, ids.n,
                           keys.keys, keys.n, &diff);
        if (dumping && sc->sliced && keys.n) {
            sc->sl_flows_changed = true;
        }
        free(ids.ids);
        free(keys.keys);
    } else {
        long long int t0 = time_msec();
        ofsync_diff(desired, &sc->installed, &diff);
        VLOG_DBG("%s: full comparison (%"PRIuSIZE" flows, %"PRIuSIZE
                 " groups) in %lld ms", sc->target,
                 ofsync_state_n_flows(desired),
                 ofsync_state_n_groups(desired), time_msec() - t0);
    }
    sc->inc_valid = true;
    sc->inc_state = desired;
    sc->inc_gen = desired->gen;
    if (!diff.n_ops && !sc->n_purges) {
        ofsync_diff_destroy(&diff);
        sc->c.n_empty_syncs++;
        return;
    }

    sc->bundle_id++;
    struct ofputil_bundle_ctrl_msg bc = {
        .bundle_id = sc->bundle_id,
        .type = OFPBCT_OPEN_REQUEST,
        .flags = OFPBF_ATOMIC | OFPBF_ORDERED,
    };
    send_msg(sc, ofputil_encode_bundle_ctrl_request(OFP15_VERSION, &bc));

    sc->op_xids = xcalloc(diff.n_ops + sc->n_purges, sizeof *sc->op_xids);
    bool describe = diff.n_ops <= SW_MAX_DESCRIBED_OPS;
    sc->op_descs = describe ? xcalloc(diff.n_ops, sizeof *sc->op_descs)
                            : NULL;
    for (size_t i = 0; i < diff.n_ops; i++) {
        const struct ofsync_op *op = &diff.ops[i];
        struct ofpbuf *inner = ofsync_op_encode(op);
        struct ofputil_bundle_add_msg bam = {
            .bundle_id = sc->bundle_id,
            .flags = bc.flags,
            .msg = inner->data,
        };
        sc->op_xids[i] = send_msg(sc, ofputil_encode_bundle_add(
                                      OFP15_VERSION, &bam));
        ofpbuf_delete(inner);
        if (describe) {
            sc->op_descs[i] = ofsync_op_to_string(op, &sc->ports);
            VLOG_DBG("%s: bundle %"PRIu32": %s", sc->target, sc->bundle_id,
                     sc->op_descs[i]);
        }
        flush_every(sc, i);
    }
    sc->n_sent = diff.n_ops;
    /* Learned entries of reals that left, after the group changes that
     * stop new ones being learned for them. */
    for (size_t i = 0; i < sc->n_purges; i++) {
        struct ofpbuf *inner = encode_purge(&sc->purges[i]);
        struct ofputil_bundle_add_msg bam = {
            .bundle_id = sc->bundle_id,
            .flags = bc.flags,
            .msg = inner->data,
        };
        send_msg(sc, ofputil_encode_bundle_add(OFP15_VERSION, &bam));
        ofpbuf_delete(inner);
        VLOG_DBG("%s: bundle %"PRIu32": delete learned flows table=%u "
                 "cookie=%#"PRIx64"/%#"PRIx64"%s", sc->target, sc->bundle_id,
                 sc->purges[i].table_id, sc->purges[i].cookie,
                 sc->purges[i].cookie_mask,
                 sc->purges[i].has_reg ? " (one service)" : "");
    }
    sc->n_purges_sent = sc->n_purges;

    bc.type = OFPBCT_COMMIT_REQUEST;
    send_msg(sc, ofputil_encode_bundle_ctrl_request(OFP15_VERSION, &bc));
    sc->xid_barrier = send_msg(sc,
                               ofputil_encode_barrier_request(OFP15_VERSION));
    rconn_run(sc->rconn);

    /* What the switch will hold once it commits, recorded now that the
     * whole bundle is on its way: the switch ingests the bundle meanwhile
     * and then commits it, which at 67,507 operations takes it about a
     * second, while this takes 0.15 s; recording alongside the encoding
     * (in a thread, before) took CPU from the switch while it ingested.
     * The barrier reply is read only after this returns. */
    record_pending_start(sc, diff.n_ops);
    for (size_t i = 0; i < diff.n_ops; i++) {
        record_op(sc, desired, &diff.ops[i]);
        flush_every(sc, i);
    }

    VLOG_INFO("%s: bundle %"PRIu32": %"PRIuSIZE" changes (groups +%"PRIuSIZE
              " ~%"PRIuSIZE" -%"PRIuSIZE", buckets +%"PRIuSIZE" -%"PRIuSIZE
              ", flows +%"PRIuSIZE" ~%"PRIuSIZE" -%"PRIuSIZE")%s",
              sc->target, sc->bundle_id, diff.n_ops,
              ofsync_diff_count(&diff, OFSYNC_GROUP_ADD),
              ofsync_diff_count(&diff, OFSYNC_GROUP_MODIFY),
              ofsync_diff_count(&diff, OFSYNC_GROUP_DELETE),
              ofsync_diff_count(&diff, OFSYNC_BUCKET_INSERT),
              ofsync_diff_count(&diff, OFSYNC_BUCKET_REMOVE),
              ofsync_diff_count(&diff, OFSYNC_FLOW_ADD),
              ofsync_diff_count(&diff, OFSYNC_FLOW_MODIFY),
              ofsync_diff_count(&diff, OFSYNC_FLOW_DELETE),
              sc->n_purges ? " + purge of learned flows" : "");
    sc->c.n_ops += diff.n_ops;
    ofsync_diff_destroy(&diff);

    sc->commit_replied = sc->commit_failed = false;
    if (dumping) {
        sc->commit_in_dump = true;
    } else {
        sw_set_state(sc, SW_COMMITTING);
    }
}

void
swconn_wait(struct swconn *sc)
{
    rconn_run_wait(sc->rconn);
    rconn_recv_wait(sc->rconn);
    rconn_run_wait(sc->dconn);
    rconn_recv_wait(sc->dconn);
    if (sc->state == SW_READY) {
        if (sc->dumps_requested > sc->dumps_done) {
            poll_immediate_wake();
        } else if (sc->next_dump != LLONG_MAX) {
            poll_timer_wait_until(sc->next_dump);
        }
    } else if (sc->state == SW_DUMPING || sc->state == SW_COMMITTING) {
        poll_timer_wait_until(sc->state_entered + SW_REPLY_TIMEOUT_MS + 1);
    }
    /* Paced (not waiting for replies): wake when the next may go. */
    if (sc->state == SW_DUMPING && sc->sliced && !sc->commit_in_dump
        && sc->next_req < sc->n_reqs && !sc->n_inflight) {
        /* (Immediately if that time has passed since swconn_run().) */
        poll_timer_wait_until((sc->pace_next + 999) / 1000);
    }
}

const struct ofputil_port_map *
swconn_port_map(const struct swconn *sc)
{
    return &sc->ports;
}

unsigned int
swconn_ports_seqno(const struct swconn *sc)
{
    return sc->ports_seqno;
}

size_t
swconn_n_ports(const struct swconn *sc)
{
    return sc->n_ports;
}

unsigned int
swconn_request_dump(struct swconn *sc)
{
    /* A round already running may have missed what prompted the request;
     * ask for the one after it. */
    unsigned int want = sc->dumps_done + 1
                        + (sc->state == SW_DUMPING ? 1 : 0);
    if (sc->dumps_requested < want) {
        sc->dumps_requested = want;
    }
    return want;
}

unsigned int
swconn_dumps_done(const struct swconn *sc)
{
    return sc->dumps_done;
}

long long int
swconn_last_dump(const struct swconn *sc)
{
    return sc->last_dump;
}

bool
swconn_is_connected(const struct swconn *sc)
{
    return rconn_is_connected(sc->rconn);
}

bool
swconn_is_synced(const struct swconn *sc, unsigned int desired_seqno)
{
    /* A sliced round keeps the installed view (it only checks it), so
     * the switch is in sync during one as much as before it. */
    bool ready = (sc->state == SW_READY
                  || (sc->state == SW_DUMPING && sc->sliced
                      && !sc->commit_in_dump));
    return (ready && sc->installed_valid && sc->compared
            && sc->compared_gen == sc->installed_gen
            && sc->compared_seqno == desired_seqno && !sc->n_purges);
}
const char *
swconn_state_name(const struct swconn *sc)
{
    return state_name(sc->state);
}

const char *
swconn_target(const struct swconn *sc)
{
    return sc->target;
}

unsigned int
swconn_connection_seqno(const struct swconn *sc)
{
    return rconn_get_connection_seqno(sc->rconn);
}

bool
swconn_bucket_stats(const struct swconn *sc, uint32_t group_id,
                    uint32_t bucket_id, uint64_t *packets, uint64_t *bytes)
{
    const struct sw_gstats *g;
    HMAP_FOR_EACH_WITH_HASH (g, node, hash_int(group_id, 0), &sc->gstats) {
        if (g->group_id != group_id || !g->bucket_ids || !g->counters) {
            continue;
        }
        for (size_t i = 0; i < g->n_ids && i < g->n_counters; i++) {
            if (g->bucket_ids[i] == bucket_id) {
                *packets = g->counters[i].packet_count;
                *bytes = g->counters[i].byte_count;
                return true;
            }
        }
    }
    return false;
}

void
swconn_get_counters(const struct swconn *sc, struct swconn_counters *c)
{
    *c = sc->c;
    c->n_installed_flows = ofsync_state_n_flows(&sc->installed);
    c->n_installed_groups = ofsync_state_n_groups(&sc->installed);
}

const struct foreign_flows *
swconn_foreign_flows(const struct swconn *sc)
{
    return &sc->foreign;
}

long long int
swconn_last_commit_usec(const struct swconn *sc)
{
    return sc->c.last_commit_usec;
}
