/* udp checks against loopback responders, driven by the poll loop: echo,
 * wrong reply, ICMP port unreachable, silence with and without an expected
 * reply, IPv6, source binding, the empty datagram, reload of send/reply. */
#include <config.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

/* Shared helpers, some of them (the HTTP server) unused here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "health_test_util.h"
#pragma GCC diagnostic pop
#include "openvswitch/vlog.h"

/* ---- a UDP responder in its own thread ---------------------------------- */

enum ur_mode {
    UR_ECHO,                    /* Sends back what it got. */
    UR_FIXED,                   /* Sends back "nope". */
    UR_SILENT,                  /* Reads, never answers. */
};

struct udp_responder {
    int fd;
    uint16_t port;
    enum ur_mode mode;
    int stop[2];
    pthread_t thread;
    /* Written by the thread, read after ur_stop() (joined). */
    unsigned long n_received;
    ssize_t last_len;
    struct sockaddr_storage last_from;
};

static void *
ur_main(void *ur_)
{
    struct udp_responder *ur = ur_;
    char buf[2048];

    for (;;) {
        struct pollfd pfds[2] = {
            { .fd = ur->fd, .events = POLLIN },
            { .fd = ur->stop[0], .events = POLLIN },
        };
        socklen_t len = sizeof ur->last_from;
        ssize_t n;

        if (poll(pfds, 2, -1) < 0 || pfds[1].revents) {
            return NULL;
        }
        n = recvfrom(ur->fd, buf, sizeof buf, MSG_DONTWAIT,
                     (struct sockaddr *) &ur->last_from, &len);
        if (n < 0) {
            continue;
        }
        ur->n_received++;
        ur->last_len = n;
        if (ur->mode == UR_SILENT) {
            continue;
        }
        if (ur->mode == UR_FIXED) {
            memcpy(buf, "nope", 4);
            n = 4;
        }
        if (sendto(ur->fd, buf, n, 0, (struct sockaddr *) &ur->last_from,
                   len) < 0) {
            /* The prober went away; fine. */
        }
    }
}

static void
ur_start(struct udp_responder *ur, int family, enum ur_mode mode)
{
    struct sockaddr_storage ss;
    socklen_t len;

    memset(ur, 0, sizeof *ur);
    memset(&ss, 0, sizeof ss);
    ur->mode = mode;
    if (family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;

        sin6->sin6_family = AF_INET6;
        sin6->sin6_addr = in6addr_loopback;
        len = sizeof *sin6;
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *) &ss;

        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_ANY);   /* 127.0.0.x too. */
        len = sizeof *sin;
    }
    ur->fd = socket(family, SOCK_DGRAM, 0);
    assert_true(ur->fd >= 0);
    assert_int_equal(bind(ur->fd, (struct sockaddr *) &ss, len), 0);
    assert_int_equal(getsockname(ur->fd, (struct sockaddr *) &ss, &len), 0);
    ur->port = ntohs(family == AF_INET6
                     ? ((struct sockaddr_in6 *) &ss)->sin6_port
                     : ((struct sockaddr_in *) &ss)->sin_port);
    assert_int_equal(pipe(ur->stop), 0);
    assert_int_equal(pthread_create(&ur->thread, NULL, ur_main, ur), 0);
}

static void
ur_stop(struct udp_responder *ur)
{
    assert_int_equal(write(ur->stop[1], "x", 1), 1);
    pthread_join(ur->thread, NULL);
    close(ur->stop[0]);
    close(ur->stop[1]);
    close(ur->fd);
}

/* A UDP port on loopback with nothing bound (bound, then closed). */
static uint16_t
closed_udp_port(int family)
{
    struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
                                 .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    struct sockaddr_in sin = { .sin_family = AF_INET,
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    struct sockaddr *sa = (family == AF_INET6 ? (struct sockaddr *) &sin6
                           : (struct sockaddr *) &sin);
    socklen_t len = family == AF_INET6 ? sizeof sin6 : sizeof sin;
    int fd = socket(family, SOCK_DGRAM, 0);

    if (fd < 0 || bind(fd, sa, len) || getsockname(fd, sa, &len)) {
        abort();
    }
    close(fd);
    return ntohs(family == AF_INET6 ? sin6.sin6_port : sin.sin_port);
}

/* ---- driving one target ------------------------------------------------- */

static struct health_target
udp_target(const char *addr, uint16_t port, const char *send,
           const char *reply)
{
    struct health_target t = make_target("dns", addr, port, LB_CHECK_UDP);

    t.check.send = (char *) send;
    t.check.expect_reply = (char *) reply;
    return t;
}

/* ---- tests -------------------------------------------------------------- */

static void
test_udp_echo_up(void **state)
{
    struct udp_responder ur;
    struct health_target t;
    struct health_change c;
    struct health_status st;
    long long int took;

    ur_start(&ur, AF_INET, UR_ECHO);
    t = udp_target("127.0.0.1", ur.port, "ping", "ping");
    took = run_one(&t, 2000, &c, &st);
    assert_int_equal(c.old_state, HEALTH_UNKNOWN);
    assert_int_equal(c.new_state, HEALTH_UP);
    assert_true(c.verdict.ok);
    assert_int_equal(c.verdict.reason, HEALTH_R_OK);
    assert_non_null(strstr(c.verdict.text, "reply of 4 bytes"));
    assert_int_equal(c.port, ur.port);
    /* Decided by the replies, not by the 100 ms timeouts. */
    assert_in_range(took, 90, 400);
    assert_int_equal(st.type, LB_CHECK_UDP);
    assert_int_equal(st.n_probes, 2);
    ur_stop(&ur);
    assert_int_equal(ur.n_received, 2);
    assert_int_equal(ur.last_len, 4);
}

static void
test_udp_substring_match(void **state)
{
    struct udp_responder ur;
    struct health_target t;
    struct health_change c;
    struct health_status st;

    /* The reply must contain the text, not equal it. */
    ur_start(&ur, AF_INET, UR_ECHO);
    t = udp_target("127.0.0.1", ur.port, "xx-pong-yy", "pong");
    run_one(&t, 2000, &c, &st);
    assert_int_equal(c.new_state, HEALTH_UP);
    ur_stop(&ur);
}

static void
test_udp_wrong_reply_down(void **state)
{
    struct udp_responder ur;
    struct health_target t;
    struct health_change c;
    struct health_status st;
    long long int took;

    ur_start(&ur, AF_INET, UR_FIXED);
    t = udp_target("127.0.0.1", ur.port, "ping", "pong");
    took = run_one(&t, 2000, &c, &st);
    assert_int_equal(c.new_state, HEALTH_DOWN);
    assert_false(c.verdict.ok);
    assert_int_equal(c.verdict.reason, HEALTH_R_UDP_REPLY);
    assert_string_equal(health_reason_name(c.verdict.reason), "udp-reply");
    assert_non_null(strstr(c.verdict.text, "lacks \"pong\""));
    /* The wrong reply decides at once, not at the timeout. */
    assert_in_range(took, 90, 400);
    ur_stop(&ur);
}

static void
check_closed(int family, const char *addr, const char *reply)
{
    struct health_target t;
    struct health_change c;
    struct health_status st;

    t = udp_target(addr, closed_udp_port(family), "ping", reply);
    run_one(&t, 2000, &c, &st);
    assert_int_equal(c.new_state, HEALTH_DOWN);
    assert_int_equal(c.verdict.reason, HEALTH_R_CONNECT_REFUSED);
    assert_int_equal(c.verdict.detail, ECONNREFUSED);
    assert_non_null(strstr(c.verdict.text, "unreachable"));
}

static void
test_udp_closed_port_down(void **state)
{
    /* ICMP port unreachable fails whether or not a reply is expected. */
    check_closed(AF_INET, "127.0.0.1", NULL);
    check_closed(AF_INET, "127.0.0.1", "pong");
}

static void
test_udp_silent(void **state)
{
    struct udp_responder ur;
    struct health_target t;
    struct health_change c;
    struct health_status st;
    long long int took;

    ur_start(&ur, AF_INET, UR_SILENT);

    /* No reply expected: silence until the timeout is up. */
    t = udp_target("127.0.0.1", ur.port, "ping", NULL);
    took = run_one(&t, 2000, &c, &st);
    assert_int_equal(c.new_state, HEALTH_UP);
    assert_true(c.verdict.ok);
    assert_int_equal(c.verdict.reason, HEALTH_R_OK);
    assert_non_null(strstr(c.verdict.text, "no reply"));
    /* Second probe's timeout: one interval + one timeout at least. */
    assert_in_range(took, 190, 700);

    /* A reply expected: silence is a timeout. */
    t = udp_target("127.0.0.1", ur.port, "ping", "pong");
    run_one(&t, 2000, &c, &st);
    assert_int_equal(c.new_state, HEALTH_DOWN);
    assert_int_equal(c.verdict.reason, HEALTH_R_TIMEOUT);
    assert_non_null(strstr(c.verdict.text, "no reply within 100 ms"));

    ur_stop(&ur);
    assert_true(ur.n_received >= 4);
}

static void
test_udp_any_reply_without_expect(void **state)
{
    struct udp_responder ur;
    struct health_target t;
    struct health_change c;
    struct health_status st;
    long long int took;

    ur_start(&ur, AF_INET, UR_FIXED);
    t = udp_target("127.0.0.1", ur.port, "ping", NULL);
    took = run_one(&t, 2000, &c, &st);
    assert_int_equal(c.new_state, HEALTH_UP);
    assert_non_null(strstr(c.verdict.text, "reply of 4 bytes"));
    assert_in_range(took, 90, 400);     /* Not waiting for the timeout. */
    ur_stop(&ur);
}

static void
test_udp_empty_datagram(void **state)
{
    struct udp_responder ur;
    struct health_target t;
    struct health_change c;
    struct health_status st;

    /* No 'send': an empty datagram; an empty echo is still a reply. */
    ur_start(&ur, AF_INET, UR_ECHO);
    t = udp_target("127.0.0.1", ur.port, NULL, NULL);
    run_one(&t, 2000, &c, &st);
    assert_int_equal(c.new_state, HEALTH_UP);
    assert_non_null(strstr(c.verdict.text, "reply of 0 bytes"));
    ur_stop(&ur);
    assert_true(ur.n_received >= 2);
    assert_int_equal(ur.last_len, 0);
}

static void
test_udp_ipv6(void **state)
{
    struct udp_responder ur;
    struct health_target t;
    struct health_change c;
    struct health_status st;

    ur_start(&ur, AF_INET6, UR_ECHO);
    t = udp_target("::1", ur.port, "ping", "ping");
    run_one(&t, 2000, &c, &st);
    assert_int_equal(c.new_state, HEALTH_UP);
    ur_stop(&ur);

    ur_start(&ur, AF_INET6, UR_FIXED);
    t = udp_target("::1", ur.port, "ping", "pong");
    run_one(&t, 2000, &c, &st);
    assert_int_equal(c.new_state, HEALTH_DOWN);
    assert_int_equal(c.verdict.reason, HEALTH_R_UDP_REPLY);
    ur_stop(&ur);

    check_closed(AF_INET6, "::1", NULL);
}

static void
test_udp_source_bind(void **state)
{
    struct udp_responder ur;
    struct health_target t;
    struct health_change c;
    struct health_status st;
    char from[INET6_ADDRSTRLEN];

    ur_start(&ur, AF_INET, UR_ECHO);
    t = udp_target("127.0.0.1", ur.port, "ping", "ping");
    t.source.family = AF_INET;
    inet_pton(AF_INET, "127.0.0.2", &t.source.v4);
    run_one(&t, 2000, &c, &st);
    assert_int_equal(c.new_state, HEALTH_UP);

    /* A source address this host does not have: the probe fails. */
    inet_pton(AF_INET, "192.0.2.77", &t.source.v4);
    run_one(&t, 2000, &c, &st);
    assert_int_equal(c.new_state, HEALTH_DOWN);
    assert_int_equal(c.verdict.reason, HEALTH_R_INTERNAL);
    assert_non_null(strstr(c.verdict.text, "bind"));
    ur_stop(&ur);

    /* The datagrams came from the source address. */
    inet_ntop(AF_INET, &((struct sockaddr_in *) &ur.last_from)->sin_addr,
              from, sizeof from);
    assert_string_equal(from, "127.0.0.2");
}

static void
test_udp_reload_reply_changes_definition(void **state)
{
    struct udp_responder ur;
    struct health_monitor *hm = health_monitor_create();
    struct change_log log = { 0 };
    struct health_target t;
    struct health_status st;

    ur_start(&ur, AF_INET, UR_FIXED);
    /* Up with no expected reply... */
    t = udp_target("127.0.0.1", ur.port, "ping", NULL);
    health_monitor_set_targets(hm, &t, 1);
    drive(hm, &log, 1, 2000);
    assert_int_equal(log.n, 1);
    assert_int_equal(log.c[0].new_state, HEALTH_UP);

    /* ...then 'reply' is added: a new definition, the real goes down. */
    t.check.expect_reply = "pong";
    health_monitor_set_targets(hm, &t, 1);
    assert_true(health_monitor_get(hm, "dns", &t.addr, &st));
    assert_int_equal(st.state, HEALTH_UP);
    assert_int_equal(st.successes, 0);
    drive(hm, &log, 2, 2000);
    assert_int_equal(log.n, 2);
    assert_int_equal(log.c[1].new_state, HEALTH_DOWN);
    assert_int_equal(log.c[1].verdict.reason, HEALTH_R_UDP_REPLY);

    change_log_clear(&log);
    health_monitor_destroy(hm);
    ur_stop(&ur);
}

static void
test_udp_destroy_in_flight(void **state)
{
    struct udp_responder ur;
    struct health_monitor *hm = health_monitor_create();
    struct change_log log = { 0 };
    struct health_target t;

    /* A probe waiting for a reply when the monitor goes: no leak (ASan),
     * no assertion in udp_destroy(). */
    ur_start(&ur, AF_INET, UR_SILENT);
    t = udp_target("127.0.0.1", ur.port, "ping", "pong");
    t.check.interval_ms = t.check.timeout_ms = 1000;
    health_monitor_set_targets(hm, &t, 1);
    drive(hm, &log, 0, 300);
    assert_int_equal(log.n, 0);
    health_monitor_destroy(hm);
    ur_stop(&ur);
    assert_int_equal(ur.n_received, 1);
}

/* Replies that arrive one by one while other probes wait are read a few at
 * a time (the socket kinds' batching, check_sock.c): a responder takes one
 * request from each of 64 targets, then answers them 300 us apart. */

struct trickle {
    int fd;
    uint16_t port;
    long long int span_us;      /* First reply sent to last. */
    pthread_t thread;
};

static void *
trickle_main(void *tr_)
{
    struct trickle *tr = tr_;
    struct sockaddr_storage from[N_TRICKLE];
    socklen_t lens[N_TRICKLE];
    char buf[64];
    int n = 0;

    while (n < N_TRICKLE) {
        struct pollfd pfd = { .fd = tr->fd, .events = POLLIN };

        if (poll(&pfd, 1, 3000) <= 0) {
            return NULL;            /* The test fails on its own. */
        }
        lens[n] = sizeof from[n];
        if (recvfrom(tr->fd, buf, sizeof buf, 0,
                     (struct sockaddr *) &from[n], &lens[n]) > 0) {
            n++;
        }
    }
    long long int first = mono_us(), next = first;
    for (int i = 0; i < n; i++) {
        trickle_pace(&next);
        sendto(tr->fd, "pong", 4, 0, (struct sockaddr *) &from[i], lens[i]);
    }
    tr->span_us = mono_us() - first;
    return NULL;
}

static void
test_udp_replies_read_together(void **state)
{
    struct sockaddr_in any = { .sin_family = AF_INET,
                               .sin_addr.s_addr = htonl(INADDR_ANY) };
    socklen_t len = sizeof any;
    struct health_target t[N_TRICKLE];
    char names[N_TRICKLE][8];
    struct trickle tr;
    size_t wakeups;
    long long int took;

    memset(&tr, 0, sizeof tr);
    tr.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(tr.fd >= 0);
    assert_int_equal(bind(tr.fd, (struct sockaddr *) &any, sizeof any), 0);
    assert_int_equal(getsockname(tr.fd, (struct sockaddr *) &any, &len), 0);
    tr.port = ntohs(any.sin_port);
    assert_int_equal(pthread_create(&tr.thread, NULL, trickle_main, &tr), 0);

    /* 64 services checking 127.0.0.1 (a socket each; replies come from
     * that address), first probes within 10 ms. */
    for (int i = 0; i < N_TRICKLE; i++) {
        snprintf(names[i], sizeof names[i], "u%d", i);
        t[i] = udp_target("127.0.0.1", tr.port, "ping", "pong");
        t[i].service = names[i];
        t[i].check.interval_ms = 40;
        t[i].check.timeout_ms = 3000;
        t[i].check.rise = 1;
    }
    took = drive_counting_wakeups(t, N_TRICKLE, "reply of 4 bytes", 3000,
                                  &wakeups);
    pthread_join(tr.thread, NULL);

    assert_read_together("replies", tr.span_us, wakeups, took);
    close(tr.fd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp_echo_up),
        cmocka_unit_test(test_udp_substring_match),
        cmocka_unit_test(test_udp_wrong_reply_down),
        cmocka_unit_test(test_udp_closed_port_down),
        cmocka_unit_test(test_udp_silent),
        cmocka_unit_test(test_udp_any_reply_without_expect),
        cmocka_unit_test(test_udp_empty_datagram),
        cmocka_unit_test(test_udp_ipv6),
        cmocka_unit_test(test_udp_source_bind),
        cmocka_unit_test(test_udp_reload_reply_changes_definition),
        cmocka_unit_test(test_udp_destroy_in_flight),
        cmocka_unit_test(test_udp_replies_read_together),
    };

    vlog_set_levels(NULL, VLF_CONSOLE, VLL_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
