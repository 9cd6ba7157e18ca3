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
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "util.h"

/* The largest UDP payload; a truncated reply could hide the text. */
#define UDP_MAX_REPLY 65536

/* Ready sockets taken per epoll_wait(). */
#define UDP_BATCH 256

struct udp_ctx {
    struct health_pollset ps;   /* Datagram sent, waiting for a reply. */
    struct epoll_event events[UDP_BATCH];
    char *buf;                  /* Reply scratch, UDP_MAX_REPLY bytes. */
};

static void *
udp_create(void)
{
    struct udp_ctx *ctx = xzalloc(sizeof *ctx);

    health_pollset_init(&ctx->ps);
    ctx->buf = xmalloc(UDP_MAX_REPLY);
    return ctx;
}

static void
udp_destroy(void *ctx_)
{
    struct udp_ctx *ctx = ctx_;

    health_pollset_destroy(&ctx->ps);
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
    int error;
    int fd = health_sock_open(probe, SOCK_DGRAM, &error, v);

    if (fd < 0) {
        if (error) {
            udp_socket_error(v, error);
        }
        return false;
    }
    if (send(fd, payload, strlen(payload), 0) < 0) {
        error = errno;
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
    if (!health_pollset_add(&ctx->ps, fd, EPOLLIN, probe, v)) {
        close(fd);
        return false;
    }
    probe->fd = fd;
    return true;
}

static void
udp_forget(struct udp_ctx *ctx, struct health_probe *probe)
{
    health_pollset_del(&ctx->ps, probe->fd);
    close(probe->fd);
    probe->fd = -1;
}

/* Reads what the socket holds: returns true with a verdict in 'v' if the
 * probe is decided (a reply or an error), false if nothing is there. */
static bool
udp_read(struct udp_ctx *ctx, const struct health_probe *probe,
         struct health_verdict *v)
{
    const char *expect = probe->check->expect_reply;
    ssize_t n = recv(probe->fd, ctx->buf, UDP_MAX_REPLY, MSG_DONTWAIT);

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
    if (probe->fd >= 0) {
        udp_forget(ctx_, probe);
    }
}

/* At the deadline: a last look at the socket (a reply or an ICMP error
 * may have come in since the last run), then silence decides. */
static void
udp_expire(void *ctx_, struct health_probe *probe, struct health_verdict *v)
{
    struct udp_ctx *ctx = ctx_;

    if (probe->fd < 0 || !udp_read(ctx, probe, v)) {
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
    if (probe->fd >= 0) {
        udp_forget(ctx, probe);
    }
}

static void
udp_run(void *ctx_)
{
    struct udp_ctx *ctx = ctx_;
    int n;

    /* Every ready socket, before the monitor looks at deadlines: a probe
     * whose answer is in must not time out. */
    do {
        n = health_pollset_ready(&ctx->ps, ctx->events, UDP_BATCH);
        for (int i = 0; i < n; i++) {
            struct health_probe *probe = ctx->events[i].data.ptr;
            struct health_verdict v;

            if (!udp_read(ctx, probe, &v)) {
                continue;
            }
            udp_forget(ctx, probe);
            health_probe_done(probe, &v);
        }
    } while (n == UDP_BATCH);
}

static void
udp_wait(void *ctx_)
{
    struct udp_ctx *ctx = ctx_;

    health_pollset_wait(&ctx->ps);
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
