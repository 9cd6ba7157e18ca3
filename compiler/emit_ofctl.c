/* Emitter: IR -> "ovs-ofctl -O OpenFlow15 bundle" file.
 *
 * Every line is parsed by libopenvswitch's own parsers before it is kept:
 * a line OVS would refuse is a compiler bug and is reported as one, with
 * the spec location that produced it. */
#include <config.h>
#include "emit.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/match.h"
#include "openvswitch/vlog.h"
#include "flow.h"

void
ds_buf_init(struct ds_buf *b)
{
    memset(b, 0, sizeof *b);
}

void
ds_buf_destroy(struct ds_buf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

void
ds_buf_printf(struct ds_buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list args;
        va_start(args, fmt);
        size_t room = b->allocated - b->len;
        int n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, args);
        va_end(args);
        if ((size_t) n < room) {
            b->len += n;
            return;
        }
        b->allocated = 2 * (b->allocated + n + 4096);
        b->s = realloc(b->s, b->allocated);
        if (!b->s) {
            abort();
        }
    }
}

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

static bool
validate_flow(const char *line, const struct ofputil_port_map *ports,
              const struct location *loc, struct diag *d)
{
    struct ofputil_flow_mod fm;
    enum ofputil_protocol usable;
    char *error = parse_ofp_flow_mod_str(&fm, line, ports, NULL, OFPFC_ADD,
                                         &usable);
    if (error) {
        diag_error(d, loc, "internal compiler error: OVS refuses flow "
                   "\"%s\": %s", line, error);
        free(error);
        return false;
    }
    minimatch_destroy(&fm.match);
    free(fm.ofpacts);
    if (!(usable & OFPUTIL_P_OF15_OXM)) {
        diag_error(d, loc, "internal compiler error: flow \"%s\" cannot be "
                   "expressed in OpenFlow 1.5", line);
        return false;
    }
    return true;
}

static bool
validate_group(const char *line, const struct ofputil_port_map *ports,
               const struct location *loc, struct diag *d)
{
    struct ofputil_group_mod gm;
    enum ofputil_protocol usable;
    char *error = parse_ofp_group_mod_str(&gm, OFPGC15_ADD, line, ports, NULL,
                                          &usable);
    if (error) {
        diag_error(d, loc, "internal compiler error: OVS refuses group "
                   "\"%s\": %s", line, error);
        free(error);
        return false;
    }
    ofputil_uninit_group_mod(&gm);
    if (!(usable & OFPUTIL_P_OF15_OXM)) {
        diag_error(d, loc, "internal compiler error: group \"%s\" cannot be "
                   "expressed in OpenFlow 1.5", line);
        return false;
    }
    return true;
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

    bool ok = true;
    /* No version here: the output depends on the spec, not on the
     * release, so golden files and diffs stay stable across versions. */
    ds_buf_printf(out, "# flowlb: %zu groups, %zu flows. Load with: "
                  "ovs-ofctl -O OpenFlow15 bundle BRIDGE FILE\n",
                  p->n_groups, p->n_flows);
    for (size_t i = 0; i < p->n_groups; i++) {
        char *line = ir_group_to_ofctl(&p->groups[i]);
        ok = validate_group(line, &ports, &p->groups[i].loc, d) && ok;
        ds_buf_printf(out, "group add %s\n", line);
        free(line);
    }
    for (size_t i = 0; i < p->n_flows; i++) {
        char *line = ir_flow_to_ofctl(&p->flows[i]);
        ok = validate_flow(line, &ports, &p->flows[i].loc, d) && ok;
        ds_buf_printf(out, "flow add %s\n", line);
        free(line);
    }
    ofputil_port_map_destroy(&ports);
    return ok;
}
