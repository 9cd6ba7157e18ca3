/* Flows in flowlb's tables that are not flowlb's.
 *
 * flowlbd owns only the flows with its cookie, so another controller's
 * flow in one of its tables is never touched; at a higher priority it
 * shadows flowlb's flows for what it matches. The switch's table
 * statistics count every flow of each table (one small request per
 * reconcile round): what they count beyond flowlb's installed flows in a
 * table is another's. Tables that flowlb's own learn actions fill are not
 * judged (their learned entries are in no installed view). */
#ifndef FLOWLB_FOREIGN_FLOWS_H
#define FLOWLB_FOREIGN_FLOWS_H 1

#include <stddef.h>
#include <stdint.h>

struct ofsync_state;
struct ofputil_table_stats;

struct foreign_flows {
    uint32_t n[256];            /* Per table, as of the last judgment. */
    unsigned int n_judged;      /* Judgments made. */
};

/* Judges the switch's table statistics 'stats' (one per table, 'n_stats')
 * against the flows 'installed' holds, logging each table whose count
 * changed ('target' names the switch). */
void foreign_flows_judge(struct foreign_flows *,
                         const struct ofsync_state *installed,
                         const struct ofputil_table_stats *stats,
                         size_t n_stats, const char *target);

/* Flows not flowlb's, in all its tables. */
uint64_t foreign_flows_total(const struct foreign_flows *);

#endif /* FLOWLB_FOREIGN_FLOWS_H */
