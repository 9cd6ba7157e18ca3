/* Regression tests for agent crashes found by fuzzing flowlbd's unixctl
 * commands (fuzz/fuzz_unixctl.c, issue 5). */
#include <config.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent.h"
#include "ofsync.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/vlog.h"
#include "swconn.h"

static const char spec_text[] =
    "service web6 {\n"
    "    vip 2001:db8::100 tcp 80;\n"
    "    real 2001:db8::11 mac 02:00:00:00:06:11 port 1 weight 2;\n"
    "    real 2001:db8::12 mac 02:00:00:00:06:12 port 2;\n"
    "}\n";

static struct agent *
load(const char *text, char *path, size_t size)
{
    snprintf(path, size, "/tmp/flowlb-rt-hardening-%ld.lb", (long) getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    struct agent_options o = { .expire_nodest_conn = false };
    lower_options_init(&o.lower);
    struct ds err = DS_EMPTY_INITIALIZER;
    struct agent *a = agent_create(path, &o, NULL, &err);
    if (!a) {
        fprintf(stderr, "%s", ds_cstr(&err));
    }
    ds_destroy(&err);
    assert_non_null(a);
    return a;
}

/* flowlb/drain of every real of a service: the re-lowered group has no
 * buckets, and building the desired state copied from a NULL array. */
static void
test_drain_every_real(void **state)
{
    char path[128];
    struct agent *a = load(spec_text, path, sizeof path);
    struct swconn *sc = swconn_create("unix:/nonexistent/rt-hardening", 0);
    agent_run(a, sc);
    struct ds err = DS_EMPTY_INITIALIZER;
    assert_true(agent_set_weight(a, "web6", "2001:db8::12", 0, &err));
    agent_run(a, sc);
    assert_true(agent_set_weight(a, "web6", "2001:DB8:0::11", 0, &err));
    agent_run(a, sc);
    /* The group stays, without buckets. */
    assert_int_equal(hmap_count(&agent_desired(a)->groups), 1);
    assert_true(agent_enable(a, "web6", "2001:db8::11", &err));
    agent_run(a, sc);
    ds_destroy(&err);
    swconn_destroy(sc);
    agent_destroy(a);
    unlink(path);
}

/* The same from the spec: every weight 0 at start. */
static void
test_spec_all_drained(void **state)
{
    char path[128];
    struct agent *a = load("service web6 {\n"
                           "    vip 2001:db8::100 tcp 80;\n"
                           "    real 2001:db8::11 mac 02:00:00:00:06:11 "
                           "weight 0;\n}\n", path, sizeof path);
    struct swconn *sc = swconn_create("unix:/nonexistent/rt-hardening", 0);
    agent_run(a, sc);
    assert_int_equal(hmap_count(&agent_desired(a)->groups), 1);
    swconn_destroy(sc);
    agent_destroy(a);
    unlink(path);
}

int
main(void)
{
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drain_every_real),
        cmocka_unit_test(test_spec_all_drained),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
