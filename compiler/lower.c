/* Lowering: checked spec -> match-action IR (DR pipeline).
 *
 * Tables, relative to opts->table_base (B):
 *   B+0 classify  ARP/ND responders; client->VIP into ct (-> B+1);
 *                 real->client replies (source VIP:port) into ct (-> B+3);
 *                 everything else NORMAL (or the host's next table).
 *   B+1 dispatch  invalid: drop; unassigned (ct_mark=0): the service's
 *                 select group; already assigned: forward table.
 *   B+2 forward   ct_mark=real's mark: rewrite eth_dst, output.
 *   B+3 reply     after ct: NORMAL (or the host's next table).
 *   B+4 nd        second half of the IPv6 neighbour advertisement.
 * Each group bucket commits the connection with its real's mark:
 *   ct(commit,zone=Z,exec(set_field:MARK->ct_mark),table=B+2)
 * so a connection stays on its real whatever later happens to the group.
 */
#include "lower.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "values.h"
#include "weights.h"

enum {
    PRIO_RESPONDER = 300,
    PRIO_SERVICE = 200,         /* A service on one port. */
    PRIO_SERVICE_ALL_PORTS = 190, /* vip ADDR PROTO 0: below exact ports. */
    PRIO_INVALID = 300,
    PRIO_ASSIGNED = 100,
    PRIO_REAL = 100,
    PRIO_MISS = 0,
};

void
lower_options_init(struct lower_options *opts)
{
    opts->table_base = 0;
    opts->next_table = -1;
    opts->ct_zone = 64000;
}

static uint32_t
fnv1a(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ p[i]) * 16777619u;
    }
    return h;
}

uint32_t
lower_real_mark(const struct lb_addr *addr)
{
    if (addr->family == AF_INET) {
        /* The IPv4 address itself: stable across reloads and readable in
         * ct dumps (ct_mark=0xa00000b is 10.0.0.11). */
        return ntohl(addr->v4.s_addr);
    }
    uint32_t h = fnv1a(&addr->v6, sizeof addr->v6);
    return h ? h : 1;
}

/* Growable text buffer for building matches and actions. */
struct text {
    char *s;
    size_t len, allocated;
};

static void __attribute__((format(printf, 2, 3)))
text_printf(struct text *t, const char *fmt, ...)
{
    for (;;) {
        va_list args;
        va_start(args, fmt);
        size_t room = t->allocated - t->len;
        int n = vsnprintf(t->s ? t->s + t->len : NULL, room, fmt, args);
        va_end(args);
        if ((size_t) n < room) {
            t->len += n;
            return;
        }
        t->allocated = 2 * (t->allocated + n + 64);
        t->s = realloc(t->s, t->allocated);
        if (!t->s) {
            abort();
        }
    }
}

static const char *
text_reset(struct text *t)
{
    t->len = 0;
    if (t->s) {
        t->s[0] = '\0';
    }
    return t->s;
}

struct lowering {
    const struct lb_spec *spec;
    const struct lower_options *opts;
    struct ir_pipeline *ir;
    struct diag *d;
    uint32_t *service_ids;      /* 20-bit id per service, by spec index. */
    struct text match, actions, scratch;
};

static uint8_t
table(const struct lowering *l, int offset)
{
    return l->opts->table_base + offset;
}

static const char *
miss_action(const struct lowering *l, struct text *t)
{
    text_reset(t);
    if (l->opts->next_table >= 0) {
        text_printf(t, "resubmit(,%d)", l->opts->next_table);
    } else {
        text_printf(t, "NORMAL");
    }
    return t->s;
}

/* Service ids: derived from the name so that they survive reloads and
 * reordering. Collisions are resolved by probing in name order, which is
 * independent of the order services appear in the file. */
static int
compare_names(const void *a_, const void *b_, void *spec_)
{
    const struct lb_spec *spec = spec_;
    size_t a = *(const size_t *) a_, b = *(const size_t *) b_;
    return strcmp(spec->services[a].name, spec->services[b].name);
}

static bool
assign_service_ids(struct lowering *l)
{
    size_t n = l->spec->n_services;
    if (n >= FLOWLB_GROUP_SPAN) {
        struct location none = { 0 };
        diag_error(l->d, &none, "too many services (at most %u)",
                   FLOWLB_GROUP_SPAN - 1);
        return false;
    }
    size_t *order = malloc((n + 1) * sizeof *order);
    for (size_t i = 0; i < n; i++) {
        order[i] = i;
    }
    qsort_r(order, n, sizeof *order, compare_names, (void *) l->spec);
    uint8_t *used = calloc(FLOWLB_GROUP_SPAN / 8, 1);
    for (size_t k = 0; k < n; k++) {
        const char *name = l->spec->services[order[k]].name;
        uint32_t id = fnv1a(name, strlen(name)) & (FLOWLB_GROUP_SPAN - 1);
        while (!id || (used[id / 8] & (1 << (id % 8)))) {
            id = (id + 1) & (FLOWLB_GROUP_SPAN - 1);
        }
        used[id / 8] |= 1 << (id % 8);
        l->service_ids[order[k]] = id;
    }
    free(used);
    free(order);
    return true;
}

static uint32_t
group_id(const struct lowering *l, size_t svc)
{
    return FLOWLB_GROUP_BASE | l->service_ids[svc];
}

static uint64_t
service_cookie(const struct lowering *l, size_t svc)
{
    return FLOWLB_COOKIE_MAGIC | group_id(l, svc);
}

/* "tcp,nw_dst=10.0.0.1,tp_dst=80" (dir "dst") or the reply direction. */
static void
l4_match(struct text *t, const struct lb_service *svc, const char *dir)
{
    char vip[INET6_ADDRSTRLEN];
    lb_addr_format(&svc->vip, vip, sizeof vip);
    bool v6 = svc->vip.family == AF_INET6;
    text_printf(t, "%s%s,%s_%s=%s", lb_proto_name(svc->proto), v6 ? "6" : "",
                v6 ? "ipv6" : "nw", dir, vip);
    if (svc->port) {
        text_printf(t, ",tp_%s=%u", dir, svc->port);
    }
}

static void
add_responder(struct lowering *l, size_t i)
{
    const struct lb_service *svc = &l->spec->services[i];
    char vip[INET6_ADDRSTRLEN], mac[18];
    lb_addr_format(&svc->vip, vip, sizeof vip);
    lb_mac_format(&svc->vip_mac, mac, sizeof mac);
    text_reset(&l->match);
    text_reset(&l->actions);
    if (svc->vip.family == AF_INET) {
        text_printf(&l->match, "arp,arp_op=1,arp_tpa=%s", vip);
        text_printf(&l->actions,
                    "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
                    "set_field:%s->eth_src,set_field:2->arp_op,"
                    "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
                    "set_field:%s->arp_sha,"
                    "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],"
                    "set_field:%s->arp_spa,IN_PORT", mac, mac, vip);
    } else {
        /* Neighbour solicitation -> solicited, override advertisement.
         * OVS refuses to write nd_tll while the match says "solicitation",
         * so the packet becomes an advertisement here and the nd table
         * (B+4) writes the target link-layer address. */
        text_printf(&l->match, "icmp6,icmp_type=135,icmp_code=0,nd_target=%s",
                    vip);
        text_printf(&l->actions,
                    "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
                    "set_field:%s->eth_src,"
                    "move:NXM_NX_IPV6_SRC[]->NXM_NX_IPV6_DST[],"
                    "set_field:%s->ipv6_src,"
                    "set_field:136->icmpv6_type,"
                    "set_field:0x60000000->nd_reserved,"
                    "set_field:2->nd_options_type,"
                    "resubmit(,%u)", mac, vip, table(l, 4));
    }
    /* Several services may share a VIP (different ports): one responder. */
    for (size_t j = 0; j < l->ir->n_flows; j++) {
        struct ir_flow *f = &l->ir->flows[j];
        if (f->role == IR_ROLE_RESPONDER && !strcmp(f->match, l->match.s)) {
            if (strcmp(f->actions, l->actions.s)) {
                diag_error(l->d, &svc->vip_mac_loc,
                           "vip-mac of service '%s' differs from that of "
                           "service '%s' on the same VIP %s", svc->name,
                           f->service, vip);
            }
            return;
        }
    }
    struct ir_flow *f = ir_add_flow(l->ir, table(l, 0), PRIO_RESPONDER,
                                    service_cookie(l, i), IR_ROLE_RESPONDER,
                                    l->match.s, l->actions.s);
    f->service = svc->name;
    f->loc = svc->vip_mac_loc;
    if (svc->vip.family == AF_INET6) {
        text_reset(&l->match);
        text_reset(&l->actions);
        text_printf(&l->match, "icmp6,icmp_type=136,icmp_code=0,nd_target=%s",
                    vip);
        text_printf(&l->actions, "set_field:%s->nd_tll,IN_PORT", mac);
        f = ir_add_flow(l->ir, table(l, 4), PRIO_RESPONDER,
                        service_cookie(l, i), IR_ROLE_RESPONDER, l->match.s,
                        l->actions.s);
        f->service = svc->name;
        f->loc = svc->vip_mac_loc;
    }
}

static const char *
hash_fields(const struct lb_service *svc, struct text *t)
{
    bool v6 = svc->vip.family == AF_INET6;
    const char *src = v6 ? "ipv6_src" : "ip_src";
    const char *dst = v6 ? "ipv6_dst" : "ip_dst";
    const char *l4 = svc->proto == LB_PROTO_UDP ? "udp" : "tcp";
    text_reset(t);
    switch (svc->scheduler) {
    case LB_SCHED_WRR:
    case LB_SCHED_RR:
    case LB_SCHED_LC:
    case LB_SCHED_WLC:
    case LB_SCHED_FO:
        text_printf(t, "selection_method=hash,fields(%s,%s,%s_src,%s_dst)",
                    src, dst, l4, l4);
        break;
    case LB_SCHED_SH:
        text_printf(t, "selection_method=hash,fields(%s)", src);
        break;
    case LB_SCHED_DH:
        text_printf(t, "selection_method=hash,fields(%s)", dst);
        break;
    case LB_SCHED_MH:
        text_printf(t, "selection_method=hash,fields(%s,%s_src)", src, l4);
        break;
    }
    return t->s;
}

/* Bucket ids follow the real's mark, so a real keeps its bucket id (and
 * its hash scores) across reloads and reorderings of the spec. */
static uint32_t
bucket_id_for(uint32_t mark, const struct ir_group *g)
{
    uint32_t id = mark <= 0xffffff00 ? mark : mark & 0x7fffffff;
    for (;;) {
        bool taken = false;
        for (size_t i = 0; i < g->n_buckets; i++) {
            taken = taken || g->buckets[i].bucket_id == id;
        }
        if (!taken) {
            return id;
        }
        id = id + 1 > 0xffffff00 ? 0 : id + 1;
    }
}

static void
add_service(struct lowering *l, size_t i)
{
    const struct lb_service *svc = &l->spec->services[i];
    uint64_t cookie = service_cookie(l, i);
    uint16_t prio = svc->port ? PRIO_SERVICE : PRIO_SERVICE_ALL_PORTS;
    struct ir_flow *f;

    if (svc->has_vip_mac) {
        add_responder(l, i);
    }

    /* Client -> VIP. */
    text_reset(&l->match);
    l4_match(&l->match, svc, "dst");
    text_reset(&l->actions);
    text_printf(&l->actions, "ct(zone=%u,table=%u)", l->opts->ct_zone,
                table(l, 1));
    f = ir_add_flow(l->ir, table(l, 0), prio, cookie, IR_ROLE_CLASSIFY,
                    l->match.s, l->actions.s);
    f->service = svc->name;
    f->loc = svc->vip_loc;

    /* Unassigned connection -> the service's group. */
    text_reset(&l->scratch);
    text_printf(&l->scratch, "ct_state=+trk-inv,ct_mark=0,%s", l->match.s);
    text_reset(&l->actions);
    text_printf(&l->actions, "group:%u", group_id(l, i));
    f = ir_add_flow(l->ir, table(l, 1), prio, cookie, IR_ROLE_DISPATCH,
                    l->scratch.s, l->actions.s);
    f->service = svc->name;
    f->loc = svc->vip_loc;

    /* Real -> client replies (source VIP:port) through the same zone, so
     * conntrack sees both directions (kernel conntrack marks one-sided TCP
     * invalid; userspace stops advancing the window). */
    text_reset(&l->match);
    l4_match(&l->match, svc, "src");
    text_reset(&l->actions);
    text_printf(&l->actions, "ct(zone=%u,table=%u)", l->opts->ct_zone,
                table(l, 3));
    f = ir_add_flow(l->ir, table(l, 0), prio, cookie, IR_ROLE_REPLY,
                    l->match.s, l->actions.s);
    f->service = svc->name;
    f->loc = svc->vip_loc;

    /* The select group: one bucket per real that takes new connections. */
    struct ir_group *g = ir_add_group(l->ir, group_id(l, i),
                                      hash_fields(svc, &l->scratch));
    g->service = svc->name;
    g->loc = svc->loc;
    size_t n_active = 0;
    uint32_t *want = malloc((svc->n_reals + 1) * sizeof *want);
    uint16_t *weights = malloc((svc->n_reals + 1) * sizeof *weights);
    for (size_t r = 0; r < svc->n_reals; r++) {
        if (svc->reals[r].weight) {
            want[n_active++] = svc->reals[r].weight;
        }
    }
    weights_solve(want, n_active, weights);
    size_t k = 0;
    for (size_t r = 0; r < svc->n_reals; r++) {
        const struct lb_real *real = &svc->reals[r];
        if (!real->weight) {
            continue;           /* Drained: keeps its forward flow only. */
        }
        uint32_t mark = lower_real_mark(&real->addr);
        text_reset(&l->actions);
        text_printf(&l->actions,
                    "ct(commit,zone=%u,exec(set_field:0x%x->ct_mark),"
                    "table=%u)", l->opts->ct_zone, mark, table(l, 2));
        struct ir_bucket *b = ir_group_add_bucket(g, bucket_id_for(mark, g),
                                                  weights[k++],
                                                  l->actions.s);
        b->loc = real->loc;
        lb_addr_format(&real->addr, b->real, sizeof b->real);
    }
    free(want);
    free(weights);
}

/* One forward flow per distinct real address, shared by every service
 * that uses it (check.c guarantees they agree on MAC and port). */
static void
add_forward_flows(struct lowering *l)
{
    size_t start = l->ir->n_flows;
    for (size_t i = 0; i < l->spec->n_services; i++) {
        const struct lb_service *svc = &l->spec->services[i];
        for (size_t r = 0; r < svc->n_reals; r++) {
            const struct lb_real *real = &svc->reals[r];
            uint32_t mark = lower_real_mark(&real->addr);
            char mac[18];
            lb_mac_format(&real->mac, mac, sizeof mac);
            text_reset(&l->match);
            text_printf(&l->match, "ct_mark=0x%x", mark);
            text_reset(&l->actions);
            text_printf(&l->actions, "set_field:%s->eth_dst,", mac);
            if (real->port) {
                text_printf(&l->actions, "output:%s", real->port);
            } else {
                text_printf(&l->actions, "NORMAL");
            }
            bool seen = false;
            for (size_t f = start; f < l->ir->n_flows && !seen; f++) {
                struct ir_flow *flow = &l->ir->flows[f];
                if (!strcmp(flow->match, l->match.s)) {
                    seen = true;
                    if (strcmp(flow->actions, l->actions.s)) {
                        char addr[INET6_ADDRSTRLEN];
                        lb_addr_format(&real->addr, addr, sizeof addr);
                        diag_error(l->d, &real->loc,
                                   "real %s has the same conntrack mark "
                                   "0x%x as another real; give it a "
                                   "different address", addr, mark);
                    }
                }
            }
            if (!seen) {
                struct ir_flow *f = ir_add_flow(l->ir, table(l, 2), PRIO_REAL,
                                                FLOWLB_COOKIE_MAGIC,
                                                IR_ROLE_FORWARD, l->match.s,
                                                l->actions.s);
                f->loc = real->loc;
            }
        }
    }
}

static void
add_fixed_flows(struct lowering *l)
{
    uint64_t cookie = FLOWLB_COOKIE_MAGIC;
    ir_add_flow(l->ir, table(l, 0), PRIO_MISS, cookie, IR_ROLE_DEFAULT, "",
                miss_action(l, &l->actions));
    ir_add_flow(l->ir, table(l, 1), PRIO_INVALID, cookie, IR_ROLE_DEFAULT,
                "ct_state=+trk+inv", "drop");
    text_reset(&l->actions);
    text_printf(&l->actions, "goto_table:%u", table(l, 2));
    ir_add_flow(l->ir, table(l, 1), PRIO_ASSIGNED, cookie, IR_ROLE_DEFAULT,
                "ct_state=+trk-inv", l->actions.s);
    ir_add_flow(l->ir, table(l, 1), PRIO_MISS, cookie, IR_ROLE_DEFAULT, "",
                "drop");
    ir_add_flow(l->ir, table(l, 2), PRIO_MISS, cookie, IR_ROLE_DEFAULT, "",
                "drop");
    ir_add_flow(l->ir, table(l, 3), PRIO_MISS, cookie, IR_ROLE_DEFAULT, "",
                miss_action(l, &l->actions));
    ir_add_flow(l->ir, table(l, 4), PRIO_MISS, cookie, IR_ROLE_DEFAULT, "",
                "drop");
}

bool
lower_spec(const struct lb_spec *spec, const struct lower_options *opts,
           struct ir_pipeline *ir, struct diag *d)
{
    struct lowering l = {
        .spec = spec, .opts = opts, .ir = ir, .d = d,
        .service_ids = calloc(spec->n_services + 1, sizeof(uint32_t)),
    };
    size_t errors_before = d->n_errors;
    struct location none = { 0 };
    if (opts->table_base > 255 - (LOWER_N_TABLES - 1)) {
        diag_error(d, &none, "--table-base %u leaves no room for %d tables",
                   opts->table_base, LOWER_N_TABLES);
    } else if (opts->next_table >= opts->table_base
               && opts->next_table < opts->table_base + LOWER_N_TABLES) {
        /* Non-LB traffic resubmitted into flowlb's own tables would be
         * dropped or loop. */
        diag_error(d, &none, "--next-table %d is one of flowlb's tables "
                   "(%u-%u); pick a table outside them", opts->next_table,
                   opts->table_base, opts->table_base + LOWER_N_TABLES - 1);
    } else if (assign_service_ids(&l)) {
        ir_add_table(ir, table(&l, 0), "classify");
        ir_add_table(ir, table(&l, 1), "dispatch");
        ir_add_table(ir, table(&l, 2), "forward");
        ir_add_table(ir, table(&l, 3), "reply");
        ir_add_table(ir, table(&l, 4), "nd");
        for (size_t i = 0; i < spec->n_services; i++) {
            add_service(&l, i);
        }
        add_forward_flows(&l);
        add_fixed_flows(&l);
        ir_sort(ir);
    }
    free(l.service_ids);
    free(l.match.s);
    free(l.actions.s);
    free(l.scratch.s);
    return d->n_errors == errors_before;
}
