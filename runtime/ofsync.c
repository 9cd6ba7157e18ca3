/* Desired versus installed OpenFlow state: see ofsync.h. */
#include <config.h>
#include "ofsync.h"

#include <string.h>
#include "bitmap.h"
#include "byte-order.h"
#include "flow_fast.h"
#include "hash.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/shash.h"
#include "openvswitch/util.h"

#define OFSYNC_PROTOCOL OFPUTIL_P_OF15_OXM

static uint32_t
flow_key_hash(uint8_t table_id, uint16_t priority, const struct minimatch *m)
{
    return minimatch_hash(m, hash_2words(table_id, priority));
}

/* A group recorded by ofsync_state_put_group(). */
struct ofsync_touch {
    struct hmap_node node;      /* In ofsync_state 'touched', by id. */
    uint32_t group_id;
    uint64_t gen;
};

/* A flow recorded by ofsync_state_put_flow() or ofsync_state_delete_flow():
 * its key. */
struct ofsync_flow_touch {
    struct hmap_node node;      /* In ofsync_state 'touched_flows'. */
    uint8_t table_id;
    uint16_t priority;
    struct minimatch match;
    uint64_t gen;
};

void
ofsync_state_init(struct ofsync_state *s)
{
    hmap_init(&s->flows);
    hmap_init(&s->groups);
    hmap_init(&s->touched);
    hmap_init(&s->touched_flows);
    s->gen = s->full_gen = 0;
}

static void
touched_clear(struct ofsync_state *s)
{
    if (!hmap_is_empty(&s->touched)) {
        struct ofsync_touch *t;
        HMAP_FOR_EACH_POP (t, node, &s->touched) {
            free(t);
        }
        hmap_shrink(&s->touched);
    }
    if (!hmap_is_empty(&s->touched_flows)) {
        struct ofsync_flow_touch *t;
        HMAP_FOR_EACH_POP (t, node, &s->touched_flows) {
            minimatch_destroy(&t->match);
            free(t);
        }
        hmap_shrink(&s->touched_flows);
    }
}

void
ofsync_state_changed(struct ofsync_state *s)
{
    s->gen++;
    s->full_gen = s->gen;
    touched_clear(s);
}

static void
flow_free(struct ofsync_flow *f)
{
    minimatch_destroy(&f->match);
    free(f->ofpacts);
    free(f->wire);
    free(f);
}

/* The OpenFlow 1.5 encoding of 'ofpacts'. Actions are compared in this
 * form rather than with ofpacts_equal(): decoded ofpacts may hold
 * uninitialized padding (set_field values inside ct(exec(...)) were seen
 * to), which a memcmp reports as a difference; the encoder writes only
 * meaningful bytes, and both sides went through the same decoder. */
static uint8_t *
actions_wire(const struct ofpact *ofpacts, size_t ofpacts_len, bool instr,
             size_t *len)
{
    struct ofpbuf b;
    ofpbuf_init(&b, 64);
    if (instr) {
        ofpacts_put_openflow_instructions(ofpacts, ofpacts_len, &b,
                                          OFP15_VERSION);
    } else {
        ofpacts_put_openflow_actions(ofpacts, ofpacts_len, &b,
                                     OFP15_VERSION);
    }
    *len = b.size;
    return ofpbuf_steal_data(&b);
}

static bool
ofpacts_same(const struct ofpact *a, size_t a_len,
             const struct ofpact *b, size_t b_len)
{
    size_t la, lb;
    uint8_t *wa = actions_wire(a, a_len, false, &la);
    uint8_t *wb = actions_wire(b, b_len, false, &lb);
    bool same = la == lb && !memcmp(wa, wb, la);
    free(wa);
    free(wb);
    return same;
}

void
ofsync_group_free(struct ofsync_group *g)
{
    ofputil_bucket_list_destroy(&g->buckets);
    ofputil_group_properties_destroy(&g->props);
    free(g->bwire);
    free(g);
}

void
ofsync_group_changed(struct ofsync_group *g)
{
    free(g->bwire);
    g->bwire = NULL;
    g->bwire_len = 0;
}

static int
compare_bucket_ptrs(const void *a_, const void *b_)
{
    const struct ofputil_bucket *const *a = a_, *const *b = b_;
    return ((*a)->bucket_id > (*b)->bucket_id)
           - ((*a)->bucket_id < (*b)->bucket_id);
}

/* Computes 'g->bwire' if needed (see ofsync.h). It is a cache, so it may
 * be filled in through a const pointer. */
static void
group_bwire(const struct ofsync_group *g_)
{
    struct ofsync_group *g = CONST_CAST(struct ofsync_group *, g_);
    if (g->bwire) {
        return;
    }
    size_t n = ovs_list_size(&g->buckets), i = 0;
    const struct ofputil_bucket **v = xmalloc(MAX(n, 1) * sizeof *v);
    const struct ofputil_bucket *b;
    LIST_FOR_EACH (b, list_node, &g->buckets) {
        v[i++] = b;
    }
    qsort(v, n, sizeof *v, compare_bucket_ptrs);
    struct ofpbuf buf;
    ofpbuf_init(&buf, 64 * MAX(n, 1));
    for (i = 0; i < n; i++) {
        uint32_t hdr[4] = { v[i]->bucket_id, v[i]->weight,
                            (OVS_FORCE uint32_t) v[i]->watch_port, v[i]->watch_group };
        ofpbuf_put(&buf, hdr, sizeof hdr);
        size_t start = buf.size;
        ofpacts_put_openflow_actions(v[i]->ofpacts, v[i]->ofpacts_len, &buf,
                                     OFP15_VERSION);
        uint32_t len = buf.size - start;
        ofpbuf_put(&buf, &len, sizeof len);
    }
    free(v);
    g->bwire_len = buf.size;
    g->bwire = ofpbuf_steal_data(&buf);
    if (!g->bwire) {
        g->bwire = xmalloc(1);
    }
}

void
ofsync_state_clear(struct ofsync_state *s)
{
    struct ofsync_flow *f;
    HMAP_FOR_EACH_POP (f, node, &s->flows) {
        flow_free(f);
    }
    struct ofsync_group *g;
    HMAP_FOR_EACH_POP (g, node, &s->groups) {
        ofsync_group_free(g);
    }
    ofsync_state_changed(s);
}

void
ofsync_state_destroy(struct ofsync_state *s)
{
    if (s) {
        ofsync_state_clear(s);
        touched_clear(s);
        hmap_destroy(&s->flows);
        hmap_destroy(&s->groups);
        hmap_destroy(&s->touched);
        hmap_destroy(&s->touched_flows);
    }
}

size_t
ofsync_state_n_flows(const struct ofsync_state *s)
{
    return hmap_count(&s->flows);
}

size_t
ofsync_state_n_groups(const struct ofsync_state *s)
{
    return hmap_count(&s->groups);
}

struct ofsync_flow *
ofsync_find_flow(const struct ofsync_state *s, uint8_t table_id,
                 uint16_t priority, const struct minimatch *m)
{
    struct ofsync_flow *f;
    HMAP_FOR_EACH_WITH_HASH (f, node, flow_key_hash(table_id, priority, m),
                             &s->flows) {
        if (f->table_id == table_id && f->priority == priority
            && minimatch_equal(&f->match, m)) {
            return f;
        }
    }
    return NULL;
}

struct ofsync_group *
ofsync_find_group(const struct ofsync_state *s, uint32_t group_id)
{
    struct ofsync_group *g;
    HMAP_FOR_EACH_WITH_HASH (g, node, hash_int(group_id, 0), &s->groups) {
        if (g->group_id == group_id) {
            return g;
        }
    }
    return NULL;
}

void
ofsync_remove_flow(struct ofsync_state *s, struct ofsync_flow *f)
{
    hmap_remove(&s->flows, &f->node);
    flow_free(f);
    ofsync_state_changed(s);
}

/* Inserts a new flow, taking 'match' (moved) and copying 'ofpacts' (and
 * 'wire', its encoding, if nonnull; else it is computed). A flow with the
 * same key is replaced, as the switch itself would. */
static struct ofsync_flow *
insert_flow__(struct ofsync_state *s, uint8_t table_id, uint16_t priority,
              struct minimatch *match, uint64_t cookie,
              const struct ofpact *ofpacts, size_t ofpacts_len,
              const uint8_t *wire, size_t wire_len)
{
    struct ofsync_flow *old = ofsync_find_flow(s, table_id, priority, match);
    if (old) {
        hmap_remove(&s->flows, &old->node);
        flow_free(old);
    }
    struct ofsync_flow *f = xzalloc(sizeof *f);
    f->table_id = table_id;
    f->priority = priority;
    minimatch_move(&f->match, match);
    f->cookie = cookie;
    f->ofpacts = ofpacts_len ? xmemdup(ofpacts, ofpacts_len) : NULL;
    f->ofpacts_len = ofpacts_len;
    if (wire) {
        f->wire = xmemdup(wire, MAX(wire_len, 1));
        f->wire_len = wire_len;
    } else {
        f->wire = actions_wire(ofpacts, ofpacts_len, true, &f->wire_len);
    }
    hmap_insert(&s->flows, &f->node,
                flow_key_hash(table_id, priority, &f->match));
    return f;
}

/* insert_flow__(), counted as a change of the whole state. */
static struct ofsync_flow *
insert_flow(struct ofsync_state *s, uint8_t table_id, uint16_t priority,
            struct minimatch *match, uint64_t cookie,
            const struct ofpact *ofpacts, size_t ofpacts_len,
            const uint8_t *wire, size_t wire_len)
{
    struct ofsync_flow *f = insert_flow__(s, table_id, priority, match,
                                          cookie, ofpacts, ofpacts_len, wire,
                                          wire_len);
    ofsync_state_changed(s);
    return f;
}

/* Inserts a copy of 'src' (from another state), tracking nothing. */
static struct ofsync_flow *
insert_flow_copy(struct ofsync_state *s, const struct ofsync_flow *src)
{
    struct minimatch m;
    minimatch_clone(&m, &src->match);
    struct ofsync_flow *f = insert_flow__(s, src->table_id, src->priority,
                                          &m, src->cookie, src->ofpacts,
                                          src->ofpacts_len, src->wire,
                                          src->wire_len);
    f->tag = src->tag;
    return f;
}

void
ofsync_add_flow_copy(struct ofsync_state *s, const struct ofsync_flow *src)
{
    insert_flow_copy(s, src);
    ofsync_state_changed(s);
}

static struct ofputil_bucket *
bucket_clone(const struct ofputil_bucket *b)
{
    struct ofputil_bucket *n = xmemdup(b, sizeof *b);
    n->ofpacts = b->ofpacts_len ? xmemdup(b->ofpacts, b->ofpacts_len) : NULL;
    return n;
}

/* Inserts 'g' (taken) into 's', replacing a group with the same id;
 * tracks nothing. */
static void
state_insert_group(struct ofsync_state *s, struct ofsync_group *g)
{
    struct ofsync_group *old = ofsync_find_group(s, g->group_id);
    if (old) {
        hmap_remove(&s->groups, &old->node);
        ofsync_group_free(old);
    }
    hmap_insert(&s->groups, &g->node, hash_int(g->group_id, 0));
}

struct ofsync_group *
ofsync_group_clone(const struct ofsync_group *src)
{
    struct ofsync_group *g = xzalloc(sizeof *g);
    g->group_id = src->group_id;
    g->type = src->type;
    ofputil_group_properties_copy(&g->props, &src->props);
    ovs_list_init(&g->buckets);
    ofputil_bucket_clone_list(&g->buckets, &src->buckets, NULL);
    if (src->bwire) {
        g->bwire = xmemdup(src->bwire, MAX(src->bwire_len, 1));
        g->bwire_len = src->bwire_len;
    }
    return g;
}

/* Records group 'group_id' as changed at a new generation. */
static void
touch_group(struct ofsync_state *s, uint32_t group_id)
{
    s->gen++;
    struct ofsync_touch *t;
    HMAP_FOR_EACH_WITH_HASH (t, node, hash_int(group_id, 0), &s->touched) {
        if (t->group_id == group_id) {
            t->gen = s->gen;
            return;
        }
    }
    t = xmalloc(sizeof *t);
    t->group_id = group_id;
    t->gen = s->gen;
    hmap_insert(&s->touched, &t->node, hash_int(group_id, 0));
}

void
ofsync_state_put_group(struct ofsync_state *s, struct ofsync_group *g)
{
    state_insert_group(s, g);
    touch_group(s, g->group_id);
}

void
ofsync_state_delete_group(struct ofsync_state *s, uint32_t group_id)
{
    struct ofsync_group *g = ofsync_find_group(s, group_id);
    if (g) {
        hmap_remove(&s->groups, &g->node);
        ofsync_group_free(g);
    }
    touch_group(s, group_id);
}

/* Records the flow key (table_id, priority, match) as changed at a new
 * generation. */
static void
touch_flow(struct ofsync_state *s, uint8_t table_id, uint16_t priority,
           const struct minimatch *match)
{
    s->gen++;
    uint32_t hash = flow_key_hash(table_id, priority, match);
    struct ofsync_flow_touch *t;
    HMAP_FOR_EACH_WITH_HASH (t, node, hash, &s->touched_flows) {
        if (t->table_id == table_id && t->priority == priority
            && minimatch_equal(&t->match, match)) {
            t->gen = s->gen;
            return;
        }
    }
    t = xmalloc(sizeof *t);
    t->table_id = table_id;
    t->priority = priority;
    minimatch_clone(&t->match, match);
    t->gen = s->gen;
    hmap_insert(&s->touched_flows, &t->node, hash);
}

void
ofsync_state_put_flow(struct ofsync_state *s, const struct ofsync_flow *src)
{
    struct ofsync_flow *f = insert_flow_copy(s, src);
    touch_flow(s, f->table_id, f->priority, &f->match);
}

void
ofsync_state_delete_flow(struct ofsync_state *s, struct ofsync_flow *f)
{
    touch_flow(s, f->table_id, f->priority, &f->match);
    hmap_remove(&s->flows, &f->node);
    flow_free(f);
}

void
ofsync_state_flows_touched_since(const struct ofsync_state *s,
                                 uint64_t since,
                                 void (*cb)(const struct ofsync_flow_key *,
                                            void *aux),
                                 void *aux)
{
    const struct ofsync_flow_touch *t;
    HMAP_FOR_EACH (t, node, &s->touched_flows) {
        if (t->gen > since) {
            struct ofsync_flow_key key = {
                .table_id = t->table_id, .priority = t->priority,
                .match = &t->match,
            };
            cb(&key, aux);
        }
    }
}

void
ofsync_state_touched_since(const struct ofsync_state *s, uint64_t since,
                           void (*cb)(uint32_t group_id, void *aux),
                           void *aux)
{
    const struct ofsync_touch *t;
    HMAP_FOR_EACH (t, node, &s->touched) {
        if (t->gen > since) {
            cb(t->group_id, aux);
        }
    }
}

void
ofsync_state_swap(struct ofsync_state *a, struct ofsync_state *b)
{
    hmap_swap(&a->flows, &b->flows);
    hmap_swap(&a->groups, &b->groups);
    ofsync_state_changed(a);
    ofsync_state_changed(b);
}

void
ofsync_group_prepare(const struct ofsync_group *g)
{
    group_bwire(g);
}

void
ofsync_state_prepare(const struct ofsync_state *s)
{
    const struct ofsync_group *g;
    HMAP_FOR_EACH (g, node, &s->groups) {
        group_bwire(g);
    }
}

void
ofsync_state_move_into(struct ofsync_state *dst, struct ofsync_state *src)
{
    struct ofsync_flow *f;
    HMAP_FOR_EACH_POP (f, node, &src->flows) {
        struct ofsync_flow *old = ofsync_find_flow(dst, f->table_id,
                                                   f->priority, &f->match);
        if (old) {
            hmap_remove(&dst->flows, &old->node);
            flow_free(old);
        }
        hmap_insert(&dst->flows, &f->node,
                    flow_key_hash(f->table_id, f->priority, &f->match));
    }
    struct ofsync_group *g;
    HMAP_FOR_EACH_POP (g, node, &src->groups) {
        state_insert_group(dst, g);
    }
    ofsync_state_changed(dst);
    ofsync_state_changed(src);
}

void
ofsync_state_move_older(struct ofsync_state *dst, struct ofsync_state *src)
{
    struct ofsync_flow *f;
    HMAP_FOR_EACH_POP (f, node, &src->flows) {
        if (ofsync_find_flow(dst, f->table_id, f->priority, &f->match)) {
            flow_free(f);
        } else {
            hmap_insert(&dst->flows, &f->node,
                        flow_key_hash(f->table_id, f->priority, &f->match));
        }
    }
    struct ofsync_group *g;
    HMAP_FOR_EACH_POP (g, node, &src->groups) {
        if (ofsync_find_group(dst, g->group_id)) {
            ofsync_group_free(g);
        } else {
            hmap_insert(&dst->groups, &g->node, hash_int(g->group_id, 0));
        }
    }
    ofsync_state_changed(dst);
    ofsync_state_changed(src);
}

/* Inserts a new group with a copy of 'props' and the buckets of 'buckets'
 * (moved: 'buckets' is left empty). Replaces a group with the same id. */
static struct ofsync_group *
insert_group(struct ofsync_state *s, uint32_t group_id, uint8_t type,
             const struct ofputil_group_props *props,
             struct ovs_list *buckets)
{
    struct ofsync_group *g = xzalloc(sizeof *g);
    g->group_id = group_id;
    g->type = type;
    ofputil_group_properties_copy(&g->props, props);
    ovs_list_init(&g->buckets);
    if (buckets) {
        ovs_list_push_back_all(&g->buckets, buckets);
    }
    state_insert_group(s, g);
    ofsync_state_changed(s);
    return g;
}

void
ofsync_state_copy(struct ofsync_state *dst, const struct ofsync_state *src)
{
    ofsync_state_clear(dst);
    const struct ofsync_flow *f;
    HMAP_FOR_EACH (f, node, &src->flows) {
        ofsync_add_flow_copy(dst, f);
    }
    const struct ofsync_group *g;
    HMAP_FOR_EACH (g, node, &src->groups) {
        state_insert_group(dst, ofsync_group_clone(g));
    }
    ofsync_state_changed(dst);
}

bool
ofsync_group_remove_bucket(struct ofsync_group *g, uint32_t bucket_id)
{
    struct ofputil_bucket *b = ofputil_bucket_find(&g->buckets, bucket_id);
    if (!b) {
        return false;
    }
    ovs_list_remove(&b->list_node);
    free(b->ofpacts);
    free(b);
    ofsync_group_changed(g);
    return true;
}

char *
ofsync_add_flow_str(struct ofsync_state *s, const char *str,
                    const struct ofputil_port_map *port_map)
{
    return ofsync_add_flow_str_tagged(s, str, port_map, 0);
}

/* Adds the parsed or built flow 'fm' (usable with 'usable'; 'str' names it
 * in errors) the way the switch will give it back, and frees its match and
 * actions. */
static char *
add_flow_mod(struct ofsync_state *s, struct ofputil_flow_mod *fm,
             enum ofputil_protocol usable, const char *str, uint64_t tag)
{
    if (!(usable & OFSYNC_PROTOCOL)) {
        minimatch_destroy(&fm->match);
        free(fm->ofpacts);
        return xasprintf("flow not expressible in OpenFlow 1.5: %s", str);
    }

    /* Round trip through the wire format: the switch's dump replies decode
     * to exactly this form, so the comparison sees no spurious change. */
    struct ofpbuf *msg = ofputil_encode_flow_mod(fm, OFSYNC_PROTOCOL);
    minimatch_destroy(&fm->match);
    free(fm->ofpacts);

    struct ofputil_flow_mod dec;
    struct ofpbuf ofpacts;
    ofpbuf_init(&ofpacts, 64);
    enum ofperr err = ofputil_decode_flow_mod(&dec, msg->data, OFSYNC_PROTOCOL,
                                              NULL, NULL, &ofpacts, OFPP_MAX,
                                              255);
    ofpbuf_delete(msg);
    if (err) {
        ofpbuf_uninit(&ofpacts);
        return xasprintf("flow does not survive encoding (%s): %s",
                         ofperr_to_string(err), str);
    }
    struct ofsync_flow *f = insert_flow(s, dec.table_id, dec.priority,
                                        &dec.match, ntohll(dec.new_cookie),
                                        ofpacts.data, ofpacts.size, NULL, 0);
    f->tag = tag;
    ofpbuf_uninit(&ofpacts);
    return NULL;
}

char *
ofsync_add_flow_str_tagged(struct ofsync_state *s, const char *str,
                           const struct ofputil_port_map *port_map,
                           uint64_t tag)
{
    struct ofputil_flow_mod fm;
    enum ofputil_protocol usable;
    char *error = parse_ofp_flow_mod_str(&fm, str, port_map, NULL, OFPFC_ADD,
                                         &usable);
    if (error) {
        return error;
    }
    return add_flow_mod(s, &fm, usable, str, tag);
}

char *
ofsync_add_flow_parts_tagged(struct ofsync_state *s, uint8_t table_id,
                             uint16_t priority, uint64_t cookie,
                             const char *match, const char *actions,
                             const struct ofputil_port_map *port_map,
                             uint64_t tag)
{
    struct match m;
    struct ofpbuf ofpacts;
    enum ofputil_protocol usable;
    ofpbuf_init(&ofpacts, 64);
    if (!flow_fast_build(match, actions, table_id, port_map, &m, &ofpacts,
                         &usable)
        || !(usable & OFSYNC_PROTOCOL)) {
        ofpbuf_uninit(&ofpacts);
        char *str = xasprintf("table=%u,priority=%u,cookie=%#"PRIx64"%s%s,"
                              "actions=%s", table_id, priority, cookie,
                              *match ? "," : "", match, actions);
        char *error = ofsync_add_flow_str_tagged(s, str, port_map, tag);
        free(str);
        return error;
    }
    /* Built in the form the switch gives back already (no round trip
     * through the wire format needed: rt_test_flow_fast compares). */
    struct minimatch mm;
    minimatch_init(&mm, &m);
    struct ofsync_flow *f = insert_flow(s, table_id, priority, &mm, cookie,
                                        ofpacts.data, ofpacts.size, NULL, 0);
    f->tag = tag;               /* 'mm' moved into 'f'. */
    ofpbuf_uninit(&ofpacts);
    return NULL;
}

void
ofsync_add_flow_stats(struct ofsync_state *s,
                      const struct ofputil_flow_stats *fs)
{
    struct minimatch m;
    minimatch_init(&m, &fs->match);
    insert_flow(s, fs->table_id, fs->priority, &m, ntohll(fs->cookie),
                fs->ofpacts, fs->ofpacts_len, NULL, 0);
}

char *
ofsync_add_group_str(struct ofsync_state *s, const char *str,
                     const struct ofputil_port_map *port_map)
{
    struct ofputil_group_mod gm;
    enum ofputil_protocol usable;
    char *error = parse_ofp_group_mod_str(&gm, OFPGC11_ADD, str, port_map,
                                          NULL, &usable);
    if (error) {
        return error;
    }
    struct ofpbuf *msg = ofputil_encode_group_mod(OFP15_VERSION, &gm, NULL,
                                                  -1);
    ofputil_uninit_group_mod(&gm);

    struct ofputil_group_mod dec;
    enum ofperr err = ofputil_decode_group_mod(msg->data, &dec);
    ofpbuf_delete(msg);
    if (err) {
        return xasprintf("group does not survive encoding (%s): %s",
                         ofperr_to_string(err), str);
    }
    insert_group(s, dec.group_id, dec.type, &dec.props, &dec.buckets);
    ofputil_uninit_group_mod(&dec);
    return NULL;
}

void
ofsync_add_group_desc(struct ofsync_state *s, struct ofputil_group_desc *gd)
{
    insert_group(s, gd->group_id, gd->type, &gd->props, &gd->buckets);
}

/* --- group builder ------------------------------------------------------- */

struct ofsync_group_builder {
    const struct ofputil_port_map *port_map;
    struct shash props;         /* Text -> struct ofsync_group (no buckets). */
    struct shash buckets;       /* Actions text -> struct ofputil_bucket. */
    struct ofsync_group *cur;   /* Being built; NULL after an error. */
};

struct ofsync_group_builder *
ofsync_group_builder_create(const struct ofputil_port_map *port_map)
{
    struct ofsync_group_builder *gb = xzalloc(sizeof *gb);
    gb->port_map = port_map;
    shash_init(&gb->props);
    shash_init(&gb->buckets);
    return gb;
}

static void
bucket_free(struct ofputil_bucket *b)
{
    free(b->ofpacts);
    free(b);
}

void
ofsync_group_builder_destroy(struct ofsync_group_builder *gb)
{
    if (!gb) {
        return;
    }
    struct shash_node *node;
    SHASH_FOR_EACH (node, &gb->props) {
        ofsync_group_free(node->data);
    }
    shash_destroy(&gb->props);
    SHASH_FOR_EACH (node, &gb->buckets) {
        bucket_free(node->data);
    }
    shash_destroy(&gb->buckets);
    if (gb->cur) {
        ofsync_group_free(gb->cur);
    }
    free(gb);
}

/* Parses "group_id=1,<text>" alone, the way ofsync_add_group_str() does. */
static char *
parse_one_group(const char *text, const struct ofputil_port_map *port_map,
                struct ofsync_group **gp)
{
    struct ofsync_state one;
    ofsync_state_init(&one);
    char *s = xasprintf("group_id=1,%s", text);
    char *err = ofsync_add_group_str(&one, s, port_map);
    free(s);
    *gp = NULL;
    if (!err) {
        struct ofsync_group *g = ofsync_find_group(&one, 1);
        hmap_remove(&one.groups, &g->node);
        *gp = g;
    }
    ofsync_state_destroy(&one);
    return err;
}

/* Parses a bucket's actions alone and sends them through their OpenFlow
 * 1.5 encoding: what parse_one_group() of "type=select,bucket=actions=..."
 * gives for the bucket (same parser, same encoder and decoder of the
 * actions; watch port and group "any"), without the group around it (a
 * third of the decoding of a 10k x 32 pipeline went there). */
static char *
parse_one_bucket(const char *actions, const struct ofputil_port_map *port_map,
                 struct ofputil_bucket **bp)
{
    *bp = NULL;
    struct ofpbuf ofpacts;
    ofpbuf_init(&ofpacts, 64);
    enum ofputil_protocol usable = OFPUTIL_P_ANY;
    struct ofpact_parse_params pp = {
        .port_map = port_map,
        .ofpacts = &ofpacts,
        .usable_protocols = &usable,
    };
    char *err = ofpacts_parse_actions(actions, &pp);
    if (err) {
        ofpbuf_uninit(&ofpacts);
        return err;
    }
    struct ofpbuf wire;
    ofpbuf_init(&wire, 64);
    ofpacts_put_openflow_actions(ofpacts.data, ofpacts.size, &wire,
                                 OFP15_VERSION);
    ofpbuf_clear(&ofpacts);
    size_t len = wire.size;
    enum ofperr e = ofpacts_pull_openflow_actions(&wire, len, OFP15_VERSION,
                                                  NULL, NULL, &ofpacts);
    ofpbuf_uninit(&wire);
    if (e) {
        ofpbuf_uninit(&ofpacts);
        return xasprintf("bucket actions do not survive encoding (%s): %s",
                         ofperr_to_string(e), actions);
    }
    struct ofputil_bucket *b = xzalloc(sizeof *b);
    b->weight = 1;
    b->watch_port = OFPP_ANY;
    b->watch_group = OFPG_ANY;
    b->ofpacts_len = ofpacts.size;
    b->ofpacts = ofpbuf_steal_data(&ofpacts);
    *bp = b;
    return NULL;
}

char *
ofsync_group_builder_start(struct ofsync_group_builder *gb,
                           uint32_t group_id, const char *props)
{
    if (gb->cur) {
        ofsync_group_free(gb->cur);
        gb->cur = NULL;
    }
    struct ofsync_group *t = shash_find_data(&gb->props, props);
    if (!t) {
        char *err = parse_one_group(props, gb->port_map, &t);
        if (err) {
            return err;
        }
        ofputil_bucket_list_destroy(&t->buckets);
        ovs_list_init(&t->buckets);
        ofsync_group_changed(t);
        shash_add(&gb->props, props, t);
    }
    gb->cur = ofsync_group_clone(t);
    gb->cur->group_id = group_id;
    return NULL;
}

char *
ofsync_group_builder_bucket(struct ofsync_group_builder *gb,
                            uint32_t bucket_id, uint16_t weight,
                            const char *actions)
{
    if (!gb->cur) {
        return NULL;
    }
    struct ofputil_bucket *t = shash_find_data(&gb->buckets, actions);
    if (!t) {
        char *err = parse_one_bucket(actions, gb->port_map, &t);
        if (err) {
            ofsync_group_free(gb->cur);
            gb->cur = NULL;
            return err;
        }
        shash_add(&gb->buckets, actions, t);
    }
    struct ofputil_bucket *b = bucket_clone(t);
    b->bucket_id = bucket_id;
    b->weight = weight;
    ovs_list_push_back(&gb->cur->buckets, &b->list_node);
    return NULL;
}

void
ofsync_group_builder_finish(struct ofsync_group_builder *gb,
                            struct ofsync_state *s)
{
    if (gb->cur) {
        state_insert_group(s, gb->cur);
        ofsync_state_changed(s);
        gb->cur = NULL;
    }
}

/* --- comparison ---------------------------------------------------------- */

static bool
buckets_one_equal(const struct ofputil_bucket *a,
                  const struct ofputil_bucket *b)
{
    return (a->bucket_id == b->bucket_id
            && a->weight == b->weight
            && a->watch_port == b->watch_port
            && a->watch_group == b->watch_group
            && ofpacts_same(a->ofpacts, a->ofpacts_len,
                            b->ofpacts, b->ofpacts_len));
}

static bool
props_equal(const struct ofputil_group_props *a,
            const struct ofputil_group_props *b)
{
    return (!strcmp(a->selection_method, b->selection_method)
            && a->selection_method_param == b->selection_method_param
            && bitmap_equal(a->fields.used.bm, b->fields.used.bm, MFF_N_IDS)
            && a->fields.values_size == b->fields.values_size
            && (!a->fields.values_size
                || !memcmp(a->fields.values, b->fields.values,
                           a->fields.values_size)));
}

bool
ofsync_buckets_equal(const struct ofputil_bucket *a,
                     const struct ofputil_bucket *b)
{
    return buckets_one_equal(a, b);
}

bool
ofsync_groups_equal(const struct ofsync_group *a,
                    const struct ofsync_group *b)
{
    if (a->type != b->type || !props_equal(&a->props, &b->props)) {
        return false;
    }
    group_bwire(a);
    group_bwire(b);
    return (a->bwire_len == b->bwire_len
            && !memcmp(a->bwire, b->bwire, a->bwire_len));
}

void
ofsync_diff_init(struct ofsync_diff *d)
{
    memset(d, 0, sizeof *d);
}

void
ofsync_diff_destroy(struct ofsync_diff *d)
{
    if (d) {
        free(d->ops);
        memset(d, 0, sizeof *d);
    }
}

/* Appends 'op' to 'd' and returns the copy. */
static struct ofsync_op *
push_op(struct ofsync_diff *d, const struct ofsync_op *op)
{
    if (d->n_ops >= d->allocated_ops) {
        d->ops = x2nrealloc(d->ops, &d->allocated_ops, sizeof *d->ops);
    }
    d->ops[d->n_ops] = *op;
    return &d->ops[d->n_ops++];
}

static struct ofsync_op *
add_op(struct ofsync_diff *d, enum ofsync_op_type type,
       const struct ofsync_flow *f, const struct ofsync_group *g,
       uint32_t bucket_id)
{
    return push_op(d, &(struct ofsync_op) {
        .type = type, .flow = f, .group = g, .bucket_id = bucket_id,
    });
}

/* Whether group 'g' holds bucket 'b' as it is. */
static bool
bucket_kept(const struct ofputil_bucket *b, const struct ofsync_group *g)
{
    const struct ofputil_bucket *same = ofputil_bucket_find(&g->buckets,
                                                            b->bucket_id);
    return same && buckets_one_equal(b, same);
}

/* Where the insert of 'want''s bucket 'b' goes: after the nearest bucket
 * before it in 'want' that the switch holds by then, which is one that
 * 'have' keeps or one inserted before it (a group's inserts run in bucket
 * id order: compare_ops()). The switch's group then keeps 'want''s order,
 * which the reconcile rounds need to find it by its bytes; an insert at
 * the end made them decode the group every round after a real came back. */
static uint32_t
insert_after(const struct ofputil_bucket *b, const struct ofsync_group *want,
             const struct ofsync_group *have)
{
    for (const struct ovs_list *n = b->list_node.prev; n != &want->buckets;
         n = n->prev) {
        const struct ofputil_bucket *p;
        p = CONTAINER_OF(n, struct ofputil_bucket, list_node);
        if (p->bucket_id < b->bucket_id || bucket_kept(p, have)) {
            return p->bucket_id;
        }
    }
    return OFPG15_BUCKET_FIRST;
}

/* Bucket-level difference of two groups with the same type and properties,
 * appended to 'removes' and 'inserts'. */
static void
diff_buckets(const struct ofsync_group *want, const struct ofsync_group *have,
             struct ofsync_diff *removes, struct ofsync_diff *inserts)
{
    const struct ofputil_bucket *b;
    LIST_FOR_EACH (b, list_node, &have->buckets) {
        if (!bucket_kept(b, want)) {
            add_op(removes, OFSYNC_BUCKET_REMOVE, NULL, have, b->bucket_id);
        }
    }
    LIST_FOR_EACH (b, list_node, &want->buckets) {
        if (!bucket_kept(b, have)) {
            add_op(inserts, OFSYNC_BUCKET_INSERT, NULL, want, b->bucket_id)
                ->after_bucket_id = insert_after(b, want, have);
        }
    }
}

static void
append_ops(struct ofsync_diff *d, const struct ofsync_diff *src)
{
    for (size_t i = 0; i < src->n_ops; i++) {
        push_op(d, &src->ops[i]);
    }
}

/* Sorting keeps the bundle's content independent of hash order, so logs
 * and tests are reproducible. */
static int
compare_ops(const void *a_, const void *b_)
{
    const struct ofsync_op *a = a_, *b = b_;
    if (a->type != b->type) {
        return a->type < b->type ? -1 : 1;
    }
    if (a->group && b->group && a->group->group_id != b->group->group_id) {
        return a->group->group_id < b->group->group_id ? -1 : 1;
    }
    if (a->bucket_id != b->bucket_id) {
        return a->bucket_id < b->bucket_id ? -1 : 1;
    }
    if (a->flow && b->flow) {
        if (a->flow->table_id != b->flow->table_id) {
            return a->flow->table_id < b->flow->table_id ? -1 : 1;
        }
        if (a->flow->priority != b->flow->priority) {
            return a->flow->priority > b->flow->priority ? -1 : 1;
        }
    }
    return 0;
}

/* The operations that turn installed group 'h' (may be NULL) into desired
 * group 'g'. */
static void
diff_group(const struct ofsync_group *g, const struct ofsync_group *h,
           struct ofsync_diff *groups, struct ofsync_diff *removes,
           struct ofsync_diff *inserts)
{
    if (!h) {
        add_op(groups, OFSYNC_GROUP_ADD, NULL, g, 0);
    } else if (g->type != h->type || !props_equal(&g->props, &h->props)) {
        add_op(groups, OFSYNC_GROUP_MODIFY, NULL, g, 0);
    } else if (!ofsync_groups_equal(g, h)) {
        /* Per-bucket changes touch nothing else in the group; but when
         * most buckets change, one modify is the smaller message. */
        struct ofsync_diff r, i;
        ofsync_diff_init(&r);
        ofsync_diff_init(&i);
        diff_buckets(g, h, &r, &i);
        size_t n_want = ovs_list_size(&g->buckets);
        if (r.n_ops + i.n_ops > MAX(1, n_want)) {
            add_op(groups, OFSYNC_GROUP_MODIFY, NULL, g, 0);
        } else {
            append_ops(removes, &r);
            append_ops(inserts, &i);
        }
        ofsync_diff_destroy(&r);
        ofsync_diff_destroy(&i);
    }
}

void
ofsync_diff_groups(const struct ofsync_state *desired,
                   const struct ofsync_state *installed,
                   const uint32_t *ids, size_t n, struct ofsync_diff *diff)
{
    ofsync_diff_subset(desired, installed, ids, n, NULL, 0, diff);
}

/* Appends to 'flows' what makes the flow 'h' of 'installed' into 'f' of
 * 'desired' (either may be NULL: absent). */
static void
diff_flow(const struct ofsync_flow *f, const struct ofsync_flow *h,
          struct ofsync_diff *flows)
{
    if (!f) {
        if (h) {
            add_op(flows, OFSYNC_FLOW_DELETE, h, NULL, 0);
        }
    } else if (!h || h->cookie != f->cookie) {
        add_op(flows, OFSYNC_FLOW_ADD, f, NULL, 0);
    } else if (f->wire_len != h->wire_len
               || memcmp(f->wire, h->wire, f->wire_len)) {
        add_op(flows, OFSYNC_FLOW_MODIFY, f, NULL, 0);
    }
}

void
ofsync_diff_subset(const struct ofsync_state *desired,
                   const struct ofsync_state *installed,
                   const uint32_t *ids, size_t n_ids,
                   const struct ofsync_flow_key *keys, size_t n_keys,
                   struct ofsync_diff *diff)
{
    struct ofsync_diff groups, removes, inserts, flows, gdel;
    ofsync_diff_init(&groups);
    ofsync_diff_init(&removes);
    ofsync_diff_init(&inserts);
    ofsync_diff_init(&flows);
    ofsync_diff_init(&gdel);
    diff->n_ops = 0;
    for (size_t k = 0; k < n_ids; k++) {
        const struct ofsync_group *g = ofsync_find_group(desired, ids[k]);
        const struct ofsync_group *h = ofsync_find_group(installed, ids[k]);
        if (g) {
            diff_group(g, h, &groups, &removes, &inserts);
        } else if (h) {
            add_op(&gdel, OFSYNC_GROUP_DELETE, NULL, h, 0);
        }
    }
    for (size_t k = 0; k < n_keys; k++) {
        const struct ofsync_flow_key *key = &keys[k];
        diff_flow(ofsync_find_flow(desired, key->table_id, key->priority,
                                   key->match),
                  ofsync_find_flow(installed, key->table_id, key->priority,
                                   key->match),
                  &flows);
    }
    append_ops(diff, &groups);
    append_ops(diff, &removes);
    append_ops(diff, &inserts);
    append_ops(diff, &flows);
    append_ops(diff, &gdel);
    if (diff->n_ops) {
        qsort(diff->ops, diff->n_ops, sizeof *diff->ops, compare_ops);
    }
    ofsync_diff_destroy(&groups);
    ofsync_diff_destroy(&removes);
    ofsync_diff_destroy(&inserts);
    ofsync_diff_destroy(&flows);
    ofsync_diff_destroy(&gdel);
}

void
ofsync_diff(const struct ofsync_state *desired,
            const struct ofsync_state *installed, struct ofsync_diff *diff)
{
    struct ofsync_diff groups, removes, inserts, flows, gdel;
    ofsync_diff_init(&groups);
    ofsync_diff_init(&removes);
    ofsync_diff_init(&inserts);
    ofsync_diff_init(&flows);
    ofsync_diff_init(&gdel);
    diff->n_ops = 0;

    const struct ofsync_group *g;
    HMAP_FOR_EACH (g, node, &desired->groups) {
        diff_group(g, ofsync_find_group(installed, g->group_id),
                   &groups, &removes, &inserts);
    }
    HMAP_FOR_EACH (g, node, &installed->groups) {
        if (!ofsync_find_group(desired, g->group_id)) {
            add_op(&gdel, OFSYNC_GROUP_DELETE, NULL, g, 0);
        }
    }

    const struct ofsync_flow *f;
    HMAP_FOR_EACH (f, node, &installed->flows) {
        if (!ofsync_find_flow(desired, f->table_id, f->priority, &f->match)) {
            add_op(&flows, OFSYNC_FLOW_DELETE, f, NULL, 0);
        }
    }
    HMAP_FOR_EACH (f, node, &desired->flows) {
        const struct ofsync_flow *h = ofsync_find_flow(installed, f->table_id,
                                                       f->priority, &f->match);
        diff_flow(f, h, &flows);
    }

    append_ops(diff, &groups);
    append_ops(diff, &removes);
    append_ops(diff, &inserts);
    append_ops(diff, &flows);
    append_ops(diff, &gdel);
    if (diff->n_ops) {
        qsort(diff->ops, diff->n_ops, sizeof *diff->ops, compare_ops);
    }
    ofsync_diff_destroy(&groups);
    ofsync_diff_destroy(&removes);
    ofsync_diff_destroy(&inserts);
    ofsync_diff_destroy(&flows);
    ofsync_diff_destroy(&gdel);
}

size_t
ofsync_diff_count(const struct ofsync_diff *d, enum ofsync_op_type type)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n_ops; i++) {
        n += d->ops[i].type == type;
    }
    return n;
}

/* --- encoding ------------------------------------------------------------ */

static struct ofpbuf *
encode_flow_op(const struct ofsync_op *op)
{
    const struct ofsync_flow *f = op->flow;
    struct ofputil_flow_mod fm = {
        .priority = f->priority,
        .table_id = f->table_id,
        .buffer_id = UINT32_MAX,
        .out_port = OFPP_ANY,
        .out_group = OFPG_ANY,
        .ofpacts = f->ofpacts,
        .ofpacts_len = f->ofpacts_len,
        .new_cookie = OVS_BE64_MAX,
    };
    /* The encoder only reads the match. */
    fm.match = f->match;
    switch (op->type) {
    case OFSYNC_FLOW_ADD:
        fm.command = OFPFC_ADD;
        fm.new_cookie = htonll(f->cookie);
        break;
    case OFSYNC_FLOW_MODIFY:
        /* Strict, and only if our cookie is there: never a foreign flow. */
        fm.command = OFPFC_MODIFY_STRICT;
        fm.cookie = htonll(f->cookie);
        fm.cookie_mask = OVS_BE64_MAX;
        break;
    case OFSYNC_FLOW_DELETE:
        fm.command = OFPFC_DELETE_STRICT;
        fm.cookie = htonll(f->cookie);
        fm.cookie_mask = OVS_BE64_MAX;
        fm.ofpacts = NULL;
        fm.ofpacts_len = 0;
        break;
    default:
        OVS_NOT_REACHED();
    }
    if (!fm.ofpacts_len || !f->wire) {
        return ofputil_encode_flow_mod(&fm, OFSYNC_PROTOCOL);
    }
    /* The instructions come last in an OpenFlow 1.5 flow_mod, and 'wire'
     * holds them already encoded: append it rather than encode again. */
    fm.ofpacts = NULL;
    fm.ofpacts_len = 0;
    struct ofpbuf *msg = ofputil_encode_flow_mod(&fm, OFSYNC_PROTOCOL);
    ofpbuf_put(msg, f->wire, f->wire_len);
    ofpmsg_update_length(msg);
    return msg;
}

static struct ofpbuf *
encode_group_op(const struct ofsync_op *op)
{
    const struct ofsync_group *g = op->group;
    struct ofputil_group_mod gm;
    memset(&gm, 0, sizeof gm);
    gm.group_id = g->group_id;
    gm.type = g->type;
    gm.command_bucket_id = OFPG15_BUCKET_ALL;
    ovs_list_init(&gm.buckets);

    switch (op->type) {
    case OFSYNC_GROUP_ADD:
    case OFSYNC_GROUP_MODIFY: {
        gm.command = op->type == OFSYNC_GROUP_ADD ? OFPGC11_ADD
                                                  : OFPGC11_MODIFY;
        /* The switch accepts the selection method property only here; a
         * bucket insert or remove keeps the group's own. The encoder only
         * reads the properties and the buckets: it is given the group's
         * own, the bucket list borrowed and put back (copying 320,000
         * buckets took a third of the encoding of a 10k x 32 push). */
        struct ofsync_group *mg = CONST_CAST(struct ofsync_group *, g);
        gm.props = g->props;
        ovs_list_move(&gm.buckets, &mg->buckets);
        struct ofpbuf *msg = ofputil_encode_group_mod(OFP15_VERSION, &gm,
                                                      NULL, -1);
        ovs_list_move(&mg->buckets, &gm.buckets);
        return msg;
    }
    case OFSYNC_GROUP_DELETE:
        gm.command = OFPGC11_DELETE;
        break;
    case OFSYNC_BUCKET_REMOVE:
        gm.command = OFPGC15_REMOVE_BUCKET;
        gm.command_bucket_id = op->bucket_id;
        break;
    case OFSYNC_BUCKET_INSERT: {
        gm.command = OFPGC15_INSERT_BUCKET;
        gm.command_bucket_id = op->after_bucket_id;
        const struct ofputil_bucket *b = ofputil_bucket_find(&g->buckets,
                                                             op->bucket_id);
        ovs_assert(b);
        struct ofputil_bucket *n = bucket_clone(b);
        ovs_list_push_back(&gm.buckets, &n->list_node);
        break;
    }
    default:
        OVS_NOT_REACHED();
    }
    struct ofpbuf *msg = ofputil_encode_group_mod(OFP15_VERSION, &gm, NULL,
                                                  -1);
    ofputil_uninit_group_mod(&gm);
    return msg;
}

struct ofpbuf *
ofsync_op_encode(const struct ofsync_op *op)
{
    switch (op->type) {
    case OFSYNC_FLOW_ADD:
    case OFSYNC_FLOW_MODIFY:
    case OFSYNC_FLOW_DELETE:
        return encode_flow_op(op);
    default:
        return encode_group_op(op);
    }
}

static const char *
op_name(enum ofsync_op_type t)
{
    switch (t) {
    case OFSYNC_GROUP_ADD: return "add group";
    case OFSYNC_GROUP_MODIFY: return "modify group";
    case OFSYNC_BUCKET_REMOVE: return "remove bucket";
    case OFSYNC_BUCKET_INSERT: return "insert bucket";
    case OFSYNC_FLOW_DELETE: return "delete flow";
    case OFSYNC_FLOW_MODIFY: return "modify flow";
    case OFSYNC_FLOW_ADD: return "add flow";
    case OFSYNC_GROUP_DELETE: return "delete group";
    }
    return "?";
}

char *
ofsync_op_to_string(const struct ofsync_op *op,
                    const struct ofputil_port_map *port_map)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    ds_put_format(&s, "%s ", op_name(op->type));
    if (op->flow) {
        ds_put_format(&s, "table=%u,priority=%u,cookie=%#"PRIx64",",
                      op->flow->table_id, op->flow->priority,
                      op->flow->cookie);
        minimatch_format(&op->flow->match, NULL, port_map, &s,
                         OFP_DEFAULT_PRIORITY);
        if (op->type != OFSYNC_FLOW_DELETE) {
            ds_put_cstr(&s, " actions=");
            struct ofpact_format_params fp = { .port_map = port_map, .s = &s };
            ofpacts_format(op->flow->ofpacts, op->flow->ofpacts_len, &fp);
        }
    } else if (op->group) {
        ds_put_format(&s, "group_id=%#"PRIx32, op->group->group_id);
        if (op->type == OFSYNC_BUCKET_REMOVE
            || op->type == OFSYNC_BUCKET_INSERT) {
            ds_put_format(&s, " bucket_id=%"PRIu32, op->bucket_id);
        }
    }
    return ds_steal_cstr(&s);
}
