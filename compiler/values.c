/* Text to spec values, shared by the DSL and YAML front ends. */
#include "values.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *
lb_parse_addr(const char *s, struct lb_addr *out)
{
    memset(out, 0, sizeof *out);
    if (strchr(s, ':')) {
        if (strchr(s, '%')) {
            return "IPv6 zone indexes are not allowed in addresses";
        }
        if (inet_pton(AF_INET6, s, &out->v6) != 1) {
            return "invalid IPv6 address";
        }
        out->family = AF_INET6;
        return NULL;
    }
    if (inet_pton(AF_INET, s, &out->v4) != 1) {
        return "invalid IPv4 address";
    }
    out->family = AF_INET;
    return NULL;
}

static int
hex_value(int c)
{
    return isdigit(c) ? c - '0'
           : (c >= 'a' && c <= 'f') ? c - 'a' + 10
           : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
}

unsigned int
lb_addr_bits(int family)
{
    return family == AF_INET ? 32 : family == AF_INET6 ? 128 : 0;
}

/* The address's bytes, most significant first. */
static uint8_t *
addr_bytes(struct lb_addr *a)
{
    return a->family == AF_INET ? (uint8_t *) &a->v4 : a->v6.s6_addr;
}

void
lb_addr_mask(const struct lb_addr *a, unsigned int len, struct lb_addr *out)
{
    *out = *a;
    uint8_t *b = addr_bytes(out);
    unsigned int bits = lb_addr_bits(a->family);
    for (unsigned int i = 0; i < bits / 8; i++) {
        if (len >= 8 * (i + 1)) {
            continue;
        }
        unsigned int keep = len > 8 * i ? len - 8 * i : 0;
        b[i] &= (uint8_t) (0xff00 >> keep);
    }
}

const char *
lb_parse_prefix(const char *s, struct lb_addr *out, uint8_t *len)
{
    const char *slash = strchr(s, '/');
    if (!slash) {
        const char *err = lb_parse_addr(s, out);
        if (!err) {
            *len = lb_addr_bits(out->family);
        }
        return err;
    }
    char addr[64];
    size_t n = slash - s;
    if (n >= sizeof addr) {
        return strchr(s, ':') ? "invalid IPv6 address"
                              : "invalid IPv4 address";
    }
    memcpy(addr, s, n);
    addr[n] = '\0';
    const char *err = lb_parse_addr(addr, out);
    if (err) {
        return err;
    }
    unsigned int bits = lb_addr_bits(out->family);
    uint32_t plen;
    if (lb_parse_uint(slash + 1, 1, bits, &plen)) {
        return bits == 32 ? "invalid prefix length (expected /1 to /32)"
                          : "invalid prefix length (expected /1 to /128)";
    }
    struct lb_addr net;
    lb_addr_mask(out, plen, &net);
    if (!lb_addr_equal(&net, out)) {
        static char msg[128];
        char buf[64];
        lb_addr_format(&net, buf, sizeof buf);
        snprintf(msg, sizeof msg, "prefix with host bits set (did you mean "
                 "%s/%u?)", buf, (unsigned) plen);
        return msg;
    }
    *len = plen;
    return NULL;
}

const char *
lb_parse_port_range(const char *s, uint16_t *lo, uint16_t *hi)
{
    /* A leading '-' is a sign, for lb_parse_uint's "out of range". */
    const char *dash = *s ? strchr(s + 1, '-') : NULL;
    uint32_t a, b;
    if (!dash) {
        const char *err = lb_parse_uint(s, 0, 65535, &a);
        if (!err) {
            *lo = *hi = a;
        }
        return err;
    }
    char first[16];
    size_t n = dash - s;
    if (n >= sizeof first) {
        return "invalid port range (expected PORT or LOW-HIGH, 1 to 65535)";
    }
    memcpy(first, s, n);
    first[n] = '\0';
    if (lb_parse_uint(first, 0, 65535, &a)
        || lb_parse_uint(dash + 1, 0, 65535, &b)) {
        return "invalid port range (expected PORT or LOW-HIGH, 1 to 65535)";
    }
    if (a == 0) {
        return "invalid port range (a range starts at 1; port 0 alone "
               "means every port)";
    }
    if (a > b) {
        return "reversed port range (expected LOW-HIGH, LOW <= HIGH)";
    }
    *lo = a;
    *hi = b;
    return NULL;
}

const char *
lb_parse_seconds(const char *s, uint32_t *out)
{
    uint32_t ms;
    const char *err = lb_parse_duration_ms(s, &ms);
    if (err) {
        return err;
    }
    if (ms % 1000) {
        return "timeout not in whole seconds (OpenFlow timeouts count "
               "seconds)";
    }
    if (ms == 0) {
        return "timeout too short (at least 1s)";
    }
    if (ms / 1000 > 65535) {
        return "timeout too long (at most 65535s, the largest OpenFlow "
               "timeout)";
    }
    *out = ms / 1000;
    return NULL;
}

const char *
lb_parse_netmask(const char *s, uint8_t *len, int *family)
{
    struct lb_addr m;
    if (lb_parse_addr(s, &m)) {
        return "invalid netmask (expected an address form such as "
               "255.255.255.0)";
    }
    const uint8_t *b = addr_bytes(&m);
    unsigned int bits = lb_addr_bits(m.family), ones = 0;
    while (ones < bits && (b[ones / 8] & (0x80 >> (ones % 8)))) {
        ones++;
    }
    for (unsigned int i = ones; i < bits; i++) {
        if (b[i / 8] & (0x80 >> (i % 8))) {
            return "netmask not contiguous (expected ones then zeros, such "
                   "as 255.255.255.0)";
        }
    }
    if (!ones) {
        return "netmask with no bits set (expected ones then zeros, such "
               "as 255.255.255.0)";
    }
    *len = ones;
    *family = m.family;
    return NULL;
}

const char *
lb_parse_stickiness(const char *s, enum lb_stickiness *out)
{
    if (!strcmp(s, "conntrack")) {
        *out = LB_STICKY_CONNTRACK;
    } else if (!strcmp(s, "learn")) {
        *out = LB_STICKY_LEARN;
    } else {
        return "unknown stickiness (expected conntrack or learn)";
    }
    return NULL;
}

const char *
lb_parse_bool(const char *s, bool *out)
{
    if (!strcmp(s, "true")) {
        *out = true;
    } else if (!strcmp(s, "false")) {
        *out = false;
    } else {
        return "invalid boolean (expected true or false)";
    }
    return NULL;
}

void
lb_vip_mac_auto(const struct lb_addr *vip, struct lb_mac *out)
{
    memset(out, 0, sizeof *out);
    out->b[0] = 0x02;           /* Locally administered, unicast. */
    if (vip->family == AF_INET) {
        memcpy(&out->b[2], &vip->v4, 4);
    } else if (vip->family == AF_INET6) {
        uint64_t h = 0xcbf29ce484222325ULL;
        for (int i = 0; i < 16; i++) {
            h = (h ^ vip->v6.s6_addr[i]) * 0x100000001b3ULL;
        }
        for (int i = 0; i < 5; i++) {
            out->b[1 + i] = h >> (56 - 8 * i);
        }
    }
}

void
lb_service_complete(struct lb_service *svc)
{
    unsigned int bits = svc->has_vip ? lb_addr_bits(svc->vip.family) : 0;
    if (!bits) {
        return;
    }
    if (!svc->vip_prefix_len) {
        svc->vip_prefix_len = bits;
    }
    if (svc->port == 0) {
        svc->port_max = 0;
    } else if (svc->port_max < svc->port) {
        svc->port_max = svc->port;
    }
    if (!svc->persistence_prefix_len) {
        svc->persistence_prefix_len = bits;
    }
    if (svc->vip_mac_auto && svc->vip_prefix_len == bits) {
        lb_vip_mac_auto(&svc->vip, &svc->vip_mac);
        svc->has_vip_mac = true;
    }
}

const char *
lb_parse_mac(const char *s, struct lb_mac *out)
{
    static const char *bad =
        "invalid MAC address (expected six hex bytes like 02:00:00:00:01:00)";
    /* Exactly "xx:xx:xx:xx:xx:xx": strict, so a typo is never read as a
     * different MAC. */
    if (strlen(s) != 17) {
        return bad;
    }
    for (int i = 0; i < 6; i++) {
        int hi = hex_value((unsigned char) s[3 * i]);
        int lo = hex_value((unsigned char) s[3 * i + 1]);
        if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':')) {
            return bad;
        }
        out->b[i] = hi * 16 + lo;
    }
    return NULL;
}

/* Parses a run of decimal digits without sign into *out, refusing
 * overflow past 'max'. Returns the end or NULL. */
static const char *
parse_digits(const char *s, unsigned long long max, unsigned long long *out)
{
    if (!isdigit((unsigned char) *s)) {
        return NULL;
    }
    unsigned long long v = 0;
    for (; isdigit((unsigned char) *s); s++) {
        v = v * 10 + (*s - '0');
        if (v > max) {
            return NULL;
        }
    }
    *out = v;
    return s;
}

const char *
lb_parse_duration_ms(const char *s, uint32_t *out)
{
    static const char *bad =
        "invalid duration (expected a number with a unit: ms, s or m)";
    unsigned long long v;
    const char *unit = parse_digits(s, 86400000ULL, &v);
    if (!unit) {
        return isdigit((unsigned char) *s) ? "duration too large (at most 24h)"
                                           : bad;
    }
    unsigned long long ms;
    if (!strcmp(unit, "ms")) {
        ms = v;
    } else if (!strcmp(unit, "s")) {
        ms = v * 1000;
    } else if (!strcmp(unit, "m")) {
        ms = v * 60000;
    } else {
        return bad;
    }
    if (ms > 86400000ULL) {
        return "duration too large (at most 24h)";
    }
    *out = ms;
    return NULL;
}

const char *
lb_parse_uint(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
    static char msg[96];
    unsigned long long v;
    const char *end = parse_digits(s, max, &v);
    if (!end || *end || v < min) {
        /* "out of range" only for what is a number: digits, maybe signed. */
        const char *p = s + (*s == '-');
        while (isdigit((unsigned char) *p)) {
            p++;
        }
        if (!*p && p > s + (*s == '-')) {
            snprintf(msg, sizeof msg, "number out of range (expected %u to %u)",
                     (unsigned) min, (unsigned) max);
        } else {
            snprintf(msg, sizeof msg, "invalid number (expected %u to %u)",
                     (unsigned) min, (unsigned) max);
        }
        return msg;
    }
    *out = v;
    return NULL;
}

const char *
lb_parse_proto(const char *s, enum lb_proto *out)
{
    if (!strcmp(s, "tcp")) {
        *out = LB_PROTO_TCP;
    } else if (!strcmp(s, "udp")) {
        *out = LB_PROTO_UDP;
    } else {
        return "unknown protocol (expected tcp or udp)";
    }
    return NULL;
}

const char *
lb_parse_scheduler(const char *s, enum lb_scheduler *out)
{
    static const struct { const char *name; enum lb_scheduler s; } names[] = {
        { "rr", LB_SCHED_RR }, { "wrr", LB_SCHED_WRR },
        { "lc", LB_SCHED_LC }, { "wlc", LB_SCHED_WLC },
        { "sh", LB_SCHED_SH }, { "dh", LB_SCHED_DH },
        { "mh", LB_SCHED_MH }, { "fo", LB_SCHED_FO },
    };
    /* IPVS schedulers that need per-packet state or live connection
     * counts a switch pipeline does not have: refused with the nearest
     * one that works, never silently mapped. */
    static const struct { const char *name, *msg; } ipvs[] = {
        { "sed", "unsupported IPVS scheduler (a switch pipeline cannot "
                 "compute expected delays; use wlc)" },
        { "nq", "unsupported IPVS scheduler (a switch pipeline cannot see "
                "idle reals; use wlc)" },
        { "lblc", "unsupported IPVS scheduler (a switch pipeline keeps no "
                  "per-destination table; use dh or sh)" },
        { "lblcr", "unsupported IPVS scheduler (a switch pipeline keeps no "
                   "per-destination table; use dh or sh)" },
        { "ovf", "unsupported IPVS scheduler (a switch pipeline cannot "
                 "count connections per real; use fo)" },
        { "twos", "unsupported IPVS scheduler (a switch pipeline cannot "
                  "compare two reals' loads; use wrr)" },
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (!strcmp(s, names[i].name)) {
            *out = names[i].s;
            return NULL;
        }
    }
    for (size_t i = 0; i < sizeof ipvs / sizeof *ipvs; i++) {
        if (!strcmp(s, ipvs[i].name)) {
            return ipvs[i].msg;
        }
    }
    return "unknown scheduler (expected one of: rr, wrr, lc, wlc, sh, dh, "
           "mh, fo)";
}

const char *
lb_parse_check_type(const char *s, enum lb_check_type *out)
{
    static const struct { const char *name; enum lb_check_type t; } names[] = {
        { "tcp", LB_CHECK_TCP }, { "http", LB_CHECK_HTTP },
        { "https", LB_CHECK_HTTPS }, { "exec", LB_CHECK_EXEC },
        { "udp", LB_CHECK_UDP }, { "tcp-half-open", LB_CHECK_TCP_HALF_OPEN },
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (!strcmp(s, names[i].name)) {
            *out = names[i].t;
            return NULL;
        }
    }
    return "unknown check type (expected one of: tcp, tcp-half-open, http, "
           "https, exec, udp)";
}

const char *
lb_parse_ofport(const char *s)
{
    if (isdigit((unsigned char) *s)) {
        uint32_t port;
        return lb_parse_uint(s, 1, 0xfffffeff, &port)
               ? "invalid OpenFlow port number (expected 1 to 4294967039)"
               : NULL;
    }
    /* Names that ovs-ofctl reads as reserved ports, not as a port name. */
    static const char *const reserved[] = {
        "in_port", "table", "normal", "flood", "all", "controller",
        "local", "none", "any", "unset", NULL
    };
    for (size_t i = 0; reserved[i]; i++) {
        if (!strcasecmp(s, reserved[i])) {
            return "reserved OpenFlow port name (give the port's number or "
                   "interface name)";
        }
    }
    size_t len = strlen(s);
    if (!len || len > 64) {
        return "invalid OpenFlow port name (1 to 64 characters)";
    }
    for (const char *p = s; *p; p++) {
        if (!isalnum((unsigned char) *p) && !strchr("_.-", *p)) {
            return "invalid OpenFlow port name (letters, digits, '_', '.', "
                   "'-')";
        }
    }
    return NULL;
}

void
lb_addr_format(const struct lb_addr *a, char *buf, size_t size)
{
    if (a->family == AF_INET && size >= INET_ADDRSTRLEN) {
        /* inet_ntop goes through sprintf: a tenth of lowering's time. */
        const uint8_t *b = (const uint8_t *) &a->v4.s_addr;
        char *p = buf;
        for (int i = 0; i < 4; i++) {
            if (b[i] >= 100) {
                *p++ = '0' + b[i] / 100;
            }
            if (b[i] >= 10) {
                *p++ = '0' + b[i] / 10 % 10;
            }
            *p++ = '0' + b[i] % 10;
            *p++ = i < 3 ? '.' : '\0';
        }
        return;
    }
    if (!a->family || !inet_ntop(a->family, &a->v6, buf, size)) {
        snprintf(buf, size, "?");
    }
}

void
lb_mac_format(const struct lb_mac *m, char *buf, size_t size)
{
    snprintf(buf, size, "%02x:%02x:%02x:%02x:%02x:%02x",
             m->b[0], m->b[1], m->b[2], m->b[3], m->b[4], m->b[5]);
}

bool
lb_addr_equal(const struct lb_addr *a, const struct lb_addr *b)
{
    if (a->family != b->family) {
        return false;
    }
    return a->family == AF_INET ? a->v4.s_addr == b->v4.s_addr
           : a->family == AF_INET6 ? !memcmp(&a->v6, &b->v6, sizeof a->v6)
           : true;
}

bool
lb_mac_is_multicast(const struct lb_mac *m)
{
    return m->b[0] & 1;
}

bool
lb_mac_is_zero(const struct lb_mac *m)
{
    static const struct lb_mac zero;
    return !memcmp(m, &zero, sizeof zero);
}

uint32_t
lb_fnv1a(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ p[i]) * 16777619u;
    }
    return h;
}

uint32_t
lb_fnv1a_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h = (h ^ (uint8_t) *s) * 16777619u;
    }
    return h;
}
