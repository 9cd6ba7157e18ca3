/* Unit tests of `flowlb import keepalived` (compiler/import_keepalived.c):
 * the tokenizer (comments, quotes, braces, continuations, includes), each
 * keyword's mapping, and each error with its line:col. */
#include <unistd.h>
#include "import_test_util.h"

static char dir[64];

static int
setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/flowlb-ka-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) ? -1 : 0;
}

static char *
write_file(const char *name, const char *text)
{
    char *path;
    if (asprintf(&path, "%s/%s", dir, name) < 0) {
        abort();
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

struct run {
    struct lb_spec spec;
    struct diag d;
    struct import_options o;
    bool ok;
    char *path;
};

static const char *const macs[] = {
    "10.0.0.11=02:00:00:00:00:11", "10.0.0.12=02:00:00:00:00:12",
    "10.0.0.13=02:00:00:00:00:13", "10.0.0.50=02:00:00:00:00:50",
    "2001:db8::11=02:00:00:00:01:11", NULL
};

static struct run *
run(const char *text)
{
    struct run *r = calloc(1, sizeof *r);
    lb_spec_init(&r->spec);
    diag_init(&r->d);
    import_options_init(&r->o);
    for (size_t i = 0; macs[i]; i++) {
        assert_true(import_add_mac_option(&r->o, macs[i], &r->d));
    }
    r->path = write_file("k.conf", text);
    r->ok = import_keepalived(r->path, &r->o, &r->spec, &r->d);
    assert_int_equal(r->ok, r->d.n_errors == 0);
    return r;
}

static void
run_free(struct run *r)
{
    lb_spec_destroy(&r->spec);
    diag_destroy(&r->d);
    import_options_destroy(&r->o);
    free(r->path);
    free(r);
}

/* A DR virtual server on 10.0.0.100:80 around 'body' (reals etc.). */
#define VS(body) \
    "virtual_server 10.0.0.100 80 {\n    lb_kind DR\n" body "}\n"

static void
test_http_get(void **state)
{
    struct run *r = run(
        "virtual_server 10.0.0.100 80 {\n"
        "    delay_loop 6\n"
        "    lb_algo wrr\n"
        "    lb_kind DR\n"
        "    protocol TCP\n"
        "    real_server 10.0.0.11 80 {\n"
        "        weight 3\n"
        "        HTTP_GET {\n"
        "            url {\n"
        "              path /healthz\n"
        "              status_code 204\n"
        "            }\n"
        "            connect_timeout 3\n"
        "            nb_get_retry 3\n"
        "        }\n"
        "    }\n"
        "    real_server 10.0.0.12 80 {\n"
        "        HTTP_GET {\n"
        "            url {\n"
        "              path /healthz\n"
        "              status_code 204\n"
        "            }\n"
        "            connect_timeout 3\n"
        "            retry 3\n"
        "        }\n"
        "    }\n"
        "}\n");
    assert_true(r->ok);
    assert_int_equal(r->d.n_records, 0);
    const struct lb_service *s = find_service(&r->spec, "tcp-10-0-0-100-80");
    assert_int_equal(s->scheduler, LB_SCHED_WRR);
    assert_int_equal(s->n_reals, 2);
    assert_int_equal(s->reals[0].weight, 3);
    assert_int_equal(s->reals[1].weight, 1);
    assert_int_equal(s->reals[0].loc.line, 6);
    assert_int_equal(s->check.type, LB_CHECK_HTTP);
    assert_int_equal(s->check.interval_ms, 6000);
    assert_int_equal(s->check.timeout_ms, 3000);
    /* keepalived marks a real down after retry + 1 failures, up after
     * one success. */
    assert_int_equal(s->check.fall, 4);
    assert_int_equal(s->check.rise, 1);
    assert_string_equal(s->check.path, "/healthz");
    assert_int_equal(s->check.expect_status, 204);
    assert_int_equal(s->check.port, 0);
    assert_int_equal(s->check.loc.line, 8);
    run_free(r);
}

static void
test_tcp_check_defaults(void **state)
{
    struct run *r = run(VS(
        "    real_server 10.0.0.11 80 {\n"
        "        TCP_CHECK {\n"
        "            connect_port 8081\n"
        "        }\n"
        "    }\n"));
    assert_true(r->ok);
    const struct lb_service *s = &r->spec.services[0];
    /* keepalived's defaults: delay_loop 60, connect_timeout 5, retry 1;
     * its scheduler default is wlc. */
    assert_int_equal(s->scheduler, LB_SCHED_WLC);
    assert_int_equal(s->check.type, LB_CHECK_TCP);
    assert_int_equal(s->check.interval_ms, 60000);
    assert_int_equal(s->check.timeout_ms, 5000);
    assert_int_equal(s->check.fall, 2);
    assert_int_equal(s->check.port, 8081);
    run_free(r);
}

static void
test_ssl_get_and_inheritance(void **state)
{
    /* Virtual server settings are the real's defaults, the real's the
     * checker's; fractional seconds. */
    struct run *r = run(
        "virtual_server 10.0.0.100 443 {\n"
        "    lb_kind DR\n"
        "    delay_loop 2.5\n"
        "    connect_timeout 1\n"
        "    real_server 10.0.0.11 443 {\n"
        "        retry 4\n"
        "        SSL_GET {\n"
        "            url {\n"
        "                path \"/status?full=1\"\n"
        "                status_code 200\n"
        "            }\n"
        "            connect_timeout 0.75\n"
        "            bindto 10.0.0.2\n"
        "        }\n"
        "    }\n"
        "}\n");
    assert_true(r->ok);
    const struct lb_check *c = &r->spec.services[0].check;
    assert_int_equal(c->type, LB_CHECK_HTTPS);
    assert_int_equal(c->interval_ms, 2500);
    assert_int_equal(c->timeout_ms, 750);
    assert_int_equal(c->fall, 5);
    assert_string_equal(c->path, "/status?full=1");
    assert_addr(&c->source, "10.0.0.2");
    run_free(r);
}

static void
test_misc_check(void **state)
{
    struct run *r = run(VS(
        "    delay_loop 3\n"
        "    real_server 10.0.0.11 80 {\n"
        "        MISC_CHECK {\n"
        "            misc_path \"/usr/bin/check.sh 10.0.0.11 80\"\n"
        "            misc_timeout 2\n"
        "        }\n"
        "    }\n"
        "    real_server 10.0.0.12 80 {\n"
        "        MISC_CHECK {\n"
        "            misc_path \"/usr/bin/check.sh 10.0.0.12 80\"\n"
        "            misc_timeout 2\n"
        "        }\n"
        "    }\n"));
    assert_true(r->ok);
    const struct lb_check *c = &r->spec.services[0].check;
    assert_int_equal(c->type, LB_CHECK_EXEC);
    /* One command for every real: the address became $FLOWLB_REAL. */
    assert_string_equal(c->command, "/usr/bin/check.sh $FLOWLB_REAL 80");
    assert_int_equal(c->timeout_ms, 2000);
    assert_int_equal(c->interval_ms, 3000);
    /* MISC_CHECK's retry default is 0. */
    assert_int_equal(c->fall, 1);
    run_free(r);

    /* Not a prefix of a longer address. */
    r = run(VS(
        "    real_server 10.0.0.1 80 {\n"
        "        MISC_CHECK {\n"
        "            misc_path \"/bin/ping -c1 10.0.0.11\"\n"
        "        }\n"
        "    }\n"));
    assert_true(r->ok);
    assert_string_equal(r->spec.services[0].check.command,
                        "/bin/ping -c1 10.0.0.11");
    run_free(r);
}

static void
test_udp_check(void **state)
{
    struct run *r = run(
        "virtual_server 10.0.0.100 53 {\n"
        "    lb_kind DR\n"
        "    protocol UDP\n"
        "    real_server 10.0.0.11 53 {\n"
        "        UDP_CHECK {\n"
        "            payload 70696e67\n"
        "            require_reply 706f6e67\n"
        "        }\n"
        "    }\n"
        "}\n");
    assert_true(r->ok);
    const struct lb_service *s = &r->spec.services[0];
    assert_int_equal(s->proto, LB_PROTO_UDP);
    assert_int_equal(s->check.type, LB_CHECK_UDP);
    assert_string_equal(s->check.send, "ping");
    assert_string_equal(s->check.expect_reply, "pong");
    expect_diag(&r->d, DIAG_WARNING, 7, 13, "require_reply");
    run_free(r);
}

static void
test_group_sorry_quorum_persistence(void **state)
{
    struct run *r = run(
        "virtual_server_group WEB {\n"
        "    10.0.0.100 80\n"
        "    10.0.0.101-102 80   # a range\n"
        "}\n"
        "virtual_server group WEB {\n"
        "    lvs_sched sh\n"
        "    lvs_method DR\n"
        "    persistence_timeout\n"
        "    persistence_granularity 255.255.255.0\n"
        "    quorum 2\n"
        "    hysteresis 1\n"
        "    sorry_server 10.0.0.50 80\n"
        "    real_server 10.0.0.11 80 {\n"
        "        inhibit_on_failure\n"
        "    }\n"
        "    real_server 10.0.0.12 80 {\n"
        "        inhibit_on_failure on\n"
        "    }\n"
        "}\n");
    assert_true(r->ok);
    assert_int_equal(r->spec.n_services, 3);
    static const char *const names[] = {
        "WEB-tcp-10-0-0-100-80", "WEB-tcp-10-0-0-101-80",
        "WEB-tcp-10-0-0-102-80"
    };
    for (size_t i = 0; i < 3; i++) {
        const struct lb_service *s = find_service(&r->spec, names[i]);
        assert_int_equal(s->scheduler, LB_SCHED_SH);
        /* persistence_timeout without a value: 6 minutes. */
        assert_int_equal(s->persistence_s, 360);
        assert_int_equal(s->persistence_prefix_len, 24);
        assert_int_equal(s->quorum, 2);
        assert_int_equal(s->quorum_hysteresis, 1);
        assert_true(s->has_sorry);
        assert_addr(&s->sorry.addr, "10.0.0.50");
        assert_mac(&s->sorry.mac, "02:00:00:00:00:50");
        assert_true(s->inhibit_on_failure);
        assert_int_equal(s->n_reals, 2);
    }
    assert_int_equal(find_service(&r->spec, names[2])->loc.line, 3);
    run_free(r);
}

static void
test_quorum_in_weight(void **state)
{
    /* keepalived counts weight: quorum 4 at weight 2 each is 2 reals. */
    struct run *r = run(VS(
        "    quorum 4\n"
        "    hysteresis 2\n"
        "    real_server 10.0.0.11 80 {\n        weight 2\n    }\n"
        "    real_server 10.0.0.12 80 {\n        weight 2\n    }\n"
        "    real_server 10.0.0.13 80 {\n        weight 2\n    }\n"));
    assert_true(r->ok);
    assert_int_equal(r->spec.services[0].quorum, 2);
    assert_int_equal(r->spec.services[0].quorum_hysteresis, 1);
    assert_int_equal(r->d.n_warnings, 0);
    run_free(r);

    r = run(VS(
        "    quorum 4\n"
        "    real_server 10.0.0.11 80 {\n        weight 3\n    }\n"
        "    real_server 10.0.0.12 80 {\n        weight 1\n    }\n"));
    assert_true(r->ok);
    assert_int_equal(r->spec.services[0].quorum, 2);
    expect_diag(&r->d, DIAG_WARNING, 3, 5, "quorum counts weight");
    run_free(r);
}

static void
test_lexical(void **state)
{
    struct run *r = run(
        "! a comment\n"
        "# another\n"
        "virtual_server 10.0.0.100 80   ! trailing\n"
        "{\n"
        "    lb_kind DR # trailing\n"
        "    real_server 10.0.0.11 80 { weight 2 }\n"
        "    real_server 10.0.0.12 \\\n"
        "        80 {\n"
        "        MISC_CHECK {\n"
        "            misc_path '/bin/check \"quoted arg\"'\n"
        "        }\n"
        "    }\n"
        "}\n");
    assert_true(r->ok);
    const struct lb_service *s = &r->spec.services[0];
    assert_int_equal(s->n_reals, 2);
    assert_int_equal(s->reals[0].weight, 2);
    assert_string_equal(s->check.command, "/bin/check \"quoted arg\"");
    /* The second real starts on line 7 (continued on 8). */
    assert_int_equal(s->reals[1].loc.line, 7);
    run_free(r);

    /* Escapes inside quotes. */
    r = run(VS(
        "    real_server 10.0.0.11 80 {\n"
        "        MISC_CHECK {\n"
        "            misc_path \"/bin/x \\x41\\101\\t\\\"\"\n"
        "        }\n"
        "    }\n"));
    assert_true(r->ok);
    assert_string_equal(r->spec.services[0].check.command, "/bin/x AA\t\"");
    run_free(r);
}

static void
test_include(void **state)
{
    char *sub = write_file("web.inc",
        "virtual_server 10.0.0.100 80 {\n"
        "    lb_kind NAT\n"
        "}\n");
    free(sub);
    struct run *r = run(
        "global_defs {\n    router_id X\n}\n"
        "include web.inc\n"
        "include missing-*.inc\n");
    assert_false(r->ok);
    /* Located in the included file. */
    char *inc;
    assert_true(asprintf(&inc, "%s/web.inc", dir) > 0);
    bool found = false;
    for (size_t i = 0; i < r->d.n_records; i++) {
        const struct diag_record *rec = &r->d.records[i];
        if (rec->loc.file && !strcmp(rec->loc.file, inc)
            && rec->loc.line == 2 && rec->loc.col == 13
            && strstr(rec->message, "uses NAT")) {
            found = true;
        }
    }
    if (!found) {
        dump_diag(&r->d);
    }
    assert_true(found);
    expect_diag(&r->d, DIAG_WARNING, 5, 9, "matches no file");
    free(inc);
    run_free(r);

    /* An include loop stops. */
    free(write_file("loop.inc", "include loop.inc\n"));
    r = run("include loop.inc\n");
    assert_false(r->ok);
    assert_true(count_diag(&r->d, DIAG_ERROR, "nested more than 16") >= 1);
    run_free(r);
}

static void
test_errors(void **state)
{
    static const struct {
        const char *text;
        int line, col;
        const char *msg;
    } cases[] = {
        { "virtual_server 10.0.0.100 80 {\n  lb_kind NAT\n}\n", 2, 11,
          "uses NAT: flowlb does direct routing only" },
        { "virtual_server 10.0.0.100 80 {\n  lvs_method TUN\n}\n", 2, 14,
          "tunnelling (TUN)" },
        { "virtual_server 10.0.0.100 80 {\n  lb_algo rr\n}\n", 1, 1,
          "no lvs_method (lb_kind): keepalived's default is NAT" },
        { VS("  real_server 10.0.0.11 80 {\n    lvs_method NAT\n  }\n"), 4,
          16, "real_server 10.0.0.11 uses NAT" },
        { VS("  sorry_server 10.0.0.50 80\n  sorry_server_lvs_method NAT\n"),
          4, 27, "the sorry server uses NAT" },
        { "virtual_server fwmark 7 {\n  lb_kind DR\n}\n", 1, 16,
          "firewall mark 7 cannot be imported as it is" },
        { "virtual_server_group G {\n  fwmark 3\n}\n"
          "virtual_server group G {\n  lb_kind DR\n}\n", 2, 3,
          "--fwmark 3=ADDRESS[/LEN],PROTO,PORT[-PORT]" },
        { "virtual_server group NOPE {\n  lb_kind DR\n}\n", 1, 22,
          "no virtual_server_group 'NOPE'" },
        { VS("  lb_algo lblcr\n"), 3, 11, "unknown scheduler 'lblcr' (flowlb "
          "has: rr, wrr, lc, wlc, sh, dh, mh, fo)" },
        { VS("  protocol SCTP\n"), 3, 12, "SCTP is not supported" },
        { VS("  real_server 10.0.0.11 80 {\n    SMTP_CHECK {\n    }\n  }\n"),
          4, 5, "SMTP_CHECK is not supported" },
        { VS("  real_server 10.0.0.11 80 {\n    DNS_CHECK {\n    }\n  }\n"),
          4, 5, "DNS_CHECK is not supported" },
        { VS("  real_server 10.0.0.11 80 {\n    BFD_CHECK {\n    }\n  }\n"),
          4, 5, "BFD_CHECK is not supported" },
        { VS("  real_server 10.0.0.11 80 {\n    TCP_CHECK {\n    }\n"
             "    HTTP_GET {\n    }\n  }\n"), 6, 5,
          "second checker for real 10.0.0.11 (first at line 4)" },
        { VS("  real_server 10.0.0.11 80 {\n    TCP_CHECK {\n"
             "      connect_timeout 2\n    }\n  }\n"
             "  real_server 10.0.0.12 80 {\n    TCP_CHECK {\n"
             "      connect_timeout 3\n    }\n  }\n"), 9, 5,
          "differs from that of real 10.0.0.11 (line 4) in the timeout" },
        { VS("  real_server 10.0.0.11 80 {\n    MISC_CHECK {\n"
             "      misc_path /bin/a\n    }\n  }\n"
             "  real_server 10.0.0.12 80 {\n    MISC_CHECK {\n"
             "      misc_path /bin/b\n    }\n  }\n"), 9, 5, "in misc_path" },
        { VS("  real_server 10.0.0.11 80 {\n    HTTP_GET {\n"
             "      url {\n        path /a\n      }\n"
             "      url {\n        path /b\n      }\n    }\n  }\n"), 8, 7,
          "more than one url" },
        { VS("  real_server 10.0.0.11 80 {\n    MISC_CHECK {\n    }\n  }\n"),
          4, 5, "MISC_CHECK without misc_path" },
        { VS("  real_server 10.0.0.11 80 {\n    TCP_CHECK {\n"
             "      connect_ip 10.0.0.99\n    }\n  }\n"), 5, 7,
          "connect_ip is not supported" },
        { VS("  real_server 10.0.0.11 80 {\n    weight 70000\n  }\n"), 4, 12,
          "invalid weight '70000'" },
        { VS("  real_server 10.0.0.11 80 {\n  }\n"
             "  real_server 10.0.0.11 80 {\n  }\n"), 5, 15,
          "real 10.0.0.11 listed twice" },
        { VS("  real_server 2001:db8::11 80 {\n  }\n"), 3, 15,
          "not of the VIP 10.0.0.100's address family" },
        { VS("  delay_loop soon\n"), 3, 14, "invalid time" },
        { VS("  persistence_timeout 30\n  persistence_granularity "
             "255.0.255.0\n"), 4, 27, "not contiguous" },
        { "virtual_server 10.0.0.100 80 {\n  lb_kind DR\n", 1, 30,
          "missing '}' for the block opened here" },
        { "}\n", 1, 1, "unmatched '}'" },
        { "virtual_server 10.0.0.300 80 {\n  lb_kind DR\n}\n", 1, 16,
          "invalid IPv4 address" },
        { "virtual_server 10.0.0.100 http {\n  lb_kind DR\n}\n", 1, 27,
          "invalid port 'http'" },
        { VS("  real_server 10.0.0.11 80 {\n    MISC_CHECK {\n"
             "      misc_path \"/bin/x\n    }\n  }\n"), 5, 17,
          "unterminated quoted string" },
        { "@main virtual_server 10.0.0.100 80 {\n  lb_kind DR\n}\n", 1, 1,
          "conditional configuration" },
        { "global_defs {\n  router_id X\n}\n", 0, 0,
          "no virtual_server found" },
        { "virtual_server_group G {\n  10.0.0.1 80\n}\n"
          "virtual_server_group G {\n  10.0.0.2 80\n}\n", 4, 22,
          "defined twice" },
        { "virtual_server_group G {\n  10.0.0.0/16 80\n}\n"
          "virtual_server group G {\n  lb_kind DR\n}\n", 2, 3,
          "has 65536 addresses" },
        { VS("  real_server 10.0.0.11 80 {\n    HTTP_GET {\n"
             "      url {\n        path /\n        regex \"o+k\"\n      }\n"
             "    }\n  }\n"), 7, 15, "not a plain string" },
        { VS("  real_server 10.0.0.11 80 {\n    HTTP_GET {\n"
             "      url { path /x status_code 200 }\n    }\n  }\n"), 5, 21,
          "unexpected 'status_code' after path (one setting per line)" },
        { VS("  delay_loop 3 connect_timeout 2\n"), 3, 16,
          "unexpected 'connect_timeout' after delay_loop" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct run *r = run(cases[i].text);
        if (r->ok) {
            fprintf(stderr, "case %zu should fail:\n%s", i, cases[i].text);
        }
        assert_false(r->ok);
        expect_diag(&r->d, DIAG_ERROR, cases[i].line, cases[i].col,
                    cases[i].msg);
        run_free(r);
    }
}

static void
test_warnings(void **state)
{
    struct run *r = run(
        "virtual_server 10.0.0.100 80 {\n"
        "    lb_kind DR\n"
        "    delay_loop 2\n"
        "    ops\n"
        "    real_server 10.0.0.11 8080 {\n"
        "        notify_down /bin/alert\n"
        "        HTTP_GET {\n"
        "            url {\n"
        "              path /\n"
        "              digest 9b3a0c85a887a256d6939da88aabd8cd\n"
        "            }\n"
        "            delay_before_retry 3\n"
        "        }\n"
        "    }\n"
        "    real_server 10.0.0.12 80 {\n"
        "        HTTP_GET {\n"
        "            url {\n"
        "              path /\n"
        "              digest 9b3a0c85a887a256d6939da88aabd8cd\n"
        "            }\n"
        "            delay_before_retry 3\n"
        "        }\n"
        "    }\n"
        "    real_server 10.0.0.13 80 {\n"
        "    }\n"
        "    real_server 10.0.0.99 80 {\n"
        "    }\n"
        "}\n");
    /* The check ports differ (8080 vs the service's 80): one error. */
    expect_diag(&r->d, DIAG_ERROR, 16, 9, "in the port probed");
    expect_diag(&r->d, DIAG_WARNING, 4, 5, "ops (one-packet scheduling)");
    expect_diag(&r->d, DIAG_WARNING, 5, 17, "has port 8080 but the virtual "
                "server port is 80");
    expect_diag(&r->d, DIAG_WARNING, 6, 9, "notify_down");
    expect_diag(&r->d, DIAG_WARNING, 10, 15, "digest is not supported");
    expect_diag(&r->d, DIAG_WARNING, 12, 13, "delay_before_retry");
    /* Once per keyword and file. */
    assert_int_equal(count_diag(&r->d, DIAG_WARNING, "digest"), 1);
    assert_int_equal(count_diag(&r->d, DIAG_WARNING, "delay_before_retry"),
                     1);
    expect_diag(&r->d, DIAG_WARNING, 7, 9, "without status_code accepts any "
                "2xx");
    /* connect_timeout 5 (default) > delay_loop 2. */
    expect_diag(&r->d, DIAG_WARNING, 7, 9, "timeout 5.000s is longer than "
                "its interval (delay_loop) 2.000s");
    expect_diag(&r->d, DIAG_WARNING, 24, 5, "real 10.0.0.13 has no checker "
                "but others do");
    expect_diag(&r->d, DIAG_WARNING, 26, 17, "no MAC known for real "
                "10.0.0.99");
    run_free(r);

    r = run(VS(
        "    real_server 10.0.0.11 80 {\n"
        "        inhibit_on_failure\n"
        "    }\n"
        "    real_server 10.0.0.12 80 {\n"
        "    }\n"));
    assert_true(r->ok);
    assert_false(r->spec.services[0].inhibit_on_failure);
    expect_diag(&r->d, DIAG_WARNING, 1, 16, "only some reals have "
                "inhibit_on_failure");
    run_free(r);
}

static void
test_skipped_blocks(void **state)
{
    struct run *r = run(
        "global_defs {\n"
        "   notification_email {\n     a@b.c\n   }\n"
        "}\n"
        "vrrp_script chk {\n  script \"/bin/true\"\n}\n"
        "vrrp_instance VI_1 {\n"
        "    virtual_ipaddress {\n        10.0.0.100\n    }\n"
        "    track_script {\n        chk\n    }\n"
        "}\n"
        VS("    real_server 10.0.0.11 80 {\n    }\n"));
    assert_true(r->ok);
    assert_int_equal(r->d.n_records, 0);
    assert_int_equal(r->spec.n_services, 1);
    run_free(r);
}

static void
test_ipv6_and_all_ports(void **state)
{
    struct run *r = run(
        "virtual_server 2001:db8::100 {\n"
        "    lb_kind DR\n"
        "    persistence_timeout 60\n"
        "    persistence_granularity 64\n"
        "    real_server 2001:db8::11 {\n"
        "    }\n"
        "}\n");
    assert_true(r->ok);
    const struct lb_service *s = &r->spec.services[0];
    assert_string_equal(s->name, "tcp-2001-db8--100-0");
    assert_int_equal(s->port, 0);
    assert_int_equal(s->persistence_prefix_len, 64);
    assert_mac(&s->reals[0].mac, "02:00:00:00:01:11");
    run_free(r);
}

static void
test_fwmark_option(void **state)
{
    struct run *r = calloc(1, sizeof *r);
    lb_spec_init(&r->spec);
    diag_init(&r->d);
    import_options_init(&r->o);
    assert_true(import_add_mac_option(&r->o, "10.0.0.11=02:00:00:00:00:11",
                                      &r->d));
    assert_true(import_add_fwmark_option(&r->o, "7=10.1.0.0/24,tcp,8000-8099",
                                         &r->d));
    assert_true(import_add_fwmark_option(&r->o, "8=10.2.0.5,udp,0", &r->d));
    r->path = write_file("k.conf",
        "virtual_server fwmark 7 {\n"
        "    lb_kind DR\n"
        "    real_server 10.0.0.11 0 {\n    }\n"
        "}\n"
        "virtual_server_group G {\n    fwmark 8\n    10.0.0.9 53\n}\n"
        "virtual_server group G {\n"
        "    lb_kind DR\n    protocol UDP\n"
        "    real_server 10.0.0.11 53 {\n    }\n"
        "}\n");
    r->ok = import_keepalived(r->path, &r->o, &r->spec, &r->d);
    if (!r->ok) {
        dump_diag(&r->d);
    }
    assert_true(r->ok);
    const struct lb_service *s = find_service(&r->spec, "fwmark-7");
    assert_addr(&s->vip, "10.1.0.0");
    assert_int_equal(s->vip_prefix_len, 24);
    assert_int_equal(s->port, 8000);
    assert_int_equal(s->port_max, 8099);
    assert_int_equal(s->proto, LB_PROTO_TCP);
    s = find_service(&r->spec, "G-fwmark-8");
    assert_int_equal(s->proto, LB_PROTO_UDP);
    assert_int_equal(s->port, 0);
    assert_int_equal(s->vip_prefix_len, 32);
    find_service(&r->spec, "G-udp-10-0-0-9-53");
    run_free(r);

    struct import_options o;
    struct diag d;
    import_options_init(&o);
    diag_init(&d);
    static const char *const bad[] = {
        "7", "7=10.0.0.0/24", "7=10.0.0.0/24,tcp", "0=10.0.0.1,tcp,80",
        "7=10.0.0.1/24,tcp,80", "7=10.0.0.0/24,sctp,80",
        "7=10.0.0.0/24,tcp,90-80", "7=10.0.0.0/24,tcp,80,x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_false(import_add_fwmark_option(&o, bad[i], &d));
    }
    assert_true(import_add_fwmark_option(&o, "7=10.0.0.0/24,tcp,80", &d));
    assert_false(import_add_fwmark_option(&o, "7=10.0.0.0/24,tcp,81", &d));
    expect_diag(&d, DIAG_ERROR, 0, 0, "host bits set");
    expect_diag(&d, DIAG_ERROR, 0, 0, "mark given twice");
    import_options_destroy(&o);
    diag_destroy(&d);
}

/* Random token soup: never a crash, the result is consistent. */
static void
test_random_input(void **state)
{
    static const char *const words[] = {
        "virtual_server", "virtual_server_group", "real_server", "group",
        "fwmark", "G", "10.0.0.100", "10.0.0.11", "10.0.0.1-3", "80", "{",
        "}", "{", "}", "\n", "\n", "\n", "lb_kind", "DR", "NAT",
        "lb_algo", "rr", "weight", "2", "TCP_CHECK", "HTTP_GET", "url",
        "path", "/", "MISC_CHECK", "misc_path", "\"/bin/x 10.0.0.11\"",
        "'", "\"", "#", "!", "\\", "include", "quorum", "sorry_server",
        "persistence_timeout", "delay_loop", "0.5", "status_code",
        "UDP_CHECK", "payload", "zz", "inhibit_on_failure", "@x", "$Y=",
    };
    srand(7);
    for (int iter = 0; iter < 400; iter++) {
        char text[1024];
        size_t n = 0;
        int k = rand() % 80;
        for (int i = 0; i < k && n < sizeof text - 60; i++) {
            n += snprintf(text + n, sizeof text - n, "%s ",
                          words[rand() % (sizeof words / sizeof *words)]);
        }
        text[n] = '\0';
        struct run *r = run(text);
        run_free(r);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_get),
        cmocka_unit_test(test_tcp_check_defaults),
        cmocka_unit_test(test_ssl_get_and_inheritance),
        cmocka_unit_test(test_misc_check),
        cmocka_unit_test(test_udp_check),
        cmocka_unit_test(test_group_sorry_quorum_persistence),
        cmocka_unit_test(test_quorum_in_weight),
        cmocka_unit_test(test_lexical),
        cmocka_unit_test(test_include),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_warnings),
        cmocka_unit_test(test_skipped_blocks),
        cmocka_unit_test(test_ipv6_and_all_ports),
        cmocka_unit_test(test_fwmark_option),
        cmocka_unit_test(test_random_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
