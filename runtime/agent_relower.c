/* One service lowered again in place, for an administrative weight
 * (flowlb/set-weight, drain, enable, lc/wlc weights, or those carried over
 * a reload): its group in the running IR and base state is replaced, and
 * its desired group is made again at the next agent_run(). A real's weight
 * changes nothing but the service's own flows and group (see
 * lower_service_alone()), so one drained real costs one small lowering,
 * not the whole spec's lowering and decoding (seconds at 10,000
 * services). */
#include <config.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "agent_private.h"
#include "diag.h"
#include "hash.h"
#include "ir.h"
#include "lower.h"
#include "ofsync.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/vlog.h"
#include "spec.h"
#include "timeval.h"
#include "sset.h"
#include "util.h"

#define this_module (*VLM_agent)    /* Logs as "agent" (see agent.c). */

/* More services with administrative weights than this after a reload:
 * one whole lowering costs less than a pass over the flows for each (the
 * same bound as a reload's weight edits, LB_WEIGHT_EDITS_MAX). */
#define RELOWER_ALONE_MAX LB_WEIGHT_EDITS_MAX

bool
set_service_admin_weights(struct agent *a, struct lb_service *svc)
{
    bool any = false;
    uint32_t basis = hash_string(svc->name, 0);
    for (size_t j = 0; j < svc->n_reals; j++) {
        const struct agent_real *r = find_service_real(&a->reals, svc, j,
                                                       basis);
        if (r) {
            svc->reals[j].weight = is_lc(svc) ? effective_admin_weight(r)
                                              : admin_weight(r);
            any = any || has_admin_weight(r);
        }
    }
    return any;
}

void
mark_admin_lowered(struct compiled *c, size_t idx, bool admin)
{
    if (admin) {
        c->admin_applied = true;
    }
    if (c->admin_lowered && idx < c->spec.n_services
        && c->admin_lowered[idx] != admin) {
        c->admin_lowered[idx] = admin;
        if (admin) {
            c->n_admin_lowered++;
        } else {
            c->n_admin_lowered--;
        }
    }
}

bool
base_put_group(struct agent *a, const struct ir_group *g)
{
    /* The base holds every bucket, standby ones included (the desired
     * state leaves those out). */
    struct ir_group full = *g;
    full.buckets = (g->n_buckets
                    ? xmemdup(g->buckets, g->n_buckets * sizeof *g->buckets)
                    : NULL);
    for (size_t b = 0; b < full.n_buckets; b++) {
        full.buckets[b].standby = false;
    }
    char *str = ir_group_to_ofctl(&full);
    free(full.buckets);
    char *err = ofsync_add_group_str(&a->base, str, a->ports);
    free(str);
    if (err) {
        VLOG_WARN("group of service %s: %s", g->service, err);
        free(err);
        return false;
    }
    return true;
}

/* The indexes of the service's own flows in 'ir' (cookie 'cookie'), in
 * order; '*n' gets their number. */
static size_t *
own_flows(const struct ir_pipeline *ir, uint64_t cookie, size_t *n)
{
    size_t *idx = NULL, allocated = 0;
    *n = 0;
    for (size_t i = 0; i < ir->n_flows; i++) {
        if (ir_flow_is_own(&ir->flows[i], cookie)) {
            if (*n == allocated) {
                idx = x2nrealloc(idx, &allocated, sizeof *idx);
            }
            idx[(*n)++] = i;
        }
    }
    return idx;
}

/* Whether the flows of 'one' (sorted) are the flows 'own[0 .. n)' of
 * 'ir' (sorted the same way), in table, priority, match and actions. */
static bool
own_flows_unchanged(const struct ir_pipeline *ir, const size_t *own,
                    size_t n, const struct ir_pipeline *one)
{
    if (n != one->n_flows) {
        return false;
    }
    for (size_t k = 0; k < n; k++) {
        const struct ir_flow *f = &ir->flows[own[k]], *o = &one->flows[k];
        if (f->table != o->table || f->priority != o->priority
            || strcmp(f->match, o->match) || strcmp(f->actions, o->actions)) {
            return false;
        }
    }
    return true;
}

bool
base_patch_flows(struct agent *a, const uint64_t *gone_fp, size_t n_gone,
                 const struct ir_pipeline *ir, const size_t *added,
                 const uint64_t *added_fp, size_t n_added, bool desired_too)
{
    struct ofsync_flow **gone = xmalloc(MAX(n_gone, 1) * sizeof *gone);
    size_t n = 0;
    struct ofsync_flow *f;
    HMAP_FOR_EACH (f, node, &a->base.flows) {
        if (!n_gone) {
            break;              /* Nothing to look for. */
        }
        for (size_t k = 0; k < n_gone && n < n_gone; k++) {
            if (f->tag == gone_fp[k]) {
                gone[n++] = f;
                break;
            }
        }
    }
    struct ofsync_state fresh;
    ofsync_state_init(&fresh);
    bool ok = n == n_gone;
    for (size_t k = 0; ok && k < n_added; k++) {
        const struct ir_flow *nf = &ir->flows[added[k]];
        char *err = ofsync_add_flow_parts_tagged(&fresh, nf->table,
                                                 nf->priority, nf->cookie,
                                                 nf->match, nf->actions,
                                                 a->ports, added_fp[k]);
        if (err) {
            VLOG_WARN("flow of service %s: %s", nf->service, err);
            free(err);
            ok = false;
        }
    }
    if (ok) {
        for (size_t k = 0; k < n; k++) {
            if (desired_too) {
                struct ofsync_flow *d = ofsync_find_flow(&a->desired,
                                                         gone[k]->table_id,
                                                         gone[k]->priority,
                                                         &gone[k]->match);
                if (d) {
                    ofsync_state_delete_flow(&a->desired, d);
                }
            }
            ofsync_remove_flow(&a->base, gone[k]);
        }
        const struct ofsync_flow *nf;
        HMAP_FOR_EACH (nf, node, &fresh.flows) {
            if (desired_too) {
                ofsync_state_put_flow(&a->desired, nf);
            }
        }
        ofsync_state_move_into(&a->base, &fresh);
    }
    ofsync_state_destroy(&fresh);
    free(gone);
    return ok;
}

/* The running spec's index of service 'name', or SIZE_MAX. */
static size_t
service_index(const struct agent *a, const char *name)
{
    const struct lb_spec *spec = &a->cur->spec;
    const struct agent_service *as = find_service(a, name);
    if (as && !a->index_stale && as->svc_idx < spec->n_services) {
        return as->svc_idx;
    }
    for (size_t i = 0; i < spec->n_services; i++) {
        if (!strcmp(spec->services[i].name, name)) {
            return i;
        }
    }
    return SIZE_MAX;
}

bool
relower_service(struct agent *a, const char *name)
{
    struct compiled *c = a->cur;
    size_t idx = service_index(a, name);
    if (idx == SIZE_MAX) {
        return false;
    }
    struct lb_service *svc = &c->spec.services[idx];
    struct agent_service *as = find_service(a, name);
    const struct ir_group *ig = (as && !a->index_stale
                                 ? agent_service_group(a, as) : NULL);
    struct ir_group *g = CONST_CAST(struct ir_group *,
                                    ig ? ig : service_group(&c->ir, name));
    if (!g) {
        return false;
    }
    /* Where the desired state is more than the base's flows (VIPs
     * withdrawn by quorum, flows of expired reals), changed flows mean
     * the whole desired state made again. */
    bool desired_is_base = (!a->opts.expire_nodest_conn
                            && !svc->expire_nodest_conn && !svc->quorum
                            && !(as && as->withdrawn));
    struct ir_pipeline one;
    ir_init(&one);
    struct diag d;
    diag_init(&d);
    size_t n_own = 0, *own = NULL;
    uint64_t *gone_fp = NULL, *added_fp = NULL;
    size_t *added = NULL, n_added = 0, n_gone = 0;
    /* A reload may be copying from this spec (see lower_plain_reusing()). */
    pthread_mutex_lock(&c->spec_mutex);
    bool admin = set_service_admin_weights(a, svc);
    bool ok = (lower_service_alone(&c->spec, idx, g->service_id,
                                   &a->opts.lower, &one, &d)
               && one.n_groups == 1
               && !strcmp(one.groups[0].selection, g->selection));
    if (ok) {
        own = own_flows(&c->ir, g->cookie, &n_own);
    }
    if (ok && !own_flows_unchanged(&c->ir, own, n_own, &one)) {
        /* Its flows change too (a persistent or learn-mode service's
         * assign flows follow its reals of nonzero weight): the new ones
         * in place of the old in the IR, with their fingerprints. */
        n_gone = n_own;
        gone_fp = xmalloc(MAX(n_gone, 1) * sizeof *gone_fp);
        for (size_t k = 0; k < n_gone; k++) {
            gone_fp[k] = (c->flow_fp ? c->flow_fp[own[k]]
                          : flow_fp(&c->ir.flows[own[k]]));
        }
        n_added = one.n_flows;
        added_fp = xmalloc(MAX(n_added, 1) * sizeof *added_fp);
        for (size_t k = 0; k < n_added; k++) {
            added_fp[k] = flow_fp(&one.flows[k]);
        }
        ir_splice_flows(&c->ir, own, n_own, &one,
                        c->flow_fp ? &c->flow_fp : NULL, added_fp);
        if (c->flow_fp) {
            c->flows_fp = all_flows_fp(c->flow_fp, c->ir.n_flows);
        }
        /* Where the new flows are now. */
        free(own);
        own = own_flows(&c->ir, g->cookie, &n_own);
        added = own;
        ovs_assert(n_own == n_added);
        for (size_t k = 0; k < n_added; k++) {
            added_fp[k] = (c->flow_fp ? c->flow_fp[added[k]]
                           : flow_fp(&c->ir.flows[added[k]]));
        }
    }
    if (ok) {
        struct ir_group *ng = &one.groups[0];
        struct ir_bucket *b = g->buckets;
        size_t n = g->n_buckets, allocated = g->allocated_buckets;
        g->buckets = ng->buckets;
        g->n_buckets = ng->n_buckets;
        g->allocated_buckets = ng->allocated_buckets;
        ng->buckets = b;        /* Freed with 'one'. */
        ng->n_buckets = n;
        ng->allocated_buckets = allocated;
        g->fingerprint = 0;
        if (c->group_fp) {
            c->group_fp[g - c->ir.groups] = group_fp(g);
        }
        /* Lowered from the file's weights if no real has another. */
        mark_admin_lowered(c, idx, admin);
    }
    pthread_mutex_unlock(&c->spec_mutex);
    ir_destroy(&one);
    diag_destroy(&d);
    if (ok && !a->base_dirty) {
        bool base_ok = base_put_group(a, g);
        if (base_ok && added) {
            base_ok = base_patch_flows(a, gone_fp, n_gone, &c->ir, added,
                                       added_fp, n_added, desired_is_base);
            if (!desired_is_base) {
                a->desired_dirty = true;
            }
        }
        if (!base_ok) {
            a->base_dirty = true;
        }
    }
    free(own);
    free(gone_fp);
    free(added_fp);
    if (!ok) {
        return false;
    }
    sset_add(&a->dirty_services, name);
    a->n_relowered_alone++;
    return true;
}

void
agent_relowerings(const struct agent *a, unsigned int *alone,
                  unsigned int *whole)
{
    *alone = a->n_relowered_alone;
    *whole = a->n_relowered_whole;
}

bool
relower_admin_services(struct agent *a)
{
    if (sset_is_empty(&a->admin_services)) {
        return true;
    }
    long long int t0 = time_msec();
    /* The services that still have a real with such a weight; the others
     * leave the set (their reals went, or got the file's weights back). */
    const struct lb_spec *spec = &a->cur->spec;
    struct sset names = SSET_INITIALIZER(&names);
    const char *name;
    SSET_FOR_EACH (name, &a->admin_services) {
        size_t idx = service_index(a, name);
        const struct lb_service *svc = (idx != SIZE_MAX
                                        ? &spec->services[idx] : NULL);
        uint32_t basis = hash_string(name, 0);
        for (size_t k = 0; svc && k < svc->n_reals; k++) {
            const struct agent_real *r = find_service_real(&a->reals, svc, k,
                                                           basis);
            if (r && has_admin_weight(r)) {
                sset_add(&names, name);
                break;
            }
        }
    }
    sset_swap(&names, &a->admin_services);
    sset_destroy(&names);
    long long int t1 = time_msec();
    /* Each one looks through the whole pipeline for its own flows: for
     * many services, one whole lowering costs less. */
    bool ok = sset_count(&a->admin_services) <= RELOWER_ALONE_MAX;
    SSET_FOR_EACH (name, &a->admin_services) {
        if (!ok) {
            break;
        }
        ok = relower_service(a, name);
    }
    VLOG_DBG("%"PRIuSIZE" service(s) with administrative weights lowered "
             "again%s (found in %lld ms, lowered in %lld ms)",
             sset_count(&a->admin_services),
             ok ? "" : ": the whole spec instead", t1 - t0,
             time_msec() - t1);
    return ok;
}

void
relower_whole(struct agent *a)
{
    struct ds err = DS_EMPTY_INITIALIZER;
    struct compiled *c = a->cur;
    if (!lower(a, c, &err)) {
        /* Weights cannot make a spec fail to lower, but if they did: back
         * to the file's weights, which lowered before. */
        VLOG_WARN("lowering with the administrative weights failed, the "
                  "file's stay: %s", ds_cstr(&err));
        pthread_mutex_lock(&c->spec_mutex);
        size_t n = 0;
        for (size_t i = 0; i < c->spec.n_services; i++) {
            struct lb_service *svc = &c->spec.services[i];
            for (size_t k = 0; k < svc->n_reals; k++) {
                svc->reals[k].weight = c->configured[n++];
            }
        }
        ds_clear(&err);
        lower_plain(&a->opts.lower, c, &err);
        pthread_mutex_unlock(&c->spec_mutex);
    }
    a->base_dirty = true;
    ds_destroy(&err);
}
