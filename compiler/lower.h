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

#define LOWER_N_TABLES 5        /* classify, dispatch, forward, reply, nd. */

void lower_options_init(struct lower_options *);

/* Lowers 'spec' (which must have passed lb_check) into 'out' (initialized
 * by the caller). Returns false, with errors in 'd', if something in the
 * spec cannot be expressed (e.g. group id space exhausted). */
bool lower_spec(const struct lb_spec *spec, const struct lower_options *,
                struct ir_pipeline *out, struct diag *d);

/* Identifier of a service (stable across reloads: derived from its name) and
 * the conntrack mark of a real (derived from its address). Exposed for the
 * agent and tests. */
uint32_t lower_real_mark(const struct lb_addr *);

#endif /* FLOWLB_LOWER_H */
