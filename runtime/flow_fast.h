/* Building the flows lowering emits in bulk (responders, classifiers,
 * reply trackers, dispatch, forward and table-miss flows) straight into
 * libopenvswitch's match and actions.
 *
 * ovs-ofctl's flow parser (parse_ofp_flow_mod_str()) spends most of its
 * time in generic key=value scanning and in looking action and protocol
 * names up one by one; at 10,000 services that was most of the agent's
 * decoding. This tokenizes the few shapes lowering writes and calls the
 * same leaf functions the parser ends in (ofp_parse_field(), mf_parse(),
 * nxm_parse_reg_move(), ofpact_put_*(), ofpacts_check()), so what it
 * builds is what the parser builds; rt_test_flow_fast compares the two on
 * every flow of the examples and of generated pipelines. Anything else
 * (learn, resubmit, ct with commit or exec, load, port names, text it is
 * unsure about) is declined and goes to the parser, which also gives the
 * error message when there is one. */
#ifndef FLOWLB_FLOW_FAST_H
#define FLOWLB_FLOW_FAST_H 1

#include <stdbool.h>
#include <stdint.h>
#include "openvswitch/ofp-protocol.h"

struct match;
struct ofpbuf;
struct ofputil_port_map;

/* Builds the match of 'match_text' into 'match' and the actions of
 * 'actions_text' (as for a flow in table 'table_id') into 'ofpacts'
 * (cleared first), with the protocols that can express them in 'usable'.
 * Returns false if the text is not one of the shapes handled, or not
 * valid: then the contents of the outputs are unspecified. */
bool flow_fast_build(const char *match_text, const char *actions_text,
                     uint8_t table_id, const struct ofputil_port_map *,
                     struct match *match, struct ofpbuf *ofpacts,
                     enum ofputil_protocol *usable);

#endif /* FLOWLB_FLOW_FAST_H */
