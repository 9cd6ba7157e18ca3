/* Flows in flowlb's tables that are not flowlb's: see foreign_flows.h. */
#include <config.h>
#include "foreign_flows.h"

#include <string.h>
#include "ofsync.h"
#include "openvswitch/hmap.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-table.h"
#include "openvswitch/vlog.h"

VLOG_DEFINE_THIS_MODULE(foreign_flows);

void
foreign_flows_judge(struct foreign_flows *ff,
                    const struct ofsync_state *installed,
                    const struct ofputil_table_stats *stats, size_t n_stats,
                    const char *target)
{
    /* flowlb's flows per table, and the tables its learn actions fill
     * (lowering puts learn actions in flows only, never in buckets). */
    uint32_t ours[256] = { 0 };
    bool learned[256] = { false };
    const struct ofsync_flow *f;
    HMAP_FOR_EACH (f, node, &installed->flows) {
        ours[f->table_id]++;
        const struct ofpact *a;
        OFPACT_FOR_EACH (a, f->ofpacts, f->ofpacts_len) {
            if (a->type == OFPACT_LEARN) {
                learned[ofpact_get_LEARN(a)->table_id] = true;
            }
        }
    }

    uint32_t now[256] = { 0 };
    for (size_t i = 0; i < n_stats; i++) {
        uint8_t t = stats[i].table_id;
        if (ours[t] && !learned[t] && stats[i].active_count > ours[t]) {
            now[t] = stats[i].active_count - ours[t];
        }
    }
    for (int t = 0; t < 256; t++) {
        if (now[t] == ff->n[t]) {
            continue;
        }
        if (!ff->n[t]) {
            VLOG_WARN("%s: table %d holds %"PRIu32" flow%s that %s not "
                      "flowlb's: at a higher priority %s shadow flowlb's "
                      "(ovs-ofctl dump-flows BRIDGE table=%d)", target, t,
                      now[t], now[t] == 1 ? "" : "s",
                      now[t] == 1 ? "is" : "are",
                      now[t] == 1 ? "it can" : "they can", t);
        } else if (now[t]) {
            VLOG_WARN("%s: table %d holds %"PRIu32" flows that are not "
                      "flowlb's (was %"PRIu32")", target, t, now[t],
                      ff->n[t]);
        } else {
            VLOG_INFO("%s: table %d holds only flowlb's flows again",
                      target, t);
        }
    }
    memcpy(ff->n, now, sizeof ff->n);
    ff->n_judged++;
}

uint64_t
foreign_flows_total(const struct foreign_flows *ff)
{
    uint64_t total = 0;
    for (int t = 0; t < 256; t++) {
        total += ff->n[t];
    }
    return total;
}
