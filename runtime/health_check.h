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
#include <stdint.h>
#include <netinet/in.h>
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
    int fd;                         /* Socket kinds: the probe's socket
                                     * while in flight, else -1. */

    /* Kept from one probe of the target to the next (zeroed when the
     * target is made or redefined), for a kind to cache what it looks up
     * per target: here, not in a table of its own, because a table
     * lookup per probe costs a cache miss or two at 10,000 targets.
     * tcp-half-open: the IPv4 source routing chooses for 'addr', trusted
     * until 'route_src_expires' (0: none). */
    struct in_addr route_src;
    long long int route_src_expires;
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
/* SYN probes from a raw socket; connect() probes without CAP_NET_RAW. */
extern const struct health_kind health_kind_tcp_half_open;

/* Implemented by health.c; called by a kind's run(). */
void health_probe_done(struct health_probe *, const struct health_verdict *);

/* Fills 'v'. 'fmt' describes it ("bad status %d"). */
void health_verdict_set(struct health_verdict *v, bool ok,
                        enum health_reason, int detail, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* "connect refused" or "connect failed: <strerror>" for errno 'error'. */
void health_verdict_connect_error(struct health_verdict *, int error);

/* The checksum of the TCP segment of 'len' bytes at 'tcp' (its checksum
 * field zero) from 'src' to 'dst', pseudo-header included, in network
 * byte order: what goes into the segment's checksum field. */
uint16_t health_tcp4_csum(const struct in_addr *src,
                          const struct in_addr *dst,
                          const void *tcp, size_t len);

/* Fills a sockaddr for addr:port; returns its length, 0 if no family. */
socklen_t health_sockaddr(const struct lb_addr *, uint16_t port,
                          struct sockaddr_storage *);

/* While answers are coming in and probes are still out, how long a kind
 * waits to read the next ones together instead of waking the loop for
 * each. At 10,000 probes a second, answers from other hosts arrive
 * microseconds apart: waking on each made about 2,400 wake-ups a second
 * (each a poll() and a pass over every module), a fifth of the checker's
 * CPU. A verdict comes at most this much later. */
#define HEALTH_REPLY_BATCH_MS 2

/* For a kind's wait(): if it took 'n_read' answers in its last run and
 * still has 'n_out' probes out, waits HEALTH_REPLY_BATCH_MS and returns
 * true; else returns false, and the kind waits on its descriptors. */
bool health_wait_reply_batch(size_t n_read, size_t n_out);

/* ---- socket kinds (tcp, udp): runtime/check_sock.c ---- */

/* Opens a non-blocking socket of 'type' (SOCK_STREAM, SOCK_DGRAM) bound to
 * the probe's source if it has one, and connects it to the probe's real.
 * Returns the socket, with '*connect_error' 0 (connected) or EINPROGRESS
 * (a stream connect under way). Returns -1 if the connect failed, with
 * '*connect_error' its errno (the kind words the verdict), or if a local
 * step failed, with '*connect_error' 0 and the verdict in 'v'. */
int health_sock_open(const struct health_probe *, int type,
                     int *connect_error, struct health_verdict *v);

/* The in-flight sockets of one kind, in one epoll set registered with the
 * poll loop as a single descriptor. Each event's data.ptr is the probe. */
struct epoll_event;
struct health_pollset {
    int epfd;                   /* -1 until first needed. */
    size_t n;                   /* Sockets in the set. */
    size_t n_ready;             /* Taken ready since the last wait. */
};

void health_pollset_init(struct health_pollset *);
void health_pollset_destroy(struct health_pollset *); /* Must be empty. */
/* Adds 'fd' for 'events' (EPOLLIN, EPOLLOUT); false with 'v' filled
 * (HEALTH_R_INTERNAL) if it cannot. */
bool health_pollset_add(struct health_pollset *, int fd, uint32_t events,
                        struct health_probe *, struct health_verdict *v);
/* Removes 'fd'; call it before closing 'fd'. */
void health_pollset_del(struct health_pollset *, int fd);
/* Up to 'max' ready sockets, without blocking; returns how many. */
int health_pollset_ready(struct health_pollset *, struct epoll_event *,
                         int max);
/* Waits for the set to be ready, or, if sockets were taken ready since
 * the last wait and others are still in it, HEALTH_REPLY_BATCH_MS. */
void health_pollset_wait(struct health_pollset *);

#endif /* FLOWLB_HEALTH_CHECK_H */
