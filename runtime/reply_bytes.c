/* Installed flows and groups found by their bytes in the switch's
 * replies; see reply_bytes.h. */
#include <config.h>
#include "reply_bytes.h"

#include <string.h>
#include "byte-order.h"
#include "hash.h"
#include "nx-match.h"
#include "ofsync.h"
#include "openflow/openflow.h"
#include "openvswitch/hmap.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofpbuf.h"
#include "util.h"

struct flow_bytes_entry {
    struct hmap_node node;      /* In 'by_match'. */
    const struct ofsync_flow *flow;
    uint32_t ofs, len;          /* Its padded OXM match in 'matches'. */
};

struct flow_bytes_index {
    struct hmap by_match;
    struct flow_bytes_entry *entries;
    struct ofpbuf matches;
};

static uint32_t
entry_hash(uint8_t table_id, uint16_t priority, const void *match,
           size_t len)
{
    return hash_bytes(match, len, (uint32_t) table_id << 16 | priority);
}

struct flow_bytes_index *
flow_bytes_index_create(const struct ofsync_state *s)
{
    struct flow_bytes_index *ix = xmalloc(sizeof *ix);
    size_t n = ofsync_state_n_flows(s), i = 0;

    hmap_init(&ix->by_match);
    hmap_reserve(&ix->by_match, n);
    ix->entries = xmalloc(MAX(n, 1) * sizeof *ix->entries);
    ofpbuf_init(&ix->matches, 48 * MAX(n, 1));

    const struct ofsync_flow *f;
    HMAP_FOR_EACH (f, node, &s->flows) {
        struct flow_bytes_entry *e = &ix->entries[i++];
        struct match m;

        minimatch_expand(&f->match, &m);
        e->flow = f;
        e->ofs = ix->matches.size;
        oxm_put_match(&ix->matches, &m, OFP15_VERSION);
        e->len = ix->matches.size - e->ofs;
    }
    /* Hashed once the buffer stops moving. */
    for (size_t j = 0; j < i; j++) {
        struct flow_bytes_entry *e = &ix->entries[j];
        const uint8_t *bytes = (const uint8_t *) ix->matches.data + e->ofs;

        hmap_insert(&ix->by_match, &e->node,
                    entry_hash(e->flow->table_id, e->flow->priority, bytes,
                               e->len));
    }
    return ix;
}

void
flow_bytes_index_destroy(struct flow_bytes_index *ix)
{
    if (ix) {
        hmap_destroy(&ix->by_match);
        free(ix->entries);
        ofpbuf_uninit(&ix->matches);
        free(ix);
    }
}

size_t
flow_bytes_index_count(const struct flow_bytes_index *ix)
{
    return ix ? hmap_count(&ix->by_match) : 0;
}

static const struct ofsync_flow *
find(const struct flow_bytes_index *ix, uint8_t table_id, uint16_t priority,
     const uint8_t *match, size_t len)
{
    const struct flow_bytes_entry *e;

    HMAP_FOR_EACH_WITH_HASH (e, node,
                             entry_hash(table_id, priority, match, len),
                             &ix->by_match) {
        if (e->len == len && e->flow->table_id == table_id
            && e->flow->priority == priority
            && !memcmp((const uint8_t *) ix->matches.data + e->ofs, match,
                       len)) {
            return e->flow;
        }
    }
    return NULL;
}

/* The layout of an OpenFlow 1.5 flow stats entry: the fixed part, the
 * match (OXM, padded to 8), the statistics (OXS, padded to 8), then the
 * instructions. */
bool
flow_bytes_match_reply(const struct flow_bytes_index *ix,
                       const struct ofp_header *oh,
                       bool (*wanted)(uint64_t cookie),
                       void (*fn)(const struct ofsync_flow *, void *aux),
                       void *aux)
{
    struct ofpbuf b = ofpbuf_const_initializer(oh, ntohs(oh->length));
    enum ofpraw raw;

    if (!ix || oh->version != OFP15_VERSION || ofpraw_pull(&raw, &b)
        || raw != OFPRAW_OFPST15_FLOW_REPLY) {
        return false;
    }
    const uint8_t *p = b.data;
    size_t left = b.size;
    while (left) {
        const struct ofp15_flow_desc *fd = (const void *) p;
        if (left < sizeof *fd) {
            return false;
        }
        size_t length = ntohs(fd->length);
        if (length < sizeof *fd || length > left) {
            return false;
        }
        const uint8_t *q = p + sizeof *fd;
        size_t rest = length - sizeof *fd;

        /* Match: type, length (with this header, without padding). */
        if (rest < 4 || ntohs(*(const ovs_be16 *) q) != OFPMT_OXM) {
            return false;
        }
        size_t match_len = ROUND_UP(ntohs(*(const ovs_be16 *) (q + 2)), 8);
        if (match_len < 4 || match_len > rest) {
            return false;
        }
        const uint8_t *match = q;
        q += match_len;
        rest -= match_len;

        /* Statistics: reserved, length (with this header). */
        if (rest < 4) {
            return false;
        }
        size_t stat_len = ROUND_UP(ntohs(*(const ovs_be16 *) (q + 2)), 8);
        if (stat_len < 4 || stat_len > rest) {
            return false;
        }
        q += stat_len;
        rest -= stat_len;

        uint64_t cookie = ntohll(fd->cookie);
        if (wanted(cookie)) {
            const struct ofsync_flow *f = find(ix, fd->table_id,
                                               ntohs(fd->priority), match,
                                               match_len);
            if (!f || f->cookie != cookie || f->wire_len != rest
                || memcmp(f->wire, q, rest)) {
                return false;
            }
            fn(f, aux);
        }
        p += length;
        left -= length;
    }
    return true;
}

/* Whether 'entry' ('len' bytes) is what the switch sends for 'g': 'g'
 * encoded into 'replies' (one reply, its header 'hdr_len' bytes), which is
 * left as it was. */
static bool
group_equals_entry(const struct ofsync_group *g, const uint8_t *entry,
                   size_t len, struct ovs_list *replies, size_t hdr_len)
{
    struct ofputil_group_desc gd = {
        .type = g->type,
        .group_id = g->group_id,
        .props = g->props,
    };
    struct ofpbuf *msg = ofpbuf_from_list(ovs_list_front(replies));
    bool equal;

    ofputil_append_group_desc_reply(&gd, &g->buckets, replies);
    equal = (ovs_list_is_singleton(replies) && msg->size - hdr_len == len
             && !memcmp((const uint8_t *) msg->data + hdr_len, entry, len));
    /* Back to one reply holding only its header. */
    while (!ovs_list_is_singleton(replies)) {
        ofpbuf_delete(ofpbuf_from_list(ovs_list_pop_back(replies)));
    }
    msg->size = hdr_len;
    return equal;
}

bool
group_bytes_match_reply(const struct ofsync_state *installed,
                        const struct ofp_header *oh,
                        bool (*wanted)(uint32_t group_id),
                        void (*fn)(const struct ofsync_group *, void *aux),
                        void *aux)
{
    struct ofpbuf b = ofpbuf_const_initializer(oh, ntohs(oh->length));
    enum ofpraw raw;

    if (oh->version != OFP15_VERSION || ofpraw_pull(&raw, &b)
        || raw != OFPRAW_OFPST11_GROUP_DESC_REPLY) {
        return false;
    }

    /* The switch's encoder appends to a series of replies to a request. */
    struct ofpbuf *request = ofpraw_alloc(OFPRAW_OFPST15_GROUP_DESC_REQUEST,
                                          OFP15_VERSION, 0);
    struct ovs_list replies;
    ofpmp_init(&replies, request->data);
    ofpbuf_delete(request);
    size_t hdr_len = ofpbuf_from_list(ovs_list_front(&replies))->size;

    const uint8_t *p = b.data;
    size_t left = b.size;
    bool ok = true;
    while (ok && left) {
        const struct ofp15_group_desc_stats *gds = (const void *) p;
        size_t length = left >= sizeof *gds ? ntohs(gds->length) : 0;
        if (length < sizeof *gds || length > left) {
            ok = false;
            break;
        }
        uint32_t id = ntohl(gds->group_id);
        if (wanted(id)) {
            const struct ofsync_group *g = ofsync_find_group(installed, id);
            ok = g && group_equals_entry(g, p, length, &replies, hdr_len);
            if (ok) {
                fn(g, aux);
            }
        }
        p += length;
        left -= length;
    }
    ofpbuf_list_delete(&replies);
    return ok;
}
