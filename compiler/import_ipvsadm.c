/* `flowlb import ipvsadm`: ipvsadm rules (ipvsadm -S -n, ipvsadm-save,
 * or a script of ipvsadm commands) to the spec model.
 *
 * Each line is one ipvsadm command: the option letters (-A -t VIP:PORT -s
 * wrr ...) or their long forms (--add-service --tcp-service=VIP:PORT ...),
 * optionally preceded by the word "ipvsadm". Commands apply in order, as
 * `ipvsadm -R` would: -A adds a service keyed by (protocol, VIP, port), -a
 * adds a real to it, -E / -e edit them, -D / -d delete them, -C clears.
 */
#include "import.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "values.h"

enum opt_id {
    O_ADD_SVC, O_EDIT_SVC, O_DEL_SVC, O_CLEAR, O_ADD_REAL, O_EDIT_REAL,
    O_DEL_REAL, O_RESTORE, O_SAVE, O_LIST,
    O_TCP, O_UDP, O_SCTP, O_FWMARK,
    O_SCHED, O_PERSISTENT, O_NETMASK, O_REAL, O_GATE, O_IPIP, O_MASQ,
    O_WEIGHT, O_UTHRESH, O_LTHRESH, O_OPS, O_PE, O_SCHED_FLAGS, O_IPV6,
    O_TUN, O_NUMERIC,
    O_N
};

enum arg_kind { ARG_NONE, ARG_REQUIRED, ARG_OPTIONAL };

static const struct ipvs_option {
    char letter;                /* 0: long form only. */
    const char *name;
    enum arg_kind arg;
    enum opt_id id;
} options[] = {
    { 'A', "add-service", ARG_NONE, O_ADD_SVC },
    { 'E', "edit-service", ARG_NONE, O_EDIT_SVC },
    { 'D', "delete-service", ARG_NONE, O_DEL_SVC },
    { 'C', "clear", ARG_NONE, O_CLEAR },
    { 'a', "add-server", ARG_NONE, O_ADD_REAL },
    { 'e', "edit-server", ARG_NONE, O_EDIT_REAL },
    { 'd', "delete-server", ARG_NONE, O_DEL_REAL },
    { 'R', "restore", ARG_NONE, O_RESTORE },
    { 'S', "save", ARG_NONE, O_SAVE },
    { 'L', "list", ARG_NONE, O_LIST },
    { 'l', NULL, ARG_NONE, O_LIST },
    { 't', "tcp-service", ARG_REQUIRED, O_TCP },
    { 'u', "udp-service", ARG_REQUIRED, O_UDP },
    { 0, "sctp-service", ARG_REQUIRED, O_SCTP },
    { 'f', "fwmark-service", ARG_REQUIRED, O_FWMARK },
    { 's', "scheduler", ARG_REQUIRED, O_SCHED },
    { 'p', "persistent", ARG_OPTIONAL, O_PERSISTENT },
    { 'M', "netmask", ARG_REQUIRED, O_NETMASK },
    { 'r', "real-server", ARG_REQUIRED, O_REAL },
    { 'g', "gatewaying", ARG_NONE, O_GATE },
    { 'i', "ipip", ARG_NONE, O_IPIP },
    { 'm', "masquerading", ARG_NONE, O_MASQ },
    { 'w', "weight", ARG_REQUIRED, O_WEIGHT },
    { 'x', "u-threshold", ARG_REQUIRED, O_UTHRESH },
    { 'y', "l-threshold", ARG_REQUIRED, O_LTHRESH },
    { 'o', "ops", ARG_NONE, O_OPS },
    { 0, "pe", ARG_REQUIRED, O_PE },
    { 'b', "sched-flags", ARG_REQUIRED, O_SCHED_FLAGS },
    { '6', "ipv6", ARG_NONE, O_IPV6 },
    { 0, "tun-type", ARG_REQUIRED, O_TUN },
    { 0, "tun-port", ARG_REQUIRED, O_TUN },
    { 0, "tun-nocsum", ARG_NONE, O_TUN },
    { 0, "tun-csum", ARG_NONE, O_TUN },
    { 0, "tun-remcsum", ARG_NONE, O_TUN },
    { 'n', "numeric", ARG_NONE, O_NUMERIC },
};

/* One option as given on a line. */
struct given {
    bool set;
    const char *value;          /* NULL if none. */
    struct location loc;        /* The option. */
    struct location value_loc;  /* Its value (= loc if attached). */
};

/* A service's identity: protocol + VIP + port, or a firewall mark. */
struct svc_key {
    bool fwmark;
    uint32_t mark;
    enum lb_proto proto;
    struct lb_addr vip;
    uint16_t port;
};

struct svc_info {
    struct svc_key key;
    struct location loc;        /* Its -A. */
};

struct ipvs_state {
    const char *file;
    struct diag *d;
    const struct import_options *opts;
    struct lb_spec *spec;
    size_t first;               /* spec->services[first..] are ours. */
    struct svc_info *info;      /* Parallel to spec->services[first..]. */
    size_t n_info, allocated_info;
    /* Firewall-mark services: reported once at their -A, their reals are
     * then skipped. */
    struct svc_info *marks;
    size_t n_marks, allocated_marks;
    size_t errors_before;       /* d->n_errors when the import began. */
};

static const struct ipvs_option *
find_short(char c)
{
    for (size_t i = 0; i < sizeof options / sizeof *options; i++) {
        if (options[i].letter == c) {
            return &options[i];
        }
    }
    return NULL;
}

static const struct ipvs_option *
find_long(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof options / sizeof *options; i++) {
        if (options[i].name && strlen(options[i].name) == len
            && !strncmp(options[i].name, name, len)) {
            return &options[i];
        }
    }
    return NULL;
}

/* --- Addresses ---------------------------------------------------------- */

/* Parses "ADDR:PORT", "[V6]:PORT" (port required unless 'port_optional'),
 * or a bare "ADDR" / "[V6]". Returns NULL or an error message. */
static const char *
parse_addr_port(const char *s, bool port_optional, struct lb_addr *addr,
                bool *has_port, uint16_t *port)
{
    char host[64];
    const char *port_text = NULL;
    *has_port = false;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close || (size_t) (close - s - 1) >= sizeof host) {
            return "invalid IPv6 address (expected [ADDRESS]:PORT)";
        }
        memcpy(host, s + 1, close - s - 1);
        host[close - s - 1] = '\0';
        if (close[1] == ':') {
            port_text = close + 2;
        } else if (close[1]) {
            return "invalid IPv6 address (expected [ADDRESS]:PORT)";
        }
    } else {
        const char *colon = strrchr(s, ':');
        if (colon && strchr(s, ':') != colon) {
            return "IPv6 addresses are written [ADDRESS]:PORT";
        }
        size_t n = colon ? (size_t) (colon - s) : strlen(s);
        if (n >= sizeof host) {
            return "invalid address";
        }
        memcpy(host, s, n);
        host[n] = '\0';
        port_text = colon ? colon + 1 : NULL;
    }
    if (lb_parse_addr(host, addr)) {
        return strpbrk(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
               && !strchr(host, ':')
               ? "not a numeric address (save the rules with ipvsadm -S -n)"
               : "invalid address";
    }
    if (!port_text) {
        return port_optional ? NULL : "missing port (expected ADDRESS:PORT)";
    }
    uint32_t n;
    if (lb_parse_uint(port_text, 0, 65535, &n)) {
        return *port_text >= '0' && *port_text <= '9'
               ? "invalid port (expected 0 to 65535)"
               : "not a numeric port (save the rules with ipvsadm -S -n)";
    }
    *has_port = true;
    *port = n;
    return NULL;
}

static bool
key_equal(const struct svc_key *a, const struct svc_key *b)
{
    if (a->fwmark || b->fwmark) {
        return a->fwmark && b->fwmark && a->mark == b->mark;
    }
    return a->proto == b->proto && a->port == b->port
           && lb_addr_equal(&a->vip, &b->vip);
}

static void
key_format(const struct svc_key *k, char *buf, size_t size)
{
    if (k->fwmark) {
        snprintf(buf, size, "fwmark %u", (unsigned) k->mark);
        return;
    }
    char a[64];
    lb_addr_format(&k->vip, a, sizeof a);
    snprintf(buf, size, k->vip.family == AF_INET6 ? "%s [%s]:%u" : "%s %s:%u",
             lb_proto_name(k->proto), a, (unsigned) k->port);
}

/* The service named by the line's -t/-u/-f option, into 'key'. */
static bool
line_key(struct ipvs_state *st, const struct given *g, struct svc_key *key,
         const struct location *cmd_loc, const char *cmd)
{
    memset(key, 0, sizeof *key);
    int kinds = g[O_TCP].set + g[O_UDP].set + g[O_SCTP].set + g[O_FWMARK].set;
    if (!kinds) {
        diag_error(st->d, cmd_loc, "%s needs the service: -t, -u or -f", cmd);
        return false;
    }
    if (kinds > 1) {
        diag_error(st->d, cmd_loc, "more than one of -t, -u, -f given");
        return false;
    }
    if (g[O_SCTP].set) {
        diag_error(st->d, &g[O_SCTP].loc, "SCTP services are not supported "
                   "(flowlb balances TCP and UDP)");
        return false;
    }
    if (g[O_FWMARK].set) {
        uint32_t mark;
        const char *err = lb_parse_uint(g[O_FWMARK].value, 1, UINT32_MAX,
                                        &mark);
        if (err) {
            diag_error(st->d, &g[O_FWMARK].value_loc, "invalid firewall mark "
                       "'%s': %s", g[O_FWMARK].value, err);
            return false;
        }
        key->fwmark = true;
        key->mark = mark;
        return true;
    }
    const struct given *svc = g[O_TCP].set ? &g[O_TCP] : &g[O_UDP];
    key->proto = g[O_TCP].set ? LB_PROTO_TCP : LB_PROTO_UDP;
    bool has_port;
    const char *err = parse_addr_port(svc->value, false, &key->vip,
                                      &has_port, &key->port);
    if (err) {
        diag_error(st->d, &svc->value_loc,
                   "service '%s': %s", svc->value, err);
        return false;
    }
    return true;
}

static long
find_service(const struct ipvs_state *st, const struct svc_key *key)
{
    for (size_t i = 0; i < st->n_info; i++) {
        if (key_equal(&st->info[i].key, key)) {
            return (long) i;
        }
    }
    return -1;
}

static const struct svc_info *
find_mark(const struct ipvs_state *st, const struct svc_key *key)
{
    for (size_t i = 0; i < st->n_marks; i++) {
        if (key_equal(&st->marks[i].key, key)) {
            return &st->marks[i];
        }
    }
    return NULL;
}

/* --- Commands ----------------------------------------------------------- */

static void
warn_ignored(struct ipvs_state *st, const struct given *g, const char *what)
{
    diag_warning(st->d, &g->loc, "%s is not supported by flowlb and is "
                 "ignored", what);
}

/* Scheduler and persistence options of -A / -E. */
static void
apply_service_options(struct ipvs_state *st, struct lb_service *svc,
                      const struct given *g, bool adding)
{
    if (g[O_SCHED].set) {
        svc->scheduler_loc = g[O_SCHED].value_loc;
        if (!import_scheduler(g[O_SCHED].value, &svc->scheduler)) {
            diag_error(st->d, &g[O_SCHED].value_loc, "unknown scheduler '%s' "
                       "(flowlb has: %s)", g[O_SCHED].value,
                       import_scheduler_list);
        }
    } else if (adding) {
        /* ipvsadm's default. */
        svc->scheduler = LB_SCHED_WLC;
    }
    if (g[O_PERSISTENT].set) {
        uint32_t timeout = 300;      /* ipvsadm's default. */
        if (g[O_PERSISTENT].value) {
            /* At most 65535 s, the largest OpenFlow timeout, as the
             * front ends require of the written spec. */
            const char *err = lb_parse_uint(g[O_PERSISTENT].value, 1,
                                            65535, &timeout);
            if (err) {
                diag_error(st->d, &g[O_PERSISTENT].value_loc, "invalid "
                           "persistence timeout '%s': %s",
                           g[O_PERSISTENT].value, err);
            }
        }
        svc->persistence_s = timeout;
        svc->persistence_loc = g[O_PERSISTENT].loc;
    }
    if (g[O_NETMASK].set) {
        uint8_t len;
        const char *err = import_netmask(g[O_NETMASK].value,
                                         svc->vip.family ? svc->vip.family
                                                         : AF_INET, &len);
        if (err) {
            diag_error(st->d, &g[O_NETMASK].value_loc, "%s: '%s'", err,
                       g[O_NETMASK].value);
        } else if (!svc->persistence_s) {
            diag_warning(st->d, &g[O_NETMASK].loc, "-M without -p: the "
                         "netmask only applies to persistent services and "
                         "is ignored");
        } else {
            svc->persistence_prefix_len = len;
            svc->persistence_prefix_loc = g[O_NETMASK].value_loc;
        }
    }
    if (g[O_OPS].set) {
        diag_warning(st->d, &g[O_OPS].loc, "one-packet scheduling (-o) is "
                     "not supported and is ignored: a UDP flow stays on its "
                     "real for its conntrack lifetime");
    }
    if (g[O_PE].set) {
        warn_ignored(st, &g[O_PE], "a persistence engine (--pe)");
    }
    if (g[O_SCHED_FLAGS].set) {
        warn_ignored(st, &g[O_SCHED_FLAGS], "scheduler flags (-b)");
    }
}

static void
cmd_add_service(struct ipvs_state *st, const struct given *g,
                const struct location *cmd_loc)
{
    struct svc_key key;
    if (!line_key(st, g, &key, cmd_loc, "-A")) {
        return;
    }
    char kbuf[96];
    key_format(&key, kbuf, sizeof kbuf);
    long old = find_service(st, &key);
    const struct svc_info *mark = find_mark(st, &key);
    if (old >= 0 || mark) {
        const struct location *first = mark ? &mark->loc : &st->info[old].loc;
        diag_error(st->d, cmd_loc, "service %s added twice (first at line %d)",
                   kbuf, first->line);
        return;
    }
    const struct import_fwmark *fm = key.fwmark
                                     ? import_find_fwmark(st->opts, key.mark)
                                     : NULL;
    if (key.fwmark && !fm) {
        diag_error(st->d, &g[O_FWMARK].loc,
                   "firewall-mark service %u cannot be "
                   "imported as it is: ipvsadm does not say which packets "
                   "carry the mark (iptables/nft rules do). Give it with "
                   "--fwmark %u=ADDRESS[/LEN],PROTO,PORT[-PORT], or write the "
                   "service by hand and drop its lines from the input",
                   (unsigned) key.mark, (unsigned) key.mark);
        if (st->n_marks >= st->allocated_marks) {
            st->allocated_marks = st->allocated_marks
                                  ? 2 * st->allocated_marks : 4;
            st->marks = realloc(st->marks,
                                st->allocated_marks * sizeof *st->marks);
            if (!st->marks) {
                abort();
            }
        }
        st->marks[st->n_marks].key = key;
        st->marks[st->n_marks++].loc = *cmd_loc;
        return;
    }

    struct lb_service *svc = lb_spec_add_service(st->spec);
    if (st->n_info >= st->allocated_info) {
        st->allocated_info = st->allocated_info ? 2 * st->allocated_info : 8;
        st->info = realloc(st->info, st->allocated_info * sizeof *st->info);
        if (!st->info) {
            abort();
        }
    }
    st->info[st->n_info].key = key;
    st->info[st->n_info++].loc = *cmd_loc;

    svc->loc = *cmd_loc;
    svc->has_vip = true;
    if (fm) {
        /* What the mark selects, as the operator described it. */
        if (asprintf(&svc->name, "fwmark-%u", (unsigned) key.mark) < 0) {
            abort();
        }
        svc->vip = fm->vip;
        svc->vip_prefix_len = fm->prefix_len;
        svc->proto = fm->proto;
        svc->port = fm->port;
        svc->port_max = fm->port_max;
        svc->vip_loc = g[O_FWMARK].value_loc;
    } else {
        const struct given *sv = g[O_TCP].set ? &g[O_TCP] : &g[O_UDP];
        svc->name = import_service_name(NULL, key.proto, &key.vip, key.port);
        svc->vip = key.vip;
        svc->proto = key.proto;
        svc->port = key.port;
        svc->port_max = key.port;
        svc->vip_loc = sv->value_loc;
    }
    import_set_vip_mac(st->opts, svc);
    apply_service_options(st, svc, g, true);
    if (!key.fwmark && key.port == 0 && !svc->persistence_s) {
        /* IPVS only accepts port 0 on persistent services; keep going. */
        diag_warning(st->d, &svc->vip_loc, "port 0 without -p: IPVS "
                     "refuses this; imported as a service on every %s port",
                     lb_proto_name(key.proto));
    }
}

static struct lb_service *
service_at(struct ipvs_state *st, long i)
{
    return &st->spec->services[st->first + i];
}

static void
remove_service(struct ipvs_state *st, long i)
{
    struct lb_spec one;
    lb_spec_init(&one);
    *lb_spec_add_service(&one) = *service_at(st, i);
    lb_spec_destroy(&one);
    size_t at = st->first + i;
    memmove(&st->spec->services[at], &st->spec->services[at + 1],
            (st->spec->n_services - at - 1) * sizeof *st->spec->services);
    st->spec->n_services--;
    memmove(&st->info[i], &st->info[i + 1],
            (st->n_info - i - 1) * sizeof *st->info);
    st->n_info--;
}

/* The service an -E/-D/-a/-e/-d line refers to; -1 if none (reported,
 * unless it is a firewall-mark service, already reported at its -A). */
static long
existing_service(struct ipvs_state *st, const struct given *g,
                 const struct location *cmd_loc, const char *cmd)
{
    struct svc_key key;
    if (!line_key(st, g, &key, cmd_loc, cmd)) {
        return -1;
    }
    long i = find_service(st, &key);
    if (i < 0 && !find_mark(st, &key)) {
        char kbuf[96];
        key_format(&key, kbuf, sizeof kbuf);
        diag_error(st->d, cmd_loc, "%s: no service %s (add it with -A first)",
                   cmd, kbuf);
    }
    return i;
}

static void
cmd_edit_service(struct ipvs_state *st, const struct given *g,
                 const struct location *cmd_loc)
{
    long i = existing_service(st, g, cmd_loc, "-E");
    if (i >= 0) {
        apply_service_options(st, service_at(st, i), g, false);
    }
}

/* The real named by -r in service 'svc'; its index or -1. Fills 'addr'. */
static long
line_real(struct ipvs_state *st, const struct given *g,
          const struct lb_service *svc, const struct location *cmd_loc,
          const char *cmd, struct lb_addr *addr, bool *has_port,
          uint16_t *port, bool *bad)
{
    *bad = true;
    if (!g[O_REAL].set) {
        diag_error(st->d, cmd_loc,
                   "%s needs the real: -r ADDRESS[:PORT]", cmd);
        return -1;
    }
    const char *err = parse_addr_port(g[O_REAL].value, true, addr, has_port,
                                      port);
    if (err) {
        diag_error(st->d, &g[O_REAL].value_loc,
                   "real '%s': %s", g[O_REAL].value,
                   err);
        return -1;
    }
    *bad = false;
    for (size_t j = 0; j < svc->n_reals; j++) {
        if (lb_addr_equal(&svc->reals[j].addr, addr)) {
            return (long) j;
        }
    }
    return -1;
}

/* Forwarding method and weight of -a / -e. */
static void
apply_real_options(struct ipvs_state *st, const struct lb_service *svc,
                   struct lb_real *real, const struct given *g)
{
    char a[64];
    lb_addr_format(&real->addr, a, sizeof a);
    if (g[O_MASQ].set) {
        diag_error(st->d, &g[O_MASQ].loc, "real %s of service %s uses NAT "
                   "(masquerading, -m): flowlb does direct routing only (-g), "
                   "where the real holds the VIP itself and answers the "
                   "client directly; NAT is not converted", a, svc->name);
    }
    if (g[O_IPIP].set) {
        diag_error(st->d, &g[O_IPIP].loc,
                   "real %s of service %s uses IP-in-IP "
                   "tunnelling (-i): flowlb does direct routing only (-g), to "
                   "reals on the same L2 segment; tunnelling is not converted",
                   a, svc->name);
    }
    if (g[O_TUN].set && !g[O_IPIP].set) {
        diag_error(st->d, &g[O_TUN].loc, "tunnel options are not supported "
                   "(flowlb does direct routing only)");
    }
    if (g[O_WEIGHT].set) {
        uint32_t w;
        const char *err = lb_parse_uint(g[O_WEIGHT].value, 0, 65535, &w);
        if (err) {
            diag_error(st->d, &g[O_WEIGHT].value_loc,
                       "invalid weight '%s': %s",
                       g[O_WEIGHT].value, err);
        } else {
            real->weight = w;
            real->weight_loc = g[O_WEIGHT].value_loc;
        }
    }
    if (g[O_UTHRESH].set) {
        warn_ignored(st, &g[O_UTHRESH], "a connection upper threshold (-x)");
    }
    if (g[O_LTHRESH].set) {
        warn_ignored(st, &g[O_LTHRESH], "a connection lower threshold (-y)");
    }
}

static void
cmd_add_real(struct ipvs_state *st, const struct given *g,
             const struct location *cmd_loc)
{
    long i = existing_service(st, g, cmd_loc, "-a");
    if (i < 0) {
        return;
    }
    struct lb_service *svc = service_at(st, i);
    struct lb_addr addr;
    bool has_port, bad;
    uint16_t port = 0;
    long j = line_real(st, g, svc, cmd_loc, "-a", &addr, &has_port, &port,
                       &bad);
    if (bad) {
        return;
    }
    char a[64];
    lb_addr_format(&addr, a, sizeof a);
    if (j >= 0) {
        diag_error(st->d, &g[O_REAL].value_loc,
                   "real %s added twice to service "
                   "%s (first at line %d)", a, svc->name,
                   svc->reals[j].loc.line);
        return;
    }
    if (addr.family != svc->vip.family) {
        diag_error(st->d, &g[O_REAL].value_loc, "real %s is not of the VIP's "
                   "address family (direct routing keeps the packet as it "
                   "is)", a);
        return;
    }
    struct lb_real *real = lb_service_add_real(svc);
    real->addr = addr;
    real->loc = *cmd_loc;
    real->addr_loc = g[O_REAL].value_loc;
    apply_real_options(st, svc, real, g);
    if (has_port && svc->port && port != svc->port && !g[O_MASQ].set
        && !st->info[i].key.fwmark) {
        diag_warning(st->d, &g[O_REAL].value_loc, "real %s has port %u but "
                     "the service port is %u: direct routing cannot change "
                     "the port (IPVS ignores it too)", a, (unsigned) port,
                     (unsigned) svc->port);
    }
    if (!g[O_MASQ].set && !g[O_IPIP].set) {
        import_set_mac(st->opts, real, &g[O_REAL].value_loc, st->d);
    }
}

static void
cmd_edit_or_delete_real(struct ipvs_state *st, const struct given *g,
                        const struct location *cmd_loc, bool delete)
{
    const char *cmd = delete ? "-d" : "-e";
    long i = existing_service(st, g, cmd_loc, cmd);
    if (i < 0) {
        return;
    }
    struct lb_service *svc = service_at(st, i);
    struct lb_addr addr;
    bool has_port, bad;
    uint16_t port;
    long j = line_real(st, g, svc, cmd_loc, cmd, &addr, &has_port, &port,
                       &bad);
    if (bad) {
        return;
    }
    if (j < 0) {
        char a[64];
        lb_addr_format(&addr, a, sizeof a);
        diag_error(st->d, &g[O_REAL].value_loc,
                   "%s: service %s has no real %s",
                   cmd, svc->name, a);
        return;
    }
    if (delete) {
        free(svc->reals[j].port);
        memmove(&svc->reals[j], &svc->reals[j + 1],
                (svc->n_reals - j - 1) * sizeof *svc->reals);
        svc->n_reals--;
    } else {
        apply_real_options(st, svc, &svc->reals[j], g);
    }
}

/* --- Lines -------------------------------------------------------------- */

struct word {
    char *text;
    int col;
};

/* Splits a line at blanks. Columns count characters. */
static size_t
split_words(char *line, struct word *words, size_t max)
{
    size_t n = 0;
    int col = 1;
    char *p = line;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\r') {
            p++, col++;
        }
        if (!*p) {
            break;
        }
        char *start = p;
        int start_col = col;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r') {
            col += ((unsigned char) *p & 0xc0) != 0x80;
            p++;
        }
        if (*p) {
            *p++ = '\0';
            col++;
        }
        if (n < max) {
            words[n].text = start;
            words[n].col = start_col;
        }
        n++;
    }
    return n;
}

static void
parse_line(struct ipvs_state *st, char *line, int lineno)
{
    enum { MAX_WORDS = 64 };
    struct word w[MAX_WORDS];
    size_t n = split_words(line, w, MAX_WORDS);
    if (!n || w[0].text[0] == '#') {
        return;
    }
    struct location loc = { st->file, lineno, w[0].col };
    if (n > MAX_WORDS) {
        diag_error(st->d, &loc, "too many words on one line");
        return;
    }
    size_t i = 0;
    if (!strcmp(w[0].text, "ipvsadm")) {
        i++;
    }

    struct given g[O_N];
    memset(g, 0, sizeof g);
    int cmd = -1;
    struct location cmd_loc = loc;
    for (; i < n; i++) {
        char *t = w[i].text;
        struct location tl = { st->file, lineno, w[i].col };
        const struct ipvs_option *o = NULL;
        const char *attached = NULL;
        if (t[0] == '-' && t[1] == '-' && t[2]) {
            const char *eq = strchr(t + 2, '=');
            size_t len = eq ? (size_t) (eq - t - 2) : strlen(t + 2);
            o = find_long(t + 2, len);
            attached = eq ? eq + 1 : NULL;
        } else if (t[0] == '-' && t[1] && t[1] != '-') {
            o = find_short(t[1]);
            attached = t[2] ? t + 2 : NULL;
        } else {
            diag_error(st->d, &tl, "unexpected '%s' (expected an option)", t);
            return;
        }
        if (!o) {
            diag_error(st->d, &tl, "unknown ipvsadm option '%s'", t);
            return;
        }
        struct given *gv = &g[o->id];
        if (gv->set && o->id != O_TUN) {
            diag_error(st->d, &tl, "option '%s' given twice", t);
            return;
        }
        gv->set = true;
        gv->loc = tl;
        gv->value_loc = tl;
        if (attached && o->arg == ARG_NONE) {
            diag_error(st->d, &tl, "option '%s' takes no value", t);
            return;
        }
        if (attached) {
            gv->value = attached;
            gv->value_loc.col += (int) (attached - t);
        } else if (o->arg == ARG_REQUIRED
                   || (o->arg == ARG_OPTIONAL && i + 1 < n
                       && w[i + 1].text[0] != '-')) {
            if (i + 1 >= n) {
                diag_error(st->d, &tl, "option '%s' needs a value", t);
                return;
            }
            i++;
            gv->value = w[i].text;
            gv->value_loc.col = w[i].col;
        }
        if (o->id <= O_LIST) {
            if (cmd >= 0) {
                diag_error(st->d, &tl, "more than one command on a line");
                return;
            }
            cmd = o->id;
            cmd_loc = tl;
        }
    }
    switch (cmd) {
    case O_ADD_SVC:
        cmd_add_service(st, g, &cmd_loc);
        break;
    case O_EDIT_SVC:
        cmd_edit_service(st, g, &cmd_loc);
        break;
    case O_DEL_SVC: {
        long k = existing_service(st, g, &cmd_loc, "-D");
        if (k >= 0) {
            remove_service(st, k);
        }
        break;
    }
    case O_CLEAR:
        while (st->n_info) {
            remove_service(st, st->n_info - 1);
        }
        st->n_marks = 0;
        break;
    case O_ADD_REAL:
        cmd_add_real(st, g, &cmd_loc);
        break;
    case O_EDIT_REAL:
        cmd_edit_or_delete_real(st, g, &cmd_loc, false);
        break;
    case O_DEL_REAL:
        cmd_edit_or_delete_real(st, g, &cmd_loc, true);
        break;
    case O_RESTORE:
    case O_SAVE:
    case O_LIST:
        diag_error(st->d, &cmd_loc, "'%s' is not a rule: give the output of "
                   "ipvsadm -S -n", w[0].text);
        break;
    default:
        diag_error(st->d, &loc,
                   "no command on this line (expected -A, -E, -D, "
                   "-a, -e, -d or -C)");
        break;
    }
}

bool
import_ipvsadm(const char *file, const char *text, size_t len,
               const struct import_options *opts, struct lb_spec *spec,
               struct diag *d)
{
    struct ipvs_state st;
    memset(&st, 0, sizeof st);
    st.file = diag_intern_file(d, file);
    st.d = d;
    st.errors_before = d->n_errors;
    st.opts = opts;
    st.spec = spec;
    st.first = spec->n_services;

    int lineno = 0;
    for (const char *p = text, *end = text + len; p < end;) {
        const char *nl = memchr(p, '\n', end - p);
        const char *eol = nl ? nl : end;
        lineno++;
        if (memchr(p, '\0', eol - p)) {
            struct location loc = { st.file, lineno, 1 };
            diag_error(st.d, &loc, "NUL byte in input");
        } else {
            char *line = strndup(p, eol - p);
            if (!line) {
                abort();
            }
            parse_line(&st, line, lineno);
            free(line);
        }
        p = nl ? nl + 1 : end;
    }
    if (st.d->n_errors == st.errors_before && spec->n_services == st.first) {
        struct location loc = { st.file, 0, 0 };
        diag_error(st.d, &loc, "no virtual services found (expected the "
                   "output of ipvsadm -S -n)");
    }
    /* The defaults that depend on the VIP, as the front ends set them. */
    for (size_t i = st.first; i < spec->n_services; i++) {
        lb_service_complete(&spec->services[i]);
    }
    import_unique_names(spec, st.first);
    free(st.info);
    free(st.marks);
    return st.d->n_errors == st.errors_before;
}
