/* Lowering: checked spec -> match-action IR (DR pipeline).
 *
 * Tables, relative to opts->table_base (B):
 *   B+0 classify  ARP/ND responders; client->VIP into ct (-> B+1);
 *                 real->client replies (source VIP:port) into ct (-> B+3);
 *                 learn-mode services: lookups, no ct (-> B+6, B+7);
 *                 everything else NORMAL (or the host's next table).
 *   B+1 dispatch  invalid: drop; unassigned (ct_mark=0): the service's
 *                 select group (persistent: persistence lookup, then
 *                 B+7); already assigned: forward table.
 *   B+2 forward   ct_mark=real's mark (learn mode: reg13=mark): rewrite
 *                 eth_dst, output.
 *   B+3 reply     after ct: NORMAL (or the host's next table).
 *   B+4 nd        second half of the IPv6 neighbour advertisement.
 *   B+5 persist   LEARNED (service, client prefix) -> reg13=mark.
 *   B+6 sticky    LEARNED (service, 5-tuple) -> reg13=mark (learn mode).
 *   B+7 assign    (service, mark) -> learn entries, commit/forward;
 *                 (service, no mark) -> the group, whose bucket loads a
 *                 mark and comes back.
 * A plain service's bucket commits the connection with its real's mark:
 *   ct(commit,zone=Z,exec(set_field:MARK->ct_mark),table=B+2)
 * so a connection stays on its real whatever later happens to the group.
 * A service is matched by VIP (or prefix) and one masked tp_dst per
 * aligned chunk of its port range.
 */
#include "lower.h"
#include "ds_buf.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "values.h"
#include "weights.h"

enum {
    PRIO_RESPONDER = 300,
    PRIO_RESPONDER_PREFIX = 250, /* + 32 * len / full: below single VIPs. */
    PRIO_SERVICE = 200,         /* A service on one port. */
    PRIO_SERVICE_RANGE = 195,   /* A port range: below single ports. */
    PRIO_SERVICE_ALL_PORTS = 190, /* vip ADDR PROTO 0: below exact ports. */
    PRIO_PREFIX_BASE = 102,     /* VIP prefixes: 102..165, see below. */
    PRIO_INVALID = 300,
    PRIO_ASSIGNED = 100,
    PRIO_REAL = 100,
    PRIO_REAL_REG = 90,         /* Forward by register (learn mode). */
    PRIO_ASSIGN_GROUP = 10,     /* Assign table: no usable mark. */
    PRIO_ND = 100,              /* nd table: the advertisement's 2nd step, */
    PRIO_ND_DAD = 110,          /* ... and the answer to a DAD probe. */
    PRIO_MISS = 0,
};

void
lower_options_init(struct lower_options *opts)
{
    opts->table_base = 0;
    opts->next_table = -1;
    opts->ct_zone = 64000;
}

uint32_t
lower_real_mark(const struct lb_addr *addr)
{
    if (addr->family == AF_INET) {
        /* The IPv4 address itself: stable across reloads and readable in
         * ct dumps (ct_mark=0xa00000b is 10.0.0.11). */
        return ntohl(addr->v4.s_addr);
    }
    uint32_t h = lb_fnv1a(&addr->v6, sizeof addr->v6);
    return h ? h : 1;
}

/* Flows looked up by match text while lowering (responders shared by a
 * VIP's services, forward flows shared by a real's services): a hash set
 * of indexes into the IR's flow array, so lowering stays linear in the
 * spec. Open addressing, kept at most half full. */
struct flow_index {
    size_t *slots;              /* flow index + 1; 0 = empty. */
    size_t mask, n;
};

/* Returns the index of the flow whose match is 'match', or SIZE_MAX. */
static size_t
flow_index_find(const struct flow_index *fi, const struct ir_pipeline *ir,
                const char *match)
{
    if (!fi->slots) {
        return SIZE_MAX;
    }
    for (size_t i = lb_fnv1a_str(match) & fi->mask; fi->slots[i];
         i = (i + 1) & fi->mask) {
        size_t f = fi->slots[i] - 1;
        if (!strcmp(ir->flows[f].match, match)) {
            return f;
        }
    }
    return SIZE_MAX;
}

static void
flow_index_insert(struct flow_index *fi, const struct ir_pipeline *ir,
                  size_t flow)
{
    if (2 * (fi->n + 1) > fi->mask + 1) {
        struct flow_index bigger = { .mask = fi->mask ? 2 * fi->mask + 1
                                                       : 63 };
        bigger.slots = calloc(bigger.mask + 1, sizeof *bigger.slots);
        if (!bigger.slots) {
            abort();
        }
        for (size_t i = 0; fi->slots && i <= fi->mask; i++) {
            if (fi->slots[i]) {
                flow_index_insert(&bigger, ir, fi->slots[i] - 1);
            }
        }
        free(fi->slots);
        *fi = bigger;
    }
    size_t i = lb_fnv1a_str(ir->flows[flow].match) & fi->mask;
    while (fi->slots[i]) {
        i = (i + 1) & fi->mask;
    }
    fi->slots[i] = flow + 1;
    fi->n++;
}

/* The first real seen with each conntrack mark, and whether its forward
 * flow by mark register exists too: a real shared by many services is
 * recognised without formatting its flows again for every service. */
struct mark_owner {
    const struct lb_real *real;     /* NULL: empty slot. */
    uint32_t mark;
    bool has_reg;
    /* The real's forwarding, copied by mark_owner_set(): comparing each of
     * 300k reals with it then reads nothing else (the real itself would
     * be a cache miss for most of them). */
    bool port_inline;               /* 'port' holds all of the port. */
    struct lb_addr addr;
    struct lb_mac mac;
    char port[16];
};

struct mark_owners {
    struct mark_owner *slots;
    size_t mask, n;
};

static struct mark_owner *
mark_owner_get(struct mark_owners *mo, uint32_t mark)
{
    if (2 * (mo->n + 1) > mo->mask + 1) {
        struct mark_owners bigger = { .mask = mo->mask ? 2 * mo->mask + 1
                                                       : 1023 };
        bigger.slots = calloc(bigger.mask + 1, sizeof *bigger.slots);
        if (!bigger.slots) {
            abort();
        }
        for (size_t i = 0; mo->slots && i <= mo->mask; i++) {
            if (mo->slots[i].real) {
                *mark_owner_get(&bigger, mo->slots[i].mark) = mo->slots[i];
            }
        }
        bigger.n = mo->n;
        free(mo->slots);
        *mo = bigger;
    }
    size_t i = (mark * 2654435761u) & mo->mask;
    for (; mo->slots[i].real; i = (i + 1) & mo->mask) {
        if (mo->slots[i].mark == mark) {
            return &mo->slots[i];
        }
    }
    mo->slots[i].mark = mark;
    mo->n++;
    return &mo->slots[i];       /* Caller sets 'real'. */
}

static void
mark_owner_set(struct mark_owner *owner, const struct lb_real *real)
{
    owner->real = real;
    owner->addr = real->addr;
    owner->mac = real->mac;
    owner->port_inline = (real->port
                          && strlen(real->port) < sizeof owner->port);
    if (owner->port_inline) {
        strcpy(owner->port, real->port);
    }
}

/* Whether 'real' forwards as the owner does: same address, MAC and port
 * (so its forward flow is the owner's). */
static bool
same_forwarding(const struct mark_owner *owner, const struct lb_real *real)
{
    if (!lb_addr_equal(&owner->addr, &real->addr)
        || memcmp(&owner->mac, &real->mac, sizeof owner->mac)) {
        return false;
    }
    const char *port = owner->port_inline ? owner->port : owner->real->port;
    return port ? real->port && !strcmp(port, real->port) : !real->port;
}

struct lowering {
    const struct lb_spec *spec;
    const struct lower_options *opts;
    struct ir_pipeline *ir;
    struct diag *d;
    uint32_t *service_ids;      /* 20-bit id per service, by spec index. */
    bool need_persist, need_sticky, need_assign; /* Optional tables. */
    bool need_nd;               /* An IPv6 responder: the nd table's flows. */
    struct ds_buf match, actions, scratch;
    struct flow_index responders, forwards;
    struct mark_owners marks;
    /* Copying unchanged services from an earlier pipeline: */
    const struct lower_lender *lender;  /* NULL: lower every service. */
    size_t *lent_flows;         /* Its per-service flows, by cookie. */
    size_t n_lent_flows;
    size_t n_copied;            /* Services copied rather than lowered. */
};

/* Frees what a lowering allocated for itself (not its output). */
static void
lowering_free(struct lowering *l)
{
    free(l->lent_flows);
    free(l->service_ids);
    free(l->responders.slots);
    free(l->forwards.slots);
    free(l->marks.slots);
    free(l->match.s);
    free(l->actions.s);
    free(l->scratch.s);
}

static uint8_t
table(const struct lowering *l, int offset)
{
    return l->opts->table_base + offset;
}

static const char *
miss_action(const struct lowering *l, struct ds_buf *t)
{
    ds_buf_clear(t);
    if (l->opts->next_table >= 0) {
        ds_buf_printf(t, "resubmit(,%d)", l->opts->next_table);
    } else {
        ds_buf_printf(t, "NORMAL");
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

/* Where a service's id probing starts. */
static uint32_t
home_id(const char *name)
{
    return lb_fnv1a_str(name) & (FLOWLB_GROUP_SPAN - 1);
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
        uint32_t id = home_id(name);
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

/* The VIP's prefix length: 0 (not set by an older front end) or anything
 * out of range means the whole address. */
static unsigned
vip_len(const struct lb_service *svc)
{
    unsigned full = svc->vip.family == AF_INET6 ? 128 : 32;
    unsigned len = svc->vip_prefix_len;
    return len && len < full ? len : full;
}

/* "10.0.0.0/24" (host bits cleared) or "10.0.0.1" for a single address. */
static void
vip_text(const struct lb_service *svc, char *buf, size_t size)
{
    unsigned full = svc->vip.family == AF_INET6 ? 128 : 32;
    unsigned len = vip_len(svc);
    struct lb_addr a = svc->vip;
    if (len == full) {
        lb_addr_format(&a, buf, size);
        return;
    }
    if (a.family == AF_INET) {
        uint32_t mask = len ? 0xffffffffu << (32 - len) : 0;
        a.v4.s_addr = htonl(ntohl(a.v4.s_addr) & mask);
    } else {
        for (unsigned bit = len; bit < 128; bit++) {
            a.v6.s6_addr[bit / 8] &= ~(0x80 >> (bit % 8));
        }
    }
    char addr[INET6_ADDRSTRLEN];
    lb_addr_format(&a, addr, sizeof addr);
    snprintf(buf, size, "%s/%u", addr, len);
}

/* A service's ports as masked tp_dst matches: a single port is one chunk
 * with mask 0xffff, "every port" (port 0) one chunk with mask 0, and a
 * range port..port_max the fewest aligned power-of-two blocks (at most 30
 * for 16 bits). */
struct port_chunk {
    uint16_t value, mask;
};
#define MAX_PORT_CHUNKS 32

static size_t
port_chunks(const struct lb_service *svc, struct port_chunk *out)
{
    if (!svc->port) {
        out[0] = (struct port_chunk) { 0, 0 };
        return 1;
    }
    uint32_t lo = svc->port;
    uint32_t hi = svc->port_max > svc->port ? svc->port_max : svc->port;
    size_t n = 0;
    while (lo <= hi) {
        uint32_t size = 1;
        while (size < 0x10000 && !(lo & (2 * size - 1))
               && lo + 2 * size - 1 <= hi) {
            size *= 2;
        }
        out[n++] = (struct port_chunk) { lo, (0x10000 - size) & 0xffff };
        lo += size;
    }
    return n;
}

/* Priority of a service's classify, reply and dispatch flows: the more
 * specific service wins where two overlap. A single VIP: 200 for one port,
 * 195 for a port range, 190 for every port. A VIP prefix: below every
 * single VIP, longer prefixes first (IPv6 in steps of 4 bits), port-bound
 * before all-port: 102 + 2 * (len * 32 / full) + (ports ? 1 : 0), so
 * 102..165. Always > 101: dispatch keeps priority-1 room above its
 * "already assigned" flow at 100. */
static uint16_t
service_priority(const struct lb_service *svc)
{
    unsigned full = svc->vip.family == AF_INET6 ? 128 : 32;
    unsigned len = vip_len(svc);
    bool ports = svc->port != 0;
    bool range = ports && svc->port_max > svc->port;
    if (len == full) {
        return !ports ? PRIO_SERVICE_ALL_PORTS
               : range ? PRIO_SERVICE_RANGE : PRIO_SERVICE;
    }
    return PRIO_PREFIX_BASE + 2 * (len * 32 / full) + (ports ? 1 : 0);
}

/* "tcp,nw_dst=10.0.0.1,tp_dst=80" (dir "dst") or the reply direction. */
static void
l4_match(struct ds_buf *t, const struct lb_service *svc, const char *dir,
         const struct port_chunk *chunk)
{
    char vip[INET6_ADDRSTRLEN + 8];
    vip_text(svc, vip, sizeof vip);
    bool v6 = svc->vip.family == AF_INET6;
    ds_buf_printf(t, "%s%s,%s_%s=%s", lb_proto_name(svc->proto), v6 ? "6" : "",
                  v6 ? "ipv6" : "nw", dir, vip);
    if (chunk->mask == 0xffff) {
        ds_buf_printf(t, ",tp_%s=%u", dir, chunk->value);
    } else if (chunk->mask) {
        ds_buf_printf(t, ",tp_%s=0x%x/0x%x", dir, chunk->value, chunk->mask);
    }
}

static bool
is_vip_prefix(const struct lb_service *svc)
{
    return vip_len(svc) < (svc->vip.family == AF_INET6 ? 128u : 32u);
}

/* The match and actions of service 'i''s responder, into 'l->match' and
 * 'l->actions'. */
static void
responder_text(struct lowering *l, size_t i)
{
    const struct lb_service *svc = &l->spec->services[i];
    char vip[INET6_ADDRSTRLEN + 8], mac[18];
    bool prefix = is_vip_prefix(svc);
    vip_text(svc, vip, sizeof vip);
    lb_mac_format(&svc->vip_mac, mac, sizeof mac);
    ds_buf_clear(&l->match);
    ds_buf_clear(&l->actions);
    if (svc->vip.family == AF_INET) {
        ds_buf_printf(&l->match, "arp,arp_op=1,arp_tpa=%s", vip);
        ds_buf_printf(&l->actions,
                      "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
                      "set_field:%s->eth_src,set_field:2->arp_op,"
                      "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
                      "set_field:%s->arp_sha,", mac, mac);
        if (prefix) {
            /* Any address of the prefix: swap sender and target IPs. */
            ds_buf_printf(&l->actions,
                          "push:NXM_OF_ARP_TPA[],"
                          "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],"
                          "pop:NXM_OF_ARP_SPA[],IN_PORT");
        } else {
            ds_buf_printf(&l->actions,
                          "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],"
                          "set_field:%s->arp_spa,IN_PORT", vip);
        }
    } else {
        /* Neighbour solicitation -> solicited, override advertisement.
         * OVS refuses to write nd_tll while the match says "solicitation",
         * so the packet becomes an advertisement here and the nd table
         * (B+4) writes the target link-layer address. */
        ds_buf_printf(&l->match,
                      "icmp6,icmp_type=135,icmp_code=0,nd_target=%s", vip);
        ds_buf_printf(&l->actions,
                      "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
                      "set_field:%s->eth_src,"
                      "move:NXM_NX_IPV6_SRC[]->NXM_NX_IPV6_DST[],", mac);
        if (prefix) {
            ds_buf_printf(&l->actions,
                          "move:NXM_NX_ND_TARGET[]->NXM_NX_IPV6_SRC[],");
        } else {
            ds_buf_printf(&l->actions, "set_field:%s->ipv6_src,", vip);
        }
        ds_buf_printf(&l->actions,
                      "set_field:136->icmpv6_type,"
                      "set_field:0x60000000->nd_reserved,"
                      "set_field:2->nd_options_type,"
                      "resubmit(,%u)", table(l, LOWER_T_ND));
    }
}

static void
add_responder(struct lowering *l, size_t i)
{
    const struct lb_service *svc = &l->spec->services[i];
    char vip[INET6_ADDRSTRLEN + 8];
    bool prefix = is_vip_prefix(svc);
    vip_text(svc, vip, sizeof vip);
    responder_text(l, i);
    /* Several services may share a VIP (different ports): one responder,
     * which names all of them (quorum withdraws it only when all are
     * down). */
    size_t j = flow_index_find(&l->responders, l->ir, l->match.s);
    if (j != SIZE_MAX) {
        struct ir_flow *f = &l->ir->flows[j];
        {
            if (strcmp(f->actions, l->actions.s)) {
                diag_error(l->d, &svc->vip_mac_loc,
                           "vip-mac of service '%s' differs from that of "
                           "service '%s' on the same VIP %s", svc->name,
                           f->service, vip);
            }
            ir_flow_add_sharer(f, svc->name);
            return;
        }
    }
    uint16_t prio = prefix ? PRIO_RESPONDER_PREFIX + vip_len(svc) * 32
                             / (svc->vip.family == AF_INET6 ? 128 : 32)
                           : PRIO_RESPONDER;
    struct ir_flow *f = ir_add_flow(l->ir, table(l, LOWER_T_CLASSIFY), prio,
                                    service_cookie(l, i), IR_ROLE_RESPONDER,
                                    l->match.s, l->actions.s);
    f->service = svc->name;
    f->loc = svc->vip_mac_loc;
    f->vip_answer = true;
    ir_flow_add_sharer(f, svc->name);
    flow_index_insert(&l->responders, l->ir, f - l->ir->flows);
    l->need_nd = l->need_nd || svc->vip.family == AF_INET6;
}

static const char *
hash_fields(const struct lb_service *svc, struct ds_buf *t)
{
    bool v6 = svc->vip.family == AF_INET6;
    const char *src = v6 ? "ipv6_src" : "ip_src";
    const char *dst = v6 ? "ipv6_dst" : "ip_dst";
    const char *l4 = svc->proto == LB_PROTO_UDP ? "udp" : "tcp";
    ds_buf_clear(t);
    switch (svc->scheduler) {
    case LB_SCHED_WRR:
    case LB_SCHED_RR:
    case LB_SCHED_LC:
    case LB_SCHED_WLC:
    case LB_SCHED_FO:
        /* rr, lc, wlc: the weighted 5-tuple hash (lc/wlc: the agent may
         * adjust weights from connection counts). fo: the same hash over
         * the group's active bucket(s). */
        ds_buf_printf(t, "selection_method=hash,fields(%s,%s,%s_src,%s_dst)",
                      src, dst, l4, l4);
        break;
    case LB_SCHED_SH:
        ds_buf_printf(t, "selection_method=hash,fields(%s)", src);
        break;
    case LB_SCHED_DH:
        ds_buf_printf(t, "selection_method=hash,fields(%s)", dst);
        break;
    case LB_SCHED_MH:
        ds_buf_printf(t, "selection_method=hash,fields(%s,%s_src)", src, l4);
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

static bool
is_learn_mode(const struct lb_service *svc)
{
    return svc->stickiness == LB_STICKY_LEARN;
}

/* Persistent and learn-mode services pick a real in the assign table (the
 * bucket only loads the mark), so that a real chosen by a persistence
 * entry and one chosen by the group are committed/learned the same way. */
static bool
uses_assign(const struct lb_service *svc)
{
    return svc->persistence_s || is_learn_mode(svc);
}

static uint32_t
sticky_idle(const struct lb_service *svc)
{
    uint32_t s = svc->proto == LB_PROTO_UDP && svc->udp_timeout_s
                 ? svc->udp_timeout_s : svc->sticky_idle_s;
    s = s ? s : 300;
    return s > 65535 ? 65535 : s;
}

/* learn(...) of a persistence entry: (service, client prefix) -> mark. */
static void
learn_persist(struct lowering *l, struct ds_buf *t,
              const struct lb_service *svc, uint32_t mark)
{
    bool v6 = svc->vip.family == AF_INET6;
    unsigned full = v6 ? 128 : 32;
    unsigned plen = svc->persistence_prefix_len;
    plen = plen && plen < full ? plen : full;
    uint32_t timeout = svc->persistence_s > 65535 ? 65535 : svc->persistence_s;
    ds_buf_printf(t, "learn(table=%u,idle_timeout=%u,cookie=0x%llx,"
                  "eth_type=0x%x,NXM_NX_REG%d[],",
                  table(l, LOWER_T_PERSIST), timeout,
                  (unsigned long long) flowlb_cookie_learned(
                    FLOWLB_COOKIE_KIND_PERSIST, mark),
                  v6 ? 0x86dd : 0x800, LOWER_REG_SERVICE);
    const char *src = v6 ? "NXM_NX_IPV6_SRC" : "NXM_OF_IP_SRC";
    if (plen == full) {
        ds_buf_printf(t, "%s[],", src);
    } else {
        ds_buf_printf(t, "%s[%u..%u],", src, full - plen, full - 1);
    }
    ds_buf_printf(t, "load:0x%x->NXM_NX_REG%d[]),", mark, LOWER_REG_MARK);
}

/* learn(...) of a learn-mode entry: (service, 5-tuple) -> mark. */
static void
learn_sticky(struct lowering *l, struct ds_buf *t,
             const struct lb_service *svc, uint32_t mark)
{
    bool v6 = svc->vip.family == AF_INET6;
    const char *l4 = svc->proto == LB_PROTO_UDP ? "UDP" : "TCP";
    ds_buf_printf(t, "learn(table=%u,idle_timeout=%u,cookie=0x%llx,"
                  "eth_type=0x%x,nw_proto=%d,NXM_NX_REG%d[],"
                  "%s[],%s[],NXM_OF_%s_SRC[],NXM_OF_%s_DST[],"
                  "load:0x%x->NXM_NX_REG%d[]),",
                  table(l, LOWER_T_STICKY), sticky_idle(svc),
                  (unsigned long long) flowlb_cookie_learned(
                    FLOWLB_COOKIE_KIND_STICKY, mark),
                  v6 ? 0x86dd : 0x800, svc->proto == LB_PROTO_UDP ? 17 : 6,
                  LOWER_REG_SERVICE,
                  v6 ? "NXM_NX_IPV6_SRC" : "NXM_OF_IP_SRC",
                  v6 ? "NXM_NX_IPV6_DST" : "NXM_OF_IP_DST", l4, l4,
                  mark, LOWER_REG_MARK);
}

/* Appends "ct(commit,zone=Z,exec(set_field:0xMARK->ct_mark),table=T)",
 * the action that commits a connection with its real, to 'l->actions':
 * without printf, as it runs once per bucket (320,000 at 10k x 32). */
static void
put_ct_commit(struct lowering *l, uint32_t mark)
{
    ds_buf_put(&l->actions, "ct(commit,zone=");
    ds_buf_put_uint(&l->actions, l->opts->ct_zone, false);
    ds_buf_put(&l->actions, ",exec(set_field:0x");
    ds_buf_put_uint(&l->actions, mark, true);
    ds_buf_put(&l->actions, "->ct_mark),table=");
    ds_buf_put_uint(&l->actions, table(l, LOWER_T_FORWARD), false);
    ds_buf_put(&l->actions, ")");
}

/* Assign table, for one candidate real (or the sorry real) of a service
 * that uses it: the chosen mark is committed to conntrack (or, in learn
 * mode, learned per connection) and, unless sorry, learned as the client's
 * persistence entry; then forward. */
static void
add_assign_flow(struct lowering *l, size_t i, const struct lb_real *real,
                bool sorry)
{
    const struct lb_service *svc = &l->spec->services[i];
    uint32_t mark = lower_real_mark(&real->addr);
    bool v6 = svc->vip.family == AF_INET6;
    ds_buf_clear(&l->match);
    ds_buf_printf(&l->match, "%s%s,reg%d=%u,reg%d=0x%x",
                  lb_proto_name(svc->proto), v6 ? "6" : "", LOWER_REG_SERVICE,
                  l->service_ids[i], LOWER_REG_MARK, mark);
    ds_buf_clear(&l->actions);
    if (is_learn_mode(svc)) {
        learn_sticky(l, &l->actions, svc, mark);
    }
    if (svc->persistence_s && !sorry) {
        learn_persist(l, &l->actions, svc, mark);
    }
    if (is_learn_mode(svc)) {
        ds_buf_printf(&l->actions, "resubmit(,%u)", table(l, LOWER_T_FORWARD));
    } else {
        put_ct_commit(l, mark);
    }
    struct ir_flow *f = ir_add_flow(l->ir, table(l, LOWER_T_ASSIGN),
                                    PRIO_REAL, service_cookie(l, i),
                                    IR_ROLE_ASSIGN, l->match.s, l->actions.s);
    f->service = svc->name;
    f->loc = real->loc;
    f->mark = mark;
}

static void
add_bucket(struct lowering *l, size_t i, struct ir_group *g,
           const struct lb_real *real, uint16_t weight, bool standby,
           bool sorry)
{
    const struct lb_service *svc = &l->spec->services[i];
    uint32_t mark = lower_real_mark(&real->addr);
    ds_buf_clear(&l->actions);
    if (uses_assign(svc)) {
        ds_buf_printf(&l->actions, "load:0x%x->NXM_NX_REG%d[],resubmit(,%u)",
                      mark, LOWER_REG_MARK, table(l, LOWER_T_ASSIGN));
    } else {
        put_ct_commit(l, mark);
    }
    struct ir_bucket *b = ir_group_add_bucket(g, bucket_id_for(mark, g),
                                              weight, l->actions.s);
    b->loc = real->loc;
    lb_addr_format(&real->addr, b->real, sizeof b->real);
    b->mark = mark;
    b->spec_weight = real->weight;
    b->standby = standby;
    b->sorry = sorry;
}

/* The select group: one bucket per real that takes new connections; with
 * 'fo' only the highest-weight real(s) are active, the others standby
 * (in the IR, not in the emitted group); the sorry real is standby. */
static void
add_group(struct lowering *l, size_t i)
{
    const struct lb_service *svc = &l->spec->services[i];
    struct ir_group *g = ir_add_group(l->ir, group_id(l, i),
                                      hash_fields(svc, &l->scratch));
    g->service = svc->name;
    g->loc = svc->loc;
    g->service_id = l->service_ids[i];
    g->cookie = service_cookie(l, i);
    g->failover = svc->scheduler == LB_SCHED_FO;
    g->has_sorry = svc->has_sorry;
    g->persistence_s = svc->persistence_s > 65535 ? 65535
                       : svc->persistence_s;
    g->learn_mode = is_learn_mode(svc);
    g->sticky_idle_s = g->learn_mode ? sticky_idle(svc) : 0;

    uint32_t top = 0;
    for (size_t r = 0; r < svc->n_reals; r++) {
        top = svc->reals[r].weight > top ? svc->reals[r].weight : top;
    }
    size_t n_active = 0;
    uint32_t *want = malloc((svc->n_reals + 1) * sizeof *want);
    uint16_t *weights = malloc((svc->n_reals + 1) * sizeof *weights);
    for (size_t r = 0; r < svc->n_reals; r++) {
        uint32_t w = svc->reals[r].weight;
        if (w && (!g->failover || w == top)) {
            want[n_active++] = w;
        }
    }
    weights_solve(want, n_active, weights);
    size_t k = 0;
    for (size_t r = 0; r < svc->n_reals; r++) {
        const struct lb_real *real = &svc->reals[r];
        uint32_t w = real->weight;
        if (!w) {
            continue;           /* Drained: keeps its forward flow only. */
        }
        bool active = !g->failover || w == top;
        add_bucket(l, i, g, real, active ? weights[k++]
                                         : (w > 65535 ? 65535 : w),
                   !active, false);
        if (uses_assign(svc)) {
            add_assign_flow(l, i, real, false);
        }
    }
    if (svc->has_sorry) {
        add_bucket(l, i, g, &svc->sorry, 1, true, true);
        if (uses_assign(svc)) {
            add_assign_flow(l, i, &svc->sorry, true);
        }
    }
    if (uses_assign(svc)) {
        /* No mark (no persistence entry) or one of no candidate real: the
         * group chooses, and its bucket comes back here with a mark. */
        bool v6 = svc->vip.family == AF_INET6;
        ds_buf_clear(&l->match);
        ds_buf_printf(&l->match, "%s%s,reg%d=%u", lb_proto_name(svc->proto),
                      v6 ? "6" : "", LOWER_REG_SERVICE, l->service_ids[i]);
        ds_buf_clear(&l->actions);
        ds_buf_printf(&l->actions, "group:%u", group_id(l, i));
        struct ir_flow *f = ir_add_flow(l->ir, table(l, LOWER_T_ASSIGN),
                                        PRIO_ASSIGN_GROUP,
                                        service_cookie(l, i), IR_ROLE_ASSIGN,
                                        l->match.s, l->actions.s);
        f->service = svc->name;
        f->loc = svc->loc;
    }
    free(want);
    free(weights);
}

static struct ir_flow *
add_service_flow(struct lowering *l, size_t i, int t, uint16_t prio,
                 enum ir_flow_role role, const char *match,
                 const char *actions)
{
    const struct lb_service *svc = &l->spec->services[i];
    struct ir_flow *f = ir_add_flow(l->ir, table(l, t), prio,
                                    service_cookie(l, i), role, match,
                                    actions);
    f->service = svc->name;
    f->loc = svc->vip_loc;
    return f;
}

static int
compare_lent_flows(const void *a_, const void *b_, void *ir_)
{
    const struct ir_pipeline *ir = ir_;
    uint64_t a = ir->flows[*(const size_t *) a_].cookie;
    uint64_t b = ir->flows[*(const size_t *) b_].cookie;
    return (a > b) - (a < b);
}

static void
index_lent_flows(struct lowering *l)
{
    const struct ir_pipeline *ir = l->lender->ir;
    l->lent_flows = malloc((ir->n_flows + 1) * sizeof *l->lent_flows);
    if (!l->lent_flows) {
        abort();
    }
    for (size_t i = 0; i < ir->n_flows; i++) {
        if (ir_flow_is_own(&ir->flows[i], ir->flows[i].cookie)) {
            l->lent_flows[l->n_lent_flows++] = i;
        }
    }
    qsort_r(l->lent_flows, l->n_lent_flows, sizeof *l->lent_flows,
            compare_lent_flows, (void *) ir);
}

/* Copies service 'i''s group and flows from the lender's pipeline if the
 * service's text is unchanged there and it has the same id (so the same
 * cookie and group). */
static bool
copy_service(struct lowering *l, size_t i)
{
    const struct lower_lender *ln = l->lender;
    size_t k = ln ? ln->taken_from[i] : SIZE_MAX;
    if (k == SIZE_MAX) {
        return false;
    }
    const struct lb_service *svc = &l->spec->services[i];
    const struct lb_service *old = &ln->spec->services[k];
    const struct ir_group *og = ir_find_group(ln->ir, group_id(l, i));
    if (!og || !og->service || strcmp(og->service, old->name)) {
        return false;           /* Its id changed (a name now collides). */
    }
    int delta = svc->loc.line - old->loc.line;
    const char *file = svc->loc.file;
    uint64_t cookie = service_cookie(l, i);
    const struct ir_pipeline *oir = ln->ir;
    size_t lo = 0, hi = l->n_lent_flows;
    while (lo < hi) {           /* The first of its flows. */
        size_t mid = lo + (hi - lo) / 2;
        if (oir->flows[l->lent_flows[mid]].cookie < cookie) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    for (; lo < l->n_lent_flows
           && oir->flows[l->lent_flows[lo]].cookie == cookie; lo++) {
        size_t of = l->lent_flows[lo];
        struct ir_flow *f = ir_copy_flow(l->ir, &oir->flows[of], svc->name,
                                         file, delta);
        if (ln->flow_fp) {
            f->fingerprint = ln->flow_fp[of];
        }
    }
    struct ir_group *g = ir_copy_group(l->ir, og, svc->name, file, delta);
    if (ln->group_fp) {
        g->fingerprint = ln->group_fp[og - oir->groups];
    }
    l->n_copied++;
    return true;
}

static void add_service_own(struct lowering *, size_t i);

static void
add_service(struct lowering *l, size_t i)
{
    const struct lb_service *svc = &l->spec->services[i];

    /* What is shared with other services first: always made here. */
    if (svc->has_vip_mac) {
        add_responder(l, i);
    }
    if (svc->persistence_s || is_learn_mode(svc)) {
        l->need_assign = true;
        l->need_persist = l->need_persist || svc->persistence_s;
        l->need_sticky = l->need_sticky || is_learn_mode(svc);
    }
    if (svc->proto == LB_PROTO_UDP && !is_learn_mode(svc)
        && svc->udp_timeout_s > l->ir->udp_timeout_s) {
        if (l->ir->udp_timeout_s) {
            diag_warning(l->d, &svc->loc, "UDP services share conntrack "
                         "zone %u, whose UDP timeout is one value: using "
                         "the longest, %us", l->opts->ct_zone,
                         svc->udp_timeout_s);
        }
        l->ir->udp_timeout_s = svc->udp_timeout_s;
    }
    if (!copy_service(l, i)) {
        add_service_own(l, i);
    }
}

/* Service 'i''s own flows (its cookie) and its group. */
static void
add_service_own(struct lowering *l, size_t i)
{
    const struct lb_service *svc = &l->spec->services[i];
    uint16_t prio = service_priority(svc);
    uint32_t sid = l->service_ids[i];
    struct ir_flow *f;

    struct port_chunk chunks[MAX_PORT_CHUNKS];
    size_t n_chunks = port_chunks(svc, chunks);
    for (size_t c = 0; c < n_chunks; c++) {
        /* Client -> VIP. */
        ds_buf_clear(&l->match);
        l4_match(&l->match, svc, "dst", &chunks[c]);
        ds_buf_clear(&l->actions);
        if (is_learn_mode(svc)) {
            /* No conntrack: the 5-tuple's learned entry (or, failing that,
             * the client's persistence entry, or the group) picks the
             * real; the assign table refreshes the entries and forwards. */
            ds_buf_printf(&l->actions, "load:%u->NXM_NX_REG%d[],"
                          "load:0->NXM_NX_REG%d[],", sid, LOWER_REG_SERVICE,
                          LOWER_REG_MARK);
            if (svc->persistence_s) {
                ds_buf_printf(&l->actions, "resubmit(,%u),",
                              table(l, LOWER_T_PERSIST));
            }
            ds_buf_printf(&l->actions, "resubmit(,%u),resubmit(,%u)",
                          table(l, LOWER_T_STICKY), table(l, LOWER_T_ASSIGN));
            f = add_service_flow(l, i, LOWER_T_CLASSIFY, prio,
                                 IR_ROLE_CLASSIFY, l->match.s, l->actions.s);
            f->vip_answer = true;
            continue;
        }
        ds_buf_printf(&l->actions, "ct(zone=%u,table=%u)", l->opts->ct_zone,
                      table(l, LOWER_T_DISPATCH));
        f = add_service_flow(l, i, LOWER_T_CLASSIFY, prio, IR_ROLE_CLASSIFY,
                             l->match.s, l->actions.s);
        f->vip_answer = true;

        /* Unassigned connection -> the service's group (persistent: the
         * client's persistence entry first, through the assign table). */
        ds_buf_clear(&l->scratch);
        ds_buf_printf(&l->scratch, "ct_state=+trk-inv,ct_mark=0,%s",
                      l->match.s);
        ds_buf_clear(&l->actions);
        if (svc->persistence_s) {
            ds_buf_printf(&l->actions, "load:%u->NXM_NX_REG%d[],"
                          "load:0->NXM_NX_REG%d[],resubmit(,%u),resubmit(,%u)",
                          sid, LOWER_REG_SERVICE, LOWER_REG_MARK,
                          table(l, LOWER_T_PERSIST), table(l, LOWER_T_ASSIGN));
        } else {
            ds_buf_printf(&l->actions, "group:%u", group_id(l, i));
        }
        add_service_flow(l, i, LOWER_T_DISPATCH, prio, IR_ROLE_DISPATCH,
                         l->scratch.s, l->actions.s);
        if (svc->persistence_s) {
            /* Every packet of an assigned connection looks its client's
             * entry up, which keeps the entry alive while the client has
             * traffic (IPVS keeps a template while it has connections). */
            ds_buf_clear(&l->scratch);
            ds_buf_printf(&l->scratch, "ct_state=+trk-inv,%s", l->match.s);
            ds_buf_clear(&l->actions);
            ds_buf_printf(&l->actions, "load:%u->NXM_NX_REG%d[],resubmit(,%u),"
                          "resubmit(,%u)", sid, LOWER_REG_SERVICE,
                          table(l, LOWER_T_PERSIST),
                          table(l, LOWER_T_FORWARD));
            add_service_flow(l, i, LOWER_T_DISPATCH, prio - 1,
                             IR_ROLE_LOOKUP, l->scratch.s, l->actions.s);
        }

        /* Real -> client replies (source VIP:port) through the same zone,
         * so conntrack sees both directions (kernel conntrack marks
         * one-sided TCP invalid; userspace stops advancing the window). */
        ds_buf_clear(&l->match);
        l4_match(&l->match, svc, "src", &chunks[c]);
        ds_buf_clear(&l->actions);
        ds_buf_printf(&l->actions, "ct(zone=%u,table=%u)", l->opts->ct_zone,
                      table(l, LOWER_T_REPLY));
        add_service_flow(l, i, LOWER_T_CLASSIFY, prio, IR_ROLE_REPLY,
                         l->match.s, l->actions.s);
    }
    add_group(l, i);
}

/* What the forward flow of 'real' does, into 'l->actions'. */
static void
forward_actions(struct lowering *l, const struct lb_real *real)
{
    char mac[18];
    lb_mac_format(&real->mac, mac, sizeof mac);
    ds_buf_clear(&l->actions);
    ds_buf_printf(&l->actions, "set_field:%s->eth_dst,", mac);
    if (real->port) {
        ds_buf_printf(&l->actions, "output:%s", real->port);
    } else {
        ds_buf_printf(&l->actions, "NORMAL");
    }
}

/* Forward flow(s) of one real: by conntrack mark, and for reals of
 * learn-mode services (no conntrack) also by the mark register. Shared by
 * every service that uses the real (check.c guarantees they agree on MAC
 * and port). */
static void
add_forward(struct lowering *l, size_t start, const struct lb_real *real,
            bool by_reg)
{
    uint32_t mark = lower_real_mark(&real->addr);
    struct mark_owner *owner = mark_owner_get(&l->marks, mark);
    if (!owner->real) {
        mark_owner_set(owner, real);
    } else if ((owner->has_reg || !by_reg)
               && same_forwarding(owner, real)) {
        return;                 /* Its flows exist already. */
    }
    owner->has_reg = owner->has_reg || by_reg;
    forward_actions(l, real);
    for (int pass = 0; pass < (by_reg ? 2 : 1); pass++) {
        ds_buf_clear(&l->match);
        if (pass) {
            ds_buf_printf(&l->match, "reg%d=0x%x", LOWER_REG_MARK, mark);
        } else {
            ds_buf_printf(&l->match, "ct_mark=0x%x", mark);
        }
        bool seen = false;
        size_t found = flow_index_find(&l->forwards, l->ir, l->match.s);
        if (found != SIZE_MAX) {
            struct ir_flow *flow = &l->ir->flows[found];
            {
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
            struct ir_flow *f = ir_add_flow(l->ir,
                                            table(l, LOWER_T_FORWARD),
                                            pass ? PRIO_REAL_REG : PRIO_REAL,
                                            FLOWLB_COOKIE_MAGIC,
                                            IR_ROLE_FORWARD, l->match.s,
                                            l->actions.s);
            f->loc = real->loc;
            f->mark = mark;
            flow_index_insert(&l->forwards, l->ir, f - l->ir->flows);
        }
    }
}

static void
add_forward_flows(struct lowering *l)
{
    size_t start = l->ir->n_flows;
    for (size_t i = 0; i < l->spec->n_services; i++) {
        const struct lb_service *svc = &l->spec->services[i];
        bool by_reg = is_learn_mode(svc);
        for (size_t r = 0; r < svc->n_reals; r++) {
            add_forward(l, start, &svc->reals[r], by_reg);
        }
        if (svc->has_sorry) {
            add_forward(l, start, &svc->sorry, by_reg);
        }
    }
}

static void
add_fixed_flows(struct lowering *l)
{
    uint64_t cookie = FLOWLB_COOKIE_MAGIC;
    ir_add_flow(l->ir, table(l, LOWER_T_CLASSIFY), PRIO_MISS, cookie,
                IR_ROLE_DEFAULT, "", miss_action(l, &l->actions));
    ir_add_flow(l->ir, table(l, LOWER_T_DISPATCH), PRIO_INVALID, cookie,
                IR_ROLE_DEFAULT, "ct_state=+trk+inv", "drop");
    ds_buf_clear(&l->actions);
    ds_buf_printf(&l->actions, "goto_table:%u", table(l, LOWER_T_FORWARD));
    ir_add_flow(l->ir, table(l, LOWER_T_DISPATCH), PRIO_ASSIGNED, cookie,
                IR_ROLE_DEFAULT, "ct_state=+trk-inv", l->actions.s);
    ir_add_flow(l->ir, table(l, LOWER_T_DISPATCH), PRIO_MISS, cookie,
                IR_ROLE_DEFAULT, "", "drop");
    ir_add_flow(l->ir, table(l, LOWER_T_FORWARD), PRIO_MISS, cookie,
                IR_ROLE_DEFAULT, "", "drop");
    ir_add_flow(l->ir, table(l, LOWER_T_REPLY), PRIO_MISS, cookie,
                IR_ROLE_DEFAULT, "", miss_action(l, &l->actions));
    ir_add_flow(l->ir, table(l, LOWER_T_ND), PRIO_MISS, cookie,
                IR_ROLE_DEFAULT, "", "drop");
    if (l->need_nd) {
        /* The second step of every VIP's advertisement: the responder set
         * the vip-mac as Ethernet source, which is the target link-layer
         * address. */
        ir_add_flow(l->ir, table(l, LOWER_T_ND), PRIO_ND, cookie,
                    IR_ROLE_DEFAULT, "icmp6,icmp_type=136,icmp_code=0",
                    "move:NXM_OF_ETH_SRC[]->NXM_NX_ND_TLL[],IN_PORT");
        /* A solicitation from "::" (now the destination) was another
         * host's duplicate address detection for a VIP: RFC 4861 7.2.4
         * wants the owner's advertisement unsolicited (override only) and
         * to all nodes, or that host never sees it and takes the VIP. */
        ir_add_flow(l->ir, table(l, LOWER_T_ND), PRIO_ND_DAD, cookie,
                    IR_ROLE_DEFAULT,
                    "icmp6,ipv6_dst=::,icmp_type=136,icmp_code=0",
                    "set_field:33:33:00:00:00:01->eth_dst,"
                    "set_field:ff02::1->ipv6_dst,"
                    "set_field:0x20000000->nd_reserved,"
                    "move:NXM_OF_ETH_SRC[]->NXM_NX_ND_TLL[],IN_PORT");
    }
    /* Lookups that miss leave the mark register 0; the caller goes on. */
    if (l->need_persist) {
        ir_add_flow(l->ir, table(l, LOWER_T_PERSIST), PRIO_MISS, cookie,
                    IR_ROLE_DEFAULT, "", "drop");
    }
    if (l->need_sticky) {
        ir_add_flow(l->ir, table(l, LOWER_T_STICKY), PRIO_MISS, cookie,
                    IR_ROLE_DEFAULT, "", "drop");
    }
    if (l->need_assign) {
        ir_add_flow(l->ir, table(l, LOWER_T_ASSIGN), PRIO_MISS, cookie,
                    IR_ROLE_DEFAULT, "", "drop");
    }
}

bool
lower_service_alone(const struct lb_spec *spec, size_t i,
                    uint32_t service_id, const struct lower_options *opts,
                    struct ir_pipeline *ir, struct diag *d)
{
    struct lowering l = {
        .spec = spec, .opts = opts, .ir = ir, .d = d,
        .service_ids = calloc(spec->n_services + 1, sizeof(uint32_t)),
    };
    if (!l.service_ids) {
        abort();
    }
    size_t errors_before = d->n_errors;
    l.service_ids[i] = service_id;
    add_service_own(&l, i);
    ir_sort(ir);
    lowering_free(&l);
    return d->n_errors == errors_before;
}

/* ---- services appended to a lowered spec -------------------------------- */

bool
lower_appended_id(const struct ir_pipeline *running, const char *name,
                  uint32_t *id)
{
    /* Free in the running ids, the home slot was free all through their
     * probing (probes only take slots), so none passed it: a whole
     * lowering gives the new name its home slot and every other name the
     * id it has. */
    uint32_t home = home_id(name);
    if (!home || ir_find_group(running, FLOWLB_GROUP_BASE | home)) {
        return false;
    }
    *id = home;
    return true;
}

static bool
has_table(const struct ir_pipeline *ir, uint8_t id)
{
    for (size_t i = 0; i < ir->n_tables; i++) {
        if (ir->tables[i].id == id) {
            return true;
        }
    }
    return false;
}

/* Whether 'running' has, for service 'i' of 'l', everything shared that
 * a whole lowering would make for it besides its responder and forward
 * flows: its optional tables with their miss flows, the nd table's
 * flows, a UDP timeout at least its own. */
static bool
running_covers(struct lowering *l, const struct ir_pipeline *running,
               size_t i)
{
    const struct lb_service *svc = &l->spec->services[i];
    if (is_learn_mode(svc)) {
        return false;   /* Forward flows by register, the sticky table. */
    }
    if (svc->persistence_s
        && (!has_table(running, table(l, LOWER_T_PERSIST))
            || !has_table(running, table(l, LOWER_T_ASSIGN)))) {
        return false;
    }
    if (svc->proto == LB_PROTO_UDP
        && svc->udp_timeout_s > running->udp_timeout_s) {
        return false;
    }
    if (svc->has_vip_mac && svc->vip.family == AF_INET6
        && ir_find_flow(running, table(l, LOWER_T_ND), PRIO_ND,
                        "icmp6,icmp_type=136,icmp_code=0") == SIZE_MAX) {
        return false;
    }
    return !(svc->has_vip_mac && is_vip_prefix(svc));
}

/* Service 'i''s responder: a sharer of the running one for its VIP if
 * there is one (which must answer with the same MAC), else made in
 * 'l->ir' (or shared with another appended service's there). */
static bool
add_responder_appended(struct lowering *l, const struct ir_pipeline *running,
                       size_t i, struct lower_sharer **sharers,
                       size_t *n_sharers)
{
    responder_text(l, i);
    size_t r = ir_find_flow(running, table(l, LOWER_T_CLASSIFY),
                            PRIO_RESPONDER, l->match.s);
    if (r == SIZE_MAX) {
        add_responder(l, i);
        return true;
    }
    if (strcmp(running->flows[r].actions, l->actions.s)) {
        return false;
    }
    *sharers = realloc(*sharers, (*n_sharers + 1) * sizeof **sharers);
    if (!*sharers) {
        abort();
    }
    (*sharers)[(*n_sharers)++] = (struct lower_sharer) {
        .flow = r, .service = l->spec->services[i].name,
    };
    return true;
}

/* The forward flow of 'real' of an appended service: the running one if
 * its mark has one (doing the same: one address has one MAC and port in
 * every service, see check.c), else made in 'l->ir'. */
static bool
add_forward_appended(struct lowering *l, const struct ir_pipeline *running,
                     const struct lb_real *real)
{
    if (!real->has_mac) {
        return false;
    }
    forward_actions(l, real);
    ds_buf_clear(&l->match);
    ds_buf_printf(&l->match, "ct_mark=0x%x", lower_real_mark(&real->addr));
    size_t f = ir_find_flow(running, table(l, LOWER_T_FORWARD), PRIO_REAL,
                            l->match.s);
    if (f != SIZE_MAX) {
        return !strcmp(running->flows[f].actions, l->actions.s);
    }
    add_forward(l, 0, real, false);
    return true;
}

bool
lower_services_appended(const struct lb_spec *added,
                        const struct lower_options *opts,
                        const struct ir_pipeline *running,
                        struct ir_pipeline *out,
                        struct lower_sharer **sharers, size_t *n_sharers,
                        struct diag *d)
{
    size_t n = added->n_services;
    struct lowering l = {
        .spec = added, .opts = opts, .ir = out, .d = d,
        .service_ids = calloc(n + 1, sizeof(uint32_t)),
    };
    if (!l.service_ids) {
        abort();
    }
    *sharers = NULL;
    *n_sharers = 0;
    size_t errors_before = d->n_errors;
    bool ok = running->n_groups + n < FLOWLB_GROUP_SPAN - 1;
    for (size_t i = 0; ok && i < n; i++) {
        const struct lb_service *svc = &added->services[i];
        ok = (lower_appended_id(running, svc->name, &l.service_ids[i])
              && running_covers(&l, running, i));
        for (size_t k = 0; ok && k < i; k++) {
            ok = l.service_ids[k] != l.service_ids[i];
        }
        if (ok && svc->has_vip_mac) {
            ok = add_responder_appended(&l, running, i, sharers, n_sharers);
        }
        if (ok) {
            add_service_own(&l, i);
        }
        for (size_t r = 0; ok && r < svc->n_reals; r++) {
            ok = add_forward_appended(&l, running, &svc->reals[r]);
        }
        if (ok && svc->has_sorry) {
            ok = add_forward_appended(&l, running, &svc->sorry);
        }
    }
    ok = ok && d->n_errors == errors_before;
    if (ok) {
        ir_sort(out);
    } else {
        free(*sharers);
        *sharers = NULL;
        *n_sharers = 0;
    }
    lowering_free(&l);
    return ok;
}

bool
lower_spec(const struct lb_spec *spec, const struct lower_options *opts,
           struct ir_pipeline *ir, struct diag *d)
{
    size_t n_copied;
    return lower_spec_reusing(spec, opts, ir, d, NULL, &n_copied);
}

bool
lower_spec_reusing(const struct lb_spec *spec,
                   const struct lower_options *opts, struct ir_pipeline *ir,
                   struct diag *d, const struct lower_lender *lender,
                   size_t *n_copied)
{
    struct lowering l = {
        .spec = spec, .opts = opts, .ir = ir, .d = d,
        .service_ids = calloc(spec->n_services + 1, sizeof(uint32_t)),
        .lender = lender && lender->taken_from ? lender : NULL,
    };
    if (l.lender) {
        index_lent_flows(&l);
    }
    size_t errors_before = d->n_errors;
    struct location none = { 0 };
    ir->ct_zone = opts->ct_zone;
    if (opts->table_base > 254 - (LOWER_N_TABLES - 1)) {
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
        ir_add_table(ir, table(&l, LOWER_T_CLASSIFY), "classify");
        ir_add_table(ir, table(&l, LOWER_T_DISPATCH), "dispatch");
        ir_add_table(ir, table(&l, LOWER_T_FORWARD), "forward");
        ir_add_table(ir, table(&l, LOWER_T_REPLY), "reply");
        ir_add_table(ir, table(&l, LOWER_T_ND), "nd");
        for (size_t i = 0; i < spec->n_services; i++) {
            add_service(&l, i);
        }
        if (l.need_persist) {
            ir_add_table(ir, table(&l, LOWER_T_PERSIST), "persist");
        }
        if (l.need_sticky) {
            ir_add_table(ir, table(&l, LOWER_T_STICKY), "sticky");
        }
        if (l.need_assign) {
            ir_add_table(ir, table(&l, LOWER_T_ASSIGN), "assign");
        }
        add_forward_flows(&l);
        add_fixed_flows(&l);
        ir_sort(ir);
    }
    *n_copied = l.n_copied;
    lowering_free(&l);
    return d->n_errors == errors_before;
}
