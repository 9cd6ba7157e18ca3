/* http and https checks: GET http(s)://ADDR:PORT/PATH through libcurl's
 * multi interface, driven by the poll loop with curl's socket and timer
 * callbacks (no fd_set, so descriptor numbers are not limited to 1024).
 *
 * Every probe uses a fresh connection (a health check must test the
 * server's accept path, not a cached connection), ignores proxies from the
 * environment and, for https, does not verify the certificate: the probe
 * goes to an IP address and checks liveness, not identity.
 */
#define _GNU_SOURCE 1           /* memmem */
#include <config.h>
#include "health_check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "hash.h"
#include "openvswitch/hmap.h"
#include "openvswitch/poll-loop.h"
#include "util.h"
#include "openvswitch/vlog.h"
#include "timeval.h"

VLOG_DEFINE_THIS_MODULE(check_http);

/* The body is searched within its first BODY_MAX bytes; a body longer than
 * DISCARD_MAX is not read further (the probe judges what it has). */
#define BODY_MAX (64 * 1024)
#define DISCARD_MAX (1024 * 1024)

struct http_sock {
    struct hmap_node node;      /* In http_ctx 'socks', by fd. */
    curl_socket_t fd;
    int what;                   /* CURL_POLL_IN, _OUT or _INOUT. */
};

struct http_ctx {
    CURLM *multi;
    struct hmap socks;          /* Sockets curl wants watched. */
    long long int timer;        /* time_msec() deadline, LLONG_MAX none. */
};

struct http_probe {
    struct health_probe *probe;
    CURL *easy;
    char *body;                 /* First BODY_MAX bytes if a body is
                                 * expected, else NULL. */
    size_t len;                 /* Bytes received. */
    bool truncated;             /* We stopped the transfer on purpose. */
    char errbuf[CURL_ERROR_SIZE];
};

static int
http_socket_cb(CURL *easy, curl_socket_t fd, int what, void *ctx_,
               void *sockp)
{
    struct http_ctx *ctx = ctx_;
    struct http_sock *s;

    HMAP_FOR_EACH_WITH_HASH (s, node, hash_int(fd, 0), &ctx->socks) {
        if (s->fd == fd) {
            break;
        }
    }
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            hmap_remove(&ctx->socks, &s->node);
            free(s);
        }
        return 0;
    }
    if (!s) {
        s = xmalloc(sizeof *s);
        s->fd = fd;
        hmap_insert(&ctx->socks, &s->node, hash_int(fd, 0));
    }
    s->what = what;
    return 0;
}

static int
http_timer_cb(CURLM *multi, long timeout_ms, void *ctx_)
{
    struct http_ctx *ctx = ctx_;

    ctx->timer = timeout_ms < 0 ? LLONG_MAX : time_msec() + timeout_ms;
    return 0;
}

static void *
http_create(void)
{
    struct http_ctx *ctx = xzalloc(sizeof *ctx);

    hmap_init(&ctx->socks);
    ctx->timer = LLONG_MAX;
    ctx->multi = curl_multi_init();
    if (ctx->multi) {
        curl_multi_setopt(ctx->multi, CURLMOPT_SOCKETFUNCTION,
                          http_socket_cb);
        curl_multi_setopt(ctx->multi, CURLMOPT_SOCKETDATA, ctx);
        curl_multi_setopt(ctx->multi, CURLMOPT_TIMERFUNCTION, http_timer_cb);
        curl_multi_setopt(ctx->multi, CURLMOPT_TIMERDATA, ctx);
    } else {
        VLOG_ERR("curl_multi_init failed: http checks will fail");
    }
    return ctx;
}

static void
http_destroy(void *ctx_)
{
    struct http_ctx *ctx = ctx_;
    struct http_sock *s;

    if (ctx->multi) {
        curl_multi_cleanup(ctx->multi);
    }
    HMAP_FOR_EACH_POP (s, node, &ctx->socks) {
        free(s);
    }
    hmap_destroy(&ctx->socks);
    free(ctx);
}

static size_t
http_write_cb(char *data, size_t size, size_t nmemb, void *hp_)
{
    struct http_probe *hp = hp_;
    size_t n = size * nmemb;

    if (hp->body) {
        size_t room = BODY_MAX - hp->len;
        size_t take = MIN(n, room);

        memcpy(hp->body + hp->len, data, take);
        hp->len += take;
        if (hp->len >= BODY_MAX) {
            hp->truncated = true;
            return 0;           /* Aborts the transfer. */
        }
        return n;
    }
    hp->len += n;
    if (hp->len > DISCARD_MAX) {
        hp->truncated = true;
        return 0;
    }
    return n;
}

static void
http_free(struct http_ctx *ctx, struct http_probe *hp)
{
    if (hp->easy) {
        if (ctx->multi) {
            curl_multi_remove_handle(ctx->multi, hp->easy);
        }
        curl_easy_cleanup(hp->easy);
    }
    if (hp->probe) {
        hp->probe->priv = NULL;
    }
    free(hp->body);
    free(hp);
}

static bool
http_start(void *ctx_, struct health_probe *probe, struct health_verdict *v)
{
    struct http_ctx *ctx = ctx_;
    const struct lb_check *c = probe->check;
    bool https = c->type == LB_CHECK_HTTPS;
    char addr[INET6_ADDRSTRLEN], url[INET6_ADDRSTRLEN + 64];
    struct http_probe *hp;
    char *full_url;
    long timeout;
    CURL *e;

    if (!ctx->multi || !(e = curl_easy_init())) {
        health_verdict_set(v, false, HEALTH_R_INTERNAL, 0,
                           "libcurl initialization failed");
        return false;
    }
    if (!inet_ntop(probe->addr->family, &probe->addr->v6, addr,
                   sizeof addr)) {
        curl_easy_cleanup(e);
        health_verdict_set(v, false, HEALTH_R_INTERNAL, 0, "no address");
        return false;
    }
    snprintf(url, sizeof url,
             probe->addr->family == AF_INET6 ? "%s://[%s]:%u" : "%s://%s:%u",
             https ? "https" : "http", addr, probe->port);
    full_url = xasprintf("%s%s%s", url, c->path[0] == '/' ? "" : "/",
                         c->path);

    hp = xzalloc(sizeof *hp);
    hp->probe = probe;
    hp->easy = e;
    if (c->expect_body) {
        hp->body = xmalloc(BODY_MAX);
    }

    /* The monitor times the probe out; curl's own timeout is a backstop. */
    timeout = (long) c->timeout_ms + 1000;
    curl_easy_setopt(e, CURLOPT_URL, full_url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, hp);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, hp);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, hp->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout);
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "flowlb-health/" FLOWLB_VERSION);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    if (https) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (probe->source->family) {
        char src[INET6_ADDRSTRLEN], iface[INET6_ADDRSTRLEN + 8];

        inet_ntop(probe->source->family, &probe->source->v6, src, sizeof src);
        snprintf(iface, sizeof iface, "host!%s", src);
        curl_easy_setopt(e, CURLOPT_INTERFACE, iface);
    }
    free(full_url);             /* curl copies string options. */

    if (curl_multi_add_handle(ctx->multi, e) != CURLM_OK) {
        hp->probe = NULL;
        http_free(ctx, hp);
        health_verdict_set(v, false, HEALTH_R_INTERNAL, 0,
                           "curl_multi_add_handle failed");
        return false;
    }
    probe->priv = hp;
    return true;
}

static void
http_cancel(void *ctx_, struct health_probe *probe)
{
    if (probe->priv) {
        http_free(ctx_, probe->priv);
    }
}

static void
http_verdict(const struct http_probe *hp, CURLcode rc,
             struct health_verdict *v)
{
    const struct lb_check *c = hp->probe->check;

    if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && hp->truncated)) {
        long status = 0;

        curl_easy_getinfo(hp->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status != c->expect_status) {
            health_verdict_set(v, false, HEALTH_R_HTTP_STATUS, (int) status,
                               "bad status %ld (expected %u)", status,
                               c->expect_status);
        } else if (c->expect_body
                   && !memmem(hp->body, hp->len, c->expect_body,
                              strlen(c->expect_body))) {
            health_verdict_set(v, false, HEALTH_R_HTTP_BODY, (int) status,
                               "status %ld but body lacks \"%.40s\"",
                               status, c->expect_body);
        } else {
            health_verdict_set(v, true, HEALTH_R_OK, (int) status,
                               "status %ld", status);
        }
    } else if (rc == CURLE_COULDNT_CONNECT) {
        long os_errno = 0;

        curl_easy_getinfo(hp->easy, CURLINFO_OS_ERRNO, &os_errno);
        health_verdict_connect_error(v, os_errno ? (int) os_errno
                                                 : ECONNREFUSED);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        health_verdict_set(v, false, HEALTH_R_TIMEOUT, rc, "%s",
                           hp->errbuf[0] ? hp->errbuf
                                         : curl_easy_strerror(rc));
    } else {
        health_verdict_set(v, false, HEALTH_R_HTTP_ERROR, rc, "%s",
                           hp->errbuf[0] ? hp->errbuf
                                         : curl_easy_strerror(rc));
    }
}

static void
http_run(void *ctx_)
{
    struct http_ctx *ctx = ctx_;
    size_t n = hmap_count(&ctx->socks);
    CURLMsg *msg;
    int running, left;

    if (!ctx->multi) {
        return;
    }

    /* The poll loop does not say which fds are ready; ask the kernel, then
     * hand each ready socket to curl. */
    if (n) {
        struct pollfd *pfds = xmalloc(n * sizeof *pfds);
        struct http_sock *s;
        size_t i = 0;

        HMAP_FOR_EACH (s, node, &ctx->socks) {
            pfds[i++] = (struct pollfd) {
                .fd = s->fd,
                .events = ((s->what & CURL_POLL_IN ? POLLIN : 0)
                           | (s->what & CURL_POLL_OUT ? POLLOUT : 0)),
            };
        }
        if (poll(pfds, n, 0) > 0) {
            for (i = 0; i < n; i++) {
                short int re = pfds[i].revents;
                int ev = 0;

                if (!re) {
                    continue;
                }
                ev |= re & (POLLIN | POLLHUP) ? CURL_CSELECT_IN : 0;
                ev |= re & POLLOUT ? CURL_CSELECT_OUT : 0;
                ev |= re & (POLLERR | POLLNVAL) ? CURL_CSELECT_ERR : 0;
                curl_multi_socket_action(ctx->multi, pfds[i].fd, ev,
                                         &running);
            }
        }
        free(pfds);
    }
    if (time_msec() >= ctx->timer) {
        ctx->timer = LLONG_MAX;
        curl_multi_socket_action(ctx->multi, CURL_SOCKET_TIMEOUT, 0,
                                 &running);
    }

    while ((msg = curl_multi_info_read(ctx->multi, &left))) {
        struct http_probe *hp;
        struct health_probe *probe;
        struct health_verdict v;

        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &hp);
        http_verdict(hp, msg->data.result, &v);
        probe = hp->probe;
        http_free(ctx, hp);     /* Invalidates 'msg'. */
        health_probe_done(probe, &v);
    }
}

static void
http_wait(void *ctx_)
{
    struct http_ctx *ctx = ctx_;
    struct http_sock *s;

    HMAP_FOR_EACH (s, node, &ctx->socks) {
        poll_fd_wait(s->fd, ((s->what & CURL_POLL_IN ? POLLIN : 0)
                             | (s->what & CURL_POLL_OUT ? POLLOUT : 0)));
    }
    if (ctx->timer != LLONG_MAX) {
        poll_timer_wait_until(ctx->timer);
    }
}

const struct health_kind health_kind_http = {
    .name = "http",
    .create = http_create,
    .destroy = http_destroy,
    .start = http_start,
    .cancel = http_cancel,
    .run = http_run,
    .wait = http_wait,
};
