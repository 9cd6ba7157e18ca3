/* Active connections per real, from the datapath's conntrack table, for
 * the lc and wlc schedulers.
 *
 * A switch pipeline cannot pick "the real with the fewest connections"
 * per packet; flowlb approximates IPVS's lc/wlc by re-weighting the
 * service's hash group from connection counts: every interval, flowlbd
 * runs `ovs-appctl -t VSWITCHD dpctl/dump-conntrack zone=Z` as a child
 * process (never blocking), counts the entries of each conntrack mark
 * (= real) that are not closing (TIME_WAIT, CLOSE...), and hands the counts
 * to the agent, which turns them into weights (agent_apply_connload()).
 */
#ifndef FLOWLB_CONNLOAD_H
#define FLOWLB_CONNLOAD_H 1

#include <stdbool.h>
#include <stdint.h>

struct connload;

/* 'vswitchd': ovs-appctl target of ovs-vswitchd ("ovs-vswitchd", or a
 * control socket path). */
struct connload *connload_create(const char *vswitchd, uint16_t zone,
                                 int interval_ms);
void connload_destroy(struct connload *);           /* Accepts NULL. */

/* Whether counting is wanted at all (no lc/wlc service: no child runs). */
void connload_set_enabled(struct connload *, bool);
void connload_set_zone(struct connload *, uint16_t zone);

void connload_run(struct connload *);
void connload_wait(struct connload *);

/* Changes each time a new complete count is available. */
unsigned int connload_seqno(const struct connload *);
/* Active connections of mark 'mark' in the last complete count. */
uint32_t connload_get(const struct connload *, uint32_t mark);

/* Parses one line of dpctl/dump-conntrack output: returns true and the
 * mark if it is an entry that counts as active. For tests. */
bool connload_parse_line(const char *line, uint16_t zone, uint32_t *mark);

#endif /* FLOWLB_CONNLOAD_H */
