/* Unit tests of reparsing a DSL text after an edit (grammar/dsl_reuse.c):
 * whatever is taken over from the earlier parse, the model (locations
 * included) and the diagnostics are those of a whole parse of the new
 * text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "diag.h"
#include "spec.h"

/* A spec of 'n' services using most statements, each service a few lines
 * long, with comments between some of them. */
static char *
make_spec(size_t n)
{
    size_t size = 4096 + n * 1024, len = 0;
    char *s = malloc(size);
    len += snprintf(s + len, size - len, "# header comment\n\n");
    for (size_t i = 0; i < n; i++) {
        len += snprintf(s + len, size - len,
            "service s%zu {\n"
            "    vip 172.16.%zu.%zu tcp %zu;\n"
            "    vip-mac 02:00:00:00:%02zx:%02zx;\n"
            "    scheduler %s;\n"
            "    real 10.1.%zu.1 mac 02:00:00:01:%02zx:01 weight %zu;\n"
            "    real 10.1.%zu.2 mac 02:00:00:01:%02zx:02 port p%zu;\n"
            "%s"
            "    check http path \"/h%zu\" interval 2s timeout 1s;\n"
            "}\n%s",
            i, i / 200, i % 200 + 1, 80 + i % 3, i / 256, i % 256,
            i % 2 ? "sh" : "fo", i % 250, i % 256, i % 7 + 1,
            i % 250, i % 256, i,
            i % 3 ? "" : "    sorry 10.9.0.1 mac 02:00:00:00:99:99;\n"
                         "    quorum 1;\n",
            i, i % 5 ? "" : "# between services\n\n");
    }
    return s;
}

struct result {
    struct lb_spec spec;
    struct diag d;
    struct lb_text_memo memo;
    size_t n_reused;
    bool ok;
};

static void
result_free(struct result *r)
{
    lb_spec_destroy(&r->spec);
    diag_destroy(&r->d);
    lb_text_memo_destroy(&r->memo);
}

/* Parses 'text' reusing 'lender' (may be NULL); the memo keeps a copy of
 * the text, as flowlbd's does, so that the next cut compares with it. */
static void
parse_reusing(struct result *r, const char *text,
              const struct lb_spec_lender *lender)
{
    memset(r, 0, sizeof *r);
    diag_init(&r->d);
    size_t len = strlen(text);
    r->ok = lb_dsl_parse_reusing("t.lb", text, len, &r->spec, &r->d,
                                 lender, &r->memo, &r->n_reused);
    if (r->ok && r->memo.n) {
        struct lb_text_buf copy = { malloc(len + 1), len + 1 };
        memcpy(copy.data, text, len + 1);
        lb_text_memo_keep_text(&r->memo, &copy, len);
        lb_text_buf_destroy(&copy);
    }
}

/* Whether two memos record the same pieces. */
static void
assert_same_pieces(const struct lb_text_memo *a, const struct lb_text_memo *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->pieces[i].hash, b->pieces[i].hash);
        assert_int_equal(a->pieces[i].len, b->pieces[i].len);
        assert_int_equal(a->pieces[i].line, b->pieces[i].line);
    }
}

static size_t last_memo_n;
static bool last_compared;      /* The last reparse's cut compared texts. */

/* Parses 'text' reusing 'prev', and as a whole into the same diag (so that
 * the file names of the locations are the same pointer: a location not
 * moved to the new parse's file would differ), and compares. Returns the
 * number of services taken over. */
static size_t
check_against_whole(const char *text, const struct result *prev,
                    const uint32_t *weights)
{
    struct lb_spec_lender lender = {
        .spec = &prev->spec, .memo = &prev->memo, .weights = weights,
    };
    struct result r;
    parse_reusing(&r, text, &lender);
    struct lb_spec whole;
    lb_spec_init(&whole);
    size_t n_records = r.d.n_records;
    bool ok = lb_dsl_parse("t.lb", text, strlen(text), &whole, &r.d);
    assert_int_equal(r.ok, ok);
    assert_int_equal(r.d.n_records, 2 * n_records);
    assert_int_equal(r.spec.n_services, whole.n_services);
    for (size_t i = 0; i < whole.n_services; i++) {
        assert_true(lb_service_equal(&r.spec.services[i],
                                     &whole.services[i]));
    }
    /* Recorded for the next time, one piece per service, or nothing. */
    last_memo_n = r.memo.n;
    assert_true(!r.memo.n || (ok && r.memo.n == r.spec.n_services));
    /* Cut by comparing with the lender's text or not, the pieces are
     * those of a cut of the whole text. */
    last_compared = r.memo.compared;
    struct result fresh;
    parse_reusing(&fresh, text, NULL);
    assert_false(fresh.memo.compared);
    assert_same_pieces(&r.memo, &fresh.memo);
    result_free(&fresh);
    size_t n_reused = r.n_reused;
    lb_spec_destroy(&whole);
    result_free(&r);
    return n_reused;
}

/* Replaces the first 'old' at or after 'from' in 'text' by 'new'. */
static char *
edit(const char *text, const char *from, const char *old, const char *new)
{
    const char *start = strstr(text, from);
    assert_non_null(start);
    const char *at = strstr(start, old);
    assert_non_null(at);
    size_t len = strlen(text) + strlen(new) + 1;
    char *s = malloc(len);
    snprintf(s, len, "%.*s%s%s", (int) (at - text), text, new,
             at + strlen(old));
    return s;
}

static struct result base;
static char *base_text;

static int
setup(void **state)
{
    (void) state;
    base_text = make_spec(40);
    parse_reusing(&base, base_text, NULL);
    return base.ok && base.memo.n == 40 && !base.n_reused ? 0 : -1;
}

static int
teardown(void **state)
{
    (void) state;
    result_free(&base);
    free(base_text);
    return 0;
}

static void
test_unchanged(void **state)
{
    (void) state;
    assert_int_equal(check_against_whole(base_text, &base, NULL), 40);
    assert_int_equal(last_memo_n, 40);
    assert_true(last_compared);
}

static void
test_one_weight(void **state)
{
    (void) state;
    char *t = edit(base_text, "service s17 ", "weight 4", "weight 9");
    assert_int_equal(check_against_whole(t, &base, NULL), 39);
    assert_true(last_compared);
    free(t);
}

/* A service added at the top moves every other one down: all are taken
 * over, with their lines moved. */
static void
test_service_added_first(void **state)
{
    (void) state;
    char *t = edit(base_text, "", "service s0 ",
                   "service new {\n    vip 172.31.0.1 udp 53;\n"
                   "    real 10.2.0.1 mac 02:00:00:02:00:01;\n}\n\n"
                   "service s0 ");
    assert_int_equal(check_against_whole(t, &base, NULL), 40);
    assert_int_equal(last_memo_n, 41);
    /* The first service's start changed: cut whole, not compared. */
    assert_false(last_compared);
    free(t);
}

/* A service renamed (parsed again) and one removed. */
static void
test_service_renamed_and_removed(void **state)
{
    (void) state;
    char *t = edit(base_text, "service s3 ", "service s3 ", "service gone ");
    char *u = edit(t, "service gone ", "service s4 ", "# s4 was here\n"
                   "service s4 ");
    /* The comment joins the end of the renamed piece: s4's is unchanged. */
    assert_int_equal(check_against_whole(u, &base, NULL), 39);
    const char *from = strstr(base_text, "service s6 ");
    const char *to = strstr(base_text, "service s7 ");
    size_t len = strlen(base_text);
    char *v = malloc(len + 1);
    snprintf(v, len + 1, "%.*s%s", (int) (from - base_text), base_text, to);
    assert_int_equal(check_against_whole(v, &base, NULL), 39);
    assert_true(last_compared);
    free(t);
    free(u);
    free(v);
}

/* Lines added inside one service move the services after it. */
static void
test_lines_added_inside(void **state)
{
    (void) state;
    char *t = edit(base_text, "service s5 ", "    check",
                   "    # two\n    # more lines\n    check");
    assert_int_equal(check_against_whole(t, &base, NULL), 39);
    assert_true(last_compared);
    free(t);
}

/* An error in a changed piece: the whole parse's diagnostics, nothing
 * taken over. */
static void
test_error_in_changed_piece(void **state)
{
    (void) state;
    char *t = edit(base_text, "service s20 ", "weight 7", "weight x7");
    assert_int_equal(check_against_whole(t, &base, NULL), 0);
    char *u = edit(base_text, "service s21 ", "}\n", "");   /* No '}'. */
    assert_int_equal(check_against_whole(u, &base, NULL), 0);
    char *v = edit(base_text, "service s22 ", "}\n", "}\njunk;\n");
    assert_int_equal(check_against_whole(v, &base, NULL), 0);
    /* Before the first service: the scanner's rules apply there too
     * (found by fuzz_reparse). */
    char *w = edit(base_text, "", "header", "head\xff\xff" "er");
    assert_int_equal(check_against_whole(w, &base, NULL), 0);
    char *x = edit(base_text, "", "# header", "junk");
    assert_int_equal(check_against_whole(x, &base, NULL), 0);
    free(t);
    free(u);
    free(v);
    free(w);
    free(x);
}

/* Two services on one line are one piece: parsed as a whole, nothing
 * recorded. */
static void
test_two_services_one_line(void **state)
{
    (void) state;
    char *t = edit(base_text, "service s9 ", "}\nservice s10 ",
                   "} service s10 ");
    assert_int_equal(check_against_whole(t, &base, NULL), 0);
    assert_int_equal(last_memo_n, 0);
    free(t);
}

/* Much of a small text changed: still taken piece by piece. Much of a
 * large one (parsed in two halves): parsed as a whole, faster. */
static void
test_much_changed(void **state)
{
    (void) state;
    char *t = strdup(base_text);
    for (int i = 0; i < 15; i++) {
        char from[32];
        snprintf(from, sizeof from, "service s%d ", i);
        char *u = edit(t, from, "timeout 1s", "timeout 900ms");
        free(t);
        t = u;
    }
    assert_int_equal(check_against_whole(t, &base, NULL), 25);
    free(t);

    char *big = make_spec(5000);
    assert_true(strlen(big) > (1u << 20));
    struct result big_base;
    parse_reusing(&big_base, big, NULL);
    assert_true(big_base.ok);
    char *one = edit(big, "service s4000 ", "timeout 1s", "timeout 9s");
    assert_int_equal(check_against_whole(one, &big_base, NULL), 4999);
    assert_true(last_compared);
    /* Every other service changed: a whole parse. */
    int k = 0;
    for (char *p = big; (p = strstr(p, "timeout 1s")); p++) {
        if (k++ % 2) {
            memcpy(p, "timeout 2s", 10);
        }
    }
    assert_int_equal(check_against_whole(big, &big_base, NULL), 0);
    free(one);
    free(big);
    result_free(&big_base);
}

/* The lender's weights changed by its user (administrative weights): the
 * weights given with it are the ones taken. */
static void
test_lender_weights(void **state)
{
    (void) state;
    struct result lent;
    parse_reusing(&lent, base_text, NULL);
    size_t n = 0;
    for (size_t i = 0; i < lent.spec.n_services; i++) {
        n += lent.spec.services[i].n_reals;
    }
    uint32_t *weights = malloc(n * sizeof *weights);
    n = 0;
    for (size_t i = 0; i < lent.spec.n_services; i++) {
        struct lb_service *svc = &lent.spec.services[i];
        for (size_t j = 0; j < svc->n_reals; j++) {
            weights[n++] = svc->reals[j].weight;
            svc->reals[j].weight = 0;
        }
    }
    assert_int_equal(check_against_whole(base_text, &lent, weights), 40);
    free(weights);
    result_free(&lent);
}

static void
test_byte_order_mark(void **state)
{
    (void) state;
    size_t len = strlen(base_text);
    char *t = malloc(len + 4);
    memcpy(t, "\xef\xbb\xbf", 3);
    memcpy(t + 3, base_text, len + 1);
    assert_int_equal(check_against_whole(t, &base, NULL), 40);
    assert_true(last_compared);
    free(t);
}

/* Random edits anywhere (bytes the scanner cares about, and the keyword
 * that starts a service): a reparse whose cut compares with the base text
 * agrees with a whole parse, and its cut with a cut of the whole text
 * (check_against_whole()). */
static void
test_random_edits(void **state)
{
    (void) state;
    static const char *const bits[] = {
        "service x ", "service ", "\nservice s1 {", "{", "}", "\"", "\\",
        "#", "\n", " ", "x", ";", "}\n", "\n}\n",
    };
    unsigned int seed = 12345;
    size_t base_len = strlen(base_text), n_compared = 0;
    size_t first = strstr(base_text, "service s0 ") - base_text;
    for (int round = 0; round < 3000; round++) {
        seed = seed * 1103515245 + 12345;
        size_t at = (seed >> 8) % base_len;
        seed = seed * 1103515245 + 12345;
        size_t cut = (seed >> 8) % 24;
        if (cut > base_len - at) {
            cut = base_len - at;
        }
        seed = seed * 1103515245 + 12345;
        const char *bit = bits[(seed >> 8) % (sizeof bits / sizeof *bits)];
        seed = seed * 1103515245 + 12345;
        int n_bits = (seed >> 8) % 3;     /* 0: a deletion only. */
        size_t size = base_len + 3 * 16 + 1;
        char *t = malloc(size);
        int len = snprintf(t, size, "%.*s", (int) at, base_text);
        for (int k = 0; k < n_bits; k++) {
            len += snprintf(t + len, size - len, "%s", bit);
        }
        snprintf(t + len, size - len, "%s", base_text + at + cut);
        check_against_whole(t, &base, NULL);
        /* Past the first service's keyword, a text that parses is always
         * cut by comparing. */
        assert_true(!last_memo_n || last_compared || at < first + 16);
        n_compared += last_memo_n && last_compared;
        free(t);
    }
    /* Most random edits break the syntax: then nothing is recorded (138
     * edits are, with this seed). */
    assert_true(n_compared > 100);
}

/* lb_dsl_weight_edits() of 'text' against the base parse: returns -1 if
 * refused, else the number of edits plus 100 times the number of services
 * added, each checked against a whole parse of 'text' (same file name
 * pointer: the base's diag). */
static int
weight_edits(const char *text)
{
    struct lb_spec_lender lender = { .spec = &base.spec,
                                     .memo = &base.memo };
    const char *file = base.spec.services[0].loc.file;
    struct lb_weight_edits e;
    if (!lb_dsl_weight_edits(file, text, strlen(text), &lender, &e)) {
        assert_null(e.edits);
        return -1;
    }
    struct lb_spec whole;
    lb_spec_init(&whole);
    assert_true(lb_dsl_parse("t.lb", text, strlen(text), &whole, &base.d));
    assert_int_equal(whole.n_services, base.spec.n_services + e.n_added);
    /* The base with the edits applied and the services added is the whole
     * parse, locations included. */
    for (size_t i = 0; i < e.n_added; i++) {
        size_t at = base.spec.n_services + i;
        assert_true(lb_service_equal(&e.added[i], &whole.services[at]));
        assert_int_equal(e.added[i].loc.line, whole.services[at].loc.line);
        assert_int_equal(e.added_pieces[i].line, whole.services[at].loc.line);
    }
    size_t k = 0;
    for (size_t i = 0; i < base.spec.n_services; i++) {
        const struct lb_service *now = &base.spec.services[i];
        if (k < e.n && e.edits[k].service == i) {
            now = &e.edits[k++].svc;
        }
        assert_true(lb_service_equal(now, &whole.services[i]));
    }
    assert_int_equal(k, e.n);
    lb_spec_destroy(&whole);
    int n = e.n + 100 * e.n_added;
    last_compared = e.compared;
    lb_weight_edits_destroy(&e);
    return n;
}

/* A reload that changes only weights is told apart from any other. */
static void
test_weight_edits(void **state)
{
    (void) state;
    assert_int_equal(weight_edits(base_text), 0);
    char *t = edit(base_text, "service s17 ", "weight 4", "weight 9");
    assert_int_equal(weight_edits(t), 1);
    assert_true(last_compared);
    /* A weight given where there was none, in another service too. */
    char *t2 = edit(t, "service s3 ", "port p3;", "port p3 weight 12;");
    assert_int_equal(weight_edits(t2), 2);
    free(t2);
    /* A comment at the end of a line changes no location: taken (with
     * the same weights). */
    t2 = edit(t, "service s20 ", "timeout 1s;", "timeout 1s; # edited");
    assert_int_equal(weight_edits(t2), 2);
    free(t2);
    /* Anything else is not a weight edit. */
    t2 = edit(t, "service s20 ", "02:00:00:01:14:01", "02:00:00:01:14:0a");
    assert_int_equal(weight_edits(t2), -1);
    free(t2);
    t2 = edit(t, "service s20 ", "    real", "\n    real");
    assert_int_equal(weight_edits(t2), -1);
    free(t2);
    t2 = edit(t, "service s20 ", "weight", "weight x");
    assert_int_equal(weight_edits(t2), -1);
    free(t2);
    t2 = edit(t, "service s20 ", "    vip", "    real 10.8.0.1 mac "
              "02:00:00:08:00:01;\n    vip");
    assert_int_equal(weight_edits(t2), -1);
    free(t2);
    /* Services added at the end: taken, with the weight edit. */
    const char *added = ("service added {\n    vip 198.51.100.9 tcp 80;\n"
                         "    real 10.77.0.9 mac 02:00:00:77:00:09;\n}\n");
    const char *added2 = ("# another\nservice added2 {\n"
                          "    vip 198.51.100.10 udp 53;\n"
                          "    real 10.77.0.10 mac 02:00:00:77:00:0a;\n}\n");
    size_t len = strlen(t) + 400;
    t2 = malloc(len);
    snprintf(t2, len, "%s%s", t, added);
    assert_int_equal(weight_edits(t2), 101);
    snprintf(t2, len, "%s%s%s", t, added, added2);
    assert_int_equal(weight_edits(t2), 201);
    assert_true(last_compared);
    /* One that does not parse: refused. */
    snprintf(t2, len, "%s%s", t, "service broken {\n    vip 1.2.3;\n}\n");
    assert_int_equal(weight_edits(t2), -1);
    /* Added before the last service (whose line moves): refused. */
    char *s39 = strstr(t, "service s39 ");
    assert_non_null(s39);
    snprintf(t2, len, "%.*s%s%s", (int) (s39 - t), t, added, s39);
    assert_int_equal(weight_edits(t2), -1);
    /* The last one removed, another added in its place: refused. */
    snprintf(t2, len, "%.*s%s", (int) (s39 - t), t, added);
    assert_int_equal(weight_edits(t2), -1);
    free(t2);
    free(t);
    /* More services' weights than LB_WEIGHT_EDITS_MAX: a whole reload. */
    struct result many;
    char *big = make_spec(LB_WEIGHT_EDITS_MAX + 1);
    parse_reusing(&many, big, NULL);
    char *bumped = strdup(big);
    for (char *p = bumped; (p = strstr(p, "weight ")); p += 7) {
        p[7] = p[7] == '9' ? '8' : p[7] + 1;
    }
    struct lb_spec_lender lender = { .spec = &many.spec,
                                     .memo = &many.memo };
    struct lb_weight_edits e;
    assert_false(lb_dsl_weight_edits(many.spec.services[0].loc.file, bumped,
                                     strlen(bumped), &lender, &e));
    /* One fewer changed: taken. */
    char *last = strstr(bumped, "service s64 ");
    assert_non_null(last);
    strcpy(last, strstr(big, "service s64 "));
    assert_true(lb_dsl_weight_edits(many.spec.services[0].loc.file, bumped,
                                    strlen(bumped), &lender, &e));
    assert_int_equal(e.n, LB_WEIGHT_EDITS_MAX);
    lb_weight_edits_destroy(&e);
    /* ...but not with a service added: over the bound together. */
    char *more = malloc(strlen(bumped) + 200);
    sprintf(more, "%sservice added {\n    vip 198.51.100.9 tcp 80;\n}\n",
            bumped);
    assert_false(lb_dsl_weight_edits(many.spec.services[0].loc.file, more,
                                     strlen(more), &lender, &e));
    free(more);
    free(bumped);
    free(big);
    result_free(&many);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unchanged),
        cmocka_unit_test(test_one_weight),
        cmocka_unit_test(test_service_added_first),
        cmocka_unit_test(test_service_renamed_and_removed),
        cmocka_unit_test(test_lines_added_inside),
        cmocka_unit_test(test_error_in_changed_piece),
        cmocka_unit_test(test_two_services_one_line),
        cmocka_unit_test(test_much_changed),
        cmocka_unit_test(test_lender_weights),
        cmocka_unit_test(test_byte_order_mark),
        cmocka_unit_test(test_weight_edits),
        cmocka_unit_test(test_random_edits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
