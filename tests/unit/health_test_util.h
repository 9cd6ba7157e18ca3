/* Helpers for the health monitor tests (rt_test_health*.c): a tiny HTTP
 * server on loopback in its own thread, and a driver of the poll loop that
 * collects state changes. Header-only: each test program is one file, and
 * uses only some of these (hence static inline: no unused warnings). */
#ifndef FLOWLB_HEALTH_TEST_UTIL_H
#define FLOWLB_HEALTH_TEST_UTIL_H 1

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <sys/socket.h>

#include "health.h"
#include "health_check.h"
#include "openvswitch/poll-loop.h"
#include "timeval.h"

/* ---- the test HTTP server ---------------------------------------------
 * GET /ok    -> 200 "hello world"
 * GET /503   -> 503 "busy"
 * GET /body  -> 200 "nothing here"
 * GET /slow  -> 200 "hello world" after 300 ms
 * GET /hang  -> never answers (connection kept open)
 * anything else -> 404. Plain TCP connects (tcp checks) are accepted and
 * closed when the peer goes away. */

struct ts_conn {
    int fd;
    char buf[2048];
    size_t len;
    long long int respond_at;   /* 0: not yet; LLONG_MAX: never. */
    int status;
    const char *body;
};

struct test_server {
    int family;
    int lfd;
    uint16_t port;
    int stop[2];                /* Pipe: write to stop the thread. */
    pthread_t thread;
    unsigned long n_requests;   /* Requests parsed (approximate). */
};

/* The monotonic clock in microseconds. */
static inline long long int
mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static inline long long int
ts_now(void)
{
    return mono_us() / 1000;
}

static inline void
ts_respond(struct ts_conn *c)
{
    char out[512];
    const char *reason = (c->status == 200 ? "OK"
                          : c->status == 503 ? "Service Unavailable"
                          : c->status == 400 ? "Bad Request"
                          : "Not Found");
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     c->status, reason, strlen(c->body), c->body);
    if (write(c->fd, out, n) < 0) {
        /* The client went away; nothing to do. */
    }
}

static inline void
ts_parse(struct test_server *s, struct ts_conn *c)
{
    char path[256] = "";

    if (c->len >= 4 && strncmp(c->buf, "GET ", 4)) {
        /* Not HTTP (e.g. a TLS ClientHello): answer in plain HTTP. */
        c->status = 400;
        c->body = "bad request";
        c->respond_at = ts_now();
        return;
    }
    if (!strstr(c->buf, "\r\n\r\n")) {
        return;
    }
    s->n_requests++;
    sscanf(c->buf, "GET %255s", path);
    c->status = 200;
    c->body = "hello world";
    c->respond_at = ts_now();
    if (!strcmp(path, "/503")) {
        c->status = 503;
        c->body = "busy";
    } else if (!strcmp(path, "/body")) {
        c->body = "nothing here";
    } else if (!strcmp(path, "/slow")) {
        c->respond_at += 300;
    } else if (!strcmp(path, "/hang")) {
        c->respond_at = LLONG_MAX;
    } else if (strcmp(path, "/ok")) {
        c->status = 404;
        c->body = "no such page";
    }
}

static inline void *
ts_main(void *s_)
{
    struct test_server *s = s_;
    struct ts_conn *conns = NULL;
    size_t n = 0, allocated = 0;
    struct pollfd *pfds = NULL;

    for (;;) {
        long long int now = ts_now(), next = LLONG_MAX;
        int timeout;

        pfds = realloc(pfds, (n + 2) * sizeof *pfds);
        pfds[0] = (struct pollfd) { .fd = s->stop[0], .events = POLLIN };
        pfds[1] = (struct pollfd) { .fd = s->lfd, .events = POLLIN };
        for (size_t i = 0; i < n; i++) {
            pfds[i + 2] = (struct pollfd) { .fd = conns[i].fd,
                                            .events = POLLIN };
            if (conns[i].respond_at && conns[i].respond_at < next) {
                next = conns[i].respond_at;
            }
        }
        timeout = next == LLONG_MAX ? -1 : next <= now ? 0 : next - now;
        if (poll(pfds, n + 2, timeout) < 0 && errno != EINTR) {
            break;
        }
        if (pfds[0].revents) {
            break;
        }
        /* Existing connections first (their indexes match pfds). */
        now = ts_now();
        for (size_t i = 0; i < n; ) {
            struct ts_conn *c = &conns[i];
            bool close_it = false;

            if (pfds[i + 2].revents) {
                ssize_t r = read(c->fd, c->buf + c->len,
                                 sizeof c->buf - 1 - c->len);
                if (r <= 0) {
                    close_it = true;
                } else {
                    c->len += r;
                    c->buf[c->len] = '\0';
                    if (!c->respond_at) {
                        ts_parse(s, c);
                    }
                }
            }
            if (!close_it && c->respond_at && c->respond_at <= now) {
                ts_respond(c);
                close_it = true;
            }
            if (close_it) {
                close(c->fd);
                conns[i] = conns[--n];
                pfds[i + 2] = pfds[n + 2];
            } else {
                i++;
            }
        }
        if (pfds[1].revents) {
            int fd;

            while ((fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
                if (n >= allocated) {
                    allocated = allocated ? 2 * allocated : 64;
                    conns = realloc(conns, allocated * sizeof *conns);
                }
                memset(&conns[n], 0, sizeof conns[n]);
                conns[n++].fd = fd;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        close(conns[i].fd);
    }
    free(conns);
    free(pfds);
    return NULL;
}

/* Binds 'fd' to the loopback address of 'family' (::1 or 127.0.0.1) and
 * 'port' (0: one the kernel picks). Returns the port bound, 0 on failure
 * (errno set). */
static inline uint16_t
bind_loopback(int fd, int family, uint16_t port)
{
    struct lb_addr lo = { .family = family };
    struct sockaddr_storage ss;
    socklen_t len;

    if (family == AF_INET6) {
        lo.v6 = in6addr_loopback;
    } else {
        lo.v4.s_addr = htonl(INADDR_LOOPBACK);
    }
    len = health_sockaddr(&lo, port, &ss);
    if (bind(fd, (struct sockaddr *) &ss, len)
        || getsockname(fd, (struct sockaddr *) &ss, &len)) {
        return 0;
    }
    return ntohs(family == AF_INET6
                 ? ((struct sockaddr_in6 *) &ss)->sin6_port
                 : ((struct sockaddr_in *) &ss)->sin_port);
}

/* Starts a server on 127.0.0.1 (or ::1) on 'port' (0: a random one). */
static inline void
test_server_start_port(struct test_server *s, int family, uint16_t port)
{
    int one = 1;

    memset(s, 0, sizeof *s);
    s->family = family;
    s->lfd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->lfd < 0
        || setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one)
        || !(s->port = bind_loopback(s->lfd, family, port))
        || listen(s->lfd, 4096)
        || pipe(s->stop)) {
        fprintf(stderr, "test server: %s\n", strerror(errno));
        abort();
    }
    if (pthread_create(&s->thread, NULL, ts_main, s)) {
        abort();
    }
}

static inline void
test_server_start(struct test_server *s, int family)
{
    test_server_start_port(s, family, 0);
}

static inline void
test_server_stop(struct test_server *s)
{
    if (write(s->stop[1], "x", 1) != 1) {
        abort();
    }
    pthread_join(s->thread, NULL);
    close(s->lfd);
    close(s->stop[0]);
    close(s->stop[1]);
}

/* Whether 'pid' still runs (a zombie does not count: reaping orphans is
 * init's business). */
static inline bool
proc_alive(long pid)
{
    char path[64], buf[512];
    FILE *f;
    char *p;
    bool alive = false;

    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    if (!f) {
        return false;
    }
    if (fgets(buf, sizeof buf, f) && (p = strrchr(buf, ')')) && p[1]) {
        alive = p[2] != 'Z' && p[2] != 'X';
    }
    fclose(f);
    return alive;
}

/* A loopback port with nothing listening (bound, then closed). */
static inline uint16_t
closed_port(void)
{
    struct sockaddr_in sin = { .sin_family = AF_INET,
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sin;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0 || bind(fd, (struct sockaddr *) &sin, len)
        || getsockname(fd, (struct sockaddr *) &sin, &len)) {
        abort();
    }
    close(fd);
    return ntohs(sin.sin_port);
}

/* ---- driving the monitor ---------------------------------------------- */

struct change_log {
    struct health_change *c;
    size_t n, allocated;
};

static inline void
change_log_add(struct change_log *log, struct health_change *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (log->n >= log->allocated) {
            log->allocated = log->allocated ? 2 * log->allocated : 16;
            log->c = realloc(log->c, log->allocated * sizeof *log->c);
        }
        log->c[log->n++] = c[i];
    }
    free(c);                    /* The strings moved into the log. */
}

static inline void
change_log_clear(struct change_log *log)
{
    health_changes_destroy(log->c, log->n);
    memset(log, 0, sizeof *log);
}

static inline size_t
change_log_count(const struct change_log *log, enum health_state to)
{
    size_t n = 0;

    for (size_t i = 0; i < log->n; i++) {
        n += log->c[i].new_state == to;
    }
    return n;
}

/* Runs the poll loop for up to 'ms' milliseconds or until 'log' holds
 * 'n_wanted' changes (0: run the whole time). Returns the time spent;
 * counts the loop's wake-ups in '*wakeups' if it is not null. */
static inline long long int
drive_counted(struct health_monitor *hm, struct change_log *log,
              size_t n_wanted, long long int ms, size_t *wakeups)
{
    long long int start = time_msec(), deadline = start + ms;

    for (;;) {
        struct health_change *c;
        size_t n;

        health_monitor_run(hm);
        n = health_monitor_take_changes(hm, &c);
        change_log_add(log, c, n);
        if ((n_wanted && log->n >= n_wanted) || time_msec() >= deadline) {
            return time_msec() - start;
        }
        health_monitor_wait(hm);
        poll_timer_wait_until(deadline);
        poll_block();
        if (wakeups) {
            (*wakeups)++;
        }
    }
}

static inline long long int
drive(struct health_monitor *hm, struct change_log *log, size_t n_wanted,
      long long int ms)
{
    return drive_counted(hm, log, n_wanted, ms, NULL);
}

static inline struct health_target
make_target(const char *service, const char *addr, uint16_t port,
            enum lb_check_type type)
{
    struct health_target t;

    memset(&t, 0, sizeof t);
    t.service = service;
    if (strchr(addr, ':')) {
        t.addr.family = AF_INET6;
        inet_pton(AF_INET6, addr, &t.addr.v6);
    } else {
        t.addr.family = AF_INET;
        inet_pton(AF_INET, addr, &t.addr.v4);
    }
    t.port = port;
    t.check.type = type;
    t.check.interval_ms = 100;
    t.check.timeout_ms = 100;
    t.check.rise = 2;
    t.check.fall = 2;
    return t;
}

/* Runs one target until its first state change (or 'ms'), returns the
 * change (must happen) in '*out', the time taken as return value. */
static inline long long int
run_one(struct health_target *t, long long int ms, struct health_change *out,
        struct health_status *st)
{
    struct health_monitor *hm = health_monitor_create();
    struct change_log log = { 0 };
    long long int took;

    health_monitor_set_targets(hm, t, 1);
    assert_int_equal(health_monitor_n_targets(hm), 1);
    took = drive(hm, &log, 1, ms);
    if (log.n < 1) {
        fail_msg("no state change within %lld ms", ms);
    }
    *out = log.c[0];
    out->service = NULL;        /* Stays in the log, freed below. */
    assert_true(health_monitor_get(hm, t->service, &t->addr, st));
    change_log_clear(&log);
    health_monitor_destroy(hm);
    return took;
}

/* ---- answers that trickle in -------------------------------------------
 * A responder thread takes one request from each of N_TRICKLE targets,
 * then answers them TRICKLE_GAP_US apart (trickle_pace()), as answers from
 * other hosts arrive; drive_counting_wakeups() runs the monitor meanwhile
 * and assert_read_together() checks that they were read in batches. */
#define N_TRICKLE 64
#define TRICKLE_GAP_US 300

/* Sleeps until '*next' (microseconds), then moves it one gap on. */
static inline void
trickle_pace(long long int *next)
{
    long long int now = mono_us();

    if (*next > now) {
        usleep(*next - now);
    }
    *next += TRICKLE_GAP_US;
}

/* Answers sent over 'span_us' must have been read with at most one
 * wake-up per batch (HEALTH_REPLY_BATCH_MS) and a few for the probes'
 * starts: about 12 for 64 answers 300 us apart, where waking for each
 * took 51-66. */
static inline void
assert_read_together(const char *what, long long int span_us,
                     size_t wakeups, long long int took)
{
    printf("%d %s over %lld us: %zu wake-ups, %lld ms\n",
           N_TRICKLE, what, span_us, wakeups, took);
    assert_true((long long int) wakeups
                <= span_us / (HEALTH_REPLY_BATCH_MS * 1000) + 8);
    assert_true(took < 500);
}

/* Runs the monitor over 'n' targets until each has come up (or 'ms'), and
 * counts the loop's wake-ups. Every change must be to up, with a verdict
 * reading 'text'. Returns the time taken. For the tests of answers that
 * trickle in, which must be read a few at a time. */
static inline long long int
drive_counting_wakeups(struct health_target *t, size_t n, const char *text,
                       long long int ms, size_t *wakeups)
{
    struct health_monitor *hm = health_monitor_create();
    struct change_log log = { 0 };
    long long int took;

    *wakeups = 0;
    health_monitor_set_targets(hm, t, n);
    took = drive_counted(hm, &log, n, ms, wakeups);
    assert_int_equal(change_log_count(&log, HEALTH_UP), n);
    for (size_t i = 0; i < log.n; i++) {
        assert_string_equal(log.c[i].verdict.text, text);
    }
    change_log_clear(&log);
    health_monitor_destroy(hm);
    return took;
}

#endif /* FLOWLB_HEALTH_TEST_UTIL_H */
