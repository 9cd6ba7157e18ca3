/* flowlb: the compiler's command line. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc_tune.h"
#include "check.h"
#include "emit.h"
#include "import.h"
#include "ir.h"
#include "lower.h"
#include "spec.h"
#include "values.h"

static void
usage(FILE *out)
{
    fprintf(out,
"usage: flowlb compile [OPTIONS] SPEC [-o FILE]\n"
"       flowlb check SPEC\n"
"       flowlb import ipvsadm|keepalived [FILE] [OPTIONS]\n"
"       flowlb --help | --version\n"
"\n"
"Compiles a load-balancer spec (DSL .lb, or YAML .yaml/.yml) into an\n"
"OpenFlow 1.5 direct-routing pipeline for Open vSwitch.\n"
"\n"
"Commands:\n"
"  compile SPEC      write the pipeline (default: an ovs-ofctl bundle file,\n"
"                    load it with: ovs-ofctl -O OpenFlow15 bundle BR FILE)\n"
"  check SPEC        validate only; print errors and warnings\n"
"  import KIND FILE  write a spec from ipvsadm -S -n output or a\n"
"                    keepalived.conf (flowlb import --help)\n"
"\n"
"Options:\n"
"  -o, --output FILE   write to FILE (atomically) instead of stdout\n"
"      --emit KIND     ofctl (default) or ir (the match-action IR, readable)\n"
"      --table-base N  first OpenFlow table used by flowlb (default 0; it\n"
"                      uses N..N+7)\n"
"      --next-table N  hand non-LB traffic to table N instead of NORMAL\n"
"      --ct-zone N     conntrack zone for LB connections (default 64000)\n"
"  -W, --werror        treat warnings as errors\n"
"      --timings       print the time each phase took to stderr\n"
"  -h, --help          this help\n"
"  -V, --version       print the version\n"
"\n"
"Errors are printed as FILE:LINE:COL: error: MESSAGE; the exit status is 1\n"
"and nothing is written. See docs/language.md and docs/pipeline.md.\n");
}

static bool
parse_number_option(const char *name, const char *arg, uint32_t max,
                    uint32_t *out)
{
    const char *error = lb_parse_uint(arg, 0, max, out);
    if (error) {
        fprintf(stderr, "flowlb: --%s %s: %s\n", name, arg, error);
        return false;
    }
    return true;
}

/* Writes all of 'data' to 'fd'. */
static bool
write_all(int fd, const char *data, size_t len)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        done += n;
    }
    return true;
}

/* 'path' with its symbolic links followed (at most 40), malloc'd, or NULL
 * (errno set). The last one may point to a file that does not exist yet. */
static char *
follow_links(const char *path)
{
    char *cur = strdup(path);
    for (int i = 0; cur && i < 40; i++) {
        struct stat st;
        if (lstat(cur, &st) || !S_ISLNK(st.st_mode)) {
            return cur;         /* Not there yet, or not a link. */
        }
        char link[PATH_MAX];
        ssize_t n = readlink(cur, link, sizeof link - 1);
        if (n < 0) {
            free(cur);
            return NULL;
        }
        link[n] = '\0';
        const char *slash = strrchr(cur, '/');
        char *next;
        if (link[0] == '/' || !slash) {
            next = strdup(link);
        } else {
            int dir_len = (int) (slash - cur);
            size_t size = dir_len + 1 + strlen(link) + 1;
            next = malloc(size);
            if (next) {
                snprintf(next, size, "%.*s/%s", dir_len, cur, link);
            }
        }
        free(cur);
        cur = next;
    }
    if (cur) {
        free(cur);
        errno = ELOOP;
    }
    return NULL;
}

/* Writes 'data' to 'path' so that a reader never sees a partial pipeline: a
 * regular file (or a new one) through a temporary file beside it and
 * rename(); a symbolic link's target the same way (the link stays). What is
 * neither (/dev/null, a FIFO, a terminal) is written as it is: renaming
 * over it would replace the device itself (as root, -o /dev/null made
 * /dev/null a regular file). */
static bool
write_atomically(const char *path, const char *data, size_t len)
{
    struct stat st;
    if (!stat(path, &st) && !S_ISREG(st.st_mode)) {
        int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        bool ok = fd >= 0 && write_all(fd, data, len);
        ok = fd >= 0 && !close(fd) && ok;
        if (!ok) {
            fprintf(stderr, "flowlb: %s: %s\n", path, strerror(errno));
        }
        return ok;
    }

    char *target = follow_links(path);
    if (!target) {
        fprintf(stderr, "flowlb: %s: %s\n", path, strerror(errno));
        return false;
    }
    size_t plen = strlen(target);
    char *tmp = malloc(plen + 16);
    snprintf(tmp, plen + 16, "%s.tmpXXXXXX", target);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "flowlb: %s: %s\n", path, strerror(errno));
        free(tmp);
        free(target);
        return false;
    }
    bool ok = write_all(fd, data, len);
    ok = !fchmod(fd, 0644) && ok;
    ok = !close(fd) && ok;
    if (ok && rename(tmp, target)) {
        ok = false;
    }
    if (!ok) {
        fprintf(stderr, "flowlb: %s: %s\n", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    free(target);
    return ok;
}

static double
now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char *argv[])
{
    enum { OPT_EMIT = 256, OPT_TABLE_BASE, OPT_NEXT_TABLE, OPT_CT_ZONE,
           OPT_TIMINGS };
    static const struct option long_options[] = {
        { "output", required_argument, NULL, 'o' },
        { "emit", required_argument, NULL, OPT_EMIT },
        { "table-base", required_argument, NULL, OPT_TABLE_BASE },
        { "next-table", required_argument, NULL, OPT_NEXT_TABLE },
        { "ct-zone", required_argument, NULL, OPT_CT_ZONE },
        { "werror", no_argument, NULL, 'W' },
        { "timings", no_argument, NULL, OPT_TIMINGS },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    lb_tune_malloc();
    /* The importers have options of their own. */
    if (argc > 1 && !strcmp(argv[1], "import")) {
        return flowlb_import_main(argc - 1, argv + 1, write_atomically);
    }

    struct lower_options lopts;
    lower_options_init(&lopts);
    const char *output = NULL;
    bool emit_ir = false, werror = false, timings = false;
    uint32_t value;

    /* GNU getopt permutes: options may come before or after the command
     * and the spec ("flowlb compile web.lb -o out"). */
    int c;
    while ((c = getopt_long(argc, argv, "o:WhV", long_options, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'W': werror = true; break;
        case OPT_TIMINGS: timings = true; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("flowlb %s\n", FLOWLB_VERSION); return 0;
        case OPT_EMIT:
            if (strcmp(optarg, "ir") && strcmp(optarg, "ofctl")) {
                fprintf(stderr, "flowlb: --emit %s: expected ofctl or ir\n",
                        optarg);
                return 2;
            }
            emit_ir = !strcmp(optarg, "ir");
            break;
        case OPT_TABLE_BASE:
            if (!parse_number_option("table-base", optarg, 250, &value)) {
                return 2;
            }
            lopts.table_base = value;
            break;
        case OPT_NEXT_TABLE:
            if (!parse_number_option("next-table", optarg, 254, &value)) {
                return 2;
            }
            lopts.next_table = value;
            break;
        case OPT_CT_ZONE:
            if (!parse_number_option("ct-zone", optarg, 65535, &value)) {
                return 2;
            }
            lopts.ct_zone = value;
            break;
        default:
            usage(stderr);
            return 2;
        }
    }
    const char *command = optind < argc ? argv[optind] : NULL;
    const char *spec_path = optind + 1 < argc ? argv[optind + 1] : NULL;
    if (optind + 2 < argc) {
        fprintf(stderr, "flowlb: unexpected argument '%s'\n",
                argv[optind + 2]);
        return 2;
    }
    if (!command) {
        usage(stderr);
        return 2;
    }
    bool compile = !strcmp(command, "compile");
    if (!compile && strcmp(command, "check")) {
        fprintf(stderr, "flowlb: unknown command '%s' (expected compile or "
                "check; see flowlb --help)\n", command);
        return 2;
    }
    if (!spec_path) {
        fprintf(stderr, "flowlb: %s: missing SPEC file\n", command);
        return 2;
    }

    struct diag d;
    struct lb_spec spec;
    struct ir_pipeline ir;
    struct ds_buf out;
    diag_init(&d);
    lb_spec_init(&spec);
    ir_init(&ir);
    ds_buf_init(&out);

    double t[5] = { now_seconds(), 0, 0, 0, 0 };
    bool ok = lb_spec_load(spec_path, &spec, &d);
    t[1] = now_seconds();
    ok = ok && lb_check(&spec, &d);
    t[2] = t[3] = t[4] = now_seconds();
    if (ok && compile) {
        ok = lower_spec(&spec, &lopts, &ir, &d);
        t[3] = t[4] = now_seconds();
        if (ok && !emit_ir) {
            ok = emit_ofctl_bundle(&ir, &out, &d);
            t[4] = now_seconds();
        }
    }
    if (timings) {
        fprintf(stderr, "flowlb: timings: read %.3f s, check %.3f s, "
                "lower %.3f s, emit and validate %.3f s\n", t[1] - t[0],
                t[2] - t[1], t[3] - t[2], t[4] - t[3]);
    }
    if (werror && d.n_warnings) {
        ok = false;
    }
    diag_print(&d, stderr);

    int status = ok ? 0 : 1;
    if (ok && compile) {
        if (emit_ir) {
            char *buf = NULL;
            size_t len = 0;
            FILE *mem = open_memstream(&buf, &len);
            ir_print(&ir, mem);
            fclose(mem);
            free(out.s);
            out.s = buf;
            out.len = len;
        }
        if (output) {
            status = write_atomically(output, out.s, out.len) ? 0 : 1;
        } else if (fwrite(out.s, 1, out.len, stdout) != out.len
                   || fflush(stdout)) {
            fprintf(stderr, "flowlb: write error: %s\n", strerror(errno));
            status = 1;
        }
    } else if (ok) {
        fprintf(stderr, "%s: OK (%zu services)\n", spec_path,
                spec.n_services);
    }

    ds_buf_destroy(&out);
    ir_destroy(&ir);
    lb_spec_destroy(&spec);
    diag_destroy(&d);
    return status;
}
