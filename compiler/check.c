/* Semantic checks of a whole spec, after either front end.
 *
 * The front ends only know one statement at a time; everything that needs
 * the whole spec (duplicates, clashes between services, a real shared by
 * several services) or that a later phase relies on (families, MACs, the
 * limits of one OpenFlow message) is checked here. Every problem is
 * reported, not just the first, and reported in source order: problems are
 * queued locally, sorted by location, then handed to the diag, so the first
 * line an operator reads is the first problem in the file.
 *
 * Cross-item checks sort index arrays instead of comparing every pair, so a
 * spec with tens of thousands of services and reals stays fast.
 */
#include "check.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "values.h"

/* A select group must fit one 64 KiB OpenFlow message (about 1,364 small
 * buckets, see ovs-field-notes); keep a margin for the compiler's weight
 * construction. */
#define LB_MAX_REALS_PER_SERVICE 1000
#define LB_MAX_WEIGHT 65535

/* One queued diagnostic. */
struct pending {
    enum diag_severity severity;
    struct location loc;
    char *message;
    size_t seq;                 /* Report order, for a stable sort. */
};

struct checker {
    const struct lb_spec *spec;
    struct pending *items;
    size_t n, allocated;
};

static void
report(struct checker *c, enum diag_severity sev, const struct location *loc,
       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
report(struct checker *c, enum diag_severity sev, const struct location *loc,
       const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    int len = vsnprintf(NULL, 0, fmt, args);
    va_end(args);
    char *msg = len >= 0 ? malloc((size_t) len + 1) : NULL;
    if (!msg) {
        abort();
    }
    va_start(args, fmt);
    vsnprintf(msg, (size_t) len + 1, fmt, args);
    va_end(args);
    if (c->n == c->allocated) {
        c->allocated = c->allocated ? 2 * c->allocated : 16;
        c->items = realloc(c->items, c->allocated * sizeof *c->items);
        if (!c->items) {
            abort();
        }
    }
    struct pending *p = &c->items[c->n];
    p->severity = sev;
    p->loc = *loc;
    p->message = msg;
    p->seq = c->n++;
}

#define ERROR(C, LOC, ...) report(C, DIAG_ERROR, LOC, __VA_ARGS__)
#define WARNING(C, LOC, ...) report(C, DIAG_WARNING, LOC, __VA_ARGS__)

static int
compare_pending(const void *a_, const void *b_)
{
    const struct pending *a = a_, *b = b_;
    /* Unknown lines (0) go last; otherwise file, line, column, report
     * order. */
    if ((a->loc.line == 0) != (b->loc.line == 0)) {
        return a->loc.line == 0 ? 1 : -1;
    }
    int f = strcmp(a->loc.file ? a->loc.file : "",
                   b->loc.file ? b->loc.file : "");
    if (f) {
        return f;
    }
    if (a->loc.line != b->loc.line) {
        return a->loc.line < b->loc.line ? -1 : 1;
    }
    if (a->loc.col != b->loc.col) {
        return a->loc.col < b->loc.col ? -1 : 1;
    }
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* "FILE:LINE:COL" of 'loc', for messages that cite an earlier definition. */
static const char *
where(const struct location *loc, char *buf, size_t size)
{
    snprintf(buf, size, "%s:%d:%d", loc->file ? loc->file : "<spec>",
             loc->line, loc->col);
    return buf;
}

#define WHERE_LEN 512

static const char *
name_of(const struct lb_service *s)
{
    return s->name ? s->name : "";
}

static const char *
family_name(int family)
{
    return family == AF_INET ? "IPv4" : family == AF_INET6 ? "IPv6"
                                                           : "of no family";
}

/* Why 'a' cannot be a VIP or a real's address, or NULL if it can. */
static const char *
addr_problem(const struct lb_addr *a)
{
    if (a->family == AF_INET) {
        uint32_t ip = ntohl(a->v4.s_addr);
        if (ip == 0) {
            return "the unspecified address";
        } else if ((ip >> 24) == 0) {
            return "in 0.0.0.0/8 (\"this network\", not a destination)";
        } else if ((ip >> 24) == 127) {
            return "a loopback address";
        } else if ((ip >> 28) == 0xe) {
            return "a multicast address";
        } else if (ip == 0xffffffff) {
            return "the broadcast address";
        }
    } else if (a->family == AF_INET6) {
        if (IN6_IS_ADDR_UNSPECIFIED(&a->v6)) {
            return "the unspecified address";
        } else if (IN6_IS_ADDR_LOOPBACK(&a->v6)) {
            return "a loopback address";
        } else if (IN6_IS_ADDR_MULTICAST(&a->v6)) {
            return "a multicast address";
        } else if (IN6_IS_ADDR_V4MAPPED(&a->v6)) {
            /* Never on the wire as an IPv6 destination. */
            return "an IPv4-mapped IPv6 address (write the IPv4 address)";
        }
    } else {
        return "not an address (no family)";
    }
    return NULL;
}

/* Why 'm' cannot be a unicast destination / source MAC, or NULL. */
static const char *
mac_problem(const struct lb_mac *m)
{
    static const struct lb_mac broadcast = {
        { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
    if (!memcmp(m, &broadcast, sizeof *m)) {
        return "the broadcast MAC";
    } else if (lb_mac_is_multicast(m)) {
        return "a multicast MAC (low bit of the first octet set)";
    } else if (lb_mac_is_zero(m)) {
        return "all zeros";
    }
    return NULL;
}

static int
compare_addr(const struct lb_addr *a, const struct lb_addr *b)
{
    if (a->family != b->family) {
        return a->family < b->family ? -1 : 1;
    }
    if (a->family == AF_INET) {
        return memcmp(&a->v4, &b->v4, sizeof a->v4);
    } else if (a->family == AF_INET6) {
        return memcmp(&a->v6, &b->v6, sizeof a->v6);
    }
    return 0;
}

/* OpenFlow ports are equal if both are absent, both the same number (as
 * numbers: "3" and "03" are one port) or the same name. */
static bool
ports_equal(const char *a, const char *b)
{
    if (!a || !b) {
        return !a && !b;
    }
    if (!strcmp(a, b)) {
        return true;            /* The common case, without strtoull. */
    }
    char *end_a, *end_b;
    unsigned long long na = strtoull(a, &end_a, 10);
    unsigned long long nb = strtoull(b, &end_b, 10);
    if (*a && *b && !*end_a && !*end_b) {
        return na == nb;
    }
    return !strcmp(a, b);
}

static const char *
port_text(const char *port)
{
    return port ? port : "NORMAL (no port)";
}

static void
format_duration(uint32_t ms, char *buf, size_t size)
{
    if (ms && ms % 60000 == 0) {
        snprintf(buf, size, "%um", ms / 60000);
    } else if (ms && ms % 1000 == 0) {
        snprintf(buf, size, "%us", ms / 1000);
    } else {
        snprintf(buf, size, "%ums", ms);
    }
}

/* The VIP's prefix length: its full length for a single address (a model
 * built in code may leave vip_prefix_len 0). */
static unsigned int
vip_len(const struct lb_service *s)
{
    unsigned int bits = lb_addr_bits(s->vip.family);
    return s->vip_prefix_len && s->vip_prefix_len < bits ? s->vip_prefix_len
                                                          : bits;
}

static bool
vip_is_prefix(const struct lb_service *s)
{
    return vip_len(s) < lb_addr_bits(s->vip.family);
}

/* The service's destination ports as a range; port 0 is all of them. */
static uint16_t
port_lo(const struct lb_service *s)
{
    return s->port;
}

static uint16_t
port_hi(const struct lb_service *s)
{
    return s->port == 0 ? 65535 : s->port_max > s->port ? s->port_max
                                                        : s->port;
}

static bool
ports_overlap(const struct lb_service *a, const struct lb_service *b)
{
    return port_lo(a) <= port_hi(b) && port_lo(b) <= port_hi(a);
}

/* "10.0.0.1" or "10.0.0.0/24". */
static void
format_vip(const struct lb_service *s, char *buf, size_t size)
{
    char addr[64];
    lb_addr_format(&s->vip, addr, sizeof addr);
    if (vip_is_prefix(s)) {
        snprintf(buf, size, "%s/%u", addr, vip_len(s));
    } else {
        snprintf(buf, size, "%s", addr);
    }
}

/* "port 80", "ports 8000-8100", "all ports". */
static void
format_ports(const struct lb_service *s, char *buf, size_t size)
{
    if (s->port == 0) {
        snprintf(buf, size, "all ports");
    } else if (port_hi(s) > s->port) {
        snprintf(buf, size, "ports %u-%u", (unsigned) s->port,
                 (unsigned) port_hi(s));
    } else {
        snprintf(buf, size, "port %u", (unsigned) s->port);
    }
}

/* Whether a/alen and b/blen share an address (one contains the other). */
static bool
prefixes_overlap(const struct lb_addr *a, unsigned int alen,
                 const struct lb_addr *b, unsigned int blen)
{
    if (a->family != b->family) {
        return false;
    }
    unsigned int len = alen < blen ? alen : blen;
    struct lb_addr ma, mb;
    lb_addr_mask(a, len, &ma);
    lb_addr_mask(b, len, &mb);
    return lb_addr_equal(&ma, &mb);
}

/* Why prefix 'a'/'len' cannot be a VIP prefix (it overlaps addresses that
 * are never a destination), or NULL. 'buf' receives the message. */
static const char *
prefix_problem(const struct lb_addr *a, unsigned int len, char *buf,
               size_t size)
{
    static const struct { int family; const char *net; unsigned int len;
                          const char *what; } bad[] = {
        { AF_INET, "0.0.0.0", 8, "\"this network\" (0.0.0.0/8)" },
        { AF_INET, "127.0.0.0", 8, "loopback addresses (127.0.0.0/8)" },
        { AF_INET, "224.0.0.0", 4, "multicast addresses (224.0.0.0/4)" },
        { AF_INET, "255.255.255.255", 32, "the broadcast address" },
        { AF_INET6, "::", 128, "the unspecified address (::)" },
        { AF_INET6, "::1", 128, "the loopback address (::1)" },
        { AF_INET6, "ff00::", 8, "multicast addresses (ff00::/8)" },
        { AF_INET6, "::ffff:0.0.0.0", 96,
          "IPv4-mapped addresses (::ffff:0:0/96)" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct lb_addr net;
        if (bad[i].family != a->family || lb_parse_addr(bad[i].net, &net)) {
            continue;
        }
        if (prefixes_overlap(a, len, &net, bad[i].len)) {
            snprintf(buf, size, "overlaps %s", bad[i].what);
            return buf;
        }
    }
    return NULL;
}

/* ---- duplicate service names ------------------------------------------ */

static const struct lb_spec *sort_spec;  /* For the qsort comparators. */

static int
compare_service_names(const void *a_, const void *b_)
{
    size_t a = *(const size_t *) a_, b = *(const size_t *) b_;
    int r = strcmp(name_of(&sort_spec->services[a]),
                   name_of(&sort_spec->services[b]));
    return r ? r : (a < b ? -1 : a > b);
}

/* first[i] = index of the first service with the same name as service i
 * (i itself if it is the first). */
static void
find_duplicate_names(const struct lb_spec *spec, size_t *order,
                     size_t *first)
{
    for (size_t i = 0; i < spec->n_services; i++) {
        order[i] = i;
    }
    sort_spec = spec;
    qsort(order, spec->n_services, sizeof *order, compare_service_names);
    for (size_t k = 0; k < spec->n_services; k++) {
        size_t i = order[k];
        if (k && !strcmp(name_of(&spec->services[i]),
                         name_of(&spec->services[order[k - 1]]))) {
            first[i] = first[order[k - 1]];
        } else {
            first[i] = i;
        }
    }
}

/* ---- VIP / protocol / port clashes ------------------------------------ */

static int
compare_vips(const void *a_, const void *b_)
{
    size_t a = *(const size_t *) a_, b = *(const size_t *) b_;
    const struct lb_service *sa = &sort_spec->services[a];
    const struct lb_service *sb = &sort_spec->services[b];
    int r = compare_addr(&sa->vip, &sb->vip);
    if (r) {
        return r;
    }
    if (sa->proto != sb->proto) {
        return sa->proto < sb->proto ? -1 : 1;
    }
    if (sa->port != sb->port) {
        return sa->port < sb->port ? -1 : 1;
    }
    return a < b ? -1 : a > b;
}

static bool
same_vip_proto(const struct lb_service *a, const struct lb_service *b)
{
    return !compare_addr(&a->vip, &b->vip) && a->proto == b->proto;
}

/* Records that services i and j overlap: the later one clashes with the
 * earlier one, and clash[] keeps the earliest. */
static void
note_clash(size_t *clash, size_t i, size_t j)
{
    size_t later = i > j ? i : j, earlier = i > j ? j : i;
    if (earlier < clash[later]) {
        clash[later] = earlier;
    }
}

/* Single-address services of one (VIP, protocol) group, order[start..end)
 * sorted by first port: each pair whose port ranges overlap. Scans only as
 * far as a range can reach, so disjoint single ports stay linear. */
static void
find_port_clashes(const struct lb_spec *spec, const size_t *order,
                  size_t start, size_t end, size_t *clash)
{
    for (size_t k = start; k < end; k++) {
        const struct lb_service *a = &spec->services[order[k]];
        if (vip_is_prefix(a)) {
            continue;
        }
        for (size_t m = k + 1; m < end; m++) {
            const struct lb_service *b = &spec->services[order[m]];
            if (port_lo(b) > port_hi(a)) {
                break;          /* Sorted by first port: none further. */
            }
            if (!vip_is_prefix(b)) {
                note_clash(clash, order[k], order[m]);
            }
        }
    }
}

/* clash[i] = the earliest service before i whose VIP/protocol/ports
 * overlap service i's (port 0 overlaps every port; a prefix overlaps the
 * addresses it holds), or SIZE_MAX. Leaves in 'order' the services that
 * have a VIP, sorted by VIP, and returns their number. */
static size_t
find_vip_clashes(const struct lb_spec *spec, size_t *order, size_t *clash)
{
    size_t n = 0, n_prefixes = 0;
    for (size_t i = 0; i < spec->n_services; i++) {
        clash[i] = SIZE_MAX;
        if (spec->services[i].has_vip) {
            order[n++] = i;
            n_prefixes += vip_is_prefix(&spec->services[i]);
        }
    }
    sort_spec = spec;
    qsort(order, n, sizeof *order, compare_vips);

    /* Single addresses: groups of equal (VIP, protocol), ports ascending. */
    for (size_t start = 0; start < n; ) {
        const struct lb_service *head = &spec->services[order[start]];
        size_t end = start + 1;
        while (end < n && same_vip_proto(head, &spec->services[order[end]])) {
            end++;
        }
        find_port_clashes(spec, order, start, end, clash);
        start = end;
    }

    /* Prefixes (few, as IPVS firewall-mark services are): against every
     * service. */
    for (size_t k = 0; n_prefixes && k < n; k++) {
        const struct lb_service *p = &spec->services[order[k]];
        if (!vip_is_prefix(p)) {
            continue;
        }
        for (size_t m = 0; m < n; m++) {
            const struct lb_service *q = &spec->services[order[m]];
            if (m != k && p->proto == q->proto && ports_overlap(p, q)
                && prefixes_overlap(&p->vip, vip_len(p), &q->vip,
                                    vip_len(q))) {
                note_clash(clash, order[k], order[m]);
            }
        }
    }
    return n;
}

/* The switch answers ARP / ND for a VIP with one MAC, whatever the
 * protocol and port: mac_first[i] = the earliest service on the same VIP
 * address that declares a different vip-mac than service i, or SIZE_MAX.
 * 'order' holds the 'n' services with a VIP, sorted by VIP. */
static void
find_vip_mac_conflicts(const struct lb_spec *spec, const size_t *order,
                       size_t n, size_t *mac_first)
{
    for (size_t i = 0; i < spec->n_services; i++) {
        mac_first[i] = SIZE_MAX;
    }
    for (size_t start = 0; start < n; ) {
        const struct lb_service *head = &spec->services[order[start]];
        size_t end = start, first = SIZE_MAX;
        for (; end < n && !compare_addr(&head->vip,
                                        &spec->services[order[end]].vip);
             end++) {
            if (spec->services[order[end]].has_vip_mac
                && order[end] < first) {
                first = order[end];
            }
        }
        for (size_t k = start; first != SIZE_MAX && k < end; k++) {
            const struct lb_service *s = &spec->services[order[k]];
            if (s->has_vip_mac && order[k] != first
                && memcmp(&s->vip_mac, &spec->services[first].vip_mac,
                          sizeof s->vip_mac)) {
                mac_first[order[k]] = first;
            }
        }
        start = end;
    }
}

/* ---- reals shared between services ------------------------------------ */

/* A real in the spec: a service's real, or its sorry server. */
struct real_ref {
    uint32_t svc;
    uint32_t real;              /* SORRY: the service's sorry server. */
};

#define SORRY UINT32_MAX

static const struct lb_real *
ref_real(const struct lb_spec *spec, const struct real_ref *ref)
{
    const struct lb_service *svc = &spec->services[ref->svc];
    return ref->real == SORRY ? &svc->sorry : &svc->reals[ref->real];
}

/* One address seen among the reals: where it was first given, and where it
 * was first given in the last service that had it. */
struct addr_slot {
    uint64_t hi, lo;            /* The address as two big-endian halves. */
    int family;                 /* 0: empty slot. */
    struct real_ref first;
    struct real_ref svc_first;
    /* The first real's forwarding, copied: comparing with it then reads no
     * other part of the spec (a cache miss per real at 300k reals). */
    bool has_mac;
    bool port_inline;           /* 'port' holds the whole port text. */
    struct lb_mac mac;
    const char *port_text;      /* The first real's port, or NULL. */
    char port[16];
};

/* Open addressing by address, grown at half full: one pass over 300k reals
 * instead of sorting them (it was most of the checks' time at 10k x 32). */
struct addr_table {
    struct addr_slot *slots;
    size_t mask, n;
};

static void
addr_key(const struct lb_addr *a, uint64_t *hi, uint64_t *lo)
{
    *hi = *lo = 0;
    if (a->family == AF_INET) {
        *lo = ntohl(a->v4.s_addr);
    } else if (a->family == AF_INET6) {
        for (int i = 0; i < 8; i++) {
            *hi = (*hi << 8) | a->v6.s6_addr[i];
            *lo = (*lo << 8) | a->v6.s6_addr[i + 8];
        }
    }
}

static size_t
addr_hash(uint64_t hi, uint64_t lo, int family)
{
    uint64_t h = (hi * 0x9e3779b97f4a7c15ULL) ^ lo ^ (uint64_t) family;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (size_t) h;
}

static struct addr_slot *
addr_slot_find(struct addr_slot *slots, size_t mask, uint64_t hi,
               uint64_t lo, int family)
{
    size_t i = addr_hash(hi, lo, family) & mask;
    while (slots[i].family
           && (slots[i].family != family || slots[i].hi != hi
               || slots[i].lo != lo)) {
        i = (i + 1) & mask;
    }
    return &slots[i];
}

/* The slot of the address (family never 0 here: see the caller); an
 * empty one (family 0) if the address is new. */
static struct addr_slot *
addr_table_get(struct addr_table *t, uint64_t hi, uint64_t lo, int family)
{
    if (2 * (t->n + 1) > t->mask + 1) {
        size_t mask = 2 * (t->mask + 1) - 1;
        struct addr_slot *slots = calloc(mask + 1, sizeof *slots);
        if (!slots) {
            abort();
        }
        for (size_t i = 0; t->slots && i <= t->mask; i++) {
            const struct addr_slot *old = &t->slots[i];
            if (old->family) {
                *addr_slot_find(slots, mask, old->hi, old->lo,
                                old->family) = *old;
            }
        }
        free(t->slots);
        t->slots = slots;
        t->mask = mask;
    }
    return addr_slot_find(t->slots, t->mask, hi, lo, family);
}

/* Compares the real at 'ref' with the first one given with its address
 * (in an earlier service). */
static void
check_same_forwarding(struct checker *c, const struct real_ref *ref,
                      const struct real_ref *first_ref)
{
    const struct lb_spec *spec = c->spec;
    const struct lb_real *real = ref_real(spec, ref);
    const struct lb_real *first = ref_real(spec, first_ref);
    const char *first_svc = name_of(&spec->services[first_ref->svc]);
    const char *what = ref->real == SORRY ? "sorry server" : "real";
    char buf[WHERE_LEN], addr[64], mac1[32], mac2[32];
    if (real->has_mac && first->has_mac
        && memcmp(&real->mac, &first->mac, sizeof real->mac)) {
        lb_mac_format(&real->mac, mac1, sizeof mac1);
        lb_mac_format(&first->mac, mac2, sizeof mac2);
        lb_addr_format(&real->addr, addr, sizeof addr);
        ERROR(c, &real->mac_loc,
              "%s %s has mac %s here but mac %s in service '%s' "
              "(at %s); one real has one forward flow, so its mac must "
              "be the same in every service", what, addr, mac1, mac2,
              first_svc, where(&first->mac_loc, buf, sizeof buf));
    }
    if (!ports_equal(real->port, first->port)) {
        const struct location *loc = real->port ? &real->port_loc
                                                : &real->loc;
        const struct location *first_loc = first->port ? &first->port_loc
                                                       : &first->loc;
        lb_addr_format(&real->addr, addr, sizeof addr);
        ERROR(c, loc,
              "%s %s has port %s here but port %s in service '%s' "
              "(at %s); one real has one forward flow, so its port must "
              "be the same in every service", what, addr,
              port_text(real->port),
              port_text(first->port), first_svc,
              where(first_loc, buf, sizeof buf));
    }
}

/* Whether 'real' has the MAC and port of the first real with its address,
 * as check_same_forwarding() sees it, from what 'slot' copied. */
static bool
same_forwarding_as_first(const struct addr_slot *slot,
                         const struct lb_real *real)
{
    if (real->has_mac && slot->has_mac
        && memcmp(&real->mac, &slot->mac, sizeof real->mac)) {
        return false;
    }
    if (!real->port || !slot->port_text) {
        return !real->port && !slot->port_text;
    }
    return ((slot->port_inline && !strcmp(real->port, slot->port))
            || ports_equal(real->port, slot->port_text));
}

/* The same address is one real with one forward flow (keyed by its
 * conntrack mark), so it may appear once per service and must have the
 * same MAC and port in every service. A sorry server has a forward flow
 * too, so it takes part (that it is not one of its own service's reals is
 * check_service's). Each real is compared with the first one given with
 * its address, in spec order; a service's sorry server comes after its
 * reals. */
static void
check_shared_reals(struct checker *c)
{
    const struct lb_spec *spec = c->spec;
    struct addr_table t = { .slots = NULL, .mask = 0, .n = 0 };
    char buf[WHERE_LEN], addr[64];
    for (size_t s = 0; s < spec->n_services; s++) {
        const struct lb_service *svc = &spec->services[s];
        size_t n = svc->n_reals + svc->has_sorry;
        for (size_t r = 0; r < n; r++) {
            struct real_ref ref = {
                .svc = s, .real = r < svc->n_reals ? r : SORRY,
            };
            const struct lb_real *real = ref_real(spec, &ref);
            uint64_t hi, lo;
            addr_key(&real->addr, &hi, &lo);
            /* Family 0 (unset) is keyed apart from the empty slots. */
            int family = real->addr.family ? real->addr.family : -1;
            struct addr_slot *slot = addr_table_get(&t, hi, lo, family);
            if (!slot->family) {
                *slot = (struct addr_slot) {
                    .hi = hi, .lo = lo, .family = family,
                    .first = ref, .svc_first = ref,
                    .has_mac = real->has_mac, .mac = real->mac,
                    .port_text = real->port,
                };
                if (real->port && strlen(real->port) < sizeof slot->port) {
                    strcpy(slot->port, real->port);
                    slot->port_inline = true;
                }
                t.n++;
            } else if (slot->svc_first.svc == s) {
                if (ref.real == SORRY) {
                    continue;   /* Reported by check_service. */
                }
                const struct lb_real *first = ref_real(spec,
                                                       &slot->svc_first);
                lb_addr_format(&real->addr, addr, sizeof addr);
                ERROR(c, &real->addr_loc,
                      "real %s is listed twice in service '%s' (first at "
                      "%s)", addr, name_of(svc),
                      where(&first->addr_loc, buf, sizeof buf));
            } else {
                slot->svc_first = ref;
                if (!same_forwarding_as_first(slot, real)) {
                    check_same_forwarding(c, &ref, &slot->first);
                }
            }
        }
    }
    free(t.slots);
}

/* ---- per service ------------------------------------------------------ */

static void
check_health_check(struct checker *c, const struct lb_service *svc)
{
    const struct lb_check *chk = &svc->check;
    const char *name = name_of(svc);
    if (chk->type == LB_CHECK_NONE) {
        return;
    }
    const char *type = lb_check_type_name(chk->type);
    char d1[32], d2[32];

    if (chk->interval_ms == 0) {
        ERROR(c, &chk->loc, "check interval of service '%s' must be "
              "greater than 0", name);
    }
    if (chk->timeout_ms == 0) {
        ERROR(c, &chk->loc, "check timeout of service '%s' must be "
              "greater than 0", name);
    } else if (chk->timeout_ms > chk->interval_ms && chk->interval_ms) {
        format_duration(chk->timeout_ms, d1, sizeof d1);
        format_duration(chk->interval_ms, d2, sizeof d2);
        ERROR(c, &chk->loc, "check timeout %s of service '%s' is longer "
              "than its interval %s", d1, name, d2);
    }
    if (chk->rise == 0) {
        ERROR(c, &chk->loc, "check rise of service '%s' must be at least 1",
              name);
    }
    if (chk->fall == 0) {
        ERROR(c, &chk->loc, "check fall of service '%s' must be at least 1",
              name);
    }

    if (chk->source.family && svc->has_vip
        && chk->source.family != svc->vip.family) {
        ERROR(c, &chk->source_loc, "check source of service '%s' is %s but "
              "its VIP is %s", name, family_name(chk->source.family),
              family_name(svc->vip.family));
    }

    bool is_http = chk->type == LB_CHECK_HTTP || chk->type == LB_CHECK_HTTPS;
    if (chk->type == LB_CHECK_EXEC) {
        if (!chk->command || !chk->command[0]) {
            ERROR(c, &chk->loc, "exec check of service '%s' has no command",
                  name);
        }
    } else {
        if (chk->command) {
            ERROR(c, &chk->loc, "%s check of service '%s' has a command "
                  "(only exec checks run a command)", type, name);
        }
        if (chk->port == 0 && svc->has_vip && svc->port == 0) {
            ERROR(c, &chk->loc, "%s check of service '%s' needs a port: "
                  "the service covers every %s port", type, name,
                  lb_proto_name(svc->proto));
        } else if (chk->port == 0 && svc->has_vip
                   && port_hi(svc) > svc->port) {
            ERROR(c, &chk->loc, "%s check of service '%s' needs a port: "
                  "the service covers %s ports %u-%u", type, name,
                  lb_proto_name(svc->proto), (unsigned) svc->port,
                  (unsigned) port_hi(svc));
        }
    }
    if (chk->type == LB_CHECK_UDP) {
        if (svc->has_vip && svc->proto != LB_PROTO_UDP) {
            ERROR(c, &chk->loc, "udp check of service '%s', a %s service "
                  "(udp checks are for udp services)", name,
                  lb_proto_name(svc->proto));
        }
    } else {
        if (chk->send) {
            ERROR(c, &chk->loc, "%s check of service '%s' has a payload to "
                  "send (only udp checks send one)", type, name);
        }
        if (chk->expect_reply) {
            ERROR(c, &chk->loc, "%s check of service '%s' has an expected "
                  "reply (only udp checks expect one)", type, name);
        }
    }
    if (is_http) {
        if (chk->path && chk->path[0] != '/') {
            ERROR(c, &chk->loc, "check path '%s' of service '%s' must start "
                  "with '/'", chk->path, name);
        }
        if (chk->expect_status < 100 || chk->expect_status > 599) {
            ERROR(c, &chk->loc, "check of service '%s' expects HTTP status "
                  "%u, which is not a status code (100-599)", name,
                  (unsigned) chk->expect_status);
        }
    }
}

static const char *
addr_text(const struct lb_addr *a, char *buf, size_t size)
{
    lb_addr_format(a, buf, size);
    return buf;
}

/* A real, or the sorry server ('what' = "sorry server"): same rules. */
static void
check_real(struct checker *c, const struct lb_service *svc,
           const struct lb_real *real, const char *what)
{
    const char *name = name_of(svc);
    char addr_buf[64], mac[32], vip[80];
    /* Formatted only for a message: 320,000 reals have none. */
#define REAL_ADDR addr_text(&real->addr, addr_buf, sizeof addr_buf)

    const char *why = addr_problem(&real->addr);
    if (why) {
        ERROR(c, &real->addr_loc, "%s %s of service '%s' is %s", what,
              REAL_ADDR, name, why);
    } else if (svc->has_vip && real->addr.family != svc->vip.family) {
        ERROR(c, &real->addr_loc, "%s %s is %s but the VIP of service '%s' "
              "is %s", what, REAL_ADDR, family_name(real->addr.family), name,
              family_name(svc->vip.family));
    } else if (svc->has_vip && vip_is_prefix(svc)
               && prefixes_overlap(&real->addr, vip_len(svc), &svc->vip,
                                   vip_len(svc))) {
        /* Its own traffic on the service's ports would be taken for the
         * service's. */
        format_vip(svc, vip, sizeof vip);
        ERROR(c, &real->addr_loc, "%s %s of service '%s' is inside the "
              "service's VIP prefix %s", what, REAL_ADDR, name, vip);
    } else if (svc->has_vip && !compare_addr(&real->addr, &svc->vip)) {
        ERROR(c, &real->addr_loc, "%s %s of service '%s' is the service's "
              "own VIP", what, REAL_ADDR, name);
    }

    if (!real->has_mac) {
        ERROR(c, &real->loc, "%s %s of service '%s' has no mac "
              "(direct routing rewrites the destination MAC to the real's)",
              what, REAL_ADDR, name);
    } else if ((why = mac_problem(&real->mac))) {
        lb_mac_format(&real->mac, mac, sizeof mac);
        ERROR(c, &real->mac_loc, "mac %s of %s %s is %s", mac, what,
              REAL_ADDR, why);
    }

    if (real->port && (why = lb_parse_ofport(real->port))) {
        ERROR(c, &real->port_loc, "port '%s' of %s %s: %s", real->port,
              what, REAL_ADDR, why);
    }
    if (real->weight > LB_MAX_WEIGHT) {
        ERROR(c, &real->weight_loc, "weight %u of %s %s is out of range "
              "(expected 0 to %d)", (unsigned) real->weight, what, REAL_ADDR,
              LB_MAX_WEIGHT);
    }
}
#undef REAL_ADDR

/* The IPVS / keepalived options: persistence, stickiness, UDP timeout,
 * the sorry server, quorum. */
static void
check_options(struct checker *c, const struct lb_service *svc)
{
    const char *name = name_of(svc);
    char buf[WHERE_LEN], addr[64];
    unsigned int bits = svc->has_vip ? lb_addr_bits(svc->vip.family) : 0;

    if (svc->persistence_mask_family && bits
        && svc->persistence_mask_family != svc->vip.family) {
        ERROR(c, &svc->persistence_prefix_loc, "persistence netmask of "
              "service '%s' is %s but its VIP is %s", name,
              family_name(svc->persistence_mask_family),
              family_name(svc->vip.family));
    } else if (bits && svc->persistence_prefix_len > bits) {
        ERROR(c, &svc->persistence_prefix_loc, "persistence prefix /%u of "
              "service '%s' is longer than an %s address (at most /%u)",
              (unsigned) svc->persistence_prefix_len, name,
              family_name(svc->vip.family), bits);
    }

    if (svc->sticky_idle_loc.line && svc->stickiness != LB_STICKY_LEARN) {
        ERROR(c, &svc->sticky_idle_loc, "idle timeout of service '%s' "
              "applies only to stickiness learn (conntrack entries keep "
              "their own timeouts)", name);
    }

    if ((svc->udp_timeout_s || svc->udp_timeout_loc.line) && svc->has_vip
        && svc->proto != LB_PROTO_UDP) {
        ERROR(c, &svc->udp_timeout_loc, "UDP timeout of service '%s' "
              "applies only to udp services (this one is %s)", name,
              lb_proto_name(svc->proto));
    }

    if (svc->has_sorry) {
        check_real(c, svc, &svc->sorry, "sorry server");
        for (size_t r = 0; r < svc->n_reals; r++) {
            if (!compare_addr(&svc->reals[r].addr, &svc->sorry.addr)) {
                lb_addr_format(&svc->sorry.addr, addr, sizeof addr);
                ERROR(c, &svc->sorry.addr_loc, "sorry server %s of service "
                      "'%s' is also one of its reals (at %s); it is used "
                      "only while every real is down", addr, name,
                      where(&svc->reals[r].addr_loc, buf, sizeof buf));
                break;
            }
        }
    }

    if (svc->quorum && svc->quorum > svc->n_reals) {
        ERROR(c, &svc->quorum_loc, "quorum %u of service '%s' is more than "
              "its %zu real%s: the service would never be up",
              (unsigned) svc->quorum, name, svc->n_reals,
              svc->n_reals == 1 ? "" : "s");
    } else if (svc->hysteresis_loc.line && !svc->quorum) {
        ERROR(c, &svc->hysteresis_loc, "hysteresis of service '%s' without "
              "a quorum", name);
    } else if (svc->quorum && svc->quorum_hysteresis >= svc->quorum) {
        ERROR(c, &svc->hysteresis_loc, "hysteresis %u of service '%s' must "
              "be less than its quorum %u", (unsigned) svc->quorum_hysteresis,
              name, (unsigned) svc->quorum);
    } else if (svc->quorum
               && (uint64_t) svc->quorum + svc->quorum_hysteresis
                  > svc->n_reals) {
        ERROR(c, &svc->hysteresis_loc, "quorum %u + hysteresis %u of "
              "service '%s' is more than its %zu reals: once withdrawn, "
              "the service could never come back", (unsigned) svc->quorum,
              (unsigned) svc->quorum_hysteresis, name, svc->n_reals);
    }
}

static void
check_service(struct checker *c, size_t idx, const size_t *first_name,
              const size_t *vip_clash, const size_t *vip_mac_first)
{
    const struct lb_spec *spec = c->spec;
    const struct lb_service *svc = &spec->services[idx];
    const char *name = name_of(svc);
    char buf[WHERE_LEN], vip[64], mac[32];

    if (!name[0]) {
        ERROR(c, &svc->loc, "service has an empty name");
    } else if (first_name[idx] != idx) {
        const struct lb_service *first = &spec->services[first_name[idx]];
        ERROR(c, &svc->loc, "duplicate service name '%s' (first defined at "
              "%s)", name, where(&first->loc, buf, sizeof buf));
    }

    if (!svc->has_vip) {
        ERROR(c, &svc->loc, "service '%s' has no vip", name);
    } else {
        format_vip(svc, vip, sizeof vip);
        char why_buf[128];
        const char *why = vip_is_prefix(svc)
                          ? prefix_problem(&svc->vip, vip_len(svc), why_buf,
                                           sizeof why_buf)
                          : addr_problem(&svc->vip);
        if (why) {
            ERROR(c, &svc->vip_loc, "VIP %s of service '%s' %s%s", vip, name,
                  vip_is_prefix(svc) ? "" : "is ", why);
        }
        if (vip_clash[idx] != SIZE_MAX) {
            const struct lb_service *other = &spec->services[vip_clash[idx]];
            const char *proto = lb_proto_name(svc->proto);
            char mine[32], theirs[32], other_vip[80];
            format_ports(svc, mine, sizeof mine);
            format_ports(other, theirs, sizeof theirs);
            format_vip(other, other_vip, sizeof other_vip);
            if (!strcmp(mine, theirs) && !strcmp(vip, other_vip)) {
                ERROR(c, &svc->vip_loc, "service '%s' uses VIP %s %s %s, "
                      "already used by service '%s' (at %s)", name, vip,
                      proto, mine, name_of(other),
                      where(&other->vip_loc, buf, sizeof buf));
            } else {
                ERROR(c, &svc->vip_loc, "service '%s' (VIP %s %s %s) "
                      "overlaps service '%s' (%s %s %s, at %s)", name, vip,
                      proto, mine, name_of(other), other_vip, proto, theirs,
                      where(&other->vip_loc, buf, sizeof buf));
            }
        }
    }

    /* A service has one VIP, so hashing the destination alone sends every
     * new connection to the same real: almost never what is meant. */
    if (svc->scheduler == LB_SCHED_DH && svc->n_reals > 1) {
        WARNING(c, &svc->scheduler_loc, "scheduler dh hashes only the "
                "destination address, the VIP of service '%s': every new "
                "connection goes to the same real (use sh or wrr to spread "
                "clients)", name);
    }

    if ((svc->has_vip_mac || svc->vip_mac_auto) && svc->has_vip
        && vip_is_prefix(svc)) {
        format_vip(svc, vip, sizeof vip);
        ERROR(c, &svc->vip_mac_loc, "vip-mac of service '%s' needs a "
              "single-address VIP: no ARP/ND responder answers for a whole "
              "prefix (%s)", name, vip);
    } else if (svc->has_vip_mac) {
        const char *why = mac_problem(&svc->vip_mac);
        if (why) {
            lb_mac_format(&svc->vip_mac, mac, sizeof mac);
            ERROR(c, &svc->vip_mac_loc, "vip-mac %s of service '%s' is %s",
                  mac, name, why);
        }
        if (vip_mac_first[idx] != SIZE_MAX) {
            const struct lb_service *other
                = &spec->services[vip_mac_first[idx]];
            char other_mac[32];
            lb_mac_format(&svc->vip_mac, mac, sizeof mac);
            lb_mac_format(&other->vip_mac, other_mac, sizeof other_mac);
            lb_addr_format(&svc->vip, vip, sizeof vip);
            ERROR(c, &svc->vip_mac_loc, "vip-mac %s of service '%s' differs "
                  "from vip-mac %s of service '%s' on the same VIP %s (at %s): "
                  "the switch answers for a VIP with one MAC", mac, name,
                  other_mac, name_of(other), vip,
                  where(&other->vip_mac_loc, buf, sizeof buf));
        }
    }

    if (svc->n_reals > LB_MAX_REALS_PER_SERVICE) {
        ERROR(c, &svc->loc, "service '%s' has %zu reals, more than %d: its "
              "select group would not fit one OpenFlow message", name,
              svc->n_reals, LB_MAX_REALS_PER_SERVICE);
    }
    if (svc->n_reals == 0) {
        WARNING(c, &svc->loc, "service '%s' has no reals: new connections "
                "are dropped", name);
    } else {
        bool all_drained = true;
        for (size_t r = 0; r < svc->n_reals; r++) {
            if (svc->reals[r].weight) {
                all_drained = false;
            }
            check_real(c, svc, &svc->reals[r], "real");
        }
        if (all_drained) {
            WARNING(c, &svc->loc, "all reals of service '%s' have weight 0 "
                    "(drained): new connections are dropped", name);
        }
    }

    check_health_check(c, svc);
    check_options(c, svc);
}

bool
lb_check(const struct lb_spec *spec, struct diag *d)
{
    struct checker c = { .spec = spec };

    if (spec->n_services == 0) {
        /* The spec does not record its file; the front end interned it in
         * 'd' when it read the file, so the last one interned is ours. */
        struct location loc = {
            .file = d->n_files ? d->files[d->n_files - 1]
                               : diag_intern_file(d, "<spec>"),
            .line = 1, .col = 1,
        };
        diag_error(d, &loc, "no services defined");
        return false;
    }

    size_t n = spec->n_services;
    size_t *order = malloc(n * sizeof *order);
    size_t *first_name = malloc(n * sizeof *first_name);
    size_t *vip_clash = malloc(n * sizeof *vip_clash);
    size_t *vip_mac_first = malloc(n * sizeof *vip_mac_first);
    if (!order || !first_name || !vip_clash || !vip_mac_first) {
        abort();
    }
    find_duplicate_names(spec, order, first_name);
    size_t n_vips = find_vip_clashes(spec, order, vip_clash);
    find_vip_mac_conflicts(spec, order, n_vips, vip_mac_first);

    for (size_t i = 0; i < n; i++) {
        check_service(&c, i, first_name, vip_clash, vip_mac_first);
    }
    check_shared_reals(&c);

    if (c.n) {
        qsort(c.items, c.n, sizeof *c.items, compare_pending);
    }
    bool ok = true;
    for (size_t i = 0; i < c.n; i++) {
        struct pending *p = &c.items[i];
        if (p->severity == DIAG_ERROR) {
            diag_error(d, &p->loc, "%s", p->message);
            ok = false;
        } else {
            diag_warning(d, &p->loc, "%s", p->message);
        }
        free(p->message);
    }
    free(c.items);
    free(order);
    free(first_name);
    free(vip_clash);
    free(vip_mac_first);
    return ok;
}

/* ---- services appended to a checked spec ------------------------------ */

/* Names and single-address VIPs of a spec, by hash (open addressing,
 * kept at most half full): what an appended service is checked against,
 * without a pass over the spec. */
struct vip_entry {
    struct lb_addr vip;         /* Family 0: empty slot. */
    size_t *svcs;               /* Services on this address. */
    size_t n, allocated;
};

struct name_entry {
    size_t svc;                 /* Service index + 1; 0: empty slot. */
    size_t hash;                /* Of its name: most probes compare this
                                 * alone, not the name (a cache miss). */
};

struct lb_spec_index {
    struct name_entry *names;
    size_t names_mask, n_names;
    struct vip_entry *vips;
    size_t vips_mask, n_vips;
    size_t n_prefixes;          /* Services with a prefix VIP. */
};

static size_t
vip_hash(const struct lb_addr *a)
{
    return (a->family == AF_INET6 ? lb_fnv1a(&a->v6, sizeof a->v6)
            : lb_fnv1a(&a->v4, sizeof a->v4)) ^ (size_t) a->family;
}

/* The slot of 'name' (whose lb_fnv1a_str() is 'hash') in 'x' (empty if
 * absent). */
static struct name_entry *
name_slot(const struct lb_spec_index *x, const struct lb_spec *spec,
          const char *name, size_t hash)
{
    size_t i = hash & x->names_mask;
    for (; x->names[i].svc; i = (i + 1) & x->names_mask) {
        const struct name_entry *e = &x->names[i];
        if (e->hash == hash
            && !strcmp(name_of(&spec->services[e->svc - 1]), name)) {
            break;
        }
    }
    return &x->names[i];
}

static struct vip_entry *
vip_slot(const struct lb_spec_index *x, const struct lb_addr *vip)
{
    size_t i = vip_hash(vip) & x->vips_mask;
    while (x->vips[i].vip.family && compare_addr(&x->vips[i].vip, vip)) {
        i = (i + 1) & x->vips_mask;
    }
    return &x->vips[i];
}

static void
index_grow(struct lb_spec_index *x)
{
    if (2 * (x->n_names + 1) > x->names_mask + 1) {
        struct name_entry *old = x->names;
        size_t old_mask = x->names_mask;
        x->names_mask = old ? 2 * old_mask + 1 : 255;
        x->names = calloc(x->names_mask + 1, sizeof *x->names);
        if (!x->names) {
            abort();
        }
        for (size_t i = 0; old && i <= old_mask; i++) {
            if (old[i].svc) {
                size_t k = old[i].hash & x->names_mask;
                while (x->names[k].svc) {
                    k = (k + 1) & x->names_mask;
                }
                x->names[k] = old[i];
            }
        }
        free(old);
    }
    if (2 * (x->n_vips + 1) > x->vips_mask + 1) {
        struct vip_entry *old = x->vips;
        size_t old_mask = x->vips_mask;
        x->vips_mask = old ? 2 * old_mask + 1 : 255;
        x->vips = calloc(x->vips_mask + 1, sizeof *x->vips);
        if (!x->vips) {
            abort();
        }
        for (size_t i = 0; old && i <= old_mask; i++) {
            if (old[i].vip.family) {
                *vip_slot(x, &old[i].vip) = old[i];
            }
        }
        free(old);
    }
}

void
lb_spec_index_add(struct lb_spec_index *x, const struct lb_spec *spec,
                  size_t i)
{
    const struct lb_service *svc = &spec->services[i];
    index_grow(x);
    size_t hash = lb_fnv1a_str(name_of(svc));
    struct name_entry *ns = name_slot(x, spec, name_of(svc), hash);
    if (!ns->svc) {
        *ns = (struct name_entry) { .svc = i + 1, .hash = hash };
        x->n_names++;
    }
    if (!svc->has_vip) {
        return;
    }
    if (vip_is_prefix(svc)) {
        x->n_prefixes++;
        return;
    }
    struct vip_entry *e = vip_slot(x, &svc->vip);
    if (!e->vip.family) {
        e->vip = svc->vip;
        x->n_vips++;
    }
    if (e->n == e->allocated) {
        e->allocated = e->allocated ? 2 * e->allocated : 2;
        e->svcs = realloc(e->svcs, e->allocated * sizeof *e->svcs);
        if (!e->svcs) {
            abort();
        }
    }
    e->svcs[e->n++] = i;
}

struct lb_spec_index *
lb_spec_index_create(const struct lb_spec *spec)
{
    struct lb_spec_index *x = calloc(1, sizeof *x);
    if (!x) {
        abort();
    }
    size_t size = 256;
    while (size < 2 * (spec->n_services + 1)) {
        size *= 2;              /* Sized once: no rehash while filling. */
    }
    x->names_mask = x->vips_mask = size - 1;
    x->names = calloc(size, sizeof *x->names);
    x->vips = calloc(size, sizeof *x->vips);
    if (!x->names || !x->vips) {
        abort();
    }
    for (size_t i = 0; i < spec->n_services; i++) {
        lb_spec_index_add(x, spec, i);
    }
    index_grow(x);              /* An empty spec still has its tables. */
    return x;
}

void
lb_spec_index_destroy(struct lb_spec_index *x)
{
    if (!x) {
        return;
    }
    for (size_t i = 0; x->vips && i <= x->vips_mask; i++) {
        free(x->vips[i].svcs);
    }
    free(x->vips);
    free(x->names);
    free(x);
}

bool
lb_check_appendable(const struct lb_spec_index *x, const struct lb_spec *spec,
                    const struct lb_service *svc)
{
    const char *name = name_of(svc);
    if (!svc->has_vip || vip_is_prefix(svc) || x->n_prefixes
        || name_slot(x, spec, name, lb_fnv1a_str(name))->svc) {
        return false;
    }
    const struct vip_entry *e = vip_slot(x, &svc->vip);
    for (size_t k = 0; k < e->n; k++) {
        const struct lb_service *o = &spec->services[e->svcs[k]];
        if ((o->proto == svc->proto && ports_overlap(o, svc))
            || (o->has_vip_mac && svc->has_vip_mac
                && memcmp(&o->vip_mac, &svc->vip_mac, sizeof o->vip_mac))) {
            return false;
        }
    }
    return true;
}
