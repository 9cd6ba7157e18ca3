/* Decoding the IR into the base state (ofsync): groups and flows in two
 * threads, with a fingerprint of each group so that a reload can tell
 * which services changed. */
#include <config.h>
#include "agent_private.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "hash.h"
#include "ir.h"
#include "lower.h"
#include "ofsync.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/vlog.h"
#include "timeval.h"
#include "util.h"

#define this_module (*VLM_agent)    /* Logs as "agent" (see agent.c). */

/* The flows of the IR not yet decoded, [front, back): one half takes
 * chunks from the front, the other from the back (each once done with its
 * share of the groups), so that they finish together whatever each flow
 * costs, and each half holds a contiguous run of flows. */
struct flow_queue {
    pthread_mutex_t mutex;
    size_t front, back;
};

#define FLOW_CHUNK 256

/* Takes the next chunk of flows into [*begin, *end); false when none is
 * left. */
static bool
flow_queue_take(struct flow_queue *q, bool from_back, size_t *begin,
                size_t *end)
{
    pthread_mutex_lock(&q->mutex);
    size_t n = MIN(FLOW_CHUNK, q->back - q->front);
    if (from_back) {
        *end = q->back;
        q->back -= n;
        *begin = q->back;
    } else {
        *begin = q->front;
        q->front += n;
        *end = q->front;
    }
    pthread_mutex_unlock(&q->mutex);
    return n > 0;
}

/* Half of the decoding of a pipeline: the later groups and then the last
 * flows, or the earlier groups and then the first flows. The two halves
 * share nothing (each has its own parse caches and states), so they run in
 * two threads: at 10,000 services x 32 reals each takes about half a
 * second. */
struct build_part {
    const struct ir_pipeline *ir;
    const struct ofputil_port_map *ports;
    size_t groups_begin, groups_end;    /* Its groups of the IR. */
    bool later;                 /* The later groups and flows from the
                                 * back; else from the front. */
    struct flow_queue *queue;   /* The flows not yet taken by a half. */
    bool quiet;                 /* Log no error (made without the switch's
                                 * ports: errors only mean "rebuild with
                                 * them"). */
    bool prepare;               /* Compute the groups' encodings. */
    bool copy;                  /* Also fill 'desired' with a copy. */
    uint64_t *fp;               /* Nonnull: the groups' fingerprints. */
    uint64_t *flow_fp;          /* Nonnull: each flow's fingerprint. */
    struct build_reuse *reuse;  /* Nonnull: skip what the running base
                                 * has (of this half's groups and flows). */
    struct ofsync_state base, desired;
    size_t n_errors;
    size_t n_flows_reused, n_groups_reused;
    long long int ms_build, ms_copy;
    long long int cpu_ms;       /* CPU time of the thread for it. */
};



/* Two independent 32-bit hashes: a 64-bit fingerprint. */
struct fp {
    uint32_t h1, h2;
};

static void
fp_bytes(struct fp *fp, const void *p, size_t n)
{
    fp->h1 = hash_bytes(p, n, fp->h1);
    fp->h2 = hash_bytes(p, n, fp->h2 ^ 0x9e3779b9);
}

static void
fp_str(struct fp *fp, const char *s)
{
    fp_bytes(fp, s, strlen(s) + 1);
}

static void
fp_u32(struct fp *fp, uint32_t x)
{
    fp->h1 = hash_int(x, fp->h1);
    fp->h2 = hash_int(x, fp->h2 ^ 0x85ebca6b);
}

/* A fingerprint of everything in 'g' that the service's base and desired
 * groups are made from (the service's own settings apart). */
uint64_t
group_fp(const struct ir_group *g)
{
    struct fp fp = { 0, 0 };
    fp_u32(&fp, g->group_id);
    fp_str(&fp, g->selection);
    fp_str(&fp, g->service ? g->service : "");
    fp_u32(&fp, g->n_buckets);
    for (size_t b = 0; b < g->n_buckets; b++) {
        const struct ir_bucket *ib = &g->buckets[b];
        fp_u32(&fp, ib->bucket_id);
        fp_u32(&fp, ib->weight);
        fp_u32(&fp, ib->mark);
        fp_u32(&fp, ib->spec_weight);
        fp_u32(&fp, ib->standby | ib->sorry << 1);
        fp_str(&fp, ib->actions);
        fp_str(&fp, ib->real);
    }
    fp_u32(&fp, g->service_id);
    fp_u32(&fp, g->cookie >> 32);
    fp_u32(&fp, g->cookie);
    fp_u32(&fp, g->failover | g->has_sorry << 1 | g->learn_mode << 2);
    fp_u32(&fp, g->persistence_s);
    fp_u32(&fp, g->sticky_idle_s);
    return (uint64_t) fp.h1 << 32 | fp.h2;
}

uint64_t
all_flows_fp(const uint64_t *flow_fp, size_t n)
{
    /* Folded from each flow's, in order. */
    struct fp all = { 0, 0 };
    for (size_t i = 0; i < n; i++) {
        fp_u32(&all, flow_fp[i] >> 32);
        fp_u32(&all, flow_fp[i]);
    }
    return (uint64_t) all.h1 << 32 | all.h2;
}

uint64_t
flow_fp(const struct ir_flow *f)
{
    struct fp fp = { 0, 0 };
    fp_u32(&fp, f->table);
    fp_u32(&fp, f->priority);
    fp_u32(&fp, f->cookie >> 32);
    fp_u32(&fp, f->cookie);
    fp_str(&fp, f->match);
    fp_str(&fp, f->actions);
    return (uint64_t) fp.h1 << 32 | fp.h2;
}

static int
compare_reuse_group(const void *a_, const void *b_)
{
    const struct reuse_group *a = a_, *b = b_;
    return (a->group_id > b->group_id) - (a->group_id < b->group_id);
}

int
compare_fp(const void *a_, const void *b_)
{
    const uint64_t *a = a_, *b = b_;
    return (*a > *b) - (*a < *b);
}

/* Whether the running spec decoded a group 'id' from the same IR. */
static bool
group_in_running(const struct build_reuse *r, uint32_t id, uint64_t fp)
{
    struct reuse_group key = { .group_id = id };
    const struct reuse_group *g = bsearch(&key, r->groups, r->n_groups,
                                          sizeof *r->groups,
                                          compare_reuse_group);
    return g && g->fp == fp;
}

static bool
flow_in_running(const struct build_reuse *r, uint64_t fp)
{
    return bsearch(&fp, r->flows, r->n_flows, sizeof *r->flows,
                   compare_fp) != NULL;
}

void
build_reuse_sort(struct build_reuse *r)
{
    qsort(r->groups, r->n_groups, sizeof *r->groups, compare_reuse_group);
    qsort(r->flows, r->n_flows, sizeof *r->flows, compare_fp);
}

static void
build_groups(struct build_part *p)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);
    const struct ir_pipeline *ir = p->ir;
    /* The base group holds every bucket, standby ones (failover
     * candidates, the sorry real) included; build_desired() picks. Built
     * from parts: the selection and each real's actions are parsed once,
     * not once per group and bucket. */
    struct ofsync_group_builder *gb = ofsync_group_builder_create(p->ports);
    struct ds props = DS_EMPTY_INITIALIZER;
    for (size_t i = p->groups_begin; i < p->groups_end; i++) {
        const struct ir_group *g = &ir->groups[i];
        if (p->fp) {
            p->fp[i] = g->fingerprint ? g->fingerprint : group_fp(g);
            if (p->reuse && group_in_running(p->reuse, g->group_id,
                                             p->fp[i])) {
                p->reuse->group_reused[i] = true;
                p->n_groups_reused++;
                continue;
            }
        }
        ds_clear(&props);
        ds_put_format(&props, "type=select,%s", g->selection);
        char *err = ofsync_group_builder_start(gb, g->group_id,
                                               ds_cstr(&props));
        for (size_t b = 0; !err && b < g->n_buckets; b++) {
            err = ofsync_group_builder_bucket(gb, g->buckets[b].bucket_id,
                                              g->buckets[b].weight,
                                              g->buckets[b].actions);
        }
        if (err) {
            const struct location *l = &g->loc;
            p->n_errors++;
            if (!p->quiet) {
                VLOG_WARN_RL(&rl, "%s:%d:%d: group of service %s not "
                             "installable: %s", l->file ? l->file : "?",
                             l->line, l->col, g->service, err);
            }
            free(err);
        }
        ofsync_group_builder_finish(gb, &p->base);
    }
    ds_destroy(&props);
    ofsync_group_builder_destroy(gb);

    /* flowlbd only ever touches what carries its marks; a compiler bug
     * must not turn into deleting or overwriting someone else's state. */
    struct ofsync_group *og;
    HMAP_FOR_EACH_SAFE (og, node, &p->base.groups) {
        if ((og->group_id & ~(FLOWLB_GROUP_SPAN - 1)) != FLOWLB_GROUP_BASE) {
            VLOG_ERR("internal error: group %#"PRIx32" outside flowlb's "
                     "range left out", og->group_id);
            hmap_remove(&p->base.groups, &og->node);
            ofsync_group_free(og);
        }
    }
}

/* Decodes the flows [begin, end) of the IR into 's'. */
static void
decode_flows(struct build_part *p, struct ofsync_state *s, size_t begin,
             size_t end)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);
    const struct ir_pipeline *ir = p->ir;
    for (size_t i = begin; i < end; i++) {
        const struct ir_flow *f = &ir->flows[i];
        uint64_t tag = f->fingerprint ? f->fingerprint : flow_fp(f);
        if (p->flow_fp) {
            p->flow_fp[i] = tag;
        }
        if (p->reuse && flow_in_running(p->reuse, tag)) {
            p->reuse->flow_reused[i] = true;
            p->n_flows_reused++;
            continue;
        }
        char *err = ofsync_add_flow_parts_tagged(s, f->table, f->priority,
                                                 f->cookie, f->match,
                                                 f->actions, p->ports, tag);
        if (err) {
            /* Typically a port name the bridge does not have (yet). */
            const struct location *l = &f->loc;
            p->n_errors++;
            if (!p->quiet) {
                char *text = ir_flow_to_ofctl(f);
                VLOG_WARN_RL(&rl, "%s:%d:%d: flow not installable (%s): %s",
                             l->file ? l->file : "?", l->line, l->col, err,
                             text);
                free(text);
            }
            free(err);
        }
    }
}

static void
build_flows(struct build_part *p)
{
    size_t begin, end;
    if (!p->later) {
        while (flow_queue_take(p->queue, false, &begin, &end)) {
            decode_flows(p, &p->base, begin, end);
        }
    } else {
        /* Chunks come last first: each is decoded on its own and merged
         * as the older one, so that where two flows share a key the later
         * stays, as in one pass over the IR. */
        struct ofsync_state chunk;
        ofsync_state_init(&chunk);
        while (flow_queue_take(p->queue, true, &begin, &end)) {
            decode_flows(p, &chunk, begin, end);
            ofsync_state_move_older(&p->base, &chunk);
        }
        ofsync_state_destroy(&chunk);
    }
    struct ofsync_flow *f;
    HMAP_FOR_EACH_SAFE (f, node, &p->base.flows) {
        if ((f->cookie & FLOWLB_COOKIE_MASK) != FLOWLB_COOKIE_MAGIC) {
            VLOG_ERR("internal error: flow without flowlb's cookie "
                     "(%#"PRIx64") left out", f->cookie);
            ofsync_remove_flow(&p->base, f);
        }
    }
}

static void *
build_part_main(void *p_)
{
    struct build_part *p = p_;
    long long int t0 = time_msec();
    long long int c0 = thread_cpu_msec();
    if (p->groups_end > p->groups_begin) {
        build_groups(p);
        if (p->prepare) {
            ofsync_state_prepare(&p->base);
        }
    }
    build_flows(p);
    long long int t1 = time_msec();
    if (p->copy) {
        ofsync_state_copy(&p->desired, &p->base);
    }
    p->ms_build = t1 - t0;
    p->ms_copy = time_msec() - t1;
    p->cpu_ms = thread_cpu_msec() - c0;
    return NULL;
}

/* Puts the later groups and flows of 'g' and the earlier ones of 'f' into
 * 'dst' (cleared). */
static void
join_parts(struct ofsync_state *dst, struct ofsync_state *g,
           struct ofsync_state *f)
{
    ofsync_state_clear(dst);
    hmap_swap(&dst->groups, &g->groups);
    hmap_swap(&dst->flows, &g->flows);
    ofsync_state_move_older(dst, f);
    ofsync_state_changed(g);
}

/* Decodes 'ir' into 'base' with the switch's 'ports' (may be NULL), in two
 * threads: the later half of the groups and then the last flows in a
 * second thread, the earlier groups and the first flows in this one. With
 * 'desired' nonnull, also makes it a copy of 'base' (in the same two
 * threads). 'prepare' computes the groups'
 * encodings (for comparisons). With 'fp' nonnull, puts there the
 * fingerprint of each group of 'ir', in 'flow_fp' (then nonnull) each
 * flow's and in 'flows_fp' all flows'. Touches nothing else: runs in the
 * reload thread too. Returns the number of flows and groups that could
 * not be decoded (logged unless 'quiet'). */
size_t
build_base_into(struct ofsync_state *base, struct ofsync_state *desired,
                const struct ir_pipeline *ir,
                const struct ofputil_port_map *ports, bool prepare,
                bool quiet, uint64_t *fp, uint64_t *flows_fp,
                uint64_t *flow_fp, struct build_reuse *reuse)
{
    ovs_assert(!fp || flow_fp);
    if (reuse) {
        /* Both halves skip only what they can find again by fingerprint. */
        ovs_assert(fp && flow_fp);
        reuse->n_groups_reused = reuse->n_flows_reused = 0;
        memset(reuse->group_reused, 0,
               ir->n_groups * sizeof *reuse->group_reused);
        memset(reuse->flow_reused, 0,
               ir->n_flows * sizeof *reuse->flow_reused);
    }
    struct flow_queue queue = { PTHREAD_MUTEX_INITIALIZER, 0, ir->n_flows };
    struct build_part parts[2];
    for (int i = 0; i < 2; i++) {
        struct build_part *p = &parts[i];
        memset(p, 0, sizeof *p);
        p->ir = ir;
        p->ports = ports;
        p->later = i == 0;
        p->groups_begin = i == 0 ? ir->n_groups / 2 : 0;
        p->groups_end = i == 0 ? ir->n_groups : ir->n_groups / 2;
        p->queue = &queue;
        p->quiet = quiet;
        p->prepare = prepare;
        p->copy = desired != NULL;
        p->fp = fp;
        p->flow_fp = flow_fp;
        p->reuse = reuse;
        ofsync_state_init(&p->base);
        ofsync_state_init(&p->desired);
    }
    pthread_t thread;
    bool threaded = !pthread_create(&thread, NULL, build_part_main,
                                    &parts[0]);
    if (!threaded) {
        build_part_main(&parts[0]);
    }
    build_part_main(&parts[1]);
    if (threaded) {
        pthread_join(thread, NULL);
    }
    join_parts(base, &parts[0].base, &parts[1].base);
    if (desired) {
        join_parts(desired, &parts[0].desired, &parts[1].desired);
    }
    if (reuse) {
        reuse->n_flows_reused = parts[0].n_flows_reused
                                + parts[1].n_flows_reused;
        reuse->n_groups_reused = parts[0].n_groups_reused
                                 + parts[1].n_groups_reused;
    }
    if (fp && flows_fp) {
        *flows_fp = all_flows_fp(flow_fp, ir->n_flows);
    }
    size_t n_errors = parts[0].n_errors + parts[1].n_errors;
    VLOG_DBG("decoded %s: %"PRIuSIZE" groups and %"PRIuSIZE" flows %lld ms "
             "(+%lld ms copy; %lld ms CPU), %"PRIuSIZE" groups and %"PRIuSIZE
             " flows %lld ms (+%lld ms copy; %lld ms CPU)%s",
             ports ? "with the ports" : "without ports",
             parts[0].groups_end - parts[0].groups_begin,
             ir->n_flows - queue.front,
             parts[0].ms_build, parts[0].ms_copy, parts[0].cpu_ms,
             parts[1].groups_end - parts[1].groups_begin, queue.front,
             parts[1].ms_build, parts[1].ms_copy, parts[1].cpu_ms,
             threaded ? "" : ", not in parallel");
    for (int i = 0; i < 2; i++) {
        ofsync_state_destroy(&parts[i].base);
        ofsync_state_destroy(&parts[i].desired);
    }
    pthread_mutex_destroy(&queue.mutex);
    return n_errors;
}

void
build_base(struct agent *a, const struct ofputil_port_map *ports)
{
    struct compiled *c = a->cur;
    if (!c->group_fp) {
        c->group_fp = xcalloc(MAX(c->ir.n_groups, 1), sizeof *c->group_fp);
    }
    if (!c->flow_fp) {
        c->flow_fp = xcalloc(MAX(c->ir.n_flows, 1), sizeof *c->flow_fp);
    }
    build_base_into(&a->base, NULL, &c->ir, a->ports_free ? NULL : ports,
                    false, false, c->group_fp, &c->flows_fp, c->flow_fp,
                    NULL);
    a->desired_prefilled = false;   /* Made from another base. */
}

