/* Writes a spec model back out as text: the DSL or YAML.
 *
 * Used by `flowlb import` to write what it imported, and usable for any
 * model. The output is deterministic (services and reals in model order,
 * statements in a fixed order) and reads back, with lb_dsl_parse /
 * lb_yaml_parse, into the same model (locations aside): every value is
 * written in the form the front ends read, quoted when it is not a plain
 * word. Fields at their defaults are written when they say something an
 * operator wants to see (scheduler, weights, the check's timings), left
 * out otherwise (stickiness conntrack, no quorum...).
 *
 * A real without a MAC is written without 'mac', under a comment: the
 * spec then fails `flowlb check` with "missing 'mac' for real ADDR" at
 * that line, which is how the importers leave a MAC to fill in.
 */
#ifndef FLOWLB_SPEC_PRINT_H
#define FLOWLB_SPEC_PRINT_H 1

#include <stdbool.h>
#include <stdio.h>
#include "spec.h"

/* 'header', if not NULL, is written first as '#' comment lines (one per
 * line of 'header'). Return false, with a static message in *error, only
 * if a value cannot be written in that syntax at all (a newline inside a
 * DSL string); nothing useful is then in 'out'. */
bool spec_print_dsl(const struct lb_spec *, const char *header, FILE *out,
                    const char **error);
bool spec_print_yaml(const struct lb_spec *, const char *header, FILE *out,
                     const char **error);

#endif /* FLOWLB_SPEC_PRINT_H */
