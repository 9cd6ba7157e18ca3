/* The agent's model: see agent.h. */
#include <config.h>
#include "agent.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
#include "openvswitch/json.h"
#include "openvswitch/namemap.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "spec.h"
#include "sset.h"
#include "swconn.h"
#include "timeval.h"
#include "util.h"
#include "values.h"
#include "weights.h"

VLOG_DEFINE_THIS_MODULE(agent);

/* A loaded spec with everything whose lifetime is tied to it: the diag
 * owns the file names that the spec's locations point to, and the IR
 * points into the spec. */
struct compiled {
    struct diag diag;
    struct lb_spec spec;
    struct ir_pipeline ir;
    uint32_t *configured;       /* Spec weights of every real, in spec
                                 * order (the spec's own get overridden by
                                 * administrative weights). */
    long long int loaded;       /* time_wall_msec(). */
    bool admin_applied;         /* Spec weights may differ from the file
                                 * (administrative weights were applied). */
    uint64_t *group_fp;         /* A fingerprint of each IR group (same
                                 * index) as decoded into the base state,
                                 * or NULL: a reload keeps the desired
                                 * group of a service whose fingerprint
                                 * and settings did not change. */
    uint64_t flows_fp;          /* Of all flows of 'ir' (if 'group_fp'). */
};

/* Administrative state and configured weight of one (service, real). */
struct agent_real {
    struct hmap_node node;      /* In agent 'reals', by (service, addr). */
    const char *service;        /* The name of its agent_service (one
                                 * copy per service, not per real). */
    char addr[INET6_ADDRSTRLEN];
    uint32_t configured;        /* Weight in the spec. */
    bool has_override;          /* flowlb/set-weight given? */
    uint32_t override;
    bool drained;               /* flowlb/drain (until flowlb/enable). */
    bool seen;                  /* Present in the spec being loaded. */
    bool has_dyn;               /* lc/wlc: weight from connection counts. */
    uint32_t dyn;
    uint32_t conns;             /* Active connections at the last count. */
};

/* Per-service runtime state. */
struct agent_service {
    struct hmap_node node;      /* By name. */
    char *name;
    bool all_down;              /* No real can take connections (logged
                                 * once per transition). */
    bool withdrawn;             /* Quorum lost: the VIP does not answer. */
    struct sset *active;        /* Reals with a live bucket (weight > 0) in
                                 * the last desired group. */
    size_t n_buckets;           /* In the desired group. */
    bool seen;
    const struct lb_service *prev_svc;  /* During a reload: the service in
                                         * the spec being replaced. */
    /* The service in the running spec and its compiled group, set by each
     * whole rebuild of the desired state (valid while !index_stale). */
    const struct lb_service *svc;
    const struct ir_group *g;
};

struct agent {
    char *spec_path;
    struct agent_options opts;
    struct health_monitor *hm;  /* Not owned; may be NULL. */
    struct compiled *cur;

    struct hmap reals;          /* struct agent_real. */
    struct hmap services;       /* struct agent_service. */

    struct ofsync_state base;   /* IR decoded with the switch's ports. */
    struct ofsync_state desired;/* base minus dead reals' buckets. */
    unsigned int desired_seqno;
    unsigned int ports_seqno;   /* swconn ports seqno 'base' was made for. */
    const struct ofputil_port_map *ports; /* swconn's, for 'base'. */
    bool base_dirty;            /* IR changed since 'base' was built. */
    bool ports_free;            /* The IR names no port: 'base' does not
                                 * depend on the switch's ports. */
    bool desired_dirty;         /* 'desired' needs a whole rebuild. */
    struct sset dirty_services; /* Services whose group alone needs
                                 * rebuilding (health, weight changes). */
    bool index_stale;           /* IR rebuilt since the services' 'svc'
                                 * and 'g' pointers were set. */

    /* Reload in the background (agent_reload_start()). */
    struct reload_job *job;     /* Running, or NULL. */
    struct reload_waiters *waiting;  /* For the running job. */
    struct reload_waiters *next;     /* For the one after it. */
    bool next_wanted;           /* Another reload after the running one. */
    bool desired_prefilled;     /* 'desired' is already a copy of 'base'. */
    pthread_t reaper;           /* Freeing a finished job, if 'reaping'. */
    bool reaping;
    bool admin_used;            /* Some real ever got an administrative or
                                 * lc weight. */
};

/* A reload running in a thread of its own: reading, checking and lowering
 * the spec and decoding the pipeline take seconds at 10,000 services, and
 * the main loop must keep answering the switch and running health checks
 * meanwhile. The thread touches only the job. */
struct reload_job {
    pthread_t thread;
    char *spec_path;
    struct lower_options lopts;
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
    struct ds errors;
    long long int ms_load, ms_lower, ms_base;
    atomic_bool done;
};

struct reload_waiter {
    void (*cb)(bool ok, const char *errors, void *aux);
    void *aux;
};

struct reload_waiters {
    struct reload_waiter *w;
    size_t n, allocated;
};

static void job_destroy(struct reload_job *);
static void reap_job(struct agent *, struct reload_job *);
static void reaper_join(struct agent *);
static void index_services(struct agent *);
struct swconn;
static void build_service_group(struct agent *, struct swconn *,
                                const struct ir_group *,
                                struct ofsync_group *,
                                const struct lb_service *,
                                struct agent_service *);
static void waiters_free(struct reload_waiters *);

/* 'basis' is hash_string(service, 0): the hash of the service's entry. */
static struct agent_real *
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

static struct agent_real *
find_real(const struct agent *a, const char *service, const char *addr)
{
    return find_real__(&a->reals, service, hash_string(service, 0), addr);
}

static struct agent_service *
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

static struct agent_service *
find_service(const struct agent *a, const char *name)
{
    return find_service__(&a->services, name);
}

static bool is_lc(const struct lb_service *);
static const struct ir_group *service_group(const struct ir_pipeline *,
                                            const char *service);

/* The weight an operator gave the real (spec or set-weight; 0 drained). */
static uint32_t
admin_weight(const struct agent_real *r)
{
    return r->drained ? 0 : r->has_override ? r->override : r->configured;
}

/* The weight the real is lowered with: lc/wlc replace a nonzero
 * administrative weight by one derived from connection counts. */
static uint32_t
effective_admin_weight(const struct agent_real *r)
{
    uint32_t w = admin_weight(r);
    return w && r->has_dyn ? r->dyn : w;
}

/* lb_addr_format(), without inet_ntop()'s sprintf for IPv4: the tables
 * are keyed by the text and a 10k x 32 spec formats 320,000 of them at
 * every load. Same output as inet_ntop(). */
static void
addr_format(const struct lb_addr *addr, char buf[INET6_ADDRSTRLEN])
{
    if (addr->family != AF_INET) {
        lb_addr_format(addr, buf, INET6_ADDRSTRLEN);
        return;
    }
    const uint8_t *b = (const uint8_t *) &addr->v4;
    char *p = buf;
    for (int i = 0; i < 4; i++) {
        unsigned int v = b[i];
        if (v >= 100) {
            *p++ = '0' + v / 100;
        }
        if (v >= 10) {
            *p++ = '0' + v / 10 % 10;
        }
        *p++ = '0' + v % 10;
        *p++ = i < 3 ? '.' : '\0';
    }
}

static void
compiled_destroy(struct compiled *c)
{
    if (c) {
        ir_destroy(&c->ir);
        free(c->group_fp);
        free(c->configured);
        lb_spec_destroy(&c->spec);
        diag_destroy(&c->diag);
        free(c);
    }
}

/* Appends the diagnostics of 'd' to 'out' in the compiler's format. */
static void
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

static bool
any_admin_weights(const struct agent *a)
{
    if (!a->admin_used) {
        return false;
    }
    const struct agent_real *ar;
    HMAP_FOR_EACH (ar, node, &a->reals) {
        if (ar->has_override || ar->drained || ar->has_dyn) {
            return true;
        }
    }
    return false;
}

/* Sets each real's weight in 'spec' to its administrative weight. */
static void
apply_admin_weights(struct agent *a, struct compiled *c)
{
    /* Usually nothing to do: no override, drain or lc weight anywhere,
     * and the spec's weights never changed from what the file says. */
    bool any = c->admin_applied;
    const struct agent_real *ar;
    HMAP_FOR_EACH (ar, node, &a->reals) {
        if (any) {
            break;
        }
        any = ar->has_override || ar->drained || ar->has_dyn;
    }
    c->admin_applied = any;
    struct lb_spec *spec = &c->spec;
    for (size_t i = 0; any && i < spec->n_services; i++) {
        struct lb_service *svc = &spec->services[i];
        for (size_t j = 0; j < svc->n_reals; j++) {
            char addr[INET6_ADDRSTRLEN];
            addr_format(&svc->reals[j].addr, addr);
            const struct agent_real *r = find_real(a, svc->name, addr);
            if (r) {
                svc->reals[j].weight = is_lc(svc) ? effective_admin_weight(r)
                                                  : admin_weight(r);
            }
        }
    }
}

/* Loads and checks 'a->spec_path'. Returns NULL with diagnostics in
 * 'errors' if the spec has errors. Does not lower (see relower()). */
static struct compiled *
load_spec_path(const char *spec_path, struct ds *errors)
{
    struct compiled *c = xzalloc(sizeof *c);
    diag_init(&c->diag);
    lb_spec_init(&c->spec);
    ir_init(&c->ir);
    c->loaded = time_wall_msec();
    bool ok = lb_spec_load(spec_path, &c->spec, &c->diag)
              && lb_check(&c->spec, &c->diag);
    if (!ok || diag_has_errors(&c->diag)) {
        diag_to_ds(&c->diag, errors);
        compiled_destroy(c);
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < c->spec.n_services; i++) {
        n += c->spec.services[i].n_reals;
    }
    c->configured = xcalloc(MAX(n, 1), sizeof *c->configured);
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

static struct compiled *
load_spec(struct agent *a, struct ds *errors)
{
    return load_spec_path(a->spec_path, errors);
}

/* Lowers 'c' as it is (touches nothing else: runs in the reload thread). */
static bool
lower_plain(const struct lower_options *lo, struct compiled *c,
            struct ds *errors)
{
    ir_destroy(&c->ir);
    ir_init(&c->ir);
    free(c->group_fp);
    c->group_fp = NULL;
    size_t n_errors = c->diag.n_errors;
    if (!lower_spec(&c->spec, lo, &c->ir, &c->diag)
        || c->diag.n_errors > n_errors) {
        diag_to_ds(&c->diag, errors);
        return false;
    }
    ir_sort(&c->ir);
    return true;
}

/* Lowers 'c' with the administrative weights applied. */
static bool
lower(struct agent *a, struct compiled *c, struct ds *errors)
{
    apply_admin_weights(a, c);
    if (c == a->cur) {
        a->index_stale = true;
    }
    return lower_plain(&a->opts.lower, c, errors);
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
static void
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
static void
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
        s = find_service__(services, svc->name);
        if (!s) {
            s = xzalloc(sizeof *s);
            s->name = xstrdup(svc->name);
            s->active = xmalloc(sizeof *s->active);
            sset_init(s->active);
            hmap_insert(services, &s->node, hash_string(s->name, 0));
        }
        s->seen = true;
        uint32_t basis = s->node.hash;
        for (size_t j = 0; j < svc->n_reals; j++) {
            char addr[INET6_ADDRSTRLEN];
            addr_format(&svc->reals[j].addr, addr);
            r = find_real__(reals, s->name, basis, addr);
            if (!r) {
                r = xzalloc(sizeof *r);
                r->service = s->name;
                ovs_strlcpy(r->addr, addr, sizeof r->addr);
                hmap_insert(reals, &r->node, hash_string(r->addr, basis));
            }
            r->configured = c->configured[k++];
            r->seen = true;
        }
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

static void
sync_tables(struct agent *a, const struct compiled *c, bool prune)
{
    sync_tables__(&a->reals, &a->services, c, prune);
}

/* Only the reals of services with a check: the monitor ignores the others
 * (at 10k x 32 with few checked services, this spares the loop a copy of
 * 320,000 targets at each reload). */
static void
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
        const struct lb_service *svc = &c->spec.services[i];
        if (svc->check.type == LB_CHECK_NONE) {
            continue;
        }
        for (size_t j = 0; j < svc->n_reals; j++) {
            t[k].service = svc->name;
            t[k].addr = svc->reals[j].addr;
            t[k].port = svc->port;
            t[k].check = svc->check;
            t[k].source = svc->check.source;
            k++;
        }
    }
    health_monitor_set_targets(a->hm, t, k);
    free(t);
}

static size_t build_base_into(struct ofsync_state *base,
                              struct ofsync_state *desired,
                              const struct ir_pipeline *,
                              const struct ofputil_port_map *,
                              bool prepare, bool quiet, uint64_t *fp,
                              uint64_t *flows_fp);

/* CPU time of the calling thread, in ms (wall times mean little on a
 * loaded machine). */
static long long int
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
    const struct compiled *c;
    long long int ms, cpu_ms;
};

static void *
tables_main(void *tj_)
{
    struct tables_job *tj = tj_;
    long long int t0 = time_msec();
    long long int c0 = thread_cpu_msec();
    sync_tables(tj->a, tj->c, true);
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
    size_t n_errors = build_base_into(&a->base, &a->desired, &c->ir, NULL,
                                      false, true, c->group_fp,
                                      &c->flows_fp);
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
    /* A reload still running is waited for and dropped; its waiters (unixctl
     * connections) are gone with the server already. */
    job_destroy(a->job);
    reaper_join(a);
    waiters_free(a->waiting);
    waiters_free(a->next);
    compiled_destroy(a->cur);
    tables_clear(&a->reals, &a->services);
    hmap_destroy(&a->reals);
    hmap_destroy(&a->services);
    ofsync_state_destroy(&a->base);
    ofsync_state_destroy(&a->desired);
    sset_destroy(&a->dirty_services);
    free(a->spec_path);
    free(a);
}

static void *
reload_main(void *job_)
{
    struct reload_job *j = job_;
    long long int t0 = time_msec();
    j->c = load_spec_path(j->spec_path, &j->errors);
    long long int t1 = time_msec();
    if (j->c && !lower_plain(&j->lopts, j->c, &j->errors)) {
        compiled_destroy(j->c);
        j->c = NULL;
    }
    long long int t2 = time_msec();
    if (j->c) {
        /* Without the switch's ports first: if no flow needs a port name,
         * the result holds whatever ports the switch has meanwhile. */
        struct compiled *c = j->c;
        c->group_fp = xcalloc(MAX(c->ir.n_groups, 1), sizeof *c->group_fp);
        j->ports_free = !build_base_into(&j->base, &j->desired, &c->ir,
                                         NULL, true, true, c->group_fp,
                                         &c->flows_fp);
        if (!j->ports_free) {
            build_base_into(&j->base, &j->desired, &c->ir, &j->ports,
                            true, false, c->group_fp, &c->flows_fp);
        }
        /* The agent's tables for the new spec, made from scratch; the
         * loop carries the administrative and runtime state over. */
        sync_tables__(&j->reals, &j->services, c, true);
    }
    j->ms_load = t1 - t0;
    j->ms_lower = t2 - t1;
    j->ms_base = time_msec() - t2;
    atomic_store(&j->done, true);
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

static void
start_job(struct agent *a)
{
    struct reload_job *j = xzalloc(sizeof *j);
    j->spec_path = xstrdup(a->spec_path);
    j->lopts = a->opts.lower;
    copy_port_map(&j->ports, a->ports);
    j->ports_of = a->ports;
    j->ports_seqno = a->ports_seqno;
    j->started = time_msec();
    ofsync_state_init(&j->base);
    ofsync_state_init(&j->desired);
    hmap_init(&j->reals);
    hmap_init(&j->services);
    ds_init(&j->errors);
    atomic_init(&j->done, false);
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
        ofsync_state_destroy(&j->base);
        ofsync_state_destroy(&j->desired);
        tables_clear(&j->reals, &j->services);
        hmap_destroy(&j->reals);
        hmap_destroy(&j->services);
        ds_destroy(&j->errors);
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
    start_job(a);
}

bool
agent_reload_running(const struct agent *a)
{
    return a->job != NULL;
}

static bool any_admin_weights(const struct agent *);

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
    if (a->admin_used) {
        const struct agent_real *r;
        HMAP_FOR_EACH (r, node, &a->reals) {
            if (!r->has_override && !r->drained && !r->has_dyn) {
                continue;
            }
            struct agent_real *nr = find_real__(reals, r->service,
                                                hash_string(r->service, 0),
                                                r->addr);
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

static int
compare_group_id(const void *key_, const void *g_)
{
    const uint32_t *key = key_;
    const struct ir_group *g = g_;
    return (*key > g->group_id) - (*key < g->group_id);
}

/* After a reload: the desired state is the new base ('a->desired', a copy
 * of it made by the reload's thread) with each service's group either
 * taken from 'old_desired' (the previous desired state), when the service
 * compiled to the same group with the same settings, or made again from
 * the new base and the reals' health. The loop's work is then in
 * proportion to what changed, not to the spec. Returns the number of
 * groups made again. */
/* Whether the service of 'g' (group 'i' of the running spec) compiled to
 * the same group, with the same settings, in 'old'. */
static bool
group_unchanged(struct agent *a, const struct compiled *old, size_t i)
{
    const struct compiled *c = a->cur;
    const struct ir_group *g = &c->ir.groups[i];
    const struct agent_service *as = g->service ? find_service(a, g->service)
                                                : NULL;
    const struct ir_group *og = bsearch(&g->group_id, old->ir.groups,
                                        old->ir.n_groups,
                                        sizeof *old->ir.groups,
                                        compare_group_id);
    return (as && og
            && old->group_fp[og - old->ir.groups] == c->group_fp[i]
            && service_settings_same(as->prev_svc, as->svc));
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
        n_old += bsearch(&id, old->ir.groups, old->ir.n_groups,
                         sizeof *old->ir.groups, compare_group_id) != NULL;
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
        const struct ir_group *g = &c->ir.groups[i];
        struct agent_service *as = g->service ? find_service(a, g->service)
                                              : NULL;
        const struct ofsync_group *bg = ofsync_find_group(&a->base,
                                                          g->group_id);
        struct ofsync_group *ng = ofsync_group_clone(bg);
        build_service_group(a, sc, g, ng, as ? as->svc : NULL, as);
        ofsync_state_put_group(&a->desired, ng);
        n_rebuilt++;
    }
    return n_rebuilt;
}

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
        const struct ir_group *og = bsearch(&g->group_id, old->ir.groups,
                                            old->ir.n_groups,
                                            sizeof *old->ir.groups,
                                            compare_group_id);
        struct ofsync_group *odg = NULL;
        if (dg && og && group_unchanged(a, old, i)) {
            odg = ofsync_find_group(old_desired, g->group_id);
        }
        if (odg) {
            hmap_remove(&a->desired.groups, &dg->node);
            ofsync_group_free(dg);
            hmap_remove(&old_desired->groups, &odg->node);
            hmap_insert(&a->desired.groups, &odg->node, odg->node.hash);
        } else {
            build_service_group(a, sc, g, dg, as ? as->svc : NULL, as);
            n_rebuilt++;
        }
    }
    ofsync_state_changed(&a->desired);
    ofsync_state_changed(old_desired);
    return n_rebuilt;
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

/* Takes the result of the finished job into use (main thread). Returns
 * false if refused; else sets '*n_rebuilt' to the number of groups made
 * again in the loop (SIZE_MAX: the whole desired state is). */
static bool
install_job(struct agent *a, struct reload_job *j, struct swconn *sc,
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
    bool relowered = false;
    if (any_admin_weights(a)) {
        /* The thread lowered with the file's weights. */
        if (!lower(a, c, errors)) {
            compiled_destroy(c);
            hmap_swap(&a->reals, &j->reals);
            hmap_swap(&a->services, &j->services);
            return false;
        }
        relowered = true;
    }
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
    bool ports_ok = j->ports_free || (a->ports == j->ports_of
                                      && a->ports_seqno == j->ports_seqno);
    a->ports_free = j->ports_free;
    if (!relowered && !a->base_dirty && ports_ok) {
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
            *n_rebuilt = reuse_groups(a, sc, old, &j->desired);
            a->desired_seqno++;
        } else {
            ofsync_state_swap(&a->desired, &j->desired);
            a->desired_prefilled = true;
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
    struct ds errors = DS_EMPTY_INITIALIZER;
    size_t n_rebuilt;
    bool ok = install_job(a, j, sc, &errors, &n_rebuilt);
    if (ok) {
        char rebuilt[64];
        if (n_rebuilt == SIZE_MAX) {
            snprintf(rebuilt, sizeof rebuilt, "whole desired state next");
        } else {
            snprintf(rebuilt, sizeof rebuilt, "%"PRIuSIZE" group(s) made "
                     "again", n_rebuilt);
        }
        VLOG_INFO("reloaded %s: %"PRIuSIZE" services, %"PRIuSIZE" flows, %"
                  PRIuSIZE" groups (in the background: read and checked in "
                  "%lld ms, lowered in %lld ms, decoded in %lld ms; then "
                  "%lld ms in the loop, %s)", a->spec_path,
                  a->cur->spec.n_services, a->cur->ir.n_flows,
                  a->cur->ir.n_groups, j->ms_load, j->ms_lower, j->ms_base,
                  time_msec() - t0, rebuilt);
    } else {
        VLOG_ERR("reload of %s refused, running state kept:\n%s",
                 a->spec_path, ds_cstr(&errors));
    }
    /* What the job holds now is the previous state: hundreds of thousands
     * of blocks at 10k x 32, freed out of the loop. */
    reap_job(a, j);
    struct reload_waiters *ws = a->waiting;
    a->waiting = NULL;
    if (a->next_wanted) {
        a->next_wanted = false;
        a->waiting = a->next;
        a->next = NULL;
        start_job(a);
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
        compiled_destroy(c);
        sync_tables(a, a->cur, false);
        return false;
    }
    sync_tables(a, c, true);
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

/* --- desired state ------------------------------------------------------- */

/* Half of the decoding of a pipeline: its groups or its flows. The two
 * halves share nothing (each has its own parse caches and states), so
 * they run in two threads: at 10,000 services x 32 reals each takes about
 * half a second. */
struct build_part {
    const struct ir_pipeline *ir;
    const struct ofputil_port_map *ports;
    bool groups;                /* The groups, else the flows. */
    bool quiet;                 /* Log no error (made without the switch's
                                 * ports: errors only mean "rebuild with
                                 * them"). */
    bool prepare;               /* Compute the groups' encodings. */
    bool copy;                  /* Also fill 'desired' with a copy. */
    uint64_t *fp;               /* Nonnull: the groups' fingerprints, and
                                 * the flows' in 'flows_fp'. */
    uint64_t *flows_fp;
    struct ofsync_state base, desired;
    size_t n_errors;
    long long int ms_build, ms_copy;
    long long int cpu_ms;       /* CPU time of the thread for it. */
};



/* Two independent 32-bit hashes: a 64-bit fingerprint. */
struct fp {
    uint32_t h1, h2;
};

static void
fp_bytes(struct fp *fp, const void *p, size_t n)
{
    fp->h1 = hash_bytes(p, n, fp->h1);
    fp->h2 = hash_bytes(p, n, fp->h2 ^ 0x9e3779b9);
}

static void
fp_str(struct fp *fp, const char *s)
{
    fp_bytes(fp, s, strlen(s) + 1);
}

static void
fp_u32(struct fp *fp, uint32_t x)
{
    fp->h1 = hash_int(x, fp->h1);
    fp->h2 = hash_int(x, fp->h2 ^ 0x85ebca6b);
}

/* A fingerprint of everything in 'g' that the service's base and desired
 * groups are made from (the service's own settings apart). */
static uint64_t
group_fp(const struct ir_group *g)
{
    struct fp fp = { 0, 0 };
    fp_u32(&fp, g->group_id);
    fp_str(&fp, g->selection);
    fp_str(&fp, g->service ? g->service : "");
    fp_u32(&fp, g->n_buckets);
    for (size_t b = 0; b < g->n_buckets; b++) {
        const struct ir_bucket *ib = &g->buckets[b];
        fp_u32(&fp, ib->bucket_id);
        fp_u32(&fp, ib->weight);
        fp_u32(&fp, ib->mark);
        fp_u32(&fp, ib->spec_weight);
        fp_u32(&fp, ib->standby | ib->sorry << 1);
        fp_str(&fp, ib->actions);
        fp_str(&fp, ib->real);
    }
    fp_u32(&fp, g->service_id);
    fp_u32(&fp, g->cookie >> 32);
    fp_u32(&fp, g->cookie);
    fp_u32(&fp, g->failover | g->has_sorry << 1 | g->learn_mode << 2);
    fp_u32(&fp, g->persistence_s);
    fp_u32(&fp, g->sticky_idle_s);
    return (uint64_t) fp.h1 << 32 | fp.h2;
}

static void
build_groups(struct build_part *p)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);
    const struct ir_pipeline *ir = p->ir;
    /* The base group holds every bucket, standby ones (failover
     * candidates, the sorry real) included; build_desired() picks. Built
     * from parts: the selection and each real's actions are parsed once,
     * not once per group and bucket. */
    struct ofsync_group_builder *gb = ofsync_group_builder_create(p->ports);
    struct ds props = DS_EMPTY_INITIALIZER;
    for (size_t i = 0; i < ir->n_groups; i++) {
        const struct ir_group *g = &ir->groups[i];
        if (p->fp) {
            p->fp[i] = group_fp(g);
        }
        ds_clear(&props);
        ds_put_format(&props, "type=select,%s", g->selection);
        char *err = ofsync_group_builder_start(gb, g->group_id,
                                               ds_cstr(&props));
        for (size_t b = 0; !err && b < g->n_buckets; b++) {
            err = ofsync_group_builder_bucket(gb, g->buckets[b].bucket_id,
                                              g->buckets[b].weight,
                                              g->buckets[b].actions);
        }
        if (err) {
            const struct location *l = &g->loc;
            p->n_errors++;
            if (!p->quiet) {
                VLOG_WARN_RL(&rl, "%s:%d:%d: group of service %s not "
                             "installable: %s", l->file ? l->file : "?",
                             l->line, l->col, g->service, err);
            }
            free(err);
        }
        ofsync_group_builder_finish(gb, &p->base);
    }
    ds_destroy(&props);
    ofsync_group_builder_destroy(gb);

    /* flowlbd only ever touches what carries its marks; a compiler bug
     * must not turn into deleting or overwriting someone else's state. */
    struct ofsync_group *og;
    HMAP_FOR_EACH_SAFE (og, node, &p->base.groups) {
        if ((og->group_id & ~(FLOWLB_GROUP_SPAN - 1)) != FLOWLB_GROUP_BASE) {
            VLOG_ERR("internal error: group %#"PRIx32" outside flowlb's "
                     "range left out", og->group_id);
            hmap_remove(&p->base.groups, &og->node);
            ofsync_group_free(og);
        }
    }
}

static void
build_flows(struct build_part *p)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);
    const struct ir_pipeline *ir = p->ir;
    struct fp fp = { 0, 0 };
    for (size_t i = 0; i < ir->n_flows; i++) {
        char *s = ir_flow_to_ofctl(&ir->flows[i]);
        if (p->flows_fp) {
            fp_str(&fp, s);
        }
        char *err = ofsync_add_flow_str(&p->base, s, p->ports);
        if (err) {
            /* Typically a port name the bridge does not have (yet). */
            const struct location *l = &ir->flows[i].loc;
            p->n_errors++;
            if (!p->quiet) {
                VLOG_WARN_RL(&rl, "%s:%d:%d: flow not installable (%s): %s",
                             l->file ? l->file : "?", l->line, l->col, err,
                             s);
            }
            free(err);
        }
        free(s);
    }
    if (p->flows_fp) {
        *p->flows_fp = (uint64_t) fp.h1 << 32 | fp.h2;
    }
    struct ofsync_flow *f;
    HMAP_FOR_EACH_SAFE (f, node, &p->base.flows) {
        if ((f->cookie & FLOWLB_COOKIE_MASK) != FLOWLB_COOKIE_MAGIC) {
            VLOG_ERR("internal error: flow without flowlb's cookie "
                     "(%#"PRIx64") left out", f->cookie);
            ofsync_remove_flow(&p->base, f);
        }
    }
}

static void *
build_part_main(void *p_)
{
    struct build_part *p = p_;
    long long int t0 = time_msec();
    long long int c0 = thread_cpu_msec();
    if (p->groups) {
        build_groups(p);
        if (p->prepare) {
            ofsync_state_prepare(&p->base);
        }
    } else {
        build_flows(p);
    }
    long long int t1 = time_msec();
    if (p->copy) {
        ofsync_state_copy(&p->desired, &p->base);
    }
    p->ms_build = t1 - t0;
    p->ms_copy = time_msec() - t1;
    p->cpu_ms = thread_cpu_msec() - c0;
    return NULL;
}

/* Puts the groups of 'g' and the flows of 'f' into 'dst' (cleared). */
static void
join_parts(struct ofsync_state *dst, struct ofsync_state *g,
           struct ofsync_state *f)
{
    ofsync_state_clear(dst);
    hmap_swap(&dst->groups, &g->groups);
    hmap_swap(&dst->flows, &f->flows);
    ofsync_state_changed(dst);
    ofsync_state_changed(g);
    ofsync_state_changed(f);
}

/* Decodes 'ir' into 'base' with the switch's 'ports' (may be NULL), the
 * groups in a second thread while this one does the flows; with
 * 'desired' nonnull, also makes it a copy of 'base' (in the same two
 * threads). 'prepare' computes the groups' encodings (for comparisons).
 * With 'fp' nonnull, puts there the fingerprint of each group of 'ir'.
 * Touches nothing else: runs in the reload thread too. Returns the number
 * of flows and groups that could not be decoded (logged unless 'quiet'). */
static size_t
build_base_into(struct ofsync_state *base, struct ofsync_state *desired,
                const struct ir_pipeline *ir,
                const struct ofputil_port_map *ports, bool prepare,
                bool quiet, uint64_t *fp, uint64_t *flows_fp)
{
    struct build_part parts[2];
    for (int i = 0; i < 2; i++) {
        struct build_part *p = &parts[i];
        memset(p, 0, sizeof *p);
        p->ir = ir;
        p->ports = ports;
        p->groups = i == 0;
        p->quiet = quiet;
        p->prepare = prepare;
        p->copy = desired != NULL;
        p->fp = i == 0 ? fp : NULL;
        p->flows_fp = i == 1 && fp ? flows_fp : NULL;
        ofsync_state_init(&p->base);
        ofsync_state_init(&p->desired);
    }
    pthread_t thread;
    bool threaded = !pthread_create(&thread, NULL, build_part_main,
                                    &parts[0]);
    if (!threaded) {
        build_part_main(&parts[0]);
    }
    build_part_main(&parts[1]);
    if (threaded) {
        pthread_join(thread, NULL);
    }
    join_parts(base, &parts[0].base, &parts[1].base);
    if (desired) {
        join_parts(desired, &parts[0].desired, &parts[1].desired);
    }
    size_t n_errors = parts[0].n_errors + parts[1].n_errors;
    VLOG_DBG("decoded %s: groups %lld ms (+%lld ms copy; %lld ms CPU), "
             "flows %lld ms (+%lld ms copy; %lld ms CPU)%s",
             ports ? "with the ports" : "without ports",
             parts[0].ms_build, parts[0].ms_copy, parts[0].cpu_ms,
             parts[1].ms_build, parts[1].ms_copy, parts[1].cpu_ms,
             threaded ? "" : ", not in parallel");
    for (int i = 0; i < 2; i++) {
        ofsync_state_destroy(&parts[i].base);
        ofsync_state_destroy(&parts[i].desired);
    }
    return n_errors;
}

static void
build_base(struct agent *a, const struct ofputil_port_map *ports)
{
    struct compiled *c = a->cur;
    if (!c->group_fp) {
        c->group_fp = xcalloc(MAX(c->ir.n_groups, 1), sizeof *c->group_fp);
    }
    build_base_into(&a->base, NULL, &c->ir, a->ports_free ? NULL : ports,
                    false, false, c->group_fp, &c->flows_fp);
    a->desired_prefilled = false;   /* Made from another base. */
}

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
static void
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
static void
index_services(struct agent *a)
{
    struct agent_service *as;
    HMAP_FOR_EACH (as, node, &a->services) {
        as->svc = NULL;
        as->g = NULL;
    }
    const struct lb_spec *spec = &a->cur->spec;
    for (size_t i = 0; i < spec->n_services; i++) {
        as = find_service(a, spec->services[i].name);
        if (as) {
            as->svc = &spec->services[i];
        }
    }
    const struct ir_pipeline *ir = &a->cur->ir;
    for (size_t i = 0; i < ir->n_groups; i++) {
        as = ir->groups[i].service ? find_service(a, ir->groups[i].service)
                                   : NULL;
        if (as) {
            as->g = &ir->groups[i];
        }
    }
    a->index_stale = false;
}

static void
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
                            as ? as->svc : NULL, as);
        any_withdrawn |= as && as->withdrawn;
    }
    if (any_withdrawn) {
        withdraw_vip_flows(a);
    }
    a->desired_seqno++;
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
        } else {
            VLOG_INFO("service %s real %s: %s -> %s (%s)", c->service, addr,
                      health_state_name(c->old_state),
                      health_state_name(c->new_state), c->verdict.text);
        }
    }
    health_changes_destroy(changes, n);
}

/* Rebuilds the desired group of service 'name' alone, from its base
 * group and the health of its reals; the other services' groups and all
 * flows stay as they are. Returns false if the change may reach beyond
 * the group (expire_nodest_conn flows, quorum) or the service is not
 * indexed: then the caller rebuilds everything. */
static bool
update_service(struct agent *a, struct swconn *sc, const char *name)
{
    struct agent_service *as = find_service(a, name);
    if (a->index_stale || !as || !as->g || !as->svc
        || a->opts.expire_nodest_conn || as->svc->expire_nodest_conn
        || as->svc->quorum) {
        return false;
    }
    const struct ofsync_group *bg = ofsync_find_group(&a->base,
                                                      as->g->group_id);
    if (!bg) {
        return false;
    }
    struct ofsync_group *ng = ofsync_group_clone(bg);
    build_service_group(a, sc, as->g, ng, as->svc, as);
    ofsync_state_put_group(&a->desired, ng);
    a->desired_seqno++;
    return true;
}

void
agent_run(struct agent *a, struct swconn *sc)
{
    if (a->job) {
        if (atomic_load(&a->job->done)) {
            finish_job(a, sc);
        } else {
            poll_timer_wait(10);    /* No fd to wait on: look again soon. */
        }
    }
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
}

void
agent_ct_policy(const struct agent *a, uint16_t *zone, uint32_t *udp_s)
{
    *zone = a->opts.lower.ct_zone;
    *udp_s = a->cur->ir.udp_timeout_s;
}

static bool
is_lc(const struct lb_service *svc)
{
    return svc->scheduler == LB_SCHED_LC || svc->scheduler == LB_SCHED_WLC;
}

bool
agent_uses_connload(const struct agent *a)
{
    for (size_t i = 0; i < a->cur->spec.n_services; i++) {
        if (is_lc(&a->cur->spec.services[i])) {
            return true;
        }
    }
    return false;
}

/* IPVS lc sends a new connection to the real with the fewest active ones,
 * wlc to the one with the fewest per unit of weight. A hash group can only
 * approximate that: each real's share is made proportional to
 * 1 / (active + 1) (lc) or weight / (active + 1) (wlc), rescaled so that
 * the largest is 1000. Weights change only when some share moves by more
 * than a quarter, so that counts jittering by one do not rewrite groups. */
/* Applies new lc/wlc weights to 'svc's compiled group in place: solves
 * the bucket weights as lowering does and re-parses that group alone, so
 * that a recount costs one group, not a whole re-lowering. Returns false
 * if the group's buckets do not match the reals (then re-lower). */
static bool
reweigh_group(struct agent *a, const struct lb_service *svc)
{
    struct ir_group *g = CONST_CAST(struct ir_group *,
                                    service_group(&a->cur->ir, svc->name));
    if (!g || g->failover) {
        return false;
    }
    uint32_t *want = xcalloc(MAX(g->n_buckets, 1), sizeof *want);
    uint16_t *out = xcalloc(MAX(g->n_buckets, 1), sizeof *out);
    size_t *idx = xcalloc(MAX(g->n_buckets, 1), sizeof *idx);
    size_t n = 0;
    bool ok = true;
    for (size_t b = 0; b < g->n_buckets && ok; b++) {
        if (g->buckets[b].sorry) {
            continue;
        }
        const struct agent_real *r = find_real(a, svc->name,
                                               g->buckets[b].real);
        uint32_t w = r ? effective_admin_weight(r) : 0;
        ok = w > 0;
        idx[n] = b;
        want[n++] = w;
    }
    if (ok && n) {
        weights_solve(want, n, out);
        for (size_t k = 0; k < n; k++) {
            g->buckets[idx[k]].weight = out[k];
        }
        if (a->cur->group_fp) {
            a->cur->group_fp[g - a->cur->ir.groups] = group_fp(g);
        }
        struct ir_group full = *g;
        full.buckets = xmemdup(g->buckets, g->n_buckets * sizeof *g->buckets);
        for (size_t b = 0; b < full.n_buckets; b++) {
            full.buckets[b].standby = false;
        }
        char *str = ir_group_to_ofctl(&full);
        free(full.buckets);
        char *err = ofsync_add_group_str(&a->base, str, a->ports);
        free(str);
        if (err) {
            VLOG_WARN("group of service %s: %s", svc->name, err);
            free(err);
            ok = false;
        } else {
            sset_add(&a->dirty_services, svc->name);
        }
    }
    free(want);
    free(out);
    free(idx);
    return ok;
}

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
                a->admin_used = true;
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
            if (!reweigh_group(a, svc)) {
                relower_all = true;
            }
            changed = true;
        }
        free(rs);
        free(target);
    }
    if (relower_all) {
        struct ds err = DS_EMPTY_INITIALIZER;
        if (lower(a, a->cur, &err)) {
            a->base_dirty = true;
        } else {
            VLOG_WARN("re-lowering with connection-count weights failed: %s",
                      ds_cstr(&err));
        }
        ds_destroy(&err);
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

/* After an administrative weight change of real 'addr' that keeps its
 * bucket (nonzero before and after): re-solves the weights of the
 * service's group alone, as lowering would, instead of re-lowering the
 * whole spec. Returns false if that does not apply (then re-lower). */
static bool
reweigh_service(struct agent *a, const char *service, const char *addr)
{
    struct agent_service *as = find_service(a, service);
    if (a->index_stale || a->base_dirty || !as || !as->g || !as->svc
        || as->g->failover) {
        return false;
    }
    const struct ir_bucket *b = NULL;
    for (size_t i = 0; i < as->g->n_buckets; i++) {
        if (!strcmp(as->g->buckets[i].real, addr) && !as->g->buckets[i].sorry) {
            b = &as->g->buckets[i];
        }
    }
    if (!b || b->standby) {
        return false;
    }
    /* The spec's copy of the weight, as apply_admin_weights() sets it. */
    struct lb_service *svc = CONST_CAST(struct lb_service *, as->svc);
    a->cur->admin_applied = true;
    for (size_t j = 0; j < svc->n_reals; j++) {
        char a2[INET6_ADDRSTRLEN];
        lb_addr_format(&svc->reals[j].addr, a2, sizeof a2);
        const struct agent_real *r = find_real(a, service, a2);
        if (r) {
            svc->reals[j].weight = is_lc(svc) ? effective_admin_weight(r)
                                              : admin_weight(r);
        }
    }
    if (!reweigh_group(a, svc)) {
        return false;
    }
    return true;
}

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

/* Re-lowers after an administrative change; on failure restores 'saved'. */
static bool
relower(struct agent *a, struct agent_real *r, struct agent_real saved,
        struct ds *err)
{
    long long int t0 = time_msec();
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
    bool had_bucket = admin_weight(r) > 0;
    a->admin_used = true;
    if (weight == 0) {
        r->drained = true;
    } else {
        r->has_override = true;
        r->override = weight;
        r->drained = false;
    }
    VLOG_INFO("service %s real %s: administrative weight %"PRIu32
              " (spec: %"PRIu32")", service, r->addr, weight, r->configured);
    /* A real that keeps a bucket: re-solve that service's weights alone. */
    if (had_bucket && weight && reweigh_service(a, service, r->addr)) {
        return true;
    }
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
    a->admin_used = true;
    VLOG_INFO("service %s real %s: enabled, weight %"PRIu32, service,
              r->addr, effective_admin_weight(r));
    return relower(a, r, saved, err);
}

/* --- flowlb/show ---------------------------------------------------------- */

static const struct ir_group *
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

static const struct ir_bucket *
real_bucket(const struct ir_group *g, const char *addr)
{
    for (size_t i = 0; g && i < g->n_buckets; i++) {
        if (!strcmp(g->buckets[i].real, addr)) {
            return &g->buckets[i];
        }
    }
    return NULL;
}

static char *
format_time(long long int wall_ms)
{
    return wall_ms > 0 ? xastrftime_msec("%Y-%m-%dT%H:%M:%S.###Z", wall_ms,
                                         true)
                       : xstrdup("-");
}

void
agent_show(const struct agent *a, const struct swconn *sc, bool json,
           struct ds *out)
{
    const struct compiled *c = a->cur;
    struct swconn_counters cnt;
    swconn_get_counters(sc, &cnt);
    long long int now = time_wall_msec();

    struct json *top = json_object_create();
    json_object_put_string(top, "spec", a->spec_path);
    char *loaded = format_time(c->loaded);
    json_object_put_string(top, "loaded", loaded);
    json_object_put_string(top, "bridge", swconn_target(sc));
    json_object_put_string(top, "connection", swconn_state_name(sc));
    bool synced = swconn_is_synced(sc, a->desired_seqno);
    json_object_put(top, "synced", json_boolean_create(synced));
    json_object_put(top, "connects", json_integer_create(cnt.n_connects));
    json_object_put(top, "dumps", json_integer_create(cnt.n_dumps));
    json_object_put(top, "bundles", json_integer_create(cnt.n_bundles));
    json_object_put(top, "bundle_errors",
                    json_integer_create(cnt.n_bundle_errors));
    json_object_put(top, "installed_flows",
                    json_integer_create(cnt.n_installed_flows));
    json_object_put(top, "installed_groups",
                    json_integer_create(cnt.n_installed_groups));
    json_object_put(top, "desired_flows",
                    json_integer_create(ofsync_state_n_flows(&a->desired)));
    json_object_put(top, "expire_nodest_conn",
                    json_boolean_create(a->opts.expire_nodest_conn));

    if (!json) {
        ds_put_format(out, "spec %s (loaded %s)\n", a->spec_path, loaded);
        ds_put_format(out, "bridge %s: %s%s, %u connects, %u bundles (%u "
                      "failed), %"PRIuSIZE" flows and %"PRIuSIZE
                      " groups installed\n", swconn_target(sc),
                      swconn_state_name(sc),
                      synced ? "" : " (not synced)",
                      cnt.n_connects, cnt.n_bundles, cnt.n_bundle_errors,
                      cnt.n_installed_flows, cnt.n_installed_groups);
    }
    free(loaded);

    struct json *services = json_array_create_empty();
    for (size_t i = 0; i < c->spec.n_services; i++) {
        const struct lb_service *svc = &c->spec.services[i];
        const struct agent_service *as = find_service(a, svc->name);
        const struct ir_group *g = service_group(&c->ir, svc->name);
        char vip[INET6_ADDRSTRLEN];
        lb_addr_format(&svc->vip, vip, sizeof vip);

        struct json *js = json_object_create();
        json_object_put_string(js, "name", svc->name);
        json_object_put_string(js, "vip", vip);
        json_object_put_string(js, "protocol", lb_proto_name(svc->proto));
        json_object_put(js, "port", json_integer_create(svc->port));
        json_object_put_string(js, "scheduler",
                               lb_scheduler_name(svc->scheduler));
        json_object_put_string(js, "check",
                               lb_check_type_name(svc->check.type));
        if (g) {
            json_object_put_format(js, "group", "%#"PRIx32, g->group_id);
        }
        json_object_put(js, "all_down",
                        json_boolean_create(as && as->all_down));
        json_object_put(js, "withdrawn",
                        json_boolean_create(as && as->withdrawn));
        if (svc->has_sorry) {
            char sorry[INET6_ADDRSTRLEN];
            lb_addr_format(&svc->sorry.addr, sorry, sizeof sorry);
            json_object_put_string(js, "sorry", sorry);
        }
        if (svc->quorum) {
            json_object_put(js, "quorum", json_integer_create(svc->quorum));
        }
        if (!json) {
            ds_put_format(out, "\nservice %s: %s %s%s:%u, scheduler %s, "
                          "check %s", svc->name, lb_proto_name(svc->proto),
                          svc->vip.family == AF_INET6 ? "[" : "", vip,
                          svc->port, lb_scheduler_name(svc->scheduler),
                          lb_check_type_name(svc->check.type));
            if (g) {
                ds_put_format(out, ", group %#"PRIx32, g->group_id);
            }
            ds_put_format(out, "%s%s\n",
                          as && as->all_down
                          ? (svc->has_sorry
                             ? " -- ALL REALS DOWN, sorry real in use"
                             : " -- ALL REALS DOWN, dropping new connections")
                          : "",
                          as && as->withdrawn
                          ? " -- WITHDRAWN (quorum lost)" : "");
        }

        struct json *reals = json_array_create_empty();
        for (size_t j = 0; j < svc->n_reals; j++) {
            const struct lb_real *real = &svc->reals[j];
            char addr[INET6_ADDRSTRLEN];
            lb_addr_format(&real->addr, addr, sizeof addr);
            const struct agent_real *ar = find_real(a, svc->name, addr);
            struct health_status st;
            bool checked = a->hm && health_monitor_get(a->hm, svc->name,
                                                       &real->addr, &st);
            const char *state = checked ? health_state_name(st.state)
                                        : "unchecked";
            bool up = !checked || health_state_is_up(st.state);
            uint32_t admin = ar ? admin_weight(ar) : real->weight;
            uint32_t effective = up ? admin : 0;
            const struct ir_bucket *b = real_bucket(g, addr);
            uint64_t packets = 0, bytes = 0;
            bool has_stats = b && g && swconn_bucket_stats(
                sc, g->group_id, b->bucket_id, &packets, &bytes);

            struct json *jr = json_object_create();
            json_object_put_string(jr, "address", addr);
            json_object_put_string(jr, "health", state);
            char *since = format_time(checked ? st.since : 0);
            json_object_put_string(jr, "since", since);
            if (checked) {
                json_object_put_string(jr, "last_check",
                                       st.last.reason == HEALTH_R_NONE
                                       ? "none" : st.last.text);
            }
            json_object_put(jr, "configured_weight",
                            json_integer_create(ar ? ar->configured
                                                   : real->weight));
            json_object_put(jr, "admin_weight", json_integer_create(admin));
            json_object_put(jr, "drained",
                            json_boolean_create(ar && ar->drained));
            if (ar && ar->has_dyn && is_lc(svc)) {
                json_object_put(jr, "connections",
                                json_integer_create(ar->conns));
                json_object_put(jr, "lc_weight",
                                json_integer_create(ar->dyn));
            }
            json_object_put(jr, "effective_weight",
                            json_integer_create(effective));
            if (b) {
                json_object_put(jr, "bucket_id",
                                json_integer_create(b->bucket_id));
                json_object_put(jr, "bucket_weight",
                                json_integer_create(b->weight));
            }
            json_object_put(jr, "in_group",
                            json_boolean_create(b && effective));
            if (has_stats) {
                json_object_put(jr, "packets", json_integer_create(packets));
                json_object_put(jr, "bytes", json_integer_create(bytes));
            }
            json_array_add(reals, jr);

            if (!json) {
                ds_put_format(out, "  real %-15s %-9s", addr, state);
                if (checked) {
                    ds_put_format(out, " since %s (%llds ago)", since,
                                  (now - st.since) / 1000);
                }
                ds_put_format(out, " weight configured %"PRIu32
                              " admin %"PRIu32"%s effective %"PRIu32,
                              ar ? ar->configured : real->weight, admin,
                              ar && ar->drained ? " (drained)" : "",
                              effective);
                if (ar && ar->has_dyn && is_lc(svc)) {
                    ds_put_format(out, " (%s: %"PRIu32" connections, "
                                  "weight %"PRIu32")",
                                  lb_scheduler_name(svc->scheduler),
                                  ar->conns, ar->dyn);
                }
                if (b) {
                    ds_put_format(out, " bucket %"PRIu32"/w%u", b->bucket_id,
                                  b->weight);
                }
                if (has_stats) {
                    ds_put_format(out, " packets %"PRIu64" bytes %"PRIu64,
                                  packets, bytes);
                }
                if (checked && st.last.reason != HEALTH_R_NONE
                    && !st.last.ok) {
                    ds_put_format(out, " last check: %s", st.last.text);
                }
                ds_put_char(out, '\n');
            }
            free(since);
        }
        json_object_put(js, "reals", reals);
        json_array_add(services, js);
    }
    json_object_put(top, "services", services);
    if (json) {
        char *s = json_to_string(top, 0);
        ds_put_cstr(out, s);
        free(s);
    }
    json_destroy(top);
}
