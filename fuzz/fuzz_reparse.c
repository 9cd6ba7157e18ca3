/* libFuzzer target: a reload's reparse and relowering (grammar/dsl_reuse.c,
 * lower_spec_reusing()), its test for a change of weights only and services
 * added at the end (lb_dsl_weight_edits()), and the check and lowering of
 * those services alone (lb_check_appendable(), lower_services_appended())
 * against a whole parse, check and lowering of the same text; and the cut
 * of the edited text made by comparing it with the running one (kept, as
 * flowlbd keeps it) against a cut of the whole text. The input is two DSL texts separated by a form feed (no form
 * feed: the same text twice): the first is the running spec, the second
 * the edited one. Aborts if the reparse's result, its diagnostics, or the
 * lowered pipeline differ in anything from the whole one's. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "diag.h"
#include "fuzz_compile.h"
#include "ir.h"
#include "lower.h"
#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail(const char *what)
{
    fprintf(stderr, "fuzz_reparse: %s\n", what);
    abort();
}

static bool
same_record(const struct diag_record *a, const struct diag_record *b)
{
    return (a->severity == b->severity
            && !a->loc.file == !b->loc.file
            && (!a->loc.file || !strcmp(a->loc.file, b->loc.file))
            && a->loc.line == b->loc.line && a->loc.col == b->loc.col
            && !strcmp(a->message, b->message));
}

/* The running spec: parsed, checked and lowered as flowlbd does. */
struct running {
    struct diag d;
    struct lb_spec spec;
    struct lb_text_memo memo;
    struct ir_pipeline ir;
    bool lowered;
};

static bool
running_init(struct running *r, const char *text, size_t len,
             const struct lower_options *lo)
{
    size_t n_reused;
    diag_init(&r->d);
    lb_spec_init(&r->spec);
    memset(&r->memo, 0, sizeof r->memo);
    ir_init(&r->ir);
    bool ok = lb_dsl_parse_reusing("f.lb", text, len, &r->spec, &r->d, NULL,
                                   &r->memo, &n_reused);
    if (ok && r->memo.n) {
        /* Kept as flowlbd keeps it: the next cut compares with it. */
        struct lb_text_buf copy = { malloc(len + 1), len + 1 };
        memcpy(copy.data, text, len + 1);
        lb_text_memo_keep_text(&r->memo, &copy, len);
        lb_text_buf_destroy(&copy);
    }
    r->lowered = (ok && lb_check(&r->spec, &r->d)
                  && !diag_has_errors(&r->d)
                  && lower_spec(&r->spec, lo, &r->ir, &r->d)
                  && !diag_has_errors(&r->d));
    return ok;
}

static void
running_destroy(struct running *r)
{
    ir_destroy(&r->ir);
    lb_text_memo_destroy(&r->memo);
    lb_spec_destroy(&r->spec);
    diag_destroy(&r->d);
}

/* Services appended to the running spec ('we', the whole text parsed
 * into 'w'): if they pass the checks alone and against the running spec's
 * index, and lower against its pipeline, the longer spec passes the whole
 * check and its whole lowering is the running one with theirs merged in
 * (what flowlbd does in place). */
static void
check_appended(const struct running *run, const struct lb_weight_edits *we,
               const struct lb_spec *w, const struct lower_options *lo)
{
    struct lb_spec added = { .services = we->added,
                             .n_services = we->n_added };
    struct diag d;
    diag_init(&d);
    bool ok = lb_check(&added, &d) && !diag_has_errors(&d);
    struct lb_spec_index *x = lb_spec_index_create(&run->spec);
    for (size_t i = 0; ok && i < we->n_added; i++) {
        ok = lb_check_appendable(x, &run->spec, &we->added[i]);
    }
    lb_spec_index_destroy(x);
    struct ir_pipeline out, merged, whole;
    ir_init(&out);
    ir_init(&merged);
    ir_init(&whole);
    struct lower_sharer *sharers = NULL;
    size_t n_sharers = 0;
    ok = ok && lower_services_appended(&added, lo, &run->ir, &out, &sharers,
                                       &n_sharers, &d);
    if (ok) {
        if (!lb_check(w, &d) || diag_has_errors(&d)) {
            fail("appended services pass alone but not in the whole spec");
        }
        if (!lower_spec(w, lo, &whole, &d) || diag_has_errors(&d)) {
            fail("appended services lower alone but not in the whole spec");
        }
        /* The running pipeline again, to merge into. */
        if (!lower_spec(&run->spec, lo, &merged, &d)) {
            fail("the running spec does not lower again");
        }
        for (size_t k = 0; k < n_sharers; k++) {
            ir_flow_add_sharer(&merged.flows[sharers[k].flow],
                               sharers[k].service);
        }
        ir_splice_flows(&merged, NULL, 0, &out, NULL, NULL);
        ir_merge_groups(&merged, &out, NULL, NULL);
        if (!ir_pipeline_equal(&merged, &whole)) {
            fail("appended services merged differ from the whole lowering");
        }
    }
    free(sharers);
    ir_destroy(&out);
    ir_destroy(&merged);
    ir_destroy(&whole);
    diag_destroy(&d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *ff = memchr(data, '\f', size);
    size_t prev_len = ff ? (size_t) (ff - data) : size;
    const uint8_t *next_data = ff ? ff + 1 : data;
    size_t next_len = ff ? size - prev_len - 1 : size;
    char *prev_text = fuzz_text(data, prev_len);
    char *next_text = fuzz_text(next_data, next_len);
    struct lower_options lo;
    lower_options_init(&lo);

    struct running run;
    if (running_init(&run, prev_text, prev_len, &lo)) {
        /* The edited text, reparsed and then parsed whole. */
        struct diag d, dw;
        struct lb_spec re, whole;
        struct lb_text_memo memo = { 0 };
        size_t n_reused;
        diag_init(&d);
        diag_init(&dw);
        lb_spec_init(&re);
        lb_spec_init(&whole);
        struct lb_spec_lender lender = { .spec = &run.spec,
                                         .memo = &run.memo };
        bool ok_re = lb_dsl_parse_reusing("f.lb", next_text, next_len, &re,
                                          &d, &lender, &memo, &n_reused);
        bool ok_whole = lb_dsl_parse("f.lb", next_text, next_len, &whole,
                                     &dw);
        if (ok_re != ok_whole || d.n_records != dw.n_records) {
            fail("the reparse's verdict or diagnostics differ");
        }
        for (size_t i = 0; i < d.n_records; i++) {
            if (!same_record(&d.records[i], &dw.records[i])) {
                fail("a diagnostic of the reparse differs");
            }
        }
        if (ok_whole) {
            /* Again into the reparse's diag: the services' locations then
             * name the same interned file (lb_service_equal). */
            lb_spec_destroy(&whole);
            lb_spec_init(&whole);
            lb_dsl_parse("f.lb", next_text, next_len, &whole, &d);
        }
        if (re.n_services != whole.n_services) {
            fail("the reparse has another number of services");
        }
        for (size_t i = 0; i < re.n_services; i++) {
            if (!lb_service_equal(&re.services[i], &whole.services[i])) {
                fail("a service of the reparse differs");
            }
        }
        if (memo.n && memo.n != re.n_services) {
            fail("the memo does not have one piece per service");
        }
        /* Cut by comparing with the running text: as the whole text is. */
        struct diag df;
        struct lb_spec fresh;
        struct lb_text_memo fresh_memo = { 0 };
        diag_init(&df);
        lb_spec_init(&fresh);
        lb_dsl_parse_reusing("f.lb", next_text, next_len, &fresh, &df, NULL,
                             &fresh_memo, &n_reused);
        if (fresh_memo.n != memo.n) {
            fail("the cut by comparison has another number of pieces");
        }
        for (size_t i = 0; i < memo.n; i++) {
            const struct lb_text_piece *p = &memo.pieces[i];
            const struct lb_text_piece *q = &fresh_memo.pieces[i];
            if (p->hash != q->hash || p->len != q->len || p->line != q->line) {
                fail("a piece cut by comparison differs");
            }
        }
        lb_text_memo_destroy(&fresh_memo);
        lb_spec_destroy(&fresh);
        diag_destroy(&df);

        /* Taken as a change of weights only: the running spec with the
         * edits is the whole parse (into the running spec's diag, whose
         * file name the edits' locations point to). */
        struct lb_weight_edits we;
        if (run.spec.n_services
            && lb_dsl_weight_edits(run.spec.services[0].loc.file, next_text,
                                   next_len, &lender, &we)) {
            struct lb_spec w;
            lb_spec_init(&w);
            if (!ok_whole || !lb_dsl_parse("f.lb", next_text, next_len, &w,
                                           &run.d)
                || w.n_services != run.spec.n_services + we.n_added) {
                fail("a weights-only edit of a text that parses otherwise");
            }
            for (size_t i = 0; i < we.n_added; i++) {
                if (!lb_service_equal(&we.added[i],
                                      &w.services[run.spec.n_services + i])) {
                    fail("an added service differs");
                }
            }
            if (run.lowered && we.n_added && !we.n) {
                check_appended(&run, &we, &w, &lo);
            }
            size_t k = 0;
            for (size_t i = 0; i < run.spec.n_services; i++) {
                const struct lb_service *now = &run.spec.services[i];
                if (k < we.n && we.edits[k].service == i) {
                    now = &we.edits[k++].svc;
                }
                if (!lb_service_equal(now, &w.services[i])) {
                    fail("a service after weight edits differs");
                }
            }
            if (k != we.n) {
                fail("weight edits out of order");
            }
            lb_spec_destroy(&w);
            lb_weight_edits_destroy(&we);
        }

        /* Lowered with copies from the running pipeline, and whole. */
        if (ok_re && run.lowered && lb_check(&whole, &d)
            && !diag_has_errors(&d)) {
            struct ir_pipeline a, b;
            struct diag da, db;
            size_t n_copied;
            ir_init(&a);
            ir_init(&b);
            diag_init(&da);
            diag_init(&db);
            struct lower_lender ll = { .spec = &run.spec, .ir = &run.ir,
                                       .taken_from = memo.taken_from };
            bool la = lower_spec_reusing(&re, &lo, &a, &da, &ll, &n_copied);
            bool lb = lower_spec(&whole, &lo, &b, &db);
            if (la != lb || da.n_records != db.n_records) {
                fail("the lowering with copies reports otherwise");
            }
            if (la && !ir_pipeline_equal(&a, &b)) {
                fail("the lowering with copies differs");
            }
            ir_destroy(&a);
            ir_destroy(&b);
            diag_destroy(&da);
            diag_destroy(&db);
        }
        lb_text_memo_destroy(&memo);
        lb_spec_destroy(&re);
        lb_spec_destroy(&whole);
        diag_destroy(&d);
        diag_destroy(&dw);
    }
    running_destroy(&run);
    free(prev_text);
    free(next_text);
    return 0;
}
