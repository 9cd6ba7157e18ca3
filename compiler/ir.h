/* The match-action IR between the spec and OpenFlow.
 *
 * A pipeline is a set of tables holding flows (match, priority, actions)
 * and a set of groups holding buckets. Matches and actions are kept in
 * the text syntax OVS itself parses (ovs-fields(7), ovs-actions(7)), built
 * only by lower.c; emitters print them and the agent encodes them with
 * libopenvswitch. Each element remembers the spec location it came from,
 * so an OVS rejection can be reported against the spec line.
 */
#ifndef FLOWLB_IR_H
#define FLOWLB_IR_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "diag.h"

/* Cookies: the top 16 bits say "flowlb", the low 32 bits name the service
 * (its group id) or are 0 for flows shared by every service. */
#define FLOWLB_COOKIE_MAGIC  0xf10b000000000000ULL
#define FLOWLB_COOKIE_MASK   0xffff000000000000ULL

/* Flows the SWITCH adds at run time (learn actions: persistence and
 * learn-mode stickiness) carry a nonzero kind byte in bits 40-47 and the
 * real's mark in the low 32 bits:
 *
 *     0xf10b KK 00 MMMMMMMM      KK = FLOWLB_COOKIE_KIND_*, M = mark
 *
 * Compiled flows always have bits 32-47 zero, so a reconciler tells learned
 * flows apart with flowlb_cookie_is_learned() and leaves them alone, and an
 * agent removes every learned entry pointing at one real in one message:
 *   del-flows table=T,cookie=flowlb_cookie_learned(KIND,MARK)/FLOWLB_COOKIE_LEARNED_MASK
 * (add "reg12=SERVICE_ID" to the match to limit it to one service, see
 * LOWER_REG_SERVICE in lower.h). */
#define FLOWLB_COOKIE_KIND_SHIFT   40
#define FLOWLB_COOKIE_KIND_BITS    0x0000ff0000000000ULL
#define FLOWLB_COOKIE_KIND_PERSIST 0x01   /* Persistence (client prefix). */
#define FLOWLB_COOKIE_KIND_STICKY  0x02   /* Learn-mode 5-tuple entry. */
/* Magic + kind + mark: selects one kind's entries for one real. */
#define FLOWLB_COOKIE_LEARNED_MASK 0xffffff00ffffffffULL

static inline uint64_t
flowlb_cookie_learned(uint8_t kind, uint32_t mark)
{
    return FLOWLB_COOKIE_MAGIC
           | ((uint64_t) kind << FLOWLB_COOKIE_KIND_SHIFT) | mark;
}

/* True for a flow the switch learned (never in a compiled pipeline). */
static inline int
flowlb_cookie_is_learned(uint64_t cookie)
{
    return (cookie & FLOWLB_COOKIE_MASK) == FLOWLB_COOKIE_MAGIC
           && (cookie & FLOWLB_COOKIE_KIND_BITS) != 0;
}

static inline uint8_t
flowlb_cookie_kind(uint64_t cookie)
{
    return (uint8_t) (cookie >> FLOWLB_COOKIE_KIND_SHIFT);
}

static inline uint32_t
flowlb_cookie_mark(uint64_t cookie)
{
    return (uint32_t) cookie;
}

/* Group ids owned by flowlb: FLOWLB_GROUP_BASE | (20-bit service id). */
#define FLOWLB_GROUP_BASE    0xf1b00000U
#define FLOWLB_GROUP_SPAN    0x00100000U

/* What a flow is for; shown by --emit ir and used for counting. */
enum ir_flow_role {
    IR_ROLE_RESPONDER,          /* ARP / ND answer for a VIP. */
    IR_ROLE_CLASSIFY,           /* Client -> VIP: into conntrack. */
    IR_ROLE_REPLY,              /* Real -> client (source VIP): conntrack. */
    IR_ROLE_DISPATCH,           /* New connection -> select group. */
    IR_ROLE_FORWARD,            /* ct_mark -> real's MAC and port. */
    IR_ROLE_DEFAULT,            /* Table misses, marked / invalid traffic. */
    IR_ROLE_LOOKUP,             /* Marked packet of a persistent service:
                                 * looks its persistence entry up (keeps
                                 * it alive), then forward. */
    IR_ROLE_ASSIGN,             /* Assign table: mark chosen -> commit /
                                 * learn; no mark -> the group. */
};

struct ir_flow {
    uint8_t table;
    uint16_t priority;
    uint64_t cookie;
    char *match;                /* e.g. "tcp,nw_dst=10.0.0.1,tp_dst=80". */
    char *actions;              /* e.g. "ct(zone=1,table=1)". */
    enum ir_flow_role role;
    const char *service;        /* Service name or NULL (shared). Points
                                 * into the spec; not owned. */
    struct location loc;

    /* Added for issue 4 (zero for older flows). */
    bool vip_answer;            /* Makes the VIP answer (responder or
                                 * classify flow): what the agent withdraws
                                 * while the service is below quorum. */
    const char **shared_by;     /* Responders: the names of EVERY service
                                 * answering on this VIP (n_shared_by >= 1;
                                 * 'service' is the first). Withdraw the
                                 * responder only when all are below quorum.
                                 * Array owned, names point into the spec. */
    size_t n_shared_by;
    uint32_t mark;              /* Forward and assign flows: the real's
                                 * mark; 0 otherwise. */
    uint64_t fingerprint;       /* A user's fingerprint of the flow (the
                                 * agent's), or 0: not known. Set only on
                                 * copies (lower_lender), which are made
                                 * of the same content. */
};

struct ir_bucket {
    uint32_t bucket_id;
    uint16_t weight;
    char *actions;              /* Owned. */
    char real[46];              /* Real address as text, for display. */
    struct location loc;        /* The real in the spec. */

    /* Added for issue 4. */
    uint32_t mark;              /* The real's mark (lower_real_mark). */
    uint32_t spec_weight;       /* The weight the spec gives the real. */
    bool standby;               /* Not in the emitted group: a failover
                                 * candidate ('fo') or the sorry real; the
                                 * agent inserts it when needed. */
    bool sorry;                 /* The sorry real (standby too). */
};

struct ir_group {
    uint32_t group_id;
    char *selection;            /* "selection_method=hash,fields(...)". */
    struct ir_bucket *buckets;
    size_t n_buckets, allocated_buckets;
    const char *service;        /* Not owned. */
    struct location loc;

    /* Added for issue 4: what the agent needs to run the service. */
    uint32_t service_id;        /* 20-bit id (= group_id & 0xfffff); the
                                 * value of LOWER_REG_SERVICE in learned
                                 * flows of this service. */
    uint64_t cookie;            /* Cookie of the service's compiled flows. */
    bool failover;              /* Scheduler fo: only the highest-weight
                                 * live real(s) in the group, equal weights;
                                 * on failure the agent inserts the
                                 * standby buckets of the next weight. */
    bool has_sorry;             /* One bucket is the sorry real (standby):
                                 * inserted while no other real is up. */
    uint32_t persistence_s;     /* 0, or persistence entries' idle timeout
                                 * (table persist, cookie kind PERSIST). */
    bool learn_mode;            /* Stickiness by learned flows (table
                                 * sticky, cookie kind STICKY), no ct. */
    uint32_t sticky_idle_s;     /* learn_mode: idle timeout of entries. */
    uint64_t fingerprint;       /* As ir_flow's. */
};

struct ir_table {
    uint8_t id;
    const char *name;           /* Static. */
};

struct ir_pipeline {
    struct ir_table *tables;
    size_t n_tables, allocated_tables;
    struct ir_flow *flows;
    size_t n_flows, allocated_flows;
    struct ir_group *groups;
    size_t n_groups, allocated_groups;

    /* Added for issue 4: conntrack settings lowering cannot express in
     * OpenFlow (the ct action has no timeout in OVS 3.1). OVS applies
     * conntrack timeouts per zone from its database, userspace datapath
     * included (measured, tests/integration/feat_udp.sh):
     *   ovs-vsctl add-zone-tp netdev zone=Z udp_first=T udp_single=T
     *                                       udp_multiple=T
     * which needs a Datapath record for "netdev" first:
     *   ovs-vsctl -- --id=@d create Datapath datapath_version=0 \
     *             -- set Open_vSwitch . datapaths:netdev=@d
     * ("system" instead of "netdev" for the kernel datapath). */
    uint16_t ct_zone;           /* The zone every service uses. */
    uint32_t udp_timeout_s;     /* 0: datapath default; else the longest
                                 * 'timeout' of the UDP services. */
};

void ir_init(struct ir_pipeline *);
void ir_destroy(struct ir_pipeline *);

void ir_add_table(struct ir_pipeline *, uint8_t id, const char *name);
/* Adds a flow; 'match' and 'actions' are copied. Returns the flow. */
struct ir_flow *ir_add_flow(struct ir_pipeline *, uint8_t table,
                            uint16_t priority, uint64_t cookie,
                            enum ir_flow_role, const char *match,
                            const char *actions);
struct ir_group *ir_add_group(struct ir_pipeline *, uint32_t group_id,
                              const char *selection);
struct ir_bucket *ir_group_add_bucket(struct ir_group *, uint32_t bucket_id,
                                      uint16_t weight, const char *actions);

/* Whether 'f' is one service's own flow (classify, reply, dispatch, lookup
 * or assign: made from the service alone) of the service whose flows
 * carry 'cookie'. Responders, forward and fixed flows are shared. */
bool ir_flow_is_own(const struct ir_flow *f, uint64_t cookie);

/* Append a copy of a flow or group of another pipeline, made for service
 * 'service' (a name in this pipeline's spec) from the same text
 * 'line_delta' lines further down in 'file' (see location_move()). A
 * flow's sharers are not copied (copy flows of one service only). */
struct ir_flow *ir_copy_flow(struct ir_pipeline *, const struct ir_flow *,
                             const char *service, const char *file,
                             int line_delta);
struct ir_group *ir_copy_group(struct ir_pipeline *, const struct ir_group *,
                               const char *service, const char *file,
                               int line_delta);

/* The group 'group_id' of 'p' (sorted by ir_sort()), or NULL. */
const struct ir_group *ir_find_group(const struct ir_pipeline *p,
                                     uint32_t group_id);

/* Whether the two pipelines hold the same tables, flows and groups, field
 * by field (names and locations' files compared as text). Tests and
 * fuzzing compare a lowering that copied services with a whole one. */
bool ir_pipeline_equal(const struct ir_pipeline *, const struct ir_pipeline *);

/* Sorts flows by (table, priority descending, match) and groups by id, so
 * that output never depends on the order in which lowering produced them. */
void ir_sort(struct ir_pipeline *);

/* Replaces the flows of 'p' at the ascending indexes gone[0 .. n_gone)
 * with those of 'add' (sorted by ir_sort(), moved out of it: 'add' is left
 * with none), so that 'p' stays sorted. If 'aux' is nonnull, '*aux' is an
 * array of a value per flow of 'p', rearranged the same way (reallocated);
 * the added flows' values are those of 'add_aux' (0 if it is NULL). An
 * agent puts a service's own flows, lowered again, in place of its old
 * ones this way. */
void ir_splice_flows(struct ir_pipeline *p, const size_t *gone,
                     size_t n_gone, struct ir_pipeline *add, uint64_t **aux,
                     const uint64_t *add_aux);

/* Moves the groups of 'add' (sorted) into 'p' (sorted), keeping it sorted;
 * 'aux' and 'add_aux' as for ir_splice_flows(). The ids must differ. */
void ir_merge_groups(struct ir_pipeline *p, struct ir_pipeline *add,
                     uint64_t **aux, const uint64_t *add_aux);

/* The index of the flow of 'p' (sorted) in 'table' with 'priority' and
 * 'match', or SIZE_MAX. */
size_t ir_find_flow(const struct ir_pipeline *p, uint8_t table,
                    uint16_t priority, const char *match);

/* Adds service 'name' (not copied) to the services sharing 'f' (a
 * responder), unless it is there. */
void ir_flow_add_sharer(struct ir_flow *f, const char *name);

const char *ir_role_name(enum ir_flow_role);

/* Readable dump (flowlb compile --emit ir). */
void ir_print(const struct ir_pipeline *, FILE *out);

/* One OpenFlow text line in ovs-ofctl syntax, malloc'd:
 * "group_id=...,type=select,..." and "table=...,priority=...,cookie=...,
 * MATCH,actions=ACTIONS". Used by the emitter and the agent alike. */
char *ir_group_to_ofctl(const struct ir_group *);
char *ir_flow_to_ofctl(const struct ir_flow *);

#endif /* FLOWLB_IR_H */
