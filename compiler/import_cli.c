/* `flowlb import`: the command line of the importers. */
#include "import.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "spec_print.h"
#include "values.h"

static void
import_usage(FILE *out)
{
    fprintf(out,
"usage: flowlb import ipvsadm [FILE|-] [OPTIONS]\n"
"       flowlb import keepalived FILE [OPTIONS]\n"
"\n"
"Reads an IPVS configuration (ipvsadm -S -n / ipvsadm-save output, or a\n"
"keepalived.conf with virtual_server blocks) and writes the equivalent\n"
"flowlb spec (DSL, or YAML with --yaml). See docs/import.md.\n"
"\n"
"Options:\n"
"      --mac ADDR=MAC   the MAC of real (or sorry server) ADDR; repeatable\n"
"      --neigh FILE     MACs from `ip neigh show` output (--mac wins)\n"
"      --vip-mac MAC|auto  answer ARP/ND for every VIP with MAC (or one\n"
"                       derived from the VIP); default: no responder\n"
"      --fwmark MARK=ADDR[/LEN],PROTO,PORT[-PORT]\n"
"                       what firewall mark MARK selects (ipvsadm -f,\n"
"                       keepalived fwmark): imported as a match service\n"
"      --yaml           write YAML instead of the DSL\n"
"  -o, --output FILE    write to FILE (atomically) instead of stdout\n"
"  -W, --werror         treat warnings as errors\n"
"\n"
"A real whose MAC is not known is written without one (with a comment):\n"
"flowlb check then reports it at its line. Errors are printed as\n"
"FILE:LINE:COL: error: MESSAGE against the input; the exit status is then\n"
"1 and nothing is written.\n");
}

/* Reads all of 'path' ("-": stdin) into a NUL-terminated buffer. */
static char *
read_all(const char *path, size_t *len, struct diag *d)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    struct location loc = { diag_intern_file(d, path), 0, 0 };
    if (!f) {
        diag_error(d, &loc, "cannot open: %s", strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 4096) {
            cap = cap ? 2 * cap : 8192;
            buf = realloc(buf, cap + 1);
            if (!buf) {
                abort();
            }
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            break;
        }
    }
    bool err = ferror(f);
    if (f != stdin) {
        fclose(f);
    }
    if (err) {
        diag_error(d, &loc, "read error: %s", strerror(errno));
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* lb_check on the import, without its "has no mac" errors: a missing MAC
 * is what the written spec leaves for the operator (already warned). */
static bool
check_import(const struct lb_spec *spec, struct diag *d)
{
    struct diag cd;
    diag_init(&cd);
    lb_check(spec, &cd);
    for (size_t i = 0; i < cd.n_records; i++) {
        const struct diag_record *r = &cd.records[i];
        bool macless = false;
        for (size_t s = 0; s < spec->n_services && !macless; s++) {
            const struct lb_service *svc = &spec->services[s];
            for (size_t k = 0; k < svc->n_reals + svc->has_sorry; k++) {
                const struct lb_real *real = k < svc->n_reals
                                             ? &svc->reals[k] : &svc->sorry;
                if (!real->has_mac && r->loc.line == real->loc.line
                    && r->loc.col == real->loc.col
                    && strstr(r->message, "has no mac")) {
                    macless = true;
                    break;
                }
            }
        }
        if (macless) {
            continue;
        }
        /* Re-intern: 'cd' owns its copies of file names. */
        struct location loc = r->loc;
        if (loc.file) {
            loc.file = diag_intern_file(d, loc.file);
        }
        if (r->severity == DIAG_ERROR) {
            diag_error(d, &loc, "%s", r->message);
        } else {
            diag_warning(d, &loc, "%s", r->message);
        }
    }
    diag_destroy(&cd);
    return !diag_has_errors(d);
}

int
flowlb_import_main(int argc, char *argv[],
                   bool (*write_file)(const char *path, const char *data,
                                      size_t len))
{
    enum { OPT_MAC = 256, OPT_NEIGH, OPT_VIP_MAC, OPT_YAML, OPT_FWMARK };
    static const struct option long_options[] = {
        { "mac", required_argument, NULL, OPT_MAC },
        { "neigh", required_argument, NULL, OPT_NEIGH },
        { "vip-mac", required_argument, NULL, OPT_VIP_MAC },
        { "yaml", no_argument, NULL, OPT_YAML },
        { "fwmark", required_argument, NULL, OPT_FWMARK },
        { "output", required_argument, NULL, 'o' },
        { "werror", no_argument, NULL, 'W' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct import_options opts;
    struct diag d;
    import_options_init(&opts);
    diag_init(&d);
    const char *output = NULL;
    const char **neigh = calloc(argc, sizeof *neigh);
    size_t n_neigh = 0;
    bool yaml = false, werror = false;
    int status = 2;

    optind = 0;             /* glibc: 0 re-initialises (callable twice). */
    /* Leading '-' for '-' (stdin) as an operand, not an option. */
    int c;
    while ((c = getopt_long(argc, argv, "o:Wh", long_options, NULL)) != -1) {
        switch (c) {
        case OPT_MAC:
            if (!import_add_mac_option(&opts, optarg, &d)) {
                goto usage_error;
            }
            break;
        case OPT_FWMARK:
            if (!import_add_fwmark_option(&opts, optarg, &d)) {
                goto usage_error;
            }
            break;
        case OPT_NEIGH:
            neigh[n_neigh++] = optarg;
            break;
        case OPT_VIP_MAC:
            if (!strcmp(optarg, "auto")) {
                opts.vip_mac_auto = true;
            } else if (lb_parse_mac(optarg, &opts.vip_mac)) {
                fprintf(stderr, "flowlb: --vip-mac %s: %s\n", optarg,
                        lb_parse_mac(optarg, &opts.vip_mac));
                goto out;
            } else {
                opts.has_vip_mac = true;
            }
            break;
        case OPT_YAML: yaml = true; break;
        case 'o': output = optarg; break;
        case 'W': werror = true; break;
        case 'h': import_usage(stdout); status = 0; goto out;
        default: import_usage(stderr); goto out;
        }
    }
    const char *kind = optind < argc ? argv[optind] : NULL;
    const char *input = optind + 1 < argc ? argv[optind + 1] : NULL;
    if (optind + 2 < argc) {
        fprintf(stderr, "flowlb: import: unexpected argument '%s'\n",
                argv[optind + 2]);
        goto out;
    }
    bool ipvsadm = kind && !strcmp(kind, "ipvsadm");
    if (!kind || (!ipvsadm && strcmp(kind, "keepalived"))) {
        fprintf(stderr, "flowlb: import: expected 'ipvsadm' or 'keepalived' "
                "(see flowlb import --help)\n");
        goto out;
    }
    if (!input) {
        if (!ipvsadm) {
            fprintf(stderr, "flowlb: import keepalived: missing FILE\n");
            goto out;
        }
        input = "-";
    }

    status = 1;
    /* --mac first: they win over neighbour tables. */
    bool ok = true;
    for (size_t i = 0; i < n_neigh; i++) {
        size_t len;
        char *text = read_all(neigh[i], &len, &d);
        ok = text && import_load_neigh(&opts, neigh[i], text, len, &d) && ok;
        free(text);
    }
    struct lb_spec spec;
    lb_spec_init(&spec);
    if (ok) {
        if (ipvsadm) {
            size_t len;
            char *text = read_all(input, &len, &d);
            const char *name = strcmp(input, "-") ? input : "<stdin>";
            ok = text && import_ipvsadm(name, text, len, &opts, &spec, &d);
            free(text);
        } else {
            ok = import_keepalived(input, &opts, &spec, &d);
        }
    }
    ok = ok && check_import(&spec, &d);
    if (werror && d.n_warnings) {
        ok = false;
    }

    char *text = NULL;
    size_t len = 0;
    if (ok) {
        /* The input's base name: the same output wherever it is read. */
        const char *base = strrchr(input, '/');
        base = base ? base + 1 : input;
        char *header;
        if (asprintf(&header, "Imported by flowlb import %s from %s.\n"
                     "Review before use: see docs/import.md.", kind,
                     strcmp(input, "-") ? base : "stdin") < 0) {
            abort();
        }
        FILE *mem = open_memstream(&text, &len);
        const char *error = NULL;
        ok = yaml ? spec_print_yaml(&spec, header, mem, &error)
                  : spec_print_dsl(&spec, header, mem, &error);
        fclose(mem);
        free(header);
        if (!ok) {
            diag_error(&d, NULL, "cannot write the spec: %s", error);
        }
    }
    diag_print(&d, stderr);
    if (ok) {
        if (output) {
            ok = write_file(output, text, len);
        } else if (fwrite(text, 1, len, stdout) != len || fflush(stdout)) {
            fprintf(stderr, "flowlb: write error: %s\n", strerror(errno));
            ok = false;
        }
    }
    status = ok ? 0 : 1;
    free(text);
    lb_spec_destroy(&spec);
    goto out;

usage_error:
    diag_print(&d, stderr);
out:
    free(neigh);
    import_options_destroy(&opts);
    diag_destroy(&d);
    return status;
}
