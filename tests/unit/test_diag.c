/* diag_print(): every record quotes its own source line and caret, in the
 * order the records were made, whatever the order of their lines (the
 * printer reads each file forward once and rewinds only when it must). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "diag.h"

static char *
print_to_string(const struct diag *d)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    assert_non_null(mem);
    diag_print(d, mem);
    fclose(mem);
    return buf;
}

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void
test_lines_in_any_order(void **state)
{
    (void) state;
    char a[] = "/tmp/flowlb-test-diag-a-XXXXXX";
    char b[] = "/tmp/flowlb-test-diag-b-XXXXXX";
    close(mkstemp(a));
    close(mkstemp(b));
    write_file(a, "one\n\ttwo\nthree\nfour\n");
    write_file(b, "alpha\nbeta\n");

    struct diag d;
    diag_init(&d);
    const char *fa = diag_intern_file(&d, a);
    const char *fb = diag_intern_file(&d, b);
    struct location l3 = { .file = fa, .line = 3, .col = 2 };
    struct location l1 = { .file = fa, .line = 1, .col = 1 };
    struct location l2 = { .file = fa, .line = 2, .col = 2 };
    struct location b2 = { .file = fb, .line = 2, .col = 3 };
    struct location l9 = { .file = fa, .line = 9, .col = 1 };
    struct location l4 = { .file = fa, .line = 4, .col = 4 };
    diag_warning(&d, &l3, "w3");
    diag_error(&d, &l1, "e1");
    diag_warning(&d, &b2, "wb2");
    diag_warning(&d, &l2, "w2");
    diag_warning(&d, &l9, "past the end");
    diag_warning(&d, &l4, "w4");
    diag_warning(&d, &l3, "w3 again");
    char *out = print_to_string(&d);

    char expected[2048];
    snprintf(expected, sizeof expected,
             "%s:3:2: warning: w3\n    three\n     ^\n"
             "%s:1:1: error: e1\n    one\n    ^\n"
             "%s:2:3: warning: wb2\n    beta\n      ^\n"
             "%s:2:2: warning: w2\n    \ttwo\n    \t^\n"
             "%s:9:1: warning: past the end\n"
             "%s:4:4: warning: w4\n    four\n       ^\n"
             "%s:3:2: warning: w3 again\n    three\n     ^\n",
             a, a, b, a, a, a, a);
    assert_string_equal(out, expected);
    free(out);
    diag_destroy(&d);
    unlink(a);
    unlink(b);
}

static void
test_unreadable_file_prints_no_source(void **state)
{
    (void) state;
    struct diag d;
    diag_init(&d);
    struct location l = { .file = diag_intern_file(&d, "/nonexistent/x.lb"),
                          .line = 2, .col = 5 };
    diag_error(&d, &l, "bad");
    char *out = print_to_string(&d);
    assert_string_equal(out, "/nonexistent/x.lb:2:5: error: bad\n");
    free(out);
    diag_destroy(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_in_any_order),
        cmocka_unit_test(test_unreadable_file_prints_no_source),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
