/* Health checking of the reals, for flowlbd.
 *
 * A health_monitor checks a set of targets (one per (service, real) with a
 * declared check) concurrently from libopenvswitch's poll loop; nothing in
 * here ever blocks. The daemon's main loop does:
 *
 *     health_monitor_run(hm);
 *     n = health_monitor_take_changes(hm, &changes);   -> update groups
 *     health_changes_destroy(changes, n);
 *     ...
 *     health_monitor_wait(hm);
 *     poll_block();
 *
 * State machine (health_sm_*): every real starts HEALTH_UNKNOWN, which
 * counts as up (health_state_is_up()): after an agent restart with live
 * traffic the operator does not want every bucket removed before the first
 * checks come back. UNKNOWN becomes UP after 'rise' consecutive successes
 * or DOWN after 'fall' consecutive failures; UP becomes DOWN after 'fall'
 * consecutive failures; DOWN becomes UP after 'rise' consecutive successes.
 * A success resets the failure count and vice versa, so a real alternating
 * success/failure never changes state (when rise and fall are >= 2).
 *
 * Reload (health_monitor_set_targets()): targets are identified by
 * (service name, real address). Same identity and same definition (probe
 * port, source, check fields): state, counters and schedule are kept, an
 * in-flight probe continues. Same identity, changed definition: the state
 * (UP/DOWN/UNKNOWN, since, last verdict) is kept but the counters are reset
 * and a fresh probe is scheduled, so a reload never re-flaps a real. New
 * identities start UNKNOWN; vanished ones are dropped (no change reported).
 *
 * Check kinds: tcp (non-blocking connect; the connection is then reset, not
 * closed, to leave no TIME_WAIT behind), http/https (libcurl multi, GET
 * http://ADDR:PORT/PATH, status must equal expect_status (default 200),
 * optional body substring searched in the first 64 KiB; https does NOT
 * verify the peer certificate or host name: checks go to an IP address and
 * test liveness, not identity; proxies from the environment are ignored),
 * exec (/bin/sh -c COMMAND with FLOWLB_SERVICE, FLOWLB_REAL, FLOWLB_PORT and,
 * if set, FLOWLB_SOURCE in its environment; exit 0 = up; its process group
 * is killed with SIGKILL at the timeout), udp (one datagram, 'send' or
 * empty, on a connected socket; the first reply decides: it must contain
 * 'expect_reply' if set, else any reply is up; without 'expect_reply',
 * silence until the timeout is up too; an ICMP port unreachable is
 * HEALTH_R_CONNECT_REFUSED, other ICMP errors HEALTH_R_CONNECT_ERROR;
 * see runtime/check_udp.c). A probe that exceeds the check's
 * timeout fails with HEALTH_R_TIMEOUT (udp without 'expect_reply': succeeds). Probes of one target never overlap;
 * the next one is due 'interval' after the previous one was due (each
 * target keeps its place in the interval; the first probes of many
 * targets are spread over up to one interval, see first_run() in
 * health.c), and starts at least half an interval after it.
 */
#ifndef FLOWLB_HEALTH_H
#define FLOWLB_HEALTH_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "spec.h"

enum health_state {
    HEALTH_UNKNOWN,             /* Not decided yet; counts as up. */
    HEALTH_UP,
    HEALTH_DOWN,
};

const char *health_state_name(enum health_state); /* "unknown", "up"... */

/* True for UNKNOWN and UP: whether the real should carry traffic. */
static inline bool
health_state_is_up(enum health_state s)
{
    return s != HEALTH_DOWN;
}

/* Why a probe succeeded or failed. */
enum health_reason {
    HEALTH_R_NONE,              /* No probe finished yet. */
    HEALTH_R_OK,                /* Probe succeeded. */
    HEALTH_R_TIMEOUT,           /* No verdict within the check timeout. */
    HEALTH_R_CONNECT_REFUSED,   /* ECONNREFUSED (closed port, RST). */
    HEALTH_R_CONNECT_ERROR,     /* Other connect error; detail = errno. */
    HEALTH_R_HTTP_STATUS,       /* Unexpected status; detail = status. */
    HEALTH_R_HTTP_BODY,         /* Body lacks the expected substring. */
    HEALTH_R_HTTP_ERROR,        /* Other libcurl error; detail = CURLcode. */
    HEALTH_R_EXEC_EXIT,         /* Nonzero exit; detail = exit status. */
    HEALTH_R_EXEC_SIGNAL,       /* Killed by a signal; detail = signal. */
    HEALTH_R_EXEC_ERROR,        /* Could not run the command; detail=errno. */
    HEALTH_R_INTERNAL,          /* Local failure (socket, fork, curl init). */
    HEALTH_R_UDP_REPLY,         /* udp: the reply lacks the expected text. */
};

const char *health_reason_name(enum health_reason); /* "timeout", ... */

/* The outcome of one probe. */
struct health_verdict {
    bool ok;                    /* Success? */
    enum health_reason reason;
    int detail;                 /* errno, HTTP status, exit code... or 0. */
    char text[128];             /* Human-readable, e.g. "bad status 503". */
};

/* The consecutive-success/failure state machine, pure (no I/O). */
struct health_sm {
    enum health_state state;    /* Initially HEALTH_UNKNOWN. */
    uint32_t successes;         /* Consecutive successes so far. */
    uint32_t failures;          /* Consecutive failures so far. */
};

void health_sm_init(struct health_sm *);

/* Feeds one probe result; 'rise' and 'fall' of 0 are treated as 1. Returns
 * true if sm->state changed. */
bool health_sm_update(struct health_sm *, bool success,
                      uint32_t rise, uint32_t fall);

/* What the daemon wants checked. The monitor copies everything it keeps
 * (strings included); the caller may free its targets after the call. */
struct health_target {
    const char *service;        /* Service name. */
    struct lb_addr addr;        /* The real. */
    uint16_t port;              /* Service port; check.port overrides it.
                                 * The probed port must not end up 0 for
                                 * tcp/http(s) (such targets fail). */
    struct lb_check check;      /* type LB_CHECK_NONE: target ignored.
                                 * Zero interval/timeout/rise/fall get the
                                 * spec's defaults (1000/1000/2/3). */
    struct lb_addr source;      /* Probe from this address (family 0 =
                                 * any). */
};

/* One state change, as drained by health_monitor_take_changes(). */
struct health_change {
    char *service;              /* Owned. */
    struct lb_addr addr;        /* The real. */
    uint16_t port;              /* The probed port. */
    enum health_state old_state, new_state;
    struct health_verdict verdict; /* The probe that caused the change. */
    long long int when;         /* Wall clock, ms (time_wall_msec()). */
};

/* For flowlb/show. */
struct health_status {
    enum health_state state;
    long long int since;        /* Wall ms when 'state' was entered (for
                                 * UNKNOWN: when the target was added). */
    struct health_verdict last; /* Last probe verdict (reason NONE before
                                 * the first one). */
    long long int last_when;    /* Wall ms of 'last', 0 if none. */
    /* Since when probes have not run (wall ms; 0: the last one ran), the
     * state kept meanwhile, and the latest one's reason: the checker short
     * of resources, or this host without a route or source address. */
    long long int not_run_since;
    struct health_verdict not_run;
    uint32_t successes;         /* Current consecutive successes. */
    uint32_t failures;          /* Current consecutive failures. */
    uint64_t n_probes;          /* Probes finished since added. */
    uint16_t port;              /* The probed port. */
    enum lb_check_type type;
};

struct health_monitor;

/* Also initializes libcurl globally (once per process) and raises the
 * soft RLIMIT_NOFILE towards the hard limit, since every concurrent probe
 * needs a descriptor. */
struct health_monitor *health_monitor_create(void);
void health_monitor_destroy(struct health_monitor *); /* NULL ok. Kills and
                                                       * reaps exec probes. */

/* Replaces the set of targets (see "Reload" above). Targets with
 * check.type == LB_CHECK_NONE are ignored. If two targets share a
 * (service, addr), the first wins. */
void health_monitor_set_targets(struct health_monitor *,
                                const struct health_target *, size_t n);

/* Adds the targets whose (service, addr) the monitor does not have, and
 * leaves the others as they are (services added by a reload). */
void health_monitor_add_targets(struct health_monitor *,
                                const struct health_target *, size_t n);

/* Advances probes: I/O, timeouts, finished children, new probes due. */
void health_monitor_run(struct health_monitor *);

/* Registers the fds and the next deadline with the poll loop. */
void health_monitor_wait(struct health_monitor *);

/* Moves the state changes recorded since the last call into '*changes'
 * (caller owns; free with health_changes_destroy()) and returns how many.
 * Every change includes the old state: a change UNKNOWN -> UP does not
 * alter traffic (compare health_state_is_up() of old and new). When nothing
 * changed, returns 0 and sets '*changes' to NULL. */
size_t health_monitor_take_changes(struct health_monitor *,
                                   struct health_change **changes);
void health_changes_destroy(struct health_change *, size_t n);

/* Looks up (service, addr). Returns false if the monitor has no such
 * target (e.g. its service declares no check). */
bool health_monitor_get(const struct health_monitor *, const char *service,
                        const struct lb_addr *addr, struct health_status *);

/* Number of targets being checked. */
size_t health_monitor_n_targets(const struct health_monitor *);

#endif /* FLOWLB_HEALTH_H */
