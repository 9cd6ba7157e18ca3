/* Emitter: IR -> "ovs-ofctl -O OpenFlow15 bundle" file.
 *
 * Every line is parsed by libopenvswitch's own parsers before it is kept:
 * a line OVS would refuse is a compiler bug and is reported as one, with
 * the spec location that produced it. */
#include <config.h>
#include "emit.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/match.h"
#include "openvswitch/vlog.h"
#include "flow.h"
#include "util.h"

/* Port names in "output:NAME" are resolved by ovs-ofctl (and the agent)
 * against the switch; to validate syntax here, map each name to a
 * distinct placeholder number. */
static void
collect_port_names(const struct ir_pipeline *p, struct ofputil_port_map *map)
{
    uint16_t next = 0xfe00;     /* Below OFPP_MAX, unlikely to clash. */
    for (size_t i = 0; i < p->n_flows; i++) {
        const char *a = p->flows[i].actions;
        while ((a = strstr(a, "output:")) != NULL) {
            a += strlen("output:");
            size_t len = strcspn(a, ",");
            if (len && !(a[0] >= '0' && a[0] <= '9')) {
                char *name = strndup(a, len);
                if (ofputil_port_map_get_number(map, name) == OFPP_NONE) {
                    ofputil_port_map_put(map, u16_to_ofp(next--), name);
                }
                free(name);
            }
        }
    }
}

/* What libopenvswitch says of one line: NULL if it takes it. */
static char *
check_flow(const char *line, const struct ofputil_port_map *ports)
{
    struct ofputil_flow_mod fm;
    enum ofputil_protocol usable;
    char *error = parse_ofp_flow_mod_str(&fm, line, ports, NULL, OFPFC_ADD,
                                         &usable);
    if (error) {
        char *msg = xasprintf("internal compiler error: OVS refuses flow "
                              "\"%s\": %s", line, error);
        free(error);
        return msg;
    }
    minimatch_destroy(&fm.match);
    free(fm.ofpacts);
    if (!(usable & OFPUTIL_P_OF15_OXM)) {
        return xasprintf("internal compiler error: flow \"%s\" cannot be "
                         "expressed in OpenFlow 1.5", line);
    }
    return NULL;
}

static char *
check_group(const char *line, const struct ofputil_port_map *ports)
{
    struct ofputil_group_mod gm;
    enum ofputil_protocol usable;
    char *error = parse_ofp_group_mod_str(&gm, OFPGC15_ADD, line, ports, NULL,
                                          &usable);
    if (error) {
        char *msg = xasprintf("internal compiler error: OVS refuses group "
                              "\"%s\": %s", line, error);
        free(error);
        return msg;
    }
    ofputil_uninit_group_mod(&gm);
    if (!(usable & OFPUTIL_P_OF15_OXM)) {
        return xasprintf("internal compiler error: group \"%s\" cannot be "
                         "expressed in OpenFlow 1.5", line);
    }
    return NULL;
}

/* The lines of the output, checked by several threads at once: parsing
 * every line with libopenvswitch costs as much as ovs-ofctl's own reading
 * of the file, and the lines are independent. Each worker takes the next
 * block of lines; the verdicts are reported in line order afterwards, so
 * the diagnostics do not depend on the scheduling. */
struct line_check {
    const char *text;           /* The output buffer. */
    const size_t *start;        /* Offset of line i (after its "... add "). */
    const size_t *end;          /* Offset of its '\n'. */
    size_t n_groups, n_lines;
    const struct ofputil_port_map *ports;
    char **errors;              /* Per line: NULL or the message. */
    atomic_size_t next;         /* First line not yet taken. */
};

#define LINES_PER_TAKE 256

static void *
check_lines(void *lc_)
{
    struct line_check *lc = lc_;
    size_t cap = 4096;
    char *line = xmalloc(cap);
    for (;;) {
        size_t first = atomic_fetch_add(&lc->next, LINES_PER_TAKE);
        if (first >= lc->n_lines) {
            break;
        }
        size_t last = first + LINES_PER_TAKE;
        last = last < lc->n_lines ? last : lc->n_lines;
        for (size_t i = first; i < last; i++) {
            size_t len = lc->end[i] - lc->start[i];
            if (len + 1 > cap) {
                cap = 2 * (len + 1);
                line = xrealloc(line, cap);
            }
            memcpy(line, lc->text + lc->start[i], len);
            line[len] = '\0';
            lc->errors[i] = (i < lc->n_groups ? check_group(line, lc->ports)
                             : check_flow(line, lc->ports));
        }
    }
    free(line);
    return NULL;
}

static size_t
n_checkers(size_t n_lines)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t n = cpus > 1 ? (size_t) cpus : 1;
    n = n < 8 ? n : 8;
    /* Small pipelines are not worth a thread. */
    return n_lines < 4 * LINES_PER_TAKE ? 1 : n;
}

bool
emit_ofctl_bundle(const struct ir_pipeline *p, struct ds_buf *out,
                  struct diag *d)
{
    /* libopenvswitch logs parse problems itself; we report them. */
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);

    struct ofputil_port_map ports;
    ofputil_port_map_init(&ports);
    collect_port_names(p, &ports);

    /* No version here: the output depends on the spec, not on the
     * release, so golden files and diffs stay stable across versions. */
    ds_buf_printf(out, "# flowlb: %zu groups, %zu flows. Load with: "
                  "ovs-ofctl -O OpenFlow15 bundle BRIDGE FILE\n",
                  p->n_groups, p->n_flows);
    size_t n_lines = p->n_groups + p->n_flows;
    size_t *start = xmalloc((n_lines + 1) * sizeof *start);
    size_t *end = xmalloc((n_lines + 1) * sizeof *end);
    for (size_t i = 0; i < p->n_groups; i++) {
        char *line = ir_group_to_ofctl(&p->groups[i]);
        start[i] = out->len + strlen("group add ");
        ds_buf_printf(out, "group add %s\n", line);
        end[i] = out->len - 1;
        free(line);
    }
    for (size_t i = 0; i < p->n_flows; i++) {
        char *line = ir_flow_to_ofctl(&p->flows[i]);
        start[p->n_groups + i] = out->len + strlen("flow add ");
        ds_buf_printf(out, "flow add %s\n", line);
        end[p->n_groups + i] = out->len - 1;
        free(line);
    }

    struct line_check lc = {
        .text = out->s, .start = start, .end = end,
        .n_groups = p->n_groups, .n_lines = n_lines, .ports = &ports,
        .errors = xcalloc(n_lines + 1, sizeof *lc.errors),
    };
    atomic_init(&lc.next, 0);
    size_t n_threads = n_checkers(n_lines);
    pthread_t threads[8];
    size_t started = 0;
    for (size_t t = 1; t < n_threads; t++) {
        if (pthread_create(&threads[started], NULL, check_lines, &lc)) {
            break;              /* The calling thread does the rest. */
        }
        started++;
    }
    check_lines(&lc);
    for (size_t t = 0; t < started; t++) {
        pthread_join(threads[t], NULL);
    }

    bool ok = true;
    for (size_t i = 0; i < n_lines; i++) {
        if (lc.errors[i]) {
            const struct location *loc = (i < p->n_groups
                                          ? &p->groups[i].loc
                                          : &p->flows[i - p->n_groups].loc);
            diag_error(d, loc, "%s", lc.errors[i]);
            free(lc.errors[i]);
            ok = false;
        }
    }
    free(lc.errors);
    free(start);
    free(end);
    ofputil_port_map_destroy(&ports);
    return ok;
}
