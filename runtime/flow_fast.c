/* Building the flows lowering emits in bulk without ovs-ofctl's flow
 * parser (see flow_fast.h). */
#include <config.h>
#include "flow_fast.h"

#include <stdlib.h>
#include <string.h>
#include "nx-match.h"
#include "openvswitch/match.h"
#include "openvswitch/meta-flow.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-parse.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/ofpbuf.h"
#include "packets.h"
#include "util.h"

/* Longest match or actions text taken (lowering's bulk flows are far
 * shorter); longer ones go to the general parser. */
#define FLOW_FAST_MAX_TEXT 512

/* Splits 's' at its next comma outside parentheses: returns the token
 * (NUL-terminated in place) and advances '*s', or NULL at the end. */
static char *
next_token(char **s)
{
    char *p = *s;
    if (!*p) {
        return NULL;
    }
    int depth = 0;
    char *q = p;
    for (; *q && (depth || *q != ','); q++) {
        depth += (*q == '(') - (*q == ')');
    }
    if (*q) {
        *q++ = '\0';
    }
    *s = q;
    return p;
}

/* A decimal number below 2^32 and nothing else (what lowering writes for
 * group ids, tables, zones and port numbers). A leading zero is refused:
 * OVS's parser reads "010" as octal. */
static bool
parse_decimal(const char *s, uint32_t *out)
{
    uint64_t v = 0;
    if (!*s || (s[0] == '0' && s[1])) {
        return false;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || (v = v * 10 + (*s - '0')) > UINT32_MAX) {
            return false;
        }
    }
    *out = v;
    return true;
}

/* The fields lowering matches on and sets, whose values take the same
 * form built here as decoded from the switch (rt_test_flow_fast checks
 * each in use); any other field goes to the parser. */
static bool
field_known(const char *name, bool set)
{
    static const char *const match_fields[] = {
        "arp_op", "arp_tpa", "nw_dst", "nw_src", "ipv6_dst", "ipv6_src",
        "tp_dst", "tp_src", "ct_state", "ct_mark", "reg12", "reg13",
        "icmp_type", "icmp_code", "nd_target",
    };
    static const char *const set_fields[] = {
        "eth_dst", "eth_src", "arp_op", "arp_sha", "arp_spa", "ipv6_dst",
        "ipv6_src", "icmpv6_type", "nd_reserved", "nd_options_type",
    };
    const char *const *names = set ? set_fields : match_fields;
    size_t n = set ? ARRAY_SIZE(set_fields) : ARRAY_SIZE(match_fields);
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(name, names[i])) {
            return true;
        }
    }
    return false;
}

static bool
build_match(char *text, const struct ofputil_port_map *port_map,
            struct match *m, enum ofputil_protocol *usable)
{
    char *tok;
    while ((tok = next_token(&text)) != NULL) {
        char *eq = strchr(tok, '=');
        if (!eq) {
            const struct ofp_protocol *p;
            if (!ofp_parse_protocol(tok, &p)) {
                return false;
            }
            match_set_dl_type(m, htons(p->dl_type));
            if (p->nw_proto) {
                match_set_nw_proto(m, p->nw_proto);
            }
            match_set_default_packet_type(m);
            continue;
        }
        *eq = '\0';
        const struct mf_field *mf = field_known(tok, false)
                                    ? mf_from_name(tok) : NULL;
        if (!mf || !eq[1]) {
            return false;
        }
        char *error = ofp_parse_field(mf, eq + 1, port_map, m, usable);
        if (error) {
            free(error);
            return false;
        }
    }
    /* As parse_ofp_str__(): L3/L4 fields within IPv6 need NXM or OXM. */
    if (m->flow.dl_type == htons(ETH_TYPE_IPV6)
        && (m->wc.masks.nw_proto || m->wc.masks.nw_tos
            || m->wc.masks.tp_src || m->wc.masks.tp_dst)) {
        *usable &= OFPUTIL_P_NXM_OXM_ANY;
    }
    return true;
}

static bool
put_set_field(char *arg, const struct ofputil_port_map *port_map,
              struct ofpbuf *ofpacts, enum ofputil_protocol *usable)
{
    char *arrow = strstr(arg, "->");
    if (!arrow || !arrow[2]) {
        return false;
    }
    *arrow = '\0';
    const struct mf_field *mf = field_known(arrow + 2, true)
                                ? mf_from_name(arrow + 2) : NULL;
    if (!mf || !mf->writable) {
        return false;
    }
    union mf_value value, mask;
    char *error = mf_parse(mf, arg, port_map, &value, &mask);
    if (error) {
        free(error);
        return false;
    }
    if (!mf_is_value_valid(mf, &value)) {
        return false;
    }
    *usable &= mf->usable_protocols_exact;
    ofpact_put_set_field(ofpacts, mf, &value, &mask);
    return true;
}

/* "ct(zone=N,table=N)" and its subsets: no commit, nat or exec (those go
 * to the general parser). */
static bool
put_ct(char *args, struct ofpbuf *ofpacts)
{
    struct ofpact_conntrack *oc = ofpact_put_CT(ofpacts);
    oc->flags = 0;
    oc->recirc_table = NX_CT_RECIRC_NONE;
    char *tok;
    while ((tok = next_token(&args)) != NULL) {
        uint32_t v;
        if (!strncmp(tok, "zone=", 5) && parse_decimal(tok + 5, &v)
            && v <= UINT16_MAX) {
            oc->zone_imm = v;
        } else if (!strncmp(tok, "table=", 6) && parse_decimal(tok + 6, &v)
                   && v < NX_CT_RECIRC_NONE) {
            oc->recirc_table = v;
        } else {
            return false;
        }
    }
    ofpact_finish_CT(ofpacts, &oc);
    return true;
}

/* One action of the list; false for any other kind. */
static bool
put_action(char *tok, const struct ofputil_port_map *port_map,
           struct ofpbuf *ofpacts, enum ofputil_protocol *usable,
           bool *is_goto)
{
    uint32_t v;
    ofp_port_t port;
    if (!strcmp(tok, "NORMAL") || !strcmp(tok, "IN_PORT")) {
        ofputil_port_from_string(tok, port_map, &port);
        ofpact_put_OUTPUT(ofpacts)->port = port;
    } else if (!strncmp(tok, "output:", 7)) {
        if (!parse_decimal(tok + 7, &v)
            || !ofputil_port_from_string(tok + 7, port_map, &port)
            || port == OFPP_CONTROLLER) {
            return false;
        }
        ofpact_put_OUTPUT(ofpacts)->port = port;
    } else if (!strncmp(tok, "group:", 6)) {
        if (!parse_decimal(tok + 6, &v)) {
            return false;
        }
        ofpact_put_GROUP(ofpacts)->group_id = v;
    } else if (!strncmp(tok, "goto_table:", 11)) {
        if (!parse_decimal(tok + 11, &v) || v > 254) {
            return false;
        }
        ofpact_put_GOTO_TABLE(ofpacts)->table_id = v;
        *is_goto = true;
    } else if (!strncmp(tok, "set_field:", 10)) {
        return put_set_field(tok + 10, port_map, ofpacts, usable);
    } else if (!strncmp(tok, "move:", 5)) {
        char *error = nxm_parse_reg_move(ofpact_put_REG_MOVE(ofpacts),
                                         tok + 5);
        if (error) {
            free(error);
            return false;
        }
    } else if (!strncmp(tok, "ct(", 3)) {
        size_t n = strlen(tok);
        if (tok[n - 1] != ')') {
            return false;
        }
        tok[n - 1] = '\0';
        return put_ct(tok + 3, ofpacts);
    } else {
        return false;
    }
    return true;
}

static bool
build_actions(char *text, const struct ofputil_port_map *port_map,
              struct ofpbuf *ofpacts, enum ofputil_protocol *usable)
{
    if (!strcmp(text, "drop")) {
        return true;
    }
    char *tok;
    bool is_goto = false;
    while ((tok = next_token(&text)) != NULL) {
        /* goto_table is an instruction: it can only come last. */
        if (is_goto || !put_action(tok, port_map, ofpacts, usable,
                                   &is_goto)) {
            return false;
        }
    }
    return ofpacts->size > 0;
}

bool
flow_fast_build(const char *match_text, const char *actions_text,
                uint8_t table_id, const struct ofputil_port_map *port_map,
                struct match *match, struct ofpbuf *ofpacts,
                enum ofputil_protocol *usable)
{
    char mbuf[FLOW_FAST_MAX_TEXT], abuf[FLOW_FAST_MAX_TEXT];
    size_t ml = strlen(match_text), al = strlen(actions_text);
    if (ml >= sizeof mbuf || al >= sizeof abuf) {
        return false;
    }
    memcpy(mbuf, match_text, ml + 1);
    memcpy(abuf, actions_text, al + 1);

    *usable = OFPUTIL_P_ANY;
    match_init_catchall(match);
    ofpbuf_clear(ofpacts);
    if (!build_match(mbuf, port_map, match, usable)
        || !build_actions(abuf, port_map, ofpacts, usable)) {
        return false;
    }
    /* The checks parse_ofp_str__() makes of the actions against the
     * match (prerequisites of each field set, table of each goto). */
    struct ofpact_check_params cp = {
        .match = match,
        .max_ports = OFPP_MAX,
        .table_id = table_id,
        .n_tables = 255,
    };
    if (ofpacts_check(ofpacts->data, ofpacts->size, &cp)) {
        return false;
    }
    *usable &= cp.usable_protocols;
    if (table_id != 0xff) {
        *usable &= OFPUTIL_P_TID;   /* As for the text's "table=". */
    }
    return *usable != 0;
}
