/* flowlb/show: the running spec, the switch connection and each real's
 * health and weights, as text or JSON. */
#include <config.h>
#include "agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent_private.h"
#include "check.h"
#include "foreign_flows.h"
#include "health.h"
#include "ir.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/json.h"
#include "spec.h"
#include "swconn.h"
#include "timeval.h"
#include "util.h"
#include "values.h"

static const struct ir_bucket *
real_bucket(const struct ir_group *g, const char *addr)
{
    for (size_t i = 0; g && i < g->n_buckets; i++) {
        if (!strcmp(g->buckets[i].real, addr)) {
            return &g->buckets[i];
        }
    }
    return NULL;
}

static char *
format_time(long long int wall_ms)
{
    return wall_ms > 0 ? xastrftime_msec("%Y-%m-%dT%H:%M:%S.###Z", wall_ms,
                                         true)
                       : xstrdup("-");
}

void
agent_show(const struct agent *a, const struct swconn *sc, bool json,
           struct ds *out)
{
    const struct compiled *c = a->cur;
    struct swconn_counters cnt;
    swconn_get_counters(sc, &cnt);
    long long int now = time_wall_msec();

    struct json *top = json_object_create();
    json_object_put_string(top, "spec", a->spec_path);
    json_object_put(top, "starting", json_boolean_create(false));
    char *loaded = format_time(c->loaded);
    json_object_put_string(top, "loaded", loaded);
    json_object_put_string(top, "bridge", swconn_target(sc));
    json_object_put_string(top, "connection", swconn_state_name(sc));
    bool synced = swconn_is_synced(sc, a->desired_seqno);
    json_object_put(top, "synced", json_boolean_create(synced));
    json_object_put(top, "connects", json_integer_create(cnt.n_connects));
    json_object_put(top, "dumps", json_integer_create(cnt.n_dumps));
    json_object_put(top, "bundles", json_integer_create(cnt.n_bundles));
    json_object_put(top, "bundle_errors",
                    json_integer_create(cnt.n_bundle_errors));
    json_object_put(top, "installed_flows",
                    json_integer_create(cnt.n_installed_flows));
    json_object_put(top, "installed_groups",
                    json_integer_create(cnt.n_installed_groups));
    json_object_put(top, "desired_flows",
                    json_integer_create(ofsync_state_n_flows(&a->desired)));
    json_object_put(top, "expire_nodest_conn",
                    json_boolean_create(a->opts.expire_nodest_conn));
    /* Health verdicts that moved a real in or out of its group, and how
     * long the switch took to hold the result (ms, microsecond digits). */
    json_object_put(top, "failovers", json_integer_create(a->n_failovers));
    json_object_put(top, "failover_last_ms",
                    json_real_create(a->last_failover_usec / 1000.0));
    json_object_put(top, "failover_max_ms",
                    json_real_create(a->max_failover_usec / 1000.0));
    /* Flows of others in flowlb's tables (see foreign_flows.h), by
     * table: none, an empty object. */
    const struct foreign_flows *ff = swconn_foreign_flows(sc);
    struct json *foreign = json_object_create();
    for (int t = 0; t < 256; t++) {
        if (ff->n[t]) {
            char key[4];
            snprintf(key, sizeof key, "%d", t);
            json_object_put(foreign, key, json_integer_create(ff->n[t]));
        }
    }
    json_object_put(top, "foreign_flows", foreign);

    if (!json) {
        ds_put_format(out, "spec %s (loaded %s)\n", a->spec_path, loaded);
        ds_put_format(out, "bridge %s: %s%s, %u connects, %u bundles (%u "
                      "failed), %"PRIuSIZE" flows and %"PRIuSIZE
                      " groups installed\n", swconn_target(sc),
                      swconn_state_name(sc),
                      synced ? "" : " (not synced)",
                      cnt.n_connects, cnt.n_bundles, cnt.n_bundle_errors,
                      cnt.n_installed_flows, cnt.n_installed_groups);
        if (foreign_flows_total(ff)) {
            ds_put_cstr(out, "flows not flowlb's in its tables:");
            for (int t = 0; t < 256; t++) {
                if (ff->n[t]) {
                    ds_put_format(out, " table %d: %"PRIu32, t, ff->n[t]);
                }
            }
            ds_put_cstr(out, " (they can shadow flowlb's)\n");
        }
        if (a->n_failovers) {
            ds_put_format(out, "%llu health changes in the switch, verdict "
                          "to acknowledgement: last %.3f ms, max %.3f ms\n",
                          a->n_failovers, a->last_failover_usec / 1000.0,
                          a->max_failover_usec / 1000.0);
        }
    }
    free(loaded);

    struct json *services = json_array_create_empty();
    for (size_t i = 0; i < c->spec.n_services; i++) {
        const struct lb_service *svc = &c->spec.services[i];
        const struct agent_service *as = find_service(a, svc->name);
        const struct ir_group *g = service_group(&c->ir, svc->name);
        char vip[INET6_ADDRSTRLEN];
        lb_addr_format(&svc->vip, vip, sizeof vip);

        struct json *js = json_object_create();
        json_object_put_string(js, "name", svc->name);
        json_object_put_string(js, "vip", vip);
        json_object_put_string(js, "protocol", lb_proto_name(svc->proto));
        json_object_put(js, "port", json_integer_create(svc->port));
        json_object_put_string(js, "scheduler",
                               lb_scheduler_name(svc->scheduler));
        json_object_put_string(js, "check",
                               lb_check_type_name(svc->check.type));
        if (g) {
            json_object_put_format(js, "group", "%#"PRIx32, g->group_id);
        }
        json_object_put(js, "all_down",
                        json_boolean_create(as && as->all_down));
        json_object_put(js, "withdrawn",
                        json_boolean_create(as && as->withdrawn));
        if (svc->has_sorry) {
            char sorry[INET6_ADDRSTRLEN];
            lb_addr_format(&svc->sorry.addr, sorry, sizeof sorry);
            json_object_put_string(js, "sorry", sorry);
        }
        if (svc->quorum) {
            json_object_put(js, "quorum", json_integer_create(svc->quorum));
        }
        if (!json) {
            ds_put_format(out, "\nservice %s: %s %s%s:%u, scheduler %s, "
                          "check %s", svc->name, lb_proto_name(svc->proto),
                          svc->vip.family == AF_INET6 ? "[" : "", vip,
                          svc->port, lb_scheduler_name(svc->scheduler),
                          lb_check_type_name(svc->check.type));
            if (g) {
                ds_put_format(out, ", group %#"PRIx32, g->group_id);
            }
            ds_put_format(out, "%s%s\n",
                          as && as->all_down
                          ? (svc->has_sorry
                             ? " -- ALL REALS DOWN, sorry real in use"
                             : " -- ALL REALS DOWN, dropping new connections")
                          : "",
                          as && as->withdrawn
                          ? " -- WITHDRAWN (quorum lost)" : "");
        }

        struct json *reals = json_array_create_empty();
        for (size_t j = 0; j < svc->n_reals; j++) {
            const struct lb_real *real = &svc->reals[j];
            char addr[INET6_ADDRSTRLEN];
            lb_addr_format(&real->addr, addr, sizeof addr);
            const struct agent_real *ar = find_real(a, svc->name, addr);
            struct health_status st;
            bool checked = a->hm && health_monitor_get(a->hm, svc->name,
                                                       &real->addr, &st);
            const char *state = checked ? health_state_name(st.state)
                                        : "unchecked";
            bool up = !checked || health_state_is_up(st.state);
            uint32_t admin = ar ? admin_weight(ar) : real->weight;
            uint32_t effective = up ? admin : 0;
            const struct ir_bucket *b = real_bucket(g, addr);
            uint64_t packets = 0, bytes = 0;
            bool has_stats = b && g && swconn_bucket_stats(
                sc, g->group_id, b->bucket_id, &packets, &bytes);

            struct json *jr = json_object_create();
            json_object_put_string(jr, "address", addr);
            json_object_put_string(jr, "health", state);
            char *since = format_time(checked ? st.since : 0);
            json_object_put_string(jr, "since", since);
            if (checked) {
                json_object_put_string(jr, "last_check",
                                       st.last.reason == HEALTH_R_NONE
                                       ? "none" : st.last.text);
            }
            /* Its health kept, unchecked: say so, and why. */
            char *not_run_since = checked && st.not_run_since
                                  ? format_time(st.not_run_since) : NULL;
            if (not_run_since) {
                json_object_put_string(jr, "probe_not_run", st.not_run.text);
                json_object_put_string(jr, "probe_not_run_since",
                                       not_run_since);
            }
            json_object_put(jr, "configured_weight",
                            json_integer_create(ar ? ar->configured
                                                   : real->weight));
            json_object_put(jr, "admin_weight", json_integer_create(admin));
            json_object_put(jr, "drained",
                            json_boolean_create(ar && ar->drained));
            if (ar && ar->has_dyn && is_lc(svc)) {
                json_object_put(jr, "connections",
                                json_integer_create(ar->conns));
                json_object_put(jr, "lc_weight",
                                json_integer_create(ar->dyn));
            }
            json_object_put(jr, "effective_weight",
                            json_integer_create(effective));
            if (b) {
                json_object_put(jr, "bucket_id",
                                json_integer_create(b->bucket_id));
                json_object_put(jr, "bucket_weight",
                                json_integer_create(b->weight));
            }
            json_object_put(jr, "in_group",
                            json_boolean_create(b && effective));
            if (has_stats) {
                json_object_put(jr, "packets", json_integer_create(packets));
                json_object_put(jr, "bytes", json_integer_create(bytes));
            }
            json_array_add(reals, jr);

            if (!json) {
                ds_put_format(out, "  real %-15s %-9s", addr, state);
                if (checked) {
                    ds_put_format(out, " since %s (%llds ago)", since,
                                  (now - st.since) / 1000);
                }
                ds_put_format(out, " weight configured %"PRIu32
                              " admin %"PRIu32"%s effective %"PRIu32,
                              ar ? ar->configured : real->weight, admin,
                              ar && ar->drained ? " (drained)" : "",
                              effective);
                if (ar && ar->has_dyn && is_lc(svc)) {
                    ds_put_format(out, " (%s: %"PRIu32" connections, "
                                  "weight %"PRIu32")",
                                  lb_scheduler_name(svc->scheduler),
                                  ar->conns, ar->dyn);
                }
                if (b) {
                    ds_put_format(out, " bucket %"PRIu32"/w%u", b->bucket_id,
                                  b->weight);
                }
                if (has_stats) {
                    ds_put_format(out, " packets %"PRIu64" bytes %"PRIu64,
                                  packets, bytes);
                }
                if (checked && st.last.reason != HEALTH_R_NONE
                    && !st.last.ok) {
                    ds_put_format(out, " last check: %s", st.last.text);
                }
                if (not_run_since) {
                    ds_put_format(out, " probes not run since %s: %s",
                                  not_run_since, st.not_run.text);
                }
                ds_put_char(out, '\n');
            }
            free(since);
            free(not_run_since);
        }
        json_object_put(js, "reals", reals);
        json_array_add(services, js);
    }
    json_object_put(top, "services", services);
    if (json) {
        char *s = json_to_string(top, 0);
        ds_put_cstr(out, s);
        free(s);
    }
    json_destroy(top);
}
