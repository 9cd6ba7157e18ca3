/* Health monitor: targets, scheduling, timeouts and the state machine.
 *
 * Kinds (check_*.c) only run probes; every verdict, whether it comes from a
 * kind, from a timeout or from a failed start, goes through target_done(),
 * the one place where the state machine advances and changes are recorded.
 */
#include <config.h>
#include "health.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <arpa/inet.h>
#include <curl/curl.h>

#include "csum.h"
#include "hash.h"
#include "dueheap.h"
#include "health_check.h"
#include "openvswitch/hmap.h"
#include "openvswitch/poll-loop.h"
#include "util.h"
#include "openvswitch/vlog.h"
#include "timeval.h"
#include "values.h"

VLOG_DEFINE_THIS_MODULE(health);

/* ---- names ------------------------------------------------------------ */

const char *
health_state_name(enum health_state s)
{
    switch (s) {
    case HEALTH_UNKNOWN: return "unknown";
    case HEALTH_UP: return "up";
    case HEALTH_DOWN: return "down";
    }
    return "?";
}

const char *
health_reason_name(enum health_reason r)
{
    switch (r) {
    case HEALTH_R_NONE: return "none";
    case HEALTH_R_OK: return "ok";
    case HEALTH_R_TIMEOUT: return "timeout";
    case HEALTH_R_CONNECT_REFUSED: return "connect-refused";
    case HEALTH_R_CONNECT_ERROR: return "connect-error";
    case HEALTH_R_HTTP_STATUS: return "http-status";
    case HEALTH_R_HTTP_BODY: return "http-body";
    case HEALTH_R_HTTP_ERROR: return "http-error";
    case HEALTH_R_EXEC_EXIT: return "exec-exit";
    case HEALTH_R_EXEC_SIGNAL: return "exec-signal";
    case HEALTH_R_EXEC_ERROR: return "exec-error";
    case HEALTH_R_INTERNAL: return "internal";
    case HEALTH_R_UDP_REPLY: return "udp-reply";
    }
    return "?";
}

/* ---- the state machine ------------------------------------------------ */

void
health_sm_init(struct health_sm *sm)
{
    sm->state = HEALTH_UNKNOWN;
    sm->successes = sm->failures = 0;
}

bool
health_sm_update(struct health_sm *sm, bool success,
                 uint32_t rise, uint32_t fall)
{
    enum health_state old = sm->state;

    rise = MAX(rise, 1);
    fall = MAX(fall, 1);
    if (success) {
        sm->failures = 0;
        if (sm->successes < UINT32_MAX) {
            sm->successes++;
        }
        if (sm->state != HEALTH_UP && sm->successes >= rise) {
            sm->state = HEALTH_UP;
        }
    } else {
        sm->successes = 0;
        if (sm->failures < UINT32_MAX) {
            sm->failures++;
        }
        if (sm->state != HEALTH_DOWN && sm->failures >= fall) {
            sm->state = HEALTH_DOWN;
        }
    }
    return sm->state != old;
}

/* ---- helpers for the kinds -------------------------------------------- */

void
health_verdict_set(struct health_verdict *v, bool ok,
                   enum health_reason reason, int detail,
                   const char *fmt, ...)
{
    va_list args;

    v->ok = ok;
    v->reason = reason;
    v->detail = detail;
    va_start(args, fmt);
    vsnprintf(v->text, sizeof v->text, fmt, args);
    va_end(args);
}

void
health_verdict_connect_error(struct health_verdict *v, int error)
{
    if (error == ECONNREFUSED) {
        health_verdict_set(v, false, HEALTH_R_CONNECT_REFUSED, error,
                           "connect refused");
    } else if (error == ETIMEDOUT) {
        health_verdict_set(v, false, HEALTH_R_TIMEOUT, error,
                           "connect timed out");
    } else {
        health_verdict_set(v, false, HEALTH_R_CONNECT_ERROR, error,
                           "connect failed: %s", strerror(error));
    }
}

bool
health_wait_reply_batch(size_t n_read, size_t n_out)
{
    if (n_read && n_out) {
        poll_timer_wait(HEALTH_REPLY_BATCH_MS);
        return true;
    }
    return false;
}

uint16_t
health_tcp4_csum(const struct in_addr *src, const struct in_addr *dst,
                 const void *tcp, size_t len)
{
    uint32_t partial = csum_continue(0, src, sizeof *src);

    partial = csum_continue(partial, dst, sizeof *dst);
    partial = csum_add16(partial, htons(IPPROTO_TCP));
    partial = csum_add16(partial, htons(len));
    return csum_finish(csum_continue(partial, tcp, len));
}

socklen_t
health_sockaddr(const struct lb_addr *a, uint16_t port,
                struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (a->family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *) ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        sin->sin_addr = a->v4;
        return sizeof *sin;
    } else if (a->family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        sin6->sin6_addr = a->v6;
        return sizeof *sin6;
    }
    return 0;
}

/* ---- targets ---------------------------------------------------------- */

enum { KIND_TCP, KIND_HTTP, KIND_EXEC, KIND_UDP, KIND_TCP_HALF_OPEN, N_KINDS };

static const struct health_kind *const kinds[N_KINDS] = {
    [KIND_TCP] = &health_kind_tcp,
    [KIND_HTTP] = &health_kind_http,
    [KIND_EXEC] = &health_kind_exec,
    [KIND_UDP] = &health_kind_udp,
    [KIND_TCP_HALF_OPEN] = &health_kind_tcp_half_open,
};

struct htarget {
    struct hmap_node node;      /* In health_monitor 'targets'. */
    struct health_monitor *hm;

    /* Identity. */
    char *service;
    struct lb_addr addr;

    /* Definition (compared on reload). */
    uint16_t port;              /* Effective probed port. */
    struct lb_check check;      /* Deep copy, defaults applied, no loc. */
    struct lb_addr source;
    int kind;                   /* KIND_*. */

    /* State. */
    struct health_sm sm;
    long long int since;        /* Wall ms of entering sm.state. */
    struct health_verdict last;
    long long int last_when;    /* Wall ms, 0 if none. */
    /* Probes that could not run, the real's state kept (see target_done()):
     * the latest, and since when they have not run (0: the last ran). */
    struct health_verdict not_run;
    long long int not_run_since;
    uint64_t n_probes;

    /* Schedule (monotonic ms). */
    long long int next_run;     /* Start of the next probe. */
    long long int started;      /* Start of the in-flight probe. */
    bool in_flight;
    struct dueheap_node hnode;  /* In hm 'running' (by deadline) if
                                 * in_flight, else in 'waiting' (by
                                 * next_run); see target_schedule(). */
    struct dueheap *heap;       /* The one it is in. */
    bool counted;               /* Counted in hm->n_in_flight. */
    struct health_probe probe;

    bool keep;                  /* Claimed by the current set_targets. */
};

struct health_monitor {
    struct hmap targets;        /* Of struct htarget. */
    void *ctx[N_KINDS];         /* Per-kind context. */
    /* Two timer heaps, earliest first, so that a run looks only at the
     * targets that are due (a scan of every target per run was the main
     * cost at 10,000 targets, with one due every fraction of a ms). */
    struct dueheap running;     /* In flight, by probe deadline. */
    struct dueheap waiting;     /* Not in flight, by next_run. */
    long long int held_until;   /* Probe budget exhausted: the waiting
                                 * ones wait at least until then. */
    struct health_change *changes;
    size_t n_changes, allocated_changes;
    /* Probes holding a descriptor, and how many may: the checker must never
     * take the descriptors the daemon needs (unixctl, OpenFlow). */
    size_t n_in_flight, max_in_flight;
};

static uint32_t
target_hash(const char *service, const struct lb_addr *a)
{
    uint32_t h = hash_string(service, a->family);

    if (a->family == AF_INET) {
        return hash_bytes(&a->v4, sizeof a->v4, h);
    } else if (a->family == AF_INET6) {
        return hash_bytes(&a->v6, sizeof a->v6, h);
    }
    return h;
}

static bool
addr_equal(const struct lb_addr *a, const struct lb_addr *b)
{
    if (a->family != b->family) {
        return false;
    }
    return (!a->family
            || (a->family == AF_INET
                ? a->v4.s_addr == b->v4.s_addr
                : !memcmp(&a->v6, &b->v6, sizeof a->v6)));
}

static struct htarget *
target_find(const struct health_monitor *hm, const char *service,
            const struct lb_addr *addr)
{
    struct htarget *t;

    HMAP_FOR_EACH_WITH_HASH (t, node, target_hash(service, addr),
                             &hm->targets) {
        if (!strcmp(t->service, service) && addr_equal(&t->addr, addr)) {
            return t;
        }
    }
    return NULL;
}

static bool
str_equal(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static bool
check_equal(const struct lb_check *a, const struct lb_check *b)
{
    return (a->type == b->type
            && a->interval_ms == b->interval_ms
            && a->timeout_ms == b->timeout_ms
            && a->rise == b->rise
            && a->fall == b->fall
            && a->port == b->port
            && str_equal(a->path, b->path)
            && a->expect_status == b->expect_status
            && str_equal(a->expect_body, b->expect_body)
            && str_equal(a->command, b->command)
            && str_equal(a->send, b->send)
            && str_equal(a->expect_reply, b->expect_reply));
}

static char *
nullable_strdup(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

/* Deep-copies 'in' into 'out' with the spec's defaults filled in. */
static void
check_copy_normalized(struct lb_check *out, const struct lb_check *in)
{
    memset(out, 0, sizeof *out);
    out->type = in->type;
    out->interval_ms = in->interval_ms ? in->interval_ms : 1000;
    out->timeout_ms = in->timeout_ms ? in->timeout_ms : 1000;
    out->rise = in->rise ? in->rise : 2;
    out->fall = in->fall ? in->fall : 3;
    out->port = in->port;
    if (in->type == LB_CHECK_HTTP || in->type == LB_CHECK_HTTPS) {
        out->path = xstrdup(in->path && in->path[0] ? in->path : "/");
        out->expect_status = in->expect_status ? in->expect_status : 200;
        out->expect_body = (in->expect_body && in->expect_body[0]
                            ? xstrdup(in->expect_body) : NULL);
    }
    if (in->type == LB_CHECK_EXEC) {
        out->command = nullable_strdup(in->command ? in->command : "");
    }
    if (in->type == LB_CHECK_UDP) {
        /* NULL send = an empty datagram; expect_reply "" still demands a
         * reply (any), NULL does not. */
        out->send = nullable_strdup(in->send);
        out->expect_reply = nullable_strdup(in->expect_reply);
    }
}

static void
check_free(struct lb_check *c)
{
    free(c->path);
    free(c->expect_body);
    free(c->command);
    free(c->send);
    free(c->expect_reply);
    memset(c, 0, sizeof *c);
}

static int
kind_of(enum lb_check_type type)
{
    switch (type) {
    case LB_CHECK_TCP: return KIND_TCP;
    case LB_CHECK_HTTP: case LB_CHECK_HTTPS: return KIND_HTTP;
    case LB_CHECK_EXEC: return KIND_EXEC;
    case LB_CHECK_UDP: return KIND_UDP;
    case LB_CHECK_TCP_HALF_OPEN: return KIND_TCP_HALF_OPEN;
    case LB_CHECK_NONE: break;
    }
    return -1;
}

/* Probe starts per ms that a start or reload aims at, at most. */
#define START_RATE_PER_MS 5

/* Spreads the first probes of 'n' targets so that a start or reload does
 * not fire thousands of probes in the same millisecond (haproxy and
 * keepalived spread theirs too): over a quarter interval, or longer, up to
 * the whole interval, when that would mean more than START_RATE_PER_MS
 * starts per ms. With the fixed cadence (target_done()) the probes stay
 * that spread in every interval: at 10,000 targets per second, about 10
 * per ms rather than bursts of 40 that overflowed a listen backlog. The
 * first verdict of a target comes at most that spread plus (rise - 1)
 * intervals after the start (an UNKNOWN real carries traffic meanwhile).
 * Deterministic per target. */
static long long int
first_run(const struct htarget *t, long long int now, size_t n)
{
    uint32_t interval = t->check.interval_ms;
    uint64_t spread = MAX(interval / 4, n / START_RATE_PER_MS);

    spread = MIN(spread, interval);
    return now + (spread ? hash_int(target_hash(t->service, &t->addr), 0)
                           % spread : 0);
}

/* Puts 't' in the heap its state calls for, keyed by the time it is next
 * due: the deadline of its probe in flight, else its next start. Call it
 * whenever in_flight, next_run or the probe's deadline changed. */
static void
target_schedule(struct htarget *t)
{
    struct health_monitor *hm = t->hm;
    struct dueheap *want = t->in_flight ? &hm->running : &hm->waiting;
    long long int when = t->in_flight ? t->probe.deadline : t->next_run;

    if (t->heap == want) {
        dueheap_change(want, &t->hnode, when);
        return;
    }
    if (t->heap) {
        dueheap_remove(t->heap, &t->hnode);
    }
    dueheap_insert(want, &t->hnode, when);
    t->heap = want;
}

static void
target_uncount(struct htarget *t)
{
    if (t->counted) {
        t->counted = false;
        t->hm->n_in_flight--;
    }
}

static void
target_cancel(struct htarget *t)
{
    target_uncount(t);
    if (t->in_flight) {
        kinds[t->kind]->cancel(t->hm->ctx[t->kind], &t->probe);
        t->in_flight = false;
        t->probe.priv = NULL;
    }
}

static void
format_target(const struct htarget *t, char *buf, size_t size)
{
    char addr[INET6_ADDRSTRLEN];

    lb_addr_format(&t->addr, addr, sizeof addr);
    snprintf(buf, size, t->addr.family == AF_INET6 ? "%s [%s]:%u"
             : "%s %s:%u", t->service, addr, t->port);
}

/* Schedules the probe after the one that just finished ('now'): one
 * interval after the time the finished one was due, so each target keeps
 * its place in the interval and the probes stay as evenly spread as
 * first_run() made them. (From the actual start instead, one stall of the
 * loop, e.g. the first push of a large pipeline, bunched every probe due
 * meanwhile into one burst, for good: 10,000 connects in the same ms, a
 * real's listen backlog overflowing, and checks failing for it.) When the
 * probe started late, the next one keeps the phase too, at least half an
 * interval after this one started; it never starts before this one ended
 * (a probe that outlasted its slot is followed at once, as before). */
static void
target_next_run(struct htarget *t, long long int now)
{
    long long int interval = t->check.interval_ms;
    long long int next = t->next_run + interval;
    long long int earliest = t->started + interval / 2;

    if (next < earliest) {
        next += (earliest - next + interval - 1) / interval * interval;
    }
    t->next_run = MAX(next, now);
    target_schedule(t);
}

/* A probe that could not even start for want of a local resource (out of
 * file descriptors or memory, fork refused) says nothing about the real. */
static bool
verdict_is_local_shortage(const struct health_verdict *v)
{
    return (!v->ok && v->reason == HEALTH_R_INTERNAL
            && (v->detail == EMFILE || v->detail == ENFILE
                || v->detail == ENOBUFS || v->detail == ENOMEM
                || v->detail == EAGAIN));
}

/* A probe this host has no way to send: its configured source address is
 * gone (EADDRNOTAVAIL) or it has no route to the real (ENETUNREACH).
 * Direct-routing reals are on a link of this host, so that is the host's
 * own addressing (e.g. a bridge re-created without its address), and the
 * data path, which needs no address of the host, still reaches them. */
static bool
verdict_is_unsendable(const struct health_verdict *v)
{
    return (!v->ok
            && ((v->reason == HEALTH_R_INTERNAL && v->detail == EADDRNOTAVAIL)
                || (v->reason == HEALTH_R_CONNECT_ERROR
                    && v->detail == ENETUNREACH)));
}

/* The one place where a probe's verdict is applied: counters, state,
 * change record, log, next schedule. */
static void
target_done(struct htarget *t, const struct health_verdict *v)
{
    struct health_monitor *hm = t->hm;
    enum health_state old = t->sm.state;
    long long int now = time_msec();
    long long int wall = time_wall_msec();

    target_uncount(t);
    t->in_flight = false;
    t->probe.priv = NULL;
    /* An unsendable probe keeps a real's known state: judging it took
     * every real out while the host lacked its address. A real not judged
     * yet is judged by it, so that a source address or a route this host
     * never had shows as reals down, not as reals never checked. */
    if (verdict_is_local_shortage(v)
        || (verdict_is_unsendable(v) && t->sm.state != HEALTH_UNKNOWN)) {
        /* The checker's own failure: keep the real's state and counters,
         * try again at the next interval. */
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
        char name[256];

        if (!t->not_run_since) {
            t->not_run_since = wall;
        }
        t->not_run = *v;
        format_target(t, name, sizeof name);
        VLOG_WARN_RL(&rl, "%s: probe not run (%s); the health checker is "
                     "short of resources, or this host has no route or "
                     "source address for it: the real's state is kept", name,
                     v->text);
        target_next_run(t, now);
        return;
    }
    t->last = *v;
    t->last_when = wall;
    t->not_run_since = 0;
    t->n_probes++;

    if (health_sm_update(&t->sm, v->ok, t->check.rise, t->check.fall)) {
        char name[256];
        struct health_change *c;

        t->since = wall;
        format_target(t, name, sizeof name);
        /* DBG: the daemon logs the change it acts on. */
        VLOG_DBG("%s: %s -> %s (%s %s: %s)", name, health_state_name(old),
                  health_state_name(t->sm.state),
                  lb_check_type_name(t->check.type),
                  health_reason_name(v->reason), v->text);

        if (hm->n_changes >= hm->allocated_changes) {
            hm->changes = x2nrealloc(hm->changes, &hm->allocated_changes,
                                     sizeof *hm->changes);
        }
        c = &hm->changes[hm->n_changes++];
        c->service = xstrdup(t->service);
        c->addr = t->addr;
        c->port = t->port;
        c->old_state = old;
        c->new_state = t->sm.state;
        c->verdict = *v;
        c->when = wall;
    } else if (!v->ok) {
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);
        char name[256];

        format_target(t, name, sizeof name);
        VLOG_DBG_RL(&rl, "%s: probe failed (%s), %u/%u", name, v->text,
                    t->sm.failures, t->check.fall);
    }

    target_next_run(t, now);
}

void
health_probe_done(struct health_probe *probe, const struct health_verdict *v)
{
    struct htarget *t = CONTAINER_OF(probe, struct htarget, probe);

    ovs_assert(t->in_flight);
    target_done(t, v);
}

static void
target_start(struct htarget *t)
{
    /* Fresh time: starting many probes in one run may take a while, and a
     * deadline must not be in the past when the probe starts. */
    long long int now = time_msec();
    struct health_verdict v;

    t->probe.service = t->service;
    t->probe.addr = &t->addr;
    t->probe.port = t->port;
    t->probe.check = &t->check;
    t->probe.source = &t->source;
    t->probe.deadline = now + t->check.timeout_ms;
    t->probe.priv = NULL;
    t->probe.fd = -1;
    t->started = now;
    t->in_flight = true;

    memset(&v, 0, sizeof v);
    if (t->kind != KIND_EXEC && !t->port) {
        health_verdict_set(&v, false, HEALTH_R_INTERNAL, 0,
                           "no port to probe");
        target_done(t, &v);
    } else if (!kinds[t->kind]->start(t->hm->ctx[t->kind], &t->probe, &v)) {
        target_done(t, &v);
    } else {
        t->counted = true;
        t->hm->n_in_flight++;
        target_schedule(t);
    }
}

static void
target_set_definition(struct htarget *t, const struct health_target *ht)
{
    check_free(&t->check);
    check_copy_normalized(&t->check, &ht->check);
    t->port = ht->check.port ? ht->check.port : ht->port;
    t->source = ht->source;
    t->kind = kind_of(ht->check.type);
    t->probe.route_src_expires = 0;
}

static bool
target_same_definition(const struct htarget *t, const struct health_target *ht)
{
    struct lb_check norm;
    bool same;

    check_copy_normalized(&norm, &ht->check);
    same = (check_equal(&t->check, &norm)
            && t->port == (ht->check.port ? ht->check.port : ht->port)
            && addr_equal(&t->source, &ht->source));
    check_free(&norm);
    return same;
}

static void
target_destroy(struct htarget *t)
{
    target_cancel(t);
    if (t->heap) {
        dueheap_remove(t->heap, &t->hnode);
    }
    hmap_remove(&t->hm->targets, &t->node);
    check_free(&t->check);
    free(t->service);
    free(t);
}

/* ---- the monitor ------------------------------------------------------ */

static void
raise_nofile_limit(void)
{
    struct rlimit rl;

    if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
        rlim_t want = rl.rlim_max;

        if (want == RLIM_INFINITY || want > 65536) {
            want = 65536;
        }
        if (want > rl.rlim_cur) {
            rl.rlim_cur = want;
            if (setrlimit(RLIMIT_NOFILE, &rl)) {
                VLOG_WARN("could not raise the open files limit: %s",
                          ovs_strerror(errno));
            }
        }
    }
}

/* How many probes may hold a descriptor at once: the open files limit
 * less a reserve for the rest of the daemon (half of a small limit, 256 of
 * a large one). */
static size_t
probe_budget(void)
{
    struct rlimit rl;
    rlim_t cur;

    if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY
        || rl.rlim_cur > 1 << 20) {
        return 1 << 19;
    }
    cur = rl.rlim_cur;
    return MAX(1, cur - MIN(cur / 2, 256));
}

/* Over the budget? Then due probes wait (their targets keep their state
 * and their place in the queue). */
static bool
target_defer(struct health_monitor *hm)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);

    if (hm->n_in_flight < hm->max_in_flight) {
        return false;
    }
    VLOG_WARN_RL(&rl, "%"PRIuSIZE" probes in flight, the most the open "
                 "files limit allows: the other checks wait (raise "
                 "ulimit -n)", hm->n_in_flight);
    return true;
}

struct health_monitor *
health_monitor_create(void)
{
    static bool curl_inited;
    struct health_monitor *hm = xzalloc(sizeof *hm);

    if (!curl_inited) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        curl_inited = true;
        raise_nofile_limit();
    }
    hmap_init(&hm->targets);
    for (int k = 0; k < N_KINDS; k++) {
        hm->ctx[k] = kinds[k]->create();
    }
    dueheap_init(&hm->running);
    dueheap_init(&hm->waiting);
    hm->max_in_flight = probe_budget();
    return hm;
}

void
health_monitor_destroy(struct health_monitor *hm)
{
    struct htarget *t;

    if (!hm) {
        return;
    }
    HMAP_FOR_EACH_SAFE (t, node, &hm->targets) {
        target_destroy(t);
    }
    hmap_destroy(&hm->targets);
    dueheap_destroy(&hm->running);
    dueheap_destroy(&hm->waiting);
    for (int k = 0; k < N_KINDS; k++) {
        kinds[k]->destroy(hm->ctx[k]);
    }
    health_changes_destroy(hm->changes, hm->n_changes);
    free(hm);
}

/* A new target for 'ht', its first probe spread as among 'n'. */
static void
target_add(struct health_monitor *hm, const struct health_target *ht,
           long long int now, long long int wall, size_t n)
{
    struct htarget *t = xzalloc(sizeof *t);
    t->hm = hm;
    t->service = xstrdup(ht->service);
    t->addr = ht->addr;
    target_set_definition(t, ht);
    health_sm_init(&t->sm);
    t->since = wall;
    t->keep = true;
    hmap_insert(&hm->targets, &t->node, target_hash(t->service, &t->addr));
    t->next_run = first_run(t, now, n);
    target_schedule(t);
}

void
health_monitor_add_targets(struct health_monitor *hm,
                           const struct health_target *targets, size_t n)
{
    long long int now = time_msec();
    long long int wall = time_wall_msec();
    for (size_t i = 0; i < n; i++) {
        const struct health_target *ht = &targets[i];
        if (kind_of(ht->check.type) >= 0 && ht->service
            && !target_find(hm, ht->service, &ht->addr)) {
            target_add(hm, ht, now, wall, n);
        }
    }
}

void
health_monitor_set_targets(struct health_monitor *hm,
                           const struct health_target *targets, size_t n)
{
    long long int now = time_msec();
    long long int wall = time_wall_msec();
    struct htarget *t;

    HMAP_FOR_EACH (t, node, &hm->targets) {
        t->keep = false;
    }
    for (size_t i = 0; i < n; i++) {
        const struct health_target *ht = &targets[i];

        if (kind_of(ht->check.type) < 0 || !ht->service) {
            continue;
        }
        t = target_find(hm, ht->service, &ht->addr);
        if (t && t->keep) {
            continue;           /* Duplicate: the first one wins. */
        } else if (t) {
            t->keep = true;
            if (!target_same_definition(t, ht)) {
                /* Keep the verdict so far, restart the counting. */
                target_cancel(t);
                target_set_definition(t, ht);
                t->sm.successes = t->sm.failures = 0;
                t->next_run = first_run(t, now, n);
                target_schedule(t);
            }
        } else {
            target_add(hm, ht, now, wall, n);
        }
    }
    HMAP_FOR_EACH_SAFE (t, node, &hm->targets) {
        if (!t->keep) {
            target_destroy(t);
        }
    }
}

/* Starting a process costs the daemon 1 to 6 ms (measured: posix_spawn of
 * /bin/sh returns only after the exec). When hundreds of exec checks are
 * due, one run starts them for at most this long, oldest due first, and
 * the next runs (right away) start the rest: the loop stays responsive and
 * no target starves. */
#define EXEC_RUN_BUDGET_MS 20

/* A run that starts the probes due now also starts those due within this
 * many ms: at 10,000 probes a second, spread evenly, the loop then wakes
 * a few hundred times a second instead of once per probe (each wake-up
 * costs a poll() and a pass over every module). The schedule does not
 * drift: the next start is the previous due time plus the interval. */
#define START_AHEAD_MS 4

void
health_monitor_run(struct health_monitor *hm)
{
    long long int now;
    size_t n_exec = 0;

    for (int k = 0; k < N_KINDS; k++) {
        kinds[k]->run(hm->ctx[k]);
    }

    now = time_msec();
    /* Probes past their deadline. target_done() moves each one to
     * 'waiting', so this ends. */
    while (!dueheap_is_empty(&hm->running)
           && dueheap_min_when(&hm->running) <= now) {
        struct htarget *t = CONTAINER_OF(dueheap_min(&hm->running),
                                         struct htarget, hnode);
        const struct health_kind *kind = kinds[t->kind];
        struct health_verdict v;

        if (kind->expire) {
            /* The kind judges the deadline and releases the probe. */
            kind->expire(hm->ctx[t->kind], &t->probe, &v);
        } else {
            target_cancel(t);
            health_verdict_set(&v, false, HEALTH_R_TIMEOUT, 0,
                               "timeout after %"PRIu32" ms",
                               t->check.timeout_ms);
        }
        target_done(t, &v);
    }

    /* Probes due, oldest first: when the descriptor budget holds probes
     * back, the ones held longest go next and no target starves. A start
     * moves the target to 'running', or (a verdict at once) to a next_run
     * after 'now', so this ends. */
    if (now < hm->held_until && hm->n_in_flight >= hm->max_in_flight) {
        return;
    }
    hm->held_until = 0;
    while (!dueheap_is_empty(&hm->waiting)
           && dueheap_min_when(&hm->waiting) <= now + START_AHEAD_MS) {
        struct htarget *t = CONTAINER_OF(dueheap_min(&hm->waiting),
                                         struct htarget, hnode);

        if (t->kind == KIND_EXEC && n_exec++
            && time_msec() - now >= EXEC_RUN_BUDGET_MS) {
            break;              /* Still due: the loop comes back at once. */
        }
        if (target_defer(hm)) {
            hm->held_until = now + 50;  /* A slot frees up by then. */
            break;
        }
        target_start(t);
    }
}

void
health_monitor_wait(struct health_monitor *hm)
{
    long long int when = LLONG_MAX;

    for (int k = 0; k < N_KINDS; k++) {
        kinds[k]->wait(hm->ctx[k]);
    }
    if (!dueheap_is_empty(&hm->running)) {
        when = dueheap_min_when(&hm->running);
    }
    if (!dueheap_is_empty(&hm->waiting)) {
        when = MIN(when, MAX(dueheap_min_when(&hm->waiting),
                             hm->held_until));
    }
    if (when != LLONG_MAX) {
        poll_timer_wait_until(when);
    }
}

size_t
health_monitor_take_changes(struct health_monitor *hm,
                            struct health_change **changes)
{
    size_t n = hm->n_changes;

    *changes = n ? hm->changes : NULL;
    if (!n) {
        return 0;
    }
    hm->changes = NULL;
    hm->n_changes = hm->allocated_changes = 0;
    return n;
}

void
health_changes_destroy(struct health_change *changes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(changes[i].service);
    }
    free(changes);
}

bool
health_monitor_get(const struct health_monitor *hm, const char *service,
                   const struct lb_addr *addr, struct health_status *st)
{
    const struct htarget *t = target_find(hm, service, addr);

    if (!t) {
        return false;
    }
    st->state = t->sm.state;
    st->since = t->since;
    st->last = t->last;
    st->last_when = t->last_when;
    st->not_run = t->not_run;
    st->not_run_since = t->not_run_since;
    st->successes = t->sm.successes;
    st->failures = t->sm.failures;
    st->n_probes = t->n_probes;
    st->port = t->port;
    st->type = t->check.type;
    return true;
}

size_t
health_monitor_n_targets(const struct health_monitor *hm)
{
    return hmap_count(&hm->targets);
}
