/* Services a reload adds at the end of the spec, put into the running
 * state in place: checked against the running spec through its index of
 * names and VIPs, lowered alone against the running pipeline (their
 * groups, own flows, and the responders and forward flows it lacks), and
 * merged into the running spec, IR, agent tables, health targets, base
 * and desired states. At 10,000 services a whole reload copies, checks and
 * indexes every service (about half a second); this follows the services
 * added. Whatever it cannot do exactly as a whole reload would, it leaves
 * to one (append_prepare() says no before anything changes). */
#include <config.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "agent_private.h"
#include "check.h"
#include "diag.h"
#include "health.h"
#include "ir.h"
#include "lower.h"
#include "ofsync.h"
#include "spec.h"
#include "sset.h"
#include "util.h"

bool
append_prepare(struct agent *a, const struct lb_weight_edits *e,
               struct append_plan *p, const char **why)
{
    struct compiled *c = a->cur;
    memset(p, 0, sizeof *p);
    ir_init(&p->ir);
    if (a->opts.expire_nodest_conn) {
        *why = "expire-nodest-conn";
        return false;
    }
    for (size_t i = 0; i < e->n_added; i++) {
        const struct lb_service *svc = &e->added[i];
        if (svc->expire_nodest_conn || svc->quorum) {
            /* Their desired state is more than their base. */
            *why = "a service with quorum or expire-nodest-conn";
            return false;
        }
    }
    if (!c->index) {
        c->index = lb_spec_index_create(&c->spec);
    }
    for (size_t i = 0; i < e->n_added; i++) {
        if (!lb_check_appendable(c->index, &c->spec, &e->added[i])) {
            *why = "its name or VIP meets a running service's";
            return false;
        }
    }
    struct lb_spec added = {
        .services = e->added, .n_services = e->n_added,
    };
    struct diag d;
    diag_init(&d);
    bool ok = lower_services_appended(&added, &a->opts.lower, &c->ir, &p->ir,
                                      &p->sharers, &p->n_sharers, &d);
    diag_destroy(&d);
    if (!ok) {
        *why = "it changes what other services share";
        append_plan_destroy(p);
        return false;
    }
    /* A responder withdrawn by quorum is the whole desired state's. */
    if (p->n_sharers && a->index_stale) {
        index_services(a);
    }
    for (size_t k = 0; k < p->n_sharers; k++) {
        const struct ir_flow *f = &c->ir.flows[p->sharers[k].flow];
        for (size_t s = 0; s < f->n_shared_by; s++) {
            const struct agent_service *as = find_service(a, f->shared_by[s]);
            const struct lb_service *svc = as ? agent_service_spec(a, as)
                                              : NULL;
            if (!svc || svc->quorum || as->withdrawn) {
                *why = "it shares a VIP with a service with quorum";
                append_plan_destroy(p);
                return false;
            }
        }
    }
    return true;
}

void
append_plan_destroy(struct append_plan *p)
{
    ir_destroy(&p->ir);
    free(p->sharers);
    memset(p, 0, sizeof *p);
}

/* Whether 'port' is a name, which decodes through the switch's ports. */
static bool
is_port_name(const char *port)
{
    return port && port[strspn(port, "0123456789")];
}

/* The spec's arrays made longer by the added services, moved out of 'e'. */
static void
append_to_spec(struct compiled *c, struct lb_weight_edits *e)
{
    size_t n0 = c->spec.n_services, n = e->n_added;
    size_t n_reals = 0;
    for (size_t i = 0; i < n; i++) {
        n_reals += e->added[i].n_reals;
    }
    c->spec.services = xrealloc(c->spec.services,
                                (n0 + n) * sizeof *c->spec.services);
    memcpy(&c->spec.services[n0], e->added, n * sizeof *e->added);
    memset(e->added, 0, n * sizeof *e->added);     /* Moved. */
    c->spec.n_services = c->spec.allocated_services = n0 + n;
    c->configured = xrealloc(c->configured, MAX(c->n_configured + n_reals, 1)
                                            * sizeof *c->configured);
    c->admin_lowered = xrealloc(c->admin_lowered,
                                (n0 + n) * sizeof *c->admin_lowered);
    c->memo.pieces = xrealloc(c->memo.pieces,
                              (n0 + n) * sizeof *c->memo.pieces);
    for (size_t i = n0; i < n0 + n; i++) {
        const struct lb_service *svc = &c->spec.services[i];
        for (size_t r = 0; r < svc->n_reals; r++) {
            c->configured[c->n_configured++] = svc->reals[r].weight;
        }
        c->admin_lowered[i] = false;
        c->memo.pieces[i] = e->added_pieces[i - n0];
        c->uses_lc = c->uses_lc || is_lc(svc);
    }
    c->memo.n = n0 + n;
    /* Per service of the parse that made the spec: one entry short now,
     * and of no use once lowered. */
    free(c->memo.taken_from);
    c->memo.taken_from = NULL;
}

size_t
append_apply(struct agent *a, struct lb_weight_edits *e,
             struct append_plan *p)
{
    struct compiled *c = a->cur;
    size_t n0 = c->spec.n_services, n = e->n_added;

    /* What is added, found again after it moved into the running IR. */
    size_t n_flows = p->ir.n_flows, n_groups = p->ir.n_groups;
    uint64_t *ffp = xmalloc(MAX(n_flows, 1) * sizeof *ffp);
    uint64_t *gfp = xmalloc(MAX(n_groups, 1) * sizeof *gfp);
    struct ir_flow *keys = xmalloc(MAX(n_flows, 1) * sizeof *keys);
    uint32_t *group_ids = xmalloc(MAX(n_groups, 1) * sizeof *group_ids);
    for (size_t k = 0; k < n_flows; k++) {
        ffp[k] = flow_fp(&p->ir.flows[k]);
        keys[k] = p->ir.flows[k];   /* Its match text moves, not copied. */
    }
    for (size_t k = 0; k < n_groups; k++) {
        gfp[k] = group_fp(&p->ir.groups[k]);
        group_ids[k] = p->ir.groups[k].group_id;
    }

    size_t first_real = c->n_configured;    /* Of the first added one. */
    /* A reload may be copying from the spec (lower_plain_reusing()). */
    pthread_mutex_lock(&c->spec_mutex);
    append_to_spec(c, e);
    for (size_t k = 0; k < p->n_sharers; k++) {
        ir_flow_add_sharer(&c->ir.flows[p->sharers[k].flow],
                           p->sharers[k].service);
    }
    ir_splice_flows(&c->ir, NULL, 0, &p->ir, c->flow_fp ? &c->flow_fp : NULL,
                    ffp);
    ir_merge_groups(&c->ir, &p->ir, c->group_fp ? &c->group_fp : NULL, gfp);
    if (c->flow_fp) {
        c->flows_fp = all_flows_fp(c->flow_fp, c->ir.n_flows);
    }
    pthread_mutex_unlock(&c->spec_mutex);

    /* The agent's tables, health targets and index of services. */
    struct health_target *targets = NULL;
    size_t n_targets = 0;
    for (size_t i = n0; i < n0 + n; i++) {
        const struct lb_service *svc = &c->spec.services[i];
        lb_spec_index_add(c->index, &c->spec, i);
        tables_put_service(&a->reals, &a->services, svc,
                           &c->configured[first_real]);
        first_real += svc->n_reals;
        targets = xrealloc(targets, (n_targets + svc->n_reals + 1)
                                    * sizeof *targets);
        n_targets += service_health_targets(svc, &targets[n_targets]);
        for (size_t r = 0; r < svc->n_reals; r++) {
            if (is_port_name(svc->reals[r].port)) {
                a->ports_free = false;
            }
        }
        if (svc->has_sorry && is_port_name(svc->sorry.port)) {
            a->ports_free = false;
        }
        sset_add(&a->dirty_services, svc->name);
    }
    if (a->hm && n_targets) {
        health_monitor_add_targets(a->hm, targets, n_targets);
    }
    free(targets);
    /* The new services indexed (the others' indexes did not change). */
    for (size_t k = 0; k < n_groups; k++) {
        const struct ir_group *g = ir_find_group(&c->ir, group_ids[k]);
        struct agent_service *as = g && g->service
                                   ? find_service(a, g->service) : NULL;
        if (as) {
            as->group_id = g->group_id;
        }
    }
    for (size_t i = n0; i < n0 + n; i++) {
        struct agent_service *as = find_service(a, c->spec.services[i].name);
        if (as) {
            as->svc_idx = i;
        }
    }

    /* The base and desired states: the new groups and flows decoded (the
     * desired groups are made from the base at the next agent_run()). */
    if (!a->base_dirty) {
        bool ok = true;
        for (size_t k = 0; ok && k < n_groups; k++) {
            const struct ir_group *g = ir_find_group(&c->ir, group_ids[k]);
            ok = g && base_put_group(a, g);
        }
        size_t *added = xmalloc(MAX(n_flows, 1) * sizeof *added);
        for (size_t k = 0; ok && k < n_flows; k++) {
            added[k] = ir_find_flow(&c->ir, keys[k].table, keys[k].priority,
                                    keys[k].match);
            ok = added[k] != SIZE_MAX;
        }
        ok = ok && base_patch_flows(a, NULL, 0, &c->ir, added, ffp, n_flows,
                                    true);
        free(added);
        if (!ok) {
            a->base_dirty = true;
        }
    }
    free(ffp);
    free(gfp);
    free(keys);
    free(group_ids);
    append_plan_destroy(p);
    return n_flows;
}
