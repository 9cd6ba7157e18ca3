/* ovs_select: which bucket Open vSwitch's select group picks for a TCP
 * 5-tuple, computed offline for many synthetic tuples, to measure how many
 * connections change real when a group changes (bench item 8).
 *
 * The replica follows ofproto/ofproto-dpif-xlate.c of OVS 3.1 as read, not
 * copied: for selection_method=hash the basis is hash_uint64(method param),
 * then hash_bytes() of each listed field (masked), in meta-flow id order
 * (the order of the group's field bitmap, not the order written); each live
 * bucket scores (hash_int(bucket_id, basis) & 0xffff) * weight and the last
 * best score (>=) wins, in bucket list order. The groups are parsed by
 * libopenvswitch itself (parse_ofp_group_mod_str), so the fields, masks,
 * bucket ids and weights are exactly what ovs-ofctl would send. bench/run
 * checks the replica against `ovs-appctl ofproto/trace` ("using bucket N")
 * before trusting it.
 *
 * usage: ovs_select BEFORE.ofctl DST_IP DST_PORT [options]
 *   --after FILE   second pipeline: report the fraction of tuples whose
 *                  bucket differs between BEFORE and FILE
 *   -n N           tuples (default 100000)
 *   --seed S       PRNG seed (default 1)
 *   --dump K       print the first K tuples and their BEFORE bucket as
 *                  "SRC_IP SRC_PORT BUCKET_ID" lines, nothing else
 * Both files must hold exactly one group (a one-service spec). */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "hash.h"
#include "openvswitch/meta-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-protocol.h"
#include "util.h"

struct sel_group {
    struct ofputil_group_mod gm;
    uint64_t param;
};

/* Reads the only "group add" line of 'path' into 'g'; exits on error. */
static void
load_group(const char *path, struct sel_group *g)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "ovs_select: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    char *line = NULL;
    size_t cap = 0;
    int found = 0;
    while (getline(&line, &cap, f) > 0) {
        static const char prefix[] = "group add ";
        if (strncmp(line, prefix, sizeof prefix - 1)) {
            continue;
        }
        line[strcspn(line, "\n")] = '\0';
        if (found++) {
            fprintf(stderr, "ovs_select: %s holds more than one group\n", path);
            exit(2);
        }
        enum ofputil_protocol usable;
        char *err = parse_ofp_group_mod_str(&g->gm, OFPGC15_ADD,
                                            line + sizeof prefix - 1,
                                            NULL, NULL, &usable);
        if (err) {
            fprintf(stderr, "ovs_select: %s: %s\n", path, err);
            exit(2);
        }
    }
    free(line);
    fclose(f);
    if (!found) {
        fprintf(stderr, "ovs_select: %s holds no group\n", path);
        exit(2);
    }
    if (strcmp(g->gm.props.selection_method, "hash")) {
        fprintf(stderr, "ovs_select: %s: selection_method is '%s', only "
                "'hash' is replicated\n", path, g->gm.props.selection_method);
        exit(2);
    }
    g->param = g->gm.props.selection_method_param;
}

/* The basis OVS hashes the bucket ids with, for 'flow'. */
static uint32_t
group_basis(const struct sel_group *g, const struct flow *flow)
{
    const struct field_array *fields = &g->gm.props.fields;
    const uint8_t *mask = fields->values;
    uint32_t basis = hash_uint64(g->param);
    size_t i;

    BITMAP_FOR_EACH_1 (i, MFF_N_IDS, fields->used.bm) {
        const struct mf_field *mf = mf_from_id(i);
        if (!mf_are_prereqs_ok(mf, flow, NULL)) {
            mask += mf->n_bytes;
            continue;
        }
        union mf_value value;
        mf_get_value(mf, flow, &value);
        for (unsigned j = 0; j < mf->n_bytes; j++) {
            value.b[j] &= *mask++;
        }
        basis = hash_bytes(&value, mf->n_bytes, basis);
    }
    return basis;
}

/* The bucket id OVS picks (all buckets live), or UINT32_MAX if none. */
static uint32_t
pick(const struct sel_group *g, const struct flow *flow)
{
    uint32_t basis = group_basis(g, flow);
    uint32_t best = UINT32_MAX, best_score = 0;
    const struct ofputil_bucket *b;

    LIST_FOR_EACH (b, list_node, &g->gm.buckets) {
        uint32_t score = (hash_int(b->bucket_id, basis) & 0xffff) * b->weight;
        if (score >= best_score) {
            best = b->bucket_id;
            best_score = score;
        }
    }
    return best;
}

/* xorshift64*: reproducible tuples without libc's rand() state. */
static uint64_t
next_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static void
make_tuple(uint64_t *seed, ovs_be32 dst, uint16_t dport, struct flow *flow)
{
    memset(flow, 0, sizeof *flow);
    flow->dl_type = htons(ETH_TYPE_IP);
    flow->nw_proto = IPPROTO_TCP;
    /* Clients anywhere in 100.64.0.0/10, ephemeral source ports. */
    uint64_t r = next_rand(seed);
    flow->nw_src = htonl(0x64400000u | (uint32_t) (r & 0x3fffff));
    flow->tp_src = htons(1024 + (uint16_t) ((r >> 32) % 64512));
    flow->nw_dst = dst;
    flow->tp_dst = htons(dport);
}

int
main(int argc, char *argv[])
{
    if (argc < 4) {
        fprintf(stderr, "usage: ovs_select BEFORE.ofctl DST_IP DST_PORT "
                "[--after FILE] [-n N] [--seed S] [--dump K]\n");
        return 2;
    }
    const char *after_path = NULL;
    long n = 100000, dump = -1;
    uint64_t seed = 1;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--after") && i + 1 < argc) {
            after_path = argv[++i];
        } else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
            n = atol(argv[++i]);
        } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 0);
        } else if (!strcmp(argv[i], "--dump") && i + 1 < argc) {
            dump = atol(argv[++i]);
        } else {
            fprintf(stderr, "ovs_select: bad argument '%s'\n", argv[i]);
            return 2;
        }
    }
    struct in_addr dst;
    if (inet_pton(AF_INET, argv[2], &dst) != 1) {
        fprintf(stderr, "ovs_select: bad IPv4 address '%s'\n", argv[2]);
        return 2;
    }
    uint16_t dport = (uint16_t) atoi(argv[3]);
    seed = seed ? seed : 1;

    struct sel_group before, after;
    load_group(argv[1], &before);
    if (after_path) {
        load_group(after_path, &after);
    }

    struct flow flow;
    if (dump >= 0) {
        for (long i = 0; i < dump; i++) {
            make_tuple(&seed, dst.s_addr, dport, &flow);
            char src[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &flow.nw_src, src, sizeof src);
            printf("%s %u %"PRIu32"\n", src, ntohs(flow.tp_src),
                   pick(&before, &flow));
        }
        return 0;
    }

    /* Per-bucket counts before, and how many tuples moved. */
    size_t n_buckets = ovs_list_size(&before.gm.buckets);
    uint32_t *ids = xcalloc(n_buckets, sizeof *ids);
    long *count = xcalloc(n_buckets, sizeof *count);
    size_t k = 0;
    const struct ofputil_bucket *b;
    LIST_FOR_EACH (b, list_node, &before.gm.buckets) {
        ids[k++] = b->bucket_id;
    }
    long moved = 0;
    for (long i = 0; i < n; i++) {
        make_tuple(&seed, dst.s_addr, dport, &flow);
        uint32_t id = pick(&before, &flow);
        for (k = 0; k < n_buckets; k++) {
            if (ids[k] == id) {
                count[k]++;
                break;
            }
        }
        if (after_path && pick(&after, &flow) != id) {
            moved++;
        }
    }
    printf("tuples=%ld buckets=%zu", n, n_buckets);
    if (after_path) {
        printf(" buckets_after=%zu moved=%ld fraction=%.6f",
               ovs_list_size(&after.gm.buckets), moved, (double) moved / n);
    }
    printf("\n");
    for (k = 0; k < n_buckets; k++) {
        printf("bucket %"PRIu32" share=%.6f\n", ids[k], (double) count[k] / n);
    }
    free(ids);
    free(count);
    ofputil_uninit_group_mod(&before.gm);
    if (after_path) {
        ofputil_uninit_group_mod(&after.gm);
    }
    return 0;
}
