/* Shared oracle of the importer fuzz targets (see fuzz_roundtrip.h). */
#include "fuzz_roundtrip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "diag.h"
#include "emit.h"
#include "ir.h"
#include "lower.h"
#include "spec.h"
#include "spec_print.h"

typedef bool printer(const struct lb_spec *, const char *, FILE *,
                     const char **);
typedef bool front_end(const char *, const char *, size_t, struct lb_spec *,
                       struct diag *);

/* Prints 'spec' into a malloc'd string; NULL if the printer refused. */
static char *
print_spec(printer *print, const struct lb_spec *spec, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    if (!f) {
        abort();
    }
    const char *error = NULL;
    bool ok = print(spec, "fuzz", f, &error);
    if (fclose(f)) {
        abort();
    }
    if (!ok) {
        if (!error) {
            fprintf(stderr, "fuzz: printer failed without a message\n");
            abort();
        }
        free(text);
        return NULL;
    }
    return text;
}

static bool
only_missing_macs(const struct diag *d)
{
    for (size_t i = 0; i < d->n_records; i++) {
        const struct diag_record *r = &d->records[i];
        /* DSL: "missing 'mac' for real A"; YAML: "missing required key
         * 'mac' in real of service S". */
        if (r->severity == DIAG_ERROR
            && (strncmp(r->message, "missing ", 8)
                || !strstr(r->message, "'mac'"))) {
            return false;
        }
    }
    return d->n_errors > 0;
}

static void
roundtrip(const char *syntax, printer *print, front_end *parse,
          const struct lb_spec *imported)
{
    size_t len1, len2;
    char *text1 = print_spec(print, imported, &len1);
    if (!text1) {
        return;
    }
    struct diag d;
    struct lb_spec spec;
    diag_init(&d);
    lb_spec_init(&spec);
    bool parsed = parse("printed", text1, len1, &spec, &d)
                  && !diag_has_errors(&d);
    if (!parsed && only_missing_macs(&d)) {
        /* A real whose MAC the import did not know is written without
         * one, on purpose (spec_print.h): the front ends refuse it. */
        goto out;
    }
    if (!parsed) {
        fprintf(stderr, "fuzz: the printed %s does not read back:\n%s\n",
                syntax, text1);
        diag_print(&d, stderr);
        abort();
    }
    char *text2 = print_spec(print, &spec, &len2);
    if (!text2 || len1 != len2 || memcmp(text1, text2, len1)) {
        fprintf(stderr, "fuzz: %s printed, read back and printed again "
                "differs:\n--- first\n%s\n--- second\n%s\n", syntax, text1,
                text2 ? text2 : "(refused)");
        abort();
    }
    free(text2);
out:
    free(text1);
    lb_spec_destroy(&spec);
    diag_destroy(&d);
}

void
fuzz_roundtrip(const struct lb_spec *imported)
{
    roundtrip("DSL", spec_print_dsl, lb_dsl_parse, imported);
    roundtrip("YAML", spec_print_yaml, lb_yaml_parse, imported);

    struct diag d;
    struct ir_pipeline ir;
    struct ds_buf out;
    diag_init(&d);
    ir_init(&ir);
    ds_buf_init(&out);
    if (lb_check(imported, &d)) {
        struct lower_options lopts;
        lower_options_init(&lopts);
        if (lower_spec(imported, &lopts, &ir, &d)
            && !emit_ofctl_bundle(&ir, &out, &d)) {
            diag_print(&d, stderr);
            fprintf(stderr, "fuzz: emit refused a checked import\n");
            abort();
        }
    }
    ds_buf_destroy(&out);
    ir_destroy(&ir);
    diag_destroy(&d);
}
