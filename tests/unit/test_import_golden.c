/* Golden tests of `flowlb import` on the real-world-shaped configs in
 * tests/import/: for each, through the command's own entry point
 * (flowlb_import_main, as `flowlb import ...` runs it):
 *   import -> DSL text   == tests/import/NAME.lb   (and twice: same bytes)
 *   import -> YAML text  == tests/import/NAME.yaml
 *   both loaded back     == the importer's model (round trip)
 *   both checked and compiled == tests/import/NAME.ofctl (byte-identical,
 *   without the bundle's '#' header line)
 * FLOWLB_UPDATE_GOLDEN=1 rewrites the expected files instead (review the
 * diff before committing it). */
#include <unistd.h>
#include "import_test_util.h"
#include "check.h"
#include "emit.h"
#include "ir.h"
#include "lower.h"

static char tmp[64];
static bool update;

static int
setup(void **state)
{
    snprintf(tmp, sizeof tmp, "/tmp/flowlb-golden-XXXXXX");
    update = getenv("FLOWLB_UPDATE_GOLDEN") != NULL;
    return mkdtemp(tmp) ? 0 : -1;
}

static int
teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    return system(cmd) ? -1 : 0;
}

static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot read %s\n", path);
        fail();
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    int c;
    while ((c = getc(f)) != EOF) {
        putc(c, mem);
    }
    fclose(mem);
    fclose(f);
    return buf;
}

static void
spit(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static bool
write_file(const char *path, const char *data, size_t len)
{
    spit(path, data, len);
    return true;
}

static void
compare_or_update(const char *expected_path, const char *got)
{
    if (update) {
        spit(expected_path, got, strlen(got));
        fprintf(stderr, "updated %s\n", expected_path);
        return;
    }
    char *want = slurp(expected_path);
    if (strcmp(want, got)) {
        fprintf(stderr, "%s differs; got:\n%s\n", expected_path, got);
    }
    assert_string_equal(want, got);
    free(want);
}

struct gcase {
    const char *name, *kind, *input;
    const char *args[6];
};

static const struct gcase cases[] = {
    { "ipvsadm-webfarm", "ipvsadm", "ipvsadm-webfarm.rules",
      { "--neigh", "ipvsadm-webfarm.neigh", "--vip-mac", "auto", NULL } },
    { "keepalived-web", "keepalived", "keepalived-web.conf",
      { "--neigh", "keepalived-web.neigh", "--vip-mac",
        "02:00:00:00:01:00", NULL } },
};

/* Runs `flowlb import` on case 'c' into 'out'; returns its status. */
static int
run_import(const struct gcase *c, bool yaml, const char *out)
{
    char *argv[24];
    char *owned[8];
    int argc = 0, n_owned = 0;
    argv[argc++] = "import";
    argv[argc++] = (char *) c->kind;
    assert_true(asprintf(&owned[n_owned], "%s/tests/import/%s", SOURCE_DIR,
                         c->input) > 0);
    argv[argc++] = owned[n_owned++];
    for (size_t i = 0; c->args[i]; i++) {
        if (!strcmp(c->args[i], "--neigh")) {
            argv[argc++] = "--neigh";
            i++;
            assert_true(asprintf(&owned[n_owned], "%s/tests/import/%s",
                                 SOURCE_DIR, c->args[i]) > 0);
            argv[argc++] = owned[n_owned++];
        } else {
            argv[argc++] = (char *) c->args[i];
        }
    }
    if (yaml) {
        argv[argc++] = "--yaml";
    }
    argv[argc++] = "-o";
    argv[argc++] = (char *) out;
    argv[argc] = NULL;
    int status = flowlb_import_main(argc, argv, write_file);
    for (int i = 0; i < n_owned; i++) {
        free(owned[i]);
    }
    return status;
}

/* The importer's model of case 'c', straight from the library. */
static void
import_model(const struct gcase *c, struct lb_spec *spec)
{
    struct import_options o;
    struct diag d;
    import_options_init(&o);
    diag_init(&d);
    for (size_t i = 0; c->args[i]; i += 2) {
        if (!strcmp(c->args[i], "--neigh")) {
            char *path, *text;
            assert_true(asprintf(&path, "%s/tests/import/%s", SOURCE_DIR,
                                 c->args[i + 1]) > 0);
            text = slurp(path);
            assert_true(import_load_neigh(&o, path, text, strlen(text), &d));
            free(text);
            free(path);
        } else if (!strcmp(c->args[i + 1], "auto")) {
            o.vip_mac_auto = true;
        } else {
            o.has_vip_mac = true;
            assert_null(lb_parse_mac(c->args[i + 1], &o.vip_mac));
        }
    }
    char *path;
    assert_true(asprintf(&path, "%s/tests/import/%s", SOURCE_DIR,
                         c->input) > 0);
    bool ok;
    if (!strcmp(c->kind, "ipvsadm")) {
        char *text = slurp(path);
        ok = import_ipvsadm(path, text, strlen(text), &o, spec, &d);
        free(text);
    } else {
        ok = import_keepalived(path, &o, spec, &d);
    }
    if (!ok) {
        dump_diag(&d);
    }
    assert_true(ok);
    free(path);
    import_options_destroy(&o);
    diag_destroy(&d);
}

/* Loads, checks and compiles 'spec_path'; returns the bundle text. */
static char *
compile(const char *spec_path, struct lb_spec *spec)
{
    struct diag d;
    struct ir_pipeline ir;
    struct ds_buf out;
    struct lower_options lopts;
    diag_init(&d);
    ir_init(&ir);
    ds_buf_init(&out);
    lower_options_init(&lopts);
    bool ok = lb_spec_load(spec_path, spec, &d) && lb_check(spec, &d)
              && lower_spec(spec, &lopts, &ir, &d)
              && emit_ofctl_bundle(&ir, &out, &d);
    if (!ok || d.n_records) {
        dump_diag(&d);
    }
    assert_true(ok);
    /* The imported configs are clean: no warnings from check either. */
    assert_int_equal(d.n_records, 0);
    /* Without the '#' header line: it names the compiler's version, which
     * is not what these tests are about. */
    char *text = strndup(out.s, out.len);
    if (text[0] == '#') {
        char *nl = strchr(text, '\n');
        memmove(text, nl ? nl + 1 : text + strlen(text),
                strlen(nl ? nl + 1 : "") + 1);
    }
    ds_buf_destroy(&out);
    ir_destroy(&ir);
    diag_destroy(&d);
    return text;
}

static void
test_golden(void **state)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct gcase *c = &cases[i];
        struct lb_spec model;
        lb_spec_init(&model);
        import_model(c, &model);
        char *ofctl[2];
        for (int yaml = 0; yaml < 2; yaml++) {
            const char *ext = yaml ? "yaml" : "lb";
            char *out, *again, *expected;
            assert_true(asprintf(&out, "%s/%s.%s", tmp, c->name, ext) > 0);
            assert_true(asprintf(&again, "%s/again-%s.%s", tmp, c->name,
                                 ext) > 0);
            assert_true(asprintf(&expected, "%s/tests/import/%s.%s",
                                 SOURCE_DIR, c->name, ext) > 0);
            assert_int_equal(run_import(c, yaml, out), 0);
            assert_int_equal(run_import(c, yaml, again), 0);
            char *text = slurp(out), *text2 = slurp(again);
            /* Deterministic. */
            assert_string_equal(text, text2);
            compare_or_update(expected, text);

            /* Round trip: what was written reads back as the import. */
            struct lb_spec loaded;
            lb_spec_init(&loaded);
            ofctl[yaml] = compile(out, &loaded);
            assert_spec_equal(&model, &loaded);
            lb_spec_destroy(&loaded);
            free(text);
            free(text2);
            free(out);
            free(again);
            free(expected);
        }
        /* Both syntaxes compile to the same bytes, as expected. */
        assert_string_equal(ofctl[0], ofctl[1]);
        char *expected;
        assert_true(asprintf(&expected, "%s/tests/import/%s.ofctl",
                             SOURCE_DIR, c->name) > 0);
        compare_or_update(expected, ofctl[0]);
        free(expected);
        free(ofctl[0]);
        free(ofctl[1]);
        lb_spec_destroy(&model);
    }
}

/* An error writes nothing, not even an empty -o file. */
static void
test_error_writes_nothing(void **state)
{
    char *in, *out;
    assert_true(asprintf(&in, "%s/nat.rules", tmp) > 0);
    assert_true(asprintf(&out, "%s/nat.lb", tmp) > 0);
    static const char rules[] = "-A -t 10.0.0.1:80 -s rr\n"
                                "-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 1\n";
    spit(in, rules, strlen(rules));
    char *argv[] = { "import", "ipvsadm", in, "-o", out, NULL };
    assert_int_equal(flowlb_import_main(5, argv, write_file), 1);
    assert_int_not_equal(access(out, F_OK), 0);

    /* A missing MAC is a warning: written; with -W it fails. */
    static const char dr[] = "-A -t 10.0.0.1:80 -s rr\n"
                             "-a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 1\n";
    spit(in, dr, strlen(dr));
    assert_int_equal(flowlb_import_main(5, argv, write_file), 0);
    char *text = slurp(out);
    assert_non_null(strstr(text, "    # MAC of 10.0.0.2 unknown"));
    assert_non_null(strstr(text, "    real 10.0.0.2 weight 1;\n"));
    free(text);
    unlink(out);
    char *argv_w[] = { "import", "ipvsadm", in, "-W", "-o", out, NULL };
    assert_int_equal(flowlb_import_main(6, argv_w, write_file), 1);
    assert_int_not_equal(access(out, F_OK), 0);

    /* Usage errors. */
    char *bad1[] = { "import", "haproxy", in, NULL };
    assert_int_equal(flowlb_import_main(3, bad1, write_file), 2);
    char *bad2[] = { "import", "keepalived", NULL };
    assert_int_equal(flowlb_import_main(2, bad2, write_file), 2);
    char *bad3[] = { "import", "ipvsadm", in, "--mac", "10.0.0.2", NULL };
    assert_int_equal(flowlb_import_main(5, bad3, write_file), 2);
    free(in);
    free(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_error_writes_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
