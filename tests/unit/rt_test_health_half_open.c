/* tcp-half-open checks against real listeners on loopback: up from the
 * SYN-ACK with no connection ever accepted, refused from the reset, timeout
 * when the listener drops SYNs (full accept queue), IPv6, several services
 * probing the same real at once, and the connect() fallback without
 * CAP_NET_RAW. Needs root (a raw socket), like the integration tests:
 * it says so and fails otherwise. */
#include <config.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/wait.h>

#include "health_test_util.h"
#include "openvswitch/vlog.h"

/* A listening socket nobody accepts from; 'backlog' as given. Returns the
 * socket, the port in '*port'. */
static int
bare_listener(int family, int backlog, uint16_t *port)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    *port = bind_loopback(fd, family, 0);
    assert_true(*port != 0);
    assert_int_equal(listen(fd, backlog), 0);
    return fd;
}

/* True if the listener has a connection waiting to be accepted. */
static bool
has_pending_connection(int lfd)
{
    int flags = fcntl(lfd, F_GETFL);
    int fd;

    fcntl(lfd, F_SETFL, flags | O_NONBLOCK);
    fd = accept(lfd, NULL, NULL);
    fcntl(lfd, F_SETFL, flags);
    if (fd >= 0) {
        close(fd);
        return true;
    }
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    return false;
}

static void
up_without_connection(int family, const char *addr)
{
    struct health_target t;
    struct health_change c;
    struct health_status st;
    uint16_t port;
    int lfd = bare_listener(family, 16, &port);

    t = make_target("web", addr, port, LB_CHECK_TCP_HALF_OPEN);
    run_one(&t, 2000, &c, &st);
    assert_int_equal(c.new_state, HEALTH_UP);
    assert_true(c.verdict.ok);
    assert_string_equal(c.verdict.text, "SYN-ACK");
    assert_int_equal(st.type, LB_CHECK_TCP_HALF_OPEN);
    assert_int_equal(st.successes, 2);
    /* The point of the kind: the listener never got a connection. A
     * connect() check leaves one per probe in the accept queue. */
    assert_false(has_pending_connection(lfd));
    close(lfd);
}

static void
test_half_open_up(void **state)
{
    up_without_connection(AF_INET, "127.0.0.1");
}

static void
test_half_open_up_ipv6(void **state)
{
    up_without_connection(AF_INET6, "::1");
}

static void
test_half_open_refused(void **state)
{
    struct health_target t;
    struct health_change c;
    struct health_status st;
    long long int took;

    t = make_target("web", "127.0.0.1", closed_port(), LB_CHECK_TCP_HALF_OPEN);
    t.check.fall = 3;
    took = run_one(&t, 2000, &c, &st);
    assert_int_equal(c.new_state, HEALTH_DOWN);
    assert_int_equal(c.verdict.reason, HEALTH_R_CONNECT_REFUSED);
    assert_string_equal(c.verdict.text, "connect refused (reset)");
    /* Refused at once, not by timeout: three probes 100 ms apart. */
    assert_in_range(took, 200, 700);
    assert_int_equal(st.failures, 3);
}

/* A listener whose accept queue is full drops SYNs: the probe times out,
 * as a connect() would (an overloaded server is down). */
static void
test_half_open_timeout(void **state)
{
    struct health_target t;
    struct health_change c;
    struct health_status st;
    struct sockaddr_in sin = { .sin_family = AF_INET,
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    uint16_t port;
    int lfd = bare_listener(AF_INET, 0, &port);
    int fillers[2];

    /* Backlog 0 holds one connection; a second fills the SYN side. */
    sin.sin_port = htons(port);
    for (int i = 0; i < 2; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fillers[i], (struct sockaddr *) &sin, sizeof sin);
    }
    usleep(50 * 1000);
    t = make_target("web", "127.0.0.1", port, LB_CHECK_TCP_HALF_OPEN);
    run_one(&t, 2000, &c, &st);
    assert_int_equal(c.new_state, HEALTH_DOWN);
    assert_int_equal(c.verdict.reason, HEALTH_R_TIMEOUT);
    for (int i = 0; i < 2; i++) {
        close(fillers[i]);
    }
    close(lfd);
}

/* A configured source (the check's "source"): the SYN leaves from it and
 * the SYN-ACK comes back to it. */
static void
test_half_open_source(void **state)
{
    struct health_target t;
    struct health_change c;
    struct health_status st;
    uint16_t port;
    int lfd = bare_listener(AF_INET, 16, &port);

    t = make_target("web", "127.0.0.1", port, LB_CHECK_TCP_HALF_OPEN);
    t.source.family = AF_INET;
    inet_pton(AF_INET, "127.0.0.2", &t.source.v4);
    run_one(&t, 2000, &c, &st);
    assert_int_equal(c.new_state, HEALTH_UP);
    assert_string_equal(c.verdict.text, "SYN-ACK");
    assert_false(has_pending_connection(lfd));
    close(lfd);
}

/* Services probing the same real and port at the same moment: each probe
 * has its own source port, so each gets its own answer. */
static void
test_half_open_same_real_many_services(void **state)
{
    static const char *names[] = { "a", "b", "c", "d", "e" };
    enum { N = sizeof names / sizeof *names };
    struct health_monitor *hm = health_monitor_create();
    struct change_log log = { 0 };
    struct health_target t[N];
    uint16_t port;
    int lfd = bare_listener(AF_INET, 64, &port);

    for (int i = 0; i < N; i++) {
        t[i] = make_target(names[i], "127.0.0.1", port,
                           LB_CHECK_TCP_HALF_OPEN);
        t[i].check.rise = 3;
    }
    health_monitor_set_targets(hm, t, N);
    drive(hm, &log, N, 3000);
    assert_int_equal(log.n, N);
    assert_int_equal(change_log_count(&log, HEALTH_UP), N);
    for (size_t i = 0; i < log.n; i++) {
        assert_string_equal(log.c[i].verdict.text, "SYN-ACK");
    }
    assert_false(has_pending_connection(lfd));
    change_log_clear(&log);
    health_monitor_destroy(hm);
    close(lfd);
}

/* ---- answers that trickle in -------------------------------------------
 * On loopback the kernel answers a SYN inside the system call that sent
 * it. To see how the checks read answers that arrive one by one (as they
 * do from other hosts), SYNs go to a port whose listener drops them (full
 * accept queue), and a thread with a raw socket answers each one itself
 * with a SYN-ACK, a fixed gap apart. (Not for connect() checks: their ACK
 * to that listener gets a reset back at once. rt_test_health_udp tests
 * the socket kinds' batching with UDP replies.) */

struct responder {
    int raw;
    uint16_t port;                  /* The dropping listener's. */
    uint16_t skip[2];               /* Its fillers' source ports. */
    long long int span_us;          /* First answer sent to last. */
    pthread_t thread;
};

/* Collects N_TRICKLE SYNs to the port, then sends each its SYN-ACK,
 * TRICKLE_GAP_US apart. */
static void *
responder_main(void *r_)
{
    struct responder *r = r_;
    struct { struct iphdr ip; struct tcphdr th; } syns[N_TRICKLE];
    int n = 0;

    while (n < N_TRICKLE) {
        struct pollfd pfd = { .fd = r->raw, .events = POLLIN };
        uint8_t buf[256];
        struct iphdr ip;
        struct tcphdr th;
        ssize_t len;

        if (poll(&pfd, 1, 3000) <= 0) {
            return NULL;            /* The test fails on its own. */
        }
        len = recv(r->raw, buf, sizeof buf, 0);
        if (len < (ssize_t) (sizeof ip + sizeof th)) {
            continue;
        }
        memcpy(&ip, buf, sizeof ip);
        memcpy(&th, buf + ip.ihl * 4, sizeof th);
        if (ntohs(th.th_dport) != r->port || th.th_flags != TH_SYN
            || ntohs(th.th_sport) == r->skip[0]
            || ntohs(th.th_sport) == r->skip[1]) {
            continue;
        }
        syns[n].ip = ip;
        syns[n++].th = th;
    }

    long long int first = mono_us(), next = first;
    for (int i = 0; i < n; i++) {
        struct { struct iphdr ip; struct tcphdr th; } pkt;
        struct sockaddr_in to = { .sin_family = AF_INET,
                                  .sin_addr.s_addr = syns[i].ip.saddr };

        memset(&pkt, 0, sizeof pkt);
        pkt.ip.version = 4;
        pkt.ip.ihl = 5;
        pkt.ip.ttl = 64;
        pkt.ip.protocol = IPPROTO_TCP;
        pkt.ip.saddr = syns[i].ip.daddr;
        pkt.ip.daddr = syns[i].ip.saddr;
        pkt.th.th_sport = syns[i].th.th_dport;
        pkt.th.th_dport = syns[i].th.th_sport;
        pkt.th.th_seq = htonl(12345);
        pkt.th.th_ack = htonl(ntohl(syns[i].th.th_seq) + 1);
        pkt.th.th_off = 5;
        pkt.th.th_flags = TH_SYN | TH_ACK;
        pkt.th.th_win = htons(1024);
        pkt.th.th_sum = health_tcp4_csum(
            &(struct in_addr) { .s_addr = pkt.ip.saddr },
            &(struct in_addr) { .s_addr = pkt.ip.daddr },
            &pkt.th, sizeof pkt.th);
        trickle_pace(&next);
        sendto(r->raw, &pkt, sizeof pkt, 0, (struct sockaddr *) &to,
               sizeof to);
    }
    r->span_us = mono_us() - first;
    return NULL;
}

/* Answers that arrive one by one while others are awaited are read a few
 * at a time: the loop does not wake for each (at 10,000 probes a second
 * that was 2,400 wake-ups a second, a fifth of the checker's CPU), and no
 * answer waits for anything but the short batching timer. */
static void
test_half_open_answers_read_together(void **state)
{
    struct sockaddr_in any = { .sin_family = AF_INET,
                               .sin_addr.s_addr = htonl(INADDR_ANY) };
    struct sockaddr_in sin = { .sin_family = AF_INET,
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sin;
    struct health_target t[N_TRICKLE];
    char addrs[N_TRICKLE][16], names[N_TRICKLE][8];
    struct responder r;
    int lfd, one = 1, hdrincl = 1, fillers[2];
    size_t wakeups;
    long long int took;

    /* A listener on every loopback address whose accept queue is full:
     * the kernel drops SYNs to it without an answer. */
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(lfd >= 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    assert_int_equal(bind(lfd, (struct sockaddr *) &any, sizeof any), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *) &any, &len), 0);
    assert_int_equal(listen(lfd, 0), 0);
    memset(&r, 0, sizeof r);
    r.port = ntohs(any.sin_port);
    sin.sin_port = any.sin_port;
    for (int i = 0; i < 2; i++) {
        struct sockaddr_in local;

        len = sizeof local;
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fillers[i], (struct sockaddr *) &sin, sizeof sin);
        getsockname(fillers[i], (struct sockaddr *) &local, &len);
        r.skip[i] = ntohs(local.sin_port);
    }
    usleep(50 * 1000);

    r.raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP);
    assert_true(r.raw >= 0);
    assert_int_equal(setsockopt(r.raw, IPPROTO_IP, IP_HDRINCL, &hdrincl,
                                sizeof hdrincl), 0);
    assert_int_equal(pthread_create(&r.thread, NULL, responder_main, &r), 0);

    /* To 127.0.0.2 and on; the first probes are spread over a quarter
     * interval (10 ms), and each target has one in flight until its
     * answer comes: the responder sees one SYN from each. */
    for (int i = 0; i < N_TRICKLE; i++) {
        snprintf(addrs[i], sizeof addrs[i], "127.0.0.%d", i + 2);
        snprintf(names[i], sizeof names[i], "s%d", i);
        t[i] = make_target(names[i], addrs[i], r.port,
                           LB_CHECK_TCP_HALF_OPEN);
        t[i].check.interval_ms = 40;
        t[i].check.timeout_ms = 3000;
        t[i].check.rise = 1;
    }
    took = drive_counting_wakeups(t, N_TRICKLE, "SYN-ACK", 3000, &wakeups);
    pthread_join(r.thread, NULL);

    assert_read_together("answers", r.span_us, wakeups, took);

    close(r.raw);
    for (int i = 0; i < 2; i++) {
        close(fillers[i]);
    }
    close(lfd);
}

/* Without CAP_NET_RAW (a child that gave up root) the probes are connect()
 * checks: the real still comes up, the listener sees connections. */
static void
test_half_open_falls_back_to_connect(void **state)
{
    uint16_t port;
    int lfd = bare_listener(AF_INET, 16, &port);
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (!pid) {
        struct health_target t;
        struct health_change c;
        struct health_status st;

        if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534)
            || socket(AF_INET, SOCK_RAW, IPPROTO_TCP) >= 0) {
            _exit(2);               /* Still allowed raw sockets. */
        }
        t = make_target("web", "127.0.0.1", port, LB_CHECK_TCP_HALF_OPEN);
        run_one(&t, 2000, &c, &st);
        _exit(c.new_state == HEALTH_UP
              && !strcmp(c.verdict.text, "connected") ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(has_pending_connection(lfd));
    close(lfd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_half_open_up),
        cmocka_unit_test(test_half_open_up_ipv6),
        cmocka_unit_test(test_half_open_refused),
        cmocka_unit_test(test_half_open_timeout),
        cmocka_unit_test(test_half_open_source),
        cmocka_unit_test(test_half_open_same_real_many_services),
        cmocka_unit_test(test_half_open_falls_back_to_connect),
        cmocka_unit_test(test_half_open_answers_read_together),
    };

    if (geteuid() != 0) {
        fprintf(stderr, "rt_test_health_half_open: run as root (raw "
                "sockets), as CI does\n");
        return 1;
    }
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
