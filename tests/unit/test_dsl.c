/* Unit tests of the DSL front end (grammar/): the model it builds, with
 * locations, and every kind of error with its exact line:col. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "diag.h"
#include "dsl_internal.h"
#include "check.h"
#include "spec.h"
#include "values.h"

struct parsed {
    struct lb_spec spec;
    struct diag d;
    bool ok;
};

/* Parses 'text' as file "t.lb". */
static struct parsed *
parse_n(const char *text, size_t len)
{
    struct parsed *p = calloc(1, sizeof *p);
    lb_spec_init(&p->spec);
    diag_init(&p->d);
    p->ok = lb_dsl_parse("t.lb", text, len, &p->spec, &p->d);
    /* Whatever happened, the result is consistent. */
    assert_int_equal(p->ok, p->d.n_errors == 0);
    if (!p->ok) {
        assert_int_equal(p->spec.n_services, 0);
    }
    return p;
}

static struct parsed *
parse(const char *text)
{
    return parse_n(text, strlen(text));
}

static void
parsed_free(struct parsed *p)
{
    lb_spec_destroy(&p->spec);
    diag_destroy(&p->d);
    free(p);
}

static void
dump_diags(const struct parsed *p)
{
    for (size_t i = 0; i < p->d.n_records; i++) {
        const struct diag_record *r = &p->d.records[i];
        fprintf(stderr, "  %d:%d: %s\n", r->loc.line, r->loc.col, r->message);
    }
}

static void
assert_loc(const struct location *loc, int line, int col)
{
    if (loc->line != line || loc->col != col) {
        fail_msg("location %d:%d, expected %d:%d", loc->line, loc->col, line,
                 col);
    }
    assert_string_equal(loc->file, "t.lb");
}

static void
assert_addr(const struct lb_addr *a, const char *expected)
{
    char buf[64];
    lb_addr_format(a, buf, sizeof buf);
    assert_string_equal(buf, expected);
}

static void
assert_mac(const struct lb_mac *m, const char *expected)
{
    char buf[32];
    lb_mac_format(m, buf, sizeof buf);
    assert_string_equal(buf, expected);
}

static const char example[] =
    "service web {\n"
    "    vip 10.0.0.100 tcp 80;\n"
    "    vip-mac 02:00:00:00:01:00;\n"
    "    scheduler wrr;\n"
    "    real 10.0.0.11 mac 8e:97:27:0e:e3:18 weight 3;\n"
    "    real 10.0.0.12 mac f6:5e:d3:b7:50:8a port 3;\n"
    "    check tcp interval 1s timeout 500ms rise 2 fall 3;\n"
    "}\n";

static void
test_example(void **state)
{
    struct parsed *p = parse(example);
    if (!p->ok) {
        dump_diags(p);
    }
    assert_true(p->ok);
    assert_int_equal(p->spec.n_services, 1);

    const struct lb_service *s = &p->spec.services[0];
    assert_string_equal(s->name, "web");
    assert_loc(&s->loc, 1, 9);

    assert_true(s->has_vip);
    assert_int_equal(s->vip.family, AF_INET);
    assert_addr(&s->vip, "10.0.0.100");
    assert_int_equal(s->proto, LB_PROTO_TCP);
    assert_int_equal(s->port, 80);
    assert_loc(&s->vip_loc, 2, 9);

    assert_true(s->has_vip_mac);
    assert_mac(&s->vip_mac, "02:00:00:00:01:00");
    assert_loc(&s->vip_mac_loc, 3, 13);

    assert_int_equal(s->scheduler, LB_SCHED_WRR);
    assert_loc(&s->scheduler_loc, 4, 15);

    assert_int_equal(s->n_reals, 2);
    const struct lb_real *r = &s->reals[0];
    assert_addr(&r->addr, "10.0.0.11");
    assert_true(r->has_mac);
    assert_mac(&r->mac, "8e:97:27:0e:e3:18");
    assert_null(r->port);
    assert_int_equal(r->weight, 3);
    assert_loc(&r->loc, 5, 5);
    assert_loc(&r->addr_loc, 5, 10);
    assert_loc(&r->mac_loc, 5, 24);
    assert_loc(&r->weight_loc, 5, 49);
    assert_int_equal(r->port_loc.line, 0);

    r = &s->reals[1];
    assert_addr(&r->addr, "10.0.0.12");
    assert_mac(&r->mac, "f6:5e:d3:b7:50:8a");
    assert_non_null(r->port);
    assert_string_equal(r->port, "3");
    assert_int_equal(r->weight, 1);            /* The default. */
    assert_loc(&r->loc, 6, 5);
    assert_loc(&r->port_loc, 6, 47);
    assert_int_equal(r->weight_loc.line, 0);

    const struct lb_check *c = &s->check;
    assert_int_equal(c->type, LB_CHECK_TCP);
    assert_int_equal(c->interval_ms, 1000);
    assert_int_equal(c->timeout_ms, 500);
    assert_int_equal(c->rise, 2);
    assert_int_equal(c->fall, 3);
    assert_int_equal(c->port, 0);
    assert_loc(&c->loc, 7, 5);
    parsed_free(p);
}

/* Several services, IPv6, comments everywhere, defaults, tabs, CRLF,
 * quoted strings with escapes, options in any order. */
static void
test_several_services(void **state)
{
    struct parsed *p = parse(
        "# leading comment\n"
        "service a {   # after a brace\n"
        "\tvip 2001:db8::1 udp 53; # tab counts as one column\n"
        "    real 2001:db8::11 weight 0 port \"eth-1\" mac 02:00:00:00:00:11;\n"
        "}\r\n"
        "service \"b\" { vip 192.0.2.1 tcp 0; scheduler mh;\n"
        "  real 10.1.0.1 mac 02:00:00:00:00:01 port uplink;\n"
        "  check http interval 2m timeout 1500ms port 8080 path \"/he\\\"al\\\\th\""
        " expect 204 body \"ok\" rise 1 fall 10;\n"
        "}\n"
        "service check { vip 192.0.2.2 tcp 443; check exec command \"/bin/true\"; }"
        "# no newline at the end");
    if (!p->ok) {
        dump_diags(p);
    }
    assert_true(p->ok);
    assert_int_equal(p->spec.n_services, 3);

    const struct lb_service *s = &p->spec.services[0];
    assert_string_equal(s->name, "a");
    assert_int_equal(s->vip.family, AF_INET6);
    assert_addr(&s->vip, "2001:db8::1");
    assert_int_equal(s->proto, LB_PROTO_UDP);
    assert_int_equal(s->port, 53);
    assert_loc(&s->vip_loc, 3, 6);
    assert_false(s->has_vip_mac);
    assert_int_equal(s->scheduler, LB_SCHED_WRR);
    assert_int_equal(s->check.type, LB_CHECK_NONE);
    assert_int_equal(s->n_reals, 1);
    assert_addr(&s->reals[0].addr, "2001:db8::11");
    assert_int_equal(s->reals[0].weight, 0);
    assert_string_equal(s->reals[0].port, "eth-1");
    assert_loc(&s->reals[0].port_loc, 4, 37);
    assert_loc(&s->reals[0].mac_loc, 4, 49);

    s = &p->spec.services[1];
    assert_string_equal(s->name, "b");
    assert_loc(&s->loc, 6, 9);
    assert_int_equal(s->port, 0);
    assert_int_equal(s->scheduler, LB_SCHED_MH);
    assert_string_equal(s->reals[0].port, "uplink");
    assert_int_equal(s->check.type, LB_CHECK_HTTP);
    assert_int_equal(s->check.interval_ms, 120000);
    assert_int_equal(s->check.timeout_ms, 1500);
    assert_int_equal(s->check.port, 8080);
    assert_string_equal(s->check.path, "/he\"al\\th");
    assert_int_equal(s->check.expect_status, 204);
    assert_string_equal(s->check.expect_body, "ok");
    assert_int_equal(s->check.rise, 1);
    assert_int_equal(s->check.fall, 10);

    s = &p->spec.services[2];
    assert_string_equal(s->name, "check");
    assert_int_equal(s->check.type, LB_CHECK_EXEC);
    assert_string_equal(s->check.command, "/bin/true");
    assert_int_equal(s->check.interval_ms, 1000);   /* Defaults. */
    assert_int_equal(s->check.timeout_ms, 1000);
    assert_int_equal(s->check.rise, 2);
    assert_int_equal(s->check.fall, 3);
    assert_int_equal(s->check.expect_status, 200);
    assert_loc(&s->check.loc, 10, 40);
    parsed_free(p);
}

static void
test_empty_and_comments_only(void **state)
{
    struct parsed *p = parse("");
    assert_true(p->ok);
    assert_int_equal(p->spec.n_services, 0);
    parsed_free(p);

    p = parse("# nothing\n   \n\t# more, with UTF-8: é ✓\n");
    assert_true(p->ok);
    parsed_free(p);

    /* A byte order mark is skipped; columns start after it. */
    p = parse("\xef\xbb\xbfservice bom { vip 10.0.0.1 tcp 80; }");
    assert_true(p->ok);
    assert_loc(&p->spec.services[0].loc, 1, 9);
    parsed_free(p);

    /* A service without a vip is for check.c, not a syntax error. */
    p = parse("service \"\" { }");
    assert_true(p->ok);
    assert_string_equal(p->spec.services[0].name, "");
    parsed_free(p);

    p = parse("service empty { }");
    assert_true(p->ok);
    assert_int_equal(p->spec.n_services, 1);
    assert_false(p->spec.services[0].has_vip);
    parsed_free(p);
}

/* Services are appended to what the caller's spec already holds. */
static void
test_appends(void **state)
{
    struct lb_spec spec;
    struct diag d;
    lb_spec_init(&spec);
    diag_init(&d);
    const char *a = "service a { vip 10.0.0.1 tcp 80; }";
    const char *b = "service b { vip 10.0.0.2 tcp 80; real 10.0.0.3 mac "
                    "02:00:00:00:00:03; }";
    assert_true(lb_dsl_parse("a.lb", a, strlen(a), &spec, &d));
    assert_true(lb_dsl_parse("b.lb", b, strlen(b), &spec, &d));
    assert_int_equal(spec.n_services, 2);
    assert_string_equal(spec.services[0].name, "a");
    assert_string_equal(spec.services[0].loc.file, "a.lb");
    assert_string_equal(spec.services[1].name, "b");
    assert_string_equal(spec.services[1].loc.file, "b.lb");
    assert_int_equal(spec.services[1].n_reals, 1);

    /* A failed parse leaves the spec as it was. */
    const char *bad = "service c { vip 10.0.0.4 tcp 80; bogus; }";
    assert_false(lb_dsl_parse("c.lb", bad, strlen(bad), &spec, &d));
    assert_int_equal(spec.n_services, 2);
    lb_spec_destroy(&spec);
    diag_destroy(&d);
}

struct error_case {
    const char *text;
    int line, col;
    const char *message;        /* Substring of the first error. */
};

#define SVC "service web {\n"   /* Line 1; statements start on line 2. */

static const struct error_case error_cases[] = {
    /* Keywords. */
    { SVC "    real 10.0.0.11 mac 8e:97:27:0e:e3:18 wieght 3;\n}", 2, 42,
      "unknown keyword 'wieght' in real (did you mean 'weight'?)" },
    { SVC "    real 10.0.0.11 mac 8e:97:27:0e:e3:18 colour red;\n}", 2, 42,
      "unknown keyword 'colour' in real (expected mac, port or weight)" },
    { SVC "    check tcp intervall 1s;\n}", 2, 15,
      "unknown keyword 'intervall' in check (did you mean 'interval'?)" },
    { SVC "    sheduler wrr;\n}", 2, 5,
      "unknown keyword 'sheduler' in service 'web' (did you mean "
      "'scheduler'?)" },
    { SVC "    frobnicate 3;\n}", 2, 5,
      "unknown keyword 'frobnicate' in service 'web' (expected vip" },
    { "servce web { }", 1, 1,
      "unknown keyword 'servce' (did you mean 'service'?)" },
    { "\n\n  listen 80;", 3, 3, "unexpected 'listen', expected 'service'" },

    /* Structure. */
    { SVC "    vip 10.0.0.1 tcp 80\n    scheduler sh;\n}", 2, 24,
      "expected ';' after vip statement" },
    { SVC "    scheduler sh\n}", 2, 17, "expected ';' after scheduler" },
    { SVC "    vip 10.0.0.1 tcp 80 sh;\n}", 2, 25,
      "unexpected 'sh' after the vip port (missing ';'?)" },
    { SVC "    vip 10.0.0.1 tcp 80 scheduler;\n}", 2, 24,
      "expected ';' after vip statement" },
    { SVC "    vip 10.0.0.1 tcp 80;\n", 3, 1,
      "unexpected end of file in service 'web' (missing '}')" },
    { "service web", 1, 12, "unexpected end of file, expected '{'" },
    { "service", 1, 8, "expected a service name, found end of file" },
    { "service { vip 10.0.0.1 tcp 80; }", 1, 9,
      "expected a service name, found '{'" },
    { SVC "    vip 10.0.0.1 tcp 80;\nservice b { }", 3, 1,
      "missing '}' at the end of service 'web'" },
    { SVC "    vip 10.0.0.1 tcp 80 { ;\n}", 2, 25, "unexpected '{'" },
    { "service a { } }", 1, 15, "unexpected '}', expected " },
    { SVC "    vip \"unterminated tcp 80;\n}", 2, 9, "unterminated string" },
    { SVC "    check http path \"/a\\n\";\n}", 2, 24,
      "invalid escape '\\n' in string" },
    { SVC "    vip 10.0.0.1 tcp 80 @;\n}", 2, 25, "stray character '@'" },
    { "service \"a\tb\" { }", 1, 9,
      "service name must not contain control characters" },
    { SVC "    vip 10.0.0.1 tcp 80;\n    vip 10.0.0.2 tcp 81;\n}", 3, 5,
      "duplicate 'vip' in service 'web' (first at line 2)" },
    { SVC "    scheduler sh;\n    scheduler sh;\n}", 3, 5,
      "duplicate 'scheduler' in service 'web'" },
    { SVC "    check tcp;\n    check tcp;\n}", 3, 5,
      "duplicate 'check' in service 'web'" },
    { SVC "    real 10.0.0.11 mac 02:00:00:00:00:01 weight 1 weight 2;\n}",
      2, 51, "duplicate 'weight' in real 10.0.0.11" },
    { SVC "    real 10.0.0.11 weight 3;\n}", 2, 5,
      "missing 'mac' for real 10.0.0.11" },
    { SVC "    real 10.0.0.11 mac 02:00:00:00:00:01 weight;\n}", 2, 48,
      "missing value after 'weight' in real" },
    { SVC "    real 10.0.0.11 mac;\n}", 2, 23,
      "missing value after 'mac' in real" },
    { SVC "    real;\n}", 2, 9, "missing address in real" },
    { SVC "    vip 10.0.0.1 tcp;\n}", 2, 21, "missing port in vip" },
    { SVC "    vip;\n}", 2, 8, "missing address in vip" },
    { SVC "    vip-mac;\n}", 2, 12, "missing MAC address in vip-mac" },
    { SVC "    check;\n}", 2, 10, "missing check type" },
    { SVC "    scheduler;\n}", 2, 14, "missing scheduler name" },

    /* Values. */
    { SVC "    vip x tcp 80;\n}", 2, 9, "invalid IPv4 address 'x' in vip" },
    { SVC "    vip 2001:db8::g tcp 80;\n}", 2, 9,
      "invalid IPv6 address '2001:db8::g'" },
    { SVC "    vip 10.0.0.1 sctp 80;\n}", 2, 18,
      "unknown protocol 'sctp' in vip (expected tcp or udp; did you mean "
      "'tcp'?)" },
    { SVC "    vip 10.0.0.1 gre 80;\n}", 2, 18,
      "unknown protocol 'gre' in vip (expected tcp or udp)" },
    { SVC "    vip 10.0.0.1 tcp 65536;\n}", 2, 22,
      "number out of range '65536' for the vip port (expected 0 to 65535)" },
    { SVC "    vip 10.0.0.1 tcp 99999999999999999999999;\n}", 2, 22,
      "number out of range" },
    { SVC "    vip 10.0.0.1 tcp http;\n}", 2, 22, "invalid number 'http'" },
    { SVC "    vip-mac 02:00:00:00:01;\n}", 2, 13,
      "invalid MAC address '02:00:00:00:01'" },
    { SVC "    scheduler wrrr;\n}", 2, 15,
      "unknown scheduler 'wrrr' (expected one of: rr, wrr, lc, wlc, sh, dh, "
      "mh, fo; did you mean 'wrr'?)" },
    { SVC "    scheduler roundrobin;\n}", 2, 15,
      "unknown scheduler 'roundrobin' (expected one of: rr, wrr, lc, wlc, "
      "sh, dh, mh, fo)" },
    { SVC "    scheduler whr;\n}", 2, 15,
      "unknown scheduler 'whr' (expected one of: rr, wrr, lc, wlc, sh, dh, "
      "mh, fo; did you mean 'wrr'?)" },
    { SVC "    real 10.0.0.11 mac 02:00:00:00:00:01 weight 70000;\n}", 2, 49,
      "number out of range '70000' for weight (expected 0 to 65535)" },
    { SVC "    real 10.0.0.11 mac 02:00:00:00:00:01 weight -1;\n}", 2, 49,
      "number out of range '-1' for weight" },
    { SVC "    real 10.0.0.11 mac 02:00:00:00:00:01 port in_port;\n}", 2, 47,
      "reserved OpenFlow port name 'in_port'" },
    { SVC "    real 10.0.0.11 mac 02:00:00:00:00:01 port \"a b\";\n}", 2, 47,
      "invalid OpenFlow port name 'a b'" },
    { SVC "    real 10.0.0.300 mac 02:00:00:00:00:01;\n}", 2, 10,
      "invalid IPv4 address '10.0.0.300' in real" },
    { SVC "    check ping;\n}", 2, 11,
      "unknown check type 'ping' (expected one of: tcp, tcp-half-open, http, "
      "https, exec, udp)" },
    { SVC "    check tcp interval 5;\n}", 2, 24,
      "invalid duration '5' for interval (expected a number with a unit" },
    { SVC "    check tcp timeout 2h;\n}", 2, 23, "invalid duration '2h'" },
    { SVC "    check tcp interval 100000m;\n}", 2, 24,
      "duration too large '100000m'" },
    { SVC "    check tcp interval 0s;\n}", 2, 24, "interval must not be 0" },
    { SVC "    check tcp rise 0;\n}", 2, 20, "number out of range '0' for rise" },
    { SVC "    check http expect 999;\n}", 2, 23,
      "number out of range '999' for expect (expected 100 to 599)" },

    /* The IPVS / keepalived statements. */
    { SVC "    vip 10.0.0.1/24 tcp 80;\n}", 2, 9,
      "prefix with host bits set '10.0.0.1/24' in vip (did you mean "
      "10.0.0.0/24?)" },
    { SVC "    vip 10.0.0.0/33 tcp 80;\n}", 2, 9,
      "invalid prefix length '10.0.0.0/33' in vip (expected /1 to /32)" },
    { SVC "    vip 2001:db8::/0 tcp 80;\n}", 2, 9,
      "invalid prefix length '2001:db8::/0' in vip (expected /1 to /128)" },
    { SVC "    vip 10.0.0.0/24 tcp 8100-8000;\n}", 2, 25,
      "reversed port range '8100-8000' for the vip port (expected LOW-HIGH, "
      "LOW <= HIGH)" },
    { SVC "    vip 10.0.0.1 tcp 0-80;\n}", 2, 22,
      "invalid port range '0-80' for the vip port (a range starts at 1; "
      "port 0 alone means every port)" },
    { SVC "    vip 10.0.0.1 tcp 80-;\n}", 2, 22,
      "invalid port range '80-' for the vip port" },
    { SVC "    vip 10.0.0.1 tcp 80-65536;\n}", 2, 22,
      "invalid port range '80-65536'" },
    { SVC "    vip-mac \"aut0\";\n}", 2, 13, "invalid MAC address 'aut0'" },
    { SVC "    vip-mac auto 02:00:00:00:00:01;\n}", 2, 18,
      "unexpected '02:00:00:00:00:01' after the vip-mac address" },
    { SVC "    scheduler sed;\n}", 2, 15,
      "unsupported IPVS scheduler 'sed' (a switch pipeline cannot compute "
      "expected delays; use wlc)" },
    { SVC "    scheduler nq;\n}", 2, 15, "unsupported IPVS scheduler 'nq'" },
    { SVC "    scheduler lblc;\n}", 2, 15,
      "unsupported IPVS scheduler 'lblc' (a switch pipeline keeps no "
      "per-destination table; use dh or sh)" },
    { SVC "    scheduler lblc;\n}", 2, 15, "use dh or sh)" },  /* No hint. */
    { SVC "    scheduler lblcr;\n}", 2, 15, "unsupported IPVS scheduler" },
    { SVC "    scheduler ovf;\n}", 2, 15, "use fo)" },
    { SVC "    scheduler twos;\n}", 2, 15, "use wrr)" },
    { SVC "    scheduler;\n}", 2, 14,
      "missing scheduler name (expected one of: rr, wrr, lc, wlc, sh, dh, "
      "mh, fo)" },
    { SVC "    persistence;\n}", 2, 16, "missing timeout in persistence" },
    { SVC "    persistence 300;\n}", 2, 17,
      "invalid duration '300' for persistence" },
    { SVC "    persistence 1500ms;\n}", 2, 17,
      "timeout not in whole seconds '1500ms' for persistence (OpenFlow "
      "timeouts count seconds)" },
    { SVC "    persistence 0s;\n}", 2, 17,
      "timeout too short '0s' for persistence (at least 1s)" },
    { SVC "    persistence 20h;\n}", 2, 17, "invalid duration '20h'" },
    { SVC "    persistence 1100m;\n}", 2, 17,
      "timeout too long '1100m' for persistence (at most 65535s" },
    { SVC "    persistence 60s netmask 255.0.255.0;\n}", 2, 29,
      "netmask not contiguous '255.0.255.0' for netmask" },
    { SVC "    persistence 60s netmask 0.0.0.0;\n}", 2, 29,
      "netmask with no bits set '0.0.0.0'" },
    { SVC "    persistence 60s netmask 24;\n}", 2, 29,
      "invalid netmask '24' for netmask (expected an address form" },
    { SVC "    persistence 60s prefix 0;\n}", 2, 28,
      "number out of range '0' for prefix (expected 1 to 128)" },
    { SVC "    persistence 60s netmask 255.255.0.0 prefix 16;\n}", 2, 48,
      "persistence takes a netmask or a prefix, not both" },
    { SVC "    persistence 60s granularity 24;\n}", 2, 21,
      "unknown keyword 'granularity' in persistence (expected netmask or "
      "prefix)" },
    { SVC "    persistence 60s netmsk 255.0.0.0;\n}", 2, 21,
      "unknown keyword 'netmsk' in persistence (did you mean 'netmask'?)" },
    { SVC "    stickiness sticky;\n}", 2, 16,
      "unknown stickiness 'sticky' (expected conntrack or learn)" },
    { SVC "    stickiness lern;\n}", 2, 16,
      "unknown stickiness 'lern' (expected conntrack or learn; did you mean "
      "'learn'?)" },
    { SVC "    stickiness;\n}", 2, 15, "missing mode in stickiness" },
    { SVC "    stickiness learn idle;\n}", 2, 26,
      "missing value after 'idle' in stickiness" },
    { SVC "    stickiness learn idle 100ms;\n}", 2, 27,
      "timeout not in whole seconds '100ms' for idle" },
    { SVC "    udp-timeout;\n}", 2, 16, "missing timeout in udp-timeout" },
    { SVC "    udp-timeout 30;\n}", 2, 17,
      "invalid duration '30' for udp-timeout" },
    { SVC "    udp-timeout 30s 40s;\n}", 2, 21,
      "unexpected '40s' after the udp-timeout (missing ';'?)" },
    { SVC "    sorry;\n}", 2, 10, "missing address in sorry (expected "
      "'sorry ADDRESS mac MAC [port OFPORT]')" },
    { SVC "    sorry 10.0.0.9;\n}", 2, 5, "missing 'mac' for sorry 10.0.0.9" },
    { SVC "    sorry 10.0.0.9 mac 02:00:00:00:00:09 weight 3;\n}", 2, 42,
      "unknown keyword 'weight' in sorry (expected mac or port)" },
    { SVC "    sorry 10.0.0.9 mac 02:00:00:00:00;\n}", 2, 24,
      "invalid MAC address '02:00:00:00:00' in sorry" },
    { SVC "    sorry 10.0.0.300 mac 02:00:00:00:00:09;\n}", 2, 11,
      "invalid IPv4 address '10.0.0.300' in sorry" },
    { SVC "    sorry 10.0.0.9 mac 02:00:00:00:00:09 port normal;\n}", 2, 47,
      "reserved OpenFlow port name 'normal' in sorry" },
    { SVC "    quorum 0;\n}", 2, 12,
      "number out of range '0' for quorum (expected 1 to 4294967295)" },
    { SVC "    quorum;\n}", 2, 11, "missing number in quorum" },
    { SVC "    quorum 2 hysteresis x;\n}", 2, 25,
      "invalid number 'x' for hysteresis" },
    { SVC "    quorum 2 hysterisis 1;\n}", 2, 14,
      "unknown keyword 'hysterisis' in quorum (did you mean 'hysteresis'?)" },
    { SVC "    inhibit-on-failure true;\n}", 2, 24,
      "unexpected 'true' after inhibit-on-failure (missing ';'?)" },
    { SVC "    expire-nodest-conn 1;\n}", 2, 24,
      "unexpected '1' after expire-nodest-conn (missing ';'?)" },
    { SVC "    inhibit-on-failure;\n    inhibit-on-failure;\n}", 3, 5,
      "duplicate 'inhibit-on-failure' in service 'web' (first at line 2)" },
    { SVC "    persistence 1s;\n    persistence 2s;\n}", 3, 5,
      "duplicate 'persistence' in service 'web'" },
    { SVC "    sorry 10.0.0.9 mac 02:00:00:00:00:09;\n"
      "    sorry 10.0.0.8 mac 02:00:00:00:00:08;\n}", 3, 5,
      "duplicate 'sorry' in service 'web'" },
    { SVC "    vip 10.0.0.1 tcp 80\n    quorum 1;\n}", 2, 24,
      "expected ';' after vip statement" },
    { SVC "    persistance 60s;\n}", 2, 5,
      "unknown keyword 'persistance' in service 'web' (did you mean "
      "'persistence'?)" },
    { SVC "    check udp send \"x\" expect_reply \"y\";\n}", 2, 24,
      "unknown keyword 'expect_reply' in check" },
    { SVC "    check udp sned \"x\";\n}", 2, 15,
      "unknown keyword 'sned' in check (did you mean 'send'?)" },
    { SVC "    check upd;\n}", 2, 11,
      "unknown check type 'upd' (expected one of: tcp, tcp-half-open, http, "
      "https, exec, udp)" },
    { SVC "    real 10.0.0.1 mac 02:00:00:00:00:01 port sorry;\n}", 2, 45,
      "expected ';' after real statement" },

    /* Bytes. */
    { SVC "    vip 10.0.0.1 tcp 80;\xff\n}", 2, 25, "invalid UTF-8 byte 0xff" },
    { SVC "    # comment \xc3\xa9 then \xc3\x28\n}", 2, 22,
      "invalid UTF-8 byte 0xc3" },
    { SVC "    check http path \"\xe2\x82\xac\xed\xa0\x80\";\n}", 2, 23,
      "invalid UTF-8 byte 0xed" },
    { SVC "    vip 10.0.0.1 tcp 80; \xc3\xa9\n}", 2, 26,
      "stray character '\\xc3\\xa9'" },
};

static void
test_errors(void **state)
{
    bool failed = false;
    for (size_t i = 0; i < sizeof error_cases / sizeof *error_cases; i++) {
        const struct error_case *c = &error_cases[i];
        struct parsed *p = parse(c->text);
        const struct diag_record *r = p->d.n_records ? &p->d.records[0]
                                                      : NULL;
        if (p->ok || !r || r->loc.line != c->line || r->loc.col != c->col
            || !strstr(r->message, c->message)
            || strcmp(r->loc.file, "t.lb")) {
            fprintf(stderr, "case %zu: expected %d:%d: %s\n  got:\n", i,
                    c->line, c->col, c->message);
            dump_diags(p);
            failed = true;
        }
        parsed_free(p);
    }
    assert_false(failed);
}

/* Common mistakes give one error, not a cascade. */
static void
test_no_cascade(void **state)
{
    static const char *const cases[] = {
        SVC "    real 10.0.0.11 mac;\n}",
        SVC "    vip 10.0.0.1 tcp 80\n    scheduler sh;\n}",
        SVC "    sheduler sh;\n    vip 10.0.0.1 tcp 80;\n}",
        SVC "    check http path \"/x;\n    vip 10.0.0.1 tcp 80;\n}",
        SVC "    real 10.0.0.11 mac 02:00:00:00:00:01 wieght 3;\n}",
        SVC "    vip 10.0.0.1 tcp 80;\n\nservice b { vip 10.0.0.2 tcp 80; }",
        "service a { vip 10.0.0.1 tcp 80; } ;",
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct parsed *p = parse(cases[i]);
        if (p->d.n_errors != 1) {
            fprintf(stderr, "case %zu:\n", i);
            dump_diags(p);
        }
        assert_int_equal(p->d.n_errors, 1);
        parsed_free(p);
    }
}

/* NUL bytes are not the end of the text. */
static void
test_nul_byte(void **state)
{
    static const char text[] = "service a {\n  vip 10.0.0.1 tcp 80;\0\n}\n";
    struct parsed *p = parse_n(text, sizeof text - 1);
    assert_false(p->ok);
    assert_int_equal(p->d.n_errors, 1);
    assert_int_equal(p->d.records[0].loc.line, 2);
    assert_int_equal(p->d.records[0].loc.col, 23);
    assert_non_null(strstr(p->d.records[0].message, "NUL byte"));
    parsed_free(p);
}

/* One run reports the errors of several statements and services. */
static void
test_recovery(void **state)
{
    struct parsed *p = parse(
        "service a {\n"
        "    vip 10.0.0.1 tcp 80 {;\n"         /* 2:25 unexpected '{' */
        "    scheduler rrr;\n"                 /* 3:15 */
        "    real 10.0.0.11 wieght 2;\n"        /* 4:20 and 4:5 (no mac) */
        "}\n"
        "junk here;\n"                         /* 6:1 */
        "service b {\n"
        "    vip 10.0.0.2 tcp 80\n"            /* 8:24 missing ';' */
        "    real 10.0.0.12 mac zz;\n"         /* 9:24 */
        "}\n"
        "service c { vip 10.0.0.3 tcp 80; }\n");
    static const struct { int line, col; } expected[] = {
        { 2, 25 }, { 3, 15 }, { 4, 20 }, { 4, 5 }, { 6, 1 }, { 8, 24 },
        { 9, 24 },
    };
    size_t n = sizeof expected / sizeof *expected;
    if (p->d.n_records != n) {
        dump_diags(p);
    }
    assert_int_equal(p->d.n_records, n);
    for (size_t i = 0; i < n; i++) {
        if (p->d.records[i].loc.line != expected[i].line
            || p->d.records[i].loc.col != expected[i].col) {
            dump_diags(p);
            fail_msg("error %zu at %d:%d, expected %d:%d", i,
                     p->d.records[i].loc.line, p->d.records[i].loc.col,
                     expected[i].line, expected[i].col);
        }
    }
    assert_false(p->ok);
    parsed_free(p);
}

/* Random bytes and random token soup: never crash, never loop, always a
 * consistent answer (checked in parse_n). Run under ASan in CI. */
static void
test_random_input(void **state)
{
    static const char *const pieces[] = {
        "service", "vip", "vip-mac", "scheduler", "real", "check", "mac",
        "port", "weight", "interval", "timeout", "rise", "fall", "path",
        "expect", "body", "command", "{", "}", ";", " ", "\n", "\t", "#",
        "\"", "\\", "10.0.0.1", "2001:db8::1", "02:00:00:00:00:01", "tcp",
        "udp", "80", "1s", "500ms", "wrr", "x", "\xff", "\xc3\xa9", "\0",
        "99999999999999999999", "@",
        /* Issue 4. */
        "persistence", "stickiness", "udp-timeout", "sorry", "quorum",
        "inhibit-on-failure", "expire-nodest-conn", "netmask", "prefix",
        "idle", "hysteresis", "send", "reply", "auto", "learn", "fo",
        "10.0.0.0/24", "8000-8100", "255.255.255.0", "300s", "1500ms",
    };
    const size_t n_pieces = sizeof pieces / sizeof *pieces;
    unsigned int seed = 12345;
    char buf[4096];

    for (int iter = 0; iter < 20000; iter++) {
        size_t len = 0;
        size_t target = rand_r(&seed) % 400;
        if (iter % 2) {
            /* Raw bytes. */
            for (len = 0; len < target; len++) {
                buf[len] = rand_r(&seed);
            }
        } else {
            while (len < target) {
                const char *piece = pieces[rand_r(&seed) % n_pieces];
                size_t plen = *piece ? strlen(piece) : 1;
                if (len + plen >= sizeof buf) {
                    break;
                }
                memcpy(buf + len, piece, plen);
                len += plen;
            }
        }
        buf[len] = '\0';
        parsed_free(parse_n(buf, len));
    }
}

static double
seconds_to_parse(const char *text, size_t len, bool expect_ok)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    struct parsed *p = parse_n(text, len);
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_int_equal(p->ok, expect_ok);
    parsed_free(p);
    return (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
}

/* Huge inputs stay linear: 8x the input may not take much more than 8x
 * the time (generous bounds; the point is to catch quadratic blowups). */
static void
test_huge_inputs(void **state)
{
    const size_t unit = strlen(example);
    size_t n = 16000;
    char *text = malloc(n * unit + 1);
    for (size_t i = 0; i < n; i++) {
        memcpy(text + i * unit, example, unit);
    }
    text[n * unit] = '\0';
    double small = seconds_to_parse(text, n / 8 * unit, true);
    double big = seconds_to_parse(text, n * unit, true);
    fprintf(stderr, "%zu services: %.3fs, %zu: %.3fs\n", n / 8, small, n,
            big);
    assert_true(big < 30 * small + 0.5);
    free(text);

    /* One enormous word, string, comment and run of stray bytes; a long
     * run of errors. */
    size_t big_len = 2 << 20;
    text = malloc(big_len + 64);
    const char *prefixes[] = { "service a { vip ", "service a { vip \"",
                               "#", "service a { vip 1.1.1.1 tcp 80; ",
                               "", "service a {" };
    const char fill[] = { 'a', 'b', 'c', '@', ';', '{' };
    for (size_t k = 0; k < sizeof fill; k++) {
        size_t plen = strlen(prefixes[k]);
        memcpy(text, prefixes[k], plen);
        memset(text + plen, fill[k], big_len);
        text[plen + big_len] = '\0';
        double t = seconds_to_parse(text, plen + big_len, k == 2);
        fprintf(stderr, "2 MiB of '%c': %.3fs\n", fill[k], t);
        assert_true(t < 20);
    }
    free(text);
}

/* Where a large text is cut for two parsers: only before a 'service' at
 * column 1 at the top level, never inside a comment or string, and not at
 * all when the text before is not clean. */
static void
test_split_point(void **state)
{
    int line = 0;
    const char *t = "service a {\n}\nservice b {\n}\n";
    assert_int_equal(dsl_split_point(t, strlen(t), 0, &line), 14);
    assert_int_equal(line, 3);
    /* 'want' is a lower bound. */
    assert_int_equal(dsl_split_point(t, strlen(t), 15, &line), 0);

    /* Braces in comments and strings count for nothing; a nested or
     * indented 'service' is no cut. */
    t = "service a {\n# }\nservice x {\n}\n  service y {}\n"
        "real \"}\\\"{\";\n}\nservice b {}\n";
    line = 0;
    size_t cut = dsl_split_point(t, strlen(t), 0, &line);
    assert_true(cut > 0);
    assert_string_equal(t + cut, "service b {}\n");
    assert_int_equal(line, 8);

    /* Unclean text before any cut: an unterminated string, a stray '}',
     * a comment without its newline. */
    const char *unclean[] = {
        "service a { vip \"x;\n}\nservice b {}\n",
        "service a { vip \"x\\\n\"; }\nservice b {}\n",
        "service a { } }\nservice b {}\n",
        "# no newline",
    };
    for (size_t i = 0; i < sizeof unclean / sizeof *unclean; i++) {
        assert_int_equal(dsl_split_point(unclean[i], strlen(unclean[i]), 0,
                                         &line), 0);
    }
}

/* A text over the size parsed in two halves at once: the same services, in
 * order, with the same locations as in one piece; an error in either half
 * is reported exactly as in one piece (the whole text is parsed again). */
static void
test_parallel_parse(void **state)
{
    /* The example with the name s00000, s00001, ... (same length). */
    const char *body = strchr(example, '\n');
    const size_t n = 12000, unit = strlen("service s00000 {") + strlen(body);
    const int lines_per = 8;
    char *text = malloc(n * unit + 1);
    for (size_t i = 0; i < n; i++) {
        snprintf(text + i * unit, unit + 1, "service s%05zu {%s", i, body);
    }
    assert_true(n * unit >= (2u << 20));

    struct parsed *p = parse(text);
    if (!p->ok) {
        dump_diags(p);
    }
    assert_true(p->ok);
    assert_int_equal(p->spec.n_services, n);
    for (size_t i = 0; i < n; i++) {
        const struct lb_service *svc = &p->spec.services[i];
        char want[16];
        snprintf(want, sizeof want, "s%05zu", i);
        assert_string_equal(svc->name, want);
        assert_loc(&svc->loc, (int) i * lines_per + 1, 9);
        assert_int_equal(svc->n_reals, 2);
        assert_loc(&svc->reals[1].loc, (int) i * lines_per + 6, 5);
    }
    parsed_free(p);

    /* One bad address near the end, then near the start. */
    size_t at[] = { n - 3, 2 };
    for (size_t k = 0; k < 2; k++) {
        char *bad = text + at[k] * unit + strlen("service s00000 {\n    vip ");
        memcpy(bad, "10.0.0.300", 10);
        p = parse(text);
        assert_false(p->ok);
        assert_int_equal(p->d.n_errors, 1);
        assert_loc(&p->d.records[0].loc, (int) at[k] * lines_per + 2, 9);
        parsed_free(p);
        memcpy(bad, "10.0.0.100", 10);
    }
    free(text);
}

/* The address health checks probe from, and its family check. */
/* tcp-half-open: a type word with dashes, the same keys and rules as tcp. */
static void
test_check_half_open(void **state)
{
    struct parsed *p = parse("service w {\n"
                             "  vip 10.0.0.1 tcp 80;\n"
                             "  real 10.0.0.2 mac 02:00:00:00:00:01;\n"
                             "  check tcp-half-open port 8080 interval 2s;\n"
                             "}\n");
    assert_true(p->ok);
    const struct lb_check *c = &p->spec.services[0].check;
    assert_int_equal(c->type, LB_CHECK_TCP_HALF_OPEN);
    assert_int_equal(c->port, 8080);
    assert_int_equal(c->interval_ms, 2000);
    assert_string_equal(lb_check_type_name(c->type), "tcp-half-open");
    assert_true(lb_check(&p->spec, &p->d));
    parsed_free(p);

    /* Like tcp: no payload to send. */
    p = parse("service w {\n"
              "  vip 10.0.0.1 tcp 80;\n"
              "  real 10.0.0.2 mac 02:00:00:00:00:01;\n"
              "  check tcp-half-open send \"x\";\n"
              "}\n");
    assert_true(p->ok);
    assert_false(lb_check(&p->spec, &p->d));
    assert_loc(&p->d.records[0].loc, 4, 3);
    assert_non_null(strstr(p->d.records[0].message,
                           "tcp-half-open check of service 'w' has a payload"));
    parsed_free(p);
}

static void
test_check_source(void **state)
{
    struct parsed *p = parse("service w {\n"
                             "  vip 10.0.0.1 tcp 80;\n"
                             "  real 10.0.0.2 mac 02:00:00:00:00:01;\n"
                             "  check tcp source 10.0.0.254;\n"
                             "}\n");
    assert_true(p->ok);
    assert_addr(&p->spec.services[0].check.source, "10.0.0.254");
    assert_loc(&p->spec.services[0].check.source_loc, 4, 20);
    parsed_free(p);

    p = parse("service w {\n"
              "  vip 10.0.0.1 tcp 80;\n"
              "  real 10.0.0.2 mac 02:00:00:00:00:01;\n"
              "  check tcp source 2001:db8::1;\n"
              "}\n");
    assert_true(p->ok);
    assert_false(lb_check(&p->spec, &p->d));
    assert_loc(&p->d.records[0].loc, 4, 20);
    assert_non_null(strstr(p->d.records[0].message, "is IPv6 but its VIP"));
    parsed_free(p);

    p = parse("service w {\n"
              "  vip 10.0.0.1 tcp 80;\n"
              "  check tcp source 10.0.0.300;\n"
              "}\n");
    assert_false(p->ok);
    assert_loc(&p->d.records[0].loc, 3, 20);
    parsed_free(p);
}


/* The IPVS / keepalived statements of issue 4: every field and its
 * location. */
static const char ipvs_example[] =
    "service web {\n"                                           /* 1 */
    "    vip 10.0.0.0/24 tcp 8000-8100;\n"
    "    scheduler fo;\n"
    "    persistence 300s netmask 255.255.255.0;\n"
    "    stickiness learn idle 60s;\n"                          /* 5 */
    "    sorry 10.1.0.9 mac 02:00:00:00:00:99 port 4;\n"
    "    quorum 2 hysteresis 1;\n"
    "    inhibit-on-failure;\n"
    "    expire-nodest-conn;\n"
    "    real 10.1.0.11 mac 02:00:00:00:00:11;\n"               /* 10 */
    "    real 10.1.0.12 mac 02:00:00:00:00:12;\n"
    "    real 10.1.0.13 mac 02:00:00:00:00:13 weight 2;\n"
    "    check tcp port 8000;\n"
    "}\n"
    "service dns {\n"                                           /* 15 */
    "    vip 2001:db8::53 udp 53;\n"
    "    vip-mac auto;\n"
    "    udp-timeout 30s;\n"
    "    persistence 10m prefix 64;\n"
    "    check udp send \"hello\" reply \"olleh\";\n"           /* 20 */
    "    real 2001:db8::11 mac 02:00:00:00:00:21;\n"
    "}\n"
    "service v4auto { vip 10.0.1.53 udp 0; vip-mac \"auto\"; scheduler rr; }\n"
    "service lc { vip 10.0.1.54 tcp 80; scheduler lc; stickiness conntrack; }\n"
    "service wlc { vip 10.0.1.55 tcp 80; scheduler wlc; }\n";   /* 25 */

static void
test_ipvs_statements(void **state)
{
    struct parsed *p = parse(ipvs_example);
    if (!p->ok) {
        dump_diags(p);
    }
    assert_true(p->ok);
    assert_true(lb_check(&p->spec, &p->d));
    assert_int_equal(p->spec.n_services, 5);

    const struct lb_service *s = &p->spec.services[0];
    assert_addr(&s->vip, "10.0.0.0");
    assert_int_equal(s->vip_prefix_len, 24);
    assert_int_equal(s->port, 8000);
    assert_int_equal(s->port_max, 8100);
    assert_loc(&s->vip_loc, 2, 9);
    assert_false(s->has_vip_mac);
    assert_false(s->vip_mac_auto);
    assert_int_equal(s->scheduler, LB_SCHED_FO);
    assert_loc(&s->scheduler_loc, 3, 15);
    assert_int_equal(s->persistence_s, 300);
    assert_int_equal(s->persistence_prefix_len, 24);
    assert_int_equal(s->persistence_mask_family, AF_INET);
    assert_loc(&s->persistence_loc, 4, 17);
    assert_loc(&s->persistence_prefix_loc, 4, 30);
    assert_int_equal(s->stickiness, LB_STICKY_LEARN);
    assert_int_equal(s->sticky_idle_s, 60);
    assert_loc(&s->stickiness_loc, 5, 16);
    assert_loc(&s->sticky_idle_loc, 5, 27);
    assert_true(s->has_sorry);
    assert_addr(&s->sorry.addr, "10.1.0.9");
    assert_true(s->sorry.has_mac);
    assert_mac(&s->sorry.mac, "02:00:00:00:00:99");
    assert_string_equal(s->sorry.port, "4");
    assert_int_equal(s->sorry.weight, 1);
    assert_loc(&s->sorry.loc, 6, 5);
    assert_loc(&s->sorry.addr_loc, 6, 11);
    assert_loc(&s->sorry.mac_loc, 6, 24);
    assert_loc(&s->sorry.port_loc, 6, 47);
    assert_int_equal(s->quorum, 2);
    assert_int_equal(s->quorum_hysteresis, 1);
    assert_loc(&s->quorum_loc, 7, 12);
    assert_loc(&s->hysteresis_loc, 7, 25);
    assert_true(s->inhibit_on_failure);
    assert_loc(&s->inhibit_loc, 8, 5);
    assert_true(s->expire_nodest_conn);
    assert_loc(&s->expire_nodest_loc, 9, 5);
    assert_int_equal(s->udp_timeout_s, 0);
    assert_int_equal(s->udp_timeout_loc.line, 0);
    assert_int_equal(s->n_reals, 3);
    assert_int_equal(s->check.port, 8000);

    s = &p->spec.services[1];
    assert_int_equal(s->vip.family, AF_INET6);
    assert_int_equal(s->vip_prefix_len, 128);
    assert_int_equal(s->port, 53);
    assert_int_equal(s->port_max, 53);
    assert_true(s->vip_mac_auto);
    assert_true(s->has_vip_mac);
    /* 02 + the first five bytes of FNV-1a-64 of the address. */
    assert_mac(&s->vip_mac, "02:f9:71:93:b7:a3");
    assert_loc(&s->vip_mac_loc, 17, 13);
    assert_int_equal(s->udp_timeout_s, 30);
    assert_loc(&s->udp_timeout_loc, 18, 17);
    assert_int_equal(s->persistence_s, 600);
    assert_int_equal(s->persistence_prefix_len, 64);
    assert_int_equal(s->persistence_mask_family, 0);
    assert_loc(&s->persistence_prefix_loc, 19, 28);
    assert_int_equal(s->stickiness, LB_STICKY_CONNTRACK);
    assert_int_equal(s->sticky_idle_s, 300);        /* The default. */
    assert_int_equal(s->check.type, LB_CHECK_UDP);
    assert_string_equal(s->check.send, "hello");
    assert_string_equal(s->check.expect_reply, "olleh");
    assert_false(s->has_sorry);
    assert_int_equal(s->quorum, 0);
    assert_false(s->inhibit_on_failure);
    assert_false(s->expire_nodest_conn);

    s = &p->spec.services[2];
    assert_int_equal(s->vip_prefix_len, 32);
    assert_int_equal(s->port, 0);
    assert_int_equal(s->port_max, 0);               /* All ports. */
    assert_int_equal(s->persistence_s, 0);
    assert_int_equal(s->persistence_prefix_len, 32);
    assert_mac(&s->vip_mac, "02:00:0a:00:01:35");
    assert_true(s->has_vip_mac);
    assert_int_equal(s->scheduler, LB_SCHED_RR);
    assert_int_equal(p->spec.services[3].scheduler, LB_SCHED_LC);
    assert_int_equal(p->spec.services[3].port_max, 80);
    assert_int_equal(p->spec.services[3].stickiness, LB_STICKY_CONNTRACK);
    assert_int_equal(p->spec.services[4].scheduler, LB_SCHED_WLC);
    parsed_free(p);

    /* The derivation is a function of the VIP only: stable across runs. */
    struct lb_addr a;
    struct lb_mac m;
    assert_null(lb_parse_addr("192.168.1.254", &a));
    lb_vip_mac_auto(&a, &m);
    assert_mac(&m, "02:00:c0:a8:01:fe");
}

/* The same spec in YAML: the two front ends build equal models. */
static const char ipvs_example_yaml[] =
    "services:\n"
    "  - name: web\n"
    "    vip: 10.0.0.0/24\n"
    "    protocol: tcp\n"
    "    port: 8000-8100\n"
    "    scheduler: fo\n"
    "    persistence: {timeout: 300s, netmask: 255.255.255.0}\n"
    "    stickiness: learn\n"
    "    sticky_idle: 60s\n"
    "    sorry: {address: 10.1.0.9, mac: \"02:00:00:00:00:99\", port: 4}\n"
    "    quorum: 2\n"
    "    hysteresis: 1\n"
    "    inhibit_on_failure: true\n"
    "    expire_nodest_conn: true\n"
    "    check: {type: tcp, port: 8000}\n"
    "    reals:\n"
    "      - {address: 10.1.0.11, mac: \"02:00:00:00:00:11\"}\n"
    "      - {address: 10.1.0.12, mac: \"02:00:00:00:00:12\"}\n"
    "      - {address: 10.1.0.13, mac: \"02:00:00:00:00:13\", weight: 2}\n"
    "  - name: dns\n"
    "    vip: 2001:db8::53\n"
    "    protocol: udp\n"
    "    port: 53\n"
    "    vip_mac: auto\n"
    "    udp_timeout: 30s\n"
    "    persistence: {timeout: 10m, prefix: 64}\n"
    "    check: {type: udp, send: hello, expect_reply: olleh}\n"
    "    reals:\n"
    "      - {address: \"2001:db8::11\", mac: \"02:00:00:00:00:21\"}\n"
    "  - {name: v4auto, vip: 10.0.1.53, protocol: udp, port: 0,\n"
    "     vip_mac: auto, scheduler: rr}\n"
    "  - {name: lc, vip: 10.0.1.54, protocol: tcp, port: 80, scheduler: lc,\n"
    "     stickiness: conntrack}\n"
    "  - {name: wlc, vip: 10.0.1.55, protocol: tcp, port: 80,\n"
    "     scheduler: wlc}\n";

static void
assert_same_str(const char *a, const char *b)
{
    if (!a || !b) {
        assert_true(!a && !b);
    } else {
        assert_string_equal(a, b);
    }
}

static void
assert_same_real(const struct lb_real *a, const struct lb_real *b)
{
    assert_true(lb_addr_equal(&a->addr, &b->addr));
    assert_int_equal(a->has_mac, b->has_mac);
    assert_memory_equal(&a->mac, &b->mac, sizeof a->mac);
    assert_same_str(a->port, b->port);
    assert_int_equal(a->weight, b->weight);
}

/* Every field of the model but the locations. */
static void
assert_same_model(const struct lb_spec *x, const struct lb_spec *y)
{
    assert_int_equal(x->n_services, y->n_services);
    for (size_t i = 0; i < x->n_services; i++) {
        const struct lb_service *a = &x->services[i], *b = &y->services[i];
        assert_string_equal(a->name, b->name);
        assert_int_equal(a->has_vip, b->has_vip);
        assert_true(lb_addr_equal(&a->vip, &b->vip));
        assert_int_equal(a->proto, b->proto);
        assert_int_equal(a->port, b->port);
        assert_int_equal(a->port_max, b->port_max);
        assert_int_equal(a->vip_prefix_len, b->vip_prefix_len);
        assert_int_equal(a->has_vip_mac, b->has_vip_mac);
        assert_memory_equal(&a->vip_mac, &b->vip_mac, sizeof a->vip_mac);
        assert_int_equal(a->vip_mac_auto, b->vip_mac_auto);
        assert_int_equal(a->scheduler, b->scheduler);
        assert_int_equal(a->n_reals, b->n_reals);
        for (size_t r = 0; r < a->n_reals; r++) {
            assert_same_real(&a->reals[r], &b->reals[r]);
        }
        const struct lb_check *ca = &a->check, *cb = &b->check;
        assert_int_equal(ca->type, cb->type);
        assert_int_equal(ca->interval_ms, cb->interval_ms);
        assert_int_equal(ca->timeout_ms, cb->timeout_ms);
        assert_int_equal(ca->rise, cb->rise);
        assert_int_equal(ca->fall, cb->fall);
        assert_int_equal(ca->port, cb->port);
        assert_same_str(ca->path, cb->path);
        assert_int_equal(ca->expect_status, cb->expect_status);
        assert_same_str(ca->expect_body, cb->expect_body);
        assert_same_str(ca->command, cb->command);
        assert_same_str(ca->send, cb->send);
        assert_same_str(ca->expect_reply, cb->expect_reply);
        assert_true(lb_addr_equal(&ca->source, &cb->source));
        assert_int_equal(a->persistence_s, b->persistence_s);
        assert_int_equal(a->persistence_prefix_len,
                         b->persistence_prefix_len);
        assert_int_equal(a->persistence_mask_family,
                         b->persistence_mask_family);
        assert_int_equal(a->stickiness, b->stickiness);
        assert_int_equal(a->sticky_idle_s, b->sticky_idle_s);
        assert_int_equal(a->udp_timeout_s, b->udp_timeout_s);
        assert_int_equal(a->has_sorry, b->has_sorry);
        assert_same_real(&a->sorry, &b->sorry);
        assert_int_equal(a->quorum, b->quorum);
        assert_int_equal(a->quorum_hysteresis, b->quorum_hysteresis);
        assert_int_equal(a->inhibit_on_failure, b->inhibit_on_failure);
        assert_int_equal(a->expire_nodest_conn, b->expire_nodest_conn);
        /* Given in one syntax iff given in the other. */
        assert_int_equal(!a->persistence_prefix_loc.line,
                         !b->persistence_prefix_loc.line);
        assert_int_equal(!a->sticky_idle_loc.line, !b->sticky_idle_loc.line);
        assert_int_equal(!a->udp_timeout_loc.line, !b->udp_timeout_loc.line);
        assert_int_equal(!a->hysteresis_loc.line, !b->hysteresis_loc.line);
    }
}

static void
test_same_model_as_yaml(void **state)
{
    struct parsed *p = parse(ipvs_example);
    assert_true(p->ok);
    struct lb_spec y;
    struct diag d;
    lb_spec_init(&y);
    diag_init(&d);
    assert_true(lb_yaml_parse("t.yaml", ipvs_example_yaml,
                              strlen(ipvs_example_yaml), &y, &d));
    if (d.n_errors) {
        for (size_t i = 0; i < d.n_records; i++) {
            fprintf(stderr, "  %d:%d: %s\n", d.records[i].loc.line,
                    d.records[i].loc.col, d.records[i].message);
        }
    }
    /* Warnings only (services without reals). */
    assert_true(lb_check(&y, &d));
    assert_int_equal(d.n_errors, 0);
    assert_same_model(&p->spec, &y);
    lb_spec_destroy(&y);
    diag_destroy(&d);
    parsed_free(p);
}

/* Semantic errors of the new statements, from DSL text through check.c:
 * the first error, exactly where. */
static const struct error_case check_cases[] = {
    { SVC "    vip 10.0.0.0/24 tcp 80;\n    vip-mac auto;\n}", 3, 13,
      "vip-mac of service 'web' needs a single-address VIP" },
    { SVC "    vip 10.0.0.0/24 tcp 80;\n    vip-mac 02:00:00:00:01:00;\n}",
      3, 13, "needs a single-address VIP" },
    { SVC "    vip 10.0.0.0/24 tcp 80;\n}\n"
      "service b {\n    vip 10.0.0.7 tcp 80;\n}", 5, 9,
      "service 'b' (VIP 10.0.0.7 tcp port 80) overlaps service 'web' "
      "(10.0.0.0/24 tcp port 80, at t.lb:2:9)" },
    { SVC "    vip 10.0.0.1 tcp 8000-8100;\n}\n"
      "service b {\n    vip 10.0.0.1 tcp 8100-8200;\n}", 5, 9,
      "service 'b' (VIP 10.0.0.1 tcp ports 8100-8200) overlaps service "
      "'web' (10.0.0.1 tcp ports 8000-8100" },
    { SVC "    vip 10.0.0.0/16 udp 0;\n}\n"
      "service b {\n    vip 10.0.3.0/24 udp 53;\n}", 5, 9,
      "overlaps service 'web' (10.0.0.0/16 udp all ports" },
    { SVC "    vip 10.0.0.0/24 tcp 80;\n}\n"
      "service b {\n    vip 10.0.0.0/24 tcp 80;\n}", 5, 9,
      "service 'b' uses VIP 10.0.0.0/24 tcp port 80, already used by "
      "service 'web'" },
    { SVC "    vip 127.0.0.0/16 tcp 80;\n}", 2, 9,
      "VIP 127.0.0.0/16 of service 'web' overlaps loopback addresses" },
    { SVC "    vip 10.0.0.0/24 tcp 80;\n"
      "    real 10.0.0.11 mac 02:00:00:00:00:11;\n}", 3, 10,
      "real 10.0.0.11 of service 'web' is inside the service's VIP prefix "
      "10.0.0.0/24" },
    { SVC "    vip 10.0.0.1 tcp 80;\n    persistence 60s netmask ffff::;\n}",
      3, 29, "persistence netmask of service 'web' is IPv6 but its VIP is "
      "IPv4" },
    { SVC "    vip 10.0.0.1 tcp 80;\n    persistence 60s prefix 33;\n}",
      3, 28, "persistence prefix /33 of service 'web' is longer than an "
      "IPv4 address (at most /32)" },
    { SVC "    vip 10.0.0.1 tcp 80;\n    stickiness conntrack idle 9s;\n}",
      3, 31, "idle timeout of service 'web' applies only to stickiness "
      "learn" },
    { SVC "    vip 10.0.0.1 tcp 80;\n    udp-timeout 9s;\n}", 3, 17,
      "UDP timeout of service 'web' applies only to udp services (this one "
      "is tcp)" },
    { SVC "    vip 10.0.0.1 tcp 80;\n"
      "    sorry 2001:db8::9 mac 02:00:00:00:00:09;\n}", 3, 11,
      "sorry server 2001:db8::9 is IPv6 but the VIP of service 'web' is "
      "IPv4" },
    { SVC "    vip 10.0.0.1 tcp 80;\n"
      "    sorry 10.0.0.9 mac 01:00:00:00:00:09;\n}", 3, 24,
      "mac 01:00:00:00:00:09 of sorry server 10.0.0.9 is a multicast MAC" },
    { SVC "    vip 10.0.0.1 tcp 80;\n"
      "    real 10.0.0.11 mac 02:00:00:00:00:11;\n"
      "    sorry 10.0.0.11 mac 02:00:00:00:00:11;\n}", 4, 11,
      "sorry server 10.0.0.11 of service 'web' is also one of its reals "
      "(at t.lb:3:10)" },
    { SVC "    vip 10.0.0.1 tcp 80;\n"
      "    sorry 10.0.0.9 mac 02:00:00:00:00:09 port 3;\n}\n"
      "service b {\n    vip 10.0.0.2 tcp 80;\n"
      "    real 10.0.0.9 mac 02:00:00:00:00:09;\n}", 7, 5,
      "real 10.0.0.9 has port NORMAL (no port) here but port 3 in service "
      "'web'" },
    { SVC "    vip 10.0.0.1 tcp 80;\n    quorum 2;\n"
      "    real 10.0.0.11 mac 02:00:00:00:00:11;\n}", 3, 12,
      "quorum 2 of service 'web' is more than its 1 real: the service would "
      "never be up" },
    { SVC "    vip 10.0.0.1 tcp 80;\n    quorum 2 hysteresis 2;\n"
      "    real 10.0.0.11 mac 02:00:00:00:00:11;\n"
      "    real 10.0.0.12 mac 02:00:00:00:00:12;\n"
      "    real 10.0.0.13 mac 02:00:00:00:00:13;\n}", 3, 25,
      "hysteresis 2 of service 'web' must be less than its quorum 2" },
    { SVC "    vip 10.0.0.1 tcp 80;\n    quorum 2 hysteresis 1;\n"
      "    real 10.0.0.11 mac 02:00:00:00:00:11;\n"
      "    real 10.0.0.12 mac 02:00:00:00:00:12;\n}", 3, 25,
      "quorum 2 + hysteresis 1 of service 'web' is more than its 2 reals" },
    { SVC "    vip 10.0.0.1 tcp 80;\n    check udp;\n}", 3, 5,
      "udp check of service 'web', a tcp service" },
    { SVC "    vip 10.0.0.1 udp 53;\n    check tcp send \"x\";\n}", 3, 5,
      "tcp check of service 'web' has a payload to send" },
    { SVC "    vip 10.0.0.1 udp 53;\n    check exec command \"true\" "
      "reply \"x\";\n}", 3, 5,
      "exec check of service 'web' has an expected reply" },
    { SVC "    vip 10.0.0.1 udp 5000-5100;\n    check udp;\n}", 3, 5,
      "udp check of service 'web' needs a port: the service covers udp "
      "ports 5000-5100" },
};

static void
test_ipvs_check_errors(void **state)
{
    bool failed = false;
    for (size_t i = 0; i < sizeof check_cases / sizeof *check_cases; i++) {
        const struct error_case *c = &check_cases[i];
        struct parsed *p = parse(c->text);
        if (!p->ok) {
            fprintf(stderr, "check case %zu does not parse:\n", i);
            dump_diags(p);
            failed = true;
            parsed_free(p);
            continue;
        }
        bool ok = lb_check(&p->spec, &p->d);
        const struct diag_record *r = NULL;
        for (size_t k = 0; k < p->d.n_records; k++) {
            if (p->d.records[k].severity == DIAG_ERROR) {
                r = &p->d.records[k];
                break;
            }
        }
        if (ok || !r || r->loc.line != c->line || r->loc.col != c->col
            || !strstr(r->message, c->message)) {
            fprintf(stderr, "check case %zu: expected %d:%d: %s\n  got:\n", i,
                    c->line, c->col, c->message);
            dump_diags(p);
            failed = true;
        }
        parsed_free(p);
    }
    assert_false(failed);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example),
        cmocka_unit_test(test_check_source),
        cmocka_unit_test(test_check_half_open),
        cmocka_unit_test(test_ipvs_statements),
        cmocka_unit_test(test_same_model_as_yaml),
        cmocka_unit_test(test_ipvs_check_errors),
        cmocka_unit_test(test_several_services),
        cmocka_unit_test(test_empty_and_comments_only),
        cmocka_unit_test(test_appends),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_no_cascade),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_recovery),
        cmocka_unit_test(test_random_input),
        cmocka_unit_test(test_huge_inputs),
        cmocka_unit_test(test_split_point),
        cmocka_unit_test(test_parallel_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
