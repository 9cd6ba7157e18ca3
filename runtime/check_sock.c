/* Probe sockets for the socket kinds (tcp, udp): their set-up, and one
 * epoll set per kind for their readiness.
 *
 * Why epoll: with thousands of probes in flight (10,000 reals at 1 s, or
 * many dead reals waiting out their timeout), poll() of every in-flight
 * descriptor in each run and one poll_fd_wait() per descriptor (which
 * OVS's poll_block() turns into a hash map and a pollfd array) made every
 * loop iteration cost O(probes in flight). With one epoll descriptor in the
 * poll loop an iteration costs what the ready sockets cost.
 */
#include <config.h>
#include "health_check.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "openvswitch/poll-loop.h"
#include "util.h"

int
health_sock_open(const struct health_probe *probe, int type,
                 int *connect_error, struct health_verdict *v)
{
    struct sockaddr_storage ss;
    socklen_t len = health_sockaddr(probe->addr, probe->port, &ss);
    int fd;

    *connect_error = 0;
    if (!len) {
        health_verdict_set(v, false, HEALTH_R_INTERNAL, 0, "no address");
        return -1;
    }
    fd = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        health_verdict_set(v, false, HEALTH_R_INTERNAL, errno,
                           "socket: %s", strerror(errno));
        return -1;
    }
    if (probe->source->family) {
        struct sockaddr_storage src;
        socklen_t src_len = health_sockaddr(probe->source, 0, &src);

        if (bind(fd, (struct sockaddr *) &src, src_len)) {
            health_verdict_set(v, false, HEALTH_R_INTERNAL, errno,
                               "bind to source: %s", strerror(errno));
            close(fd);
            return -1;
        }
    }
    if (connect(fd, (struct sockaddr *) &ss, len)) {
        if (errno != EINPROGRESS) {
            *connect_error = errno;
            close(fd);
            return -1;
        }
        *connect_error = EINPROGRESS;
    }
    return fd;
}

void
health_pollset_init(struct health_pollset *ps)
{
    ps->epfd = -1;
    ps->n = 0;
    ps->n_ready = 0;
}

void
health_pollset_destroy(struct health_pollset *ps)
{
    ovs_assert(!ps->n);
    if (ps->epfd >= 0) {
        close(ps->epfd);
        ps->epfd = -1;
    }
}

bool
health_pollset_add(struct health_pollset *ps, int fd, uint32_t events,
                   struct health_probe *probe, struct health_verdict *v)
{
    struct epoll_event ev = { .events = events, .data.ptr = probe };

    /* Made on first use: a monitor without such checks holds none. */
    if (ps->epfd < 0) {
        ps->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (ps->epfd < 0) {
            health_verdict_set(v, false, HEALTH_R_INTERNAL, errno,
                               "epoll_create1: %s", strerror(errno));
            return false;
        }
    }
    if (epoll_ctl(ps->epfd, EPOLL_CTL_ADD, fd, &ev)) {
        health_verdict_set(v, false, HEALTH_R_INTERNAL, errno,
                           "epoll_ctl: %s", strerror(errno));
        return false;
    }
    ps->n++;
    return true;
}

void
health_pollset_del(struct health_pollset *ps, int fd)
{
    /* Explicit, not left to close(): a registration lives as long as the
     * open file, which a child being spawned may still share, and its
     * event would then name a probe that is gone. */
    epoll_ctl(ps->epfd, EPOLL_CTL_DEL, fd, NULL);
    ps->n--;
}

int
health_pollset_ready(struct health_pollset *ps, struct epoll_event *events,
                     int max)
{
    int n;

    if (!ps->n) {
        return 0;
    }
    do {
        n = epoll_wait(ps->epfd, events, max, 0);
    } while (n < 0 && errno == EINTR);
    n = MAX(n, 0);
    ps->n_ready += n;
    return n;
}

void
health_pollset_wait(struct health_pollset *ps)
{
    size_t n_ready = ps->n_ready;

    ps->n_ready = 0;
    if (ps->n && !health_wait_reply_batch(n_ready, ps->n)) {
        poll_fd_wait(ps->epfd, POLLIN);
    }
}
