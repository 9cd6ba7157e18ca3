/* Unit tests of lowering with services copied from an earlier pipeline
 * (lower_spec_reusing()): after any edit, the pipeline is element for
 * element, locations included, the one lower_spec() makes of the new text;
 * and services are copied only where their text and id are unchanged. */
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
#include "ir.h"
#include "lower.h"
#include "spec.h"

/* A text parsed (reusing 'lender' if not NULL), checked and lowered. */
struct lowered {
    struct diag d;
    struct lb_spec spec;
    struct lb_text_memo memo;
    struct ir_pipeline ir;
    size_t n_copied;
};

static void
lowered_make(struct lowered *x, const char *text, const struct lowered *prev,
             const struct lower_options *lo)
{
    diag_init(&x->d);
    lb_spec_init(&x->spec);
    memset(&x->memo, 0, sizeof x->memo);
    ir_init(&x->ir);
    struct lb_spec_lender sl = { .spec = prev ? &prev->spec : NULL,
                                 .memo = prev ? &prev->memo : NULL };
    size_t n_reused;
    assert_true(lb_dsl_parse_reusing("t.lb", text, strlen(text), &x->spec,
                                     &x->d, prev ? &sl : NULL, &x->memo,
                                     &n_reused));
    assert_true(lb_check(&x->spec, &x->d));
    struct lower_lender ll = { .spec = prev ? &prev->spec : NULL,
                               .ir = prev ? &prev->ir : NULL,
                               .taken_from = x->memo.taken_from };
    assert_true(lower_spec_reusing(&x->spec, lo, &x->ir, &x->d,
                                   prev ? &ll : NULL, &x->n_copied));
}

static void
lowered_destroy(struct lowered *x)
{
    ir_destroy(&x->ir);
    lb_text_memo_destroy(&x->memo);
    lb_spec_destroy(&x->spec);
    diag_destroy(&x->d);
}

/* Lowers 'next' reusing the pipeline of 'prev' and as a whole, compares
 * them, and returns how many services were copied. */
static size_t
check_edit(const char *prev, const char *next, const struct lower_options *lo)
{
    struct lowered a, b, whole;
    lowered_make(&a, prev, NULL, lo);
    assert_int_equal(a.n_copied, 0);
    lowered_make(&b, next, &a, lo);
    lowered_make(&whole, next, NULL, lo);
    if (!ir_pipeline_equal(&b.ir, &whole.ir)) {
        ir_print(&b.ir, stderr);
        ir_print(&whole.ir, stderr);
        fail_msg("the lowering with copies differs from the whole one");
    }
    size_t n = b.n_copied;
    lowered_destroy(&a);
    lowered_destroy(&b);
    lowered_destroy(&whole);
    return n;
}

static char *
read_example(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/examples/%s", SOURCE_DIR, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *text = calloc(1, 1 << 20);
    size_t n = fread(text, 1, (1 << 20) - 1, f);
    fclose(f);
    assert_true(n > 0);
    return text;
}

static size_t
count_services(const char *text)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, "\nservice ")); p++) {
        n++;
    }
    return n + !strncmp(text, "service ", 8);
}

static const char *const examples[] = {
    "demo.lb", "failover.lb", "fwmark.lb", "ipv6.lb", "multi.lb",
    "persistence.lb", "udp.lb", "web.lb",
};

/* Every example, unchanged and with lines added at the top (every service
 * moves down): all its services copied, the pipeline the same. */
static void
test_examples_unchanged_and_moved(void **state)
{
    (void) state;
    struct lower_options lo;
    lower_options_init(&lo);
    for (size_t i = 0; i < sizeof examples / sizeof *examples; i++) {
        char *text = read_example(examples[i]);
        size_t n = count_services(text);
        assert_int_equal(check_edit(text, text, &lo), n);
        size_t len = strlen(text) + 256;
        char *moved = malloc(len);
        snprintf(moved, len, "# Three lines\n# more\n\n%s", text);
        assert_int_equal(check_edit(text, moved, &lo), n);
        /* Other tables, zone and miss: the same options both times. */
        struct lower_options other = lo;
        other.table_base = 10;
        other.next_table = 30;
        other.ct_zone = 7;
        assert_int_equal(check_edit(text, moved, &other), n);
        free(moved);
        free(text);
    }
}

/* A service added at the top of the largest example (all others move
 * down): all of them copied. */
static void
test_service_added(void **state)
{
    (void) state;
    struct lower_options lo;
    lower_options_init(&lo);
    char *text = read_example("multi.lb");
    size_t len = strlen(text) + 256;
    char *next = malloc(len);
    snprintf(next, len, "service added {\n    vip 198.51.100.1 tcp 8;\n"
             "    real 10.77.0.1 mac 02:00:00:77:00:01;\n}\n\n%s", text);
    assert_int_equal(check_edit(text, next, &lo), count_services(text));
    free(next);
    free(text);
}

/* A weight changed: that service lowered again, the others copied. */
static void
test_weight_changed(void **state)
{
    (void) state;
    struct lower_options lo;
    lower_options_init(&lo);
    char *text = read_example("multi.lb");
    char *at = strstr(text, "weight 3;");
    assert_non_null(at);
    char *next = strdup(text);
    next[at - text + 7] = '5';
    assert_int_equal(check_edit(text, next, &lo), count_services(text) - 1);
    free(next);
    free(text);
}

/* Two names whose ids collide: the one that sorts first takes the hashed
 * id. Adding it moves the other to the next id: the other's text is
 * unchanged but it is lowered again (its cookie and group changed). */
static void
test_id_moved_by_collision(void **state)
{
    (void) state;
    /* FNV-1a of the name, as lower.c derives ids. */
    enum { SPAN = 1 << 20 };
    uint32_t *seen = calloc(SPAN, sizeof *seen);
    char a[16] = "", b[16] = "";
    for (uint32_t n = 1; !a[0]; n++) {
        char name[16];
        snprintf(name, sizeof name, "c%u", n);
        uint32_t h = 2166136261u;
        for (const char *p = name; *p; p++) {
            h = (h ^ (uint8_t) *p) * 16777619u;
        }
        h &= SPAN - 1;
        if (seen[h]) {
            snprintf(a, sizeof a, "c%u", seen[h]);
            snprintf(b, sizeof b, "%s", name);
        }
        seen[h] = n;
    }
    free(seen);
    /* 'first' sorts before 'second'. */
    const char *first = strcmp(a, b) < 0 ? a : b;
    const char *second = first == a ? b : a;
    char prev[512], next[1024];
    snprintf(prev, sizeof prev,
             "service %s {\n    vip 198.51.100.2 tcp 80;\n"
             "    real 10.77.0.2 mac 02:00:00:77:00:02;\n}\n", second);
    snprintf(next, sizeof next,
             "service %s {\n    vip 198.51.100.3 tcp 80;\n"
             "    real 10.77.0.3 mac 02:00:00:77:00:03;\n}\n%s", first, prev);
    struct lower_options lo;
    lower_options_init(&lo);
    assert_int_equal(check_edit(prev, next, &lo), 0);
}

/* Copies of the flows and groups of 'ir' that are service 'g''s own
 * ('own') or not ('!own'). */
static void
split_pipeline(const struct ir_pipeline *ir, const struct ir_group *g,
               bool own, struct ir_pipeline *out)
{
    ir_init(out);
    for (size_t k = 0; k < ir->n_flows; k++) {
        const struct ir_flow *f = &ir->flows[k];
        if (ir_flow_is_own(f, g->cookie) == own) {
            struct ir_flow *c = ir_copy_flow(out, f, f->service,
                                             f->loc.file, 0);
            for (size_t s = 0; s < f->n_shared_by; s++) {
                c->shared_by = realloc(c->shared_by,
                                       (s + 1) * sizeof *c->shared_by);
                c->shared_by[c->n_shared_by++] = f->shared_by[s];
            }
        }
    }
    for (size_t k = 0; k < ir->n_groups; k++) {
        if ((&ir->groups[k] == g) == own) {
            ir_copy_group(out, &ir->groups[k], ir->groups[k].service,
                          ir->groups[k].loc.file, 0);
        }
    }
}

/* One service lowered alone (lower_service_alone()) after its weights
 * changed (a real drained, a weight raised, or none) is what a whole
 * lowering makes of it; and the rest of the whole pipeline is what it was
 * before the change: an agent re-lowers one service for an
 * administrative weight. */
static void
test_service_alone(void **state)
{
    (void) state;
    struct lower_options lo;
    lower_options_init(&lo);
    size_t n_checked = 0;
    for (size_t e = 0; e < sizeof examples / sizeof *examples; e++) {
        char *text = read_example(examples[e]);
        struct lowered x;
        lowered_make(&x, text, NULL, &lo);
        for (size_t i = 0; i < x.spec.n_services; i++) {
            struct lb_service *svc = &x.spec.services[i];
            for (int variant = 0; variant < 3 && svc->n_reals; variant++) {
                uint32_t saved = svc->reals[0].weight;
                svc->reals[0].weight = variant == 0 ? saved
                                       : variant == 1 ? 0 : saved * 3 + 1;
                struct diag d;
                diag_init(&d);
                struct ir_pipeline whole, alone;
                ir_init(&whole);
                ir_init(&alone);
                assert_true(lower_spec(&x.spec, &lo, &whole, &d));
                const struct ir_group *g = NULL;
                for (size_t k = 0; k < whole.n_groups; k++) {
                    if (!strcmp(whole.groups[k].service, svc->name)) {
                        g = &whole.groups[k];
                    }
                }
                assert_non_null(g);
                assert_true(lower_service_alone(&x.spec, i, g->service_id,
                                                &lo, &alone, &d));
                const struct ir_group *g0 = NULL;
                for (size_t k = 0; k < x.ir.n_groups; k++) {
                    if (!strcmp(x.ir.groups[k].service, svc->name)) {
                        g0 = &x.ir.groups[k];
                    }
                }
                assert_non_null(g0);
                struct ir_pipeline own, rest, rest0;
                split_pipeline(&whole, g, true, &own);
                split_pipeline(&whole, g, false, &rest);
                split_pipeline(&x.ir, g0, false, &rest0);
                if (!ir_pipeline_equal(&own, &alone)) {
                    ir_print(&own, stderr);
                    ir_print(&alone, stderr);
                    fail_msg("%s, service %s, variant %d: lowered alone, it "
                             "differs from the whole lowering", examples[e],
                             svc->name, variant);
                }
                if (!ir_pipeline_equal(&rest, &rest0)) {
                    fail_msg("%s, service %s, variant %d: a weight changed "
                             "more than the service's own flows and group",
                             examples[e], svc->name, variant);
                }
                assert_true(alone.n_groups == 1);
                n_checked++;
                ir_destroy(&own);
                ir_destroy(&rest);
                ir_destroy(&rest0);
                ir_destroy(&whole);
                ir_destroy(&alone);
                diag_destroy(&d);
                svc->reals[0].weight = saved;
            }
        }
        lowered_destroy(&x);
        free(text);
    }
    assert_true(n_checked >= 3 * 10);
}

/* A persistent service's real drained: its group and own flows lowered
 * alone and spliced into the pipeline from before (ir_splice_flows(), as
 * the agent does) give the whole lowering of the changed spec. */
static void
test_splice_drained_persistent(void **state)
{
    (void) state;
    struct lower_options lo;
    lower_options_init(&lo);
    char *text = read_example("persistence.lb");
    struct lowered x;
    lowered_make(&x, text, NULL, &lo);
    for (size_t i = 0; i < x.spec.n_services; i++) {
        struct lb_service *svc = &x.spec.services[i];
        struct ir_pipeline spliced, whole, alone;
        struct diag d;
        diag_init(&d);
        ir_init(&spliced);
        assert_true(lower_spec(&x.spec, &lo, &spliced, &d));
        uint32_t saved = svc->reals[0].weight;
        svc->reals[0].weight = 0;
        ir_init(&whole);
        ir_init(&alone);
        assert_true(lower_spec(&x.spec, &lo, &whole, &d));
        struct ir_group *g = NULL;
        for (size_t k = 0; k < spliced.n_groups; k++) {
            if (!strcmp(spliced.groups[k].service, svc->name)) {
                g = &spliced.groups[k];
            }
        }
        assert_non_null(g);
        assert_true(lower_service_alone(&x.spec, i, g->service_id, &lo,
                                        &alone, &d));
        size_t gone[64], n_gone = 0;
        for (size_t k = 0; k < spliced.n_flows; k++) {
            if (ir_flow_is_own(&spliced.flows[k], g->cookie)) {
                gone[n_gone++] = k;
            }
        }
        assert_true(n_gone > alone.n_flows);   /* An assign flow went. */
        uint64_t *aux = calloc(spliced.n_flows, sizeof *aux);
        for (size_t k = 0; k < spliced.n_flows; k++) {
            aux[k] = k + 1;
        }
        size_t n_before = spliced.n_flows;
        ir_splice_flows(&spliced, gone, n_gone, &alone, &aux, NULL);
        assert_int_equal(alone.n_flows, 0);
        assert_int_equal(spliced.n_flows, whole.n_flows);
        /* The values followed their flows; the new ones have 0. */
        size_t n_zero = 0;
        for (size_t k = 0; k < spliced.n_flows; k++) {
            n_zero += !aux[k];
            if (aux[k]) {
                assert_true(k == 0 || !aux[k - 1] || aux[k - 1] < aux[k]);
            }
        }
        assert_int_equal(n_zero, spliced.n_flows - (n_before - n_gone));
        free(aux);
        /* The group, as the agent swaps it. */
        struct ir_group t = *g;
        *g = alone.groups[0];
        alone.groups[0] = t;
        if (!ir_pipeline_equal(&spliced, &whole)) {
            ir_print(&spliced, stderr);
            ir_print(&whole, stderr);
            fail_msg("service %s: spliced pipeline differs", svc->name);
        }
        svc->reals[0].weight = saved;
        ir_destroy(&spliced);
        ir_destroy(&whole);
        ir_destroy(&alone);
        diag_destroy(&d);
    }
    lowered_destroy(&x);
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples_unchanged_and_moved),
        cmocka_unit_test(test_service_added),
        cmocka_unit_test(test_weight_changed),
        cmocka_unit_test(test_id_moved_by_collision),
        cmocka_unit_test(test_service_alone),
        cmocka_unit_test(test_splice_drained_persistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
