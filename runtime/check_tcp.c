/* tcp check: a non-blocking connect; connected = up.
 *
 * The socket is then closed with SO_LINGER 0 (a reset), as haproxy does:
 * a normal close would leave one TIME_WAIT socket per probe on this host.
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

struct tcp_probe {
    struct ovs_list node;       /* In tcp_ctx 'pending'. */
    struct health_probe *probe;
    int fd;
};

struct tcp_ctx {
    struct ovs_list pending;    /* Connects in progress. */
    size_t n_pending;
    struct pollfd *pfds;        /* Scratch for run(). */
    struct tcp_probe **ps;
    size_t allocated;
};

static void
tcp_close(int fd)
{
    struct linger l = { .l_onoff = 1, .l_linger = 0 };

    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

static void *
tcp_create(void)
{
    struct tcp_ctx *ctx = xzalloc(sizeof *ctx);

    ovs_list_init(&ctx->pending);
    return ctx;
}

static void
tcp_destroy(void *ctx_)
{
    struct tcp_ctx *ctx = ctx_;

    ovs_assert(ovs_list_is_empty(&ctx->pending));
    free(ctx->pfds);
    free(ctx->ps);
    free(ctx);
}

static bool
tcp_start(void *ctx_, struct health_probe *probe, struct health_verdict *v)
{
    struct tcp_ctx *ctx = ctx_;
    struct sockaddr_storage ss;
    socklen_t len = health_sockaddr(probe->addr, probe->port, &ss);
    struct tcp_probe *tp;
    int fd;

    if (!len) {
        health_verdict_set(v, false, HEALTH_R_INTERNAL, 0, "no address");
        return false;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
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
    if (!connect(fd, (struct sockaddr *) &ss, len)) {
        tcp_close(fd);
        health_verdict_set(v, true, HEALTH_R_OK, 0, "connected");
        return false;
    } else if (errno != EINPROGRESS) {
        health_verdict_connect_error(v, errno);
        close(fd);
        return false;
    }

    tp = xmalloc(sizeof *tp);
    tp->probe = probe;
    tp->fd = fd;
    ovs_list_push_back(&ctx->pending, &tp->node);
    ctx->n_pending++;
    probe->priv = tp;
    return true;
}

static void
tcp_forget(struct tcp_ctx *ctx, struct tcp_probe *tp)
{
    ovs_list_remove(&tp->node);
    ctx->n_pending--;
    tp->probe->priv = NULL;
    free(tp);
}

static void
tcp_cancel(void *ctx_, struct health_probe *probe)
{
    struct tcp_probe *tp = probe->priv;

    if (tp) {
        tcp_close(tp->fd);
        tcp_forget(ctx_, tp);
    }
}

static void
tcp_run(void *ctx_)
{
    struct tcp_ctx *ctx = ctx_;
    struct tcp_probe *tp;
    size_t n = 0;

    if (!ctx->n_pending) {
        return;
    }
    if (ctx->allocated < ctx->n_pending) {
        ctx->allocated = ctx->n_pending * 2;
        ctx->pfds = xrealloc(ctx->pfds, ctx->allocated * sizeof *ctx->pfds);
        ctx->ps = xrealloc(ctx->ps, ctx->allocated * sizeof *ctx->ps);
    }
    LIST_FOR_EACH (tp, node, &ctx->pending) {
        ctx->pfds[n] = (struct pollfd) { .fd = tp->fd, .events = POLLOUT };
        ctx->ps[n++] = tp;
    }
    /* Which connects finished: the poll loop does not say. */
    if (poll(ctx->pfds, n, 0) <= 0) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct health_probe *probe;
        struct health_verdict v;
        int error = 0;
        socklen_t len = sizeof error;

        if (!ctx->pfds[i].revents) {
            continue;
        }
        tp = ctx->ps[i];
        if (getsockopt(tp->fd, SOL_SOCKET, SO_ERROR, &error, &len)) {
            error = errno;
        }
        if (!error && !(ctx->pfds[i].revents & POLLOUT)) {
            error = ECONNRESET;
        }
        if (error) {
            health_verdict_connect_error(&v, error);
            close(tp->fd);
        } else {
            health_verdict_set(&v, true, HEALTH_R_OK, 0, "connected");
            tcp_close(tp->fd);
        }
        probe = tp->probe;
        tcp_forget(ctx, tp);
        health_probe_done(probe, &v);
    }
}

static void
tcp_wait(void *ctx_)
{
    struct tcp_ctx *ctx = ctx_;
    struct tcp_probe *tp;

    LIST_FOR_EACH (tp, node, &ctx->pending) {
        poll_fd_wait(tp->fd, POLLOUT);
    }
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
