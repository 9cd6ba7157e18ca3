/* Unit tests of the spec printer (compiler/spec_print.c): DSL and YAML
 * output reads back into the same model, for every statement and option
 * and for values that need quoting; output is deterministic; a real
 * without a MAC is left for `flowlb check` to report at its line. */
#include "import_test_util.h"
#include "spec_print.h"

static char *
print(const struct lb_spec *spec, bool yaml, const char *header)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    const char *error = NULL;
    bool ok = yaml ? spec_print_yaml(spec, header, f, &error)
                   : spec_print_dsl(spec, header, f, &error);
    fclose(f);
    if (!ok) {
        fprintf(stderr, "print failed: %s\n", error);
    }
    assert_true(ok);
    return buf;
}

static void
parse(const char *text, bool yaml, struct lb_spec *spec, struct diag *d)
{
    lb_spec_init(spec);
    diag_init(d);
    bool ok = yaml ? lb_yaml_parse("p.yaml", text, strlen(text), spec, d)
                   : lb_dsl_parse("p.lb", text, strlen(text), spec, d);
    if (!ok) {
        fprintf(stderr, "parse failed:\n%s\n", text);
        dump_diag(d);
    }
    assert_true(ok);
}

/* Print 'a' in both syntaxes, parse back, compare; printing the re-parsed
 * model gives the same text. */
static void
round_trip(const struct lb_spec *a)
{
    for (int yaml = 0; yaml < 2; yaml++) {
        char *text = print(a, yaml, "a header\n\nwith an empty line");
        struct lb_spec b;
        struct diag d;
        parse(text, yaml, &b, &d);
        assert_spec_equal(a, &b);
        char *again = print(&b, yaml, "a header\n\nwith an empty line");
        assert_string_equal(text, again);
        free(again);
        free(text);
        lb_spec_destroy(&b);
        diag_destroy(&d);
    }
}

static const char every_feature[] =
    "service web {\n"
    "    vip 10.0.0.100 tcp 80;\n"
    "    vip-mac 02:00:00:00:01:00;\n"
    "    scheduler wrr;\n"
    "    persistence 300s prefix 24;\n"
    "    quorum 2 hysteresis 1;\n"
    "    inhibit-on-failure;\n"
    "    expire-nodest-conn;\n"
    "    real 10.0.0.11 mac 02:00:00:00:00:11 port 11 weight 3;\n"
    "    real 10.0.0.12 mac 02:00:00:00:00:12 port veth-r2 weight 0;\n"
    "    real 10.0.0.13 mac 02:00:00:00:00:13;\n"
    "    sorry 10.0.0.50 mac 02:00:00:00:00:50 port 50;\n"
    "    check http interval 1500ms timeout 500ms rise 1 fall 4 port 8080 "
    "path \"/health?full=1\" expect 204 body \"OK \\\"fine\\\"\" "
    "source 10.0.0.2;\n"
    "}\n"
    "service \"dns v6\" {\n"
    "    vip 2001:db8::53 udp 53;\n"
    "    vip-mac auto;\n"
    "    scheduler fo;\n"
    "    udp-timeout 30s;\n"
    "    stickiness learn idle 60s;\n"
    "    real 2001:db8::11 mac 02:00:00:00:01:11 weight 2;\n"
    "    check udp interval 2s timeout 1s send \"ping\" reply \"pong\";\n"
    "}\n"
    "service match {\n"
    "    vip 10.1.0.0/24 tcp 8000-8099;\n"
    "    scheduler sh;\n"
    "    persistence 1m;\n"
    "    stickiness conntrack idle 120s;\n"
    "    real 10.1.1.11 mac 02:00:00:00:02:11;\n"
    "    check exec interval 5s timeout 5s command "
    "\"/usr/bin/probe --host=$FLOWLB_REAL \\\\d\";\n"
    "}\n"
    "service all-ports {\n"
    "    vip 10.0.0.110 tcp 0;\n"
    "    scheduler mh;\n"
    "    real 10.0.0.31 mac 02:00:00:00:00:31;\n"
    "    check tcp port 22;\n"
    "}\n"
    "service lc { vip 10.0.0.120 tcp 1; scheduler lc; }\n"
    "service wlc { vip 10.0.0.120 tcp 2; scheduler wlc; }\n"
    "service rr { vip 10.0.0.120 tcp 3; scheduler rr; }\n"
    "service dh { vip 10.0.0.120 tcp 4; scheduler dh; }\n"
    "service https { vip 10.0.0.120 tcp 5; check https; }\n";

static void
test_every_feature(void **state)
{
    struct lb_spec a;
    struct diag d;
    parse(every_feature, false, &a, &d);
    assert_int_equal(a.n_services, 9);
    round_trip(&a);

    /* What the DSL printer writes for the first service, exactly. */
    struct lb_spec one = a;
    one.n_services = 1;
    char *text = print(&one, false, NULL);
    assert_string_equal(text,
        "service web {\n"
        "    vip 10.0.0.100 tcp 80;\n"
        "    vip-mac 02:00:00:00:01:00;\n"
        "    scheduler wrr;\n"
        "    persistence 300s prefix 24;\n"
        "    quorum 2 hysteresis 1;\n"
        "    inhibit-on-failure;\n"
        "    expire-nodest-conn;\n"
        "    real 10.0.0.11 mac 02:00:00:00:00:11 port 11 weight 3;\n"
        "    real 10.0.0.12 mac 02:00:00:00:00:12 port veth-r2 weight 0;\n"
        "    real 10.0.0.13 mac 02:00:00:00:00:13 weight 1;\n"
        "    sorry 10.0.0.50 mac 02:00:00:00:00:50 port 50;\n"
        "    check http interval 1500ms timeout 500ms rise 1 fall 4 port "
        "8080 path \"/health?full=1\" expect 204 body \"OK \\\"fine\\\"\" "
        "source 10.0.0.2;\n"
        "}\n");
    free(text);
    lb_spec_destroy(&a);
    diag_destroy(&d);
}

/* Values that are not plain words, or are spelt like keywords. */
static void
test_quoting(void **state)
{
    static const char *const awkward[] = {
        "sorry", "real", "check", "service", "vip-mac", "quorum", "eth",
        "a b", "x\"y", "back\\slash", "tab\there", "#hash", "semi;colon",
        "{brace}", "", "ünïcödé", "yes", "null", "-dash", ":colon",
        "10.0.0.1", "0x50",
    };
    for (size_t i = 0; i < sizeof awkward / sizeof *awkward; i++) {
        struct lb_spec a;
        lb_spec_init(&a);
        struct lb_service *s = lb_spec_add_service(&a);
        /* Names may not be empty nor hold control characters. */
        s->name = strdup(awkward[i][0] && !strchr(awkward[i], '\t')
                         ? awkward[i] : "plain");
        s->has_vip = true;
        lb_parse_addr("10.0.0.1", &s->vip);
        s->port = s->port_max = 80;
        struct lb_real *r = lb_service_add_real(s);
        lb_parse_addr("10.0.0.2", &r->addr);
        lb_parse_mac("02:00:00:00:00:02", &r->mac);
        r->has_mac = true;
        s->check.type = LB_CHECK_EXEC;
        s->check.command = strdup(awkward[i]);
        s->check.expect_body = strdup(awkward[i]);
        s->check.path = strdup(awkward[i]);
        lb_service_complete(s);
        round_trip(&a);
        lb_spec_destroy(&a);
    }
}

static void
test_newline(void **state)
{
    struct lb_spec a;
    lb_spec_init(&a);
    struct lb_service *s = lb_spec_add_service(&a);
    s->name = strdup("n");
    s->has_vip = true;
    lb_parse_addr("10.0.0.1", &s->vip);
    s->port = s->port_max = 80;
    s->check.type = LB_CHECK_EXEC;
    s->check.command = strdup("line1\nline2");
    lb_service_complete(s);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    const char *error = NULL;
    assert_false(spec_print_dsl(&a, NULL, f, &error));
    fclose(f);
    assert_non_null(strstr(error, "newline"));
    free(buf);
    /* YAML can say it. */
    char *text = print(&a, true, NULL);
    struct lb_spec b;
    struct diag d;
    parse(text, true, &b, &d);
    assert_string_equal(b.services[0].check.command, "line1\nline2");
    free(text);
    lb_spec_destroy(&a);
    lb_spec_destroy(&b);
    diag_destroy(&d);
}

/* The line (1-based) of 'text' where 'needle' starts. */
static int
line_of(const char *text, const char *needle)
{
    const char *p = strstr(text, needle);
    assert_non_null(p);
    int line = 1;
    for (const char *q = text; q < p; q++) {
        line += *q == '\n';
    }
    return line;
}

static void
test_missing_mac(void **state)
{
    struct lb_spec a;
    lb_spec_init(&a);
    struct lb_service *s = lb_spec_add_service(&a);
    s->name = strdup("web");
    s->has_vip = true;
    lb_parse_addr("10.0.0.100", &s->vip);
    s->port = s->port_max = 80;
    struct lb_real *r = lb_service_add_real(s);
    lb_parse_addr("10.0.0.11", &r->addr);
    s->has_sorry = true;
    lb_parse_addr("10.0.0.50", &s->sorry.addr);
    s->sorry.weight = 1;
    lb_service_complete(s);
    for (int yaml = 0; yaml < 2; yaml++) {
        char *text = print(&a, yaml, "h");
        struct lb_spec b;
        struct diag d;
        lb_spec_init(&b);
        diag_init(&d);
        bool ok = yaml ? lb_yaml_parse("p.yaml", text, strlen(text), &b, &d)
                       : lb_dsl_parse("p.lb", text, strlen(text), &b, &d);
        assert_false(ok);
        if (yaml) {
            expect_diag(&d, DIAG_ERROR, line_of(text, "- address: 10.0.0.11"),
                        0, "'mac'");
            assert_non_null(strstr(text, "# MAC of 10.0.0.11 unknown"));
        } else {
            assert_non_null(strstr(text, "    # MAC of 10.0.0.11 unknown: "
                                         "add 'mac MAC' (flowlb import "
                                         "--mac 10.0.0.11=MAC or --neigh "
                                         "FILE)\n    real 10.0.0.11 weight "
                                         "1;\n"));
            expect_diag(&d, DIAG_ERROR, line_of(text, "    real 10.0.0.11"),
                        5, "missing 'mac' for real 10.0.0.11");
            expect_diag(&d, DIAG_ERROR, line_of(text, "    sorry 10.0.0.50"),
                        5, "missing 'mac' for sorry 10.0.0.50");
        }
        free(text);
        lb_spec_destroy(&b);
        diag_destroy(&d);
    }
    lb_spec_destroy(&a);
}

static void
test_examples_round_trip(void **state)
{
    static const char *const examples[] = {
        "web.lb", "web.yaml", "demo.lb", "multi.lb", "ipv6.lb",
    };
    for (size_t i = 0; i < sizeof examples / sizeof *examples; i++) {
        char *path;
        assert_true(asprintf(&path, "%s/examples/%s", SOURCE_DIR,
                             examples[i]) > 0);
        struct lb_spec a;
        struct diag d;
        lb_spec_init(&a);
        diag_init(&d);
        bool ok = lb_spec_load(path, &a, &d);
        if (!ok) {
            dump_diag(&d);
        }
        assert_true(ok);
        round_trip(&a);
        lb_spec_destroy(&a);
        diag_destroy(&d);
        free(path);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_feature),
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_newline),
        cmocka_unit_test(test_missing_mac),
        cmocka_unit_test(test_examples_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
