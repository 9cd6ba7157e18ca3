/* Shared body of the compiler fuzz targets (see fuzz_compile.h). */
#include "fuzz_compile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "diag.h"
#include "emit.h"
#include "ir.h"
#include "lower.h"
#include "spec.h"

/* Every diagnostic is printed, as flowlb does, into a sink: diag_print
 * reads the source line back from 'file', so that path is fuzzed too. */
static FILE *
sink(void)
{
    static FILE *f;
    if (!f) {
        f = fopen("/dev/null", "w");
        if (!f) {
            abort();
        }
    }
    return f;
}

/* The input is written to a per-process file named like a spec, so that
 * errors can quote their source line (a fuzzer process runs one input at
 * a time). */
static const char *
spec_file(const char *suffix, const uint8_t *data, size_t size)
{
    static char path[256];
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(path, sizeof path, "%s/flowlb-fuzz-%ld%s", dir, (long) getpid(),
             suffix);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) {
        abort();
    }
    return path;
}

/* The located-error contract of issue 5: every error a front end or check
 * reports names the file, and a line and column within it. */
static void
assert_located(const struct diag *d, const char *file)
{
    for (size_t i = 0; i < d->n_records; i++) {
        const struct diag_record *r = &d->records[i];
        if (r->severity != DIAG_ERROR) {
            continue;
        }
        if (!r->loc.file || strcmp(r->loc.file, file) || r->loc.line < 1
            || r->loc.col < 1) {
            fprintf(stderr, "fuzz: error without a location (%s:%d:%d): %s\n",
                    r->loc.file ? r->loc.file : "(null)", r->loc.line,
                    r->loc.col, r->message);
            abort();
        }
    }
}

char *
fuzz_text(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) {
        abort();
    }
    if (size) {
        memcpy(text, data, size);
    }
    text[size] = '\0';
    return text;
}

void
fuzz_compile(fuzz_front_end *parse, const char *suffix, const uint8_t *data,
             size_t size)
{
    const char *path = spec_file(suffix, data, size);
    char *text = fuzz_text(data, size);

    struct diag d;
    struct lb_spec spec;
    struct ir_pipeline ir;
    struct ds_buf out;
    diag_init(&d);
    lb_spec_init(&spec);
    ir_init(&ir);
    ds_buf_init(&out);

    const char *file = diag_intern_file(&d, path);
    bool parsed = parse(file, text, size, &spec, &d);
    if (!parsed && !diag_has_errors(&d)) {
        fprintf(stderr, "fuzz: front end failed without an error\n");
        abort();
    }
    if (parsed && !diag_has_errors(&d)) {
        bool checked = lb_check(&spec, &d);
        if (!checked && !diag_has_errors(&d)) {
            fprintf(stderr, "fuzz: lb_check failed without an error\n");
            abort();
        }
        assert_located(&d, file);
        if (checked && !diag_has_errors(&d)) {
            struct lower_options lopts;
            lower_options_init(&lopts);
            if (lower_spec(&spec, &lopts, &ir, &d)) {
                ir_print(&ir, sink());
                /* A checked spec that lowers must give lines OVS accepts:
                 * emit reports any it refuses as an internal error. */
                if (!emit_ofctl_bundle(&ir, &out, &d)) {
                    diag_print(&d, stderr);
                    fprintf(stderr, "fuzz: emit refused a checked spec\n");
                    abort();
                }
            } else if (!diag_has_errors(&d)) {
                fprintf(stderr, "fuzz: lower failed without an error\n");
                abort();
            }
        }
    } else {
        assert_located(&d, file);
    }
    /* diag_print re-reads the file for each record: on large inputs it
     * would take most of the time (tests/bad times large files). */
    if (size <= 4096) {
        diag_print(&d, sink());
    }

    ds_buf_destroy(&out);
    ir_destroy(&ir);
    lb_spec_destroy(&spec);
    diag_destroy(&d);
    free(text);
}
