/* Text to spec values, shared by the DSL and YAML front ends. */
#include "values.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
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
        { "wrr", LB_SCHED_WRR }, { "sh", LB_SCHED_SH },
        { "dh", LB_SCHED_DH }, { "mh", LB_SCHED_MH },
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (!strcmp(s, names[i].name)) {
            *out = names[i].s;
            return NULL;
        }
    }
    return "unknown scheduler (expected one of: wrr, sh, dh, mh)";
}

const char *
lb_parse_check_type(const char *s, enum lb_check_type *out)
{
    static const struct { const char *name; enum lb_check_type t; } names[] = {
        { "tcp", LB_CHECK_TCP }, { "http", LB_CHECK_HTTP },
        { "https", LB_CHECK_HTTPS }, { "exec", LB_CHECK_EXEC },
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (!strcmp(s, names[i].name)) {
            *out = names[i].t;
            return NULL;
        }
    }
    return "unknown check type (expected one of: tcp, http, https, exec)";
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
