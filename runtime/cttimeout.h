/* Conntrack timeout policy of flowlb's zone, in the Open vSwitch database.
 *
 * OpenFlow's ct action has no timeout in OVS 3.1; OVS applies conntrack
 * timeouts per zone from its database (table CT_Timeout_Policy, through
 * the Datapath record of the bridge's datapath type), the userspace
 * datapath included. When the spec gives UDP services a 'udp-timeout',
 * flowlbd writes it there with ovs-vsctl:
 *
 *   ovs-vsctl get Open_vSwitch . datapaths:TYPE  ||  create the record
 *   ovs-vsctl --may-exist add-zone-tp TYPE zone=Z udp_first=T
 *             udp_single=T udp_multiple=T
 *
 * and removes the zone's policy (del-zone-tp) when a reload drops the
 * timeout it had set. ovs-vsctl runs as a child process watched from the
 * poll loop: the daemon never blocks on the database.
 */
#ifndef FLOWLB_CTTIMEOUT_H
#define FLOWLB_CTTIMEOUT_H 1

#include <stdbool.h>
#include <stdint.h>

struct cttimeout;

/* 'db': ovsdb-server remote (e.g. unix:/run/openvswitch/db.sock).
 * 'dp_type': datapath type ("system", "netdev"), or NULL to read it from
 * bridge 'bridge' (may be NULL: then "system"). */
struct cttimeout *cttimeout_create(const char *db, const char *dp_type,
                                   const char *bridge);
void cttimeout_destroy(struct cttimeout *);     /* Accepts NULL. */

/* Wants zone 'zone' to time UDP entries out after 'udp_s' seconds (0: no
 * policy of ours). Applied asynchronously; a failure is logged and retried
 * after 10 s. */
void cttimeout_set(struct cttimeout *, uint16_t zone, uint32_t udp_s);

void cttimeout_run(struct cttimeout *);
void cttimeout_wait(struct cttimeout *);

/* For flowlb/show: "applied", "pending", "failed", or "none". */
const char *cttimeout_status(const struct cttimeout *);

#endif /* FLOWLB_CTTIMEOUT_H */
