/* The YAML front end: a YAML spec to the lb_spec model.
 *
 * Three passes over the text:
 *   1. the bytes must be UTF-8 (libyaml would also accept UTF-16 with a BOM,
 *      and its own message does not say where the bad byte is);
 *   2. libyaml's event parser checks the syntax and refuses what we never
 *      want to walk: anchors and aliases (alias bombs), more than one
 *      document, absurd nesting;
 *   3. yaml_parser_load builds the node tree, which we walk with one table
 *      per kind of mapping (key, expected node type, handler).
 * Every scalar is read as the text it is: no YAML 1.1 typing, so a MAC such
 * as 02:00:00:00:01:00 is not a sexagesimal number. The handlers convert the
 * text with values.h, exactly as the DSL does.
 */
#define _GNU_SOURCE 1           /* vasprintf, asprintf. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "diag.h"
#include "spec.h"
#include "values.h"

/* Deeper than any valid spec (5 levels) by far, shallow enough that nothing
 * downstream has to care about stack depth. */
#define YAML_MAX_DEPTH 64

/* After this many anchor/alias errors the rest are noise. */
#define YAML_MAX_EVENT_ERRORS 10

struct yaml_ctx {
    struct diag *d;
    const char *file;           /* Interned in 'd'. */
    yaml_document_t *doc;
    bool ok;                    /* No error reported yet. */
};

static void *
xmalloc_or_die(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "flowlb: out of memory\n");
        abort();
    }
    return p;
}

static char *
xstrdup_(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc_or_die(n), s, n);
}

static struct location
mark_loc(const struct yaml_ctx *c, yaml_mark_t mark)
{
    return (struct location) { .file = c->file,
                               .line = (int) mark.line + 1,
                               .col = (int) mark.column + 1 };
}

static struct location
node_loc(const struct yaml_ctx *c, const yaml_node_t *node)
{
    return mark_loc(c, node->start_mark);
}

static void __attribute__((format(printf, 3, 4)))
yerror(struct yaml_ctx *c, const yaml_node_t *node, const char *fmt, ...)
{
    char *msg;
    va_list args;

    va_start(args, fmt);
    if (vasprintf(&msg, fmt, args) < 0) {
        msg = NULL;
    }
    va_end(args);

    struct location loc = node_loc(c, node);
    diag_error(c->d, &loc, "%s", msg ? msg : "out of memory");
    free(msg);
    c->ok = false;
}

/* Line and column (1-based, column counted in characters as libyaml does)
 * of byte 'offset' of 'text'. */
static struct location
offset_loc(const char *file, const char *text, size_t len, size_t offset)
{
    struct location loc = { .file = file, .line = 1, .col = 1 };
    for (size_t i = 0; i < offset && i < len; i++) {
        unsigned char ch = text[i];
        if (ch == '\n') {
            loc.line++;
            loc.col = 1;
        } else if ((ch & 0xc0) != 0x80) {
            loc.col++;          /* Continuation bytes do not count. */
        }
    }
    return loc;
}

/* Returns the offset of the first byte that is not part of well-formed
 * UTF-8 (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF),
 * or 'len' if all of it is. */
static size_t
utf8_invalid_offset(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        unsigned char lo = 0x80, hi = 0xbf;   /* Range of the 2nd byte. */

        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 3;
            if (c == 0xe0) {
                lo = 0xa0;
            } else if (c == 0xed) {
                hi = 0x9f;
            }
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 4;
            if (c == 0xf0) {
                lo = 0x90;
            } else if (c == 0xf4) {
                hi = 0x8f;
            }
        } else {
            return i;
        }
        if (len - i < n || s[i + 1] < lo || s[i + 1] > hi) {
            return i;
        }
        for (size_t k = 2; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return i;
            }
        }
        i += n;
    }
    return len;
}

/* Reports the error a libyaml parser is left with. */
static void
report_libyaml_error(struct yaml_ctx *c, const yaml_parser_t *p,
                     const char *text, size_t len)
{
    struct location loc;
    const char *problem = p->problem ? p->problem : "unknown error";

    switch (p->error) {
    case YAML_MEMORY_ERROR:
        loc = (struct location) { .file = c->file, .line = 0, .col = 0 };
        diag_error(c->d, &loc, "out of memory while reading YAML");
        break;
    case YAML_READER_ERROR:
        /* Reader errors carry a byte offset, not a mark. */
        loc = offset_loc(c->file, text, len, p->problem_offset);
        if (p->problem_value != -1) {
            diag_error(c->d, &loc, "YAML syntax error: %s (0x%02x)", problem,
                       (unsigned) p->problem_value);
        } else {
            diag_error(c->d, &loc, "YAML syntax error: %s", problem);
        }
        break;
    default:
        loc = mark_loc(c, p->problem_mark);
        if (p->context) {
            diag_error(c->d, &loc, "YAML syntax error: %s (%s at line %d)",
                       problem, p->context, (int) p->context_mark.line + 1);
        } else {
            diag_error(c->d, &loc, "YAML syntax error: %s", problem);
        }
        break;
    }
    c->ok = false;
}

/* Pass 2: syntax, anchors, aliases, documents, depth. Returns true if the
 * text may be loaded into a tree. */
static bool
yaml_prescan(struct yaml_ctx *c, const char *text, size_t len)
{
    yaml_parser_t parser;
    int depth = 0, n_docs = 0, n_errors = 0;
    bool done = false;

    if (!yaml_parser_initialize(&parser)) {
        report_libyaml_error(c, &parser, text, len);
        return false;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *) text, len);
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);

    while (!done) {
        yaml_event_t ev;
        const yaml_char_t *anchor = NULL;

        if (!yaml_parser_parse(&parser, &ev)) {
            report_libyaml_error(c, &parser, text, len);
            break;
        }
        struct location loc = mark_loc(c, ev.start_mark);
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++n_docs == 2) {
                diag_error(c->d, &loc, "only one YAML document is allowed "
                           "per file");
                c->ok = false;
                done = true;
            }
            break;
        case YAML_ALIAS_EVENT:
            if (n_errors++ < YAML_MAX_EVENT_ERRORS) {
                diag_error(c->d, &loc, "YAML aliases are not supported "
                           "(*%s)", (const char *) ev.data.alias.anchor);
            }
            c->ok = false;
            break;
        case YAML_SCALAR_EVENT:
            anchor = ev.data.scalar.anchor;
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            anchor = ev.type == YAML_SEQUENCE_START_EVENT
                     ? ev.data.sequence_start.anchor
                     : ev.data.mapping_start.anchor;
            if (++depth > YAML_MAX_DEPTH) {
                diag_error(c->d, &loc, "YAML nesting is too deep (more "
                           "than %d levels)", YAML_MAX_DEPTH);
                c->ok = false;
                done = true;
            }
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        default:
            break;
        }
        if (anchor) {
            if (n_errors++ < YAML_MAX_EVENT_ERRORS) {
                diag_error(c->d, &loc, "YAML anchors and aliases are not "
                           "supported (&%s)", (const char *) anchor);
            }
            c->ok = false;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return c->ok;
}

/* --- The tree walk ------------------------------------------------------ */

/* What a mapping table entry handles. 'obj' is the struct being filled
 * (struct lb_service, lb_real or lb_check); 'svc' is the enclosing
 * service. */
struct walk {
    struct yaml_ctx *c;
    struct lb_spec *spec;
    struct lb_service *svc;
    void *obj;
};

typedef void key_handler(struct walk *, const char *key, yaml_node_t *value);

/* A value that may be a scalar or a mapping ("persistence: 300s" or
 * "persistence: {timeout: 300s, prefix: 24}"). */
#define SCALAR_OR_MAPPING YAML_NO_NODE

struct key_entry {
    const char *key;
    yaml_node_type_t type;      /* Expected type of the value node, or
                                 * SCALAR_OR_MAPPING. */
    key_handler *handler;
    bool required;
};

static const char *
node_type_name(yaml_node_type_t type)
{
    switch (type) {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a sequence";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "a value";
    }
}

static const char *
scalar_text(const yaml_node_t *node)
{
    return (const char *) node->data.scalar.value;
}

static bool
has_nul(const yaml_node_t *scalar)
{
    return scalar->type == YAML_SCALAR_NODE
           && memchr(scalar->data.scalar.value, '\0',
                     scalar->data.scalar.length);
}

/* Walks mapping 'node' with 'table' (at most 32 entries). 'what' names the
 * mapping in messages ("real"). The key named 'silent_missing' (may be
 * NULL) is not reported when absent: another phase does. */
static void
walk_mapping(struct walk *w, yaml_node_t *node,
             const struct key_entry *table, size_t n_entries,
             const char *what, const char *silent_missing)
{
    struct yaml_ctx *c = w->c;
    yaml_node_t *first[32] = { NULL };  /* Key node of each seen entry. */
    bool hinted[32] = { false };        /* Offered as "did you mean". */
    const char *names[33];

    for (size_t i = 0; i < n_entries && i < 32; i++) {
        names[i] = table[i].key;
    }
    names[n_entries < 32 ? n_entries : 32] = NULL;

    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, pair->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, pair->value);
        if (!k || !v) {
            continue;           /* Cannot happen for a loaded document. */
        }
        if (k->type != YAML_SCALAR_NODE) {
            yerror(c, k, "keys in %s must be scalars", what);
            continue;
        }
        if (has_nul(k)) {
            yerror(c, k, "keys in %s must not contain NUL characters", what);
            continue;
        }
        const char *key = scalar_text(k);
        size_t i;
        for (i = 0; i < n_entries; i++) {
            if (!strcmp(key, table[i].key)) {
                break;
            }
        }
        if (i == n_entries) {
            const char *hint = diag_closest(key, names);
            if (hint) {
                for (size_t h = 0; h < n_entries; h++) {
                    hinted[h] |= table[h].key == hint;
                }
                yerror(c, k, "unknown key '%.100s' in %s (did you mean '%s'?)",
                       key, what, hint);
            } else {
                yerror(c, k, "unknown key '%.100s' in %s", key, what);
            }
            continue;
        }
        if (first[i]) {
            yerror(c, k, "duplicate key '%s' in %s (first at line %d)",
                   key, what, (int) first[i]->start_mark.line + 1);
            continue;
        }
        first[i] = k;
        if (v->type == YAML_SCALAR_NODE && !v->data.scalar.length
            && v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
            /* "key:" with nothing after it. */
            yerror(c, v, "missing value for '%s'", key);
            continue;
        }
        if (table[i].type == SCALAR_OR_MAPPING
            ? v->type != YAML_SCALAR_NODE && v->type != YAML_MAPPING_NODE
            : v->type != table[i].type) {
            if (table[i].type == SCALAR_OR_MAPPING) {
                yerror(c, v, "'%s' must be a scalar or a mapping", key);
            } else {
                yerror(c, v, "'%s' must be %s", key,
                       node_type_name(table[i].type));
            }
            continue;
        }
        if (has_nul(v)) {
            /* A "\0" escape would silently cut the C string short. */
            yerror(c, v, "'%s' must not contain NUL characters", key);
            continue;
        }
        table[i].handler(w, key, v);
    }

    /* Reported after the walk, when the service's name is known; not when
     * a misspelt key was already reported with this key as the hint. */
    for (size_t i = 0; i < n_entries; i++) {
        if (table[i].required && !first[i] && !hinted[i]
            && !(silent_missing && !strcmp(silent_missing, table[i].key))) {
            const char *name = w->svc ? w->svc->name : NULL;
            if (!name) {
                yerror(c, node, "missing required key '%s' in %s",
                       table[i].key, what);
            } else if (w->obj == w->svc) {
                yerror(c, node, "missing required key '%s' in %s '%s'",
                       table[i].key, what, name);
            } else {
                yerror(c, node, "missing required key '%s' in %s of "
                       "service '%s'", table[i].key, what, name);
            }
        }
    }
}

/* Reports a values.h conversion error, if any, at 'node'. */
static bool
convert_ok(struct walk *w, const char *key, yaml_node_t *node,
           const char *error)
{
    if (error) {
        yerror(w->c, node, "invalid %s '%.100s': %s", key,
               scalar_text(node), error);
        return false;
    }
    return true;
}

/* Decimal integer in [min, max] for 'key'. Only what the model cannot hold
 * is refused here: ranges that are a matter of meaning (weight <= 65535,
 * rise >= 1, an HTTP status) are check.c's, so that both syntaxes get the
 * same message. */
static bool
convert_uint(struct walk *w, const char *key, yaml_node_t *node,
             uint32_t min, uint32_t max, uint32_t *out)
{
    return convert_ok(w, key, node,
                      lb_parse_uint(scalar_text(node), min, max, out));
}

/* --- check -------------------------------------------------------------- */

static void
check_type(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_check *ck = w->obj;
    convert_ok(w, key, v, lb_parse_check_type(scalar_text(v), &ck->type));
}

static void
check_interval(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_check *ck = w->obj;
    convert_ok(w, key, v, lb_parse_duration_ms(scalar_text(v),
                                               &ck->interval_ms));
}

static void
check_timeout(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_check *ck = w->obj;
    convert_ok(w, key, v, lb_parse_duration_ms(scalar_text(v),
                                               &ck->timeout_ms));
}

static void
check_rise(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_check *ck = w->obj;
    convert_uint(w, key, v, 0, UINT32_MAX, &ck->rise);
}

static void
check_fall(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_check *ck = w->obj;
    convert_uint(w, key, v, 0, UINT32_MAX, &ck->fall);
}

static void
check_port(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_check *ck = w->obj;
    uint32_t port;
    if (convert_uint(w, key, v, 0, 65535, &port)) {
        ck->port = port;
    }
}

static void
check_path(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_check *ck = w->obj;
    free(ck->path);
    ck->path = xstrdup_(scalar_text(v));
}

static void
check_expect(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_check *ck = w->obj;
    uint32_t status;
    if (convert_uint(w, key, v, 0, UINT16_MAX, &status)) {
        ck->expect_status = status;
    }
}

static void
check_body(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_check *ck = w->obj;
    free(ck->expect_body);
    ck->expect_body = xstrdup_(scalar_text(v));
}

static void
check_command(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_check *ck = w->obj;
    free(ck->command);
    ck->command = xstrdup_(scalar_text(v));
}

static void
check_source(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_check *ck = w->obj;
    ck->source_loc = node_loc(w->c, v);
    convert_ok(w, key, v, lb_parse_addr(scalar_text(v), &ck->source));
}

static void
check_send(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_check *ck = w->obj;
    free(ck->send);
    ck->send = xstrdup_(scalar_text(v));
}

static void
check_expect_reply(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_check *ck = w->obj;
    free(ck->expect_reply);
    ck->expect_reply = xstrdup_(scalar_text(v));
}

static const struct key_entry check_keys[] = {
    { "type", YAML_SCALAR_NODE, check_type, true },
    { "source", YAML_SCALAR_NODE, check_source, false },
    { "interval", YAML_SCALAR_NODE, check_interval, false },
    { "timeout", YAML_SCALAR_NODE, check_timeout, false },
    { "rise", YAML_SCALAR_NODE, check_rise, false },
    { "fall", YAML_SCALAR_NODE, check_fall, false },
    { "port", YAML_SCALAR_NODE, check_port, false },
    { "path", YAML_SCALAR_NODE, check_path, false },
    { "expect", YAML_SCALAR_NODE, check_expect, false },
    { "body", YAML_SCALAR_NODE, check_body, false },
    { "command", YAML_SCALAR_NODE, check_command, false },
    { "send", YAML_SCALAR_NODE, check_send, false },
    { "expect_reply", YAML_SCALAR_NODE, check_expect_reply, false },
};

/* --- real --------------------------------------------------------------- */

static void
real_address(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_real *r = w->obj;
    r->addr_loc = node_loc(w->c, v);
    convert_ok(w, key, v, lb_parse_addr(scalar_text(v), &r->addr));
}

static void
real_mac(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_real *r = w->obj;
    r->mac_loc = node_loc(w->c, v);
    if (convert_ok(w, key, v, lb_parse_mac(scalar_text(v), &r->mac))) {
        r->has_mac = true;
    }
}

static void
real_port(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_real *r = w->obj;
    r->port_loc = node_loc(w->c, v);
    if (convert_ok(w, key, v, lb_parse_ofport(scalar_text(v)))) {
        free(r->port);
        r->port = xstrdup_(scalar_text(v));
    }
}

static void
real_weight(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_real *r = w->obj;
    r->weight_loc = node_loc(w->c, v);
    convert_uint(w, key, v, 0, 65535, &r->weight);
}

static const struct key_entry real_keys[] = {
    { "address", YAML_SCALAR_NODE, real_address, true },
    { "mac", YAML_SCALAR_NODE, real_mac, true },
    { "port", YAML_SCALAR_NODE, real_port, false },
    { "weight", YAML_SCALAR_NODE, real_weight, false },
};

/* The sorry server: a real without a weight. */
static const struct key_entry sorry_keys[] = {
    { "address", YAML_SCALAR_NODE, real_address, true },
    { "mac", YAML_SCALAR_NODE, real_mac, true },
    { "port", YAML_SCALAR_NODE, real_port, false },
};

/* --- persistence -------------------------------------------------------- */

static void
pers_timeout(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_service *svc = w->svc;
    svc->persistence_loc = node_loc(w->c, v);
    convert_ok(w, key, v, lb_parse_seconds(scalar_text(v),
                                           &svc->persistence_s));
}

/* netmask or prefix: one of them (as in the DSL). */
static bool
pers_prefix_once(struct walk *w, yaml_node_t *v)
{
    struct lb_service *svc = w->svc;
    if (svc->persistence_prefix_loc.line) {
        yerror(w->c, v, "persistence takes a netmask or a prefix, not both");
        return false;
    }
    svc->persistence_prefix_loc = node_loc(w->c, v);
    return true;
}

static void
pers_netmask(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_service *svc = w->svc;
    if (pers_prefix_once(w, v)) {
        convert_ok(w, key, v,
                   lb_parse_netmask(scalar_text(v),
                                    &svc->persistence_prefix_len,
                                    &svc->persistence_mask_family));
    }
}

static void
pers_prefix(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_service *svc = w->svc;
    uint32_t n;
    if (pers_prefix_once(w, v) && convert_uint(w, key, v, 1, 128, &n)) {
        svc->persistence_prefix_len = n;
    }
}

static const struct key_entry persistence_keys[] = {
    { "timeout", YAML_SCALAR_NODE, pers_timeout, true },
    { "netmask", YAML_SCALAR_NODE, pers_netmask, false },
    { "prefix", YAML_SCALAR_NODE, pers_prefix, false },
};

/* --- service ------------------------------------------------------------ */

static void
svc_name(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_service *svc = w->svc;
    free(svc->name);
    svc->name = xstrdup_(scalar_text(v));
    svc->loc = node_loc(w->c, v);
    /* Names end up in messages and in the group ids' derivation: no
     * line breaks or terminal escapes smuggled in with "\n", "\e". */
    for (const unsigned char *p = v->data.scalar.value; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            yerror(w->c, v, "'name' must not contain control characters");
            break;
        }
    }
}

static void
svc_vip(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_service *svc = w->svc;
    svc->vip_loc = node_loc(w->c, v);
    if (convert_ok(w, key, v, lb_parse_prefix(scalar_text(v), &svc->vip,
                                              &svc->vip_prefix_len))) {
        svc->has_vip = true;
    }
}

static void
svc_protocol(struct walk *w, const char *key, yaml_node_t *v)
{
    convert_ok(w, key, v, lb_parse_proto(scalar_text(v), &w->svc->proto));
}

static void
svc_port(struct walk *w, const char *key, yaml_node_t *v)
{
    uint16_t lo, hi;
    if (convert_ok(w, key, v, lb_parse_port_range(scalar_text(v), &lo,
                                                  &hi))) {
        w->svc->port = lo;
        w->svc->port_max = hi;
    }
}

static void
svc_vip_mac(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_service *svc = w->svc;
    svc->vip_mac_loc = node_loc(w->c, v);
    if (!strcmp(scalar_text(v), "auto")) {
        /* Derived from the VIP once the service is read. */
        svc->vip_mac_auto = true;
    } else if (convert_ok(w, key, v, lb_parse_mac(scalar_text(v),
                                                  &svc->vip_mac))) {
        svc->has_vip_mac = true;
    }
}

static void
svc_scheduler(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_service *svc = w->svc;
    svc->scheduler_loc = node_loc(w->c, v);
    convert_ok(w, key, v, lb_parse_scheduler(scalar_text(v),
                                             &svc->scheduler));
}

static void
svc_stickiness(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_service *svc = w->svc;
    svc->stickiness_loc = node_loc(w->c, v);
    convert_ok(w, key, v, lb_parse_stickiness(scalar_text(v),
                                              &svc->stickiness));
}

static void
svc_sticky_idle(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_service *svc = w->svc;
    svc->sticky_idle_loc = node_loc(w->c, v);
    convert_ok(w, key, v, lb_parse_seconds(scalar_text(v),
                                           &svc->sticky_idle_s));
}

static void
svc_udp_timeout(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_service *svc = w->svc;
    svc->udp_timeout_loc = node_loc(w->c, v);
    convert_ok(w, key, v, lb_parse_seconds(scalar_text(v),
                                           &svc->udp_timeout_s));
}

static void
svc_quorum(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_service *svc = w->svc;
    svc->quorum_loc = node_loc(w->c, v);
    /* 0 would mean "no quorum" in the model: refused as in the DSL. */
    convert_uint(w, key, v, 1, UINT32_MAX, &svc->quorum);
}

static void
svc_hysteresis(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_service *svc = w->svc;
    svc->hysteresis_loc = node_loc(w->c, v);
    convert_uint(w, key, v, 0, UINT32_MAX, &svc->quorum_hysteresis);
}

static void
svc_inhibit(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_service *svc = w->svc;
    svc->inhibit_loc = node_loc(w->c, v);
    convert_ok(w, key, v, lb_parse_bool(scalar_text(v),
                                        &svc->inhibit_on_failure));
}

static void
svc_expire_nodest(struct walk *w, const char *key, yaml_node_t *v)
{
    struct lb_service *svc = w->svc;
    svc->expire_nodest_loc = node_loc(w->c, v);
    convert_ok(w, key, v, lb_parse_bool(scalar_text(v),
                                        &svc->expire_nodest_conn));
}

/* The check, the reals, the sorry server and a persistence mapping are
 * walked after the service's own keys (see walk_service) so that their
 * messages can name the service. */
static void
svc_deferred(struct walk *w, const char *key, yaml_node_t *v)
{
}

static const struct key_entry service_keys[] = {
    { "name", YAML_SCALAR_NODE, svc_name, true },
    { "vip", YAML_SCALAR_NODE, svc_vip, true },
    { "protocol", YAML_SCALAR_NODE, svc_protocol, true },
    { "port", YAML_SCALAR_NODE, svc_port, true },
    { "vip_mac", YAML_SCALAR_NODE, svc_vip_mac, false },
    { "scheduler", YAML_SCALAR_NODE, svc_scheduler, false },
    { "check", YAML_MAPPING_NODE, svc_deferred, false },
    { "reals", YAML_SEQUENCE_NODE, svc_deferred, false },
    { "persistence", SCALAR_OR_MAPPING, svc_deferred, false },
    { "stickiness", YAML_SCALAR_NODE, svc_stickiness, false },
    { "sticky_idle", YAML_SCALAR_NODE, svc_sticky_idle, false },
    { "udp_timeout", YAML_SCALAR_NODE, svc_udp_timeout, false },
    { "sorry", YAML_MAPPING_NODE, svc_deferred, false },
    { "quorum", YAML_SCALAR_NODE, svc_quorum, false },
    { "hysteresis", YAML_SCALAR_NODE, svc_hysteresis, false },
    { "inhibit_on_failure", YAML_SCALAR_NODE, svc_inhibit, false },
    { "expire_nodest_conn", YAML_SCALAR_NODE, svc_expire_nodest, false },
};

#define N_ENTRIES(table) (sizeof table / sizeof table[0])

/* Returns the value node of 'key' in mapping 'node' if it has the expected
 * type (walk_mapping has reported it otherwise), else NULL. With duplicate
 * keys, the first one (the one walk_mapping accepted). */
static yaml_node_t *
mapping_get(struct yaml_ctx *c, yaml_node_t *node, const char *key,
            yaml_node_type_t type)
{
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, pair->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, pair->value);
        if (k && v && k->type == YAML_SCALAR_NODE
            && !strcmp(scalar_text(k), key)) {
            if (type == SCALAR_OR_MAPPING) {
                return (v->type == YAML_SCALAR_NODE && v->data.scalar.length
                        && !has_nul(v))
                       || v->type == YAML_MAPPING_NODE ? v : NULL;
            }
            return v->type == type ? v : NULL;
        }
    }
    return NULL;
}

static void
walk_service(struct walk *top, yaml_node_t *node)
{
    struct yaml_ctx *c = top->c;
    struct lb_service *svc = lb_spec_add_service(top->spec);
    struct walk w = { .c = c, .spec = top->spec, .svc = svc, .obj = svc };

    /* Until the name is known, the service is the mapping itself. */
    svc->loc = node_loc(c, node);

    /* A missing vip is check.c's to report, for both syntaxes alike. */
    walk_mapping(&w, node, service_keys, N_ENTRIES(service_keys),
                 "service", "vip");

    yaml_node_t *check = mapping_get(c, node, "check", YAML_MAPPING_NODE);
    if (check) {
        struct walk cw = w;
        cw.obj = &svc->check;
        svc->check.loc = node_loc(c, check);
        walk_mapping(&cw, check, check_keys, N_ENTRIES(check_keys),
                     "check", NULL);
    }

    yaml_node_t *reals = mapping_get(c, node, "reals", YAML_SEQUENCE_NODE);
    if (reals) {
        for (yaml_node_item_t *item = reals->data.sequence.items.start;
             item < reals->data.sequence.items.top; item++) {
            yaml_node_t *rn = yaml_document_get_node(c->doc, *item);
            if (!rn) {
                continue;
            }
            if (rn->type != YAML_MAPPING_NODE) {
                yerror(c, rn, "each real must be a mapping "
                       "(address, mac, port, weight)");
                continue;
            }
            struct lb_real *r = lb_service_add_real(svc);
            struct walk rw = w;
            rw.obj = r;
            r->loc = node_loc(c, rn);
            walk_mapping(&rw, rn, real_keys, N_ENTRIES(real_keys),
                         "real", NULL);
        }
    }

    yaml_node_t *sorry = mapping_get(c, node, "sorry", YAML_MAPPING_NODE);
    if (sorry) {
        struct walk sw = w;
        sw.obj = &svc->sorry;
        svc->has_sorry = true;
        svc->sorry.loc = node_loc(c, sorry);
        svc->sorry.weight = 1;
        walk_mapping(&sw, sorry, sorry_keys, N_ENTRIES(sorry_keys),
                     "sorry", NULL);
    }

    yaml_node_t *pers = mapping_get(c, node, "persistence",
                                    SCALAR_OR_MAPPING);
    if (pers && pers->type == YAML_SCALAR_NODE) {
        pers_timeout(&w, "persistence", pers);
    } else if (pers) {
        /* Its handlers fill w->svc; obj only tells walk_mapping's messages
         * that this is not the service itself. */
        struct walk pw = w;
        pw.obj = &svc->persistence_s;
        walk_mapping(&pw, pers, persistence_keys,
                     N_ENTRIES(persistence_keys), "persistence", NULL);
    }

    /* Defaults that depend on the VIP, as the DSL front end does. */
    lb_service_complete(svc);
}

static void
top_services(struct walk *w, const char *key, yaml_node_t *v)
{
    for (yaml_node_item_t *item = v->data.sequence.items.start;
         item < v->data.sequence.items.top; item++) {
        yaml_node_t *sn = yaml_document_get_node(w->c->doc, *item);
        if (!sn) {
            continue;
        }
        if (sn->type != YAML_MAPPING_NODE) {
            yerror(w->c, sn, "each service must be a mapping "
                   "(name, vip, protocol, port, ...)");
            continue;
        }
        walk_service(w, sn);
    }
}

static const struct key_entry top_keys[] = {
    { "services", YAML_SEQUENCE_NODE, top_services, true },
};

bool
lb_yaml_parse(const char *file, const char *text, size_t len,
              struct lb_spec *spec, struct diag *d)
{
    struct yaml_ctx c = { .d = d, .file = diag_intern_file(d, file),
                          .ok = true };

    /* Pass 1: encoding. */
    size_t bad = utf8_invalid_offset((const unsigned char *) text, len);
    if (bad < len) {
        struct location loc = offset_loc(c.file, text, len, bad);
        diag_error(d, &loc, "the file is not valid UTF-8 (byte 0x%02x)",
                   (unsigned char) text[bad]);
        return false;
    }

    /* Pass 2: syntax and what we refuse to load. */
    if (!yaml_prescan(&c, text, len)) {
        return false;
    }

    /* Pass 3: the tree. */
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        report_libyaml_error(&c, &parser, text, len);
        return false;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *) text, len);
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
    if (!yaml_parser_load(&parser, &doc)) {
        report_libyaml_error(&c, &parser, text, len);
        yaml_parser_delete(&parser);
        return false;
    }
    c.doc = &doc;

    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || (root->type == YAML_SCALAR_NODE
                  && !root->data.scalar.length
                  && root->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)) {
        /* No node ("" or only comments) or a lone "---": nothing to point
         * at but the start. */
        struct location start = { .file = c.file, .line = 1, .col = 1 };
        diag_error(d, &start, "empty YAML document (expected a mapping "
                   "with 'services')");
        c.ok = false;
    } else if (root->type != YAML_MAPPING_NODE) {
        yerror(&c, root, "the top level must be a mapping with 'services', "
               "not %s", node_type_name(root->type));
    } else {
        struct walk w = { .c = &c, .spec = spec };
        walk_mapping(&w, root, top_keys, N_ENTRIES(top_keys), "the top-level mapping", NULL);
    }

    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return c.ok;
}
