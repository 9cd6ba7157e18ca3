/* Installed flows and groups found by their bytes in the switch's replies.
 *
 * A periodic reconcile round reads every installed flow and group back.
 * Decoding each reply entry (matches, instructions, buckets, a state to
 * compare in) took most of the round's CPU in flowlbd. The switch encodes
 * them with the same libopenvswitch encoders flowlbd has: an entry that is
 * byte for byte what flowlbd expects of an installed flow (table,
 * priority, cookie, match, instructions) or group is that flow or group,
 * with no decoding. Anything else goes to the decoder, which says what
 * differs. Accepting only exact equality keeps the shortcut sound: it can
 * miss an equal entry (then the decoder finds it equal), never pass a
 * different one. */
#ifndef FLOWLB_REPLY_BYTES_H
#define FLOWLB_REPLY_BYTES_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ofp_header;
struct ofsync_flow;
struct ofsync_group;
struct ofsync_state;

/* Every flow of an installed view, by its match as a reply encodes it. It
 * points into that view: valid until the view's flows change. */
struct flow_bytes_index;

struct flow_bytes_index *flow_bytes_index_create(const struct ofsync_state *);
void flow_bytes_index_destroy(struct flow_bytes_index *); /* Accepts NULL. */

/* Walks the OpenFlow 1.5 flow stats reply 'oh'. For each entry whose cookie
 * 'wanted' accepts, calls 'fn' with the installed flow it equals byte for
 * byte, or stops at the first that equals none. Returns true if every such
 * entry had its flow; false if one had none or the reply could not be
 * read this way (then decode it). */
bool flow_bytes_match_reply(const struct flow_bytes_index *,
                            const struct ofp_header *oh,
                            bool (*wanted)(uint64_t cookie),
                            void (*fn)(const struct ofsync_flow *, void *aux),
                            void *aux);

size_t flow_bytes_index_count(const struct flow_bytes_index *);

/* Walks the OpenFlow 1.5 group description reply 'oh'. For each entry
 * whose group id 'wanted' accepts, calls 'fn' with the group of
 * 'installed' that, encoded as the switch encodes it, is the entry byte
 * for byte (buckets in the same order), or stops at the first that is
 * not. Returns true if every such entry was; false otherwise or if the
 * reply could not be read this way (then decode it). */
bool group_bytes_match_reply(const struct ofsync_state *installed,
                             const struct ofp_header *oh,
                             bool (*wanted)(uint32_t group_id),
                             void (*fn)(const struct ofsync_group *,
                                        void *aux),
                             void *aux);

#endif /* FLOWLB_REPLY_BYTES_H */
