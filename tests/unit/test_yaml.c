/* Unit tests of the YAML front end (compiler/yaml_load.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "spec.h"
#include "check.h"
#include "values.h"

/* One parse: the spec, the diagnostics and the verdict. */
struct parse {
    struct lb_spec spec;
    struct diag d;
    bool ok;
};

static struct parse *
parse_len(const char *text, size_t len)
{
    struct parse *p = calloc(1, sizeof *p);
    assert_non_null(p);
    lb_spec_init(&p->spec);
    diag_init(&p->d);
    p->ok = lb_yaml_parse("t.yaml", text, len, &p->spec, &p->d);
    /* The verdict and the diagnostics must agree, always. */
    assert_int_equal(p->ok, !diag_has_errors(&p->d));
    return p;
}

static struct parse *
parse(const char *text)
{
    return parse_len(text, strlen(text));
}

static void
parse_free(struct parse *p)
{
    lb_spec_destroy(&p->spec);
    diag_destroy(&p->d);
    free(p);
}

static void
dump_diags(const struct parse *p)
{
    for (size_t i = 0; i < p->d.n_records; i++) {
        const struct diag_record *r = &p->d.records[i];
        print_message("  %d:%d: %s\n", r->loc.line, r->loc.col, r->message);
    }
}

/* Asserts that 'text' parses without any diagnostic. */
static struct parse *
parse_ok(const char *text)
{
    struct parse *p = parse(text);
    if (!p->ok || p->d.n_records) {
        dump_diags(p);
    }
    assert_true(p->ok);
    assert_int_equal(p->d.n_records, 0);
    return p;
}

/* Asserts that 'p' failed and that one of its errors is at line:col and
 * contains 'substr'. */
static void
assert_has_error(const struct parse *p, int line, int col, const char *substr)
{
    assert_false(p->ok);
    for (size_t i = 0; i < p->d.n_records; i++) {
        const struct diag_record *r = &p->d.records[i];
        if (r->severity == DIAG_ERROR && r->loc.line == line
            && r->loc.col == col && strstr(r->message, substr)) {
            assert_string_equal(r->loc.file, "t.yaml");
            return;
        }
    }
    print_message("expected %d:%d: ...%s... among:\n", line, col, substr);
    dump_diags(p);
    fail();
}

/* Parses 'text', asserts exactly one error, at line:col, containing
 * 'substr'. */
static void
expect_error(const char *text, int line, int col, const char *substr)
{
    struct parse *p = parse(text);
    assert_has_error(p, line, col, substr);
    if (p->d.n_errors != 1) {
        dump_diags(p);
    }
    assert_int_equal(p->d.n_errors, 1);
    parse_free(p);
}

static void
assert_loc(const struct location *loc, int line, int col)
{
    assert_non_null(loc->file);
    assert_string_equal(loc->file, "t.yaml");
    assert_int_equal(loc->line, line);
    assert_int_equal(loc->col, col);
}

static void
assert_addr(const struct lb_addr *a, const char *text)
{
    char buf[64];
    lb_addr_format(a, buf, sizeof buf);
    assert_string_equal(buf, text);
}

static void
assert_mac(const struct lb_mac *m, const char *text)
{
    char buf[32];
    lb_mac_format(m, buf, sizeof buf);
    assert_string_equal(buf, text);
}

/* The example from the issue, verbatim. */
static const char example[] =
    "services:\n"                                                   /* 1 */
    "  - name: web\n"                                               /* 2 */
    "    vip: 10.0.0.100\n"                                         /* 3 */
    "    protocol: tcp\n"                                           /* 4 */
    "    port: 80\n"                                                /* 5 */
    "    vip_mac: \"02:00:00:00:01:00\"\n"                          /* 6 */
    "    scheduler: wrr\n"                                          /* 7 */
    "    check: {type: tcp, interval: 1s, timeout: 500ms, rise: 2, fall: 3}\n"
    "    reals:\n"                                                  /* 9 */
    "      - {address: 10.0.0.11, mac: \"8e:97:27:0e:e3:18\", weight: 3}\n"
    "      - {address: 10.0.0.12, mac: \"f6:5e:d3:b7:50:8a\", port: 3}\n";

static void
test_example_model(void **state)
{
    struct parse *p = parse_ok(example);
    assert_int_equal(p->spec.n_services, 1);

    const struct lb_service *s = &p->spec.services[0];
    assert_string_equal(s->name, "web");
    assert_loc(&s->loc, 2, 11);
    assert_true(s->has_vip);
    assert_addr(&s->vip, "10.0.0.100");
    assert_int_equal(s->vip.family, AF_INET);
    assert_loc(&s->vip_loc, 3, 10);
    assert_int_equal(s->proto, LB_PROTO_TCP);
    assert_int_equal(s->port, 80);
    assert_true(s->has_vip_mac);
    assert_mac(&s->vip_mac, "02:00:00:00:01:00");
    assert_loc(&s->vip_mac_loc, 6, 14);
    assert_int_equal(s->scheduler, LB_SCHED_WRR);
    assert_loc(&s->scheduler_loc, 7, 16);

    assert_int_equal(s->check.type, LB_CHECK_TCP);
    assert_int_equal(s->check.interval_ms, 1000);
    assert_int_equal(s->check.timeout_ms, 500);
    assert_int_equal(s->check.rise, 2);
    assert_int_equal(s->check.fall, 3);
    assert_int_equal(s->check.port, 0);
    assert_null(s->check.path);
    assert_null(s->check.command);
    assert_loc(&s->check.loc, 8, 12);

    assert_int_equal(s->n_reals, 2);
    const struct lb_real *r = &s->reals[0];
    assert_addr(&r->addr, "10.0.0.11");
    assert_true(r->has_mac);
    assert_mac(&r->mac, "8e:97:27:0e:e3:18");
    assert_int_equal(r->weight, 3);
    assert_null(r->port);
    assert_loc(&r->loc, 10, 9);
    assert_loc(&r->addr_loc, 10, 19);
    assert_loc(&r->mac_loc, 10, 35);
    assert_loc(&r->weight_loc, 10, 64);

    r = &s->reals[1];
    assert_addr(&r->addr, "10.0.0.12");
    assert_mac(&r->mac, "f6:5e:d3:b7:50:8a");
    assert_int_equal(r->weight, 1);         /* The default. */
    assert_non_null(r->port);
    assert_string_equal(r->port, "3");
    assert_loc(&r->loc, 11, 9);
    assert_loc(&r->port_loc, 11, 62);
    parse_free(p);
}

/* Unquoted MACs and ports are plain text, not YAML 1.1 sexagesimal or
 * integers; quoted numbers are accepted too. */
static void
test_scalars_are_text(void **state)
{
    struct parse *p = parse_ok(
        "services:\n"
        "  - name: \"web\"\n"
        "    vip: '10.0.0.100'\n"
        "    protocol: udp\n"
        "    port: \"53\"\n"
        "    vip_mac: 02:00:00:00:01:00\n"
        "    reals:\n"
        "      - address: 10.0.0.11\n"
        "        mac: 12:34:56:07:08:09\n"
        "        weight: '0'\n"
        "        port: eth1\n");
    const struct lb_service *s = &p->spec.services[0];
    assert_string_equal(s->name, "web");
    assert_int_equal(s->proto, LB_PROTO_UDP);
    assert_int_equal(s->port, 53);
    assert_mac(&s->vip_mac, "02:00:00:00:01:00");
    assert_int_equal(s->scheduler, LB_SCHED_WRR);
    assert_int_equal(s->check.type, LB_CHECK_NONE);
    assert_mac(&s->reals[0].mac, "12:34:56:07:08:09");
    assert_int_equal(s->reals[0].weight, 0);
    assert_string_equal(s->reals[0].port, "eth1");
    /* Block style: the real is the mapping after "- ". */
    assert_loc(&s->reals[0].loc, 8, 9);
    assert_loc(&s->reals[0].mac_loc, 9, 14);
    parse_free(p);
}

static void
test_multiple_services_ipv6(void **state)
{
    struct parse *p = parse_ok(
        "# two services, one IPv6\n"
        "services:\n"
        "- name: web\n"
        "  vip: 10.0.0.100\n"
        "  protocol: tcp\n"
        "  port: 0\n"
        "  scheduler: sh\n"
        "  reals: []\n"
        "- name: web6\n"
        "  vip: 2001:db8::100\n"
        "  protocol: tcp\n"
        "  port: 443\n"
        "  vip_mac: 02:00:00:00:01:06\n"
        "  scheduler: mh\n"
        "  reals:\n"
        "  - address: 2001:db8::11\n"
        "    mac: 8e:97:27:0e:e3:18\n"
        "  - {address: \"::1\", mac: 8e:97:27:0e:e3:19, weight: 65535}\n"
        "  - address: ::2\n"
        "    mac: 8e:97:27:0e:e3:1a\n");
    assert_int_equal(p->spec.n_services, 2);
    const struct lb_service *s = &p->spec.services[0];
    assert_string_equal(s->name, "web");
    assert_int_equal(s->port, 0);
    assert_int_equal(s->scheduler, LB_SCHED_SH);
    assert_int_equal(s->n_reals, 0);
    assert_false(s->has_vip_mac);

    s = &p->spec.services[1];
    assert_string_equal(s->name, "web6");
    assert_loc(&s->loc, 9, 9);
    assert_int_equal(s->vip.family, AF_INET6);
    assert_addr(&s->vip, "2001:db8::100");
    assert_int_equal(s->port, 443);
    assert_int_equal(s->scheduler, LB_SCHED_MH);
    assert_int_equal(s->n_reals, 3);
    assert_addr(&s->reals[0].addr, "2001:db8::11");
    assert_addr(&s->reals[1].addr, "::1");
    assert_int_equal(s->reals[1].weight, 65535);
    assert_addr(&s->reals[2].addr, "::2");
    assert_loc(&s->reals[2].addr_loc, 19, 14);
    parse_free(p);
}

/* The whole spec in flow style, and every check key. */
static void
test_flow_style_and_checks(void **state)
{
    struct parse *p = parse_ok(
        "{services: [\n"
        "  {name: a, vip: 10.0.0.1, protocol: tcp, port: 80,\n"
        "   check: {type: http, interval: 2m, timeout: 3s, rise: 5,\n"
        "           fall: 1, port: 8080, path: /health, expect: 204,\n"
        "           body: \"ok: yes\"},\n"
        "   reals: [{address: 10.0.0.11, mac: \"02:00:00:00:00:11\"}]},\n"
        "  {name: b, vip: 10.0.0.2, protocol: udp, port: 53,\n"
        "   check: {type: exec, command: \"dig @$REAL example.org\"}}\n"
        "]}\n");
    assert_int_equal(p->spec.n_services, 2);
    const struct lb_check *c = &p->spec.services[0].check;
    assert_int_equal(c->type, LB_CHECK_HTTP);
    assert_int_equal(c->interval_ms, 120000);
    assert_int_equal(c->timeout_ms, 3000);
    assert_int_equal(c->rise, 5);
    assert_int_equal(c->fall, 1);
    assert_int_equal(c->port, 8080);
    assert_string_equal(c->path, "/health");
    assert_int_equal(c->expect_status, 204);
    assert_string_equal(c->expect_body, "ok: yes");
    assert_loc(&c->loc, 3, 11);
    assert_int_equal(p->spec.services[0].n_reals, 1);

    c = &p->spec.services[1].check;
    assert_int_equal(c->type, LB_CHECK_EXEC);
    assert_string_equal(c->command, "dig @$REAL example.org");
    assert_int_equal(c->interval_ms, 1000);     /* Defaults kept. */
    assert_int_equal(c->expect_status, 200);
    assert_int_equal(p->spec.services[1].n_reals, 0);
    parse_free(p);
}

/* A service without a vip is check.c's to report, for both syntaxes. */
static void
test_missing_vip_left_to_check(void **state)
{
    struct parse *p = parse_ok(
        "services:\n"
        "  - name: web\n"
        "    protocol: tcp\n"
        "    port: 80\n");
    assert_int_equal(p->spec.n_services, 1);
    assert_false(p->spec.services[0].has_vip);
    assert_loc(&p->spec.services[0].loc, 2, 11);
    parse_free(p);
}

/* Ranges that are a matter of meaning are check.c's (same message for both
 * syntaxes); the front end only refuses what the model cannot hold. */
static void
test_semantic_ranges_left_to_check(void **state)
{
    struct parse *p = parse_ok(
        "services:\n"
        "  - name: web\n"
        "    vip: 10.0.0.1\n"
        "    protocol: tcp\n"
        "    port: 80\n"
        "    check: {type: http, rise: 0, fall: 4294967295, expect: 42,\n"
        "            path: health, interval: 0ms}\n"
        "    reals:\n"
        "      - {address: 10.0.0.11, mac: 01:00:5e:00:00:01, weight: 7000}\n");
    const struct lb_service *s = &p->spec.services[0];
    assert_int_equal(s->check.rise, 0);
    assert_int_equal(s->check.fall, 4294967295u);
    assert_int_equal(s->check.expect_status, 42);
    assert_int_equal(s->check.interval_ms, 0);
    assert_string_equal(s->check.path, "health");
    assert_int_equal(s->reals[0].weight, 7000);
    assert_loc(&s->reals[0].weight_loc, 9, 62);
    parse_free(p);
    /* Weights are bounded by the front end, as in the DSL, so both syntaxes
     * give the same message for the same value. */
    expect_error("services:\n"
                 "  - name: web\n"
                 "    vip: 10.0.0.1\n"
                 "    protocol: tcp\n"
                 "    port: 80\n"
                 "    reals:\n"
                 "      - {address: 10.0.0.11, mac: 02:00:00:00:00:01, weight: 70000}\n",
                 7, 62, "expected 0 to 65535");
}

static void
test_error_unknown_keys(void **state)
{
    expect_error("services:\n"
                 "  - name: web\n"
                 "    vip: 10.0.0.1\n"
                 "    protocol: tcp\n"
                 "    port: 80\n"
                 "    reals:\n"
                 "      - {address: 10.0.0.11, mac: \"02:00:00:00:00:11\",\n"
                 "         wieght: 3}\n",
                 8, 10,
                 "unknown key 'wieght' in real (did you mean 'weight'?)");
    expect_error("services:\n"
                 "  - name: web\n"
                 "    vip: 10.0.0.1\n"
                 "    protocol: tcp\n"
                 "    port: 80\n"
                 "    colour: blue\n",
                 6, 5, "unknown key 'colour' in service");
    expect_error("services:\n"
                 "  - name: web\n"
                 "    vip: 10.0.0.1\n"
                 "    protocl: tcp\n"
                 "    protocol: tcp\n"
                 "    port: 80\n",
                 4, 5, "(did you mean 'protocol'?)");
    expect_error("servics: []\n", 1, 1,
                 "unknown key 'servics' in the top-level mapping "
                 "(did you mean 'services'?)");
    expect_error("services:\n"
                 "  - name: web\n"
                 "    vip: 10.0.0.1\n"
                 "    protocol: tcp\n"
                 "    port: 80\n"
                 "    check: {type: tcp, intervl: 1s}\n",
                 6, 24, "unknown key 'intervl' in check (did you mean "
                 "'interval'?)");
    expect_error("services: []\n? [a]\n: b\n", 2, 3,
                 "keys in the top-level mapping must be scalars");
}

static void
test_error_node_types(void **state)
{
    expect_error("services: web\n", 1, 11, "'services' must be a sequence");
    expect_error("services:\n", 1, 10, "missing value for 'services'");
    expect_error("services:\n"
                 "  - name: web\n"
                 "    vip: 10.0.0.1\n"
                 "    protocol: tcp\n"
                 "    port: 80\n"
                 "    reals: {address: 10.0.0.11}\n",
                 6, 12, "'reals' must be a sequence");
    expect_error("services:\n"
                 "  - name: web\n"
                 "    vip: [10.0.0.1]\n"
                 "    protocol: tcp\n"
                 "    port: 80\n",
                 3, 10, "'vip' must be a scalar");
    expect_error("services:\n"
                 "  - name: web\n"
                 "    vip: 10.0.0.1\n"
                 "    protocol: tcp\n"
                 "    port: 80\n"
                 "    check: tcp\n",
                 6, 12, "'check' must be a mapping");
    expect_error("services:\n  - web\n", 2, 5,
                 "each service must be a mapping");
    expect_error("services:\n"
                 "  - name: web\n"
                 "    vip: 10.0.0.1\n"
                 "    protocol: tcp\n"
                 "    port: 80\n"
                 "    reals: [10.0.0.11]\n",
                 6, 13, "each real must be a mapping");
    expect_error("services:\n"
                 "  - name: web\n"
                 "    vip:\n"
                 "    protocol: tcp\n"
                 "    port: 80\n",
                 3, 9, "missing value for 'vip'");
}

static void
test_error_duplicate_keys(void **state)
{
    struct parse *p = parse("services:\n"
                            "  - name: web\n"
                            "    vip: 10.0.0.1\n"
                            "    protocol: tcp\n"
                            "    port: 80\n"
                            "    vip: 10.0.0.2\n");
    assert_has_error(p, 6, 5, "duplicate key 'vip' in service "
                     "(first at line 3)");
    assert_int_equal(p->d.n_errors, 1);
    /* The first one counts. */
    assert_addr(&p->spec.services[0].vip, "10.0.0.1");
    parse_free(p);

    expect_error("services: []\nservices: []\n", 2, 1,
                 "duplicate key 'services'");
    expect_error("services:\n"
                 "  - name: web\n"
                 "    vip: 10.0.0.1\n"
                 "    protocol: tcp\n"
                 "    port: 80\n"
                 "    reals:\n"
                 "      - {address: 10.0.0.11, mac: \"02:00:00:00:00:11\",\n"
                 "         weight: 1, weight: 2}\n",
                 8, 21, "duplicate key 'weight' in real (first at line 8)");
}

static void
test_error_missing_keys(void **state)
{
    expect_error("services:\n"
                 "  - vip: 10.0.0.1\n"
                 "    protocol: tcp\n"
                 "    port: 80\n",
                 2, 5, "missing required key 'name' in service");
    expect_error("services:\n"
                 "  - name: web\n"
                 "    vip: 10.0.0.1\n"
                 "    port: 80\n",
                 2, 5, "missing required key 'protocol' in service 'web'");
    expect_error("services:\n"
                 "  - name: web\n"
                 "    vip: 10.0.0.1\n"
                 "    protocol: tcp\n",
                 2, 5, "missing required key 'port' in service 'web'");
    expect_error("services:\n"
                 "  - name: web\n"
                 "    vip: 10.0.0.1\n"
                 "    protocol: tcp\n"
                 "    port: 80\n"
                 "    reals:\n"
                 "      - {mac: \"02:00:00:00:00:11\"}\n",
                 7, 9, "missing required key 'address' in real of service "
                 "'web'");
    expect_error("services:\n"
                 "  - name: web\n"
                 "    vip: 10.0.0.1\n"
                 "    protocol: tcp\n"
                 "    port: 80\n"
                 "    reals:\n"
                 "      - address: 10.0.0.11\n"
                 "        weight: 2\n",
                 7, 9, "missing required key 'mac' in real of service 'web'");
    expect_error("services:\n"
                 "  - name: web\n"
                 "    vip: 10.0.0.1\n"
                 "    protocol: tcp\n"
                 "    port: 80\n"
                 "    check:\n"
                 "      interval: 1s\n",
                 7, 7, "missing required key 'type' in check of service "
                 "'web'");
    expect_error("{}\n", 1, 1, "missing required key 'services' in the "
                 "top-level mapping");
}

static void
test_error_values(void **state)
{
    static const char head[] =
        "services:\n"
        "  - name: web\n";
    static const struct {
        const char *body;
        int line, col;
        const char *msg;
    } cases[] = {
        { "    vip: 10.0.0.300\n    protocol: tcp\n    port: 80\n",
          3, 10, "invalid vip '10.0.0.300': invalid IPv4 address" },
        { "    vip: fe80::1%eth0\n    protocol: tcp\n    port: 80\n",
          3, 10, "invalid vip 'fe80::1%eth0'" },
        { "    vip: 10.0.0.1\n    protocol: sctp\n    port: 80\n",
          4, 15, "invalid protocol 'sctp': unknown protocol" },
        { "    vip: 10.0.0.1\n    protocol: tcp\n    port: 65536\n",
          5, 11, "invalid port '65536': number out of range" },
        { "    vip: 10.0.0.1\n    protocol: tcp\n    port: -1\n",
          5, 11, "invalid port '-1'" },
        { "    vip: 10.0.0.1\n    protocol: tcp\n    port: 0x50\n",
          5, 11, "invalid port '0x50'" },
        { "    vip: 10.0.0.1\n    protocol: tcp\n    port: 80\n"
          "    vip_mac: 02:00:00:00:01\n",
          6, 14, "invalid vip_mac '02:00:00:00:01': invalid MAC" },
        { "    vip: 10.0.0.1\n    protocol: tcp\n    port: 80\n"
          "    scheduler: rrr\n",
          6, 16, "invalid scheduler 'rrr': unknown scheduler (expected one "
          "of: rr, wrr, lc, wlc, sh, dh, mh, fo)" },
        { "    vip: 10.0.0.1\n    protocol: tcp\n    port: 80\n"
          "    check: {type: ping}\n",
          6, 19, "invalid type 'ping': unknown check type" },
        { "    vip: 10.0.0.1\n    protocol: tcp\n    port: 80\n"
          "    check: {type: tcp, interval: 1}\n",
          6, 34, "invalid interval '1': invalid duration" },
        { "    vip: 10.0.0.1\n    protocol: tcp\n    port: 80\n"
          "    check: {type: tcp, rise: -1}\n",
          6, 30, "invalid rise '-1'" },
        { "    vip: 10.0.0.1\n    protocol: tcp\n    port: 80\n"
          "    check: {type: tcp, fall: 4294967296}\n",
          6, 30, "invalid fall '4294967296': number out of range" },
        { "    vip: 10.0.0.1\n    protocol: tcp\n    port: 80\n"
          "    check: {type: http, expect: 2OO}\n",
          6, 33, "invalid expect '2OO'" },
        { "    vip: 10.0.0.1\n    protocol: tcp\n    port: 80\n"
          "    reals:\n      - {address: 10.0.0.x, mac: 02:00:00:00:00:11}\n",
          7, 19, "invalid address '10.0.0.x'" },
        { "    vip: 10.0.0.1\n    protocol: tcp\n    port: 80\n"
          "    reals:\n      - {address: 10.0.0.11, mac: 02-00-00-00-00-11}\n",
          7, 35, "invalid mac '02-00-00-00-00-11'" },
        { "    vip: 10.0.0.1\n    protocol: tcp\n    port: 80\n"
          "    reals:\n      - {address: 10.0.0.11, mac: 02:00:00:00:00:11,"
          " weight: 4294967296}\n",
          7, 62, "invalid weight '4294967296': number out of range" },
        { "    vip: 10.0.0.1\n    protocol: tcp\n    port: 80\n"
          "    reals:\n      - {address: 10.0.0.11, mac: 02:00:00:00:00:11,"
          " weight: 1.5}\n",
          7, 62, "invalid weight '1.5'" },
        { "    vip: 10.0.0.1\n    protocol: tcp\n    port: 80\n"
          "    reals:\n      - {address: 10.0.0.11, mac: 02:00:00:00:00:11,"
          " port: LOCAL}\n",
          7, 60, "invalid port 'LOCAL': reserved OpenFlow port name" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "%s%s", head, cases[i].body);
        print_message("case %zu\n", i);
        expect_error(text, cases[i].line, cases[i].col, cases[i].msg);
    }

    /* A wrong value is reported where it is; the rest still loads. */
    struct parse *p = parse("services:\n"
                            "  - name: web\n"
                            "    vip: 10.0.0.1\n"
                            "    protocol: tcp\n"
                            "    port: 80\n"
                            "    reals:\n"
                            "      - {address: 10.0.0.11, mac: 01:00:00:00:00:11,"
                            " weight: 7x}\n"
                            "      - {address: 10.0.0.12, mac: 1}\n");
    assert_int_equal(p->d.n_errors, 2);
    assert_has_error(p, 7, 62, "invalid weight '7x'");
    assert_has_error(p, 8, 35, "invalid mac '1'");
    assert_int_equal(p->spec.services[0].n_reals, 2);
    /* A multicast MAC parses; rejecting it is check.c's job. */
    assert_true(p->spec.services[0].reals[0].has_mac);
    assert_false(p->spec.services[0].reals[1].has_mac);
    parse_free(p);
}

/* The IPVS / keepalived keys of issue 4: values and locations. */
static void
test_ipvs_keys(void **state)
{
    struct parse *p = parse_ok(
        "services:\n"                                               /* 1 */
        "  - name: web\n"
        "    vip: 10.0.0.0/24\n"
        "    protocol: tcp\n"
        "    port: 8000-8100\n"                                     /* 5 */
        "    scheduler: fo\n"
        "    persistence: {timeout: 300s, netmask: 255.255.255.0}\n"
        "    stickiness: learn\n"
        "    sticky_idle: 60s\n"
        "    sorry: {address: 10.1.0.9, mac: \"02:00:00:00:00:99\", port: 4}\n"
        "    quorum: 2\n"                                           /* 11 */
        "    hysteresis: 1\n"
        "    inhibit_on_failure: true\n"
        "    expire_nodest_conn: false\n"
        "    reals:\n"                                              /* 15 */
        "      - {address: 10.1.0.11, mac: \"02:00:00:00:00:11\"}\n"
        "      - {address: 10.1.0.12, mac: \"02:00:00:00:00:12\"}\n"
        "      - {address: 10.1.0.13, mac: \"02:00:00:00:00:13\"}\n"
        "  - name: dns\n"
        "    vip: 2001:db8::53\n"                                   /* 20 */
        "    protocol: udp\n"
        "    port: 53\n"
        "    vip_mac: auto\n"
        "    udp_timeout: 30s\n"
        "    persistence: {timeout: 10m, prefix: 64}\n"             /* 25 */
        "    check: {type: udp, send: \"ping\\n\", expect_reply: pong}\n"
        "  - name: short\n"
        "    vip: 10.0.2.1\n"
        "    protocol: tcp\n"
        "    port: 0\n"                                             /* 30 */
        "    vip_mac: \"auto\"\n"
        "    persistence: 5m\n");
    assert_int_equal(p->spec.n_services, 3);
    const struct lb_service *s = &p->spec.services[0];
    assert_addr(&s->vip, "10.0.0.0");
    assert_int_equal(s->vip_prefix_len, 24);
    assert_loc(&s->vip_loc, 3, 10);
    assert_int_equal(s->port, 8000);
    assert_int_equal(s->port_max, 8100);
    assert_int_equal(s->scheduler, LB_SCHED_FO);
    assert_int_equal(s->persistence_s, 300);
    assert_int_equal(s->persistence_prefix_len, 24);
    assert_int_equal(s->persistence_mask_family, AF_INET);
    assert_loc(&s->persistence_loc, 7, 28);
    assert_loc(&s->persistence_prefix_loc, 7, 43);
    assert_int_equal(s->stickiness, LB_STICKY_LEARN);
    assert_loc(&s->stickiness_loc, 8, 17);
    assert_int_equal(s->sticky_idle_s, 60);
    assert_loc(&s->sticky_idle_loc, 9, 18);
    assert_true(s->has_sorry);
    assert_addr(&s->sorry.addr, "10.1.0.9");
    assert_mac(&s->sorry.mac, "02:00:00:00:00:99");
    assert_string_equal(s->sorry.port, "4");
    assert_int_equal(s->sorry.weight, 1);
    assert_loc(&s->sorry.loc, 10, 12);
    assert_loc(&s->sorry.addr_loc, 10, 22);
    assert_loc(&s->sorry.mac_loc, 10, 37);
    assert_loc(&s->sorry.port_loc, 10, 64);
    assert_int_equal(s->quorum, 2);
    assert_loc(&s->quorum_loc, 11, 13);
    assert_int_equal(s->quorum_hysteresis, 1);
    assert_loc(&s->hysteresis_loc, 12, 17);
    assert_true(s->inhibit_on_failure);
    assert_loc(&s->inhibit_loc, 13, 25);
    assert_false(s->expire_nodest_conn);
    assert_loc(&s->expire_nodest_loc, 14, 25);
    assert_false(s->has_vip_mac);

    s = &p->spec.services[1];
    assert_int_equal(s->vip_prefix_len, 128);
    assert_int_equal(s->port_max, 53);
    assert_true(s->vip_mac_auto);
    assert_true(s->has_vip_mac);
    assert_mac(&s->vip_mac, "02:f9:71:93:b7:a3");
    assert_loc(&s->vip_mac_loc, 23, 14);
    assert_int_equal(s->udp_timeout_s, 30);
    assert_loc(&s->udp_timeout_loc, 24, 18);
    assert_int_equal(s->persistence_s, 600);
    assert_int_equal(s->persistence_prefix_len, 64);
    assert_loc(&s->persistence_prefix_loc, 25, 41);
    assert_int_equal(s->check.type, LB_CHECK_UDP);
    assert_string_equal(s->check.send, "ping\n");
    assert_string_equal(s->check.expect_reply, "pong");
    assert_int_equal(s->stickiness, LB_STICKY_CONNTRACK);
    assert_int_equal(s->sticky_idle_s, 300);

    s = &p->spec.services[2];
    assert_int_equal(s->port, 0);
    assert_int_equal(s->port_max, 0);
    assert_int_equal(s->vip_prefix_len, 32);
    assert_mac(&s->vip_mac, "02:00:0a:00:02:01");
    assert_int_equal(s->persistence_s, 300);
    assert_int_equal(s->persistence_prefix_len, 32);
    assert_loc(&s->persistence_loc, 32, 18);
    parse_free(p);
}

static void
test_ipvs_key_errors(void **state)
{
    static const char head[] =
        "services:\n"
        "  - name: web\n"
        "    vip: 10.0.0.1\n"
        "    protocol: udp\n"
        "    port: 53\n";
    static const struct {
        const char *body;
        int line, col;
        const char *msg;
    } cases[] = {
        { "    persistence: 1500ms\n", 6, 18,
          "invalid persistence '1500ms': timeout not in whole seconds" },
        { "    persistence: {netmask: 255.255.255.0}\n", 6, 18,
          "missing required key 'timeout' in persistence of service 'web'" },
        { "    persistence: {timeout: 1m, netmask: 255.0.255.0}\n", 6, 41,
          "invalid netmask '255.0.255.0': netmask not contiguous" },
        { "    persistence: {timeout: 1m, netmask: 255.0.0.0, prefix: 8}\n",
          6, 60, "persistence takes a netmask or a prefix, not both" },
        { "    persistence: {timeout: 1m, prefix: 129}\n", 6, 40,
          "invalid prefix '129': number out of range (expected 1 to 128)" },
        { "    persistence: [1m]\n", 6, 18,
          "'persistence' must be a scalar or a mapping" },
        { "    persistence: {timeout: 1m, granularity: 24}\n", 6, 32,
          "unknown key 'granularity' in persistence" },
        { "    persistence:\n", 6, 17, "missing value for 'persistence'" },
        { "    stickiness: sticky\n", 6, 17,
          "invalid stickiness 'sticky': unknown stickiness (expected "
          "conntrack or learn)" },
        { "    sticky_idle: 0s\n", 6, 18,
          "invalid sticky_idle '0s': timeout too short (at least 1s)" },
        { "    udp_timeout: 30\n", 6, 18,
          "invalid udp_timeout '30': invalid duration" },
        { "    udp_timeout: 100000s\n", 6, 18,
          "invalid udp_timeout '100000s': duration too large" },
        { "    sorry: {address: 10.0.0.9}\n", 6, 12,
          "missing required key 'mac' in sorry of service 'web'" },
        { "    sorry: {address: 10.0.0.9, mac: \"02:00:00:00:00:09\", "
          "weight: 2}\n", 6, 58, "unknown key 'weight' in sorry" },
        { "    sorry: 10.0.0.9\n", 6, 12, "'sorry' must be a mapping" },
        { "    sorry: {address: 10.0.0.x, mac: \"02:00:00:00:00:09\"}\n",
          6, 22, "invalid address '10.0.0.x'" },
        { "    quorum: 0\n", 6, 13,
          "invalid quorum '0': number out of range (expected 1 to "
          "4294967295)" },
        { "    hysteresis: -1\n", 6, 17, "invalid hysteresis '-1'" },
        { "    inhibit_on_failure: yes\n", 6, 25,
          "invalid inhibit_on_failure 'yes': invalid boolean (expected true "
          "or false)" },
        { "    expire_nodest_conn: True\n", 6, 25,
          "invalid expire_nodest_conn 'True': invalid boolean" },
        { "    check: {type: udp, reply: x}\n", 6, 24,
          "unknown key 'reply' in check" },
        { "    check: {type: udp, send: [x]}\n", 6, 30,
          "'send' must be a scalar" },
        { "    scheduler: sed\n", 6, 16,
          "invalid scheduler 'sed': unsupported IPVS scheduler (a switch "
          "pipeline cannot compute expected delays; use wlc)" },
        { "    scheduler: twos\n", 6, 16, "use wrr)" },
        { "    vip_mac: AUTO\n", 6, 14, "invalid vip_mac 'AUTO'" },
        { "    inhibit-on-failure: true\n", 6, 5,
          "unknown key 'inhibit-on-failure' in service" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "%s%s", head, cases[i].body);
        print_message("case %zu\n", i);
        expect_error(text, cases[i].line, cases[i].col, cases[i].msg);
    }

    /* The VIP's own forms. */
    static const char *const vips[][3] = {
        { "10.0.0.1/24", "80", "prefix with host bits set (did you mean "
          "10.0.0.0/24?)" },
        { "10.0.0.0/0", "80", "invalid prefix length (expected /1 to /32)" },
        { "10.0.0.0/24", "8100-8000", "reversed port range" },
        { "10.0.0.0/24", "0-10", "a range starts at 1" },
        { "10.0.0.0/24", "80-", "invalid port range" },
    };
    for (size_t i = 0; i < sizeof vips / sizeof vips[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "services:\n  - name: web\n"
                 "    vip: %s\n    protocol: tcp\n    port: %s\n",
                 vips[i][0], vips[i][1]);
        print_message("vip case %zu\n", i);
        bool port_error = i >= 2;       /* The last three are ports. */
        expect_error(text, port_error ? 5 : 3, port_error ? 11 : 10,
                     vips[i][2]);
    }
}

/* Asserts that one of the checker's errors is at line:col with 'substr'
 * (the parse itself succeeded). */
static void
assert_check_error(const struct parse *p, int line, int col,
                   const char *substr)
{
    for (size_t i = 0; i < p->d.n_records; i++) {
        const struct diag_record *r = &p->d.records[i];
        if (r->severity == DIAG_ERROR && r->loc.line == line
            && r->loc.col == col && strstr(r->message, substr)) {
            return;
        }
    }
    print_message("expected %d:%d: ...%s... among:\n", line, col, substr);
    dump_diags(p);
    fail();
}

/* check.c's errors for the new keys point at the YAML nodes. */
static void
test_ipvs_check_locations(void **state)
{
    struct parse *p = parse_ok(
        "services:\n"
        "  - name: web\n"
        "    vip: 10.0.0.0/24\n"
        "    protocol: tcp\n"
        "    port: 80\n"
        "    vip_mac: auto\n"                                   /* 6 */
        "    sticky_idle: 10s\n"
        "    udp_timeout: 10s\n"
        "    hysteresis: 1\n"
        "    persistence: {timeout: 1m, netmask: \"ffff::\"}\n" /* 10 */
        "    sorry: {address: 10.0.0.9, mac: \"02:00:00:00:00:09\"}\n"
        "    check: {type: udp, port: 53}\n");
    assert_false(lb_check(&p->spec, &p->d));
    assert_check_error(p, 6, 14, "vip-mac of service 'web' needs a "
                     "single-address VIP");
    assert_check_error(p, 7, 18, "idle timeout of service 'web' applies only "
                     "to stickiness learn");
    assert_check_error(p, 8, 18, "UDP timeout of service 'web' applies only "
                     "to udp services");
    assert_check_error(p, 9, 17, "hysteresis of service 'web' without a "
                     "quorum");
    assert_check_error(p, 10, 41, "persistence netmask of service 'web' is "
                     "IPv6 but its VIP is IPv4");
    assert_check_error(p, 11, 22, "sorry server 10.0.0.9 of service 'web' is "
                     "inside the service's VIP prefix 10.0.0.0/24");
    assert_check_error(p, 12, 12, "udp check of service 'web', a tcp service");
    parse_free(p);
}

static void
test_error_yaml_syntax(void **state)
{
    /* libyaml's own words, at its problem mark. */
    expect_error("services:\n"
                 "  - name: web\n"
                 "   vip: 10.0.0.1\n",
                 3, 4, "YAML syntax error: did not find expected '-' "
                 "indicator");
    expect_error("services: [{name: web\n", 2, 1,
                 "YAML syntax error: did not find expected ',' or '}'");
    expect_error("services: a: b\n", 1, 12,
                 "YAML syntax error: mapping values are not allowed");
    expect_error("services:\n  - name: \"web\n", 3, 1,
                 "YAML syntax error: found unexpected end of stream");
    expect_error("services:\n\t- name: web\n", 2, 1,
                 "YAML syntax error: found character that cannot start");
}

static void
test_error_aliases(void **state)
{
    struct parse *p = parse("x: &svc {name: web}\n"
                            "services:\n"
                            "  - *svc\n");
    assert_check_error(p, 1, 4, "YAML anchors and aliases are not supported");
    assert_check_error(p, 3, 5, "YAML aliases are not supported");
    assert_int_equal(p->spec.n_services, 0);
    parse_free(p);

    /* The classic "billion laughs": refused before anything is built. */
    p = parse("a: &a [x, x, x, x, x, x, x, x, x]\n"
              "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
              "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
              "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
              "services: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n");
    assert_check_error(p, 2, 8, "YAML aliases are not supported");
    assert_true(p->d.n_records <= 100);
    assert_int_equal(p->spec.n_services, 0);
    parse_free(p);
}

static void
test_error_documents(void **state)
{
    expect_error("", 1, 1, "empty YAML document");
    expect_error("# nothing but a comment\n", 1, 1, "empty YAML document");
    expect_error("---\n", 1, 1, "empty YAML document");
    expect_error("- services\n", 1, 1,
                 "the top level must be a mapping with 'services', not a "
                 "sequence");
    expect_error("services\n", 1, 1, "the top level must be a mapping");
    expect_error("services: []\n---\nservices: []\n", 2, 1,
                 "only one YAML document is allowed");
    /* Explicit document markers around one document are fine. */
    struct parse *p = parse_ok("%YAML 1.1\n---\nservices: []\n...\n");
    assert_int_equal(p->spec.n_services, 0);
    parse_free(p);
}

static void
test_error_encoding(void **state)
{
    expect_error("services:\n  - name: w\xff" "b\n", 2, 12,
                 "not valid UTF-8 (byte 0xff)");
    /* Overlong encoding of '/'. */
    expect_error("services: [] # \xc0\xaf\n", 1, 16, "not valid UTF-8");
    /* A UTF-16 file (with its BOM) is not read as such. */
    expect_error("\xff\xfes\0e\0", 1, 1, "not valid UTF-8");
    /* Truncated multi-byte sequence at the very end. */
    expect_error("services: [] # \xe2\x82", 1, 16, "not valid UTF-8");
    /* Valid UTF-8 elsewhere is fine; columns count characters. */
    expect_error("services:\n  - name: \xc3\xa9t\xc3\xa9\n    bogus: 1\n"
                 "    vip: 10.0.0.1\n    protocol: tcp\n    port: 80\n",
                 3, 5, "unknown key 'bogus'");
    expect_error("services: [] # \xc3\xa9\x01\n", 1, 17,
                 "control characters are not allowed");

    /* Escapes cannot smuggle a NUL or a line break into a value. */
    expect_error("services:\n  - name: \"web\\0x\"\n"
                 "    vip: 10.0.0.1\n    protocol: tcp\n    port: 80\n", 2, 11,
                 "'name' must not contain NUL characters");
    expect_error("services:\n  - name: \"we\\nb\"\n"
                 "    vip: 10.0.0.1\n    protocol: tcp\n    port: 80\n",
                 2, 11, "'name' must not contain control characters");
    expect_error("services: []\n\"services\\0\": []\n", 2, 1,
                 "keys in the top-level mapping must not contain NUL");

    struct parse *p = parse_ok("\xef\xbb\xbfservices: []\n");   /* BOM. */
    parse_free(p);
    /* An embedded NUL is a control character, not the end of the text. */
    p = parse_len("services: []\n\0x: 1\n", 19);
    assert_check_error(p, 2, 1, "control characters are not allowed");
    parse_free(p);
}

static void
test_error_depth(void **state)
{
    /* Nesting deep enough to hurt a recursive walker is refused. */
    size_t n = 100000;
    char *text = malloc(2 * n + 16);
    assert_non_null(text);
    memset(text, '[', n);
    memset(text + n, ']', n);
    strcpy(text + 2 * n, "\n");
    struct parse *p = parse(text);
    assert_check_error(p, 1, 65, "YAML nesting is too deep");
    parse_free(p);

    /* The same with block mappings. */
    char *q = text;
    for (int i = 0; i < 200; i++) {
        q += sprintf(q, "%*sk:\n", i, "");
    }
    p = parse(text);
    assert_check_error(p, 65, 65, "YAML nesting is too deep");
    parse_free(p);
    free(text);

    /* 64 levels are fine for the parser (and then wrong for the schema). */
    char buf[256];
    snprintf(buf, sizeof buf, "services: %.63s%.63s\n",
             "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
             "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
    expect_error(buf, 1, 12, "each service must be a mapping");
}

/* Small deterministic PRNG so that failures reproduce. */
static uint32_t
prng(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

/* Random bytes, random mutations of a valid spec, random YAML-ish tokens:
 * nothing may crash or leak (run under ASan), and the verdict always
 * matches the diagnostics (checked in parse_len). */
static void
test_nasty_inputs(void **state)
{
    static const char *const tokens[] = {
        "services", ":", " ", "\n", "  ", "- ", "[", "]", "{", "}", ",",
        "name", "vip", "reals", "check", "address", "mac", "weight", "port",
        "&a", "*a", "!!int", "\"", "'", "#", "---", "...", "?", "|", ">",
        "10.0.0.1", "02:00:00:00:01:00", "80", "tcp", "type", "\t", "%YAML",
        "\xc3\xa9", "\xff", "\\", "~", "null", "",
    };
    const size_t n_tokens = sizeof tokens / sizeof tokens[0];
    uint64_t seed = 0x5eed;
    char buf[4096];
    int n_ok = 0;
    size_t n_services = 0;

    for (int iter = 0; iter < 3000; iter++) {
        size_t len = 0;
        switch (iter % 3) {
        case 0:                 /* Random bytes. */
            len = prng(&seed) % 256;
            for (size_t i = 0; i < len; i++) {
                buf[i] = prng(&seed);
            }
            break;
        case 1:                 /* The example, mutated. */
            len = strlen(example);
            memcpy(buf, example, len);
            for (int k = prng(&seed) % 4 + 1; k > 0; k--) {
                size_t at = prng(&seed) % len;
                switch (prng(&seed) % 3) {
                case 0:
                    buf[at] = prng(&seed);
                    break;
                case 1:
                    len = at;   /* Truncate. */
                    break;
                default:
                    buf[at] = "[]{}:,- \n#&*'\""[prng(&seed) % 15];
                    break;
                }
                if (!len) {
                    break;
                }
            }
            break;
        default:                /* YAML-ish token soup. */
            for (int k = prng(&seed) % 120; k > 0; k--) {
                const char *t = tokens[prng(&seed) % n_tokens];
                size_t tl = strlen(t);
                if (len + tl >= sizeof buf - 1) {
                    break;
                }
                memcpy(buf + len, t, tl);
                len += tl;
            }
            break;
        }
        buf[len] = '\0';
        struct parse *p = parse_len(buf, len);
        n_ok += p->ok;
        n_services += p->spec.n_services;
        parse_free(p);
    }
    /* The loop reached both verdicts and the walk, not only the early
     * refusals. */
    print_message("nasty inputs: %d of 3000 loaded, %zu services\n", n_ok,
                  n_services);
    assert_true(n_ok > 0 && n_ok < 3000);
    assert_true(n_services > 100);
}

static void
test_check_half_open(void **state)
{
    struct parse *p = parse_ok("services:\n"
                               "  - name: web\n"
                               "    vip: 10.0.0.1\n"
                               "    protocol: tcp\n"
                               "    port: 80\n"
                               "    check: {type: tcp-half-open, timeout: 300ms}\n"
                               "    reals:\n"
                               "      - {address: 10.0.0.2, mac: \"02:00:00:00:00:01\"}\n");
    const struct lb_check *c = &p->spec.services[0].check;
    assert_int_equal(c->type, LB_CHECK_TCP_HALF_OPEN);
    assert_int_equal(c->timeout_ms, 300);
    parse_free(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_half_open),
        cmocka_unit_test(test_example_model),
        cmocka_unit_test(test_scalars_are_text),
        cmocka_unit_test(test_multiple_services_ipv6),
        cmocka_unit_test(test_flow_style_and_checks),
        cmocka_unit_test(test_missing_vip_left_to_check),
        cmocka_unit_test(test_semantic_ranges_left_to_check),
        cmocka_unit_test(test_error_unknown_keys),
        cmocka_unit_test(test_error_node_types),
        cmocka_unit_test(test_error_duplicate_keys),
        cmocka_unit_test(test_error_missing_keys),
        cmocka_unit_test(test_error_values),
        cmocka_unit_test(test_ipvs_keys),
        cmocka_unit_test(test_ipvs_key_errors),
        cmocka_unit_test(test_ipvs_check_locations),
        cmocka_unit_test(test_error_yaml_syntax),
        cmocka_unit_test(test_error_aliases),
        cmocka_unit_test(test_error_documents),
        cmocka_unit_test(test_error_encoding),
        cmocka_unit_test(test_error_depth),
        cmocka_unit_test(test_nasty_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
