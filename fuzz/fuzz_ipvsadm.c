/* libFuzzer target: `flowlb import ipvsadm` -- the rules parser (with MACs
 * for a few addresses, as --mac gives them), the `ip neigh` reader on the
 * same bytes, then the round trip through the spec printer
 * (fuzz_roundtrip.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "fuzz_roundtrip.h"
#include "import.h"
#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
must(bool ok)
{
    if (!ok) {
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    must(text != NULL);
    if (size) {
        memcpy(text, data, size);
    }
    text[size] = '\0';

    struct diag d;
    struct import_options opts;
    struct lb_spec spec;
    diag_init(&d);
    import_options_init(&opts);
    lb_spec_init(&spec);
    must(import_add_mac_option(&opts, "10.0.0.11=8e:97:27:0e:e3:18", &d));
    must(import_add_mac_option(&opts, "2001:db8::11=02:00:00:00:06:11", &d));

    const char *file = diag_intern_file(&d, "rules");
    bool ok = import_ipvsadm(file, text, size, &opts, &spec, &d);
    if (ok != !diag_has_errors(&d)) {
        fprintf(stderr, "fuzz: import returned %d with %zu errors\n", ok,
                d.n_errors);
        abort();
    }
    if (ok) {
        fuzz_roundtrip(&spec);
    }

    /* The neighbour table reader, on its own options. */
    struct import_options nopts;
    struct diag nd;
    import_options_init(&nopts);
    diag_init(&nd);
    bool nok = import_load_neigh(&nopts, diag_intern_file(&nd, "neigh"),
                                 text, size, &nd);
    if (nok == diag_has_errors(&nd)) {
        fprintf(stderr, "fuzz: neigh returned %d with %zu errors\n", nok,
                nd.n_errors);
        abort();
    }
    diag_destroy(&nd);
    import_options_destroy(&nopts);

    lb_spec_destroy(&spec);
    import_options_destroy(&opts);
    diag_destroy(&d);
    free(text);
    return 0;
}
