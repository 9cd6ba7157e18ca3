/* The agent's OpenFlow connection to the switch and its synchronization.
 *
 * A small explicit state machine over an rconn (reconnect with backoff,
 * inactivity probes), run from the main loop:
 *
 *   DOWN ──(connected, new connection seqno)──> DUMPING
 *   DUMPING: port descriptions, flows with flowlb's cookie, group
 *            descriptions and group stats requested at once; when every
 *            reply is in, the installed view is rebuilt from the switch
 *            (a full dump: on connection, after errors and after drift).
 *            Periodic and requested rounds with a known installed view are
 *            "sliced" instead: small requests (per service, per table,
 *            slices of a table's shared flows), a batch at a time and none
 *            while a bundle is in flight, so that a change never waits
 *            behind a large reply; what they read is compared with the
 *            installed view, and any difference leads to a full dump.
 *   READY: swconn_sync() compares the desired state with the installed
 *          view; a non-empty difference goes out as ONE ordered atomic
 *          bundle followed by a barrier -> COMMITTING. An empty one sends
 *          nothing.
 *   COMMITTING: the commit reply makes the sent state the installed view;
 *               an error makes the next step a fresh dump (with backoff).
 *
 * A reconnect, a periodic reconcile timer and an explicit request (e.g. for
 * fresh statistics) all lead to DUMPING, so drift behind the agent's back
 * (flows deleted with ovs-ofctl, a restarted ovs-vswitchd) is repaired on
 * the next round. Only flows whose cookie carries FLOWLB_COOKIE_MAGIC and
 * groups inside flowlb's id range are ever dumped, compared or touched.
 */
#ifndef FLOWLB_SWCONN_H
#define FLOWLB_SWCONN_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ofsync_state;
struct ofputil_port_map;

struct swconn;

/* 'target' is a vconn name ("unix:/run/openvswitch/br0.mgmt", "tcp:..").
 * 'reconcile_ms' is the period of the drift check (0 disables it). */
struct swconn *swconn_create(const char *target, int reconcile_ms);
void swconn_destroy(struct swconn *);       /* Accepts NULL. */

/* Processes I/O and advances the state machine (except pushing changes). */
void swconn_run(struct swconn *);
/* Pushes the difference between 'desired' (owned by the caller) and the
 * installed view if the connection is ready. The comparison is made only
 * when 'desired_seqno' or the installed view changed since the last one,
 * so calling this on every loop iteration is cheap. */
void swconn_sync(struct swconn *, const struct ofsync_state *desired,
                 unsigned int desired_seqno);
void swconn_wait(struct swconn *);

/* Port name <-> number map from the switch's port descriptions; changes
 * are signalled by swconn_ports_seqno(). */
const struct ofputil_port_map *swconn_port_map(const struct swconn *);
unsigned int swconn_ports_seqno(const struct swconn *);
/* Number of known ports (0 until the first dump). */
size_t swconn_n_ports(const struct swconn *);

/* Requests a dump round as soon as possible and returns the number that
 * swconn_dumps_done() will reach once it completed. */
unsigned int swconn_request_dump(struct swconn *);
unsigned int swconn_dumps_done(const struct swconn *);
/* time_msec() when the last dump round completed (0: never). */
long long int swconn_last_dump(const struct swconn *);

bool swconn_is_connected(const struct swconn *);
/* True when the switch holds the desired state numbered 'desired_seqno':
 * the installed view (from a dump, or a commit since) was compared with
 * it and nothing is left to send or in flight. */
bool swconn_is_synced(const struct swconn *, unsigned int desired_seqno);
const char *swconn_state_name(const struct swconn *);
const char *swconn_target(const struct swconn *);
/* Connection seqno of the rconn (changes on every (re)connect). */
unsigned int swconn_connection_seqno(const struct swconn *);

/* Bucket counters from the last dump round. Returns false if unknown. */
bool swconn_bucket_stats(const struct swconn *, uint32_t group_id,
                         uint32_t bucket_id, uint64_t *packets,
                         uint64_t *bytes);

/* A deletion of flows the switch learned (persistence or learn-mode
 * entries of a real that went away): non-strict delete in 'table_id' of
 * the flows whose cookie matches 'cookie'/'cookie_mask' and, if 'has_reg',
 * whose register 'reg' equals 'reg_value'. Queued purges go out in the next
 * bundle (a bundle is sent for them even if nothing else changed) and are
 * kept until one carrying them commits. */
struct swconn_purge {
    uint8_t table_id;
    bool has_reg;
    uint8_t reg;
    uint32_t reg_value;
    uint64_t cookie, cookie_mask;
};
void swconn_queue_purge(struct swconn *, const struct swconn_purge *);
size_t swconn_n_purges(const struct swconn *);

/* Counters for flowlb/show and tests. */
struct swconn_counters {
    unsigned int n_connects;    /* Connections established. */
    unsigned int n_dumps;       /* Dump rounds completed. */
    unsigned int n_bundles;     /* Bundles committed. */
    unsigned int n_bundle_errors;
    unsigned int n_ops;         /* Operations sent in bundles. */
    unsigned int n_empty_syncs; /* Comparisons that found nothing to do. */
    long long int last_commit;  /* time_wall_msec() of the last commit. */
    long long int last_commit_usec; /* time_usec() when the last commit's
                                     * barrier reply was read. */
    size_t n_installed_flows, n_installed_groups;
};
void swconn_get_counters(const struct swconn *, struct swconn_counters *);
/* time_usec() when the last bundle's barrier reply was read (0: none). */
long long int swconn_last_commit_usec(const struct swconn *);
/* Flows in flowlb's tables that are not flowlb's, as of the last round
 * that could tell (see foreign_flows.h). */
struct foreign_flows;
const struct foreign_flows *swconn_foreign_flows(const struct swconn *);

#endif /* FLOWLB_SWCONN_H */
