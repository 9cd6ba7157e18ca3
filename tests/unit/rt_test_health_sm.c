/* Unit tests of the health state machine (runtime/health.c, health_sm_*):
 * rise/fall counts, hysteresis, flapping. No sockets. */
#include <config.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "health.h"

/* Feeds a string of results ('+' success, '-' failure) and returns the
 * states after each as a string of 'U'nknown/'u'p/'d'own, and counts the
 * changes. */
static char *
feed(struct health_sm *sm, const char *results, uint32_t rise, uint32_t fall,
     int *n_changes)
{
    static char out[256];
    size_t i;

    *n_changes = 0;
    for (i = 0; results[i]; i++) {
        if (health_sm_update(sm, results[i] == '+', rise, fall)) {
            (*n_changes)++;
        }
        out[i] = (sm->state == HEALTH_UNKNOWN ? 'U'
                  : sm->state == HEALTH_UP ? 'u' : 'd');
    }
    out[i] = '\0';
    return out;
}

static void
test_initial(void **state)
{
    struct health_sm sm;

    health_sm_init(&sm);
    assert_int_equal(sm.state, HEALTH_UNKNOWN);
    assert_int_equal(sm.successes, 0);
    assert_int_equal(sm.failures, 0);
    /* Unknown counts as up: an agent restart must not drain everything. */
    assert_true(health_state_is_up(HEALTH_UNKNOWN));
    assert_true(health_state_is_up(HEALTH_UP));
    assert_false(health_state_is_up(HEALTH_DOWN));
}

static void
test_rise_from_unknown(void **state)
{
    struct health_sm sm;
    int n;

    health_sm_init(&sm);
    assert_string_equal(feed(&sm, "+++", 3, 2, &n), "UUu");
    assert_int_equal(n, 1);
    assert_int_equal(sm.successes, 3);
}

static void
test_fall_from_unknown(void **state)
{
    struct health_sm sm;
    int n;

    health_sm_init(&sm);
    assert_string_equal(feed(&sm, "---", 2, 3, &n), "UUd");
    assert_int_equal(n, 1);
    assert_int_equal(sm.failures, 3);
}

static void
test_up_down_up(void **state)
{
    struct health_sm sm;
    int n;

    health_sm_init(&sm);
    /* rise 2, fall 3: up after 2, down after 3 more failures, a single
     * success in between restarts the failure count. */
    assert_string_equal(feed(&sm, "++--+---++", 2, 3, &n), "Uuuuuuuddu");
    assert_int_equal(n, 3);
    assert_int_equal(sm.state, HEALTH_UP);
}

static void
test_flapping_never_changes(void **state)
{
    struct health_sm sm;
    int n;

    /* From up. */
    health_sm_init(&sm);
    feed(&sm, "++", 2, 2, &n);
    assert_int_equal(sm.state, HEALTH_UP);
    assert_string_equal(feed(&sm, "-+-+-+-+-+-+-+-+-+-+", 2, 2, &n),
                        "uuuuuuuuuuuuuuuuuuuu");
    assert_int_equal(n, 0);

    /* From down. */
    health_sm_init(&sm);
    feed(&sm, "--", 2, 2, &n);
    assert_int_equal(sm.state, HEALTH_DOWN);
    assert_string_equal(feed(&sm, "+-+-+-+-+-+-", 2, 2, &n),
                        "dddddddddddd");
    assert_int_equal(n, 0);

    /* From unknown: stays unknown (so keeps traffic). */
    health_sm_init(&sm);
    assert_string_equal(feed(&sm, "+-+-+-+-", 2, 3, &n), "UUUUUUUU");
    assert_int_equal(n, 0);
    assert_true(health_state_is_up(sm.state));
}

static void
test_counts_reset(void **state)
{
    struct health_sm sm;
    int n;

    health_sm_init(&sm);
    feed(&sm, "+++", 2, 3, &n);
    feed(&sm, "--", 2, 3, &n);
    assert_int_equal(sm.successes, 0);
    assert_int_equal(sm.failures, 2);
    assert_int_equal(sm.state, HEALTH_UP);
    feed(&sm, "+", 2, 3, &n);
    assert_int_equal(sm.successes, 1);
    assert_int_equal(sm.failures, 0);
    /* fall - 1 failures, a success, fall - 1 failures: still up. */
    assert_string_equal(feed(&sm, "--+--", 2, 3, &n), "uuuuu");
    assert_int_equal(n, 0);
    /* One more: down exactly at 'fall'. */
    assert_string_equal(feed(&sm, "-", 2, 3, &n), "d");
    assert_int_equal(n, 1);
}

static void
test_rise_fall_one(void **state)
{
    struct health_sm sm;
    int n;

    /* rise = fall = 1 follows every result (no hysteresis asked for). */
    health_sm_init(&sm);
    assert_string_equal(feed(&sm, "+-+-", 1, 1, &n), "udud");
    assert_int_equal(n, 4);
    /* 0 is treated as 1. */
    health_sm_init(&sm);
    assert_string_equal(feed(&sm, "-+", 0, 0, &n), "du");
    assert_int_equal(n, 2);
}

static void
test_long_run(void **state)
{
    struct health_sm sm;
    int n;

    health_sm_init(&sm);
    for (int i = 0; i < 1000; i++) {
        health_sm_update(&sm, true, 5, 5);
    }
    assert_int_equal(sm.state, HEALTH_UP);
    assert_int_equal(sm.successes, 1000);
    assert_string_equal(feed(&sm, "----+-----", 5, 5, &n), "uuuuuuuuud");
    assert_int_equal(n, 1);
}

static void
test_names(void **state)
{
    assert_string_equal(health_state_name(HEALTH_UNKNOWN), "unknown");
    assert_string_equal(health_state_name(HEALTH_UP), "up");
    assert_string_equal(health_state_name(HEALTH_DOWN), "down");
    assert_string_equal(health_reason_name(HEALTH_R_TIMEOUT), "timeout");
    assert_string_equal(health_reason_name(HEALTH_R_CONNECT_REFUSED),
                        "connect-refused");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_initial),
        cmocka_unit_test(test_rise_from_unknown),
        cmocka_unit_test(test_fall_from_unknown),
        cmocka_unit_test(test_up_down_up),
        cmocka_unit_test(test_flapping_never_changes),
        cmocka_unit_test(test_counts_reset),
        cmocka_unit_test(test_rise_fall_one),
        cmocka_unit_test(test_long_run),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
