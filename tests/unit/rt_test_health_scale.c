/* 500 targets checked concurrently from one poll loop. Each probe takes
 * about 300 ms, so checking them one after the other would take 150 s;
 * every batch must finish within about one interval.
 *
 * exec is run with 100 targets: starting a shell costs 3-6 ms on the test
 * machines (posix_spawn measured), so 500 processes alone take 2-4 s of
 * machine time whatever the monitor does. 100 x 300 ms would be 30 s in
 * sequence. */
#include <config.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "health_test_util.h"
#include "openvswitch/vlog.h"

#define N 500

static char names[N][16];

/* N targets "s0".."s499" on the same real: distinct identities. */
static void
make_targets(struct health_target *t, int n, uint16_t port,
             enum lb_check_type type, uint32_t interval, uint32_t timeout)
{
    for (int i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], "s%d", i);
        t[i] = make_target(names[i], "127.0.0.1", port, type);
        t[i].check.interval_ms = interval;
        t[i].check.timeout_ms = timeout;
        t[i].check.rise = 1;
        t[i].check.fall = 1;
    }
}

/* Runs until all 'n' targets changed state; returns the time taken. */
static long long int
run_all(struct health_target *t, int n, enum health_state want,
        enum health_reason reason, long long int limit)
{
    struct health_monitor *hm = health_monitor_create();
    struct change_log log = { 0 };
    long long int took;

    health_monitor_set_targets(hm, t, n);
    assert_int_equal(health_monitor_n_targets(hm), n);
    took = drive(hm, &log, n, 20000);
    if (log.n != (size_t) n) {
        fail_msg("%zu of %d changed within 20 s", log.n, n);
    }
    for (size_t i = 0; i < log.n; i++) {
        assert_int_equal(log.c[i].new_state, want);
        if (log.c[i].verdict.reason != reason) {
            fail_msg("%s: %s", log.c[i].service, log.c[i].verdict.text);
        }
    }
    printf("    %d targets changed state in %lld ms (limit %lld ms)\n",
           n, took, limit);
    assert_in_range(took, 1, limit);
    change_log_clear(&log);
    health_monitor_destroy(hm);
    return took;
}

static void
test_tcp_500(void **state)
{
    static struct health_target t[N];
    struct test_server s;

    test_server_start(&s, AF_INET);
    make_targets(t, N, s.port, LB_CHECK_TCP, 1000, 500);
    run_all(t, N, HEALTH_UP, HEALTH_R_OK, 1000);
    test_server_stop(&s);
}

static void
test_http_slow_500(void **state)
{
    static struct health_target t[N];
    struct test_server s;

    /* Each answer takes 300 ms; first probes spread over 250 ms. */
    test_server_start(&s, AF_INET);
    make_targets(t, N, s.port, LB_CHECK_HTTP, 1000, 900);
    for (int i = 0; i < N; i++) {
        t[i].check.path = "/slow";
        t[i].check.expect_body = "hello";
    }
    run_all(t, N, HEALTH_UP, HEALTH_R_OK, 1000);
    assert_true(s.n_requests >= N);
    test_server_stop(&s);
}

static void
test_http_hang_500(void **state)
{
    static struct health_target t[N];
    struct test_server s;

    /* Nobody answers: all time out after 300 ms, in parallel. */
    test_server_start(&s, AF_INET);
    make_targets(t, N, s.port, LB_CHECK_HTTP, 1000, 300);
    for (int i = 0; i < N; i++) {
        t[i].check.path = "/hang";
    }
    run_all(t, N, HEALTH_DOWN, HEALTH_R_TIMEOUT, 1000);
    test_server_stop(&s);
}

static void
test_exec_500(void **state)
{
    static struct health_target t[N];

    make_targets(t, 100, 80, LB_CHECK_EXEC, 2000, 1500);
    for (int i = 0; i < 100; i++) {
        t[i].check.command = "sleep 0.3";
    }
    run_all(t, 100, HEALTH_UP, HEALTH_R_OK, 2000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_500),
        cmocka_unit_test(test_http_slow_500),
        cmocka_unit_test(test_http_hang_500),
        cmocka_unit_test(test_exec_500),
    };

    vlog_set_levels(NULL, VLF_CONSOLE, VLL_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
