/* Unit tests of the count of flows in flowlb's tables that are not
 * flowlb's (runtime/foreign_flows.c): the switch's table statistics
 * against the installed view. */
#include <config.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "openvswitch/ofp-table.h"
#include "openvswitch/vlog.h"
#include "../../runtime/foreign_flows.h"
#include "../../runtime/ofsync.h"

#define C "cookie=0xf10b0000f1b00001,"

/* flowlb's flows: 2 in table 0, 1 in table 1, and a flow in table 7 whose
 * learn action fills table 5 (persistence). */
static const char *const installed_flows[] = {
    "table=0,priority=200," C "tcp,nw_dst=10.0.0.100,tp_dst=80,"
    "actions=ct(table=1,zone=64000)",
    "table=0,priority=0," C "actions=NORMAL",
    "table=1,priority=0," C "actions=drop",
    "table=7,priority=100," C "tcp,reg12=1,actions=learn(table=5,"
    "idle_timeout=300,cookie=0xf10b01000a01000b,eth_type=0x800,"
    "NXM_NX_REG12[],NXM_OF_IP_SRC[8..31],load:0xa01000b->NXM_NX_REG13[])",
    NULL,
};

static struct ofsync_state installed;

static int
setup(void **state)
{
    ofsync_state_init(&installed);
    for (const char *const *f = installed_flows; *f; f++) {
        char *err = ofsync_add_flow_str(&installed, *f, NULL);
        if (err) {
            fail_msg("%s", err);
        }
    }
    return 0;
}

static int
teardown(void **state)
{
    ofsync_state_destroy(&installed);
    return 0;
}

/* Table statistics with 'count[t]' active flows in table t, for tables
 * 0..7 (as a switch reports every table). */
static void
judge(struct foreign_flows *ff, const uint32_t count[8])
{
    struct ofputil_table_stats stats[8];
    memset(stats, 0, sizeof stats);
    for (int t = 0; t < 8; t++) {
        stats[t].table_id = t;
        stats[t].active_count = count[t];
    }
    foreign_flows_judge(ff, &installed, stats, 8, "test");
}

static void
test_only_ours_is_none(void **state)
{
    struct foreign_flows ff = { .n_judged = 0 };
    judge(&ff, (const uint32_t[8]) { 2, 1, 0, 0, 0, 0, 0, 1 });
    assert_int_equal(foreign_flows_total(&ff), 0);
    assert_int_equal(ff.n_judged, 1);
}

static void
test_extra_flows_counted_per_table(void **state)
{
    struct foreign_flows ff = { .n_judged = 0 };
    judge(&ff, (const uint32_t[8]) { 3, 4, 0, 0, 0, 0, 0, 1 });
    assert_int_equal(ff.n[0], 1);
    assert_int_equal(ff.n[1], 3);
    assert_int_equal(foreign_flows_total(&ff), 4);
    /* Gone again. */
    judge(&ff, (const uint32_t[8]) { 2, 1, 0, 0, 0, 0, 0, 1 });
    assert_int_equal(foreign_flows_total(&ff), 0);
}

static void
test_learned_table_and_tables_not_ours_ignored(void **state)
{
    /* Table 5 holds learned entries (flowlb's learn action fills it),
     * tables 2-4 and 6 hold none of flowlb's flows: none of them is
     * judged. */
    struct foreign_flows ff = { .n_judged = 0 };
    judge(&ff, (const uint32_t[8]) { 2, 1, 9, 9, 9, 1000, 9, 1 });
    assert_int_equal(foreign_flows_total(&ff), 0);
}

static void
test_fewer_than_ours_is_none(void **state)
{
    /* flowlb's flows deleted behind its back (the reconcile repairs
     * them): no negative count, nothing foreign. */
    struct foreign_flows ff = { .n_judged = 0 };
    judge(&ff, (const uint32_t[8]) { 0, 0, 0, 0, 0, 0, 0, 0 });
    assert_int_equal(foreign_flows_total(&ff), 0);
}

int
main(void)
{
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
    const struct CMUnitTest tests[] = {
#define T(NAME) cmocka_unit_test_setup_teardown(NAME, setup, teardown)
        T(test_only_ours_is_none),
        T(test_extra_flows_counted_per_table),
        T(test_learned_table_and_tables_not_ours_ignored),
        T(test_fewer_than_ours_is_none),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
