/* Helpers for the tests that need a lowered pipeline (rt_test_build.c,
 * rt_test_flow_fast.c): a spec parsed, checked and lowered, kept with what
 * the IR points into. Header-only, as the other *_test_util.h: each test
 * program is one file (static inline: no unused warnings). */
#ifndef FLOWLB_IR_TEST_UTIL_H
#define FLOWLB_IR_TEST_UTIL_H 1

#include <string.h>
#include "check.h"
#include "diag.h"
#include "ir.h"
#include "lower.h"
#include "spec.h"

struct compiled_fx {
    struct diag d;
    struct lb_spec spec;        /* The IR points into it (names). */
    struct ir_pipeline ir;
};

/* Checks and lowers 'c->spec', once parsed, with 'lo'. */
static inline void
compiled_fx_lower(struct compiled_fx *c, const struct lower_options *lo)
{
    assert_true(lb_check(&c->spec, &c->d));
    ir_init(&c->ir);
    assert_true(lower_spec(&c->spec, lo, &c->ir, &c->d));
}

/* The pipeline of the DSL 'text'. */
static inline void
compiled_fx_from_text(struct compiled_fx *c, const char *text,
                      const struct lower_options *lo)
{
    diag_init(&c->d);
    lb_spec_init(&c->spec);
    assert_true(lb_dsl_parse("t.lb", text, strlen(text), &c->spec, &c->d));
    compiled_fx_lower(c, lo);
}

/* The pipeline of the spec file 'path' (DSL or YAML). */
static inline void
compiled_fx_from_file(struct compiled_fx *c, const char *path,
                      const struct lower_options *lo)
{
    diag_init(&c->d);
    lb_spec_init(&c->spec);
    assert_true(lb_spec_load(path, &c->spec, &c->d));
    compiled_fx_lower(c, lo);
}

static inline void
compiled_fx_destroy(struct compiled_fx *c)
{
    ir_destroy(&c->ir);
    lb_spec_destroy(&c->spec);
    diag_destroy(&c->d);
}

#endif /* FLOWLB_IR_TEST_UTIL_H */
