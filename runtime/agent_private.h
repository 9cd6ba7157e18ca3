/* What the agent's files share (agent.c, agent_reload.c, agent_build.c,
 * agent_desired.c, agent_show.c): the agent's state and the functions one
 * of them defines for the others. Not part of the agent's interface
 * (agent.h). */
#ifndef FLOWLB_AGENT_PRIVATE_H
#define FLOWLB_AGENT_PRIVATE_H 1

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "agent.h"
#include "check.h"
#include "diag.h"
#include "ir.h"
#include "lower.h"
#include "ofsync.h"
#include "openvswitch/hmap.h"
#include "spec.h"
#include "sset.h"

struct ds;
struct health_monitor;
struct health_target;
struct ofputil_port_map;
struct reload_job;
struct reload_waiters;
struct swconn;
struct vlog_module;

/* The agent's files log as one module, "agent" (defined in agent.c: the
 * log lines and "vlog/set agent:..." cover them all). */
extern struct vlog_module *VLM_agent;

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
    size_t n_configured;        /* Reals in the spec. */
    long long int loaded;       /* time_wall_msec(). */
    bool admin_applied;         /* Spec weights may differ from the file
                                 * (administrative weights were applied). */
    uint64_t *group_fp;         /* A fingerprint of each IR group (same
                                 * index) as decoded into the base state,
                                 * or NULL: a reload keeps the desired
                                 * group of a service whose fingerprint
                                 * and settings did not change. */
    uint64_t flows_fp;          /* Of all flows of 'ir' (if 'group_fp'). */
    uint64_t *flow_fp;          /* Of each flow of 'ir' (same index), or
                                 * NULL; the base's flows are tagged with
                                 * them (a reload takes the unchanged ones
                                 * from the running base). */
    bool uses_lc;               /* Some service is lc or wlc (set at load:
                                 * the loop asks every iteration). */
    struct lb_text_memo memo;   /* What 'spec' was parsed from, for the
                                 * next reload (see spec.h). */
    size_t n_services_reused;   /* Taken over from the previous spec. */
    size_t n_services_copied;   /* Groups and flows copied from the
                                 * previous pipeline. */
    pthread_mutex_t spec_mutex; /* Held while a reload copies services from
                                 * 'spec' and while administrative weights
                                 * are written into it. */
    bool *admin_lowered;        /* Per service: its group or flows in 'ir'
                                 * were made with administrative (or lc)
                                 * weights, not the file's: a reload must
                                 * not copy them. */
    size_t n_admin_lowered;     /* How many are. */
    struct lb_spec_index *index;/* Names and VIPs of 'spec', made at the
                                 * first reload that appends services
                                 * (then kept up to date), or NULL. */
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
    /* Where the service is in the running spec (its index) and IR (its
     * group's id), set by index_services() (valid while !index_stale;
     * SIZE_MAX and 0: none). Numbers, not pointers: services appended in
     * place move the arrays but not these. See agent_service_spec() and
     * agent_service_group(). */
    size_t svc_idx;
    uint32_t group_id;
};

/* The spec entry and compiled group of 'as' in the running spec, by its
 * index (valid while !index_stale), or NULL. */
const struct lb_service *agent_service_spec(const struct agent *,
                                            const struct agent_service *);
const struct ir_group *agent_service_group(const struct agent *,
                                           const struct agent_service *);

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
    unsigned int n_reloads_patched; /* See agent_reloads_patched(). */
    unsigned int n_services_appended; /* See agent_services_appended(). */
    unsigned int n_reloads_compared;  /* See agent_reloads_compared(). */
    unsigned int n_relowered_alone, n_relowered_whole; /* See
                                                        * agent_relowerings(). */
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
    struct lb_text_buf read_buf;/* Where reloads read the spec to compare
                                 * it with the running text, kept warm. */
    struct sset admin_services; /* Services one of whose reals has (or
                                 * had) an administrative or lc weight:
                                 * what a reload carries over and lowers
                                 * again, without a pass over every real. */

    /* Failover latency: from the first verdict that moved a real in or out
     * of its group to the switch's acknowledgement of the state that
     * holds it (time_usec()). 0: no such verdict pending. */
    long long int verdict_usec;
    unsigned int verdict_seqno; /* Desired seqno holding it; 0: not yet. */
    long long int last_failover_usec, max_failover_usec;
    unsigned long long int n_failovers;
};

/* --- agent.c: tables, spec, weights --------------------------------------- */

/* The entry of (service, addr) in 'reals' / of service 'name' in
 * 'services', or NULL. 'basis' is hash_string(service, 0): the hash of the
 * service's entry. find_real() and find_service() look in the agent's. */
struct agent_real *find_real__(const struct hmap *reals, const char *service,
                               uint32_t basis, const char *addr);
struct agent_real *find_real(const struct agent *, const char *service,
                             const char *addr);
/* The entry in 'reals' of real 'k' of 'svc' (basis as above). */
struct agent_real *find_service_real(const struct hmap *reals,
                                     const struct lb_service *svc, size_t k,
                                     uint32_t basis);
struct agent_service *find_service__(const struct hmap *services,
                                     const char *name);
struct agent_service *find_service(const struct agent *, const char *name);

/* The weight an operator gave the real (spec or set-weight; 0 drained). */
uint32_t admin_weight(const struct agent_real *);
/* The weight the real is lowered with (lc/wlc: from connection counts). */
uint32_t effective_admin_weight(const struct agent_real *);
/* Whether 'r' has an override, a drain or an lc/wlc weight. */
bool has_admin_weight(const struct agent_real *r);
/* lc or wlc: weights from connection counts. */
bool is_lc(const struct lb_service *);
/* The compiled group of 'service' in 'ir', or NULL. */
const struct ir_group *service_group(const struct ir_pipeline *,
                                     const char *service);

/* Loading and lowering a spec (load_spec_path() and lower_plain() touch
 * nothing else: the reload thread runs them). 'buf': the agent's read
 * buffer (one user at a time), or NULL. */
struct compiled *load_spec_path(const char *spec_path, struct ds *errors,
                                 struct compiled *prev,
                                 struct lb_text_buf *buf);
struct compiled *load_spec(struct agent *, struct ds *errors);
bool lower_plain_reusing(const struct lower_options *, struct compiled *,
                         struct compiled *prev, const uint64_t *prev_group_fp,
                         const uint64_t *prev_flow_fp, struct ds *errors);
bool lower_plain(const struct lower_options *, struct compiled *,
                 struct ds *errors);
bool lower(struct agent *, struct compiled *, struct ds *errors);
void compiled_destroy(struct compiled *);           /* Accepts NULL. */

/* The agent's tables ('reals', 'services') made to match a spec, and
 * freed; sync_tables__() runs in the reload thread on tables of its own. */
void sync_tables__(struct hmap *reals, struct hmap *services,
                   const struct compiled *, bool prune);
void sync_tables(struct agent *, const struct compiled *, bool prune);
void tables_clear(struct hmap *reals, struct hmap *services);
/* The entries of 'svc' and its reals (their spec weights 'configured[0 ..
 * n_reals)'), made if missing, marked seen. */
void tables_put_service(struct hmap *reals, struct hmap *services,
                        const struct lb_service *svc,
                        const uint32_t *configured);
void set_health_targets(struct agent *, const struct compiled *);
/* The health targets of the reals of 'svc' into 't' (room for n_reals):
 * none if it declares no check. Returns how many. */
size_t service_health_targets(const struct lb_service *svc,
                              struct health_target *t);

/* Appends the diagnostics of 'd' to 'out' in the compiler's format. */
void diag_to_ds(const struct diag *d, struct ds *out);

/* CPU time of the calling thread, in ms. */
long long int thread_cpu_msec(void);

/* --- agent_relower.c: one service lowered again in place ------------------ */

/* Writes the administrative weights of 'svc''s reals into 'svc' (a service
 * of 'a->cur'; hold its 'spec_mutex'). Returns whether one of them has an
 * administrative or lc weight. */
bool set_service_admin_weights(struct agent *, struct lb_service *svc);
/* Notes whether service 'idx' of 'c' was lowered with administrative
 * weights ('admin') or the file's (hold 'c->spec_mutex'). */
void mark_admin_lowered(struct compiled *c, size_t idx, bool admin);
/* Lowers service 'name' of 'a->cur' again with its administrative weights
 * and puts its group in place in the IR and the base state, and its own
 * flows where they changed (persistence and learn-mode services: a
 * drained real loses its assign flow); its desired group is made again at
 * the next agent_run(). Returns false if that does not apply (no such
 * service or group, or the lowering failed): then relower_whole(). */
bool relower_service(struct agent *, const char *name);
/* relower_service() for every service with an administrative or lc weight
 * (after a reload, which lowers with the file's weights). Returns false
 * if one of them needs the whole spec lowered. */
bool relower_admin_services(struct agent *);
/* The running spec lowered whole with the administrative weights, when
 * lowering services alone did not apply; the base is rebuilt. */
void relower_whole(struct agent *);
/* Puts IR group 'g' (of 'a->cur') into 'a->base'. Returns false on a
 * refusal (logged). */
bool base_put_group(struct agent *, const struct ir_group *g);
/* Replaces in the base (and, with 'desired_too', the desired) state the
 * flows tagged 'gone_fp[0 .. n_gone)' with the flows of 'ir' at 'added[0
 * .. n_added)' (tagged with 'added_fp'). Returns false if the base does
 * not hold the gone ones or a new one cannot be decoded (then the base is
 * to be rebuilt). */
bool base_patch_flows(struct agent *, const uint64_t *gone_fp, size_t n_gone,
                      const struct ir_pipeline *ir, const size_t *added,
                      const uint64_t *added_fp, size_t n_added,
                      bool desired_too);

/* --- agent_append.c: services a reload adds, put in place ----------------- */

/* What appending services adds to the running pipeline (see
 * lower_services_appended()). */
struct append_plan {
    struct ir_pipeline ir;
    struct lower_sharer *sharers;
    size_t n_sharers;
};

/* Whether the services 'e' adds (they passed lb_check() alone) can join
 * the running spec in place; then makes 'p'. Else sets '*why' (for the
 * log): a whole reload must take them. Changes nothing but the running
 * spec's index of names and VIPs (made if missing). */
bool append_prepare(struct agent *, const struct lb_weight_edits *e,
                    struct append_plan *p, const char **why);
/* Moves the services 'e' adds into the running spec and 'p' into the
 * running pipeline, tables, health targets, base and desired states (their
 * desired groups made at the next agent_run()). Returns the number of
 * flows added. Frees 'p'. */
size_t append_apply(struct agent *, struct lb_weight_edits *e,
                    struct append_plan *p);
void append_plan_destroy(struct append_plan *);

/* --- agent_build.c: IR -> base state -------------------------------------- */

/* What a reload's decoding may skip: the entries that the running spec
 * decoded to from the same text. The running base has them already; the
 * loop moves them over (take_reused() in agent_reload.c), which makes the
 * reload's work follow the change, not the spec. */
struct build_reuse {
    /* Input: the running spec's groups (by id) and flows, sorted. */
    struct reuse_group {
        uint32_t group_id;
        uint64_t fp;
    } *groups;
    size_t n_groups;
    uint64_t *flows;
    size_t n_flows;
    /* Output, per group / flow of the IR decoded: not decoded, to be
     * taken from the running base. */
    bool *group_reused, *flow_reused;
    size_t n_groups_reused, n_flows_reused;
};

size_t build_base_into(struct ofsync_state *base,
                       struct ofsync_state *desired,
                       const struct ir_pipeline *,
                       const struct ofputil_port_map *,
                       bool prepare, bool quiet, uint64_t *fp,
                       uint64_t *flows_fp, uint64_t *flow_fp,
                       struct build_reuse *);
/* Sorts the input of 'r' (once filled). */
void build_reuse_sort(struct build_reuse *);
/* qsort()/bsearch() order of 64-bit fingerprints. */
int compare_fp(const void *, const void *);
/* 'a->base' from the running IR (with 'ports' unless 'a->ports_free'). */
void build_base(struct agent *, const struct ofputil_port_map *ports);
/* A fingerprint of what a service's base and desired groups are made of. */
uint64_t group_fp(const struct ir_group *);
/* A fingerprint of everything a flow is decoded from (the base's flows
 * are tagged with it: a reload finds the unchanged ones by it). */
uint64_t flow_fp(const struct ir_flow *);
/* A fingerprint of all flows, from theirs (in IR order). */
uint64_t all_flows_fp(const uint64_t *flow_fp, size_t n);

/* --- agent_desired.c: base + health -> desired state ---------------------- */

void build_service_group(struct agent *, struct swconn *,
                         const struct ir_group *, struct ofsync_group *,
                         const struct lb_service *, struct agent_service *);
void index_services(struct agent *);
/* The whole desired state, from 'a->base'. */
void build_desired(struct agent *, struct swconn *);
bool update_service(struct agent *, struct swconn *, const char *name);

/* --- agent_reload.c: the background reload -------------------------------- */

/* In agent_run(): takes the result of a finished reload into use. */
void agent_reload_run(struct agent *, struct swconn *);
/* In agent_destroy(): waits for a running reload and drops it, with the
 * reload's waiters. */
void agent_reload_destroy(struct agent *);

#endif /* FLOWLB_AGENT_PRIVATE_H */
