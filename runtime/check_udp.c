/* udp check: one datagram ('send', empty if unset) on a connected socket,
 * then wait for a reply.
 *
 * A connected UDP socket is what turns an ICMP port unreachable into
 * ECONNREFUSED on the next recv(): without connect() the kernel drops it.
 * The first datagram that arrives decides: with 'expect_reply' it must hold
 * that text (up) or the probe fails (HEALTH_R_UDP_REPLY). Without
 * 'expect_reply' any reply is up, and so is silence until the timeout
 * (the monitor asks expire() at the deadline): many UDP services answer
 * nothing to a datagram they do not understand. Any socket error (port,
 * host or network unreachable) is a failure.
 */
#include <config.h>
#include "health_check.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "openvswitch/list.h"
#include "openvswitch/poll-loop.h"
#include "util.h"

/* The largest UDP payload; a truncated reply could hide the text. */
#define UDP_MAX_REPLY 65536

struct udp_probe {
    struct ovs_list node;       /* In udp_ctx 'pending'. */
    struct health_probe *probe;
    int fd;
};

struct udp_ctx {
    struct ovs_list pending;    /* Datagram sent, waiting for a reply. */
    size_t n_pending;
    struct pollfd *pfds;        /* Scratch for run(). */
    struct udp_probe **ps;
    size_t allocated;
    char *buf;                  /* Reply scratch, UDP_MAX_REPLY bytes. */
};

static void *
udp_create(void)
{
    struct udp_ctx *ctx = xzalloc(sizeof *ctx);

    ovs_list_init(&ctx->pending);
    ctx->buf = xmalloc(UDP_MAX_REPLY);
    return ctx;
}

static void
udp_destroy(void *ctx_)
{
    struct udp_ctx *ctx = ctx_;

    ovs_assert(ovs_list_is_empty(&ctx->pending));
    free(ctx->pfds);
    free(ctx->ps);
    free(ctx->buf);
    free(ctx);
}

static void
udp_socket_error(struct health_verdict *v, int error)
{
    if (error == ECONNREFUSED) {
        health_verdict_set(v, false, HEALTH_R_CONNECT_REFUSED, error,
                           "port unreachable (ICMP)");
    } else {
        health_verdict_set(v, false, HEALTH_R_CONNECT_ERROR, error,
                           "udp error: %s", strerror(error));
    }
}

static bool
contains(const char *hay, size_t n, const char *needle)
{
    size_t len = strlen(needle);

    if (len > n) {
        return false;
    }
    for (size_t i = 0; i + len <= n; i++) {
        if (!memcmp(hay + i, needle, len)) {
            return true;
        }
    }
    return false;
}

static bool
udp_start(void *ctx_, struct health_probe *probe, struct health_verdict *v)
{
    struct udp_ctx *ctx = ctx_;
    const char *payload = probe->check->send ? probe->check->send : "";
    struct sockaddr_storage ss;
    socklen_t len = health_sockaddr(probe->addr, probe->port, &ss);
    struct udp_probe *up;
    int fd;

    if (!len) {
        health_verdict_set(v, false, HEALTH_R_INTERNAL, 0, "no address");
        return false;
    }
    fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        health_verdict_set(v, false, HEALTH_R_INTERNAL, errno,
                           "socket: %s", strerror(errno));
        return false;
    }
    if (probe->source->family) {
        struct sockaddr_storage src;
        socklen_t src_len = health_sockaddr(probe->source, 0, &src);

        if (bind(fd, (struct sockaddr *) &src, src_len)) {
            health_verdict_set(v, false, HEALTH_R_INTERNAL, errno,
                               "bind to source: %s", strerror(errno));
            close(fd);
            return false;
        }
    }
    if (connect(fd, (struct sockaddr *) &ss, len)
        || send(fd, payload, strlen(payload), 0) < 0) {
        int error = errno;

        close(fd);
        if (error == EAGAIN || error == ENOBUFS || error == ENOMEM) {
            /* The local stack's shortage, not the real's. */
            health_verdict_set(v, false, HEALTH_R_INTERNAL, error,
                               "send: %s", strerror(error));
        } else {
            udp_socket_error(v, error);
        }
        return false;
    }

    up = xmalloc(sizeof *up);
    up->probe = probe;
    up->fd = fd;
    ovs_list_push_back(&ctx->pending, &up->node);
    ctx->n_pending++;
    probe->priv = up;
    return true;
}

static void
udp_forget(struct udp_ctx *ctx, struct udp_probe *up)
{
    close(up->fd);
    ovs_list_remove(&up->node);
    ctx->n_pending--;
    up->probe->priv = NULL;
    free(up);
}

/* Reads what the socket holds: returns true with a verdict in 'v' if the
 * probe is decided (a reply or an error), false if nothing is there. */
static bool
udp_read(struct udp_ctx *ctx, struct udp_probe *up, struct health_verdict *v)
{
    const char *expect = up->probe->check->expect_reply;
    ssize_t n = recv(up->fd, ctx->buf, UDP_MAX_REPLY, MSG_DONTWAIT);

    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            return false;
        }
        udp_socket_error(v, errno);
    } else if (!expect || contains(ctx->buf, n, expect)) {
        health_verdict_set(v, true, HEALTH_R_OK, 0, "reply of %zd bytes", n);
    } else {
        health_verdict_set(v, false, HEALTH_R_UDP_REPLY, 0,
                           "reply of %zd bytes lacks \"%.60s\"", n, expect);
    }
    return true;
}

static void
udp_cancel(void *ctx_, struct health_probe *probe)
{
    struct udp_probe *up = probe->priv;

    if (up) {
        udp_forget(ctx_, up);
    }
}

/* At the deadline: a last look at the socket (a reply or an ICMP error
 * may have come in since the last run), then silence decides. */
static void
udp_expire(void *ctx_, struct health_probe *probe, struct health_verdict *v)
{
    struct udp_ctx *ctx = ctx_;
    struct udp_probe *up = probe->priv;

    if (!up || !udp_read(ctx, up, v)) {
        if (probe->check->expect_reply) {
            health_verdict_set(v, false, HEALTH_R_TIMEOUT, 0,
                               "no reply within %"PRIu32" ms",
                               probe->check->timeout_ms);
        } else {
            health_verdict_set(v, true, HEALTH_R_OK, 0,
                               "no reply, no ICMP error within %"PRIu32
                               " ms", probe->check->timeout_ms);
        }
    }
    if (up) {
        udp_forget(ctx, up);
    }
}

static void
udp_run(void *ctx_)
{
    struct udp_ctx *ctx = ctx_;
    struct udp_probe *up;
    size_t n = 0;

    if (!ctx->n_pending) {
        return;
    }
    if (ctx->allocated < ctx->n_pending) {
        ctx->allocated = ctx->n_pending * 2;
        ctx->pfds = xrealloc(ctx->pfds, ctx->allocated * sizeof *ctx->pfds);
        ctx->ps = xrealloc(ctx->ps, ctx->allocated * sizeof *ctx->ps);
    }
    LIST_FOR_EACH (up, node, &ctx->pending) {
        ctx->pfds[n] = (struct pollfd) { .fd = up->fd, .events = POLLIN };
        ctx->ps[n++] = up;
    }
    /* Which sockets have a reply or an error: the poll loop does not say. */
    if (poll(ctx->pfds, n, 0) <= 0) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct health_probe *probe;
        struct health_verdict v;

        if (!ctx->pfds[i].revents) {
            continue;
        }
        up = ctx->ps[i];
        if (!udp_read(ctx, up, &v)) {
            continue;
        }
        probe = up->probe;
        udp_forget(ctx, up);
        health_probe_done(probe, &v);
    }
}

static void
udp_wait(void *ctx_)
{
    struct udp_ctx *ctx = ctx_;
    struct udp_probe *up;

    LIST_FOR_EACH (up, node, &ctx->pending) {
        poll_fd_wait(up->fd, POLLIN);
    }
}

const struct health_kind health_kind_udp = {
    .name = "udp",
    .create = udp_create,
    .destroy = udp_destroy,
    .start = udp_start,
    .cancel = udp_cancel,
    .run = udp_run,
    .wait = udp_wait,
    .expire = udp_expire,
};
