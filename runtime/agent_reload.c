/* Reloading the spec: in the background (a job in a thread of its own,
 * taken into use by the loop with the state carried over and, when
 * possible, only the groups that changed made again), or in the loop
 * (agent_reload()). */
#include <config.h>
#include "agent.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent_private.h"
#include "check.h"
#include "hash.h"
#include "ir.h"
#include "latch.h"
#include "lower.h"
#include "ofsync.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/namemap.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "spec.h"
#include "sset.h"
#include "timeval.h"
#include "util.h"

#define this_module (*VLM_agent)    /* Logs as "agent" (see agent.c). */

/* A reload running in a thread of its own: reading, checking and lowering
 * the spec and decoding the pipeline take seconds at 10,000 services, and
 * the main loop must keep answering the switch and running health checks
 * meanwhile. The thread touches only the job. */
struct reload_job {
    pthread_t thread;
    char *spec_path;
    struct lower_options lopts;
    struct compiled *lender;        /* The running spec (the loop keeps it
                                     * while the job runs), or NULL. */
    struct ofputil_port_map ports;  /* Copy of the switch's. */
    const struct ofputil_port_map *ports_of; /* The map copied (identity). */
    unsigned int ports_seqno;       /* Agent's 'ports_seqno' at the copy. */
    long long int started;          /* time_msec(). */
    /* Results. */
    struct compiled *c;             /* NULL if refused. */
    struct ofsync_state base;
    struct ofsync_state desired;    /* A copy of 'base', to start from. */
    bool ports_free;                /* 'base' needs no port name. */
    struct hmap reals, services;    /* Tables for 'c' (see agent). */
    bool reusing;                   /* 'reuse' filled from the running
                                     * spec: 'base' and 'desired' hold only
                                     * what changed. */
    struct build_reuse reuse;
    uint64_t base_gen;              /* The running base's 'gen' at the
                                     * start (it changes with the base). */
    /* With 'reusing': what of the running pipeline the new one does not
     * have (see find_gone()). */
    uint32_t *gone_groups;
    size_t n_gone_groups;
    uint64_t *gone_fps;             /* Sorted, distinct. */
    size_t n_gone_fps;
    /* A text that changes only reals' weights (and is otherwise the
     * lender's): the edits, applied by the loop to the running state
     * instead of all of the above. */
    bool weights_only;
    struct lb_weight_edits edits;   /* With the services added at the end
                                     * (put in place by agent_append.c). */
    bool weights_whole;             /* They needed the whole spec lowered. */
    bool whole;                     /* Not as edits: a whole reload. */
    struct lb_text_buf *read_buf;   /* The agent's, lent to the job. */
    size_t n_flows_added;           /* By the services added in place. */
    struct ds errors;
    long long int ms_load, ms_lower, ms_base;
    atomic_bool done;
    struct latch done_latch;        /* Set with 'done': wakes the loop. */
};

struct reload_waiter {
    void (*cb)(bool ok, const char *errors, void *aux);
    void *aux;
};

struct reload_waiters {
    struct reload_waiter *w;
    size_t n, allocated;
};

static void *
tables_main(void *job_)
{
    struct reload_job *j = job_;
    sync_tables__(&j->reals, &j->services, j->c, true);
    /* For the next reload, if it adds services (append_prepare()). */
    j->c->index = lb_spec_index_create(&j->c->spec);
    return NULL;
}

static void find_gone(struct reload_job *);

/* Whether the spec file changes only weights of the running spec, and the
 * changed services pass the checks; then sets 'j->edits'. The checks that
 * involve several services look at nothing a weight changes, so the
 * changed services are checked alone. */
static bool
load_weight_edits(struct reload_job *j)
{
    struct compiled *prev = j->lender;
    if (!prev || !prev->memo.n) {
        return false;
    }
    struct lb_spec_lender lender = {
        .spec = &prev->spec,
        .memo = &prev->memo,
        .mutex = &prev->spec_mutex,
    };
    if (!lb_spec_load_weight_edits(j->spec_path, &lender, &j->edits,
                                   j->read_buf)) {
        return false;
    }
    bool ok = true;
    size_t n = j->edits.n + j->edits.n_added;
    if (n) {
        /* The added services are checked with them; against the running
         * spec, in the loop (append_prepare()). */
        struct lb_spec changed = {
            .services = xmalloc(n * sizeof *changed.services),
            .n_services = n,
        };
        for (size_t i = 0; i < j->edits.n; i++) {
            changed.services[i] = j->edits.edits[i].svc;  /* Not owned. */
        }
        for (size_t i = 0; i < j->edits.n_added; i++) {
            changed.services[j->edits.n + i] = j->edits.added[i];
        }
        struct diag d;
        diag_init(&d);
        ok = lb_check(&changed, &d) && !diag_has_errors(&d);
        if (ok && d.n_warnings) {
            struct ds w = DS_EMPTY_INITIALIZER;
            diag_to_ds(&d, &w);
            VLOG_WARN("%s", ds_cstr(&w));
            ds_destroy(&w);
        }
        diag_destroy(&d);
        free(changed.services);
    }
    if (!ok) {
        /* The whole reload reports the errors, as always. */
        lb_weight_edits_destroy(&j->edits);
    }
    return ok;
}

static void *
reload_main(void *job_)
{
    struct reload_job *j = job_;
    long long int t0 = time_msec();
    if (!j->whole && load_weight_edits(j)) {
        j->weights_only = true;
        j->ms_load = time_msec() - t0;
        atomic_store(&j->done, true);
        latch_set(&j->done_latch);
        return NULL;
    }
    j->c = load_spec_path(j->spec_path, &j->errors, j->lender, j->read_buf);
    long long int t1 = time_msec();
    if (j->c) {
        /* The agent's tables for the new spec, made from scratch in a
         * second thread while this one lowers (both only read the spec);
         * the loop carries the administrative and runtime state over. */
        pthread_t tables;
        bool threaded = !pthread_create(&tables, NULL, tables_main, j);
        if (!threaded) {
            tables_main(j);
        }
        /* The running pipeline's fingerprints, from the snapshot (in IR
         * order until build_reuse_sort() below). */
        uint64_t *lent_group_fp = NULL;
        if (j->reusing) {
            lent_group_fp = xmalloc(MAX(j->reuse.n_groups, 1)
                                    * sizeof *lent_group_fp);
            for (size_t i = 0; i < j->reuse.n_groups; i++) {
                lent_group_fp[i] = j->reuse.groups[i].fp;
            }
        }
        bool ok = lower_plain_reusing(&j->lopts, j->c, j->lender,
                                      lent_group_fp,
                                      j->reusing ? j->reuse.flows : NULL,
                                      &j->errors);
        free(lent_group_fp);
        /* Indexes into the running spec: of no use once it is replaced. */
        free(j->c->memo.taken_from);
        j->c->memo.taken_from = NULL;
        if (threaded) {
            pthread_join(tables, NULL);
        }
        if (!ok) {
            lb_text_memo_give_buffer(&j->c->memo, j->read_buf);
            compiled_destroy(j->c);
            j->c = NULL;
        }
    }
    long long int t2 = time_msec();
    if (j->c) {
        /* Without the switch's ports first: if no flow needs a port name,
         * the result holds whatever ports the switch has meanwhile. */
        struct compiled *c = j->c;
        c->group_fp = xcalloc(MAX(c->ir.n_groups, 1), sizeof *c->group_fp);
        c->flow_fp = xcalloc(MAX(c->ir.n_flows, 1), sizeof *c->flow_fp);
        struct build_reuse *r = NULL;
        if (j->reusing) {
            r = &j->reuse;
            build_reuse_sort(r);
            r->group_reused = xcalloc(MAX(c->ir.n_groups, 1),
                                      sizeof *r->group_reused);
            r->flow_reused = xcalloc(MAX(c->ir.n_flows, 1),
                                     sizeof *r->flow_reused);
        }
        j->ports_free = !build_base_into(&j->base, &j->desired, &c->ir,
                                         NULL, true, true, c->group_fp,
                                         &c->flows_fp, c->flow_fp, r);
        if (!j->ports_free) {
            build_base_into(&j->base, &j->desired, &c->ir, &j->ports,
                            true, false, c->group_fp, &c->flows_fp,
                            c->flow_fp, r);
        }
        if (r) {
            find_gone(j);
        }
    }
    j->ms_load = t1 - t0;
    j->ms_lower = t2 - t1;
    j->ms_base = time_msec() - t2;
    atomic_store(&j->done, true);
    latch_set(&j->done_latch);
    return NULL;
}

static void
copy_port_map(struct ofputil_port_map *dst,
              const struct ofputil_port_map *src)
{
    ofputil_port_map_init(dst);
    if (src) {
        const struct namemap_node *node;
        HMAP_FOR_EACH (node, number_node, &src->map.by_number) {
            ofputil_port_map_put(dst, (OVS_FORCE ofp_port_t) node->number,
                                 node->name);
        }
    }
}

/* What the job may take from the running base instead of decoding it:
 * the entries of the running spec, by fingerprint (a copy: the loop may
 * rebuild the running base meanwhile; take_reused() checks again). */
static void
snapshot_running(const struct agent *a, struct build_reuse *r)
{
    const struct compiled *c = a->cur;
    r->n_groups = c->ir.n_groups;
    r->groups = xmalloc(MAX(r->n_groups, 1) * sizeof *r->groups);
    for (size_t i = 0; i < r->n_groups; i++) {
        r->groups[i].group_id = c->ir.groups[i].group_id;
        r->groups[i].fp = c->group_fp[i];
    }
    r->n_flows = c->ir.n_flows;
    r->flows = xmemdup(c->flow_fp, MAX(r->n_flows, 1) * sizeof *r->flows);
}

static void
start_job(struct agent *a, bool whole)
{
    struct reload_job *j = xzalloc(sizeof *j);
    j->whole = whole;
    j->read_buf = &a->read_buf;     /* One job at a time uses it. */
    j->spec_path = xstrdup(a->spec_path);
    j->lender = a->cur;
    j->lopts = a->opts.lower;
    copy_port_map(&j->ports, a->ports);
    j->ports_of = a->ports;
    j->ports_seqno = a->ports_seqno;
    j->started = time_msec();
    j->reusing = (a->cur && a->cur->group_fp && a->cur->flow_fp
                  && !a->base_dirty);
    j->base_gen = a->base.gen;
    if (j->reusing) {
        snapshot_running(a, &j->reuse);
    }
    ofsync_state_init(&j->base);
    ofsync_state_init(&j->desired);
    hmap_init(&j->reals);
    hmap_init(&j->services);
    ds_init(&j->errors);
    atomic_init(&j->done, false);
    latch_init(&j->done_latch);
    a->job = j;
    VLOG_INFO("reloading %s in the background", a->spec_path);
    int error = pthread_create(&j->thread, NULL, reload_main, j);
    if (error) {
        VLOG_WARN("cannot start a thread (%s): reloading in the loop",
                  ovs_strerror(error));
        reload_main(j);
        j->thread = pthread_self();
    }
}

static void
job_free(struct reload_job *j)
{
    if (j) {
        free(j->spec_path);
        ofputil_port_map_destroy(&j->ports);
        compiled_destroy(j->c);
        free(j->reuse.groups);
        free(j->reuse.flows);
        free(j->reuse.group_reused);
        free(j->reuse.flow_reused);
        free(j->gone_groups);
        free(j->gone_fps);
        lb_weight_edits_destroy(&j->edits);
        ofsync_state_destroy(&j->base);
        ofsync_state_destroy(&j->desired);
        tables_clear(&j->reals, &j->services);
        hmap_destroy(&j->reals);
        hmap_destroy(&j->services);
        ds_destroy(&j->errors);
        latch_destroy(&j->done_latch);
        free(j);
    }
}

static void
job_destroy(struct reload_job *j)
{
    if (j) {
        if (!pthread_equal(j->thread, pthread_self())) {
            pthread_join(j->thread, NULL);
        }
        job_free(j);
    }
}

static void
reaper_join(struct agent *a)
{
    if (a->reaping) {
        pthread_join(a->reaper, NULL);
        a->reaping = false;
    }
}

static void *
reaper_main(void *j)
{
    job_free(j);
    return NULL;
}

/* Frees finished job 'j' in a thread of its own. */
static void
reap_job(struct agent *a, struct reload_job *j)
{
    reaper_join(a);
    a->reaping = !pthread_create(&a->reaper, NULL, reaper_main, j);
    if (!a->reaping) {
        job_free(j);
    }
}

static void
waiters_add(struct reload_waiters **wsp,
            void (*cb)(bool, const char *, void *), void *aux)
{
    if (!*wsp) {
        *wsp = xzalloc(sizeof **wsp);
    }
    struct reload_waiters *ws = *wsp;
    if (ws->n >= ws->allocated) {
        ws->w = x2nrealloc(ws->w, &ws->allocated, sizeof *ws->w);
    }
    ws->w[ws->n++] = (struct reload_waiter) { .cb = cb, .aux = aux };
}

static void
waiters_free(struct reload_waiters *ws)
{
    if (ws) {
        free(ws->w);
        free(ws);
    }
}

void
agent_reload_start(struct agent *a,
                   void (*cb)(bool ok, const char *errors, void *aux),
                   void *aux)
{
    if (a->job) {
        /* The running one may have read the file before it changed. */
        if (cb) {
            waiters_add(&a->next, cb, aux);
        }
        a->next_wanted = true;
        return;
    }
    if (cb) {
        waiters_add(&a->waiting, cb, aux);
    }
    start_job(a, false);
}

bool
agent_reload_running(const struct agent *a)
{
    return a->job != NULL;
}

unsigned int
agent_reloads_patched(const struct agent *a)
{
    return a->n_reloads_patched;
}

unsigned int
agent_services_appended(const struct agent *a)
{
    return a->n_services_appended;
}

unsigned int
agent_reloads_compared(const struct agent *a)
{
    return a->n_reloads_compared;
}

const struct ir_pipeline *
agent_pipeline(const struct agent *a)
{
    return &a->cur->ir;
}

/* Copies the administrative state of the reals and the runtime state of
 * the services (not their 'active' sets) from the agent's tables into
 * 'reals' and 'services', made for a new spec. */
static void
carry_state(struct agent *a, struct hmap *reals, struct hmap *services)
{
    /* Which spec entry each running service had. */
    const struct lb_spec *old = &a->cur->spec;
    for (size_t i = 0; i < old->n_services; i++) {
        struct agent_service *os = find_service(a, old->services[i].name);
        if (os) {
            os->prev_svc = &old->services[i];
        }
    }
    /* Administrative state: only the services that may have some. */
    const char *name;
    SSET_FOR_EACH (name, &a->admin_services) {
        const struct agent_service *os = find_service(a, name);
        const struct lb_service *svc = os ? os->prev_svc : NULL;
        uint32_t basis = hash_string(name, 0);
        for (size_t k = 0; svc && k < svc->n_reals; k++) {
            const struct agent_real *r = find_service_real(&a->reals, svc, k,
                                                           basis);
            if (!r || !has_admin_weight(r)) {
                continue;
            }
            struct agent_real *nr = find_real__(reals, name, basis, r->addr);
            if (nr) {
                nr->has_override = r->has_override;
                nr->override = r->override;
                nr->drained = r->drained;
                nr->has_dyn = r->has_dyn;
                nr->dyn = r->dyn;
                nr->conns = r->conns;
            }
        }
    }
    struct agent_service *ns;
    HMAP_FOR_EACH (ns, node, services) {
        const struct agent_service *os = find_service(a, ns->name);
        if (os) {
            ns->all_down = os->all_down;
            ns->withdrawn = os->withdrawn;
            ns->n_buckets = os->n_buckets;
            ns->prev_svc = os->prev_svc;
        }
    }
}

/* The settings of a service, besides its compiled group, that its desired
 * group depends on. */
static bool
service_settings_same(const struct lb_service *a, const struct lb_service *b)
{
    return (a && b
            && a->expire_nodest_conn == b->expire_nodest_conn
            && a->inhibit_on_failure == b->inhibit_on_failure
            && a->quorum == b->quorum
            && a->quorum_hysteresis == b->quorum_hysteresis);
}

/* What of the running pipeline (the job's snapshot of it, sorted) the new
 * one does not have: the groups whose id is gone, and the fingerprints of
 * the flows that no entry taken from the running base carries (removed,
 * or changed and decoded anew). In the reload's thread: the loop then
 * patches its state with what changed only (patch_running()). */
static void
find_gone(struct reload_job *j)
{
    const struct compiled *c = j->c;
    const struct build_reuse *r = &j->reuse;
    j->gone_groups = xmalloc(MAX(r->n_groups, 1) * sizeof *j->gone_groups);
    for (size_t i = 0; i < r->n_groups; i++) {
        uint32_t id = r->groups[i].group_id;
        if (!ir_find_group(&c->ir, id)) {
            j->gone_groups[j->n_gone_groups++] = id;
        }
    }
    size_t n_kept = 0;
    uint64_t *kept = xmalloc(MAX(r->n_flows_reused, 1) * sizeof *kept);
    for (size_t i = 0; i < c->ir.n_flows; i++) {
        if (r->flow_reused[i] && n_kept < r->n_flows_reused) {
            kept[n_kept++] = c->flow_fp[i];
        }
    }
    qsort(kept, n_kept, sizeof *kept, compare_fp);
    j->gone_fps = xmalloc(MAX(r->n_flows, 1) * sizeof *j->gone_fps);
    for (size_t i = 0; i < r->n_flows; i++) {
        uint64_t fp = r->flows[i];
        if ((!i || fp != r->flows[i - 1])
            && !bsearch(&fp, kept, n_kept, sizeof *kept, compare_fp)) {
            j->gone_fps[j->n_gone_fps++] = fp;
        }
    }
    free(kept);
}

static bool
is_gone_fp(const struct reload_job *j, uint64_t fp)
{
    return fp && bsearch(&fp, j->gone_fps, j->n_gone_fps, sizeof fp,
                         compare_fp);
}

/* Whether the service of 'g' (group 'i' of the running spec) compiled to
 * the same group, with the same settings, in 'old'. */
static bool
group_unchanged(struct agent *a, const struct compiled *old, size_t i)
{
    const struct compiled *c = a->cur;
    const struct ir_group *g = &c->ir.groups[i];
    const struct agent_service *as = g->service ? find_service(a, g->service)
                                                : NULL;
    const struct ir_group *og = ir_find_group(&old->ir, g->group_id);
    return (as && og
            && old->group_fp[og - old->ir.groups] == c->group_fp[i]
            && service_settings_same(as->prev_svc,
                                     agent_service_spec(a, as)));
}

/* Makes the desired group of 'g' again from its base group and the reals'
 * health, and puts it into the desired state as a tracked change. */
static void
remake_desired_group(struct agent *a, struct swconn *sc,
                     const struct ir_group *g)
{
    struct agent_service *as = g->service ? find_service(a, g->service)
                                          : NULL;
    const struct ofsync_group *bg = ofsync_find_group(&a->base, g->group_id);
    struct ofsync_group *ng = ofsync_group_clone(bg);
    build_service_group(a, sc, g, ng, as ? agent_service_spec(a, as) : NULL,
                        as);
    ofsync_state_put_group(&a->desired, ng);
}

/* After a reload that left every flow as it was and removed no group:
 * the desired state stays, and only the groups of services that changed
 * are made again, as for a health change (the switch connection then
 * compares those groups alone). Returns the number of groups made again,
 * or SIZE_MAX if that does not apply (nothing done then). */
static size_t
update_groups(struct agent *a, struct swconn *sc, const struct compiled *old)
{
    const struct compiled *c = a->cur;
    if (c->flows_fp != old->flows_fp) {
        return SIZE_MAX;
    }
    /* Every group of 'old' must still be there, and every new one
     * decoded: removing one from the desired state is not a change that
     * can be tracked by group. */
    size_t n_old = 0;
    for (size_t i = 0; i < c->ir.n_groups; i++) {
        uint32_t id = c->ir.groups[i].group_id;
        if (!ofsync_find_group(&a->base, id)) {
            return SIZE_MAX;
        }
        n_old += ir_find_group(&old->ir, id) != NULL;
    }
    if (n_old != old->ir.n_groups
        || ofsync_state_n_groups(&a->desired) != old->ir.n_groups) {
        return SIZE_MAX;
    }
    size_t n_rebuilt = 0;
    for (size_t i = 0; i < c->ir.n_groups; i++) {
        if (group_unchanged(a, old, i)) {
            continue;
        }
        remake_desired_group(a, sc, &c->ir.groups[i]);
        n_rebuilt++;
    }
    return n_rebuilt;
}

/* After a reload: the desired state is the new base ('a->desired', a copy
 * of it made by the reload's thread) with each service's group either
 * taken from 'old_desired' (the previous desired state), when the service
 * compiled to the same group with the same settings, or made again from
 * the new base and the reals' health. The loop's work is then in
 * proportion to what changed, not to the spec. Returns the number of
 * groups made again. */
static size_t
reuse_groups(struct agent *a, struct swconn *sc, const struct compiled *old,
             struct ofsync_state *old_desired)
{
    const struct compiled *c = a->cur;
    size_t n_rebuilt = 0;
    for (size_t i = 0; i < c->ir.n_groups; i++) {
        const struct ir_group *g = &c->ir.groups[i];
        struct agent_service *as = g->service ? find_service(a, g->service)
                                              : NULL;
        struct ofsync_group *dg = ofsync_find_group(&a->desired,
                                                    g->group_id);
        const struct ir_group *og = ir_find_group(&old->ir, g->group_id);
        struct ofsync_group *odg = NULL;
        if (og && group_unchanged(a, old, i)) {
            odg = ofsync_find_group(old_desired, g->group_id);
        }
        if (odg) {
            if (dg) {
                hmap_remove(&a->desired.groups, &dg->node);
                ofsync_group_free(dg);
            }
            hmap_remove(&old_desired->groups, &odg->node);
            hmap_insert(&a->desired.groups, &odg->node, odg->node.hash);
        } else {
            const struct ofsync_group *bg;
            if (!dg && (bg = ofsync_find_group(&a->base, g->group_id))) {
                /* Taken from the running base, not decoded by the job. */
                dg = ofsync_group_clone(bg);
                hmap_insert(&a->desired.groups, &dg->node,
                            hash_int(dg->group_id, 0));
            }
            build_service_group(a, sc, g, dg,
                                as ? agent_service_spec(a, as) : NULL, as);
            n_rebuilt++;
        }
    }
    ofsync_state_changed(&a->desired);
    ofsync_state_changed(old_desired);
    return n_rebuilt;
}

/* Moves from the running base into the job's base the entries the job did
 * not decode (the same text in the running spec), checking each against
 * what the running base holds now: the loop may have rebuilt it since the
 * job started. Returns false if one is missing or differs (the running
 * base is then incomplete: the caller has it rebuilt). */
static bool
take_reused(struct agent *a, struct reload_job *j,
            const struct compiled *old)
{
    const struct compiled *c = a->cur;     /* The job's, installed. */
    const struct build_reuse *r = &j->reuse;
    for (size_t i = 0; i < c->ir.n_groups; i++) {
        if (!r->group_reused[i]) {
            continue;
        }
        uint32_t id = c->ir.groups[i].group_id;
        const struct ir_group *og = ir_find_group(&old->ir, id);
        struct ofsync_group *bg = ofsync_find_group(&a->base, id);
        if (!og || !old->group_fp || !bg
            || old->group_fp[og - old->ir.groups] != c->group_fp[i]) {
            return false;
        }
        hmap_remove(&a->base.groups, &bg->node);
        hmap_insert(&j->base.groups, &bg->node, bg->node.hash);
    }

    /* Flows by fingerprint: the running base's are tagged with theirs. */
    size_t n = 0;
    uint64_t *want = xmalloc(MAX(r->n_flows_reused, 1) * sizeof *want);
    for (size_t i = 0; i < c->ir.n_flows; i++) {
        if (r->flow_reused[i]) {
            want[n++] = c->flow_fp[i];
        }
    }
    qsort(want, n, sizeof *want, compare_fp);
    size_t n_moved = 0;
    struct ofsync_flow *f;
    HMAP_FOR_EACH_SAFE (f, node, &a->base.flows) {
        if (f->tag && bsearch(&f->tag, want, n, sizeof *want, compare_fp)) {
            hmap_remove(&a->base.flows, &f->node);
            hmap_insert(&j->base.flows, &f->node, f->node.hash);
            n_moved++;
        }
    }
    free(want);
    ofsync_state_changed(&a->base);
    ofsync_state_changed(&j->base);
    return n_moved == n;
}

/* The desired state the job made holds only what it decoded: the flows it
 * took from the running base come from the previous desired state, where
 * they are the same, or are copied from the base. */
static void
complete_desired_flows(struct agent *a, struct ofsync_state *old_desired)
{
    const struct ofsync_flow *f;
    HMAP_FOR_EACH (f, node, &a->base.flows) {
        if (ofsync_find_flow(&a->desired, f->table_id, f->priority,
                             &f->match)) {
            continue;
        }
        struct ofsync_flow *of = ofsync_find_flow(old_desired, f->table_id,
                                                  f->priority, &f->match);
        if (of && of->cookie == f->cookie && of->wire_len == f->wire_len
            && !memcmp(of->wire, f->wire, f->wire_len)) {
            hmap_remove(&old_desired->flows, &of->node);
            hmap_insert(&a->desired.flows, &of->node, of->node.hash);
        } else {
            ofsync_add_flow_copy(&a->desired, f);
        }
    }
    ofsync_state_changed(&a->desired);
    ofsync_state_changed(old_desired);
}

/* Takes the job's result into use by changing only what changed in the
 * running base and desired state, instead of rebuilding them around it:
 * the gone flows and groups out, the decoded ones in, and the desired
 * group of each service whose group or settings changed made again. The
 * desired state records each change (ofsync change tracking), so that the
 * switch connection compares those entries alone. The loop's work then
 * follows the change, not the spec (at 10k x 32: 76-133 ms -> a few ms).
 *
 * Checks first, changes nothing unless it can do it all: returns false if
 * the running base changed since the job's snapshot was taken (then the
 * caller takes the general path). Else sets '*n_rebuilt'. Needs the
 * services indexed on the new spec (index_services()). */
static bool
patch_running(struct agent *a, struct reload_job *j, struct swconn *sc,
              size_t *n_rebuilt)
{
    const struct compiled *c = a->cur;
    if (a->base.gen != j->base_gen) {
        return false;
    }

    /* The running base's flows that go: found by the fingerprint each is
     * tagged with. Every gone fingerprint must be there once. */
    struct ofsync_flow **gone = xmalloc(MAX(j->n_gone_fps, 1)
                                        * sizeof *gone);
    size_t n_gone = 0;
    bool ok = true;
    if (j->n_gone_fps) {
        struct ofsync_flow *f;
        HMAP_FOR_EACH (f, node, &a->base.flows) {
            if (is_gone_fp(j, f->tag)) {
                if (n_gone == j->n_gone_fps) {
                    ok = false;
                    break;
                }
                gone[n_gone++] = f;
            }
        }
    }
    ok = ok && n_gone == j->n_gone_fps;
    /* The desired state holds the base's flows (needs_whole_build() is
     * false): each gone one must be there. */
    for (size_t i = 0; ok && i < n_gone; i++) {
        ok = ofsync_find_flow(&a->desired, gone[i]->table_id,
                              gone[i]->priority, &gone[i]->match) != NULL;
    }
    /* A decoded flow may only replace a gone one, not one that stays (the
     * IR's order would decide between them). */
    const struct ofsync_flow *nf;
    HMAP_FOR_EACH (nf, node, &j->base.flows) {
        if (!ok) {
            break;
        }
        const struct ofsync_flow *h = ofsync_find_flow(&a->base,
                                                       nf->table_id,
                                                       nf->priority,
                                                       &nf->match);
        ok = !h || is_gone_fp(j, h->tag);
    }
    for (size_t i = 0; ok && i < j->n_gone_groups; i++) {
        ok = ofsync_find_group(&a->base, j->gone_groups[i]) != NULL;
    }
    if (!ok) {
        free(gone);
        return false;
    }

    /* Flows: the gone ones out of both states, the decoded ones in. */
    for (size_t i = 0; i < n_gone; i++) {
        struct ofsync_flow *d = ofsync_find_flow(&a->desired,
                                                 gone[i]->table_id,
                                                 gone[i]->priority,
                                                 &gone[i]->match);
        ofsync_state_delete_flow(&a->desired, d);
        ofsync_remove_flow(&a->base, gone[i]);
    }
    free(gone);
    HMAP_FOR_EACH (nf, node, &j->base.flows) {
        ofsync_state_put_flow(&a->desired, nf);
    }
    /* Groups: the gone ones out; then the decoded flows and groups into
     * the base. */
    for (size_t i = 0; i < j->n_gone_groups; i++) {
        ofsync_state_delete_group(&a->base, j->gone_groups[i]);
        ofsync_state_delete_group(&a->desired, j->gone_groups[i]);
    }
    ofsync_state_move_into(&a->base, &j->base);

    /* The desired group of each service whose group was decoded anew or
     * whose settings changed, as for a health change. */
    size_t n = 0;
    for (size_t i = 0; i < c->ir.n_groups; i++) {
        const struct ir_group *ig = &c->ir.groups[i];
        struct agent_service *as = ig->service ? find_service(a, ig->service)
                                               : NULL;
        if (j->reuse.group_reused[i]
            && (!as || service_settings_same(as->prev_svc,
                                             agent_service_spec(a, as)))) {
            continue;
        }
        remake_desired_group(a, sc, ig);
        n++;
    }
    *n_rebuilt = n;
    return true;
}

/* Whether the desired state of 'old' or 'c' may hold more than the groups
 * made from the base (expire_nodest_conn flows, VIPs withdrawn by
 * quorum). */
static bool
needs_whole_build(const struct agent *a, const struct compiled *old,
                  const struct compiled *c)
{
    if (a->opts.expire_nodest_conn) {
        return true;
    }
    for (int k = 0; k < 2; k++) {
        const struct lb_spec *spec = k ? &c->spec : &old->spec;
        for (size_t i = 0; i < spec->n_services; i++) {
            const struct lb_service *svc = &spec->services[i];
            if (svc->expire_nodest_conn || svc->quorum) {
                return true;
            }
        }
    }
    const struct agent_service *as;
    HMAP_FOR_EACH (as, node, &a->services) {
        if (as->withdrawn) {
            return true;
        }
    }
    return false;
}

/* install_job() with the file's weights. */
static bool
install_job__(struct agent *a, struct reload_job *j, struct swconn *sc,
              struct ds *errors, size_t *n_rebuilt)
{
    struct compiled *c = j->c;
    *n_rebuilt = SIZE_MAX;
    if (!c) {
        if (j->errors.length) {
            ds_put_buffer(errors, j->errors.string, j->errors.length);
        }
        return false;
    }
    j->c = NULL;

    /* The new tables, with the state of the running ones. */
    long long int t0 = time_msec();
    carry_state(a, &j->reals, &j->services);
    hmap_swap(&a->reals, &j->reals);
    hmap_swap(&a->services, &j->services);
    /* The services' 'active' sets move to the new tables (the old ones are
     * in the job now, freed with it). */
    struct agent_service *ns;
    HMAP_FOR_EACH (ns, node, &a->services) {
        struct agent_service *os = find_service__(&j->services, ns->name);
        if (os) {
            struct sset *t = ns->active;
            ns->active = os->active;
            os->active = t;
        }
    }

    struct compiled *old = a->cur;
    a->cur = c;
    a->index_stale = true;
    long long int t1 = time_msec();
    set_health_targets(a, c);
    long long int t2 = time_msec();
    bool reused = (j->reusing && (j->reuse.n_groups_reused
                                  || j->reuse.n_flows_reused));
    /* Entries taken from the running base were decoded with its ports
     * unless it needed none. */
    bool ports_free = j->ports_free && (!reused || a->ports_free);
    bool ports_ok = ports_free || (a->ports == j->ports_of
                                   && a->ports_seqno == j->ports_seqno);
    a->ports_free = ports_free;
    bool base_ok = !a->base_dirty && ports_ok;
    if (base_ok && reused && old->group_fp && c->group_fp
        && !a->desired_dirty && !needs_whole_build(a, old, c)) {
        index_services(a);
        if (patch_running(a, j, sc, n_rebuilt)) {
            a->desired_seqno++;
            a->n_reloads_patched++;
            VLOG_DBG("reload, in the loop: tables %lld ms, health targets "
                     "%lld ms, state patched in %lld ms", t1 - t0, t2 - t1,
                     time_msec() - t2);
            j->c = old;         /* Freed with the job, out of the loop. */
            return true;
        }
    }
    if (base_ok && reused && !take_reused(a, j, old)) {
        VLOG_WARN("reload: the running base changed under the reload; "
                  "decoding the whole pipeline again");
        base_ok = false;
    }
    if (base_ok) {
        ofsync_state_swap(&a->base, &j->base);
        bool incremental = (old->group_fp && c->group_fp && !a->desired_dirty
                            && !needs_whole_build(a, old, c));
        if (incremental) {
            index_services(a);
            *n_rebuilt = update_groups(a, sc, old);
        }
        if (*n_rebuilt != SIZE_MAX) {
            a->desired_seqno++;
        } else if (incremental) {
            /* The desired state starts as a copy of the base made there;
             * unchanged services keep their group. */
            ofsync_state_swap(&a->desired, &j->desired);
            if (reused) {
                complete_desired_flows(a, &j->desired);
            }
            *n_rebuilt = reuse_groups(a, sc, old, &j->desired);
            a->desired_seqno++;
        } else {
            ofsync_state_swap(&a->desired, &j->desired);
            /* Partial when entries were taken from the running base:
             * then made again from the whole base. */
            a->desired_prefilled = !reused;
            a->desired_dirty = true;
        }
    } else {
        a->base_dirty = true;
    }
    VLOG_DBG("reload, in the loop: tables %lld ms, health targets %lld ms, "
             "desired groups %lld ms", t1 - t0, t2 - t1, time_msec() - t2);
    /* Freed with the job, out of the loop. */
    j->c = old;
    return true;
}

/* Takes a reload that changes only weights into use: the file's new
 * weights into the running spec and the agent's tables, and each changed
 * service lowered again alone (with the administrative weights). */
static void
install_weights(struct agent *a, struct reload_job *j)
{
    struct compiled *c = a->cur;
    ovs_assert(c == j->lender);     /* Kept by the loop during the job. */
    pthread_mutex_lock(&c->spec_mutex);
    size_t first_real = 0, s = 0;   /* Of service 's' in 'configured'. */
    for (size_t k = 0; k < j->edits.n; k++) {
        const struct lb_weight_edit *e = &j->edits.edits[k];
        for (; s < e->service; s++) {
            first_real += c->spec.services[s].n_reals;
        }
        struct lb_service *svc = &c->spec.services[e->service];
        for (size_t r = 0; r < svc->n_reals; r++) {
            c->configured[first_real + r] = e->svc.reals[r].weight;
            svc->reals[r].weight = e->svc.reals[r].weight;
            svc->reals[r].weight_loc = e->svc.reals[r].weight_loc;
        }
        c->memo.pieces[e->service] = e->piece;
    }
    pthread_mutex_unlock(&c->spec_mutex);
    bool alone = true;
    for (size_t k = 0; k < j->edits.n; k++) {
        const struct lb_service *svc = &c->spec.services[j->edits.edits[k]
                                                         .service];
        uint32_t basis = hash_string(svc->name, 0);
        for (size_t r = 0; r < svc->n_reals; r++) {
            struct agent_real *ar = find_service_real(&a->reals, svc, r,
                                                      basis);
            if (ar) {
                ar->configured = svc->reals[r].weight;
            }
        }
        alone = alone && relower_service(a, svc->name);
    }
    if (!alone) {
        relower_whole(a);
    }
    j->weights_whole = !alone;
    c->loaded = time_wall_msec();
    a->n_reloads_patched++;
}

/* Takes the result of the finished job into use (main thread). Returns
 * false if refused; else sets '*n_rebuilt' to the number of groups made
 * again in the loop (SIZE_MAX: the whole desired state is). 'plan': the
 * services added in place, if any. */
static bool
install_job(struct agent *a, struct reload_job *j, struct swconn *sc,
            struct ds *errors, size_t *n_rebuilt, struct append_plan *plan)
{
    if (j->weights_only) {
        /* The added services first: the edited ones are then lowered
         * again in the longer pipeline (or all of it, if they must be). */
        if (j->edits.n_added) {
            j->n_flows_added = append_apply(a, &j->edits, plan);
            a->n_services_appended += j->edits.n_added;
        }
        install_weights(a, j);
        /* The memo's pieces are the new text's now: the text with them;
         * the old one's buffer reads the next. */
        lb_text_memo_keep_text(&a->cur->memo, &a->read_buf,
                               j->edits.text_len);
        *n_rebuilt = j->edits.n + j->edits.n_added;
        return true;
    }
    if (!install_job__(a, j, sc, errors, n_rebuilt)) {
        return false;
    }
    /* The job lowered with the file's weights: the services with
     * administrative ones are lowered again, each alone if it can be. */
    if (!relower_admin_services(a)) {
        relower_whole(a);
    }
    return true;
}

static void
finish_job(struct agent *a, struct swconn *sc)
{
    struct reload_job *j = a->job;
    a->job = NULL;
    if (!pthread_equal(j->thread, pthread_self())) {
        pthread_join(j->thread, NULL);
    }
    j->thread = pthread_self();
    long long int t0 = time_msec();
    struct append_plan plan;
    const char *why;
    if (j->weights_only && j->edits.n_added
        && !append_prepare(a, &j->edits, &plan, &why)) {
        /* Nothing changed yet: the same file again, as a whole reload, for
         * the same waiters. */
        VLOG_INFO("reloading %s: %"PRIuSIZE" service(s) added, not in "
                  "place (%s): the whole spec", a->spec_path,
                  j->edits.n_added, why);
        reap_job(a, j);
        start_job(a, true);
        return;
    }
    struct ds errors = DS_EMPTY_INITIALIZER;
    size_t n_rebuilt;
    unsigned int n_patched = a->n_reloads_patched;
    bool ok = install_job(a, j, sc, &errors, &n_rebuilt, &plan);
    a->n_reloads_compared += ok && (j->weights_only ? j->edits.compared
                                    : a->cur->memo.compared);
    if (ok && j->weights_only && j->edits.n_added) {
        VLOG_INFO("reloaded %s: %"PRIuSIZE" services, %"PRIuSIZE" flows, %"
                  PRIuSIZE" groups; %"PRIuSIZE" service(s) added in place "
                  "(%"PRIuSIZE" flows), weights changed in %"PRIuSIZE
                  " service(s) (in the background: read and compared in "
                  "%lld ms; then %lld ms in the loop, %s)", a->spec_path,
                  a->cur->spec.n_services, a->cur->ir.n_flows,
                  a->cur->ir.n_groups, j->edits.n_added, j->n_flows_added,
                  j->edits.n, j->ms_load, time_msec() - t0,
                  j->weights_whole ? "the whole spec lowered again"
                  : "each lowered alone");
    } else if (ok && j->weights_only) {
        VLOG_INFO("reloaded %s: %"PRIuSIZE" services, %"PRIuSIZE" flows, %"
                  PRIuSIZE" groups; only weights changed, in %"PRIuSIZE
                  " service(s) (in the background: read and compared in "
                  "%lld ms; then %lld ms in the loop, %s)", a->spec_path,
                  a->cur->spec.n_services, a->cur->ir.n_flows,
                  a->cur->ir.n_groups, j->edits.n, j->ms_load,
                  time_msec() - t0,
                  j->weights_whole ? "the whole spec lowered again"
                  : "each lowered again alone");
    } else if (ok) {
        char rebuilt[80];
        if (n_rebuilt == SIZE_MAX) {
            snprintf(rebuilt, sizeof rebuilt, "whole desired state next");
        } else {
            snprintf(rebuilt, sizeof rebuilt, "%s%"PRIuSIZE" group(s) made "
                     "again", a->n_reloads_patched != n_patched
                     ? "running state patched, " : "", n_rebuilt);
        }
        VLOG_INFO("reloaded %s: %"PRIuSIZE" services, %"PRIuSIZE" flows, %"
                  PRIuSIZE" groups (in the background: read and checked in "
                  "%lld ms, %"PRIuSIZE" services' text unchanged and not "
                  "parsed, lowered in %lld ms, %"PRIuSIZE" services copied, "
                  "decoded in %lld ms, %"PRIuSIZE
                  " flows and %"PRIuSIZE" groups unchanged and not decoded; "
                  "then %lld ms in the loop, %s)", a->spec_path,
                  a->cur->spec.n_services, a->cur->ir.n_flows,
                  a->cur->ir.n_groups, j->ms_load,
                  a->cur->n_services_reused, j->ms_lower,
                  a->cur->n_services_copied, j->ms_base,
                  j->reusing ? j->reuse.n_flows_reused : 0,
                  j->reusing ? j->reuse.n_groups_reused : 0,
                  time_msec() - t0, rebuilt);
    } else {
        VLOG_ERR("reload of %s refused, running state kept:\n%s",
                 a->spec_path, ds_cstr(&errors));
    }
    /* What the job holds now is the previous state: hundreds of thousands
     * of blocks at 10k x 32, freed out of the loop; but its text's buffer
     * reads the next reload's text. */
    if (j->c) {
        lb_text_memo_give_buffer(&j->c->memo, &a->read_buf);
    }
    reap_job(a, j);
    struct reload_waiters *ws = a->waiting;
    a->waiting = NULL;
    if (a->next_wanted) {
        a->next_wanted = false;
        a->waiting = a->next;
        a->next = NULL;
        start_job(a, false);
    }
    ds_chomp(&errors, '\n');
    for (size_t i = 0; ws && i < ws->n; i++) {
        ws->w[i].cb(ok, ds_cstr(&errors), ws->w[i].aux);
    }
    waiters_free(ws);
    ds_destroy(&errors);
}

bool
agent_reload(struct agent *a, struct ds *errors)
{
    ovs_assert(!a->job);        /* It may be reading a->cur. */
    struct compiled *c = load_spec(a, errors);
    if (!c) {
        VLOG_ERR("reload of %s refused, running state kept:\n%s",
                 a->spec_path, ds_cstr(errors));
        return false;
    }
    /* Entries are pruned only once the new spec is accepted, so that a
     * refused one loses no administrative override. */
    sync_tables(a, c, false);
    if (!lower(a, c, errors)) {
        VLOG_ERR("reload of %s refused, running state kept:\n%s",
                 a->spec_path, ds_cstr(errors));
        lb_text_memo_give_buffer(&c->memo, &a->read_buf);
        compiled_destroy(c);
        sync_tables(a, a->cur, false);
        return false;
    }
    sync_tables(a, c, true);
    if (a->cur) {
        lb_text_memo_give_buffer(&a->cur->memo, &a->read_buf);
    }
    compiled_destroy(a->cur);
    a->cur = c;
    a->index_stale = true;
    set_health_targets(a, c);
    a->base_dirty = true;
    a->ports_free = false;      /* Not known for this spec: use the ports. */
    VLOG_INFO("reloaded %s: %"PRIuSIZE" services, %"PRIuSIZE" flows, %"
              PRIuSIZE" groups", a->spec_path, c->spec.n_services,
              c->ir.n_flows, c->ir.n_groups);
    return true;
}

void
agent_reload_run(struct agent *a, struct swconn *sc)
{
    if (a->job) {
        if (atomic_load(&a->job->done)) {
            finish_job(a, sc);
        } else {
            latch_wait(&a->job->done_latch);
        }
    }
}

void
agent_reload_destroy(struct agent *a)
{
    /* A reload still running is waited for and dropped; its waiters (unixctl
     * connections) are gone with the server already. */
    job_destroy(a->job);
    reaper_join(a);
    waiters_free(a->waiting);
    waiters_free(a->next);
}
