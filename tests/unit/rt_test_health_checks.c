/* Real probes against loopback, driven by the poll loop: tcp, http(s),
 * exec, reasons and timing, reload migration. */
#include <config.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>

#include "health_test_util.h"
#include "openvswitch/vlog.h"

static void
test_tcp_up(void **state)
{
    struct test_server s;
    struct health_target t;
    struct health_change c;
    struct health_status st;
    long long int took;

    test_server_start(&s, AF_INET);
    t = make_target("web", "127.0.0.1", s.port, LB_CHECK_TCP);
    took = run_one(&t, 2000, &c, &st);
    assert_int_equal(c.old_state, HEALTH_UNKNOWN);
    assert_int_equal(c.new_state, HEALTH_UP);
    assert_true(c.verdict.ok);
    assert_int_equal(c.verdict.reason, HEALTH_R_OK);
    assert_int_equal(c.port, s.port);
    /* rise 2 at 100 ms: the second probe starts one interval after the
     * first (the first within a quarter interval). */
    assert_in_range(took, 90, 600);
    assert_int_equal(st.state, HEALTH_UP);
    assert_int_equal(st.successes, 2);
    assert_int_equal(st.n_probes, 2);
    assert_int_equal(st.type, LB_CHECK_TCP);
    test_server_stop(&s);
}

static void
test_tcp_check_port_overrides(void **state)
{
    struct test_server s;
    struct health_target t;
    struct health_change c;
    struct health_status st;

    test_server_start(&s, AF_INET);
    /* The service port is closed; the check port is open. */
    t = make_target("web", "127.0.0.1", closed_port(), LB_CHECK_TCP);
    t.check.port = s.port;
    run_one(&t, 2000, &c, &st);
    assert_int_equal(c.new_state, HEALTH_UP);
    assert_int_equal(st.port, s.port);
    test_server_stop(&s);
}

static void
test_tcp_refused(void **state)
{
    struct health_target t;
    struct health_change c;
    struct health_status st;
    long long int took;

    t = make_target("web", "127.0.0.1", closed_port(), LB_CHECK_TCP);
    t.check.fall = 3;
    took = run_one(&t, 2000, &c, &st);
    assert_int_equal(c.old_state, HEALTH_UNKNOWN);
    assert_int_equal(c.new_state, HEALTH_DOWN);
    assert_false(c.verdict.ok);
    assert_int_equal(c.verdict.reason, HEALTH_R_CONNECT_REFUSED);
    assert_string_equal(c.verdict.text, "connect refused");
    /* fall 3: three probes, 100 ms apart. */
    assert_in_range(took, 200, 700);
    assert_int_equal(st.failures, 3);
    assert_int_equal(st.n_probes, 3);
    assert_int_equal(st.last.reason, HEALTH_R_CONNECT_REFUSED);
}

/* A listener whose accept queue is full drops SYNs: connect never
 * completes, the probe times out. */
static void
test_tcp_timeout(void **state)
{
    struct sockaddr_in sin = { .sin_family = AF_INET,
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sin;
    int lfd = socket(AF_INET, SOCK_STREAM, 0), fill[4];
    struct health_target t;
    struct health_change c;
    struct health_status st;
    long long int took;

    assert_int_equal(bind(lfd, (struct sockaddr *) &sin, len), 0);
    assert_int_equal(listen(lfd, 0), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *) &sin, &len), 0);
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *) &sin, len);
    }
    usleep(50000);

    t = make_target("web", "127.0.0.1", ntohs(sin.sin_port), LB_CHECK_TCP);
    t.check.timeout_ms = 150;
    t.check.interval_ms = 300;
    t.check.fall = 1;
    took = run_one(&t, 2000, &c, &st);
    if (c.verdict.reason != HEALTH_R_TIMEOUT) {
        fail_msg("%s", c.verdict.text);
    }
    assert_int_equal(c.new_state, HEALTH_DOWN);
    assert_string_equal(c.verdict.text, "timeout after 150 ms");
    assert_in_range(took, 150, 300 / 4 + 150 + 150);
    for (int i = 0; i < 4; i++) {
        close(fill[i]);
    }
    close(lfd);
}

static void
test_tcp_source_bind(void **state)
{
    struct test_server s;
    struct health_target t;
    struct health_change c;
    struct health_status st;

    test_server_start(&s, AF_INET);
    t = make_target("web", "127.0.0.1", s.port, LB_CHECK_TCP);
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
    test_server_stop(&s);
}

static void
check_http(int family, const char *addr, const char *path,
           const char *body, enum health_state want,
           enum health_reason reason, int detail)
{
    struct test_server s;
    struct health_target t;
    struct health_change c;
    struct health_status st;

    test_server_start(&s, family);
    t = make_target("web", addr, s.port, LB_CHECK_HTTP);
    t.check.path = (char *) path;
    t.check.expect_body = (char *) body;
    t.check.timeout_ms = 200;
    t.check.interval_ms = 250;
    run_one(&t, 3000, &c, &st);
    assert_int_equal(c.new_state, want);
    assert_int_equal(c.verdict.reason, reason);
    if (detail >= 0) {
        assert_int_equal(c.verdict.detail, detail);
    }
    assert_true(s.n_requests >= 2);
    test_server_stop(&s);
}

static void
test_http_200(void **state)
{
    check_http(AF_INET, "127.0.0.1", "/ok", NULL, HEALTH_UP,
               HEALTH_R_OK, 200);
    /* The path gets its leading slash. */
    check_http(AF_INET, "127.0.0.1", "ok", NULL, HEALTH_UP,
               HEALTH_R_OK, 200);
}

static void
test_http_503(void **state)
{
    check_http(AF_INET, "127.0.0.1", "/503", NULL, HEALTH_DOWN,
               HEALTH_R_HTTP_STATUS, 503);
}

static void
test_http_404_default_path(void **state)
{
    /* Default path "/" is not served by the test server: 404. */
    check_http(AF_INET, "127.0.0.1", NULL, NULL, HEALTH_DOWN,
               HEALTH_R_HTTP_STATUS, 404);
}

static void
test_http_body(void **state)
{
    check_http(AF_INET, "127.0.0.1", "/ok", "world", HEALTH_UP,
               HEALTH_R_OK, 200);
    check_http(AF_INET, "127.0.0.1", "/body", "world", HEALTH_DOWN,
               HEALTH_R_HTTP_BODY, 200);
}

static void
test_http_expect_status(void **state)
{
    struct test_server s;
    struct health_target t;
    struct health_change c;
    struct health_status st;

    test_server_start(&s, AF_INET);
    t = make_target("web", "127.0.0.1", s.port, LB_CHECK_HTTP);
    t.check.path = "/503";
    t.check.expect_status = 503;
    run_one(&t, 2000, &c, &st);
    assert_int_equal(c.new_state, HEALTH_UP);
    test_server_stop(&s);
}

static void
test_http_ipv6(void **state)
{
    check_http(AF_INET6, "::1", "/ok", "hello", HEALTH_UP, HEALTH_R_OK, 200);
}

static void
test_http_hang_times_out(void **state)
{
    struct test_server s;
    struct health_target t;
    struct health_change c;
    struct health_status st;
    long long int took;

    test_server_start(&s, AF_INET);
    t = make_target("web", "127.0.0.1", s.port, LB_CHECK_HTTP);
    t.check.path = "/hang";
    t.check.timeout_ms = 150;
    t.check.interval_ms = 300;
    t.check.fall = 2;
    took = run_one(&t, 3000, &c, &st);
    assert_int_equal(c.new_state, HEALTH_DOWN);
    assert_int_equal(c.verdict.reason, HEALTH_R_TIMEOUT);
    assert_string_equal(c.verdict.text, "timeout after 150 ms");
    /* Second probe starts at +300 ms and times out 150 ms later. */
    assert_in_range(took, 300 + 150, 300 / 4 + 300 + 150 + 150);
    test_server_stop(&s);
}

static void
test_http_refused(void **state)
{
    struct health_target t;
    struct health_change c;
    struct health_status st;

    t = make_target("web", "127.0.0.1", closed_port(), LB_CHECK_HTTP);
    run_one(&t, 2000, &c, &st);
    assert_int_equal(c.new_state, HEALTH_DOWN);
    assert_int_equal(c.verdict.reason, HEALTH_R_CONNECT_REFUSED);
}

static void
test_https_against_plain_server(void **state)
{
    struct test_server s;
    struct health_target t;
    struct health_change c;
    struct health_status st;

    /* A TLS handshake to a plain HTTP server fails: an http-error. */
    test_server_start(&s, AF_INET);
    t = make_target("web", "127.0.0.1", s.port, LB_CHECK_HTTPS);
    t.check.path = "/ok";
    t.check.timeout_ms = 300;
    t.check.interval_ms = 300;
    run_one(&t, 3000, &c, &st);
    assert_int_equal(c.new_state, HEALTH_DOWN);
    assert_int_equal(c.verdict.reason, HEALTH_R_HTTP_ERROR);
    test_server_stop(&s);
}

/* https against a real TLS server (openssl s_server -www, self-signed):
 * the certificate is not verified, the status page has "s_server". */
static void
test_https_ok(void **state)
{
    char dir[] = "/tmp/flowlb-https-XXXXXX";
    char cmd[512], accept_arg[64], cert[128], key[128];
    struct health_target t;
    struct health_change c;
    struct health_status st;
    uint16_t port = closed_port();
    pid_t pid;
    int status;

    if (access("/usr/bin/openssl", X_OK)) {
        skip();                 /* Reported as skipped, not passed. */
    }
    assert_non_null(mkdtemp(dir));
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(cmd, sizeof cmd, "openssl req -x509 -newkey ec -pkeyopt "
             "ec_paramgen_curve:prime256v1 -nodes -keyout %s -out %s "
             "-days 1 -subj /CN=flowlb-test >/dev/null 2>&1", key, cert);
    assert_int_equal(system(cmd), 0);
    snprintf(accept_arg, sizeof accept_arg, "127.0.0.1:%u", port);

    pid = fork();
    assert_true(pid >= 0);
    if (!pid) {
        int null = open("/dev/null", O_RDWR);

        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        execl("/usr/bin/openssl", "openssl", "s_server", "-accept",
              accept_arg, "-cert", cert, "-key", key, "-www", "-quiet",
              (char *) NULL);
        _exit(127);
    }
    /* Wait until it listens. */
    for (int i = 0; i < 500; i++) {
        struct sockaddr_in sin = { .sin_family = AF_INET,
                                   .sin_port = htons(port),
                                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int r = connect(fd, (struct sockaddr *) &sin, sizeof sin);

        close(fd);
        if (!r) {
            break;
        }
        usleep(10000);
    }

    t = make_target("web", "127.0.0.1", port, LB_CHECK_HTTPS);
    t.check.expect_body = "s_server";
    t.check.timeout_ms = 2000;
    t.check.interval_ms = 200;
    run_one(&t, 5000, &c, &st);
    if (c.new_state != HEALTH_UP) {
        fail_msg("https: %s", c.verdict.text);
    }
    assert_int_equal(c.verdict.reason, HEALTH_R_OK);
    assert_int_equal(c.verdict.detail, 200);

    /* The same server spoken to in plain http: not a 200. */
    t.check.type = LB_CHECK_HTTP;
    run_one(&t, 8000, &c, &st);
    assert_int_equal(c.new_state, HEALTH_DOWN);

    kill(pid, SIGTERM);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

static void
check_exec(const char *command, uint32_t timeout, enum health_state want,
           enum health_reason reason, int detail)
{
    struct health_target t;
    struct health_change c;
    struct health_status st;

    t = make_target("web", "127.0.0.1", 1234, LB_CHECK_EXEC);
    t.check.command = (char *) command;
    /* A generous timeout: spawning a shell on a loaded CI machine can take
     * a while; timeouts are tested on their own below. */
    t.check.timeout_ms = timeout;
    t.check.interval_ms = 200;
    run_one(&t, 5000, &c, &st);
    if (c.new_state != want) {
        fail_msg("%s: %s (%s)", command, health_state_name(c.new_state),
                 c.verdict.text);
    }
    assert_int_equal(c.verdict.reason, reason);
    if (detail >= 0) {
        assert_int_equal(c.verdict.detail, detail);
    }
}

static void
test_exec_true_false(void **state)
{
    check_exec("true", 3000, HEALTH_UP, HEALTH_R_OK, 0);
    check_exec("false", 3000, HEALTH_DOWN, HEALTH_R_EXEC_EXIT, 1);
    check_exec("exit 7", 3000, HEALTH_DOWN, HEALTH_R_EXEC_EXIT, 7);
    check_exec("kill -TERM $$", 3000, HEALTH_DOWN, HEALTH_R_EXEC_SIGNAL,
               SIGTERM);
    check_exec("/nonexistent/command", 3000, HEALTH_DOWN,
               HEALTH_R_EXEC_EXIT, 127);
}

static void
test_exec_env(void **state)
{
    setenv("FLOWLB_PORT", "stale", 1);  /* Must be replaced, not kept. */
    check_exec("test \"$FLOWLB_SERVICE\" = web && "
               "test \"$FLOWLB_REAL\" = 127.0.0.1 && "
               "test \"$FLOWLB_PORT\" = 1234 && test -z \"$FLOWLB_SOURCE\" "
               "&& test \"$(env | grep -c ^FLOWLB_PORT=)\" = 1",
               3000, HEALTH_UP, HEALTH_R_OK, 0);
    unsetenv("FLOWLB_PORT");
}

static void
test_exec_stdio_closed(void **state)
{
    /* stdin is /dev/null (a read gets EOF at once), fd 4+ are closed. */
    check_exec("read x; test $? -ne 0 && ! test -e /proc/self/fd/5",
               3000, HEALTH_UP, HEALTH_R_OK, 0);
}

static void
test_exec_timeout_kills(void **state)
{
    char pidfile[] = "/tmp/flowlb-health-XXXXXX";
    char command[256];
    struct health_monitor *hm;
    struct health_target t;
    struct change_log log = { 0 };
    long long int took;
    int fd = mkstemp(pidfile);
    long pid1 = 0, pid2 = 0;
    FILE *f;

    assert_true(fd >= 0);
    close(fd);
    /* The shell and its child 'sleep' must both die at the timeout. */
    snprintf(command, sizeof command, "sleep 30 & echo $$ $! > %s; wait",
             pidfile);
    t = make_target("web", "127.0.0.1", 1234, LB_CHECK_EXEC);
    t.check.command = command;
    t.check.timeout_ms = 200;
    t.check.interval_ms = 400;
    t.check.fall = 1;

    hm = health_monitor_create();
    health_monitor_set_targets(hm, &t, 1);
    took = drive(hm, &log, 1, 3000);
    assert_int_equal(log.n, 1);
    assert_int_equal(log.c[0].new_state, HEALTH_DOWN);
    assert_int_equal(log.c[0].verdict.reason, HEALTH_R_TIMEOUT);
    assert_in_range(took, 200, 100 + 200 + 150);

    f = fopen(pidfile, "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%ld %ld", &pid1, &pid2), 2);
    fclose(f);
    unlink(pidfile);
    /* Let the monitor reap the killed shell. */
    drive(hm, &log, 0, 100);
    assert_int_equal(kill(pid1, 0), -1);    /* Shell reaped: gone. */
    assert_int_equal(errno, ESRCH);
    assert_false(proc_alive(pid1));
    /* The background sleep was in the group: killed too (reaped by init,
     * which may take a moment). */
    for (int i = 0; i < 100 && proc_alive(pid2); i++) {
        usleep(10000);
    }
    assert_false(proc_alive(pid2));
    change_log_clear(&log);
    health_monitor_destroy(hm);
}

static void
test_exec_destroy_in_flight(void **state)
{
    struct health_monitor *hm = health_monitor_create();
    struct change_log log = { 0 };
    struct health_target t;

    t = make_target("web", "127.0.0.1", 1234, LB_CHECK_EXEC);
    t.check.command = "sleep 30";
    t.check.timeout_ms = 5000;
    t.check.interval_ms = 5000;
    health_monitor_set_targets(hm, &t, 1);
    drive(hm, &log, 0, 1300);       /* Started, not finished. */
    assert_int_equal(log.n, 0);
    health_monitor_destroy(hm);     /* Kills and reaps. */
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

/* Reload: unchanged targets keep state and schedule; changed definitions
 * keep the state but restart counting; removed ones disappear. */
static void
test_reload(void **state)
{
    struct test_server s;
    struct health_monitor *hm = health_monitor_create();
    struct change_log log = { 0 };
    struct health_target t[3];
    struct health_status st, st2;

    test_server_start(&s, AF_INET);
    t[0] = make_target("web", "127.0.0.1", s.port, LB_CHECK_TCP);
    t[1] = make_target("web", "127.0.0.2", closed_port(), LB_CHECK_TCP);
    t[2] = make_target("none", "127.0.0.3", 80, LB_CHECK_NONE);
    health_monitor_set_targets(hm, t, 3);
    assert_int_equal(health_monitor_n_targets(hm), 2);
    assert_false(health_monitor_get(hm, "none", &t[2].addr, &st));
    drive(hm, &log, 2, 2000);
    assert_int_equal(log.n, 2);
    assert_int_equal(change_log_count(&log, HEALTH_UP), 1);
    assert_int_equal(change_log_count(&log, HEALTH_DOWN), 1);
    change_log_clear(&log);

    /* Same definitions (fresh copies of the strings): nothing happens. */
    assert_true(health_monitor_get(hm, "web", &t[0].addr, &st));
    health_monitor_set_targets(hm, t, 2);
    assert_true(health_monitor_get(hm, "web", &t[0].addr, &st2));
    assert_int_equal(st2.state, HEALTH_UP);
    assert_int_equal(st2.since, st.since);
    assert_int_equal(st2.successes, st.successes);
    assert_int_equal(st2.n_probes, st.n_probes);
    drive(hm, &log, 0, 350);
    assert_int_equal(log.n, 0);
    assert_true(health_monitor_get(hm, "web", &t[0].addr, &st2));
    assert_true(st2.n_probes >= st.n_probes + 2);

    /* Changed definition (rise, interval): state kept, counts restart; the
     * DOWN real stays DOWN although counting restarted. */
    t[0].check.rise = 5;
    t[1].check.interval_ms = 150;
    health_monitor_set_targets(hm, t, 2);
    assert_true(health_monitor_get(hm, "web", &t[0].addr, &st));
    assert_int_equal(st.state, HEALTH_UP);
    assert_int_equal(st.successes, 0);
    assert_true(health_monitor_get(hm, "web", &t[1].addr, &st));
    assert_int_equal(st.state, HEALTH_DOWN);
    assert_int_equal(st.failures, 0);
    drive(hm, &log, 0, 400);
    assert_int_equal(log.n, 0);
    assert_true(health_monitor_get(hm, "web", &t[1].addr, &st));
    assert_true(st.failures >= 2);

    /* The port changes to a closed one: the real goes down once. */
    t[0].port = closed_port();
    health_monitor_set_targets(hm, t, 2);
    drive(hm, &log, 1, 2000);
    assert_int_equal(log.n, 1);
    assert_int_equal(log.c[0].old_state, HEALTH_UP);
    assert_int_equal(log.c[0].new_state, HEALTH_DOWN);
    change_log_clear(&log);

    /* Removal, and a duplicate (service, addr): the first wins. */
    t[2] = t[1];
    t[2].check.type = LB_CHECK_EXEC;
    t[2].check.command = "true";
    health_monitor_set_targets(hm, &t[1], 2);
    assert_int_equal(health_monitor_n_targets(hm), 1);
    assert_false(health_monitor_get(hm, "web", &t[0].addr, &st));
    assert_true(health_monitor_get(hm, "web", &t[1].addr, &st));
    assert_int_equal(st.type, LB_CHECK_TCP);

    health_monitor_set_targets(hm, NULL, 0);
    assert_int_equal(health_monitor_n_targets(hm), 0);
    health_monitor_destroy(hm);
    test_server_stop(&s);
}

/* A real going away and coming back, through the same monitor. */
static void
test_down_then_up(void **state)
{
    struct health_monitor *hm = health_monitor_create();
    struct change_log log = { 0 };
    struct test_server s;
    struct health_target t;
    long long int took;

    test_server_start(&s, AF_INET);
    t = make_target("web", "127.0.0.1", s.port, LB_CHECK_HTTP);
    t.check.path = "/ok";
    t.check.rise = 2;
    t.check.fall = 3;
    health_monitor_set_targets(hm, &t, 1);
    drive(hm, &log, 1, 2000);
    assert_int_equal(log.c[0].new_state, HEALTH_UP);

    test_server_stop(&s);
    took = drive(hm, &log, 2, 2000);
    assert_int_equal(log.n, 2);
    assert_int_equal(log.c[1].old_state, HEALTH_UP);
    assert_int_equal(log.c[1].new_state, HEALTH_DOWN);
    assert_int_equal(log.c[1].verdict.reason, HEALTH_R_CONNECT_REFUSED);
    assert_in_range(took, 150, 3 * 100 + 100);  /* ~interval x fall. */

    /* Same port again (the old listener is closed). */
    test_server_start_port(&s, AF_INET, s.port);
    took = drive(hm, &log, 3, 2000);
    assert_int_equal(log.n, 3);
    assert_int_equal(log.c[2].old_state, HEALTH_DOWN);
    assert_int_equal(log.c[2].new_state, HEALTH_UP);
    assert_in_range(took, 50, 2 * 100 + 100);   /* ~interval x rise. */
    change_log_clear(&log);
    health_monitor_destroy(hm);
    test_server_stop(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_up),
        cmocka_unit_test(test_tcp_check_port_overrides),
        cmocka_unit_test(test_tcp_refused),
        cmocka_unit_test(test_tcp_timeout),
        cmocka_unit_test(test_tcp_source_bind),
        cmocka_unit_test(test_http_200),
        cmocka_unit_test(test_http_503),
        cmocka_unit_test(test_http_404_default_path),
        cmocka_unit_test(test_http_body),
        cmocka_unit_test(test_http_expect_status),
        cmocka_unit_test(test_http_ipv6),
        cmocka_unit_test(test_http_hang_times_out),
        cmocka_unit_test(test_http_refused),
        cmocka_unit_test(test_https_against_plain_server),
        cmocka_unit_test(test_https_ok),
        cmocka_unit_test(test_exec_true_false),
        cmocka_unit_test(test_exec_env),
        cmocka_unit_test(test_exec_stdio_closed),
        cmocka_unit_test(test_exec_timeout_kills),
        cmocka_unit_test(test_exec_destroy_in_flight),
        cmocka_unit_test(test_reload),
        cmocka_unit_test(test_down_then_up),
    };

    vlog_set_levels(NULL, VLF_CONSOLE, VLL_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
