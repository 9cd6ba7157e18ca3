/* Unit tests of `flowlb import ipvsadm` (compiler/import_ipvsadm.c) and the
 * MAC sources (--mac, ip neigh): each option form, each error with its
 * line:col. */
#include <arpa/inet.h>
#include "import_test_util.h"

struct run {
    struct lb_spec spec;
    struct diag d;
    struct import_options o;
    bool ok;
};

static struct run *
run_opts(const char *text, const char *const *macs)
{
    struct run *r = calloc(1, sizeof *r);
    lb_spec_init(&r->spec);
    diag_init(&r->d);
    import_options_init(&r->o);
    for (size_t i = 0; macs && macs[i]; i++) {
        assert_true(import_add_mac_option(&r->o, macs[i], &r->d));
    }
    r->ok = import_ipvsadm("r.txt", text, strlen(text), &r->o, &r->spec,
                           &r->d);
    assert_int_equal(r->ok, r->d.n_errors == 0);
    return r;
}

static struct run *
run(const char *text)
{
    return run_opts(text, NULL);
}

static void
run_free(struct run *r)
{
    lb_spec_destroy(&r->spec);
    diag_destroy(&r->d);
    import_options_destroy(&r->o);
    free(r);
}

static const char *const web_macs[] = {
    "10.0.0.11=02:00:00:00:00:11", "10.0.0.12=02:00:00:00:00:12",
    "2001:db8::11=02:00:00:00:00:21", NULL
};

static void
test_short_forms(void **state)
{
    struct run *r = run_opts(
        "-A -t 10.0.0.100:80 -s wrr -p 300 -M 255.255.255.0\n"
        "-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 3\n"
        "-a -t 10.0.0.100:80 -r 10.0.0.12:80 -g -w 0\n"
        "-A -u 10.0.0.100:53 -s sh\n"
        "-a -u 10.0.0.100:53 -r 10.0.0.11 -g\n", web_macs);
    assert_true(r->ok);
    assert_int_equal(r->d.n_records, 0);
    assert_int_equal(r->spec.n_services, 2);
    const struct lb_service *s = find_service(&r->spec, "tcp-10-0-0-100-80");
    assert_addr(&s->vip, "10.0.0.100");
    assert_int_equal(s->proto, LB_PROTO_TCP);
    assert_int_equal(s->port, 80);
    assert_int_equal(s->scheduler, LB_SCHED_WRR);
    assert_int_equal(s->persistence_s, 300);
    assert_int_equal(s->persistence_prefix_len, 24);
    assert_int_equal(s->n_reals, 2);
    assert_addr(&s->reals[0].addr, "10.0.0.11");
    assert_int_equal(s->reals[0].weight, 3);
    assert_true(s->reals[0].has_mac);
    assert_mac(&s->reals[0].mac, "02:00:00:00:00:11");
    assert_null(s->reals[0].port);
    assert_int_equal(s->reals[1].weight, 0);
    assert_int_equal(s->reals[0].loc.line, 2);
    assert_int_equal(s->reals[0].addr_loc.col, 24);
    s = find_service(&r->spec, "udp-10-0-0-100-53");
    assert_int_equal(s->proto, LB_PROTO_UDP);
    assert_int_equal(s->scheduler, LB_SCHED_SH);
    assert_int_equal(s->persistence_s, 0);
    /* No -w: IPVS's default weight 1. */
    assert_int_equal(s->reals[0].weight, 1);
    run_free(r);
}

static void
test_long_forms(void **state)
{
    struct run *r = run_opts(
        "# saved by hand\n"
        "ipvsadm --add-service --tcp-service=10.0.0.100:443 --scheduler=mh "
        "--persistent 60\n"
        "--add-server --tcp-service 10.0.0.100:443 --real-server=10.0.0.11:443"
        " --gatewaying --weight=2\n"
        "--add-service --udp-service [2001:db8::53]:53 --scheduler fo\n"
        "--add-server --udp-service [2001:db8::53]:53 --real-server "
        "[2001:db8::11]:53 --gatewaying --weight 5\n", web_macs);
    assert_true(r->ok);
    const struct lb_service *s = find_service(&r->spec, "tcp-10-0-0-100-443");
    assert_int_equal(s->scheduler, LB_SCHED_MH);
    assert_int_equal(s->persistence_s, 60);
    /* No -M: the whole client address. */
    assert_int_equal(s->persistence_prefix_len, 32);
    assert_int_equal(s->reals[0].weight, 2);
    s = find_service(&r->spec, "udp-2001-db8--53-53");
    assert_addr(&s->vip, "2001:db8::53");
    assert_int_equal(s->scheduler, LB_SCHED_FO);
    assert_addr(&s->reals[0].addr, "2001:db8::11");
    assert_int_equal(s->reals[0].weight, 5);
    assert_int_equal(s->vip_prefix_len, 128);
    run_free(r);
}

static void
test_persistence_forms(void **state)
{
    struct run *r = run(
        "-A -t 10.0.0.1:80 -p\n"
        "-A -t 10.0.0.1:81 -p -M 255.255.0.0 -s rr\n"
        "-A -t 10.0.0.1:82 -p300\n"
        "-A -t [2001:db8::1]:80 -s wrr -p 120 -M 64\n"
        "-A -t 10.0.0.1:0 -s sh -p 600\n");
    assert_true(r->ok);
    const struct lb_service *s = find_service(&r->spec, "tcp-10-0-0-1-80");
    assert_int_equal(s->persistence_s, 300);
    /* No -s: IPVS's default scheduler. */
    assert_int_equal(s->scheduler, LB_SCHED_WLC);
    s = find_service(&r->spec, "tcp-10-0-0-1-81");
    assert_int_equal(s->persistence_s, 300);
    assert_int_equal(s->persistence_prefix_len, 16);
    assert_int_equal(s->scheduler, LB_SCHED_RR);
    s = find_service(&r->spec, "tcp-10-0-0-1-82");
    assert_int_equal(s->persistence_s, 300);
    s = find_service(&r->spec, "tcp-2001-db8--1-80");
    assert_int_equal(s->persistence_prefix_len, 64);
    s = find_service(&r->spec, "tcp-10-0-0-1-0");
    assert_int_equal(s->port, 0);
    assert_int_equal(s->persistence_s, 600);
    run_free(r);
}

static void
test_schedulers(void **state)
{
    static const struct { const char *name; enum lb_scheduler s; } map[] = {
        { "rr", LB_SCHED_RR }, { "wrr", LB_SCHED_WRR }, { "lc", LB_SCHED_LC },
        { "wlc", LB_SCHED_WLC }, { "sh", LB_SCHED_SH }, { "dh", LB_SCHED_DH },
        { "mh", LB_SCHED_MH }, { "fo", LB_SCHED_FO },
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
        char text[64];
        snprintf(text, sizeof text, "-A -t 10.0.0.1:80 -s %s\n", map[i].name);
        struct run *r = run(text);
        assert_true(r->ok);
        assert_int_equal(r->spec.services[0].scheduler, map[i].s);
        run_free(r);
    }
    static const char *const unsupported[] = {
        "lblc", "lblcr", "sed", "nq", "ovf", "twos", "bogus"
    };
    for (size_t i = 0; i < sizeof unsupported / sizeof *unsupported; i++) {
        char text[64];
        snprintf(text, sizeof text, "-A -t 10.0.0.1:80 -s %s\n",
                 unsupported[i]);
        struct run *r = run(text);
        assert_false(r->ok);
        expect_diag(&r->d, DIAG_ERROR, 1, 22,
                    "(flowlb has: rr, wrr, lc, wlc, sh, dh, mh, fo)");
        run_free(r);
    }
}

static void
test_edit_delete_clear(void **state)
{
    struct run *r = run_opts(
        "-A -t 10.0.0.1:80 -s rr\n"
        "-a -t 10.0.0.1:80 -r 10.0.0.11 -g -w 1\n"
        "-a -t 10.0.0.1:80 -r 10.0.0.12 -g -w 1\n"
        "-E -t 10.0.0.1:80 -s sh -p 30\n"
        "-e -t 10.0.0.1:80 -r 10.0.0.11 -g -w 7\n"
        "-d -t 10.0.0.1:80 -r 10.0.0.12\n"
        "-A -t 10.0.0.2:80\n"
        "-D -t 10.0.0.2:80\n", web_macs);
    assert_true(r->ok);
    assert_int_equal(r->spec.n_services, 1);
    const struct lb_service *s = &r->spec.services[0];
    assert_int_equal(s->scheduler, LB_SCHED_SH);
    assert_int_equal(s->persistence_s, 30);
    assert_int_equal(s->n_reals, 1);
    assert_int_equal(s->reals[0].weight, 7);
    run_free(r);

    r = run("-A -t 10.0.0.1:80\n-C\n-A -t 10.0.0.2:80\n");
    assert_true(r->ok);
    assert_int_equal(r->spec.n_services, 1);
    assert_string_equal(r->spec.services[0].name, "tcp-10-0-0-2-80");
    run_free(r);
}

static void
test_nat_and_tunnel_are_errors(void **state)
{
    struct run *r = run_opts(
        "-A -t 10.0.0.1:80 -s rr\n"
        "-a -t 10.0.0.1:80 -r 10.0.0.11:80 -m -w 1\n"
        "-a -t 10.0.0.1:80 -r 10.0.0.12:80 --ipip -w 1\n"
        "-a -t 10.0.0.1:80 -r 10.0.0.13:80 --masquerading\n", web_macs);
    assert_false(r->ok);
    expect_diag(&r->d, DIAG_ERROR, 2, 35, "uses NAT (masquerading, -m)");
    expect_diag(&r->d, DIAG_ERROR, 3, 35, "IP-in-IP tunnelling (-i)");
    expect_diag(&r->d, DIAG_ERROR, 4, 35, "NAT is not converted");
    run_free(r);
}

static void
test_fwmark_is_an_error(void **state)
{
    struct run *r = run(
        "-A -f 7 -s rr\n"
        "-a -f 7 -r 10.0.0.11:0 -g -w 1\n"
        "-A -t 10.0.0.1:80\n");
    assert_false(r->ok);
    expect_diag(&r->d, DIAG_ERROR, 1, 4, "firewall-mark service 7 cannot be "
                "imported as it is");
    expect_diag(&r->d, DIAG_ERROR, 1, 4, "--fwmark 7=ADDRESS[/LEN],PROTO,"
                "PORT[-PORT]");
    /* Its reals are not reported again. */
    assert_int_equal(r->d.n_errors, 1);
    run_free(r);

    /* With --fwmark: a match-based service, reals attached by mark. */
    r = calloc(1, sizeof *r);
    lb_spec_init(&r->spec);
    diag_init(&r->d);
    import_options_init(&r->o);
    assert_true(import_add_fwmark_option(&r->o, "7=10.1.0.0/24,tcp,8000-8099",
                                         &r->d));
    for (size_t i = 0; web_macs[i]; i++) {
        assert_true(import_add_mac_option(&r->o, web_macs[i], &r->d));
    }
    static const char text[] =
        "-A -f 7 -s sh -p 300 -M 255.255.255.0\n"
        "-a -f 7 -r 10.0.0.11:0 -g -w 1\n"
        "-a -f 7 -r 10.0.0.12:0 -g -w 2\n";
    r->ok = import_ipvsadm("r.txt", text, strlen(text), &r->o, &r->spec,
                           &r->d);
    if (!r->ok) {
        dump_diag(&r->d);
    }
    assert_true(r->ok);
    assert_int_equal(r->d.n_records, 0);
    const struct lb_service *s = find_service(&r->spec, "fwmark-7");
    assert_addr(&s->vip, "10.1.0.0");
    assert_int_equal(s->vip_prefix_len, 24);
    assert_int_equal(s->port, 8000);
    assert_int_equal(s->port_max, 8099);
    assert_int_equal(s->persistence_prefix_len, 24);
    assert_int_equal(s->n_reals, 2);
    assert_int_equal(s->reals[1].weight, 2);
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
        { "-a -t 10.0.0.1:80 -r 10.0.0.11\n", 1, 1,
          "-a: no service tcp 10.0.0.1:80 (add it with -A first)" },
        { "-A -t 10.0.0.1:80\n-A -t 10.0.0.1:80\n", 2, 1,
          "service tcp 10.0.0.1:80 added twice (first at line 1)" },
        { "-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.0.0.11\n"
          "-a -t 10.0.0.1:80 -r 10.0.0.11\n", 3, 22,
          "real 10.0.0.11 added twice" },
        { "-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.0.0.11 -w 70000\n",
          2, 35, "invalid weight '70000'" },
        { "-A -t web.example.com:http\n", 1, 7, "not a numeric address "
          "(save the rules with ipvsadm -S -n)" },
        { "-A -t 10.0.0.1:http\n", 1, 7, "not a numeric port" },
        { "-A -t 10.0.0.1\n", 1, 7, "missing port" },
        { "-A -t 2001:db8::1:80\n", 1, 7, "[ADDRESS]:PORT" },
        { "-A --sctp-service 10.0.0.1:80\n", 1, 4, "SCTP" },
        { "-A -t 10.0.0.1:80 --frobnicate\n", 1, 19, "unknown ipvsadm "
          "option '--frobnicate'" },
        { "-t 10.0.0.1:80 -s rr\n", 1, 1, "no command on this line" },
        { "-A -t 10.0.0.1:80 -a\n", 1, 19, "more than one command" },
        { "-A -s rr\n", 1, 1, "-A needs the service" },
        { "-A -t 10.0.0.1:80 -u 10.0.0.1:80\n", 1, 1, "more than one of" },
        { "-A -t 10.0.0.1:80 -s\n", 1, 19, "needs a value" },
        { "-A -t 10.0.0.1:80 -s rr -s sh\n", 1, 25, "given twice" },
        { "-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r [2001:db8::11]:80\n",
          2, 22, "not of the VIP's address family" },
        { "-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80\n", 2, 1, "-a needs the "
          "real" },
        { "-A -t 10.0.0.1:80\n-e -t 10.0.0.1:80 -r 10.0.0.9 -w 2\n", 2, 22,
          "has no real 10.0.0.9" },
        { "-A -t 10.0.0.1:80 -p 0\n", 1, 22, "invalid persistence timeout" },
        { "-A -t 10.0.0.1:80 -p 30 -M 255.0.255.0\n", 1, 28,
          "not contiguous" },
        { "-R\n", 1, 1, "not a rule" },
        { "-A -g -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.0.0.2 -g=x\n", 2, 31,
          "takes no value" },
        { "# nothing\n\n", 0, 0, "no virtual services found" },
        { "-A -f 0\n", 1, 7, "invalid firewall mark" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct run *r = run(cases[i].text);
        if (r->ok) {
            fprintf(stderr, "case %zu should fail: %s", i, cases[i].text);
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
    struct run *r = run_opts(
        "-A -t 10.0.0.1:80 -s rr -o -b sh-port\n"
        "-a -t 10.0.0.1:80 -r 10.0.0.11:8080 -g -w 1 -x 100 -y 10\n"
        "-a -t 10.0.0.1:80 -r 10.0.0.77:80 -g -w 1\n"
        "-A -t 10.0.0.1:81 -M 255.255.255.0\n", web_macs);
    assert_true(r->ok);
    expect_diag(&r->d, DIAG_WARNING, 1, 25, "one-packet scheduling (-o)");
    expect_diag(&r->d, DIAG_WARNING, 1, 28, "scheduler flags (-b)");
    expect_diag(&r->d, DIAG_WARNING, 2, 22, "direct routing cannot change "
                "the port");
    expect_diag(&r->d, DIAG_WARNING, 2, 45, "upper threshold (-x)");
    expect_diag(&r->d, DIAG_WARNING, 2, 52, "lower threshold (-y)");
    expect_diag(&r->d, DIAG_WARNING, 3, 22, "no MAC known for real 10.0.0.77 "
                "(give --mac 10.0.0.77=MAC or --neigh FILE)");
    expect_diag(&r->d, DIAG_WARNING, 4, 19, "-M without -p");
    const struct lb_service *s = find_service(&r->spec, "tcp-10-0-0-1-80");
    assert_false(s->reals[1].has_mac);
    assert_true(s->reals[0].has_mac);
    run_free(r);
}

static void
test_neigh(void **state)
{
    static const char neigh[] =
        "10.0.0.11 dev eth0 lladdr 8e:97:27:0e:e3:18 REACHABLE\n"
        "10.0.0.12 dev eth0  FAILED\n"
        "10.0.0.13 dev eth1 lladdr F6:5E:D3:B7:50:8A STALE\n"
        "fe80::1 dev eth0 lladdr 02:00:00:00:00:01 router REACHABLE\n"
        "\n"
        "garbage\n"
        "10.0.0.14 lladdr 02:00:00:00:00:14 PERMANENT\n";
    struct import_options o;
    struct diag d;
    import_options_init(&o);
    diag_init(&d);
    assert_true(import_add_mac_option(&o, "10.0.0.13=02:00:00:00:00:13", &d));
    assert_true(import_load_neigh(&o, "n.txt", neigh, strlen(neigh), &d));
    assert_int_equal(d.n_records, 0);
    struct lb_addr a;
    lb_parse_addr("10.0.0.11", &a);
    assert_mac(&import_find_mac(&o, &a)->mac, "8e:97:27:0e:e3:18");
    lb_parse_addr("10.0.0.12", &a);
    assert_null(import_find_mac(&o, &a));
    /* --mac wins over the table. */
    lb_parse_addr("10.0.0.13", &a);
    assert_mac(&import_find_mac(&o, &a)->mac, "02:00:00:00:00:13");
    lb_parse_addr("10.0.0.14", &a);
    assert_mac(&import_find_mac(&o, &a)->mac, "02:00:00:00:00:14");
    lb_parse_addr("fe80::1", &a);
    assert_non_null(import_find_mac(&o, &a));

    /* The same address with two MACs, not settled by --mac. */
    static const char conflict[] =
        "10.0.0.11 dev eth1 lladdr 02:00:00:00:00:99 REACHABLE\n"
        "10.0.0.15 dev eth0 lladdr 02:00:00:00:00:zz REACHABLE\n";
    assert_false(import_load_neigh(&o, "n2.txt", conflict, strlen(conflict),
                                   &d));
    expect_diag(&d, DIAG_ERROR, 1, 27, "10.0.0.11 has lladdr "
                "02:00:00:00:00:99 here but 8e:97:27:0e:e3:18 at line 1; say "
                "which with --mac 10.0.0.11=MAC");
    expect_diag(&d, DIAG_ERROR, 2, 27, "invalid MAC address");

    /* --mac forms. */
    assert_false(import_add_mac_option(&o, "10.0.0.1", &d));
    assert_false(import_add_mac_option(&o, "10.0.0.300=02:00:00:00:00:01",
                                       &d));
    assert_false(import_add_mac_option(&o, "10.0.0.1=02-00-00-00-00-01", &d));
    assert_false(import_add_mac_option(&o, "10.0.0.13=02:00:00:00:00:31",
                                       &d));
    assert_true(import_add_mac_option(&o, "10.0.0.13=02:00:00:00:00:13", &d));
    import_options_destroy(&o);
    diag_destroy(&d);
}

static void
test_vip_mac_option(void **state)
{
    struct run *r = calloc(1, sizeof *r);
    lb_spec_init(&r->spec);
    diag_init(&r->d);
    import_options_init(&r->o);
    r->o.vip_mac_auto = true;
    static const char text[] = "-A -t 10.0.0.100:80 -s rr\n";
    assert_true(import_ipvsadm("r.txt", text, strlen(text), &r->o, &r->spec,
                               &r->d));
    assert_true(r->spec.services[0].vip_mac_auto);
    assert_true(r->spec.services[0].has_vip_mac);
    assert_mac(&r->spec.services[0].vip_mac, "02:00:0a:00:00:64");
    run_free(r);
}

static void
test_names(void **state)
{
    char *n = import_service_name(NULL, LB_PROTO_TCP,
                                  &(struct lb_addr) { .family = AF_INET,
                                                      .v4 = { htonl(0x0a000064) } },
                                  80);
    assert_string_equal(n, "tcp-10-0-0-100-80");
    free(n);
    struct lb_addr a6;
    lb_parse_addr("2001:db8::1", &a6);
    n = import_service_name("web", LB_PROTO_UDP, &a6, 53);
    assert_string_equal(n, "web-udp-2001-db8--1-53");
    free(n);

    struct lb_spec spec;
    lb_spec_init(&spec);
    for (int i = 0; i < 3; i++) {
        lb_spec_add_service(&spec)->name = strdup("x");
    }
    import_unique_names(&spec, 0);
    assert_string_equal(spec.services[0].name, "x");
    assert_string_equal(spec.services[1].name, "x-2");
    assert_string_equal(spec.services[2].name, "x-3");
    lb_spec_destroy(&spec);
}

static void
test_nul_and_crlf(void **state)
{
    static const char text[] = "-A -t 10.0.0.1:80 -s rr\r\n-a -t 10.0.0.1:80 "
                               "-r 10.0.0.11 -g\r\n";
    struct run *r = run_opts(text, web_macs);
    assert_true(r->ok);
    assert_int_equal(r->spec.services[0].n_reals, 1);
    run_free(r);

    static const char nul[] = "-A -t 10.0.0.1:80\n-A\0 -t\n";
    struct run *r2 = calloc(1, sizeof *r2);
    lb_spec_init(&r2->spec);
    diag_init(&r2->d);
    import_options_init(&r2->o);
    assert_false(import_ipvsadm("r.txt", nul, sizeof nul - 1, &r2->o,
                                &r2->spec, &r2->d));
    expect_diag(&r2->d, DIAG_ERROR, 2, 1, "NUL byte");
    run_free(r2);
}

/* Random token soup and random bytes: never a crash, and the result is
 * consistent (ok exactly when no error was reported). */
static void
test_random_input(void **state)
{
    static const char *const words[] = {
        "-A", "-E", "-D", "-C", "-a", "-e", "-d", "-t", "-u", "-f", "-s",
        "-p", "-M", "-r", "-g", "-i", "-m", "-w", "-x", "-y", "-o", "-b",
        "--add-service", "--tcp-service=10.0.0.1:80", "10.0.0.1:80",
        "10.0.0.2", "[2001:db8::1]:80", "[2001:db8::2]", "wrr", "rr", "300",
        "255.255.255.0", "7", "0", "70000", "ipvsadm", "#", "\n", "\n",
        "\n", "--weight", "-p300", "x", "", ":", "[", "]:",
    };
    srand(42);
    for (int iter = 0; iter < 3000; iter++) {
        char text[512];
        size_t n = 0;
        int k = rand() % 40;
        for (int i = 0; i < k && n < sizeof text - 40; i++) {
            n += snprintf(text + n, sizeof text - n, "%s ",
                          words[rand() % (sizeof words / sizeof *words)]);
        }
        if (iter % 3 == 0) {
            for (size_t i = 0; i < n; i++) {
                if (rand() % 20 == 0) {
                    text[i] = (char) (rand() % 255 + 1);
                }
            }
        }
        text[n] = '\0';
        struct run *r = run_opts(text, web_macs);
        run_free(r);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_forms),
        cmocka_unit_test(test_long_forms),
        cmocka_unit_test(test_persistence_forms),
        cmocka_unit_test(test_schedulers),
        cmocka_unit_test(test_edit_delete_clear),
        cmocka_unit_test(test_nat_and_tunnel_are_errors),
        cmocka_unit_test(test_fwmark_is_an_error),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_warnings),
        cmocka_unit_test(test_neigh),
        cmocka_unit_test(test_vip_mac_option),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_nul_and_crlf),
        cmocka_unit_test(test_random_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
