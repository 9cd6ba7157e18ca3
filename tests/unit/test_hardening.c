/* Regression tests for what fuzzing and the large bad-corpus cases found
 * (issue 5): each input once hung, crashed or flooded; each must now give
 * a located error, quickly. The time bounds are generous (sanitizer
 * builds, a loaded machine) but far below what the bugs took. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "diag.h"
#include "import.h"
#include "spec.h"

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool
has_error(const struct diag *d, int line, int col, const char *text)
{
    for (size_t i = 0; i < d->n_records; i++) {
        const struct diag_record *r = &d->records[i];
        if (r->severity == DIAG_ERROR && r->loc.line == line
            && r->loc.col == col && strstr(r->message, text)) {
            return true;
        }
    }
    for (size_t i = 0; i < d->n_records; i++) {
        fprintf(stderr, "  %d:%d: %s\n", d->records[i].loc.line,
                d->records[i].loc.col, d->records[i].message);
    }
    return false;
}

/* flex rescanned a token from its start at every NUL: 200 KB of NULs took
 * minutes. */
static void
test_dsl_nul_run(void **state)
{
    size_t n = 4 * 1024 * 1024;
    char *text = calloc(1, n + 16);
    memcpy(text, "# x\n", 4);
    struct diag d;
    struct lb_spec spec;
    diag_init(&d);
    lb_spec_init(&spec);
    double t0 = now();
    assert_false(lb_dsl_parse("t.lb", text, n, &spec, &d));
    assert_true(now() - t0 < 2.0);
    assert_true(has_error(&d, 2, 1, "NUL byte"));
    lb_spec_destroy(&spec);
    diag_destroy(&d);
    free(text);
}

/* With a NUL somewhere, an earlier invalid byte is still the first error
 * (UTF-16 text: 0xff at 1:1, not its first NUL). */
static void
test_dsl_utf16(void **state)
{
    static const char text[] = "\xff\xfes\0e\0r\0";
    struct diag d;
    struct lb_spec spec;
    diag_init(&d);
    lb_spec_init(&spec);
    assert_false(lb_dsl_parse("t.lb", text, sizeof text - 1, &spec, &d));
    assert_true(has_error(&d, 1, 1, "invalid UTF-8 byte 0xff"));
    lb_spec_destroy(&spec);
    diag_destroy(&d);
}

/* A message quoting a 10 MB name stays short, with its head and tail. */
static void
test_diag_long_message(void **state)
{
    size_t n = 10 * 1024 * 1024;
    char *name = malloc(n + 1);
    memset(name, 'w', n);
    name[n] = '\0';
    struct diag d;
    diag_init(&d);
    struct location loc = { diag_intern_file(&d, "t.lb"), 5, 9 };
    diag_error(&d, &loc, "duplicate service name '%s' (first defined at "
               "t.lb:1:9)", name);
    const char *m = d.records[0].message;
    assert_true(strlen(m) <= 1024);
    assert_true(!strncmp(m, "duplicate service name 'www", 27));
    assert_non_null(strstr(m, "..."));
    assert_non_null(strstr(m, "www' (first defined at t.lb:1:9)"));
    diag_destroy(&d);
    free(name);
}

/* Writes 'text' to DIR/NAME; returns the path (malloc'd). */
static char *
write_file(const char *dir, const char *name, const char *text)
{
    char *path;
    assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static bool
import_ka(const char *path, struct diag *d)
{
    struct import_options o;
    struct lb_spec spec;
    import_options_init(&o);
    lb_spec_init(&spec);
    bool ok = import_keepalived(path, &o, &spec, d);
    lb_spec_destroy(&spec);
    import_options_destroy(&o);
    return ok;
}

/* A keepalived.conf including itself three times was read 3^16 times. */
static void
test_keepalived_include_bomb(void **state)
{
    char dir[] = "/tmp/flowlb-hardening.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = write_file(dir, "bomb.conf",
                            "include bomb.conf\ninclude bomb.conf\n"
                            "include bomb.conf\n");
    struct diag d;
    diag_init(&d);
    double t0 = now();
    assert_false(import_ka(path, &d));
    assert_true(now() - t0 < 5.0);
    assert_true(has_error(&d, 1, 1, "include loop?"));
    diag_destroy(&d);
    unlink(path);
    free(path);
    rmdir(dir);
}

/* "include /dev/zero" read forever. */
static void
test_keepalived_include_device(void **state)
{
    char dir[] = "/tmp/flowlb-hardening.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = write_file(dir, "zero.conf", "include /dev/zero\n");
    struct diag d;
    diag_init(&d);
    assert_false(import_ka(path, &d));
    assert_true(has_error(&d, 1, 9, "not a regular file"));
    diag_destroy(&d);
    unlink(path);
    free(path);
    rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dsl_nul_run),
        cmocka_unit_test(test_dsl_utf16),
        cmocka_unit_test(test_diag_long_message),
        cmocka_unit_test(test_keepalived_include_bomb),
        cmocka_unit_test(test_keepalived_include_device),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
