/* The agent's core (see agent.h): its tables of services and reals, the
 * spec loaded and lowered with the administrative weights, health changes
 * turned into group rebuilds (agent_run()), lc/wlc weights and the
 * administrative commands. The reload job, the decoding of the IR, the
 * desired state and flowlb/show have files of their own (agent_*.c). */
#include <config.h>
#include "agent.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "agent_private.h"
#include "check.h"
#include "connload.h"
#include "diag.h"
#include "hash.h"
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
#include "timeval.h"
#include "util.h"
#include "values.h"

VLOG_DEFINE_THIS_MODULE(agent);

/* 'basis' is hash_string(service, 0): the hash of the service's entry. */
struct agent_real *
find_real__(const struct hmap *reals, const char *service, uint32_t basis,
            const char *addr)
{
    struct agent_real *r;
    HMAP_FOR_EACH_WITH_HASH (r, node, hash_string(addr, basis), reals) {
        if (!strcmp(r->addr, addr) && !strcmp(r->service, service)) {
            return r;
        }
    }
    return NULL;
}

struct agent_real *
find_service_real(const struct hmap *reals, const struct lb_service *svc,
                  size_t k, uint32_t basis)
{
    char addr[INET6_ADDRSTRLEN];
    lb_addr_format(&svc->reals[k].addr, addr, sizeof addr);
    return find_real__(reals, svc->name, basis, addr);
}

struct agent_real *
find_real(const struct agent *a, const char *service, const char *addr)
{
    return find_real__(&a->reals, service, hash_string(service, 0), addr);
}

struct agent_service *
find_service__(const struct hmap *services, const char *name)
{
    struct agent_service *s;
    HMAP_FOR_EACH_WITH_HASH (s, node, hash_string(name, 0), services) {
        if (!strcmp(s->name, name)) {
            return s;
        }
    }
    return NULL;
}

struct agent_service *
find_service(const struct agent *a, const char *name)
{
    return find_service__(&a->services, name);
}

/* The weight an operator gave the real (spec or set-weight; 0 drained). */
uint32_t
admin_weight(const struct agent_real *r)
{
    return r->drained ? 0 : r->has_override ? r->override : r->configured;
}

/* The weight the real is lowered with: lc/wlc replace a nonzero
 * administrative weight by one derived from connection counts. */
uint32_t
effective_admin_weight(const struct agent_real *r)
{
    uint32_t w = admin_weight(r);
    return w && r->has_dyn ? r->dyn : w;
}

void
compiled_destroy(struct compiled *c)
{
    if (c) {
        ir_destroy(&c->ir);
        lb_text_memo_destroy(&c->memo);
        pthread_mutex_destroy(&c->spec_mutex);
        free(c->group_fp);
        free(c->flow_fp);
        free(c->configured);
        free(c->admin_lowered);
        lb_spec_index_destroy(c->index);
        lb_spec_destroy(&c->spec);
        diag_destroy(&c->diag);
        free(c);
    }
}

void
diag_to_ds(const struct diag *d, struct ds *out)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f) {
        diag_print(d, f);
        fclose(f);
        ds_put_buffer(out, buf, len);
        free(buf);
    }
}

bool
has_admin_weight(const struct agent_real *r)
{
    return r->has_override || r->drained || r->has_dyn;
}

/* Sets each real's weight in 'spec' to its administrative weight. */
static void
apply_admin_weights(struct agent *a, struct compiled *c)
{
    /* Usually nothing to do: no override, drain or lc weight anywhere,
     * and the spec's weights never changed from what the file says. Only
     * the services of 'admin_services' ever had their weights changed. */
    bool any = c->admin_applied || !sset_is_empty(&a->admin_services);
    c->admin_applied = any;
    struct lb_spec *spec = &c->spec;
    for (size_t i = 0; any && i < spec->n_services; i++) {
        struct lb_service *svc = &spec->services[i];
        if (sset_contains(&a->admin_services, svc->name)
            && set_service_admin_weights(a, svc)) {
            mark_admin_lowered(c, i, true);
        }
    }
}

/* Loads and checks 'spec_path', taking the services whose text did not
 * change from 'prev' (may be NULL; must stay until this returns; another
 * thread may only change its spec's weights, under its 'spec_mutex').
 * Returns NULL with diagnostics in 'errors' if the spec has errors. Does
 * not lower (see relower()). */
struct compiled *
load_spec_path(const char *spec_path, struct ds *errors,
               struct compiled *prev, struct lb_text_buf *buf)
{
    struct compiled *c = xzalloc(sizeof *c);
    diag_init(&c->diag);
    lb_spec_init(&c->spec);
    ir_init(&c->ir);
    pthread_mutex_init(&c->spec_mutex, NULL);
    c->loaded = time_wall_msec();
    struct lb_spec_lender lender = {
        .spec = prev ? &prev->spec : NULL,
        .memo = prev ? &prev->memo : NULL,
        .weights = prev ? prev->configured : NULL,
        .mutex = prev ? &prev->spec_mutex : NULL,
    };
    bool ok = lb_spec_load_reusing(spec_path, &c->spec, &c->diag,
                                   prev && prev->memo.n ? &lender : NULL,
                                   &c->memo, &c->n_services_reused, buf)
              && lb_check(&c->spec, &c->diag);
    if (!ok || diag_has_errors(&c->diag)) {
        diag_to_ds(&c->diag, errors);
        if (buf) {
            lb_text_memo_give_buffer(&c->memo, buf);
        }
        compiled_destroy(c);
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < c->spec.n_services; i++) {
        n += c->spec.services[i].n_reals;
        c->uses_lc |= is_lc(&c->spec.services[i]);
    }
    c->configured = xcalloc(MAX(n, 1), sizeof *c->configured);
    c->n_configured = n;
    c->admin_lowered = xcalloc(MAX(c->spec.n_services, 1),
                               sizeof *c->admin_lowered);
    n = 0;
    for (size_t i = 0; i < c->spec.n_services; i++) {
        for (size_t j = 0; j < c->spec.services[i].n_reals; j++) {
            c->configured[n++] = c->spec.services[i].reals[j].weight;
        }
    }
    if (c->diag.n_warnings) {
        struct ds w = DS_EMPTY_INITIALIZER;
        diag_to_ds(&c->diag, &w);
        VLOG_WARN("%s", ds_cstr(&w));
        ds_destroy(&w);
    }
    return c;
}

struct compiled *
load_spec(struct agent *a, struct ds *errors)
{
    return load_spec_path(a->spec_path, errors, a->cur, &a->read_buf);
}

/* Lowers 'c' as it is (touches nothing else: runs in the reload thread),
 * copying from 'prev' (may be NULL; another thread may only lower it
 * again, under its 'spec_mutex') the services 'c' took from it unchanged,
 * unless administrative weights made its pipeline differ from its spec.
 * 'prev_group_fp' and 'prev_flow_fp' (may be NULL) are the fingerprints of
 * prev's groups and flows: the copies carry them (not computed again). */
bool
lower_plain_reusing(const struct lower_options *lo, struct compiled *c,
                    struct compiled *prev, const uint64_t *prev_group_fp,
                    const uint64_t *prev_flow_fp, struct ds *errors)
{
    ir_destroy(&c->ir);
    ir_init(&c->ir);
    free(c->group_fp);
    c->group_fp = NULL;
    free(c->flow_fp);
    c->flow_fp = NULL;
    size_t n_errors = c->diag.n_errors;
    struct lower_lender lender = {
        .spec = prev ? &prev->spec : NULL,
        .ir = prev ? &prev->ir : NULL,
        .taken_from = c->memo.taken_from,
        .group_fp = prev_group_fp,
        .flow_fp = prev_flow_fp,
    };
    bool locked = prev && c->memo.taken_from;
    if (locked) {
        pthread_mutex_lock(&prev->spec_mutex);
    }
    /* Services lowered there with administrative weights are lowered
     * here from the file's (the agent applies its weights afterwards). */
    size_t *taken_from = NULL;
    if (locked && prev->n_admin_lowered) {
        taken_from = xmalloc(MAX(c->spec.n_services, 1) * sizeof *taken_from);
        for (size_t i = 0; i < c->spec.n_services; i++) {
            size_t k = c->memo.taken_from[i];
            taken_from[i] = (k != SIZE_MAX && k < prev->spec.n_services
                             && prev->admin_lowered[k]) ? SIZE_MAX : k;
        }
        lender.taken_from = taken_from;
    }
    bool ok = lower_spec_reusing(&c->spec, lo, &c->ir, &c->diag,
                                 locked ? &lender : NULL,
                                 &c->n_services_copied);
    if (locked) {
        pthread_mutex_unlock(&prev->spec_mutex);
    }
    free(taken_from);
    if (!ok || c->diag.n_errors > n_errors) {
        diag_to_ds(&c->diag, errors);
        return false;
    }
    return true;                /* lower_spec() sorted the IR already. */
}

bool
lower_plain(const struct lower_options *lo, struct compiled *c,
            struct ds *errors)
{
    return lower_plain_reusing(lo, c, NULL, NULL, NULL, errors);
}

/* Lowers 'c' with the administrative weights applied. */
bool
lower(struct agent *a, struct compiled *c, struct ds *errors)
{
    /* A reload may be copying from 'c' (see lower_plain_reusing()). */
    pthread_mutex_lock(&c->spec_mutex);
    a->n_relowered_whole++;
    apply_admin_weights(a, c);
    if (c == a->cur) {
        a->index_stale = true;
    }
    bool ok = lower_plain(&a->opts.lower, c, errors);
    pthread_mutex_unlock(&c->spec_mutex);
    return ok;
}

static void
service_free(struct agent_service *s)
{
    sset_destroy(s->active);
    free(s->active);
    free(s->name);
    free(s);
}

/* Frees every entry of the tables 'reals' and 'services' (left empty). */
void
tables_clear(struct hmap *reals, struct hmap *services)
{
    struct agent_real *r;
    HMAP_FOR_EACH_POP (r, node, reals) {
        free(r);
    }
    struct agent_service *s;
    HMAP_FOR_EACH_POP (s, node, services) {
        service_free(s);
    }
}

/* Makes the (service, real) and service tables 'reals' and 'services'
 * match 'c': new entries get the spec's weights; overrides of reals still
 * present survive. Entries not in 'c' are dropped if 'prune'. Touches
 * nothing else (runs in other threads on tables of their own). */
void
tables_put_service(struct hmap *reals, struct hmap *services,
                   const struct lb_service *svc, const uint32_t *configured)
{
    struct agent_service *s = find_service__(services, svc->name);
    if (!s) {
        s = xzalloc(sizeof *s);
        s->name = xstrdup(svc->name);
        s->active = xmalloc(sizeof *s->active);
        sset_init(s->active);
        s->svc_idx = SIZE_MAX;      /* Not indexed yet. */
        hmap_insert(services, &s->node, hash_string(s->name, 0));
    }
    s->seen = true;
    uint32_t basis = s->node.hash;
    for (size_t j = 0; j < svc->n_reals; j++) {
        char addr[INET6_ADDRSTRLEN];
        lb_addr_format(&svc->reals[j].addr, addr, sizeof addr);
        struct agent_real *r = find_real__(reals, s->name, basis, addr);
        if (!r) {
            r = xzalloc(sizeof *r);
            r->service = s->name;
            ovs_strlcpy(r->addr, addr, sizeof r->addr);
            hmap_insert(reals, &r->node, hash_string(r->addr, basis));
        }
        r->configured = configured[j];
        r->seen = true;
    }
}

void
sync_tables__(struct hmap *reals, struct hmap *services,
              const struct compiled *c, bool prune)
{
    size_t k = 0;
    struct agent_real *r;
    HMAP_FOR_EACH (r, node, reals) {
        r->seen = false;
    }
    /* Sized once: growing to 320,000 entries rehashes them all ~19 times. */
    size_t n_reals = 0;
    for (size_t i = 0; i < c->spec.n_services; i++) {
        n_reals += c->spec.services[i].n_reals;
    }
    hmap_reserve(reals, n_reals);
    hmap_reserve(services, c->spec.n_services);
    struct agent_service *s;
    HMAP_FOR_EACH (s, node, services) {
        s->seen = false;
    }
    for (size_t i = 0; i < c->spec.n_services; i++) {
        const struct lb_service *svc = &c->spec.services[i];
        tables_put_service(reals, services, svc, &c->configured[k]);
        k += svc->n_reals;
    }
    if (!prune) {
        return;
    }
    /* Reals first: a real's service name is its service's. */
    HMAP_FOR_EACH_SAFE (r, node, reals) {
        if (!r->seen) {
            hmap_remove(reals, &r->node);
            free(r);
        }
    }
    HMAP_FOR_EACH_SAFE (s, node, services) {
        if (!s->seen) {
            hmap_remove(services, &s->node);
            service_free(s);
        }
    }
}

void
sync_tables(struct agent *a, const struct compiled *c, bool prune)
{
    sync_tables__(&a->reals, &a->services, c, prune);
}

/* Only the reals of services with a check: the monitor ignores the others
 * (at 10k x 32 with few checked services, this spares the loop a copy of
 * 320,000 targets at each reload). */
void
set_health_targets(struct agent *a, const struct compiled *c)
{
    if (!a->hm) {
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < c->spec.n_services; i++) {
        if (c->spec.services[i].check.type != LB_CHECK_NONE) {
            n += c->spec.services[i].n_reals;
        }
    }
    struct health_target *t = xcalloc(MAX(n, 1), sizeof *t);
    size_t k = 0;
    for (size_t i = 0; i < c->spec.n_services; i++) {
        k += service_health_targets(&c->spec.services[i], &t[k]);
    }
    health_monitor_set_targets(a->hm, t, k);
    free(t);
}

size_t
service_health_targets(const struct lb_service *svc, struct health_target *t)
{
    if (svc->check.type == LB_CHECK_NONE) {
        return 0;
    }
    for (size_t j = 0; j < svc->n_reals; j++) {
        t[j] = (struct health_target) {
            .service = svc->name,
            .addr = svc->reals[j].addr,
            .port = svc->port,
            .check = svc->check,
            .source = svc->check.source,
        };
    }
    return svc->n_reals;
}

/* CPU time of the calling thread, in ms (wall times mean little on a
 * loaded machine). */
long long int
thread_cpu_msec(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)) {
        return 0;
    }
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* sync_tables() of a new agent, in a thread of its own. */
struct tables_job {
    pthread_t thread;
    struct agent *a;
    struct compiled *c;
    long long int ms, cpu_ms;
};

static void *
tables_main(void *tj_)
{
    struct tables_job *tj = tj_;
    long long int t0 = time_msec();
    long long int c0 = thread_cpu_msec();
    sync_tables(tj->a, tj->c, true);
    /* For a reload that adds services (append_prepare()). */
    tj->c->index = lb_spec_index_create(&tj->c->spec);
    /* The spec's text went to its memo; the first reload reads into a
     * buffer as large, faulted in now rather than then. */
    lb_text_buf_prepare(&tj->a->read_buf, tj->c->memo.text.allocated);
    tj->ms = time_msec() - t0;
    tj->cpu_ms = thread_cpu_msec() - c0;
    return NULL;
}

struct agent *
agent_create(const char *spec_path, const struct agent_options *opts,
             struct health_monitor *hm, struct ds *errors)
{
    struct agent *a = xzalloc(sizeof *a);
    a->spec_path = xstrdup(spec_path);
    a->opts = *opts;
    a->hm = hm;
    hmap_init(&a->reals);
    hmap_init(&a->services);
    ofsync_state_init(&a->base);
    ofsync_state_init(&a->desired);
    sset_init(&a->dirty_services);
    sset_init(&a->admin_services);

    long long int t0 = time_msec();
    struct compiled *c = load_spec(a, errors);
    if (!c) {
        agent_destroy(a);
        return NULL;
    }
    long long int t1 = time_msec();
    /* The agent's tables are filled in a second thread while this one
     * lowers: both only read the spec (no administrative weight exists
     * yet, so lowering needs nothing from the tables). */
    struct tables_job tj = { .a = a, .c = c };
    bool threaded = !pthread_create(&tj.thread, NULL, tables_main, &tj);
    if (!threaded) {
        tables_main(&tj);
    }
    bool ok = lower_plain(&a->opts.lower, c, errors);
    if (threaded) {
        pthread_join(tj.thread, NULL);
    }
    if (!ok) {
        compiled_destroy(c);
        agent_destroy(a);
        return NULL;
    }
    long long int t2 = time_msec();
    a->cur = c;
    a->index_stale = true;
    set_health_targets(a, c);
    long long int t3 = time_msec();

    /* The base state now, before the switch is connected (whose hello and
     * echo requests would otherwise wait for it), without the switch's
     * port names: if no flow needs one, it stays valid whatever ports the
     * switch has; else it is made again once they are known. */
    c->group_fp = xcalloc(MAX(c->ir.n_groups, 1), sizeof *c->group_fp);
    c->flow_fp = xcalloc(MAX(c->ir.n_flows, 1), sizeof *c->flow_fp);
    size_t n_errors = build_base_into(&a->base, &a->desired, &c->ir, NULL,
                                      false, true, c->group_fp,
                                      &c->flows_fp, c->flow_fp, NULL);
    a->ports_free = !n_errors;
    a->base_dirty = !a->ports_free;
    a->desired_prefilled = a->ports_free;
    a->desired_dirty = true;
    VLOG_INFO("%s: %"PRIuSIZE" services, %"PRIuSIZE" flows, %"PRIuSIZE
              " groups (read and checked in %lld ms; lowered in %lld ms, "
              "tables %lld ms (%lld ms CPU) of it; health targets %lld ms; "
              "decoded in %lld ms%s)", spec_path, c->spec.n_services,
              c->ir.n_flows, c->ir.n_groups, t1 - t0, t2 - t1, tj.ms,
              tj.cpu_ms, t3 - t2,
              time_msec() - t3,
              a->ports_free ? "" : ", again once the ports are known");
    return a;
}

void
agent_destroy(struct agent *a)
{
    if (!a) {
        return;
    }
    agent_reload_destroy(a);
    compiled_destroy(a->cur);
    tables_clear(&a->reals, &a->services);
    hmap_destroy(&a->reals);
    hmap_destroy(&a->services);
    ofsync_state_destroy(&a->base);
    ofsync_state_destroy(&a->desired);
    sset_destroy(&a->dirty_services);
    sset_destroy(&a->admin_services);
    lb_text_buf_destroy(&a->read_buf);  /* No job runs any more. */
    free(a->spec_path);
    free(a);
}

static void
take_health_changes(struct agent *a)
{
    if (!a->hm) {
        return;
    }
    struct health_change *changes;
    size_t n = health_monitor_take_changes(a->hm, &changes);
    for (size_t i = 0; i < n; i++) {
        const struct health_change *c = &changes[i];
        char addr[INET6_ADDRSTRLEN];
        lb_addr_format(&c->addr, addr, sizeof addr);
        bool was_up = health_state_is_up(c->old_state);
        bool is_up = health_state_is_up(c->new_state);
        if (was_up != is_up) {
            VLOG_WARN("service %s real %s: %s -> %s (%s)", c->service, addr,
                      health_state_name(c->old_state),
                      health_state_name(c->new_state), c->verdict.text);
            sset_add(&a->dirty_services, c->service);
            if (!a->verdict_usec) {
                a->verdict_usec = time_usec();
                a->verdict_seqno = 0;
            }
        } else {
            VLOG_INFO("service %s real %s: %s -> %s (%s)", c->service, addr,
                      health_state_name(c->old_state),
                      health_state_name(c->new_state), c->verdict.text);
        }
    }
    health_changes_destroy(changes, n);
}

/* Logs and counts how long the switch took to hold the state that a health
 * verdict called for: the desired state built after the verdict, or any
 * later one, acknowledged (the bundle's barrier reply, or nothing to
 * send). The end is when the barrier reply was read, not now: the loop
 * runs the health checks between reading it and coming here. */
static void
check_failover_committed(struct agent *a, struct swconn *sc)
{
    if (!a->verdict_usec || !a->verdict_seqno
        || (int) (a->desired_seqno - a->verdict_seqno) < 0
        || !swconn_is_synced(sc, a->desired_seqno)) {
        return;
    }
    long long int end = swconn_last_commit_usec(sc);
    if (end <= a->verdict_usec) {
        end = time_usec();      /* Nothing was sent for it. */
    }
    long long int took = end - a->verdict_usec;

    a->last_failover_usec = took;
    a->max_failover_usec = MAX(a->max_failover_usec, took);
    a->n_failovers++;
    a->verdict_usec = 0;
    VLOG_INFO("health verdict in the switch %lld.%03lld ms after it was "
              "reached", took / 1000, took % 1000);
}

void
agent_run(struct agent *a, struct swconn *sc)
{
    agent_reload_run(a, sc);
    check_failover_committed(a, sc);
    take_health_changes(a);
    long long int t0 = time_msec();
    bool ports_changed = a->ports_seqno != swconn_ports_seqno(sc);
    a->ports = swconn_port_map(sc);
    if (ports_changed) {
        a->ports_seqno = swconn_ports_seqno(sc);
    }
    if (a->base_dirty || (ports_changed && !a->ports_free)) {
        build_base(a, a->ports);
        a->base_dirty = false;
        a->desired_dirty = true;
        VLOG_DBG("base state rebuilt in %lld ms", time_msec() - t0);
    }
    if (!a->desired_dirty && !sset_is_empty(&a->dirty_services)) {
        const char *name;
        SSET_FOR_EACH (name, &a->dirty_services) {
            if (!update_service(a, sc, name)) {
                a->desired_dirty = true;
                break;
            }
        }
    }
    sset_clear(&a->dirty_services);
    if (a->desired_dirty) {
        long long int t1 = time_msec();
        build_desired(a, sc);
        a->desired_dirty = false;
        VLOG_DBG("desired state rebuilt in %lld ms", time_msec() - t1);
    }
    if (a->verdict_usec && !a->verdict_seqno) {
        /* Built now (or unchanged: then already acknowledged). */
        a->verdict_seqno = a->desired_seqno ? a->desired_seqno : 1;
    }
}

void
agent_ct_policy(const struct agent *a, uint16_t *zone, uint32_t *udp_s)
{
    *zone = a->opts.lower.ct_zone;
    *udp_s = a->cur->ir.udp_timeout_s;
}

bool
is_lc(const struct lb_service *svc)
{
    return svc->scheduler == LB_SCHED_LC || svc->scheduler == LB_SCHED_WLC;
}

bool
agent_uses_connload(const struct agent *a)
{
    return a->cur->uses_lc;
}

/* IPVS lc sends a new connection to the real with the fewest active ones,
 * wlc to the one with the fewest per unit of weight. A hash group can only
 * approximate that: each real's share is made proportional to
 * 1 / (active + 1) (lc) or weight / (active + 1) (wlc), rescaled so that
 * the largest is 1000. Weights change only when some share moves by more
 * than a quarter, so that counts jittering by one do not rewrite groups. */
bool
agent_apply_connload(struct agent *a, const struct connload *cl)
{
    bool changed = false, relower_all = false;
    const struct lb_spec *spec = &a->cur->spec;
    for (size_t i = 0; i < spec->n_services; i++) {
        const struct lb_service *svc = &spec->services[i];
        if (!is_lc(svc)) {
            continue;
        }
        size_t n = svc->n_reals;
        struct agent_real **rs = xcalloc(MAX(n, 1), sizeof *rs);
        double *target = xcalloc(MAX(n, 1), sizeof *target);
        double max_t = 0, max_old = 0;
        for (size_t j = 0; j < n; j++) {
            char addr[INET6_ADDRSTRLEN];
            lb_addr_format(&svc->reals[j].addr, addr, sizeof addr);
            struct agent_real *r = find_real(a, svc->name, addr);
            uint32_t base = r ? admin_weight(r) : 0;
            if (!base) {
                continue;
            }
            rs[j] = r;
            r->conns = connload_get(cl, lower_real_mark(&svc->reals[j].addr));
            target[j] = (svc->scheduler == LB_SCHED_WLC ? base : 1.0)
                        / (r->conns + 1.0);
            max_t = MAX(max_t, target[j]);
            max_old = MAX(max_old, r->has_dyn ? r->dyn : base);
        }
        bool apply = false;
        for (size_t j = 0; j < n && max_t > 0; j++) {
            if (!rs[j]) {
                continue;
            }
            double new_share = target[j] / max_t;
            double old_share = (rs[j]->has_dyn ? rs[j]->dyn
                                : admin_weight(rs[j])) / max_old;
            if (new_share > old_share * 1.25 || new_share < old_share / 1.25) {
                apply = true;
            }
        }
        for (size_t j = 0; apply && j < n; j++) {
            if (rs[j]) {
                uint32_t w = target[j] / max_t * 1000.0 + 0.5;
                rs[j]->dyn = MAX(w, 1);
                rs[j]->has_dyn = true;
                sset_add(&a->admin_services, svc->name);
            }
        }
        if (apply) {
            struct ds d = DS_EMPTY_INITIALIZER;
            for (size_t j = 0; j < n; j++) {
                if (rs[j]) {
                    ds_put_format(&d, " %s:%"PRIu32"conn->w%"PRIu32,
                                  rs[j]->addr, rs[j]->conns, rs[j]->dyn);
                }
            }
            VLOG_INFO("service %s (%s): weights from connection counts:%s",
                      svc->name, lb_scheduler_name(svc->scheduler),
                      ds_cstr(&d));
            ds_destroy(&d);
            if (!relower_service(a, svc->name)) {
                relower_all = true;
            }
            changed = true;
        }
        free(rs);
        free(target);
    }
    if (relower_all) {
        relower_whole(a);
    }
    return changed;
}

const struct ofsync_state *
agent_desired(const struct agent *a)
{
    return &a->desired;
}

unsigned int
agent_desired_seqno(const struct agent *a)
{
    return a->desired_seqno;
}

/* --- administration ------------------------------------------------------ */

static struct agent_real *
lookup_real(struct agent *a, const char *service, const char *real,
            struct ds *err)
{
    if (!find_service(a, service)) {
        ds_put_format(err, "no service named %s", service);
        return NULL;
    }
    /* Accept any spelling of the address. */
    struct lb_addr addr;
    char canon[INET6_ADDRSTRLEN];
    if (lb_parse_addr(real, &addr)) {
        ds_put_format(err, "%s is not an IP address", real);
        return NULL;
    }
    lb_addr_format(&addr, canon, sizeof canon);
    struct agent_real *r = find_real(a, service, canon);
    if (!r) {
        ds_put_format(err, "service %s has no real %s", service, canon);
    }
    return r;
}

/* Lowers again after an administrative change of 'r': its service alone
 * if that applies, else the whole spec; on failure restores 'saved'. */
static bool
relower(struct agent *a, struct agent_real *r, struct agent_real saved,
        struct ds *err)
{
    long long int t0 = time_msec();
    if (relower_service(a, r->service)) {
        VLOG_DBG("service %s lowered again in %lld ms", r->service,
                 time_msec() - t0);
        return true;
    }
    bool ok = lower(a, a->cur, err);
    VLOG_DBG("spec lowered again in %lld ms", time_msec() - t0);
    if (!ok) {
        r->has_override = saved.has_override;
        r->override = saved.override;
        r->drained = saved.drained;
        struct ds ignored = DS_EMPTY_INITIALIZER;
        lower(a, a->cur, &ignored);
        ds_destroy(&ignored);
        return false;
    }
    a->base_dirty = true;
    return true;
}

bool
agent_set_weight(struct agent *a, const char *service, const char *real,
                 uint32_t weight, struct ds *err)
{
    struct agent_real *r = lookup_real(a, service, real, err);
    if (!r) {
        return false;
    }
    if (weight > 65535) {
        ds_put_format(err, "weight %"PRIu32" out of range (0 to 65535)",
                      weight);
        return false;
    }
    struct agent_real saved = *r;
    sset_add(&a->admin_services, r->service);
    if (weight == 0) {
        r->drained = true;
    } else {
        r->has_override = true;
        r->override = weight;
        r->drained = false;
    }
    VLOG_INFO("service %s real %s: administrative weight %"PRIu32
              " (spec: %"PRIu32")", service, r->addr, weight, r->configured);
    return relower(a, r, saved, err);
}

bool
agent_enable(struct agent *a, const char *service, const char *real,
             struct ds *err)
{
    struct agent_real *r = lookup_real(a, service, real, err);
    if (!r) {
        return false;
    }
    struct agent_real saved = *r;
    r->drained = false;
    sset_add(&a->admin_services, r->service);
    VLOG_INFO("service %s real %s: enabled, weight %"PRIu32, service,
              r->addr, effective_admin_weight(r));
    return relower(a, r, saved, err);
}

const struct ir_group *
service_group(const struct ir_pipeline *ir, const char *service)
{
    for (size_t i = 0; i < ir->n_groups; i++) {
        if (ir->groups[i].service && !strcmp(ir->groups[i].service,
                                             service)) {
            return &ir->groups[i];
        }
    }
    return NULL;
}
