/* libFuzzer target: `flowlb import keepalived` -- the input is written to
 * a keepalived.conf (it may include itself -- "include keepalived.conf"
 * -- or other files: the importer follows include directives), then the round trip through the spec
 * printer (fuzz_roundtrip.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"
#include "fuzz_roundtrip.h"
#include "import.h"
#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* In a directory of its own: includes (relative to it) must not see
     * the files of other fuzzer processes. */
    static char path[256];
    if (!path[0]) {
        const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        char dir[200];
        snprintf(dir, sizeof dir, "%s/flowlb-fuzz-%ld.d", tmp,
                 (long) getpid());
        mkdir(dir, 0700);
        snprintf(path, sizeof path, "%s/keepalived.conf", dir);
    }
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) {
        abort();
    }

    struct diag d;
    struct import_options opts;
    struct lb_spec spec;
    diag_init(&d);
    import_options_init(&opts);
    lb_spec_init(&spec);
    if (!import_add_mac_option(&opts, "10.0.0.11=8e:97:27:0e:e3:18", &d)) {
        abort();
    }
    bool ok = import_keepalived(path, &opts, &spec, &d);
    if (ok != !diag_has_errors(&d)) {
        fprintf(stderr, "fuzz: import returned %d with %zu errors\n", ok,
                d.n_errors);
        abort();
    }
    if (ok) {
        fuzz_roundtrip(&spec);
    }
    lb_spec_destroy(&spec);
    import_options_destroy(&opts);
    diag_destroy(&d);
    return 0;
}
