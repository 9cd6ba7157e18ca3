/* Unit tests of the agent's model (runtime/agent.c): spec -> desired
 * OpenFlow state, driven by real health checks (exec checks whose verdict
 * the test controls with files) but no switch: the swconn points at a
 * socket that does not exist, so nothing is ever sent.
 *
 * What is checked is the desired state itself: which buckets each group
 * holds (and with which weight), which flows exist, and what flowlb/show
 * reports, for failures, inhibit-on-failure, fo, sorry, quorum, the
 * administrative commands and reloads. */
#include <config.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "check.h"
#include "health.h"
#include "ir.h"
#include "lower.h"
#include "ofsync.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "swconn.h"
#include "timeval.h"

struct fx {
    char dir[64];
    char spec[96];
    struct health_monitor *hm;
    struct swconn *sc;
    struct agent *agent;
};

/* The exec check: a real is down while DIR/down.ADDRESS exists. */
#define CHECK(DIR) \
    "    check exec command \"test ! -e " DIR "/down.$FLOWLB_REAL\" " \
    "interval 100ms timeout 100ms rise 1 fall 1;\n"

static void
write_spec(struct fx *f, const char *body)
{
    FILE *file = fopen(f->spec, "w");
    assert_non_null(file);
    fputs(body, file);
    fclose(file);
}

/* Replaces every "@DIR@" in 'tmpl' with the fixture's directory. */
static char *
subst(const struct fx *f, const char *tmpl)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    for (const char *p = tmpl; *p; ) {
        if (!strncmp(p, "@DIR@", 5)) {
            ds_put_cstr(&s, f->dir);
            p += 5;
        } else {
            ds_put_char(&s, *p++);
        }
    }
    return ds_steal_cstr(&s);
}

static void
start(struct fx *f, const char *tmpl, bool expire)
{
    char *body = subst(f, tmpl);
    write_spec(f, body);
    free(body);
    struct agent_options o;
    memset(&o, 0, sizeof o);
    lower_options_init(&o.lower);
    o.expire_nodest_conn = expire;
    struct ds err = DS_EMPTY_INITIALIZER;
    f->agent = agent_create(f->spec, &o, f->hm, &err);
    if (!f->agent) {
        fail_msg("spec refused: %s", ds_cstr(&err));
    }
    ds_destroy(&err);
}

static void
set_down(const struct fx *f, const char *addr, bool down)
{
    char path[160];
    snprintf(path, sizeof path, "%s/down.%s", f->dir, addr);
    if (down) {
        FILE *file = fopen(path, "w");
        assert_non_null(file);
        fclose(file);
    } else {
        unlink(path);
    }
}

/* Runs the health checks and the agent until 'n' more health transitions
 * that change traffic have been taken into account (or 5 s pass). */
static void
settle(struct fx *f, int ms)
{
    long long int deadline = time_msec() + ms;
    while (time_msec() < deadline) {
        health_monitor_run(f->hm);
        swconn_run(f->sc);
        agent_run(f->agent, f->sc);
        health_monitor_wait(f->hm);
        poll_timer_wait_until(deadline);
        poll_timer_wait(20);
        poll_block();
    }
}

static const struct ofsync_group *
the_group(const struct fx *f)
{
    const struct ofsync_state *d = agent_desired(f->agent);
    assert_int_equal(ofsync_state_n_groups(d), 1);
    const struct ofsync_group *g;
    HMAP_FOR_EACH (g, node, &d->groups) {
        return g;
    }
    return NULL;
}

/* Bucket weight of the real with conntrack mark 'mark' in the only group,
 * or -1 if it has no bucket. Buckets set the mark in their ct action; the
 * bucket id is derived from it, so look the mark up in the actions. */
static int
weight_of(const struct fx *f, uint32_t mark)
{
    const struct ofsync_group *g = the_group(f);
    const struct ofputil_bucket *b;
    LIST_FOR_EACH (b, list_node, &g->buckets) {
        struct ds s = DS_EMPTY_INITIALIZER;
        struct ofpact_format_params fp = { .s = &s };
        ofpacts_format(b->ofpacts, b->ofpacts_len, &fp);
        char want[32];
        snprintf(want, sizeof want, "%#"PRIx32"->ct_mark", mark);
        bool hit = strstr(ds_cstr(&s), want) != NULL;
        ds_destroy(&s);
        if (hit) {
            return b->weight;
        }
    }
    return -1;
}

static size_t
n_buckets(const struct fx *f)
{
    return ovs_list_size(&the_group(f)->buckets);
}

/* Number of desired flows whose printed match contains 'needle'. */
static int
flows_matching(const struct fx *f, const char *needle)
{
    int n = 0;
    const struct ofsync_flow *fl;
    HMAP_FOR_EACH (fl, node, &agent_desired(f->agent)->flows) {
        char *m = minimatch_to_string(&fl->match, NULL, OFP_DEFAULT_PRIORITY);
        n += strstr(m, needle) != NULL;
        free(m);
    }
    return n;
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/rt_test_agent.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->spec, sizeof f->spec, "%s/spec.lb", f->dir);
    f->hm = health_monitor_create();
    /* Never connects: everything stays local. */
    char target[128];
    snprintf(target, sizeof target, "unix:%s/nothing.mgmt", f->dir);
    f->sc = swconn_create(target, 0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    agent_destroy(f->agent);
    swconn_destroy(f->sc);
    health_monitor_destroy(f->hm);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

#define SERVICE_HEAD \
    "service web {\n" \
    "    vip 10.0.0.100 tcp 80;\n" \
    "    vip-mac 02:00:00:00:01:00;\n" \
    CHECK("@DIR@")
#define R1 "    real 10.0.0.11 mac 02:00:00:00:00:11"
#define R2 "    real 10.0.0.12 mac 02:00:00:00:00:12"
#define R3 "    real 10.0.0.13 mac 02:00:00:00:00:13"
#define M1 0x0a00000bU
#define M2 0x0a00000cU
#define M3 0x0a00000dU
#define M9 0x0a000013U

static void
test_down_removes_only_its_bucket(void **state)
{
    struct fx *f = *state;
    start(f, SERVICE_HEAD R1 ";\n" R2 ";\n" R3 ";\n}\n", false);
    settle(f, 400);
    assert_int_equal(n_buckets(f), 3);
    int w2 = weight_of(f, M2), w3 = weight_of(f, M3);
    set_down(f, "10.0.0.11", true);
    settle(f, 500);
    assert_int_equal(n_buckets(f), 2);
    assert_int_equal(weight_of(f, M1), -1);
    /* The others keep their weights (rendezvous: only r1's flows move). */
    assert_int_equal(weight_of(f, M2), w2);
    assert_int_equal(weight_of(f, M3), w3);
    /* No expire flow without expire_nodest_conn. */
    assert_int_equal(flows_matching(f, "ct_mark=0xa00000b,tcp"), 0);
    set_down(f, "10.0.0.11", false);
    settle(f, 500);
    assert_int_equal(n_buckets(f), 3);
}

static void
test_expire_nodest_adds_dispatch_flow(void **state)
{
    struct fx *f = *state;
    start(f, SERVICE_HEAD R1 ";\n" R2 ";\n}\n", true);
    settle(f, 300);
    set_down(f, "10.0.0.12", true);
    settle(f, 500);
    assert_int_equal(flows_matching(f, "ct_mark=0xa00000c,tcp"), 1);
    set_down(f, "10.0.0.12", false);
    settle(f, 500);
    assert_int_equal(flows_matching(f, "ct_mark=0xa00000c,tcp"), 0);
}

static void
test_inhibit_sets_weight_zero_then_empties(void **state)
{
    struct fx *f = *state;
    start(f, SERVICE_HEAD "    inhibit-on-failure;\n" R1 ";\n" R2 ";\n}\n",
          false);
    settle(f, 300);
    set_down(f, "10.0.0.11", true);
    settle(f, 500);
    assert_int_equal(n_buckets(f), 2);
    assert_int_equal(weight_of(f, M1), 0);
    assert_true(weight_of(f, M2) > 0);
    /* Every real down: OVS would still pick a weight-0 bucket, so none. */
    set_down(f, "10.0.0.12", true);
    settle(f, 500);
    assert_int_equal(n_buckets(f), 0);
    set_down(f, "10.0.0.12", false);
    settle(f, 500);
    assert_int_equal(n_buckets(f), 2);
    assert_int_equal(weight_of(f, M1), 0);
}

static void
test_fo_keeps_top_live_weight(void **state)
{
    struct fx *f = *state;
    start(f, SERVICE_HEAD "    scheduler fo;\n"
          R1 " weight 3;\n" R2 " weight 2;\n" R3 " weight 2;\n}\n", false);
    settle(f, 300);
    assert_int_equal(n_buckets(f), 1);
    assert_true(weight_of(f, M1) > 0);
    set_down(f, "10.0.0.11", true);
    settle(f, 500);
    /* Both weight-2 reals, with equal weights. */
    assert_int_equal(n_buckets(f), 2);
    assert_int_equal(weight_of(f, M2), weight_of(f, M3));
    assert_true(weight_of(f, M2) > 0);
    set_down(f, "10.0.0.12", true);
    settle(f, 500);
    assert_int_equal(n_buckets(f), 1);
    assert_true(weight_of(f, M3) > 0);
    set_down(f, "10.0.0.11", false);
    settle(f, 500);
    assert_int_equal(n_buckets(f), 1);
    assert_true(weight_of(f, M1) > 0);
}

static void
test_sorry_only_while_no_real(void **state)
{
    struct fx *f = *state;
    start(f, SERVICE_HEAD "    sorry 10.0.0.19 mac 02:00:00:00:00:19;\n"
          R1 ";\n" R2 ";\n}\n", false);
    settle(f, 300);
    assert_int_equal(n_buckets(f), 2);
    assert_int_equal(weight_of(f, M9), -1);
    /* Its forward flow is there all along. */
    assert_int_equal(flows_matching(f, "ct_mark=0xa000013"), 1);
    set_down(f, "10.0.0.11", true);
    set_down(f, "10.0.0.12", true);
    settle(f, 500);
    assert_int_equal(n_buckets(f), 1);
    assert_true(weight_of(f, M9) > 0);
    set_down(f, "10.0.0.12", false);
    settle(f, 500);
    assert_int_equal(n_buckets(f), 1);
    assert_int_equal(weight_of(f, M9), -1);
    assert_true(weight_of(f, M2) > 0);
}

static void
test_quorum_withdraws_vip_with_hysteresis(void **state)
{
    struct fx *f = *state;
    start(f, SERVICE_HEAD "    quorum 2 hysteresis 1;\n"
          R1 ";\n" R2 ";\n" R3 ";\n}\n", false);
    settle(f, 300);
    int responders = flows_matching(f, "arp_tpa=10.0.0.100");
    assert_int_equal(responders, 1);
    assert_int_equal(flows_matching(f, "nw_dst=10.0.0.100,tp_dst=80"), 2);
    /* 1 up: not below quorum - hysteresis = 1 yet. */
    set_down(f, "10.0.0.11", true);
    set_down(f, "10.0.0.12", true);
    settle(f, 500);
    assert_int_equal(flows_matching(f, "arp_tpa=10.0.0.100"), 1);
    /* 0 up: withdrawn; the classify flow goes, the dispatch flow stays. */
    set_down(f, "10.0.0.13", true);
    settle(f, 500);
    assert_int_equal(flows_matching(f, "arp_tpa=10.0.0.100"), 0);
    assert_int_equal(flows_matching(f, "nw_dst=10.0.0.100,tp_dst=80"), 1);
    /* 2 up: still withdrawn (regained at quorum + hysteresis = 3). */
    set_down(f, "10.0.0.11", false);
    set_down(f, "10.0.0.12", false);
    settle(f, 500);
    assert_int_equal(flows_matching(f, "arp_tpa=10.0.0.100"), 0);
    set_down(f, "10.0.0.13", false);
    settle(f, 500);
    assert_int_equal(flows_matching(f, "arp_tpa=10.0.0.100"), 1);
    struct ds out = DS_EMPTY_INITIALIZER;
    agent_show(f->agent, f->sc, true, &out);
    assert_non_null(strstr(ds_cstr(&out), "\"withdrawn\":false"));
    ds_destroy(&out);
}

static void
test_admin_commands(void **state)
{
    struct fx *f = *state;
    start(f, SERVICE_HEAD R1 " weight 2;\n" R2 ";\n}\n", false);
    settle(f, 300);
    struct ds err = DS_EMPTY_INITIALIZER;
    assert_true(agent_set_weight(f->agent, "web", "10.0.0.12", 0, &err));
    settle(f, 50);
    assert_int_equal(n_buckets(f), 1);
    assert_int_equal(weight_of(f, M2), -1);
    assert_true(agent_enable(f->agent, "web", "10.0.0.12", &err));
    settle(f, 50);
    assert_int_equal(n_buckets(f), 2);
    assert_true(agent_set_weight(f->agent, "web", "10.0.0.12", 2, &err));
    settle(f, 50);
    assert_int_equal(weight_of(f, M1), weight_of(f, M2));

    assert_false(agent_set_weight(f->agent, "web", "10.0.0.99", 1, &err));
    assert_non_null(strstr(ds_cstr(&err), "no real 10.0.0.99"));
    ds_clear(&err);
    assert_false(agent_set_weight(f->agent, "nope", "10.0.0.11", 1, &err));
    assert_non_null(strstr(ds_cstr(&err), "no service named nope"));
    ds_clear(&err);
    assert_false(agent_enable(f->agent, "web", "not-an-address", &err));
    ds_clear(&err);

    struct ds out = DS_EMPTY_INITIALIZER;
    agent_show(f->agent, f->sc, false, &out);
    assert_non_null(strstr(ds_cstr(&out), "admin 2"));
    ds_destroy(&out);
    ds_destroy(&err);
}

static void
test_broken_reload_keeps_state(void **state)
{
    struct fx *f = *state;
    start(f, SERVICE_HEAD R1 ";\n" R2 ";\n}\n", false);
    settle(f, 200);
    unsigned int seq = agent_desired_seqno(f->agent);
    size_t n_flows = ofsync_state_n_flows(agent_desired(f->agent));
    write_spec(f, "service web {\n    vip 10.0.0.300 tcp 80;\n}\n");
    struct ds err = DS_EMPTY_INITIALIZER;
    assert_false(agent_reload(f->agent, &err));
    char want[128];
    snprintf(want, sizeof want, "%s:2:", f->spec);
    assert_non_null(strstr(ds_cstr(&err), want));
    assert_non_null(strstr(ds_cstr(&err), "error"));
    settle(f, 50);
    assert_int_equal(agent_desired_seqno(f->agent), seq);
    assert_int_equal(ofsync_state_n_flows(agent_desired(f->agent)), n_flows);
    assert_int_equal(n_buckets(f), 2);

    /* A good reload with one real less: that bucket goes. */
    char *body = subst(f, SERVICE_HEAD R1 ";\n}\n");
    write_spec(f, body);
    free(body);
    ds_clear(&err);
    assert_true(agent_reload(f->agent, &err));
    settle(f, 50);
    assert_int_equal(n_buckets(f), 1);
    ds_destroy(&err);
}

/* --- reloads in the background (agent_reload_start) --------------------- */

#define API_HEAD \
    "service api {\n" \
    "    vip 10.0.0.101 tcp 80;\n" \
    "    vip-mac 02:00:00:00:01:01;\n"
#define R4 "    real 10.0.0.14 mac 02:00:00:00:00:14"
#define R5 "    real 10.0.0.15 mac 02:00:00:00:00:15"
#define M4 0x0a00000eU
#define M5 0x0a00000fU
#define EXTRA \
    "service extra {\n" \
    "    vip 10.0.0.102 tcp 80;\n" \
    "    vip-mac 02:00:00:00:01:02;\n" \
    "    real 10.0.0.16 mac 02:00:00:00:00:16;\n}\n"

/* Weight of the bucket of the real with 'mark' in any group, -1 if none. */
static int
any_weight_of(const struct fx *f, uint32_t mark)
{
    /* "MARK->ct_mark" (commit) or "MARK->reg13" (persistent services). */
    char want[32];
    snprintf(want, sizeof want, "%#"PRIx32"->", mark);
    const struct ofsync_group *g;
    HMAP_FOR_EACH (g, node, &agent_desired(f->agent)->groups) {
        const struct ofputil_bucket *b;
        LIST_FOR_EACH (b, list_node, &g->buckets) {
            struct ds s = DS_EMPTY_INITIALIZER;
            struct ofpact_format_params fp = { .s = &s };
            ofpacts_format(b->ofpacts, b->ofpacts_len, &fp);
            bool hit = strstr(ds_cstr(&s), want) != NULL;
            ds_destroy(&s);
            if (hit) {
                return b->weight;
            }
        }
    }
    return -1;
}

static void
reload_done(bool ok, const char *errors, void *done_)
{
    int *done = done_;
    *done = ok ? 1 : 2;
}

/* Writes 'tmpl' as the spec and reloads it in the background, running the
 * loop until the reload is taken into use or refused. Returns 1 if taken,
 * 2 if refused, 0 if it never ended. */
static int
reload_bg_result(struct fx *f, const char *tmpl)
{
    char *body = subst(f, tmpl);
    write_spec(f, body);
    free(body);
    int done = 0;
    agent_reload_start(f->agent, reload_done, &done);
    long long int deadline = time_msec() + 10000;
    while (!done && time_msec() < deadline) {
        settle(f, 20);
    }
    settle(f, 50);
    return done;
}

/* reload_bg_result() that must be taken. */
static void
reload_bg(struct fx *f, const char *tmpl)
{
    assert_int_equal(reload_bg_result(f, tmpl), 1);
}

/* web (r1, r2) and api (r4, r5), with r1 down and out of web's group. */
static void
start_web_api_r1_down(struct fx *f)
{
    start(f, SERVICE_HEAD R1 ";\n" R2 ";\n}\n" API_HEAD R4 ";\n" R5 ";\n}\n",
          false);
    settle(f, 300);
    set_down(f, "10.0.0.11", true);
    settle(f, 500);
    assert_int_equal(any_weight_of(f, M1), -1);
}

static void
test_background_reload_keeps_health(void **state)
{
    struct fx *f = *state;
    start_web_api_r1_down(f);
    int w2 = any_weight_of(f, M2);
    assert_true(w2 > 0);
    assert_int_equal(any_weight_of(f, M4), any_weight_of(f, M5));

    /* One weight changed in api (no flow changes): web keeps its group as
     * its health made it, api's weights move. */
    unsigned int seq = agent_desired_seqno(f->agent);
    size_t n_flows = ofsync_state_n_flows(agent_desired(f->agent));
    reload_bg(f, SERVICE_HEAD R1 ";\n" R2 ";\n}\n"
              API_HEAD R4 " weight 3;\n" R5 ";\n}\n");
    assert_true(agent_desired_seqno(f->agent) != seq);
    assert_int_equal(ofsync_state_n_flows(agent_desired(f->agent)), n_flows);
    assert_int_equal(any_weight_of(f, M1), -1);
    assert_int_equal(any_weight_of(f, M2), w2);
    int w4 = any_weight_of(f, M4), w5 = any_weight_of(f, M5);
    assert_true(w4 > 0 && w5 > 0 && w4 != w5);

    /* One service added (flows change): the others keep their groups. */
    reload_bg(f, SERVICE_HEAD R1 ";\n" R2 ";\n}\n"
              API_HEAD R4 " weight 3;\n" R5 ";\n}\n" EXTRA);
    assert_int_equal(ofsync_state_n_groups(agent_desired(f->agent)), 3);
    assert_true(ofsync_state_n_flows(agent_desired(f->agent)) > n_flows);
    assert_int_equal(any_weight_of(f, M1), -1);
    assert_int_equal(any_weight_of(f, M2), w2);
    assert_int_equal(any_weight_of(f, M4), w4);
    assert_true(any_weight_of(f, 0x0a000010U) > 0);

    /* Health changes after the reloads still reach the groups. */
    set_down(f, "10.0.0.11", false);
    settle(f, 500);
    assert_true(any_weight_of(f, M1) > 0);
    set_down(f, "10.0.0.12", true);
    settle(f, 500);
    assert_int_equal(any_weight_of(f, M2), -1);

    /* An administrative weight survives a reload of the same spec; a
     * service removed takes its group and flows with it. */
    struct ds err = DS_EMPTY_INITIALIZER;
    assert_true(agent_set_weight(f->agent, "api", "10.0.0.15", 0, &err));
    settle(f, 50);
    assert_int_equal(any_weight_of(f, M5), -1);
    reload_bg(f, SERVICE_HEAD R1 ";\n" R2 ";\n}\n"
              API_HEAD R4 " weight 3;\n" R5 ";\n}\n");
    assert_int_equal(ofsync_state_n_groups(agent_desired(f->agent)), 2);
    assert_int_equal(ofsync_state_n_flows(agent_desired(f->agent)), n_flows);
    assert_int_equal(any_weight_of(f, M5), -1);
    assert_true(any_weight_of(f, M4) > 0);
    assert_int_equal(any_weight_of(f, M2), -1);
    assert_true(any_weight_of(f, M1) > 0);
    ds_destroy(&err);
}

/* Reloads 'tmpl' in the background, which must be taken into use by
 * patching the running state; then reloads the same file in the loop,
 * which rebuilds the whole desired state from scratch, and checks that the
 * two desired states are the same. */
/* Reloads the same file in the loop, which rebuilds the whole desired
 * state from scratch (the spec lowered whole, with the administrative
 * weights), and checks that the desired state was already that. */
static void
desired_as_rebuilt(struct fx *f)
{
    struct ofsync_state before;
    ofsync_state_init(&before);
    ofsync_state_copy(&before, agent_desired(f->agent));

    struct ds err = DS_EMPTY_INITIALIZER;
    assert_true(agent_reload(f->agent, &err));
    ds_destroy(&err);
    settle(f, 50);
    struct ofsync_diff d;
    ofsync_diff_init(&d);
    ofsync_diff(agent_desired(f->agent), &before, &d);
    for (size_t i = 0; i < d.n_ops; i++) {
        char *s = ofsync_op_to_string(&d.ops[i], NULL);
        print_message("patched state differs: %s\n", s);
        free(s);
    }
    assert_int_equal(d.n_ops, 0);
    assert_int_equal(ofsync_state_n_flows(&before),
                     ofsync_state_n_flows(agent_desired(f->agent)));
    assert_int_equal(ofsync_state_n_groups(&before),
                     ofsync_state_n_groups(agent_desired(f->agent)));
    ofsync_diff_destroy(&d);
    ofsync_state_destroy(&before);
}

static void
reload_patched_as_rebuilt(struct fx *f, const char *tmpl)
{
    unsigned int patched = agent_reloads_patched(f->agent);
    reload_bg(f, tmpl);
    assert_int_equal(agent_reloads_patched(f->agent), patched + 1);
    desired_as_rebuilt(f);
}

/* Asserts that the administrative weights were lowered 'alone' more times
 * one service alone and never as the whole spec since the last call. */
static void
expect_relowered(struct fx *f, unsigned int *alone0, unsigned int *whole0,
                 unsigned int alone)
{
    unsigned int a, w;
    agent_relowerings(f->agent, &a, &w);
    assert_int_equal(a, *alone0 + alone);
    assert_int_equal(w, *whole0);
}

/* Administrative changes lower their service alone, not the whole spec,
 * and so does a background reload that carries them over; each result is
 * what a rebuild from scratch with the same weights makes. */
static void
test_admin_changes_lower_one_service(void **state)
{
    struct fx *f = *state;
    start_web_api_r1_down(f);
    struct ds err = DS_EMPTY_INITIALIZER;
    unsigned int alone, whole;

    /* Drained: its bucket goes. */
    agent_relowerings(f->agent, &alone, &whole);
    assert_true(agent_set_weight(f->agent, "api", "10.0.0.15", 0, &err));
    settle(f, 50);
    assert_int_equal(any_weight_of(f, M5), -1);
    expect_relowered(f, &alone, &whole, 1);
    desired_as_rebuilt(f);

    /* Another weight of the same service. */
    agent_relowerings(f->agent, &alone, &whole);
    int w4 = any_weight_of(f, M4);
    assert_true(agent_set_weight(f->agent, "api", "10.0.0.14", 7, &err));
    settle(f, 50);
    expect_relowered(f, &alone, &whole, 1);
    desired_as_rebuilt(f);
    assert_int_not_equal(any_weight_of(f, M4), w4);

    /* A reload changes web's weights; api keeps its drained real and the
     * set weight: api alone is lowered again after the reload. */
    agent_relowerings(f->agent, &alone, &whole);
    reload_bg(f, SERVICE_HEAD R1 ";\n" R2 " weight 4;\n}\n"
              API_HEAD R4 ";\n" R5 ";\n}\n");
    assert_int_equal(any_weight_of(f, M5), -1);
    assert_true(any_weight_of(f, M4) > 0);
    expect_relowered(f, &alone, &whole, 1);
    desired_as_rebuilt(f);

    /* Enabled: its bucket is back. */
    agent_relowerings(f->agent, &alone, &whole);
    assert_true(agent_enable(f->agent, "api", "10.0.0.15", &err));
    settle(f, 50);
    assert_true(any_weight_of(f, M5) > 0);
    expect_relowered(f, &alone, &whole, 1);
    desired_as_rebuilt(f);
    ds_destroy(&err);
}

#define EXTRA_OTHER_MAC \
    "service extra {\n" \
    "    vip 10.0.0.102 tcp 80;\n" \
    "    vip-mac 02:00:00:00:01:03;\n" \
    "    real 10.0.0.16 mac 02:00:00:00:00:16;\n}\n"
#define EXTRA_OTHER_VIP \
    "service extra {\n" \
    "    vip 10.0.0.103 udp 53;\n" \
    "    vip-mac 02:00:00:00:01:03;\n" \
    "    real 10.0.0.17 mac 02:00:00:00:00:17;\n}\n"

/* Each kind of change a background reload patches into the running state
 * (groups, flows added, changed, replaced and removed, a real's forward
 * flow appearing and going), with a real down meanwhile: the result is
 * what a rebuild from scratch makes. */
static void
test_background_reload_patch_matches_rebuild(void **state)
{
    struct fx *f = *state;
    start_web_api_r1_down(f);

    /* A weight: one group. */
    reload_patched_as_rebuilt(f, SERVICE_HEAD R1 ";\n" R2 ";\n}\n"
                              API_HEAD R4 " weight 3;\n" R5 ";\n}\n");
    /* A service added: its flows, its group, a new real's forward flow. */
    reload_patched_as_rebuilt(f, SERVICE_HEAD R1 ";\n" R2 ";\n}\n"
                              API_HEAD R4 " weight 3;\n" R5 ";\n}\n" EXTRA);
    /* Its vip-mac: the responder's actions change (same key). */
    reload_patched_as_rebuilt(f, SERVICE_HEAD R1 ";\n" R2 ";\n}\n"
                              API_HEAD R4 " weight 3;\n" R5 ";\n}\n"
                              EXTRA_OTHER_MAC);
    /* Its VIP, protocol and real: every flow of it replaced. */
    reload_patched_as_rebuilt(f, SERVICE_HEAD R1 ";\n" R2 ";\n}\n"
                              API_HEAD R4 " weight 3;\n" R5 ";\n}\n"
                              EXTRA_OTHER_VIP);
    /* A real added to web (the down one stays out of its group). */
    reload_patched_as_rebuilt(f, SERVICE_HEAD R1 ";\n" R2 ";\n" R3 ";\n}\n"
                              API_HEAD R4 " weight 3;\n" R5 ";\n}\n"
                              EXTRA_OTHER_VIP);
    assert_int_equal(any_weight_of(f, M1), -1);
    assert_true(any_weight_of(f, M3) > 0);
    /* A service removed, and a real removed from another. */
    reload_patched_as_rebuilt(f, SERVICE_HEAD R1 ";\n" R3 ";\n}\n"
                              API_HEAD R4 " weight 3;\n" R5 ";\n}\n");
    assert_int_equal(ofsync_state_n_groups(agent_desired(f->agent)), 2);
    assert_int_equal(any_weight_of(f, M2), -1);
    assert_int_equal(any_weight_of(f, 0x0a000011U), -1);

    /* Health still reaches the patched groups. */
    set_down(f, "10.0.0.11", false);
    settle(f, 500);
    assert_true(any_weight_of(f, M1) > 0);
}

/* A reload that changes only weights is applied to the running state by
 * lowering the changed services alone (a full reload would lower none of
 * them in the loop: they have no administrative weight); the same file
 * again changes nothing; any other change takes the full path. Each
 * result is what a rebuild from scratch makes. */
static void
test_weights_only_reload(void **state)
{
    struct fx *f = *state;
    start_web_api_r1_down(f);
    unsigned int alone, whole;

    agent_relowerings(f->agent, &alone, &whole);
    reload_patched_as_rebuilt(f, SERVICE_HEAD R1 ";\n" R2 " weight 5;\n}\n"
                              API_HEAD R4 " weight 3;\n" R5 ";\n}\n");
    /* desired_as_rebuilt() lowered the whole spec once, in the loop. */
    unsigned int a1, w1;
    agent_relowerings(f->agent, &a1, &w1);
    assert_int_equal(a1, alone + 2);
    assert_int_equal(w1, whole + 1);
    int w2 = any_weight_of(f, M2), w4 = any_weight_of(f, M4);
    assert_true(w2 > 0 && w4 > 0 && w4 != any_weight_of(f, M5));
    assert_int_equal(any_weight_of(f, M1), -1);    /* Still down. */

    /* The same text: nothing lowered, the desired state unchanged. */
    unsigned int seq = agent_desired_seqno(f->agent);
    reload_bg(f, SERVICE_HEAD R1 ";\n" R2 " weight 5;\n}\n"
              API_HEAD R4 " weight 3;\n" R5 ";\n}\n");
    agent_relowerings(f->agent, &alone, &whole);
    assert_int_equal(alone, a1);
    assert_int_equal(whole, w1);
    assert_int_equal(agent_desired_seqno(f->agent), seq);

    /* A MAC changed too: the full path (no service lowered alone). */
    reload_patched_as_rebuilt(f, SERVICE_HEAD R1 ";\n" R2 " weight 5;\n}\n"
                              API_HEAD R4 " weight 2;\n"
                              "    real 10.0.0.15 mac 02:00:00:00:00:25;\n}\n");
    agent_relowerings(f->agent, &a1, &w1);
    assert_int_equal(a1, alone);
    assert_int_equal(any_weight_of(f, M1), -1);
}

/* Whether the running pipeline is the whole lowering of the spec file. */
static void
pipeline_as_lowered(const struct fx *f)
{
    struct lb_spec spec;
    struct diag d;
    lb_spec_init(&spec);
    diag_init(&d);
    assert_true(lb_spec_load(f->spec, &spec, &d) && lb_check(&spec, &d));
    struct lower_options o;
    lower_options_init(&o);
    struct ir_pipeline ir;
    ir_init(&ir);
    assert_true(lower_spec(&spec, &o, &ir, &d));
    assert_true(ir_pipeline_equal(agent_pipeline(f->agent), &ir));
    ir_destroy(&ir);
    lb_spec_destroy(&spec);
    diag_destroy(&d);
}

#define WEB_API SERVICE_HEAD R1 ";\n" R2 ";\n}\n" API_HEAD R4 ";\n" R5 ";\n}\n"
#define DNS \
    "service dns {\n" \
    "    vip 10.0.0.102 udp 53;\n" \
    "    vip-mac 02:00:00:00:01:02;\n" \
    CHECK("@DIR@") \
    R4 ";\n" \
    "    real 10.0.0.20 mac 02:00:00:00:00:20;\n}\n"
#define M20 0x0a000014U

/* Services added at the end of the spec are put into the running state in
 * place, not by a whole reload: the pipeline is then the whole lowering of
 * the file, the desired state what a rebuild makes, and the new reals are
 * health-checked. What cannot be added in place (a clash, a table not
 * there yet) takes the whole reload, which refuses or takes it. */
static void
test_services_added_in_place(void **state)
{
    struct fx *f = *state;
    start_web_api_r1_down(f);
    unsigned int appended = agent_services_appended(f->agent);
    unsigned int patched = agent_reloads_patched(f->agent);
    unsigned int compared = agent_reloads_compared(f->agent);

    /* A service with a new VIP and a new real. The new text was cut by
     * comparing it with the running one (kept since the start). */
    reload_bg(f, WEB_API EXTRA);
    assert_int_equal(agent_services_appended(f->agent), appended + 1);
    assert_int_equal(agent_reloads_patched(f->agent), patched + 1);
    assert_int_equal(agent_reloads_compared(f->agent), compared + 1);
    pipeline_as_lowered(f);
    assert_int_equal(ofsync_state_n_groups(agent_desired(f->agent)), 3);
    desired_as_rebuilt(f);  /* A whole reload in the loop: in use since. */
    assert_true(any_weight_of(f, 0x0a000010U) > 0);

    /* One on the same VIP (its responder shared), a real shared with api
     * and a checked new real that is down; a weight edited meanwhile. */
    set_down(f, "10.0.0.20", true);
    appended = agent_services_appended(f->agent);
    reload_bg(f, SERVICE_HEAD R1 ";\n" R2 " weight 7;\n}\n"
              API_HEAD R4 ";\n" R5 ";\n}\n" EXTRA DNS);
    assert_int_equal(agent_services_appended(f->agent), appended + 1);
    /* ...with the text kept by the whole reload in the loop. */
    assert_int_equal(agent_reloads_compared(f->agent), compared + 2);
    pipeline_as_lowered(f);
    settle(f, 500);
    assert_int_equal(any_weight_of(f, M20), -1);    /* Checked: down. */
    assert_int_equal(any_weight_of(f, M1), -1);     /* Still down. */
    set_down(f, "10.0.0.20", false);
    settle(f, 500);
    assert_true(any_weight_of(f, M20) > 0);
    /* The same file again: nothing. */
    unsigned int seq = agent_desired_seqno(f->agent);
    reload_bg(f, SERVICE_HEAD R1 ";\n" R2 " weight 7;\n}\n"
              API_HEAD R4 ";\n" R5 ";\n}\n" EXTRA DNS);
    assert_int_equal(agent_desired_seqno(f->agent), seq);
    desired_as_rebuilt(f);

    /* A clash with a running service's VIP and port: the whole reload
     * refuses it, the running state stays. */
    appended = agent_services_appended(f->agent);
    seq = agent_desired_seqno(f->agent);
    assert_int_equal(reload_bg_result(f, WEB_API EXTRA
                                      "service clash {\n"
                                      "    vip 10.0.0.100 tcp 80;\n"
                                      R3 ";\n}\n"), 2);
    /* A real given another MAC than in a running service: refused. */
    assert_int_equal(reload_bg_result(f, WEB_API EXTRA
                                      "service other {\n"
                                      "    vip 10.0.0.105 tcp 80;\n"
                                      "    real 10.0.0.14 mac "
                                      "02:00:00:00:00:99;\n}\n"), 2);
    assert_int_equal(agent_services_appended(f->agent), appended);
    assert_int_equal(agent_desired_seqno(f->agent), seq);

    /* Persistence needs tables the pipeline does not have: a whole
     * reload, taken. */
    reload_bg(f, SERVICE_HEAD R1 ";\n" R2 " weight 7;\n}\n"
              API_HEAD R4 ";\n" R5 ";\n}\n" EXTRA DNS
              "service sticky {\n    vip 10.0.0.104 tcp 443;\n"
              "    persistence 300s;\n" R3 ";\n}\n");
    assert_int_equal(agent_services_appended(f->agent), appended);
    pipeline_as_lowered(f);
    assert_int_equal(ofsync_state_n_groups(agent_desired(f->agent)), 5);
    /* Each reload taken compared: the refused ones kept the text. */
    assert_int_equal(agent_reloads_compared(f->agent), compared + 4);
    desired_as_rebuilt(f);
}

#define STICKY_HEAD \
    "service sticky {\n" \
    "    vip 10.0.0.104 tcp 443;\n" \
    "    vip-mac 02:00:00:00:01:04;\n" \
    "    persistence 300s netmask 255.255.255.0;\n"
#define R6 "    real 10.0.0.18 mac 02:00:00:00:00:18"
#define R7 "    real 10.0.0.19 mac 02:00:00:00:00:19"

/* A persistent service's drained real also loses its assign flow: the
 * service's flows are replaced along with its group, still one service
 * lowered, and the desired state is the one a rebuild makes. The same
 * after a reload that carries the drain over, and after the enable. */
static void
test_admin_persistent_service_flows(void **state)
{
    struct fx *f = *state;
    start(f, SERVICE_HEAD R1 ";\n" R2 ";\n}\n" STICKY_HEAD R6 ";\n" R7
          ";\n}\n", false);
    settle(f, 300);
    int assign = flows_matching(f, "reg13=0xa000013");
    assert_true(assign > 0);
    struct ds err = DS_EMPTY_INITIALIZER;
    unsigned int alone, whole;

    agent_relowerings(f->agent, &alone, &whole);
    assert_true(agent_set_weight(f->agent, "sticky", "10.0.0.19", 0, &err));
    settle(f, 50);
    expect_relowered(f, &alone, &whole, 1);
    assert_int_equal(flows_matching(f, "reg13=0xa000013"), 0);
    assert_int_equal(any_weight_of(f, 0x0a000013U), -1);
    desired_as_rebuilt(f);

    agent_relowerings(f->agent, &alone, &whole);
    reload_bg(f, SERVICE_HEAD R1 ";\n" R2 " weight 3;\n}\n" STICKY_HEAD R6
              ";\n" R7 ";\n}\n");
    expect_relowered(f, &alone, &whole, 1);
    assert_int_equal(flows_matching(f, "reg13=0xa000013"), 0);
    desired_as_rebuilt(f);

    agent_relowerings(f->agent, &alone, &whole);
    assert_true(agent_enable(f->agent, "sticky", "10.0.0.19", &err));
    settle(f, 50);
    expect_relowered(f, &alone, &whole, 1);
    assert_int_equal(flows_matching(f, "reg13=0xa000013"), assign);
    assert_true(any_weight_of(f, 0x0a000013U) > 0);
    desired_as_rebuilt(f);
    ds_destroy(&err);
}

int
main(void)
{
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
    const struct CMUnitTest tests[] = {
#define T(NAME) cmocka_unit_test_setup_teardown(NAME, setup, teardown)
        T(test_down_removes_only_its_bucket),
        T(test_expire_nodest_adds_dispatch_flow),
        T(test_inhibit_sets_weight_zero_then_empties),
        T(test_fo_keeps_top_live_weight),
        T(test_sorry_only_while_no_real),
        T(test_quorum_withdraws_vip_with_hysteresis),
        T(test_admin_commands),
        T(test_broken_reload_keeps_state),
        T(test_background_reload_keeps_health),
        T(test_background_reload_patch_matches_rebuild),
        T(test_admin_changes_lower_one_service),
        T(test_admin_persistent_service_flows),
        T(test_weights_only_reload),
        T(test_services_added_in_place),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
