/* Desired versus installed OpenFlow state, and the difference between them.
 *
 * Both sides hold DECODED flows and groups (struct minimatch, ofpacts,
 * buckets), never text (actions are compared in their OF1.5 encoding,
 * which unlike a memcmp of ofpacts ignores padding): the switch prints actions back in its own canonical
 * form, so a textual comparison would churn forever. Desired entries are
 * parsed from ovs-ofctl syntax and then sent through an OpenFlow 1.5
 * encode/decode round trip, so that they are in exactly the form in which
 * the switch's dump replies decode.
 *
 * Flows are keyed by (table, priority, match), as the switch keys them;
 * groups by group id, buckets by bucket id. The difference is a list of
 * operations that, applied in order inside one ordered atomic bundle,
 * turns the installed state into the desired one:
 *   group adds, group modifications (bucket removes/inserts when only
 *   buckets changed, a full modify otherwise), flow deletes, flow
 *   modifications, flow adds, group deletes.
 * Groups come first so that new flows never reference a missing group;
 * groups are deleted last so that no flow is left pointing at nothing.
 */
#ifndef FLOWLB_OFSYNC_H
#define FLOWLB_OFSYNC_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofpbuf.h"
#include "openflow/openflow.h"

struct ofputil_port_map;
struct ofsync_group_builder;
struct ofputil_flow_stats;
struct ofputil_group_desc;

struct ofsync_flow {
    struct hmap_node node;      /* In ofsync_state 'flows', by key. */
    uint8_t table_id;
    uint16_t priority;
    struct minimatch match;
    uint64_t cookie;            /* Host byte order. */
    struct ofpact *ofpacts;     /* Owned. */
    size_t ofpacts_len;
    uint8_t *wire;              /* 'ofpacts' as OF1.5 instructions: the
                                 * form compared (see ofsync.c). Owned. */
    size_t wire_len;
    uint64_t tag;               /* Whoever decoded it may name it (the
                                 * agent: a fingerprint of its text), so
                                 * that it can be found again without its
                                 * key; 0 otherwise. Copies keep it. */
};

struct ofsync_group {
    struct hmap_node node;      /* In ofsync_state 'groups', by id. */
    uint32_t group_id;
    uint8_t type;               /* OFPGT11_*. */
    struct ofputil_group_props props;   /* Owned. */
    struct ovs_list buckets;    /* struct ofputil_bucket, owned. */
    /* Cache: the buckets (ids, weights, watches, OF1.5 actions) in bucket
     * id order, so that comparing two groups is one memcmp instead of
     * re-encoding every bucket's actions. NULL until computed; whoever
     * changes 'buckets' in place calls ofsync_group_changed(). */
    uint8_t *bwire;
    size_t bwire_len;
};

/* A set of flows and groups (one side of the comparison).
 *
 * Change tracking, for incremental comparison: every change made through
 * this API counts as a change of the whole state ('full_gen' = 'gen'),
 * except ofsync_state_put_group(), ofsync_state_delete_group(),
 * ofsync_state_put_flow() and ofsync_state_delete_flow(), which record
 * only that group's id or that flow's key with the generation of the
 * change. A comparison made against generation G then needs, as long as
 * 'full_gen' <= G, to look only at the groups and flows recorded with a
 * generation above G. */
struct ofsync_state {
    struct hmap flows;          /* struct ofsync_flow. */
    struct hmap groups;         /* struct ofsync_group. */
    uint64_t gen;               /* Bumped by every change. */
    uint64_t full_gen;          /* 'gen' of the last untracked change. */
    struct hmap touched;        /* struct ofsync_touch, by group id. */
    struct hmap touched_flows;  /* struct ofsync_flow_touch, by key. */
};

void ofsync_state_init(struct ofsync_state *);
void ofsync_state_destroy(struct ofsync_state *);   /* Accepts NULL. */
void ofsync_state_clear(struct ofsync_state *);
/* Replaces 'dst' with a deep copy of 'src'. */
void ofsync_state_copy(struct ofsync_state *dst,
                       const struct ofsync_state *src);
size_t ofsync_state_n_flows(const struct ofsync_state *);
size_t ofsync_state_n_groups(const struct ofsync_state *);

/* Parses one flow / group in ovs-ofctl syntax ("table=..,priority=..,
 * cookie=..,MATCH,actions=.." / "group_id=..,type=..,bucket=.."), resolving
 * port names with 'port_map' (may be NULL), canonicalizes it and adds it to
 * 'state', replacing an entry with the same key. Returns NULL on success,
 * else a malloc'd error message (the caller frees it). */
char *ofsync_add_flow_str(struct ofsync_state *, const char *s,
                          const struct ofputil_port_map *port_map)
    OVS_WARN_UNUSED_RESULT;
/* The same, the flow tagged with 'tag' (see struct ofsync_flow). */
char *ofsync_add_flow_str_tagged(struct ofsync_state *, const char *s,
                                 const struct ofputil_port_map *port_map,
                                 uint64_t tag)
    OVS_WARN_UNUSED_RESULT;
/* The same for a flow given in parts: the shapes flow_fast.h handles are
 * built without the parser and without the round trip through the wire
 * format; the parser takes the rest (as "table=T,priority=P,cookie=C,
 * MATCH,actions=ACTIONS") and gives the errors. The result is the same
 * either way. */
char *ofsync_add_flow_parts_tagged(struct ofsync_state *, uint8_t table_id,
                                   uint16_t priority, uint64_t cookie,
                                   const char *match, const char *actions,
                                   const struct ofputil_port_map *port_map,
                                   uint64_t tag)
    OVS_WARN_UNUSED_RESULT;
char *ofsync_add_group_str(struct ofsync_state *, const char *s,
                           const struct ofputil_port_map *port_map)
    OVS_WARN_UNUSED_RESULT;

/* Adds a flow from a decoded flow stats reply (installed side). */
void ofsync_add_flow_stats(struct ofsync_state *,
                           const struct ofputil_flow_stats *);
/* Adds a group from a decoded group desc reply, taking its buckets and
 * properties ('gd' is left empty; the caller still uninits it). */
void ofsync_add_group_desc(struct ofsync_state *, struct ofputil_group_desc *);

struct ofsync_flow *ofsync_find_flow(const struct ofsync_state *,
                                     uint8_t table_id, uint16_t priority,
                                     const struct minimatch *);
struct ofsync_group *ofsync_find_group(const struct ofsync_state *,
                                       uint32_t group_id);
/* Adds a copy of 'f' (from another state) to 'state'. */
void ofsync_add_flow_copy(struct ofsync_state *, const struct ofsync_flow *);
void ofsync_remove_flow(struct ofsync_state *, struct ofsync_flow *);
/* Frees a group already removed from its state's 'groups'. */
void ofsync_group_free(struct ofsync_group *);
/* Removes bucket 'bucket_id' from 'g'; returns false if it had none. */
bool ofsync_group_remove_bucket(struct ofsync_group *, uint32_t bucket_id);
/* To be called after changing 'g->buckets' in place (drops the cache). */
void ofsync_group_changed(struct ofsync_group *);
/* A deep copy of 'g', not in any state. */
struct ofsync_group *ofsync_group_clone(const struct ofsync_group *);
/* Puts 'g' (from ofsync_group_clone(), not in any state; taken) into 's',
 * replacing the group with the same id, and records only that group as
 * changed (see change tracking above). */
void ofsync_state_put_group(struct ofsync_state *, struct ofsync_group *g);
/* Removes group 'group_id' from 's', if there, and records it as changed
 * (see change tracking above). */
void ofsync_state_delete_group(struct ofsync_state *, uint32_t group_id);
/* Puts a copy of 'f' (from another state) into 's', replacing the flow
 * with the same key, and records only that key as changed. */
void ofsync_state_put_flow(struct ofsync_state *, const struct ofsync_flow *f);
/* Removes 'f' (in 's') and records only its key as changed. */
void ofsync_state_delete_flow(struct ofsync_state *, struct ofsync_flow *f);
/* Exchanges the contents of two states (both marked changed). */
void ofsync_state_swap(struct ofsync_state *, struct ofsync_state *);
/* Computes every group's cached encoding now (e.g. off the main thread),
 * so that copies carry it and comparisons need not encode. */
void ofsync_state_prepare(const struct ofsync_state *);
/* Computes one group's cached encoding now. */
void ofsync_group_prepare(const struct ofsync_group *);
/* Marks the whole state changed. */
void ofsync_state_changed(struct ofsync_state *);
/* Calls 'cb' with the id of every group put with a generation above
 * 'since'. */
void ofsync_state_touched_since(const struct ofsync_state *, uint64_t since,
                                void (*cb)(uint32_t group_id, void *aux),
                                void *aux);
/* The key of a flow: what the switch tells flows apart by. */
struct ofsync_flow_key {
    uint8_t table_id;
    uint16_t priority;
    const struct minimatch *match;
};
/* Calls 'cb' with the key of every flow put or deleted with a generation
 * above 'since' (the key is valid until 's' changes next). */
void ofsync_state_flows_touched_since(const struct ofsync_state *,
                                      uint64_t since,
                                      void (*cb)(const struct ofsync_flow_key *,
                                                 void *aux),
                                      void *aux);
/* Moves every flow and group of 'src' into 'dst', replacing the entries
 * with the same keys ('src' is left empty). */
void ofsync_state_move_into(struct ofsync_state *dst,
                            struct ofsync_state *src);
/* Moves the flows and groups of 'src' into 'dst', except those whose key
 * 'dst' already has (those are freed): 'src' holds older entries. */
void ofsync_state_move_older(struct ofsync_state *dst,
                             struct ofsync_state *src);
/* Whether two groups are the same (type, properties and buckets). */
bool ofsync_groups_equal(const struct ofsync_group *,
                         const struct ofsync_group *);

/* Builds groups piece by piece, parsing each distinct piece of text (the
 * type and selection properties, a bucket's actions) once: thousands of
 * groups share a few selection methods, and the buckets of all of them a
 * much smaller set of actions (one per real). The result is the same as
 * ofsync_add_group_str() of the whole group's text. */
struct ofsync_group_builder *ofsync_group_builder_create(
    const struct ofputil_port_map *);
void ofsync_group_builder_destroy(struct ofsync_group_builder *);
/* Starts group 'group_id' of properties 'props' ("type=select,selection_
 * method=..."). Returns NULL or a malloc'd error (then the group is
 * dropped: the next calls up to ofsync_group_builder_finish() do
 * nothing). */
char *ofsync_group_builder_start(struct ofsync_group_builder *,
                                 uint32_t group_id, const char *props)
    OVS_WARN_UNUSED_RESULT;
char *ofsync_group_builder_bucket(struct ofsync_group_builder *,
                                  uint32_t bucket_id, uint16_t weight,
                                  const char *actions)
    OVS_WARN_UNUSED_RESULT;
/* Puts the group into 'state' (replacing the same id) unless an error
 * dropped it. */
void ofsync_group_builder_finish(struct ofsync_group_builder *,
                                 struct ofsync_state *);

enum ofsync_op_type {
    OFSYNC_GROUP_ADD,
    OFSYNC_GROUP_MODIFY,        /* Replace type, properties and buckets. */
    OFSYNC_BUCKET_REMOVE,       /* OF1.5 remove_buckets, one bucket. */
    OFSYNC_BUCKET_INSERT,       /* OF1.5 insert_buckets, one bucket. */
    OFSYNC_FLOW_DELETE,         /* delete_strict. */
    OFSYNC_FLOW_MODIFY,         /* modify_strict: actions only. */
    OFSYNC_FLOW_ADD,            /* Also replaces a flow whose cookie
                                 * changed (modify cannot change it). */
    OFSYNC_GROUP_DELETE,
};

struct ofsync_op {
    enum ofsync_op_type type;
    /* The entry the operation is about: the desired one for adds, modifies
     * and inserts, the installed one for deletes and removes. Points into
     * the states given to ofsync_diff(); valid as long as they are. */
    const struct ofsync_flow *flow;
    const struct ofsync_group *group;
    uint32_t bucket_id;         /* BUCKET_REMOVE / BUCKET_INSERT. */
    /* BUCKET_INSERT: the bucket it goes after (OFPG15_BUCKET_FIRST: first
     * of all), so that the switch's group keeps the desired bucket order
     * (see diff_buckets()). */
    uint32_t after_bucket_id;
};

struct ofsync_diff {
    struct ofsync_op *ops;
    size_t n_ops, allocated_ops;
};

void ofsync_diff_init(struct ofsync_diff *);
void ofsync_diff_destroy(struct ofsync_diff *);

/* Computes in 'diff' (initialized, emptied first) the operations that turn
 * 'installed' into 'desired', in the order given at the top of this file.
 * An empty diff means the two are equivalent. */
void ofsync_diff(const struct ofsync_state *desired,
                 const struct ofsync_state *installed,
                 struct ofsync_diff *diff);

/* Like ofsync_diff(), restricted to the groups with the 'n' ids in 'ids'
 * (no flow is compared). */
void ofsync_diff_groups(const struct ofsync_state *desired,
                        const struct ofsync_state *installed,
                        const uint32_t *ids, size_t n,
                        struct ofsync_diff *diff);
/* Like ofsync_diff(), restricted to the groups with the 'n_ids' ids in
 * 'ids' and the flows with the 'n_keys' keys in 'keys' (each key at most
 * once). */
void ofsync_diff_subset(const struct ofsync_state *desired,
                        const struct ofsync_state *installed,
                        const uint32_t *ids, size_t n_ids,
                        const struct ofsync_flow_key *keys, size_t n_keys,
                        struct ofsync_diff *diff);

/* Counts ops of 'type' in 'diff' (for tests and logs). */
size_t ofsync_diff_count(const struct ofsync_diff *, enum ofsync_op_type);

/* Encodes 'op' as an OpenFlow 1.5 message (flow_mod or group_mod). A
 * group's bucket list is borrowed while it runs (nothing else may read
 * that group meanwhile) and left as it was. */
struct ofpbuf *ofsync_op_encode(const struct ofsync_op *);

/* Short description of 'op' for logs ("add flow table=1 prio=200 ..."),
 * malloc'd. */
char *ofsync_op_to_string(const struct ofsync_op *,
                          const struct ofputil_port_map *);

/* Equality of two group bucket lists as sets keyed by bucket id. */
bool ofsync_buckets_equal(const struct ofputil_bucket *,
                          const struct ofputil_bucket *);

#endif /* FLOWLB_OFSYNC_H */
