/* tcp check: a non-blocking connect; connected = up.
 *
 * The socket is then closed with SO_LINGER 0 (a reset), as haproxy does:
 * a normal close would leave one TIME_WAIT socket per probe on this host
 * and cost the real a FIN exchange. A failed connect is closed normally
 * (there is no connection to reset).
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

/* Ready sockets taken per epoll_wait(). */
#define TCP_BATCH 256

struct tcp_ctx {
    struct health_pollset ps;   /* Connects in progress. */
    struct epoll_event events[TCP_BATCH];
};

static void
tcp_reset_close(int fd)
{
    struct linger l = { .l_onoff = 1, .l_linger = 0 };

    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

static void *
tcp_create(void)
{
    struct tcp_ctx *ctx = xzalloc(sizeof *ctx);

    health_pollset_init(&ctx->ps);
    return ctx;
}

static void
tcp_destroy(void *ctx_)
{
    struct tcp_ctx *ctx = ctx_;

    health_pollset_destroy(&ctx->ps);
    free(ctx);
}

static bool
tcp_start(void *ctx_, struct health_probe *probe, struct health_verdict *v)
{
    struct tcp_ctx *ctx = ctx_;
    int error;
    int fd = health_sock_open(probe, SOCK_STREAM, &error, v);

    if (fd < 0) {
        if (error) {
            health_verdict_connect_error(v, error);
        }
        return false;
    } else if (!error) {
        tcp_reset_close(fd);
        health_verdict_set(v, true, HEALTH_R_OK, 0, "connected");
        return false;
    } else if (!health_pollset_add(&ctx->ps, fd, EPOLLOUT, probe, v)) {
        close(fd);
        return false;
    }
    probe->fd = fd;
    return true;
}

static void
tcp_cancel(void *ctx_, struct health_probe *probe)
{
    struct tcp_ctx *ctx = ctx_;

    if (probe->fd >= 0) {
        health_pollset_del(&ctx->ps, probe->fd);
        tcp_reset_close(probe->fd);
        probe->fd = -1;
    }
}

static void
tcp_run(void *ctx_)
{
    struct tcp_ctx *ctx = ctx_;
    int n;

    /* Every ready socket, before the monitor looks at deadlines: a probe
     * whose answer is in must not time out. */
    do {
        n = health_pollset_ready(&ctx->ps, ctx->events, TCP_BATCH);
        for (int i = 0; i < n; i++) {
            struct health_probe *probe = ctx->events[i].data.ptr;
            uint32_t revents = ctx->events[i].events;
            int fd = probe->fd;
            struct health_verdict v;
            int error = 0;

            /* Writable without an error condition: connected, no need to
             * ask the socket (one system call less per probe). */
            if (revents & (EPOLLERR | EPOLLHUP)) {
                socklen_t len = sizeof error;

                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len)) {
                    error = errno;
                }
                if (!error && !(revents & EPOLLOUT)) {
                    error = ECONNRESET;
                }
            }
            health_pollset_del(&ctx->ps, fd);
            probe->fd = -1;
            if (error) {
                health_verdict_connect_error(&v, error);
                close(fd);
            } else {
                health_verdict_set(&v, true, HEALTH_R_OK, 0, "connected");
                tcp_reset_close(fd);
            }
            health_probe_done(probe, &v);
        }
    } while (n == TCP_BATCH);
}

static void
tcp_wait(void *ctx_)
{
    struct tcp_ctx *ctx = ctx_;

    health_pollset_wait(&ctx->ps);
}

const struct health_kind health_kind_tcp = {
    .name = "tcp",
    .create = tcp_create,
    .destroy = tcp_destroy,
    .start = tcp_start,
    .cancel = tcp_cancel,
    .run = tcp_run,
    .wait = tcp_wait,
};
