/* The probes of many targets stay spread over the interval, even after
 * the loop stalled (as it does during the first push of a large
 * pipeline): each target keeps its place in the interval. When the
 * cadence was taken from the actual start, every probe due during a stall
 * started in the same run and stayed in that one burst for good. */
#include <config.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <unistd.h>

#include "health_test_util.h"
#include "openvswitch/vlog.h"

#define N 400
#define INTERVAL 400
#define BUCKET_MS 10

static char names[N][16];

static void
test_spread_after_stall(void **state)
{
    static struct health_target t[N];
    static uint64_t seen[N];
    struct health_monitor *hm = health_monitor_create();
    struct change_log log = { 0 };
    uint16_t port = closed_port();
    int buckets[1200 / BUCKET_MS] = { 0 };
    long long int start, end;
    int in_window = 0, max_bucket = 0;

    /* A refused connect on loopback is decided at once: each verdict
     * marks (within a loop iteration) when its probe started. */
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "s%d", i);
        t[i] = make_target(names[i], "127.0.0.1", port, LB_CHECK_TCP);
        t[i].check.interval_ms = INTERVAL;
        t[i].check.timeout_ms = 300;
        t[i].check.rise = 1;
        t[i].check.fall = 1;
    }
    health_monitor_set_targets(hm, t, N);
    drive(hm, &log, 0, 2 * INTERVAL + 100);

    usleep(3 * INTERVAL * 1000);    /* The stall: every target overdue. */

    start = time_msec();
    end = start + 1200;
    for (long long int now = start; now < end; now = time_msec()) {
        struct health_change *c;
        size_t n;

        health_monitor_run(hm);
        n = health_monitor_take_changes(hm, &c);
        change_log_add(&log, c, n);
        for (int i = 0; i < N; i++) {
            struct health_status st;

            assert_true(health_monitor_get(hm, names[i], &t[i].addr, &st));
            if (st.n_probes != seen[i]) {
                long long int at = time_msec() - start;

                seen[i] = st.n_probes;
                /* The burst right after the stall is expected; from then
                 * on the probes must be spread again. */
                if (at >= 100 && at < 1100) {
                    in_window++;
                    buckets[at / BUCKET_MS]++;
                }
            }
        }
        health_monitor_wait(hm);
        poll_timer_wait_until(end);
        poll_block();
    }
    for (size_t b = 0; b < ARRAY_SIZE(buckets); b++) {
        max_bucket = MAX(max_bucket, buckets[b]);
    }
    printf("    after the stall: %d probes in 1 s, at most %d in %d ms\n",
           in_window, max_bucket, BUCKET_MS);
    /* Each target is probed at least twice in that second... */
    assert_in_range(in_window, 2 * N - N / 10, 3 * N + N / 10);
    /* ...and no 10 ms holds more than a quarter of them (the first probes
     * were spread over a quarter interval: about N / 10 per 10 ms; in one
     * burst it would be all N). */
    assert_in_range(max_bucket, 1, N / 4);

    change_log_clear(&log);
    health_monitor_destroy(hm);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spread_after_stall),
    };

    vlog_set_levels(NULL, VLF_CONSOLE, VLL_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
