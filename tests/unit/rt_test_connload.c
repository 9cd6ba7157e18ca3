/* Unit tests of the conntrack line parser behind lc/wlc
 * (runtime/connload.c): which dpctl/dump-conntrack entries count as a
 * real's active connections. Lines as printed by OVS 3.1's userspace
 * datapath. */
#include <config.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "connload.h"
#include "openvswitch/poll-loop.h"
#include "timeval.h"
#include "util.h"

#define ENTRY(STATE, MARK, ZONE) \
    "tcp,orig=(src=10.0.0.1,dst=10.0.0.100,sport=60494,dport=80)," \
    "reply=(src=10.0.0.100,dst=10.0.0.1,sport=80,dport=60494)," \
    "zone=" ZONE ",mark=" MARK ",protoinfo=(state=" STATE ")"

static void
test_established_counts(void **state)
{
    uint32_t mark = 0;
    assert_true(connload_parse_line(ENTRY("ESTABLISHED", "167772172",
                                          "64000"), 64000, &mark));
    assert_int_equal(mark, 0x0a00000c);
    assert_true(connload_parse_line(ENTRY("SYN_SENT", "167772171", "64000"),
                                    64000, &mark));
    assert_int_equal(mark, 0x0a00000b);
}

static void
test_closing_does_not_count(void **state)
{
    uint32_t mark;
    static const char *const closing[] = {
        ENTRY("TIME_WAIT", "167772172", "64000"),
        ENTRY("CLOSE_WAIT", "167772172", "64000"),
        ENTRY("FIN_WAIT_2", "167772172", "64000"),
        ENTRY("LAST_ACK", "167772172", "64000"),
        ENTRY("CLOSED", "167772172", "64000"),
    };
    for (size_t i = 0; i < sizeof closing / sizeof *closing; i++) {
        assert_false(connload_parse_line(closing[i], 64000, &mark));
    }
}

static void
test_other_zone_or_no_mark(void **state)
{
    uint32_t mark;
    assert_false(connload_parse_line(ENTRY("ESTABLISHED", "167772172",
                                           "640001"), 64000, &mark));
    assert_false(connload_parse_line(ENTRY("ESTABLISHED", "167772172", "7"),
                                     64000, &mark));
    assert_false(connload_parse_line(ENTRY("ESTABLISHED", "0", "64000"),
                                     64000, &mark));
    assert_false(connload_parse_line(
        "udp,orig=(src=10.0.0.1,dst=10.0.0.100,sport=1,dport=53),"
        "reply=(src=10.0.0.100,dst=10.0.0.1,sport=53,dport=1),zone=64000",
        64000, &mark));
    assert_false(connload_parse_line("", 64000, &mark));
    /* UDP entries with a mark count (no TCP state). */
    assert_true(connload_parse_line(
        "udp,orig=(src=10.0.0.1,dst=10.0.0.100,sport=1,dport=53),"
        "reply=(src=10.0.0.100,dst=10.0.0.1,sport=53,dport=1),zone=64000,"
        "mark=167772173", 64000, &mark));
    assert_int_equal(mark, 0x0a00000d);
}

/* A dump whose ovs-appctl exits before its output ends (here a process
 * it started holds the pipe a second longer; in flowlbd, a slow loop can
 * see the exit before the end of file just the same): the count
 * completes when the output does. It used to wait for the 20 s child
 * timeout and then drop the count, which left lc weights stale. */
static void
test_child_exits_before_output_ends(void **state)
{
    char dir[] = "/tmp/flowlb-connload.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/ovs-appctl", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n"
               "echo '%s'\n"
               "(sleep 1; echo '%s') &\n"
               "exit 0\n",
            ENTRY("ESTABLISHED", "167772171", "64000"),
            ENTRY("ESTABLISHED", "167772171", "64000"));
    fclose(f);
    assert_int_equal(chmod(path, 0755), 0);
    char *old_path = xstrdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    char *new_path = xasprintf("%s:%s", dir, old_path);
    setenv("PATH", new_path, 1);

    struct connload *cl = connload_create("ovs-vswitchd", 64000, 100);
    connload_set_enabled(cl, true);
    long long int start = time_msec();
    while (!connload_seqno(cl) && time_msec() - start < 8000) {
        connload_run(cl);
        connload_wait(cl);
        poll_block();
    }
    long long int took = time_msec() - start;
    assert_int_not_equal(connload_seqno(cl), 0);
    assert_int_equal(connload_get(cl, 167772171), 2);
    assert_true(took < 5000);
    connload_destroy(cl);

    setenv("PATH", old_path, 1);
    free(old_path);
    free(new_path);
    unlink(path);
    rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_established_counts),
        cmocka_unit_test(test_closing_does_not_count),
        cmocka_unit_test(test_other_zone_or_no_mark),
        cmocka_unit_test(test_child_exits_before_output_ends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
