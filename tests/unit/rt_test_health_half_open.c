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
    };

    if (geteuid() != 0) {
        fprintf(stderr, "rt_test_health_half_open: run as root (raw "
                "sockets), as CI does\n");
        return 1;
    }
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
