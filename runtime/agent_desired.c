/* The desired state: the base state with each service's group made from
 * its compiled group and the health of its reals (dead reals' buckets
 * out, failover, sorry real, quorum, expire_nodest_conn flows). */
#include <config.h>
#include "agent_private.h"

#include <stdlib.h>
#include <string.h>
#include "health.h"
#include "ir.h"
#include "lower.h"
#include "ofsync.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/vlog.h"
#include "spec.h"
#include "sset.h"
#include "swconn.h"
#include "util.h"
#include "values.h"

#define this_module (*VLM_agent)    /* Logs as "agent" (see agent.c). */

static const struct ir_flow *
dispatch_flow(const struct ir_pipeline *ir, const char *service)
{
    for (size_t i = 0; i < ir->n_flows; i++) {
        const struct ir_flow *f = &ir->flows[i];
        if (f->role == IR_ROLE_DISPATCH && f->service
            && !strcmp(f->service, service)) {
            return f;
        }
    }
    return NULL;
}

/* expire_nodest_conn: connections already marked for a dead real go back
 * through the group, whose bucket re-commits them with a live real's mark.
 * Same match as the service's dispatch flow, with the dead real's mark in
 * place of "unassigned". */
static void
add_expire_flow(struct agent *a, const char *service, uint32_t mark)
{
    const struct ir_flow *f = dispatch_flow(&a->cur->ir, service);
    if (!f) {
        return;
    }
    char *s = ir_flow_to_ofctl(f);
    char *p = strstr(s, "ct_mark=0,");
    if (p) {
        struct ds d = DS_EMPTY_INITIALIZER;
        ds_put_buffer(&d, s, p - s);
        ds_put_format(&d, "ct_mark=%#"PRIx32",", mark);
        ds_put_cstr(&d, p + strlen("ct_mark=0,"));
        char *err = ofsync_add_flow_str(&a->desired, ds_cstr(&d), NULL);
        if (err) {
            VLOG_WARN("expire_nodest_conn flow refused: %s", err);
            free(err);
        }
        ds_destroy(&d);
    }
    free(s);
}

static bool
real_is_down(const struct agent *a, const char *service,
             const struct lb_addr *addr)
{
    struct health_status st;
    return (a->hm && health_monitor_get(a->hm, service, addr, &st)
            && !health_state_is_up(st.state));
}

/* keepalived's quorum with hysteresis: lost below quorum - hysteresis,
 * regained at quorum + hysteresis. Returns the new "withdrawn" state. */
static bool
quorum_withdrawn(const struct lb_service *svc, bool withdrawn, size_t n_up)
{
    if (!svc || !svc->quorum) {
        return false;
    }
    uint32_t h = svc->quorum_hysteresis;
    if (!withdrawn) {
        return n_up + h < svc->quorum;
    }
    return n_up < (uint64_t) svc->quorum + h;
}

/* Persistence / learn-mode entries learned for the real with 'mark' in
 * the service of 'g' go away with the real. */
static void
purge_learned(struct agent *a, struct swconn *sc, const struct ir_group *g,
              uint8_t kind, uint8_t table_rel, uint32_t mark)
{
    struct swconn_purge p;
    memset(&p, 0, sizeof p);
    p.table_id = a->opts.lower.table_base + table_rel;
    p.cookie = flowlb_cookie_learned(kind, mark);
    p.cookie_mask = FLOWLB_COOKIE_LEARNED_MASK;
    p.has_reg = true;
    p.reg = LOWER_REG_SERVICE;
    p.reg_value = g->service_id;
    swconn_queue_purge(sc, &p);
    VLOG_INFO("service %s: deleting the %s entries of real mark %#"PRIx32,
              g->service, kind == FLOWLB_COOKIE_KIND_PERSIST
              ? "persistence" : "learned connection", mark);
}

/* The desired group of one service from its compiled group:
 *  - a real that is down loses its bucket (inhibit-on-failure: weight 0);
 *  - 'fo': only the live real(s) of the highest weight have buckets (the
 *    compiled group lists the others as standby);
 *  - with no live real the group has no real's bucket at all (OVS still
 *    selects a weight-0 bucket when every score is 0, so inhibited buckets
 *    go too), and the sorry real's (standby) bucket is inserted;
 *  - expire_nodest_conn adds a dispatch flow per dead real;
 *  - a real that stops taking connections loses its persistence entries
 *    (a dead one its learned connections too, with expire_nodest_conn). */
void
build_service_group(struct agent *a, struct swconn *sc,
                    const struct ir_group *g, struct ofsync_group *dg,
                    const struct lb_service *svc, struct agent_service *as)
{
    bool expire = a->opts.expire_nodest_conn
                  || (svc && svc->expire_nodest_conn);
    bool inhibit = svc && svc->inhibit_on_failure;

    bool *down = xcalloc(MAX(g->n_buckets, 1), sizeof *down);
    size_t n_live = 0, n_reals = 0;
    uint32_t top = 0;
    for (size_t b = 0; b < g->n_buckets; b++) {
        const struct ir_bucket *ib = &g->buckets[b];
        struct lb_addr addr;
        if (ib->sorry) {
            continue;
        }
        n_reals++;
        down[b] = a->hm && !lb_parse_addr(ib->real, &addr)
                  && real_is_down(a, g->service, &addr);
        if (!down[b]) {
            n_live++;
            top = MAX(top, ib->spec_weight);
        }
    }
    bool withdrawn = quorum_withdrawn(svc, as && as->withdrawn, n_live);

    size_t n_left = 0;
    for (size_t b = 0; b < g->n_buckets; b++) {
        const struct ir_bucket *ib = &g->buckets[b];
        if (down[b] && expire) {
            add_expire_flow(a, g->service, ib->mark);
        }
        bool keep;
        if (ib->sorry) {
            keep = !n_live;
        } else if (!n_live) {
            keep = false;
        } else if (g->failover) {
            keep = !down[b] && ib->spec_weight == top;
        } else {
            keep = !ib->standby && (!down[b] || inhibit);
        }
        if (dg) {
            if (!keep) {
                ofsync_group_remove_bucket(dg, ib->bucket_id);
            } else if (down[b]) {
                struct ofputil_bucket *ob = ofputil_bucket_find(
                    &dg->buckets, ib->bucket_id);
                if (ob && ob->weight) {
                    ob->weight = 0;
                    ofsync_group_changed(dg);
                }
            }
        }
        n_left += keep;
        bool active = keep && !down[b];
        if (as && sc && !active && down[b] && g->learn_mode && expire
            && sset_contains(as->active, ib->real)) {
            purge_learned(a, sc, g, FLOWLB_COOKIE_KIND_STICKY,
                          LOWER_T_STICKY, ib->mark);
        }
    }
    free(down);
    if (!as) {
        return;
    }

    /* Who takes new connections now. A real that did before and does not
     * any more (down, drained, failed over, removed by a reload) loses its
     * persistence entries: they would send its clients to it. Only
     * services that learn entries need to know (a set per service is
     * 320,000 strings at 10k x 32). */
    struct sset now = SSET_INITIALIZER(&now);
    bool learns = g->persistence_s || g->learn_mode;
    for (size_t b = 0; learns && dg && b < g->n_buckets; b++) {
        const struct ofputil_bucket *ob = ofputil_bucket_find(
            &dg->buckets, g->buckets[b].bucket_id);
        if (ob && ob->weight) {
            sset_add(&now, g->buckets[b].real);
        }
    }
    const char *real;
    SSET_FOR_EACH (real, as->active) {
        struct lb_addr addr;
        if (g->persistence_s && sc && !sset_contains(&now, real)
            && !lb_parse_addr(real, &addr)) {
            purge_learned(a, sc, g, FLOWLB_COOKIE_KIND_PERSIST,
                          LOWER_T_PERSIST, lower_real_mark(&addr));
        }
    }
    sset_swap(as->active, &now);
    sset_destroy(&now);

    as->n_buckets = n_left;
    bool all_down = !n_live && n_reals > 0;
    if (all_down != as->all_down) {
        if (all_down) {
            VLOG_WARN("service %s: every real is down; %s", as->name,
                      g->has_sorry ? "new connections go to the sorry real"
                                   : "new connections are dropped");
        } else {
            VLOG_INFO("service %s: %"PRIuSIZE" real(s) up again", as->name,
                      n_live);
        }
        as->all_down = all_down;
    }
    if (withdrawn != as->withdrawn) {
        if (withdrawn) {
            VLOG_WARN("service %s: quorum lost (%"PRIuSIZE" of %"PRIu32
                      " reals up); VIP withdrawn", as->name, n_live,
                      svc->quorum);
        } else {
            VLOG_INFO("service %s: quorum regained (%"PRIuSIZE" reals up); "
                      "VIP answers again", as->name, n_live);
        }
        as->withdrawn = withdrawn;
    }
}

/* A withdrawn service (quorum lost) stops answering for its VIP: its
 * classify flows go, and the ARP/ND responders once every service sharing
 * them is withdrawn. */
static void
withdraw_vip_flows(struct agent *a)
{
    const struct ir_pipeline *ir = &a->cur->ir;
    for (size_t i = 0; i < ir->n_flows; i++) {
        const struct ir_flow *f = &ir->flows[i];
        if (!f->vip_answer || !f->service) {
            continue;
        }
        bool needed = false;
        if (f->n_shared_by) {
            for (size_t j = 0; j < f->n_shared_by && !needed; j++) {
                const struct agent_service *as = find_service(
                    a, f->shared_by[j]);
                needed = !as || !as->withdrawn;
            }
        } else {
            const struct agent_service *as = find_service(a, f->service);
            needed = !as || !as->withdrawn;
        }
        if (needed) {
            continue;
        }
        /* Find the decoded flow by parsing the IR flow on its own. */
        struct ofsync_state one;
        ofsync_state_init(&one);
        char *str = ir_flow_to_ofctl(f);
        char *err = ofsync_add_flow_str(&one, str, a->ports);
        free(err);
        free(str);
        struct ofsync_flow *of;
        HMAP_FOR_EACH (of, node, &one.flows) {
            struct ofsync_flow *df = ofsync_find_flow(&a->desired,
                                                      of->table_id,
                                                      of->priority,
                                                      &of->match);
            if (df) {
                ofsync_remove_flow(&a->desired, df);
            }
        }
        ofsync_state_destroy(&one);
    }
}

/* Points each service at its spec entry and compiled group. */
void
index_services(struct agent *a)
{
    struct agent_service *as;
    HMAP_FOR_EACH (as, node, &a->services) {
        as->svc_idx = SIZE_MAX;
        as->group_id = 0;
    }
    const struct lb_spec *spec = &a->cur->spec;
    for (size_t i = 0; i < spec->n_services; i++) {
        as = find_service(a, spec->services[i].name);
        if (as) {
            as->svc_idx = i;
        }
    }
    const struct ir_pipeline *ir = &a->cur->ir;
    for (size_t i = 0; i < ir->n_groups; i++) {
        as = ir->groups[i].service ? find_service(a, ir->groups[i].service)
                                   : NULL;
        if (as) {
            as->group_id = ir->groups[i].group_id;
        }
    }
    a->index_stale = false;
}

const struct lb_service *
agent_service_spec(const struct agent *a, const struct agent_service *as)
{
    return (as->svc_idx < a->cur->spec.n_services
            ? &a->cur->spec.services[as->svc_idx] : NULL);
}

const struct ir_group *
agent_service_group(const struct agent *a, const struct agent_service *as)
{
    return as->group_id ? ir_find_group(&a->cur->ir, as->group_id) : NULL;
}

void
build_desired(struct agent *a, struct swconn *sc)
{
    index_services(a);
    if (!a->desired_prefilled) {
        ofsync_state_copy(&a->desired, &a->base);
    }
    a->desired_prefilled = false;
    const struct ir_pipeline *ir = &a->cur->ir;
    bool any_withdrawn = false;
    for (size_t i = 0; i < ir->n_groups; i++) {
        const struct ir_group *g = &ir->groups[i];
        struct agent_service *as = g->service ? find_service(a, g->service)
                                              : NULL;
        build_service_group(a, sc, g,
                            ofsync_find_group(&a->desired, g->group_id),
                            as ? agent_service_spec(a, as) : NULL, as);
        any_withdrawn |= as && as->withdrawn;
    }
    if (any_withdrawn) {
        withdraw_vip_flows(a);
    }
    a->desired_seqno++;
}

/* Rebuilds the desired group of service 'name' alone, from its base
 * group and the health of its reals; the other services' groups and all
 * flows stay as they are. Returns false if the change may reach beyond
 * the group (expire_nodest_conn flows, quorum) or the service is not
 * indexed: then the caller rebuilds everything. */
bool
update_service(struct agent *a, struct swconn *sc, const char *name)
{
    struct agent_service *as = find_service(a, name);
    if (a->index_stale || !as) {
        return false;
    }
    const struct lb_service *svc = agent_service_spec(a, as);
    const struct ir_group *g = agent_service_group(a, as);
    if (!g || !svc || a->opts.expire_nodest_conn || svc->expire_nodest_conn
        || svc->quorum) {
        return false;
    }
    const struct ofsync_group *bg = ofsync_find_group(&a->base, g->group_id);
    if (!bg) {
        return false;
    }
    struct ofsync_group *ng = ofsync_group_clone(bg);
    build_service_group(a, sc, g, ng, svc, as);
    ofsync_state_put_group(&a->desired, ng);
    a->desired_seqno++;
    return true;
}

