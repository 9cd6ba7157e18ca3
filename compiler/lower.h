/* Lowering: a checked spec to the match-action IR. */
#ifndef FLOWLB_LOWER_H
#define FLOWLB_LOWER_H 1

#include <stdbool.h>
#include <stdint.h>
#include "ir.h"
#include "spec.h"

struct lower_options {
    uint8_t table_base;         /* First of flowlb's tables (default 0). */
    int next_table;             /* -1: non-LB traffic goes to NORMAL; else
                                 * the table that gets it (resubmit). */
    uint16_t ct_zone;           /* Conntrack zone of all LB traffic. */
};

/* Tables, relative to table_base. flowlb reserves all of them; persist,
 * sticky and assign are only filled when a service needs them. */
enum lower_table {
    LOWER_T_CLASSIFY = 0,
    LOWER_T_DISPATCH = 1,
    LOWER_T_FORWARD = 2,
    LOWER_T_REPLY = 3,
    LOWER_T_ND = 4,
    LOWER_T_PERSIST = 5,        /* Learned: client prefix -> real's mark. */
    LOWER_T_STICKY = 6,         /* Learned: 5-tuple -> real's mark. */
    LOWER_T_ASSIGN = 7,         /* Mark chosen -> commit/learn; else group. */
};
#define LOWER_N_TABLES 8

/* Registers used by persistent and learn-mode services (packet metadata,
 * free again once the packet leaves flowlb's tables). Learned entries
 * match the service register, so one service's entries can be selected
 * with "reg12=ID" (ID = the group id's low 20 bits, ir_group.service_id). */
#define LOWER_REG_SERVICE 12    /* NXM_NX_REG12: the service id. */
#define LOWER_REG_MARK 13       /* NXM_NX_REG13: the chosen real's mark. */

void lower_options_init(struct lower_options *);

/* Lowers 'spec' (which must have passed lb_check) into 'out' (initialized
 * by the caller). Returns false, with errors in 'd', if something in the
 * spec cannot be expressed (e.g. group id space exhausted). */
bool lower_spec(const struct lb_spec *spec, const struct lower_options *,
                struct ir_pipeline *out, struct diag *d);

/* An earlier pipeline a lowering may copy unchanged services from: a
 * service whose text is that of one of the earlier spec (lb_text_memo's
 * 'taken_from') and whose id did not change gets the group and flows it
 * had, their locations moved, instead of being lowered again. */
struct lower_lender {
    const struct lb_spec *spec;     /* The earlier spec, as parsed. */
    const struct ir_pipeline *ir;   /* It lowered with the same options. */
    const size_t *taken_from;       /* Per service being lowered: the
                                     * index of the same text in 'spec', or
                                     * SIZE_MAX; NULL: nothing to copy. */
    /* The user's fingerprints of the groups and flows of 'ir' (same
     * index), or NULL: the copies get them in their 'fingerprint'. */
    const uint64_t *group_fp, *flow_fp;
};

/* lower_spec() with services copied from 'lender' (may be NULL) where it
 * can; '*n_copied' says how many. The result is that of lower_spec(). */
bool lower_spec_reusing(const struct lb_spec *, const struct lower_options *,
                        struct ir_pipeline *out, struct diag *,
                        const struct lower_lender *lender, size_t *n_copied);

/* Lowers service 'i' of 'spec' alone, with the id 'service_id' that a
 * whole lowering of 'spec' gave it (its group id's low bits): its group and
 * its own flows (role classify, reply, dispatch, lookup or assign; they
 * carry its cookie) into 'out' (initialized, empty), sorted, as
 * lower_spec() makes them. Responders, forward flows and the fixed flows
 * are shared with other services and not made. A change to a real's
 * weight changes only what this makes, so an agent re-lowers the one
 * service an administrative weight changed. Returns false on errors. */
bool lower_service_alone(const struct lb_spec *, size_t i,
                         uint32_t service_id, const struct lower_options *,
                         struct ir_pipeline *out, struct diag *d);

/* Services appended to a spec whose whole lowering is 'running': what a
 * whole lowering of the longer spec adds to 'running', made without
 * lowering the rest (an agent's reload that adds services). */
struct lower_sharer {
    size_t flow;                /* A responder of 'running'... */
    const char *service;        /* ...that this appended service shares. */
};

/* The id a whole lowering gives service 'name' appended to the spec that
 * made 'running', if that needs no other id to move: its name's home
 * slot, free there. */
bool lower_appended_id(const struct ir_pipeline *running, const char *name,
                       uint32_t *id);

/* Lowers the services of 'added' (appended, in this order, to the checked
 * spec that made 'running' with 'opts'; they passed the checks with it)
 * into 'out' (initialized, empty), sorted: their groups, own flows, and
 * the responders and forward flows 'running' lacks; '*sharers' (malloc'd,
 * '*n_sharers') lists the responders of 'running' they share. Merged into
 * 'running' (ir_splice_flows(), ir_merge_groups(), ir_flow_add_sharer()),
 * that is the whole lowering of the longer spec. Returns false if it
 * cannot be made this way (an id would move, a table or fixed flow, the
 * UDP timeout or a shared flow's actions would change, a learn-mode
 * service or a prefix responder): then lower the whole spec. */
bool lower_services_appended(const struct lb_spec *added,
                             const struct lower_options *,
                             const struct ir_pipeline *running,
                             struct ir_pipeline *out,
                             struct lower_sharer **sharers,
                             size_t *n_sharers, struct diag *);

/* Identifier of a service (stable across reloads: derived from its name) and
 * the conntrack mark of a real (derived from its address). Exposed for the
 * agent and tests. */
uint32_t lower_real_mark(const struct lb_addr *);

#endif /* FLOWLB_LOWER_H */
