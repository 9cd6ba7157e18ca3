/* Internal interface between the health monitor (health.c) and the check
 * kinds (check_tcp.c, check_http.c, check_exec.c, check_udp.c). Not for the daemon.
 *
 * The monitor owns scheduling, timeouts and the state machine; a kind only
 * runs probes. Each kind has one context per monitor. A probe is started
 * with start(); it either finishes at once (start returns false and fills
 * the verdict) or stays in flight until the kind's run() calls
 * health_probe_done(), or the monitor calls cancel() (timeout, removal).
 * Before calling health_probe_done() the kind must have released all it
 * holds for the probe: the monitor may start or free it right away.
 */
#ifndef FLOWLB_HEALTH_CHECK_H
#define FLOWLB_HEALTH_CHECK_H 1

#include <stdbool.h>
#include <sys/socket.h>
#include "health.h"

struct health_probe {
    /* Set by the monitor, constant while in flight. */
    const char *service;
    const struct lb_addr *addr;
    uint16_t port;                  /* Effective probed port. */
    const struct lb_check *check;   /* Defaults already applied. */
    const struct lb_addr *source;   /* family 0: any. */
    long long int deadline;         /* time_msec() of the timeout. */

    void *priv;                     /* Kind's per-probe data. */
};

struct health_kind {
    const char *name;
    void *(*create)(void);
    void (*destroy)(void *ctx);     /* No probe in flight any more. */
    bool (*start)(void *ctx, struct health_probe *,
                  struct health_verdict *);
    void (*cancel)(void *ctx, struct health_probe *);
    void (*run)(void *ctx);
    void (*wait)(void *ctx);
    /* Optional: the probe reached its deadline. Gives the verdict in 'v'
     * and releases the probe, as cancel() does. NULL: the probe is
     * cancelled and fails with HEALTH_R_TIMEOUT. (udp: silence can be a
     * success.) */
    void (*expire)(void *ctx, struct health_probe *, struct health_verdict *v);
};

extern const struct health_kind health_kind_tcp;
extern const struct health_kind health_kind_http; /* http and https. */
extern const struct health_kind health_kind_exec;
extern const struct health_kind health_kind_udp;

/* Implemented by health.c; called by a kind's run(). */
void health_probe_done(struct health_probe *, const struct health_verdict *);

/* Fills 'v'. 'fmt' describes it ("bad status %d"). */
void health_verdict_set(struct health_verdict *v, bool ok,
                        enum health_reason, int detail, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* "connect refused" or "connect failed: <strerror>" for errno 'error'. */
void health_verdict_connect_error(struct health_verdict *, int error);

/* Fills a sockaddr for addr:port; returns its length, 0 if no family. */
socklen_t health_sockaddr(const struct lb_addr *, uint16_t port,
                          struct sockaddr_storage *);

#endif /* FLOWLB_HEALTH_CHECK_H */
