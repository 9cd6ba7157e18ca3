/* Unit tests of compiler/check.c: each semantic error and warning, with its
 * exact location and message, on specs built in code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "check.h"
#include "diag.h"
#include "spec.h"
#include "values.h"

struct t {
    struct lb_spec spec;
    struct diag d;
    const char *file;
};

static int
setup(void **state)
{
    struct t *t = calloc(1, sizeof *t);
    lb_spec_init(&t->spec);
    diag_init(&t->d);
    t->file = diag_intern_file(&t->d, "t.lb");
    *state = t;
    return 0;
}

static int
teardown(void **state)
{
    struct t *t = *state;
    lb_spec_destroy(&t->spec);
    diag_destroy(&t->d);
    free(t);
    return 0;
}

static struct location
at(struct t *t, int line, int col)
{
    struct location loc = { t->file, line, col };
    return loc;
}

/* A service as the DSL would give it: "service NAME {" on 'line' (name at
 * column 9), "vip ADDR PROTO PORT;" on line+1 (address at column 9). */
static struct lb_service *
svc(struct t *t, const char *name, int line, const char *vip,
    enum lb_proto proto, uint16_t port)
{
    struct lb_service *s = lb_spec_add_service(&t->spec);
    s->name = strdup(name);
    s->loc = at(t, line, 9);
    if (vip) {
        assert_null(lb_parse_addr(vip, &s->vip));
        s->has_vip = true;
        s->proto = proto;
        s->port = port;
        s->vip_loc = at(t, line + 1, 9);
    }
    return s;
}

/* "real ADDR mac MAC port P weight W;" on 'line': real at column 5, address
 * at 10, mac at 30, port at 52, weight at 60. */
static struct lb_real *
real(struct t *t, struct lb_service *s, int line, const char *addr,
     const char *mac)
{
    struct lb_real *r = lb_service_add_real(s);
    assert_null(lb_parse_addr(addr, &r->addr));
    r->loc = at(t, line, 5);
    r->addr_loc = at(t, line, 10);
    if (mac) {
        assert_null(lb_parse_mac(mac, &r->mac));
        r->has_mac = true;
        r->mac_loc = at(t, line, 30);
    }
    r->port_loc = at(t, line, 52);
    r->weight_loc = at(t, line, 60);
    return r;
}

static void
set_port(struct lb_real *r, const char *port)
{
    free(r->port);
    r->port = strdup(port);
}

static void
set_vip_mac(struct t *t, struct lb_service *s, int line, const char *mac)
{
    assert_null(lb_parse_mac(mac, &s->vip_mac));
    s->has_vip_mac = true;
    s->vip_mac_loc = at(t, line, 13);
}

static void
set_check(struct t *t, struct lb_service *s, int line, enum lb_check_type type)
{
    s->check.type = type;
    s->check.loc = at(t, line, 5);
}

/* A correct one-service spec: web, 10.0.0.100 tcp 80, two reals. */
static struct lb_service *
good_web(struct t *t)
{
    struct lb_service *s = svc(t, "web", 1, "10.0.0.100", LB_PROTO_TCP, 80);
    set_vip_mac(t, s, 3, "02:00:00:00:01:00");
    struct lb_real *r = real(t, s, 4, "10.0.0.11", "8e:97:27:0e:e3:18");
    r->weight = 3;
    r = real(t, s, 5, "10.0.0.12", "f6:5e:d3:b7:50:8a");
    set_port(r, "3");
    set_check(t, s, 6, LB_CHECK_TCP);
    s->check.timeout_ms = 500;
    return s;
}

static void
dump(const struct diag *d)
{
    for (size_t i = 0; i < d->n_records; i++) {
        const struct diag_record *r = &d->records[i];
        print_message("  [%zu] %s:%d:%d: %s: %s\n", i,
                      r->loc.file ? r->loc.file : "(null)", r->loc.line,
                      r->loc.col,
                      r->severity == DIAG_ERROR ? "error" : "warning",
                      r->message);
    }
}

/* Asserts that record 'i' is a 'sev' at line:col whose message contains
 * 'substr'. */
static void
expect_at(struct t *t, size_t i, enum diag_severity sev, int line, int col,
          const char *substr)
{
    if (i >= t->d.n_records) {
        dump(&t->d);
        fail_msg("expected a record #%zu (%s), have %zu", i, substr,
                 t->d.n_records);
    }
    const struct diag_record *r = &t->d.records[i];
    if (r->severity != sev || r->loc.line != line || r->loc.col != col
        || !r->loc.file || strcmp(r->loc.file, "t.lb")
        || !strstr(r->message, substr)) {
        dump(&t->d);
        fail_msg("record #%zu: expected %s at t.lb:%d:%d containing '%s'",
                 i, sev == DIAG_ERROR ? "error" : "warning", line, col,
                 substr);
    }
}

/* Asserts the total numbers of errors and warnings. */
static void
expect_counts(struct t *t, size_t errors, size_t warnings)
{
    if (t->d.n_errors != errors || t->d.n_warnings != warnings) {
        dump(&t->d);
        fail_msg("expected %zu errors and %zu warnings, got %zu and %zu",
                 errors, warnings, t->d.n_errors, t->d.n_warnings);
    }
}

/* ---- tests ------------------------------------------------------------- */

static void
test_clean_spec(void **state)
{
    struct t *t = *state;
    good_web(t);
    struct lb_service *s = svc(t, "dns", 10, "2001:db8::53", LB_PROTO_UDP, 53);
    real(t, s, 12, "2001:db8::11", "02:00:00:00:00:11");
    /* Same VIP, other protocol; same VIP and protocol, other port. */
    s = svc(t, "dns-tcp", 20, "2001:db8::53", LB_PROTO_TCP, 53);
    real(t, s, 22, "2001:db8::11", "02:00:00:00:00:11");
    s = svc(t, "https", 30, "10.0.0.100", LB_PROTO_TCP, 443);
    /* A real shared with 'web': same MAC and port ("03" is port 3). */
    struct lb_real *r = real(t, s, 32, "10.0.0.12", "F6:5E:D3:B7:50:8A");
    set_port(r, "03");
    set_check(t, s, 33, LB_CHECK_HTTPS);
    s->check.path = strdup("/health");
    /* A named port is as good as a numbered one. */
    s = svc(t, "named", 40, "10.0.0.101", LB_PROTO_TCP, 80);
    r = real(t, s, 42, "10.0.0.21", "02:00:00:00:00:21");
    set_port(r, "veth-r1");
    r->weight = 65535;
    r = real(t, s, 43, "10.0.0.22", "02:00:00:00:00:22");
    r->weight = 0;              /* One drained real is fine. */
    /* An all-ports service on another VIP. */
    s = svc(t, "all", 50, "10.0.0.102", LB_PROTO_UDP, 0);
    real(t, s, 52, "10.0.0.31", "02:00:00:00:00:31");
    set_check(t, s, 53, LB_CHECK_EXEC);
    s->check.command = strdup("true");

    assert_true(lb_check(&t->spec, &t->d));
    expect_counts(t, 0, 0);
}

static void
test_no_services(void **state)
{
    struct t *t = *state;
    assert_false(lb_check(&t->spec, &t->d));
    expect_counts(t, 1, 0);
    expect_at(t, 0, DIAG_ERROR, 1, 1, "no services defined");
}

static void
test_no_vip(void **state)
{
    struct t *t = *state;
    struct lb_service *s = svc(t, "web", 3, NULL, LB_PROTO_TCP, 0);
    real(t, s, 4, "10.0.0.11", "02:00:00:00:00:11");
    assert_false(lb_check(&t->spec, &t->d));
    expect_counts(t, 1, 0);
    expect_at(t, 0, DIAG_ERROR, 3, 9, "service 'web' has no vip");
}

static void
test_duplicate_names(void **state)
{
    struct t *t = *state;
    good_web(t);
    struct lb_service *s = svc(t, "web", 10, "10.0.0.200", LB_PROTO_TCP, 80);
    real(t, s, 12, "10.0.0.13", "02:00:00:00:00:13");
    s = svc(t, "web", 20, "10.0.0.201", LB_PROTO_TCP, 80);
    real(t, s, 22, "10.0.0.14", "02:00:00:00:00:14");
    assert_false(lb_check(&t->spec, &t->d));
    expect_counts(t, 2, 0);
    expect_at(t, 0, DIAG_ERROR, 10, 9,
              "duplicate service name 'web' (first defined at t.lb:1:9)");
    expect_at(t, 1, DIAG_ERROR, 20, 9,
              "duplicate service name 'web' (first defined at t.lb:1:9)");
}

static void
test_vip_clash_same_port(void **state)
{
    struct t *t = *state;
    good_web(t);
    struct lb_service *s = svc(t, "web2", 10, "10.0.0.100", LB_PROTO_TCP, 80);
    real(t, s, 12, "10.0.0.13", "02:00:00:00:00:13");
    assert_false(lb_check(&t->spec, &t->d));
    expect_counts(t, 1, 0);
    expect_at(t, 0, DIAG_ERROR, 11, 9,
              "service 'web2' uses VIP 10.0.0.100 tcp port 80, already used "
              "by service 'web' (at t.lb:2:9)");
}

static void
test_vip_clash_ipv6(void **state)
{
    struct t *t = *state;
    struct lb_service *s = svc(t, "a", 1, "2001:db8::1", LB_PROTO_UDP, 53);
    real(t, s, 3, "2001:db8::11", "02:00:00:00:00:11");
    /* Same address written differently is the same VIP. */
    s = svc(t, "b", 10, "2001:0db8:0:0::1", LB_PROTO_UDP, 53);
    real(t, s, 12, "2001:db8::12", "02:00:00:00:00:12");
    assert_false(lb_check(&t->spec, &t->d));
    expect_counts(t, 1, 0);
    expect_at(t, 0, DIAG_ERROR, 11, 9, "VIP 2001:db8::1 udp port 53");
}

static void
test_vip_clash_all_ports(void **state)
{
    struct t *t = *state;
    good_web(t);
    /* All tcp ports of the VIP overlaps web's port 80. */
    struct lb_service *s = svc(t, "any", 10, "10.0.0.100", LB_PROTO_TCP, 0);
    real(t, s, 12, "10.0.0.13", "02:00:00:00:00:13");
    /* And a later specific port overlaps the all-ports service (web is on
     * 80, not 8080, so 'any' is the one cited). */
    s = svc(t, "alt", 20, "10.0.0.100", LB_PROTO_TCP, 8080);
    real(t, s, 22, "10.0.0.14", "02:00:00:00:00:14");
    /* udp is another protocol: no clash. */
    s = svc(t, "u", 30, "10.0.0.100", LB_PROTO_UDP, 0);
    real(t, s, 32, "10.0.0.15", "02:00:00:00:00:15");
    assert_false(lb_check(&t->spec, &t->d));
    expect_counts(t, 2, 0);
    expect_at(t, 0, DIAG_ERROR, 11, 9,
              "service 'any' (VIP 10.0.0.100 tcp all ports) overlaps service "
              "'web' (10.0.0.100 tcp port 80, at t.lb:2:9)");
    expect_at(t, 1, DIAG_ERROR, 21, 9,
              "service 'alt' (VIP 10.0.0.100 tcp port 8080) overlaps service "
              "'any' (10.0.0.100 tcp all ports, at t.lb:11:9)");
}

static void
test_vip_clash_all_ports_first(void **state)
{
    struct t *t = *state;
    struct lb_service *s = svc(t, "any", 1, "10.0.0.1", LB_PROTO_TCP, 0);
    real(t, s, 3, "10.0.0.13", "02:00:00:00:00:13");
    s = svc(t, "web", 10, "10.0.0.1", LB_PROTO_TCP, 80);
    real(t, s, 12, "10.0.0.14", "02:00:00:00:00:14");
    s = svc(t, "any2", 20, "10.0.0.1", LB_PROTO_TCP, 0);
    real(t, s, 22, "10.0.0.15", "02:00:00:00:00:15");
    assert_false(lb_check(&t->spec, &t->d));
    expect_counts(t, 2, 0);
    expect_at(t, 0, DIAG_ERROR, 11, 9, "overlaps service 'any'");
    expect_at(t, 1, DIAG_ERROR, 21, 9,
              "service 'any2' uses VIP 10.0.0.1 tcp all ports, already used "
              "by service 'any' (at t.lb:2:9)");
}

static void
test_vip_bad_addresses(void **state)
{
    struct t *t = *state;
    static const struct { const char *vip, *why; } cases[] = {
        { "0.0.0.0", "is the unspecified address" },
        { "224.0.0.5", "is a multicast address" },
        { "239.255.255.250", "is a multicast address" },
        { "255.255.255.255", "is the broadcast address" },
        { "127.0.0.1", "is a loopback address" },
        { "127.1.2.3", "is a loopback address" },
        { "0.1.2.3", "is in 0.0.0.0/8" },
        { "::", "is the unspecified address" },
        { "::1", "is a loopback address" },
        { "ff02::1", "is a multicast address" },
        { "::ffff:10.0.0.1", "is an IPv4-mapped" },
    };
    size_t n = sizeof cases / sizeof *cases;
    for (size_t i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%zu", i);
        struct lb_service *s = svc(t, name, 10 * (i + 1), cases[i].vip,
                                   LB_PROTO_TCP, 80);
        real(t, s, 10 * (i + 1) + 2,
             strchr(cases[i].vip, ':') ? "2001:db8::11" : "10.0.0.11",
             "02:00:00:00:00:11");
    }
    assert_false(lb_check(&t->spec, &t->d));
    expect_counts(t, n, 0);
    for (size_t i = 0; i < n; i++) {
        char msg[128];
        struct lb_addr a;
        char text[64];
        assert_null(lb_parse_addr(cases[i].vip, &a));
        lb_addr_format(&a, text, sizeof text);
        snprintf(msg, sizeof msg, "VIP %s of service 's%zu' %s", text, i,
                 cases[i].why);
        expect_at(t, i, DIAG_ERROR, 10 * (i + 1) + 1, 9, msg);
    }
}

static void
test_real_family(void **state)
{
    struct t *t = *state;
    struct lb_service *s = good_web(t);
    real(t, s, 7, "2001:db8::1", "02:00:00:00:00:13");
    s = svc(t, "v6", 10, "2001:db8::100", LB_PROTO_TCP, 80);
    real(t, s, 12, "10.0.0.99", "02:00:00:00:00:14");
    assert_false(lb_check(&t->spec, &t->d));
    expect_counts(t, 2, 0);
    expect_at(t, 0, DIAG_ERROR, 7, 10,
              "real 2001:db8::1 is IPv6 but the VIP of service 'web' is "
              "IPv4");
    expect_at(t, 1, DIAG_ERROR, 12, 10,
              "real 10.0.0.99 is IPv4 but the VIP of service 'v6' is IPv6");
}

static void
test_real_bad_addresses(void **state)
{
    struct t *t = *state;
    struct lb_service *s = good_web(t);
    real(t, s, 7, "224.0.0.1", "02:00:00:00:00:13");
    real(t, s, 8, "0.0.0.0", "02:00:00:00:00:14");
    real(t, s, 9, "127.0.0.1", "02:00:00:00:00:15");
    real(t, s, 10, "10.0.0.100", "02:00:00:00:00:16");
    real(t, s, 11, "255.255.255.255", "02:00:00:00:00:17");
    s = svc(t, "v6", 20, "2001:db8::100", LB_PROTO_TCP, 80);
    real(t, s, 22, "ff02::2", "02:00:00:00:00:18");
    real(t, s, 23, "::", "02:00:00:00:00:19");
    real(t, s, 24, "::1", "02:00:00:00:00:1a");
    real(t, s, 25, "2001:db8::100", "02:00:00:00:00:1b");
    assert_false(lb_check(&t->spec, &t->d));
    expect_counts(t, 9, 0);
    expect_at(t, 0, DIAG_ERROR, 7, 10,
              "real 224.0.0.1 of service 'web' is a multicast address");
    expect_at(t, 1, DIAG_ERROR, 8, 10,
              "real 0.0.0.0 of service 'web' is the unspecified address");
    expect_at(t, 2, DIAG_ERROR, 9, 10,
              "real 127.0.0.1 of service 'web' is a loopback address");
    expect_at(t, 3, DIAG_ERROR, 10, 10,
              "real 10.0.0.100 of service 'web' is the service's own VIP");
    expect_at(t, 4, DIAG_ERROR, 11, 10, "is the broadcast address");
    expect_at(t, 5, DIAG_ERROR, 22, 10,
              "real ff02::2 of service 'v6' is a multicast address");
    expect_at(t, 6, DIAG_ERROR, 23, 10, "real :: of service 'v6' is the "
              "unspecified address");
    expect_at(t, 7, DIAG_ERROR, 24, 10, "is a loopback address");
    expect_at(t, 8, DIAG_ERROR, 25, 10, "is the service's own VIP");
}

static void
test_real_macs(void **state)
{
    struct t *t = *state;
    struct lb_service *s = good_web(t);
    real(t, s, 7, "10.0.0.13", "01:00:5e:00:00:01");
    real(t, s, 8, "10.0.0.14", "00:00:00:00:00:00");
    real(t, s, 9, "10.0.0.15", "ff:ff:ff:ff:ff:ff");
    real(t, s, 10, "10.0.0.16", NULL);
    real(t, s, 11, "10.0.0.17", "03:00:00:00:00:01");
    assert_false(lb_check(&t->spec, &t->d));
    expect_counts(t, 5, 0);
    expect_at(t, 0, DIAG_ERROR, 7, 30,
              "mac 01:00:5e:00:00:01 of real 10.0.0.13 is a multicast MAC");
    expect_at(t, 1, DIAG_ERROR, 8, 30,
              "mac 00:00:00:00:00:00 of real 10.0.0.14 is all zeros");
    expect_at(t, 2, DIAG_ERROR, 9, 30, "is the broadcast MAC");
    expect_at(t, 3, DIAG_ERROR, 10, 5,
              "real 10.0.0.16 of service 'web' has no mac");
    expect_at(t, 4, DIAG_ERROR, 11, 30, "is a multicast MAC");
}

static void
test_vip_macs(void **state)
{
    struct t *t = *state;
    struct lb_service *s = good_web(t);
    set_vip_mac(t, s, 3, "33:33:00:00:00:01");
    s = svc(t, "b", 10, "10.0.0.101", LB_PROTO_TCP, 80);
    set_vip_mac(t, s, 12, "00:00:00:00:00:00");
    real(t, s, 13, "10.0.0.21", "02:00:00:00:00:21");
    assert_false(lb_check(&t->spec, &t->d));
    expect_counts(t, 2, 0);
    expect_at(t, 0, DIAG_ERROR, 3, 13,
              "vip-mac 33:33:00:00:00:01 of service 'web' is a multicast MAC");
    expect_at(t, 1, DIAG_ERROR, 12, 13,
              "vip-mac 00:00:00:00:00:00 of service 'b' is all zeros");
}

/* One ARP/ND responder per VIP address: services sharing a VIP (other
 * ports or protocols) must not declare different vip-macs. */
static void
test_vip_mac_conflict(void **state)
{
    struct t *t = *state;
    good_web(t);                                /* 02:00:00:00:01:00 */
    struct lb_service *s = svc(t, "same", 10, "10.0.0.100", LB_PROTO_TCP,
                               443);
    set_vip_mac(t, s, 12, "02:00:00:00:01:00");
    real(t, s, 13, "10.0.0.21", "02:00:00:00:00:21");
    s = svc(t, "none", 20, "10.0.0.100", LB_PROTO_UDP, 53);
    real(t, s, 23, "10.0.0.22", "02:00:00:00:00:22");
    s = svc(t, "other", 30, "10.0.0.100", LB_PROTO_UDP, 54);
    set_vip_mac(t, s, 32, "02:00:00:00:01:99");
    real(t, s, 33, "10.0.0.23", "02:00:00:00:00:23");
    s = svc(t, "elsewhere", 40, "10.0.0.101", LB_PROTO_TCP, 80);
    set_vip_mac(t, s, 42, "02:00:00:00:01:99");
    real(t, s, 43, "10.0.0.24", "02:00:00:00:00:24");
    assert_false(lb_check(&t->spec, &t->d));
    expect_counts(t, 1, 0);
    expect_at(t, 0, DIAG_ERROR, 32, 13,
              "vip-mac 02:00:00:00:01:99 of service 'other' differs from "
              "vip-mac 02:00:00:00:01:00 of service 'web' on the same VIP "
              "10.0.0.100 (at t.lb:3:13)");
}

static void
test_real_twice_in_service(void **state)
{
    struct t *t = *state;
    struct lb_service *s = good_web(t);
    real(t, s, 7, "10.0.0.11", "8e:97:27:0e:e3:18");
    real(t, s, 8, "10.0.0.11", "8e:97:27:0e:e3:18");
    assert_false(lb_check(&t->spec, &t->d));
    expect_counts(t, 2, 0);
    expect_at(t, 0, DIAG_ERROR, 7, 10,
              "real 10.0.0.11 is listed twice in service 'web' (first at "
              "t.lb:4:10)");
    expect_at(t, 1, DIAG_ERROR, 8, 10, "(first at t.lb:4:10)");
}

static void
test_real_disagrees_across_services(void **state)
{
    struct t *t = *state;
    good_web(t);                /* 10.0.0.11 mac 8e:.. no port; .12 port 3. */
    struct lb_service *s = svc(t, "b", 10, "10.0.0.101", LB_PROTO_TCP, 80);
    real(t, s, 12, "10.0.0.11", "02:00:00:00:00:99");   /* Other MAC. */
    struct lb_real *r = real(t, s, 13, "10.0.0.12", "f6:5e:d3:b7:50:8a");
    set_port(r, "4");                                   /* Other port. */
    s = svc(t, "c", 20, "10.0.0.102", LB_PROTO_TCP, 80);
    r = real(t, s, 22, "10.0.0.11", "8e:97:27:0e:e3:18");
    set_port(r, "eth1");                                /* Port vs none. */
    real(t, s, 23, "10.0.0.12", "f6:5e:d3:b7:50:8a");   /* None vs 3. */
    assert_false(lb_check(&t->spec, &t->d));
    expect_counts(t, 4, 0);
    expect_at(t, 0, DIAG_ERROR, 12, 30,
              "real 10.0.0.11 has mac 02:00:00:00:00:99 here but mac "
              "8e:97:27:0e:e3:18 in service 'web' (at t.lb:4:30)");
    expect_at(t, 1, DIAG_ERROR, 13, 52,
              "real 10.0.0.12 has port 4 here but port 3 in service 'web' "
              "(at t.lb:5:52)");
    expect_at(t, 2, DIAG_ERROR, 22, 52,
              "real 10.0.0.11 has port eth1 here but port NORMAL (no port) "
              "in service 'web' (at t.lb:4:5)");
    expect_at(t, 3, DIAG_ERROR, 23, 5,
              "real 10.0.0.12 has port NORMAL (no port) here but port 3 in "
              "service 'web' (at t.lb:5:52)");
}

/* What counts as the same forwarding: a port number written two ways, a
 * port name longer than what the checker copies inline; each real is
 * compared with the first one given with its address, also when a later
 * service is the one that differs. */
static void
test_shared_real_same_forwarding_forms(void **state)
{
    struct t *t = *state;
    good_web(t);                /* 10.0.0.11 mac 8e:.. no port; .12 port 3. */
    struct lb_service *s = svc(t, "b", 10, "10.0.0.101", LB_PROTO_TCP, 80);
    struct lb_real *r = real(t, s, 12, "10.0.0.12", "f6:5e:d3:b7:50:8a");
    set_port(r, "03");
    r = real(t, s, 13, "10.0.0.30", "02:00:00:00:00:30");
    set_port(r, "a-port-name-of-24-chars");
    s = svc(t, "c", 20, "10.0.0.102", LB_PROTO_TCP, 80);
    r = real(t, s, 22, "10.0.0.30", "02:00:00:00:00:30");
    set_port(r, "a-port-name-of-24-chars");
    s = svc(t, "d", 30, "10.0.0.103", LB_PROTO_TCP, 80);
    r = real(t, s, 32, "10.0.0.30", "02:00:00:00:00:30");
    set_port(r, "a-port-name-of-24-charz");
    assert_false(lb_check(&t->spec, &t->d));
    expect_counts(t, 1, 0);
    expect_at(t, 0, DIAG_ERROR, 32, 52,
              "real 10.0.0.30 has port a-port-name-of-24-charz here but port "
              "a-port-name-of-24-chars in service 'b' (at t.lb:13:52)");
}

static void
test_weight_range(void **state)
{
    struct t *t = *state;
    struct lb_service *s = good_web(t);
    struct lb_real *r = real(t, s, 7, "10.0.0.13", "02:00:00:00:00:13");
    r->weight = 65536;
    r = real(t, s, 8, "10.0.0.14", "02:00:00:00:00:14");
    r->weight = UINT32_MAX;
    assert_false(lb_check(&t->spec, &t->d));
    expect_counts(t, 2, 0);
    expect_at(t, 0, DIAG_ERROR, 7, 60,
              "weight 65536 of real 10.0.0.13 is out of range (expected 0 "
              "to 65535)");
    expect_at(t, 1, DIAG_ERROR, 8, 60, "weight 4294967295 of real");
}

static void
test_bad_ofport(void **state)
{
    struct t *t = *state;
    struct lb_service *s = good_web(t);
    struct lb_real *r = real(t, s, 7, "10.0.0.13", "02:00:00:00:00:13");
    set_port(r, "normal");
    assert_false(lb_check(&t->spec, &t->d));
    expect_counts(t, 1, 0);
    expect_at(t, 0, DIAG_ERROR, 7, 52, "port 'normal' of real 10.0.0.13");
}

static void
test_no_reals_warning(void **state)
{
    struct t *t = *state;
    good_web(t);
    svc(t, "empty", 10, "10.0.0.101", LB_PROTO_TCP, 80);
    assert_true(lb_check(&t->spec, &t->d));
    expect_counts(t, 0, 1);
    expect_at(t, 0, DIAG_WARNING, 10, 9,
              "service 'empty' has no reals: new connections are dropped");
}

static void
test_all_drained_warning(void **state)
{
    struct t *t = *state;
    struct lb_service *s = good_web(t);
    s->reals[0].weight = 0;
    s->reals[1].weight = 0;
    assert_true(lb_check(&t->spec, &t->d));
    expect_counts(t, 0, 1);
    expect_at(t, 0, DIAG_WARNING, 1, 9,
              "all reals of service 'web' have weight 0 (drained): new "
              "connections are dropped");
}

static void
test_health_checks(void **state)
{
    struct t *t = *state;
    struct lb_service *s = good_web(t);
    s->check.timeout_ms = 2000;                 /* > interval 1s. */

    s = svc(t, "b", 10, "10.0.0.101", LB_PROTO_TCP, 80);
    real(t, s, 12, "10.0.0.21", "02:00:00:00:00:21");
    set_check(t, s, 13, LB_CHECK_TCP);
    s->check.rise = 0;
    s->check.fall = 0;

    s = svc(t, "c", 20, "10.0.0.102", LB_PROTO_TCP, 80);
    real(t, s, 22, "10.0.0.22", "02:00:00:00:00:22");
    set_check(t, s, 23, LB_CHECK_HTTP);
    s->check.command = strdup("curl x");

    s = svc(t, "d", 30, "10.0.0.103", LB_PROTO_TCP, 80);
    real(t, s, 32, "10.0.0.23", "02:00:00:00:00:23");
    set_check(t, s, 33, LB_CHECK_EXEC);

    s = svc(t, "e", 40, "10.0.0.104", LB_PROTO_TCP, 0);
    real(t, s, 42, "10.0.0.24", "02:00:00:00:00:24");
    set_check(t, s, 43, LB_CHECK_TCP);          /* No port to probe. */

    s = svc(t, "f", 50, "10.0.0.105", LB_PROTO_TCP, 80);
    real(t, s, 52, "10.0.0.25", "02:00:00:00:00:25");
    set_check(t, s, 53, LB_CHECK_HTTPS);
    s->check.interval_ms = 0;
    s->check.path = strdup("health");

    /* An exec check needs no port even on an all-ports service, and the
     * default check (none) is never checked. */
    s = svc(t, "g", 60, "10.0.0.106", LB_PROTO_UDP, 0);
    real(t, s, 62, "10.0.0.26", "02:00:00:00:00:26");
    set_check(t, s, 63, LB_CHECK_EXEC);
    s->check.command = strdup("/bin/true");
    s = svc(t, "h", 70, "10.0.0.107", LB_PROTO_UDP, 0);
    real(t, s, 72, "10.0.0.27", "02:00:00:00:00:27");
    s->check.rise = 0;

    assert_false(lb_check(&t->spec, &t->d));
    expect_counts(t, 8, 0);
    expect_at(t, 0, DIAG_ERROR, 6, 5,
              "check timeout 2s of service 'web' is longer than its "
              "interval 1s");
    expect_at(t, 1, DIAG_ERROR, 13, 5,
              "check rise of service 'b' must be at least 1");
    expect_at(t, 2, DIAG_ERROR, 13, 5,
              "check fall of service 'b' must be at least 1");
    expect_at(t, 3, DIAG_ERROR, 23, 5,
              "http check of service 'c' has a command");
    expect_at(t, 4, DIAG_ERROR, 33, 5,
              "exec check of service 'd' has no command");
    expect_at(t, 5, DIAG_ERROR, 43, 5,
              "tcp check of service 'e' needs a port");
    expect_at(t, 6, DIAG_ERROR, 53, 5,
              "check interval of service 'f' must be greater than 0");
    expect_at(t, 7, DIAG_ERROR, 53, 5,
              "check path 'health' of service 'f' must start with '/'");
}

static void
test_too_many_reals(void **state)
{
    struct t *t = *state;
    struct lb_service *ok = svc(t, "ok", 1, "10.1.0.1", LB_PROTO_TCP, 80);
    for (int i = 0; i < 1000; i++) {
        char addr[32];
        snprintf(addr, sizeof addr, "10.2.%d.%d", i / 250, i % 250 + 1);
        real(t, ok, 3 + i, addr, "02:00:00:00:00:01");
    }
    struct lb_service *big = svc(t, "big", 2000, "10.1.0.2", LB_PROTO_TCP,
                                 80);
    for (int i = 0; i < 1001; i++) {
        char addr[32];
        snprintf(addr, sizeof addr, "10.3.%d.%d", i / 250, i % 250 + 1);
        real(t, big, 2002 + i, addr, "02:00:00:00:00:01");
    }
    assert_false(lb_check(&t->spec, &t->d));
    expect_counts(t, 1, 0);
    expect_at(t, 0, DIAG_ERROR, 2000, 9,
              "service 'big' has 1001 reals, more than 1000");
}

/* Every problem is reported, in source order, whatever the order of the
 * checks that found them. */
static void
test_reports_all_in_order(void **state)
{
    struct t *t = *state;
    struct lb_service *s = svc(t, "web", 1, "10.0.0.100", LB_PROTO_TCP, 80);
    set_check(t, s, 2, LB_CHECK_TCP);           /* Check before the reals. */
    s->check.fall = 0;
    real(t, s, 4, "2001:db8::1", "01:00:00:00:00:01");
    real(t, s, 5, "10.0.0.11", "02:00:00:00:00:11")->weight = 70000;
    s = svc(t, "web", 10, "10.0.0.100", LB_PROTO_TCP, 80);
    set_vip_mac(t, s, 12, "01:00:00:00:00:00");
    assert_false(lb_check(&t->spec, &t->d));
    expect_counts(t, 7, 1);
    expect_at(t, 0, DIAG_ERROR, 2, 5, "check fall of service 'web'");
    expect_at(t, 1, DIAG_ERROR, 4, 10, "is IPv6 but the VIP");
    expect_at(t, 2, DIAG_ERROR, 4, 30, "is a multicast MAC");
    expect_at(t, 3, DIAG_ERROR, 5, 60, "weight 70000");
    expect_at(t, 4, DIAG_ERROR, 10, 9, "duplicate service name 'web'");
    expect_at(t, 5, DIAG_WARNING, 10, 9, "has no reals");
    expect_at(t, 6, DIAG_ERROR, 11, 9, "already used by service 'web'");
    expect_at(t, 7, DIAG_ERROR, 12, 13, "vip-mac 01:00:00:00:00:00");
}

/* Cross-service checks sort rather than compare all pairs: a large spec
 * is checked quickly (the test's timeout bounds it). */
static void
test_large_spec(void **state)
{
    struct t *t = *state;
    for (int i = 0; i < 20000; i++) {
        char name[32], vip[32], addr[32];
        snprintf(name, sizeof name, "s%d", i);
        snprintf(vip, sizeof vip, "10.%d.%d.1", 100 + i / 250, i % 250);
        struct lb_service *s = svc(t, name, 1 + i * 20, vip, LB_PROTO_TCP,
                                   80);
        for (int j = 0; j < 16; j++) {
            snprintf(addr, sizeof addr, "10.0.%d.%d", j, 1 + i % 200);
            real(t, s, 3 + i * 20 + j, addr, "02:00:00:00:00:01");
        }
    }
    assert_true(lb_check(&t->spec, &t->d));
    expect_counts(t, 0, 0);
}

/* ---- issue 4: match-based services and IPVS / keepalived options ------ */

/* Asserts that the n-th error (warnings skipped) is at line:col and
 * contains 'substr'. */
static void
expect_nth_error(struct t *t, size_t n, int line, int col,
                 const char *substr)
{
    for (size_t i = 0; i < t->d.n_records; i++) {
        if (t->d.records[i].severity == DIAG_ERROR && n-- == 0) {
            expect_at(t, i, DIAG_ERROR, line, col, substr);
            return;
        }
    }
    dump(&t->d);
    fail_msg("no such error (%s)", substr);
}

/* A prefix VIP and a port range, as the front ends fill them. */
static void
set_prefix(struct lb_service *s, const char *net, unsigned int len,
           uint16_t port, uint16_t port_max)
{
    uint8_t plen;
    char text[64];
    snprintf(text, sizeof text, "%s/%u", net, len);
    assert_null(lb_parse_prefix(text, &s->vip, &plen));
    s->vip_prefix_len = plen;
    s->port = port;
    s->port_max = port_max;
}

static void
test_prefix_and_range_clashes(void **state)
{
    struct t *t = *state;
    /* 1: 10.0.0.0/24 tcp 8000-8100. */
    struct lb_service *s = svc(t, "fwm", 1, "10.0.0.0", LB_PROTO_TCP, 0);
    set_prefix(s, "10.0.0.0", 24, 8000, 8100);
    /* 10: a single VIP inside the prefix, port inside the range. */
    s = svc(t, "in", 10, "10.0.0.7", LB_PROTO_TCP, 8050);
    /* 20: inside the prefix, port outside the range: fine. */
    s = svc(t, "out", 20, "10.0.0.7", LB_PROTO_TCP, 80);
    /* 30: udp: fine. */
    s = svc(t, "udp", 30, "10.0.0.0", LB_PROTO_UDP, 0);
    set_prefix(s, "10.0.0.0", 24, 8000, 8100);
    /* 40: a wider prefix holding the first, all ports. */
    s = svc(t, "wide", 40, "10.0.0.0", LB_PROTO_TCP, 0);
    set_prefix(s, "10.0.0.0", 16, 0, 0);
    /* 50: another /24 of the /16 (so it clashes with 'wide' only). */
    s = svc(t, "other24", 50, "10.0.9.0", LB_PROTO_TCP, 0);
    set_prefix(s, "10.0.9.0", 24, 443, 443);
    /* 60, 70: two ranges on one single VIP that touch at 5100. */
    s = svc(t, "r1", 60, "10.9.0.1", LB_PROTO_TCP, 5000);
    s->port_max = 5100;
    s = svc(t, "r2", 70, "10.9.0.1", LB_PROTO_TCP, 5100);
    s->port_max = 5200;
    /* 80: a range after them, disjoint: fine. */
    s = svc(t, "r3", 80, "10.9.0.1", LB_PROTO_TCP, 5201);
    s->port_max = 6000;
    /* 90: a single port inside r1 (and not r2). */
    s = svc(t, "r4", 90, "10.9.0.1", LB_PROTO_TCP, 5050);
    /* 100: IPv6 prefix and a single address inside it. */
    s = svc(t, "v6net", 100, "2001:db8::", LB_PROTO_UDP, 0);
    set_prefix(s, "2001:db8::", 64, 53, 53);
    s = svc(t, "v6one", 110, "2001:db8::53", LB_PROTO_UDP, 53);
    /* 120: the same prefix written for another /64: fine. */
    s = svc(t, "v6other", 120, "2001:db8:0:1::", LB_PROTO_UDP, 0);
    set_prefix(s, "2001:db8:0:1::", 64, 53, 53);

    assert_false(lb_check(&t->spec, &t->d));
    expect_nth_error(t, 0, 11, 9,
                     "service 'in' (VIP 10.0.0.7 tcp port 8050) overlaps "
                     "service 'fwm' (10.0.0.0/24 tcp ports 8000-8100, at "
                     "t.lb:2:9)");
    /* 'out' comes before 'wide': 'wide' is the one reported, citing the
     * earliest service it overlaps. */
    expect_nth_error(t, 1, 41, 9,
                     "service 'wide' (VIP 10.0.0.0/16 tcp all ports) "
                     "overlaps service 'fwm' (10.0.0.0/24 tcp ports "
                     "8000-8100, at t.lb:2:9)");
    expect_nth_error(t, 2, 51, 9,
                     "service 'other24' (VIP 10.0.9.0/24 tcp port 443) "
                     "overlaps service 'wide'");
    expect_nth_error(t, 3, 71, 9,
                     "service 'r2' (VIP 10.9.0.1 tcp ports 5100-5200) "
                     "overlaps service 'r1' (10.9.0.1 tcp ports 5000-5100, "
                     "at t.lb:61:9)");
    expect_nth_error(t, 4, 91, 9,
                     "service 'r4' (VIP 10.9.0.1 tcp port 5050) overlaps "
                     "service 'r1'");
    expect_nth_error(t, 5, 111, 9,
                     "service 'v6one' (VIP 2001:db8::53 udp port 53) "
                     "overlaps service 'v6net' (2001:db8::/64 udp port 53, "
                     "at t.lb:101:9)");
    /* No reals anywhere: one warning per service. */
    expect_counts(t, 6, 13);
}

static void
test_prefix_addresses(void **state)
{
    struct t *t = *state;
    static const struct { const char *net; unsigned int len;
                          const char *why; } cases[] = {
        { "0.0.0.0", 1, "overlaps \"this network\" (0.0.0.0/8)" },
        { "127.128.0.0", 9, "overlaps loopback addresses (127.0.0.0/8)" },
        { "192.0.0.0", 2, "overlaps multicast addresses (224.0.0.0/4)" },
        { "255.255.255.0", 24, "overlaps the broadcast address" },
        { "::", 1, "overlaps the unspecified address (::)" },
        { "ff02::", 16, "overlaps multicast addresses (ff00::/8)" },
        { "::ffff:10.0.0.0", 120, "overlaps IPv4-mapped addresses" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char name[16];
        snprintf(name, sizeof name, "p%zu", i);
        struct lb_service *s = svc(t, name, 1 + 10 * i, cases[i].net,
                                   LB_PROTO_TCP, 80);
        set_prefix(s, cases[i].net, cases[i].len, 80 + i, 80 + i);
        /* Reals outside every one of the prefixes. */
        real(t, s, 3 + 10 * i, strchr(cases[i].net, ':') ? "fe80::1"
                                                         : "172.16.1.1",
             "02:00:00:00:00:01");
    }
    assert_false(lb_check(&t->spec, &t->d));
    expect_counts(t, sizeof cases / sizeof *cases, 0);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        expect_at(t, i, DIAG_ERROR, 2 + 10 * i, 9, cases[i].why);
    }
}

static void
test_prefix_vip_mac_and_reals(void **state)
{
    struct t *t = *state;
    struct lb_service *s = svc(t, "a", 1, "10.0.0.0", LB_PROTO_TCP, 80);
    set_prefix(s, "10.0.0.0", 28, 80, 80);
    s->vip_mac_auto = true;
    s->vip_mac_loc = at(t, 3, 13);
    real(t, s, 4, "10.0.0.15", "02:00:00:00:00:01");  /* Inside /28. */
    real(t, s, 5, "10.0.0.16", "02:00:00:00:00:02");  /* Just outside. */
    s = svc(t, "b", 10, "10.0.1.0", LB_PROTO_TCP, 80);
    set_prefix(s, "10.0.1.0", 24, 80, 80);
    set_vip_mac(t, s, 12, "02:00:00:00:01:00");
    real(t, s, 13, "10.0.2.1", "02:00:00:00:00:03");
    assert_false(lb_check(&t->spec, &t->d));
    expect_counts(t, 3, 0);
    expect_at(t, 0, DIAG_ERROR, 3, 13, "vip-mac of service 'a' needs a "
              "single-address VIP: no ARP/ND responder answers for a whole "
              "prefix (10.0.0.0/28)");
    expect_at(t, 1, DIAG_ERROR, 4, 10, "real 10.0.0.15 of service 'a' is "
              "inside the service's VIP prefix 10.0.0.0/28");
    expect_at(t, 2, DIAG_ERROR, 12, 13, "vip-mac of service 'b' needs a "
              "single-address VIP");
}

static void
test_ipvs_options(void **state)
{
    struct t *t = *state;
    /* 1: every option, correct. */
    struct lb_service *s = svc(t, "ok", 1, "10.0.0.1", LB_PROTO_UDP, 53);
    for (int i = 0; i < 4; i++) {
        char addr[32];
        snprintf(addr, sizeof addr, "10.0.1.%d", i + 1);
        real(t, s, 3 + i, addr, "02:00:00:00:00:01");
        /* One MAC for four reals is legal (one host, four addresses). */
    }
    s->persistence_s = 300;
    s->persistence_prefix_len = 24;
    s->persistence_mask_family = AF_INET;
    s->persistence_prefix_loc = at(t, 2, 40);
    s->stickiness = LB_STICKY_LEARN;
    s->sticky_idle_s = 30;
    s->sticky_idle_loc = at(t, 2, 50);
    s->udp_timeout_s = 20;
    s->udp_timeout_loc = at(t, 2, 60);
    s->has_sorry = true;
    assert_null(lb_parse_addr("10.0.2.1", &s->sorry.addr));
    assert_null(lb_parse_mac("02:00:00:00:00:09", &s->sorry.mac));
    s->sorry.has_mac = true;
    s->sorry.weight = 1;
    s->quorum = 2;
    s->quorum_hysteresis = 1;
    s->quorum_loc = at(t, 2, 70);
    s->hysteresis_loc = at(t, 2, 75);
    s->scheduler = LB_SCHED_FO;
    set_check(t, s, 8, LB_CHECK_UDP);
    s->check.send = strdup("ping");
    s->check.expect_reply = strdup("pong");
    assert_true(lb_check(&t->spec, &t->d));
    expect_counts(t, 0, 0);
}

static void
test_ipvs_option_errors(void **state)
{
    struct t *t = *state;
    /* 1: tcp service with UDP-only things. */
    struct lb_service *s = svc(t, "a", 1, "10.0.0.1", LB_PROTO_TCP, 80);
    real(t, s, 3, "10.0.1.1", "02:00:00:00:00:01");
    s->udp_timeout_s = 20;
    s->udp_timeout_loc = at(t, 4, 17);
    s->sticky_idle_s = 30;
    s->sticky_idle_loc = at(t, 5, 27);          /* stickiness conntrack */
    s->persistence_s = 60;
    s->persistence_prefix_len = 64;
    s->persistence_prefix_loc = at(t, 6, 28);   /* "prefix 64" on IPv4 */
    s->quorum = 1;
    s->quorum_hysteresis = 1;
    s->quorum_loc = at(t, 7, 12);
    s->hysteresis_loc = at(t, 7, 25);
    set_check(t, s, 8, LB_CHECK_UDP);

    /* 10: the sorry server. */
    s = svc(t, "b", 10, "2001:db8::1", LB_PROTO_TCP, 80);
    real(t, s, 12, "2001:db8::11", "02:00:00:00:00:11");
    s->has_sorry = true;
    s->sorry.loc = at(t, 13, 5);
    s->sorry.addr_loc = at(t, 13, 11);
    assert_null(lb_parse_addr("2001:db8::11", &s->sorry.addr));
    s->sorry.weight = 1;                         /* No MAC, and a real. */
    s->persistence_mask_family = AF_INET;
    s->persistence_prefix_len = 24;
    s->persistence_s = 60;
    s->persistence_prefix_loc = at(t, 14, 29);
    set_check(t, s, 15, LB_CHECK_TCP);
    s->check.send = strdup("x");
    s->check.expect_reply = strdup("y");

    /* 20: hysteresis without quorum; quorum + hysteresis too large. */
    s = svc(t, "c", 20, "10.0.0.2", LB_PROTO_TCP, 80);
    real(t, s, 22, "10.0.1.1", "02:00:00:00:00:01");
    s->hysteresis_loc = at(t, 23, 25);
    s->quorum_hysteresis = 1;
    s = svc(t, "d", 30, "10.0.0.3", LB_PROTO_TCP, 80);
    real(t, s, 32, "10.0.1.1", "02:00:00:00:00:01");
    real(t, s, 33, "10.0.1.2", "02:00:00:00:00:02");
    s->quorum = 2;
    s->quorum_hysteresis = 1;
    s->quorum_loc = at(t, 34, 12);
    s->hysteresis_loc = at(t, 34, 25);
    s = svc(t, "e", 40, "10.0.0.4", LB_PROTO_TCP, 80);
    s->quorum = 1;
    s->quorum_loc = at(t, 41, 12);
    /* 50: a sorry server sharing a real's address but not its MAC/port. */
    s = svc(t, "f", 50, "10.0.0.5", LB_PROTO_TCP, 80);
    real(t, s, 52, "10.0.1.3", "02:00:00:00:00:03");
    s->has_sorry = true;
    s->sorry.loc = at(t, 53, 5);
    s->sorry.addr_loc = at(t, 53, 11);
    s->sorry.mac_loc = at(t, 53, 24);
    assert_null(lb_parse_addr("10.0.1.1", &s->sorry.addr));
    assert_null(lb_parse_mac("02:00:00:00:00:99", &s->sorry.mac));
    s->sorry.has_mac = true;
    s->sorry.weight = 1;

    assert_false(lb_check(&t->spec, &t->d));
    size_t i = 0;
    expect_at(t, i++, DIAG_ERROR, 4, 17, "UDP timeout of service 'a' "
              "applies only to udp services (this one is tcp)");
    expect_at(t, i++, DIAG_ERROR, 5, 27, "idle timeout of service 'a' "
              "applies only to stickiness learn");
    expect_at(t, i++, DIAG_ERROR, 6, 28, "persistence prefix /64 of "
              "service 'a' is longer than an IPv4 address (at most /32)");
    expect_at(t, i++, DIAG_ERROR, 7, 25, "hysteresis 1 of service 'a' must "
              "be less than its quorum 1");
    expect_at(t, i++, DIAG_ERROR, 8, 5, "udp check of service 'a', a tcp "
              "service");
    expect_at(t, i++, DIAG_ERROR, 13, 5, "sorry server 2001:db8::11 of "
              "service 'b' has no mac");
    expect_at(t, i++, DIAG_ERROR, 13, 11, "sorry server 2001:db8::11 of "
              "service 'b' is also one of its reals (at t.lb:12:10)");
    expect_at(t, i++, DIAG_ERROR, 14, 29, "persistence netmask of service "
              "'b' is IPv4 but its VIP is IPv6");
    expect_at(t, i++, DIAG_ERROR, 15, 5, "tcp check of service 'b' has a "
              "payload to send");
    expect_at(t, i++, DIAG_ERROR, 15, 5, "tcp check of service 'b' has an "
              "expected reply");
    expect_at(t, i++, DIAG_ERROR, 23, 25, "hysteresis of service 'c' "
              "without a quorum");
    expect_at(t, i++, DIAG_ERROR, 34, 25, "quorum 2 + hysteresis 1 of "
              "service 'd' is more than its 2 reals: once withdrawn, the "
              "service could never come back");
    expect_at(t, i++, DIAG_WARNING, 40, 9, "service 'e' has no reals");
    expect_at(t, i++, DIAG_ERROR, 41, 12, "quorum 1 of service 'e' is more "
              "than its 0 reals");
    expect_at(t, i++, DIAG_ERROR, 53, 24, "sorry server 10.0.1.1 has mac "
              "02:00:00:00:00:99 here but mac 02:00:00:00:00:01 in service "
              "'a' (at t.lb:3:30)");
    expect_counts(t, 14, 1);
}

/* Port ranges and prefixes keep the clash check fast: 20,000 single ports
 * on one VIP, 20,000 VIPs, and 50 prefix services against all of them. */
static void
test_large_spec_ranges(void **state)
{
    struct t *t = *state;
    for (int i = 0; i < 20000; i++) {
        char name[32];
        snprintf(name, sizeof name, "p%d", i);
        struct lb_service *s = svc(t, name, 1 + i * 5, "10.1.0.1",
                                   LB_PROTO_TCP, 1 + 3 * i);
        s->port_max = 2 + 3 * i;                /* Ranges of two. */
        real(t, s, 3 + i * 5, "10.0.0.5", "02:00:00:00:00:01");
    }
    for (int i = 0; i < 20000; i++) {
        char name[32], vip[32];
        snprintf(name, sizeof name, "v%d", i);
        snprintf(vip, sizeof vip, "10.%d.%d.1", 100 + i / 250, i % 250);
        struct lb_service *s = svc(t, name, 200000 + i * 5, vip,
                                   LB_PROTO_TCP, 80);
        real(t, s, 200002 + i * 5, "10.0.0.5", "02:00:00:00:00:01");
    }
    for (int i = 0; i < 50; i++) {
        char name[32], net[32];
        snprintf(name, sizeof name, "n%d", i);
        snprintf(net, sizeof net, "172.16.%d.0", i);
        struct lb_service *s = svc(t, name, 400000 + i * 5, net,
                                   LB_PROTO_TCP, 0);
        set_prefix(s, net, 24, 0, 0);
        real(t, s, 400002 + i * 5, "10.0.0.5", "02:00:00:00:00:01");
    }
    assert_true(lb_check(&t->spec, &t->d));
    expect_counts(t, 0, 0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_clean_spec),
        T(test_no_services),
        T(test_no_vip),
        T(test_duplicate_names),
        T(test_vip_clash_same_port),
        T(test_vip_clash_ipv6),
        T(test_vip_clash_all_ports),
        T(test_vip_clash_all_ports_first),
        T(test_vip_bad_addresses),
        T(test_real_family),
        T(test_real_bad_addresses),
        T(test_real_macs),
        T(test_vip_macs),
        T(test_vip_mac_conflict),
        T(test_real_twice_in_service),
        T(test_shared_real_same_forwarding_forms),
        T(test_real_disagrees_across_services),
        T(test_weight_range),
        T(test_bad_ofport),
        T(test_no_reals_warning),
        T(test_all_drained_warning),
        T(test_health_checks),
        T(test_too_many_reals),
        T(test_reports_all_in_order),
        T(test_large_spec),
        T(test_prefix_and_range_clashes),
        T(test_prefix_addresses),
        T(test_prefix_vip_mac_and_reals),
        T(test_ipvs_options),
        T(test_ipvs_option_errors),
        T(test_large_spec_ranges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
