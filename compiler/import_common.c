/* What both importers share: the MAC table (--mac, ip neigh), service
 * names, the scheduler mapping, netmasks. */
#include "import.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "values.h"

void
import_options_init(struct import_options *o)
{
    memset(o, 0, sizeof *o);
}

void
import_options_destroy(struct import_options *o)
{
    free(o->macs);
    free(o->fwmarks);
    memset(o, 0, sizeof *o);
}

const struct import_mac *
import_find_mac(const struct import_options *o, const struct lb_addr *addr)
{
    for (size_t i = 0; i < o->n_macs; i++) {
        if (lb_addr_equal(&o->macs[i].addr, addr)) {
            return &o->macs[i];
        }
    }
    return NULL;
}

static struct import_mac *
add_mac(struct import_options *o)
{
    if (o->n_macs >= o->allocated_macs) {
        o->allocated_macs = o->allocated_macs ? 2 * o->allocated_macs : 16;
        o->macs = realloc(o->macs, o->allocated_macs * sizeof *o->macs);
        if (!o->macs) {
            abort();
        }
    }
    struct import_mac *m = &o->macs[o->n_macs++];
    memset(m, 0, sizeof *m);
    return m;
}

bool
import_add_mac_option(struct import_options *o, const char *arg,
                      struct diag *d)
{
    struct location loc = { diag_intern_file(d, "--mac"), 0, 0 };
    const char *eq = strchr(arg, '=');
    if (!eq) {
        diag_error(d, &loc, "'%s': expected ADDRESS=MAC", arg);
        return false;
    }
    char addr_text[64];
    size_t alen = eq - arg;
    if (alen >= sizeof addr_text) {
        diag_error(d, &loc, "'%s': invalid address", arg);
        return false;
    }
    memcpy(addr_text, arg, alen);
    addr_text[alen] = '\0';
    struct lb_addr addr;
    struct lb_mac mac;
    const char *err = lb_parse_addr(addr_text, &addr);
    if (err) {
        diag_error(d, &loc, "'%s': %s", arg, err);
        return false;
    }
    err = lb_parse_mac(eq + 1, &mac);
    if (err) {
        diag_error(d, &loc, "'%s': %s", arg, err);
        return false;
    }
    const struct import_mac *old = import_find_mac(o, &addr);
    if (old) {
        if (memcmp(&old->mac, &mac, sizeof mac)) {
            diag_error(d, &loc, "%s given twice with different MACs", addr_text);
            return false;
        }
        return true;
    }
    struct import_mac *m = add_mac(o);
    m->addr = addr;
    m->mac = mac;
    m->loc = loc;
    return true;
}

bool
import_load_neigh(struct import_options *o, const char *file,
                  const char *text, size_t len, struct diag *d)
{
    const char *fname = diag_intern_file(d, file);
    bool ok = true;
    int line = 0;
    for (const char *p = text, *end = text + len; p < end;) {
        const char *nl = memchr(p, '\n', end - p);
        const char *eol = nl ? nl : end;
        line++;
        /* Split the line into at most 16 words. */
        char *copy = strndup(p, eol - p);
        if (!copy) {
            abort();
        }
        char *words[16];
        int cols[16];
        int n = 0;
        char *save = NULL;
        for (char *w = strtok_r(copy, " \t\r", &save); w && n < 16;
             w = strtok_r(NULL, " \t\r", &save)) {
            cols[n] = (int) (w - copy) + 1;
            words[n++] = w;
        }
        p = nl ? nl + 1 : end;
        int ll = -1;
        for (int i = 1; i + 1 < n; i++) {
            if (!strcmp(words[i], "lladdr")) {
                ll = i + 1;
                break;
            }
        }
        struct lb_addr addr;
        struct lb_mac mac;
        if (n == 0 || ll < 0 || lb_parse_addr(words[0], &addr)) {
            /* Blank lines, entries without a link-layer address, and
             * anything that is not a neighbour entry. */
            free(copy);
            continue;
        }
        struct location loc = { fname, line, cols[ll] };
        const char *err = lb_parse_mac(words[ll], &mac);
        if (err) {
            diag_error(d, &loc, "%s for %s", err, words[0]);
            ok = false;
            free(copy);
            continue;
        }
        const struct import_mac *old = import_find_mac(o, &addr);
        if (old && !old->loc.line) {
            /* A --mac option (no line) settles it. */
        } else if (old && memcmp(&old->mac, &mac, sizeof mac)) {
            char a[20], b[20];
            lb_mac_format(&old->mac, a, sizeof a);
            lb_mac_format(&mac, b, sizeof b);
            diag_error(d, &loc, "%s has lladdr %s here but %s at line %d; "
                       "say which with --mac %s=MAC", words[0], b, a,
                       old->loc.line, words[0]);
            ok = false;
        } else if (!old) {
            struct import_mac *m = add_mac(o);
            m->addr = addr;
            m->mac = mac;
            m->loc = loc;
        }
        free(copy);
    }
    return ok;
}

const struct import_fwmark *
import_find_fwmark(const struct import_options *o, uint32_t mark)
{
    for (size_t i = 0; i < o->n_fwmarks; i++) {
        if (o->fwmarks[i].mark == mark) {
            return &o->fwmarks[i];
        }
    }
    return NULL;
}

bool
import_add_fwmark_option(struct import_options *o, const char *arg,
                         struct diag *d)
{
    static const char usage[] = "expected MARK=ADDRESS[/LEN],PROTO,PORT"
                                "[-PORT], e.g. 7=10.1.0.0/24,tcp,8000-8099";
    struct location loc = { diag_intern_file(d, "--fwmark"), 0, 0 };
    char *copy = strdup(arg);
    if (!copy) {
        abort();
    }
    char *eq = strchr(copy, '=');
    char *c1 = eq ? strchr(eq + 1, ',') : NULL;
    char *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
    struct import_fwmark f;
    memset(&f, 0, sizeof f);
    const char *err = NULL;
    if (!c2 || strchr(c2 + 1, ',')) {
        err = usage;
    } else {
        *eq = *c1 = *c2 = '\0';
        err = lb_parse_uint(copy, 1, UINT32_MAX, &f.mark);
        err = err ? err : lb_parse_prefix(eq + 1, &f.vip, &f.prefix_len);
        err = err ? err : lb_parse_proto(c1 + 1, &f.proto);
        err = err ? err : lb_parse_port_range(c2 + 1, &f.port, &f.port_max);
    }
    if (!err && import_find_fwmark(o, f.mark)) {
        err = "mark given twice";
    }
    free(copy);
    if (err) {
        diag_error(d, &loc, "'%s': %s", arg, err);
        return false;
    }
    o->fwmarks = realloc(o->fwmarks, (o->n_fwmarks + 1) * sizeof *o->fwmarks);
    if (!o->fwmarks) {
        abort();
    }
    o->fwmarks[o->n_fwmarks++] = f;
    return true;
}

char *
import_service_name(const char *prefix, enum lb_proto proto,
                    const struct lb_addr *vip, uint16_t port)
{
    char addr[64];
    lb_addr_format(vip, addr, sizeof addr);
    /* Dashes instead of dots and colons: a plain word in both syntaxes. */
    for (char *p = addr; *p; p++) {
        if (*p == '.' || *p == ':') {
            *p = '-';
        }
    }
    char *name;
    if (asprintf(&name, "%s%s%s-%s-%u", prefix ? prefix : "",
                 prefix ? "-" : "", lb_proto_name(proto), addr,
                 (unsigned) port) < 0) {
        abort();
    }
    return name;
}

void
import_unique_names(struct lb_spec *spec, size_t first)
{
    for (size_t i = first; i < spec->n_services; i++) {
        struct lb_service *svc = &spec->services[i];
        for (unsigned int k = 2;; k++) {
            bool clash = false;
            for (size_t j = 0; j < i && !clash; j++) {
                clash = !strcmp(spec->services[j].name, svc->name);
            }
            if (!clash) {
                break;
            }
            /* Strip a previous attempt's suffix by rebuilding from the
             * base, which is everything before the last "-K" we added. */
            char *name;
            size_t base = strlen(svc->name);
            if (k > 2) {
                base = strrchr(svc->name, '-') - svc->name;
            }
            if (asprintf(&name, "%.*s-%u", (int) base, svc->name, k) < 0) {
                abort();
            }
            free(svc->name);
            svc->name = name;
        }
    }
}

const char import_scheduler_list[] = "rr, wrr, lc, wlc, sh, dh, mh, fo";

bool
import_scheduler(const char *name, enum lb_scheduler *out)
{
    static const struct { const char *name; enum lb_scheduler s; } map[] = {
        { "rr", LB_SCHED_RR }, { "wrr", LB_SCHED_WRR },
        { "lc", LB_SCHED_LC }, { "wlc", LB_SCHED_WLC },
        { "sh", LB_SCHED_SH }, { "dh", LB_SCHED_DH },
        { "mh", LB_SCHED_MH }, { "fo", LB_SCHED_FO },
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
        if (!strcmp(name, map[i].name)) {
            *out = map[i].s;
            return true;
        }
    }
    return false;
}

void
import_set_mac(const struct import_options *o, struct lb_real *real,
               const struct location *loc, struct diag *d)
{
    const struct import_mac *m = import_find_mac(o, &real->addr);
    if (m) {
        real->mac = m->mac;
        real->has_mac = true;
        return;
    }
    char a[64];
    lb_addr_format(&real->addr, a, sizeof a);
    diag_warning(d, loc, "no MAC known for real %s (give --mac %s=MAC or "
                 "--neigh FILE); written without 'mac', which flowlb check "
                 "reports", a, a);
}

void
import_set_vip_mac(const struct import_options *o, struct lb_service *svc)
{
    if (o->vip_mac_auto) {
        svc->vip_mac_auto = true;
    } else if (o->has_vip_mac) {
        svc->has_vip_mac = true;
        svc->vip_mac = o->vip_mac;
    }
}

const char *
import_netmask(const char *s, int family, uint8_t *prefix_len)
{
    unsigned int max = family == AF_INET6 ? 128 : 32;
    const char *digits = *s == '/' ? s + 1 : s;
    if (*digits && strspn(digits, "0123456789") == strlen(digits)) {
        uint32_t n;
        if (lb_parse_uint(digits, 0, max, &n)) {
            return family == AF_INET6 ? "invalid prefix length (expected 0 "
                                        "to 128)"
                                      : "invalid prefix length (expected 0 "
                                        "to 32)";
        }
        *prefix_len = n;
        return NULL;
    }
    if (family == AF_INET6) {
        return "invalid IPv6 netmask (expected a prefix length, 0 to 128)";
    }
    struct in_addr mask;
    if (inet_pton(AF_INET, s, &mask) != 1) {
        return "invalid netmask (expected e.g. 255.255.255.0)";
    }
    uint32_t m = ntohl(mask.s_addr);
    /* Contiguous: the inverse plus one is a power of two. */
    uint32_t inv = ~m;
    if (inv & (inv + 1)) {
        return "netmask is not contiguous";
    }
    int len = 0;
    while (len < 32 && (m & (0x80000000u >> len))) {
        len++;
    }
    *prefix_len = len;
    return NULL;
}
