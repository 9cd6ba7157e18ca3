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

#include <stdint.h>
#include <stdio.h>
#include "diag.h"

/* Cookies: the top 16 bits say "flowlb", the low 32 bits name the service
 * (its group id) or are 0 for flows shared by every service. */
#define FLOWLB_COOKIE_MAGIC  0xf10b000000000000ULL
#define FLOWLB_COOKIE_MASK   0xffff000000000000ULL

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
};

struct ir_bucket {
    uint32_t bucket_id;
    uint16_t weight;
    char *actions;              /* Owned. */
    char real[46];              /* Real address as text, for display. */
    struct location loc;        /* The real in the spec. */
};

struct ir_group {
    uint32_t group_id;
    char *selection;            /* "selection_method=hash,fields(...)". */
    struct ir_bucket *buckets;
    size_t n_buckets, allocated_buckets;
    const char *service;        /* Not owned. */
    struct location loc;
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

/* Sorts flows by (table, priority descending, match) and groups by id, so
 * that output never depends on the order in which lowering produced them. */
void ir_sort(struct ir_pipeline *);

const char *ir_role_name(enum ir_flow_role);

/* Readable dump (flowlb compile --emit ir). */
void ir_print(const struct ir_pipeline *, FILE *out);

/* One OpenFlow text line in ovs-ofctl syntax, malloc'd:
 * "group_id=...,type=select,..." and "table=...,priority=...,cookie=...,
 * MATCH,actions=ACTIONS". Used by the emitter and the agent alike. */
char *ir_group_to_ofctl(const struct ir_group *);
char *ir_flow_to_ofctl(const struct ir_flow *);

#endif /* FLOWLB_IR_H */
