/* The agent's model: spec -> desired OpenFlow state, kept up to date with
 * health changes, administrative weights and reloads.
 *
 * Layers, each derived from the one before:
 *   spec (+ admin weight overrides)  --lower_spec-->  IR pipeline
 *   IR + the switch's port names     --parse-->       base state (decoded)
 *   base - buckets of reals that are down (+ expire_nodest_conn flows)
 *                                                     desired state
 * The desired state is what swconn pushes (as a difference). A health
 * change therefore rebuilds only 'desired' from 'base': the service's
 * group loses or regains exactly that real's bucket, the other buckets
 * keep their weights (rendezvous hashing: only the dead real's flows move).
 * An admin weight change re-lowers the spec, which may re-solve the
 * service's weights.
 */
#ifndef FLOWLB_AGENT_H
#define FLOWLB_AGENT_H 1

#include <stdbool.h>
#include <stdint.h>
#include "lower.h"

struct ds;
struct swconn;
struct health_monitor;
struct ofsync_state;

struct agent_options {
    struct lower_options lower;
    /* IPVS expire_nodest_conn: when a real goes down, let its established
     * connections be rescheduled to live reals (true) instead of keeping
     * forwarding them to it (false, the default). */
    bool expire_nodest_conn;
};

struct agent;

/* Loads, checks and lowers 'spec_path'. On failure returns NULL and puts
 * the diagnostics (FILE:LINE:COL: error: ...) into 'errors'. 'hm' (may be
 * NULL: no health checking) is not owned; it gets the spec's targets. */
struct agent *agent_create(const char *spec_path,
                           const struct agent_options *,
                           struct health_monitor *hm, struct ds *errors);
void agent_destroy(struct agent *);         /* Accepts NULL. */

/* Recompiles the spec from its file. On error, the running state is kept
 * and the diagnostics are put into 'errors'; returns false. */
bool agent_reload(struct agent *, struct ds *errors);

/* Recompiles the spec from its file in a thread of its own, so that the
 * main loop keeps running; agent_run() takes the result into use when it
 * is ready and then calls 'cb' (if nonnull) with the outcome and the
 * diagnostics ("" if none). A request made while one runs starts another
 * one after it (the file may have changed since the first read it). */
void agent_reload_start(struct agent *,
                        void (*cb)(bool ok, const char *errors, void *aux),
                        void *aux);
bool agent_reload_running(const struct agent *);
/* How many background reloads were taken into use by changing only what
 * changed in the running state (the others rebuilt it around the change). */
unsigned int agent_reloads_patched(const struct agent *);
/* How many services background reloads added to the running state in
 * place (appended to the spec; see agent_append.c). */
unsigned int agent_services_appended(const struct agent *);
/* How many background reloads cut the new text by comparing it with the
 * running one (kept), rather than scanning and hashing all of it. */
unsigned int agent_reloads_compared(const struct agent *);
/* The running pipeline (the spec lowered, with administrative weights). */
struct ir_pipeline;
const struct ir_pipeline *agent_pipeline(const struct agent *);
/* How many times administrative (or lc) weights were lowered into the
 * pipeline one service alone, and as the whole spec. */
void agent_relowerings(const struct agent *, unsigned int *alone,
                       unsigned int *whole);

/* Takes health changes and port map changes into account; rebuilds the
 * desired state when needed, and queues on 'sc' the deletion of learned
 * entries (persistence) of reals that stopped taking connections. */
void agent_run(struct agent *, struct swconn *);

/* The desired state, and a number that changes whenever it does. */
const struct ofsync_state *agent_desired(const struct agent *);
unsigned int agent_desired_seqno(const struct agent *);

/* Administrative weight of SERVICE's REAL (text address): override the
 * spec's weight ('weight' 0..65535; 0 = drain), or drop the override
 * (agent_enable). Return false with a message in 'err' if unknown. */
bool agent_set_weight(struct agent *, const char *service, const char *real,
                      uint32_t weight, struct ds *err);
bool agent_enable(struct agent *, const char *service, const char *real,
                  struct ds *err);

/* Conntrack settings of the running spec that OpenFlow cannot carry: the
 * zone and the UDP timeout in seconds (0: none). */
void agent_ct_policy(const struct agent *, uint16_t *zone, uint32_t *udp_s);

/* lc/wlc: whether some service wants connection counts, and taking a new
 * count into account (see connload.h); returns true if weights changed. */
struct connload;
bool agent_uses_connload(const struct agent *);
bool agent_apply_connload(struct agent *, const struct connload *);

/* flowlb/show, as text or JSON. */
void agent_show(const struct agent *, const struct swconn *, bool json,
                struct ds *out);

#endif /* FLOWLB_AGENT_H */
