/* The spec model back to text (DSL or YAML); see spec_print.h. */
#include "spec_print.h"

#include <string.h>
#include "values.h"


static bool
is_dsl_word(const char *s)
{
    if (!*s) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789_.:/-", *p)) {
            return false;
        }
    }
    return true;
}

/* DSL statement keywords are tokens of their own, so a value spelt like
 * one must be quoted. They are all made of [a-z-]: quoting every such
 * value keeps the output right whatever keywords are added later. */
static bool
keyword_like(const char *s)
{
    return strspn(s, "abcdefghijklmnopqrstuvwxyz-") == strlen(s);
}

/* Writes 's' as a DSL word or string. Strings cannot hold a newline. */
static bool
dsl_value(FILE *out, const char *s, bool name_position, const char **error)
{
    /* Names: the grammar takes keywords as service names. Values: a
     * keyword would end the statement. */
    bool plain = is_dsl_word(s) && (name_position || !keyword_like(s));
    if (plain) {
        fputs(s, out);
        return true;
    }
    if (strchr(s, '\n')) {
        *error = "a value holds a newline, which a DSL string cannot";
        return false;
    }
    fputc('"', out);
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            fputc('\\', out);
        }
        fputc(*p, out);
    }
    fputc('"', out);
    return true;
}

static void
print_duration(FILE *out, uint32_t ms)
{
    if (ms && ms % 1000 == 0) {
        fprintf(out, "%us", (unsigned) (ms / 1000));
    } else {
        fprintf(out, "%ums", (unsigned) ms);
    }
}

static void
print_header(FILE *out, const char *header)
{
    if (!header) {
        return;
    }
    for (const char *p = header; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t) (nl - p) : strlen(p);
        fprintf(out, "#%s%.*s\n", n ? " " : "", (int) n, p);
        p += n + (nl != NULL);
    }
}

static unsigned int
family_bits(int family)
{
    return family == AF_INET6 ? 128 : 32;
}

/* --- DSL ---------------------------------------------------------------- */

static bool
dsl_real(FILE *out, const char *kw, const struct lb_real *r, bool weight,
         const char **error)
{
    char a[64], m[20];
    lb_addr_format(&r->addr, a, sizeof a);
    if (!r->has_mac) {
        fprintf(out, "    # MAC of %s unknown: add 'mac MAC' (flowlb import "
                "--mac %s=MAC or --neigh FILE)\n", a, a);
    }
    fprintf(out, "    %s %s", kw, a);
    if (r->has_mac) {
        lb_mac_format(&r->mac, m, sizeof m);
        fprintf(out, " mac %s", m);
    }
    if (r->port) {
        fputs(" port ", out);
        if (!dsl_value(out, r->port, false, error)) {
            return false;
        }
    }
    if (weight) {
        fprintf(out, " weight %u", (unsigned) r->weight);
    }
    fputs(";\n", out);
    return true;
}

static bool
dsl_check(FILE *out, const struct lb_check *c, const char **error)
{
    fprintf(out, "    check %s interval ", lb_check_type_name(c->type));
    print_duration(out, c->interval_ms);
    fputs(" timeout ", out);
    print_duration(out, c->timeout_ms);
    fprintf(out, " rise %u fall %u", (unsigned) c->rise, (unsigned) c->fall);
    if (c->port) {
        fprintf(out, " port %u", (unsigned) c->port);
    }
    const struct { const char *key; const char *value; } strings[] = {
        { "path", c->path }, { "body", c->expect_body },
        { "command", c->command }, { "send", c->send },
        { "reply", c->expect_reply },
    };
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++) {
        if (i == 1 && c->expect_status != 200) {
            fprintf(out, " expect %u", (unsigned) c->expect_status);
        }
        if (strings[i].value) {
            fprintf(out, " %s ", strings[i].key);
            if (!dsl_value(out, strings[i].value, false, error)) {
                return false;
            }
        }
    }
    if (c->source.family) {
        char a[64];
        lb_addr_format(&c->source, a, sizeof a);
        fprintf(out, " source %s", a);
    }
    fputs(";\n", out);
    return true;
}

static bool
dsl_service(FILE *out, const struct lb_service *svc, const char **error)
{
    char a[64], m[20];
    fputs("service ", out);
    if (!dsl_value(out, svc->name ? svc->name : "", true, error)) {
        return false;
    }
    fputs(" {\n", out);

    unsigned int bits = family_bits(svc->vip.family);
    lb_addr_format(&svc->vip, a, sizeof a);
    fprintf(out, "    vip %s", a);
    if (svc->vip_prefix_len && svc->vip_prefix_len != bits) {
        fprintf(out, "/%u", (unsigned) svc->vip_prefix_len);
    }
    fprintf(out, " %s %u", lb_proto_name(svc->proto), (unsigned) svc->port);
    if (svc->port_max > svc->port) {
        fprintf(out, "-%u", (unsigned) svc->port_max);
    }
    fputs(";\n", out);
    if (svc->vip_mac_auto) {
        fputs("    vip-mac auto;\n", out);
    } else if (svc->has_vip_mac) {
        lb_mac_format(&svc->vip_mac, m, sizeof m);
        fprintf(out, "    vip-mac %s;\n", m);
    }
    fprintf(out, "    scheduler %s;\n", lb_scheduler_name(svc->scheduler));
    if (svc->persistence_s) {
        fprintf(out, "    persistence %us", (unsigned) svc->persistence_s);
        if (svc->persistence_prefix_len
            && svc->persistence_prefix_len != bits) {
            fprintf(out, " prefix %u", (unsigned) svc->persistence_prefix_len);
        }
        fputs(";\n", out);
    }
    if (svc->stickiness != LB_STICKY_CONNTRACK || svc->sticky_idle_s != 300) {
        fprintf(out, "    stickiness %s",
                svc->stickiness == LB_STICKY_LEARN ? "learn" : "conntrack");
        if (svc->sticky_idle_s != 300) {
            fprintf(out, " idle %us", (unsigned) svc->sticky_idle_s);
        }
        fputs(";\n", out);
    }
    if (svc->udp_timeout_s) {
        fprintf(out, "    udp-timeout %us;\n", (unsigned) svc->udp_timeout_s);
    }
    if (svc->quorum || svc->quorum_hysteresis) {
        fprintf(out, "    quorum %u", (unsigned) svc->quorum);
        if (svc->quorum_hysteresis) {
            fprintf(out, " hysteresis %u", (unsigned) svc->quorum_hysteresis);
        }
        fputs(";\n", out);
    }
    if (svc->inhibit_on_failure) {
        fputs("    inhibit-on-failure;\n", out);
    }
    if (svc->expire_nodest_conn) {
        fputs("    expire-nodest-conn;\n", out);
    }
    for (size_t i = 0; i < svc->n_reals; i++) {
        if (!dsl_real(out, "real", &svc->reals[i], true, error)) {
            return false;
        }
    }
    if (svc->has_sorry && !dsl_real(out, "sorry", &svc->sorry, false, error)) {
        return false;
    }
    if (svc->check.type != LB_CHECK_NONE && !dsl_check(out, &svc->check,
                                                       error)) {
        return false;
    }
    fputs("}\n", out);
    return true;
}

bool
spec_print_dsl(const struct lb_spec *spec, const char *header, FILE *out,
               const char **error)
{
    print_header(out, header);
    for (size_t i = 0; i < spec->n_services; i++) {
        if (i || header) {
            fputc('\n', out);
        }
        if (!dsl_service(out, &spec->services[i], error)) {
            return false;
        }
    }
    return true;
}

/* --- YAML --------------------------------------------------------------- */

/* Plain scalars only for what no YAML reader could take for anything but
 * a string or number (the flowlb loader reads every scalar as a string,
 * but other tools will read the file too): no ':' (MACs, IPv6), no
 * leading '-' or '.', nothing special. Everything else double-quoted. */
static void
yaml_scalar(FILE *out, const char *s)
{
    bool plain = *s && strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "0123456789/", *s);
    for (const char *p = s; plain && *p; p++) {
        plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                       "0123456789_./-", *p) != NULL;
    }
    /* Words YAML 1.1 readers turn into booleans or nulls. */
    static const char *const special[] = {
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true",
        "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off",
        "Off", "OFF", "null", "Null", "NULL", NULL
    };
    for (size_t i = 0; plain && special[i]; i++) {
        plain = strcmp(s, special[i]) != 0;
    }
    if (plain) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                fprintf(out, "\\x%02x", *p);
            } else {
                fputc(*p, out);
            }
        }
    }
    fputc('"', out);
}

static void
yaml_key_scalar(FILE *out, const char *indent, const char *key, const char *s)
{
    fprintf(out, "%s%s: ", indent, key);
    yaml_scalar(out, s);
    fputc('\n', out);
}

static void
yaml_duration(FILE *out, const char *indent, const char *key, uint32_t ms)
{
    fprintf(out, "%s%s: ", indent, key);
    print_duration(out, ms);
    fputc('\n', out);
}

static void
yaml_real(FILE *out, const char *indent, const struct lb_real *r,
          bool weight)
{
    char a[64], m[20];
    lb_addr_format(&r->addr, a, sizeof a);
    if (!r->has_mac) {
        fprintf(out, "%s# MAC of %s unknown: add 'mac: MAC' (flowlb import "
                "--mac %s=MAC or --neigh FILE)\n", indent, a, a);
    }
    fprintf(out, "%s- address: ", indent);
    yaml_scalar(out, a);
    fputc('\n', out);
    char more[32];
    snprintf(more, sizeof more, "%s  ", indent);
    if (r->has_mac) {
        lb_mac_format(&r->mac, m, sizeof m);
        yaml_key_scalar(out, more, "mac", m);
    }
    if (r->port) {
        yaml_key_scalar(out, more, "port", r->port);
    }
    if (weight) {
        fprintf(out, "%sweight: %u\n", more, (unsigned) r->weight);
    }
}

static void
yaml_service(FILE *out, const struct lb_service *svc)
{
    static const char ind[] = "    ";
    char a[64], m[20];
    fputs("  - name: ", out);
    yaml_scalar(out, svc->name ? svc->name : "");
    fputc('\n', out);

    unsigned int bits = family_bits(svc->vip.family);
    lb_addr_format(&svc->vip, a, sizeof a);
    if (svc->vip_prefix_len && svc->vip_prefix_len != bits) {
        size_t n = strlen(a);
        snprintf(a + n, sizeof a - n, "/%u", (unsigned) svc->vip_prefix_len);
    }
    yaml_key_scalar(out, ind, "vip", a);
    fprintf(out, "%sprotocol: %s\n", ind, lb_proto_name(svc->proto));
    if (svc->port_max > svc->port) {
        fprintf(out, "%sport: %u-%u\n", ind, (unsigned) svc->port,
                (unsigned) svc->port_max);
    } else {
        fprintf(out, "%sport: %u\n", ind, (unsigned) svc->port);
    }
    if (svc->vip_mac_auto) {
        fprintf(out, "%svip_mac: auto\n", ind);
    } else if (svc->has_vip_mac) {
        lb_mac_format(&svc->vip_mac, m, sizeof m);
        yaml_key_scalar(out, ind, "vip_mac", m);
    }
    fprintf(out, "%sscheduler: %s\n", ind, lb_scheduler_name(svc->scheduler));
    if (svc->persistence_s) {
        fprintf(out, "%spersistence:\n%s  timeout: %us\n", ind, ind,
                (unsigned) svc->persistence_s);
        if (svc->persistence_prefix_len
            && svc->persistence_prefix_len != bits) {
            fprintf(out, "%s  prefix: %u\n", ind,
                    (unsigned) svc->persistence_prefix_len);
        }
    }
    if (svc->stickiness != LB_STICKY_CONNTRACK || svc->sticky_idle_s != 300) {
        fprintf(out, "%sstickiness: %s\n", ind,
                svc->stickiness == LB_STICKY_LEARN ? "learn" : "conntrack");
        if (svc->sticky_idle_s != 300) {
            fprintf(out, "%ssticky_idle: %us\n", ind,
                    (unsigned) svc->sticky_idle_s);
        }
    }
    if (svc->udp_timeout_s) {
        fprintf(out, "%sudp_timeout: %us\n", ind, (unsigned) svc->udp_timeout_s);
    }
    if (svc->quorum || svc->quorum_hysteresis) {
        fprintf(out, "%squorum: %u\n", ind, (unsigned) svc->quorum);
        if (svc->quorum_hysteresis) {
            fprintf(out, "%shysteresis: %u\n", ind,
                    (unsigned) svc->quorum_hysteresis);
        }
    }
    if (svc->inhibit_on_failure) {
        fprintf(out, "%sinhibit_on_failure: true\n", ind);
    }
    if (svc->expire_nodest_conn) {
        fprintf(out, "%sexpire_nodest_conn: true\n", ind);
    }
    if (svc->check.type != LB_CHECK_NONE) {
        const struct lb_check *c = &svc->check;
        static const char ci[] = "      ";
        fprintf(out, "%scheck:\n%stype: %s\n", ind, ci,
                lb_check_type_name(c->type));
        yaml_duration(out, ci, "interval", c->interval_ms);
        yaml_duration(out, ci, "timeout", c->timeout_ms);
        fprintf(out, "%srise: %u\n%sfall: %u\n", ci, (unsigned) c->rise, ci,
                (unsigned) c->fall);
        if (c->port) {
            fprintf(out, "%sport: %u\n", ci, (unsigned) c->port);
        }
        if (c->path) {
            yaml_key_scalar(out, ci, "path", c->path);
        }
        if (c->expect_status != 200) {
            fprintf(out, "%sexpect: %u\n", ci, (unsigned) c->expect_status);
        }
        if (c->expect_body) {
            yaml_key_scalar(out, ci, "body", c->expect_body);
        }
        if (c->command) {
            yaml_key_scalar(out, ci, "command", c->command);
        }
        if (c->send) {
            yaml_key_scalar(out, ci, "send", c->send);
        }
        if (c->expect_reply) {
            yaml_key_scalar(out, ci, "expect_reply", c->expect_reply);
        }
        if (c->source.family) {
            lb_addr_format(&c->source, a, sizeof a);
            yaml_key_scalar(out, ci, "source", a);
        }
    }
    if (svc->has_sorry) {
        fprintf(out, "%ssorry:\n", ind);
        /* A mapping, not a sequence item: print as an item and strip the
         * dash by indenting the keys under 'sorry:'. */
        char a2[64], m2[20];
        const struct lb_real *r = &svc->sorry;
        lb_addr_format(&r->addr, a2, sizeof a2);
        if (!r->has_mac) {
            fprintf(out, "%s  # MAC of %s unknown: add 'mac: MAC'\n", ind, a2);
        }
        yaml_key_scalar(out, "      ", "address", a2);
        if (r->has_mac) {
            lb_mac_format(&r->mac, m2, sizeof m2);
            yaml_key_scalar(out, "      ", "mac", m2);
        }
        if (r->port) {
            yaml_key_scalar(out, "      ", "port", r->port);
        }
    }
    if (svc->n_reals) {
        fprintf(out, "%sreals:\n", ind);
        for (size_t i = 0; i < svc->n_reals; i++) {
            yaml_real(out, "      ", &svc->reals[i], true);
        }
    }
}

bool
spec_print_yaml(const struct lb_spec *spec, const char *header, FILE *out,
                const char **error)
{
    (void) error;
    print_header(out, header);
    fputs("services:\n", out);
    for (size_t i = 0; i < spec->n_services; i++) {
        yaml_service(out, &spec->services[i]);
    }
    return true;
}
