/* The DSL front end: runs the grammar and turns its statements into the
 * spec model, converting every value with values.h (as the YAML front end
 * does) and keeping each value's location. */
#include "spec.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dsl_internal.h"
#include "values.h"

static char *
xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p) {
        abort();
    }
    return p;
}

struct location
dsl_loc(const struct dsl_state *st, int line, int col)
{
    struct location loc = { st->file, line, col };
    return loc;
}

static void
verror(struct dsl_state *st, const struct location *loc, const char *fmt,
       va_list args)
{
    char *msg;
    if (vasprintf(&msg, fmt, args) < 0) {
        abort();
    }
    st->n_errors++;
    diag_error(st->d, loc, "%s", msg);
    free(msg);
}

void
dsl_error(struct dsl_state *st, int line, int col, const char *fmt, ...)
{
    struct location loc = dsl_loc(st, line, col);
    va_list args;
    va_start(args, fmt);
    verror(st, &loc, fmt, args);
    va_end(args);
}

void
dsl_error_at(struct dsl_state *st, const struct location *loc,
             const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    verror(st, loc, fmt, args);
    va_end(args);
}

size_t
dsl_utf8_check(const char *s_, size_t n)
{
    const unsigned char *s = (const unsigned char *) s_;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c == 0) {
            return i;
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned int min, cp;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2, min = 0x80, cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3, min = 0x800, cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4, min = 0x10000, cp = c & 0x07;
        } else {
            return i;
        }
        if (n - i < len) {
            return i;
        }
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return i;
            }
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        /* Overlong forms, UTF-16 surrogates, beyond U+10FFFF. */
        if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
            return i;
        }
        i += len;
    }
    return n;
}

int
dsl_columns(const char *s, size_t n)
{
    int cols = 0;
    for (size_t i = 0; i < n; i++) {
        cols += ((unsigned char) s[i] & 0xc0) != 0x80;
    }
    return cols;
}

const char *
dsl_quote(const char *s, char *buf, size_t size)
{
    size_t used = 0;
    for (; *s; s++) {
        unsigned char c = *s;
        char esc[8];
        if (c < 0x20 || c >= 0x7f) {
            snprintf(esc, sizeof esc, "\\x%02x", c);
        } else {
            esc[0] = c, esc[1] = '\0';
        }
        size_t len = strlen(esc);
        if (used + len + 4 > size) {
            /* Leave room for "..." and the NUL. */
            if (used + 4 <= size) {
                memcpy(buf + used, "...", 3);
                used += 3;
            }
            break;
        }
        memcpy(buf + used, esc, len);
        used += len;
    }
    buf[used] = '\0';
    return buf;
}

/* --- Arguments ---------------------------------------------------------- */

void
dsl_args_push(struct dsl_args *args, struct dsl_word *w,
              const struct location *loc, const struct location *end)
{
    if (args->n >= args->allocated) {
        args->allocated = args->allocated ? 2 * args->allocated : 8;
        args->v = realloc(args->v, args->allocated * sizeof *args->v);
        if (!args->v) {
            abort();
        }
    }
    struct dsl_arg *a = &args->v[args->n++];
    a->text = w->text;
    a->quoted = w->quoted;
    a->loc = *loc;
    a->end = *end;
    w->text = NULL;
}

void
dsl_args_free(struct dsl_args *args)
{
    for (size_t i = 0; i < args->n; i++) {
        free(args->v[i].text);
    }
    free(args->v);
    memset(args, 0, sizeof *args);
}

/* --- Services ----------------------------------------------------------- */

/* In the order of enum dsl_keyword. */
const char *const dsl_statement_keywords[] = {
    "vip", "vip-mac", "scheduler", "real", "check", "persistence",
    "stickiness", "udp-timeout", "sorry", "quorum", "inhibit-on-failure",
    "expire-nodest-conn", NULL
};

const char *
dsl_keyword_name(enum dsl_keyword kw)
{
    return kw < DSL_N_KEYWORDS ? dsl_statement_keywords[kw] : "?";
}

static struct lb_service *
current(struct dsl_state *st)
{
    return st->svc >= 0 ? &st->spec.services[st->svc] : NULL;
}

const char *
dsl_service_name(const struct dsl_state *st)
{
    return st->svc >= 0 ? st->spec.services[st->svc].name : NULL;
}

void
dsl_service_begin(struct dsl_state *st, struct dsl_word *name,
                  const struct location *loc)
{
    /* An empty name is check.c's to report (as for YAML). Names end up in
     * messages and in group ids: no control characters via "...". */
    for (const unsigned char *p = (const unsigned char *) name->text; *p;
         p++) {
        if (*p < 0x20 || *p == 0x7f) {
            dsl_error_at(st, loc, "service name must not contain control "
                         "characters");
            break;
        }
    }
    struct lb_service *svc = lb_spec_add_service(&st->spec);
    svc->name = name->text;
    name->text = NULL;
    svc->loc = *loc;
    st->svc = st->spec.n_services - 1;
    memset(st->seen, 0, sizeof st->seen);
}

void
dsl_service_end(struct dsl_state *st)
{
    struct lb_service *svc = current(st);
    if (svc) {
        /* Defaults that depend on the VIP, as the YAML front end does. */
        lb_service_complete(svc);
    }
    st->svc = -1;
}

/* --- Statements --------------------------------------------------------- */

/* Reports that 'arg' is not an acceptable value, as 'msg' from values.h
 * says, quoting it right after the message's head: "invalid IPv4 address
 * '1.2.3' in vip", "unknown scheduler 'rr' (expected one of: ...)". */
static void
value_error(struct dsl_state *st, const struct dsl_arg *arg, const char *msg,
            const char *context, const char *const *candidates)
{
    const char *paren = strstr(msg, " (");
    int head = paren ? (int) (paren - msg) : (int) strlen(msg);
    char buf[64];
    const char *hint = candidates ? diag_closest(arg->text, candidates) : NULL;
    /* The hint goes inside the message's parenthesis, if any. */
    size_t tail = paren ? strlen(paren) : 0;
    if (hint && tail && paren[tail - 1] == ')') {
        dsl_error_at(st, &arg->loc, "%.*s '%s'%s%s%.*s; did you mean '%s'?)",
                     head, msg, dsl_quote(arg->text, buf, sizeof buf),
                     context ? " " : "", context ? context : "",
                     (int) tail - 1, paren, hint);
    } else if (hint) {
        dsl_error_at(st, &arg->loc, "%.*s '%s'%s%s%s (did you mean '%s'?)",
                     head, msg, dsl_quote(arg->text, buf, sizeof buf),
                     context ? " " : "", context ? context : "",
                     paren ? paren : "", hint);
    } else {
        dsl_error_at(st, &arg->loc, "%.*s '%s'%s%s%s", head, msg,
                     dsl_quote(arg->text, buf, sizeof buf),
                     context ? " " : "", context ? context : "",
                     paren ? paren : "");
    }
}

/* Parses arg as an unsigned number in [min, max]; false after an error. */
static bool
get_uint(struct dsl_state *st, const struct dsl_arg *arg, uint32_t min,
         uint32_t max, const char *context, uint32_t *out)
{
    const char *err = lb_parse_uint(arg->text, min, max, out);
    if (err) {
        value_error(st, arg, err, context, NULL);
        return false;
    }
    return true;
}

static void
unexpected_extra(struct dsl_state *st, const struct dsl_arg *arg,
                 const char *after)
{
    char buf[64];
    dsl_error_at(st, &arg->loc, "unexpected '%s' after %s (missing ';'?)",
                 dsl_quote(arg->text, buf, sizeof buf), after);
}

static void
stmt_vip(struct dsl_state *st, struct lb_service *svc,
         const struct dsl_args *args, const struct location *term)
{
    static const char *const protos[] = { "tcp", "udp", NULL };
    static const char usage[] =
        "(expected 'vip ADDRESS[/LEN] tcp|udp PORT[-PORT]')";
    const struct dsl_arg *a = args->v;

    svc->has_vip = true;
    if (args->n < 1) {
        dsl_error_at(st, term, "missing address in vip %s", usage);
        return;
    }
    svc->vip_loc = a[0].loc;
    const char *err = lb_parse_prefix(a[0].text, &svc->vip,
                                      &svc->vip_prefix_len);
    if (err) {
        value_error(st, &a[0], err, "in vip", NULL);
    }
    if (args->n < 2) {
        dsl_error_at(st, term, "missing protocol in vip %s", usage);
        return;
    }
    err = lb_parse_proto(a[1].text, &svc->proto);
    if (err) {
        value_error(st, &a[1], err, "in vip", protos);
    }
    if (args->n < 3) {
        dsl_error_at(st, term, "missing port in vip %s", usage);
        return;
    }
    uint16_t lo, hi;
    err = lb_parse_port_range(a[2].text, &lo, &hi);
    if (err) {
        value_error(st, &a[2], err, "for the vip port", NULL);
    } else {
        svc->port = lo;
        svc->port_max = hi;
    }
    if (args->n > 3) {
        unexpected_extra(st, &a[3], "the vip port");
    }
}

static void
stmt_vip_mac(struct dsl_state *st, struct lb_service *svc,
             const struct dsl_args *args, const struct location *term)
{
    if (args->n < 1) {
        dsl_error_at(st, term, "missing MAC address in vip-mac");
        return;
    }
    svc->vip_mac_loc = args->v[0].loc;
    if (!strcmp(args->v[0].text, "auto")) {
        /* Derived from the VIP at the end of the service. A value may be
         * quoted ("auto" too), as in YAML. */
        svc->vip_mac_auto = true;
    } else {
        svc->has_vip_mac = true;
        const char *err = lb_parse_mac(args->v[0].text, &svc->vip_mac);
        if (err) {
            value_error(st, &args->v[0], err, "in vip-mac", NULL);
        }
    }
    if (args->n > 1) {
        unexpected_extra(st, &args->v[1], "the vip-mac address");
    }
}

static void
stmt_scheduler(struct dsl_state *st, struct lb_service *svc,
               const struct dsl_args *args, const struct location *term)
{
    static const char *const names[] = { "rr", "wrr", "lc", "wlc", "sh",
                                         "dh", "mh", "fo", NULL };
    if (args->n < 1) {
        dsl_error_at(st, term, "missing scheduler name (expected one of: "
                     "rr, wrr, lc, wlc, sh, dh, mh, fo)");
        return;
    }
    svc->scheduler_loc = args->v[0].loc;
    const char *err = lb_parse_scheduler(args->v[0].text, &svc->scheduler);
    if (err) {
        /* No "did you mean 'lc'" for lblc: it is known, just refused. */
        value_error(st, &args->v[0], err, NULL,
                    strncmp(err, "unknown", 7) ? NULL : names);
    }
    if (args->n > 1) {
        unexpected_extra(st, &args->v[1], "the scheduler name");
    }
}

/* Options of 'real' and 'check': "KEY VALUE" pairs after the leading
 * argument, each key at most once. Calls 'set' for each pair; reports
 * unknown keys (with a hint), duplicates and missing values. Returns the
 * set of keys given (bit k for key k), with or without a value. */
struct option_ctx {
    struct dsl_state *st;
    const char *const *keys;    /* NULL-terminated. */
    const char *what;           /* "real", "check". */
    const char *expected;       /* "mac, port or weight". */
    const char *owner;          /* For duplicates: "real", "check". */
    const char *owner_arg;      /* NULL, or quoted after it: "10.0.0.1".
                                 * Formatted only for an error: a spec has
                                 * hundreds of thousands of reals. */
};

static const char *
owner_text(const struct option_ctx *ctx, char *buf, size_t size)
{
    if (!ctx->owner_arg) {
        return ctx->owner;
    }
    char quoted[64];
    snprintf(buf, size, "%s %s", ctx->owner,
             dsl_quote(ctx->owner_arg, quoted, sizeof quoted));
    return buf;
}

static unsigned int
parse_options(const struct option_ctx *ctx, const struct dsl_args *args,
              size_t first, const struct location *term, void *aux,
              void (*set)(struct dsl_state *, size_t key,
                          const struct dsl_arg *value, void *aux))
{
    struct dsl_state *st = ctx->st;
    unsigned int given = 0;
    char buf[64];

    for (size_t i = first; i < args->n; i += 2) {
        const struct dsl_arg *key = &args->v[i];
        size_t k;
        for (k = 0; ctx->keys[k]; k++) {
            if (!key->quoted && !strcmp(key->text, ctx->keys[k])) {
                break;
            }
        }
        if (!ctx->keys[k]) {
            const char *hint = key->quoted ? NULL
                               : diag_closest(key->text, ctx->keys);
            if (key->quoted) {
                dsl_error_at(st, &key->loc, "unexpected string \"%s\" in %s "
                             "(expected %s)",
                             dsl_quote(key->text, buf, sizeof buf), ctx->what,
                             ctx->expected);
            } else if (hint) {
                dsl_error_at(st, &key->loc, "unknown keyword '%s' in %s "
                             "(did you mean '%s'?)",
                             dsl_quote(key->text, buf, sizeof buf), ctx->what,
                             hint);
            } else {
                dsl_error_at(st, &key->loc, "unknown keyword '%s' in %s "
                             "(expected %s)",
                             dsl_quote(key->text, buf, sizeof buf), ctx->what,
                             ctx->expected);
            }
            /* Assume it had a value, like every option. */
            continue;
        }
        if (given & (1u << k)) {
            char owner[96];
            dsl_error_at(st, &key->loc, "duplicate '%s' in %s", ctx->keys[k],
                         owner_text(ctx, owner, sizeof owner));
            continue;
        }
        given |= 1u << k;
        if (i + 1 >= args->n) {
            dsl_error_at(st, term, "missing value after '%s' in %s",
                         ctx->keys[k], ctx->what);
            break;
        }
        set(st, k, &args->v[i + 1], aux);
    }
    return given;
}

enum { REAL_MAC, REAL_PORT, REAL_WEIGHT };

/* A real or the sorry server, and the statement's name for messages. */
struct real_aux {
    struct lb_real *real;
    const char *context;        /* "in real", "in sorry". */
};

static void
set_real_option(struct dsl_state *st, size_t key, const struct dsl_arg *v,
                void *aux_)
{
    const struct real_aux *aux = aux_;
    struct lb_real *real = aux->real;
    const char *err;
    uint32_t n;

    switch (key) {
    case REAL_MAC:
        real->mac_loc = v->loc;
        err = lb_parse_mac(v->text, &real->mac);
        if (err) {
            value_error(st, v, err, aux->context, NULL);
        } else {
            real->has_mac = true;
        }
        break;
    case REAL_PORT:
        real->port_loc = v->loc;
        err = lb_parse_ofport(v->text);
        if (err) {
            value_error(st, v, err, aux->context, NULL);
        } else {
            free(real->port);
            real->port = xstrdup(v->text);
        }
        break;
    case REAL_WEIGHT:
        real->weight_loc = v->loc;
        if (get_uint(st, v, 0, 65535, "for weight", &n)) {
            real->weight = n;
        }
        break;
    }
}

static void
stmt_real(struct dsl_state *st, struct lb_service *svc,
          const struct location *kw, const struct dsl_args *args,
          const struct location *term)
{
    static const char *const keys[] = { "mac", "port", "weight", NULL };
    struct lb_real *real = lb_service_add_real(svc);
    real->loc = *kw;
    if (args->n < 1) {
        dsl_error_at(st, term, "missing address in real (expected "
                     "'real ADDRESS mac MAC [port OFPORT] [weight N]')");
        return;
    }
    const struct dsl_arg *addr = &args->v[0];
    real->addr_loc = addr->loc;
    const char *err = lb_parse_addr(addr->text, &real->addr);
    if (err) {
        value_error(st, addr, err, "in real", NULL);
    }

    struct option_ctx ctx = { st, keys, "real", "mac, port or weight",
                              "real", addr->text };
    struct real_aux aux = { real, "in real" };
    unsigned int given = parse_options(&ctx, args, 1, term, &aux,
                                       set_real_option);
    if (!(given & (1u << REAL_MAC))) {
        char owner[96];
        dsl_error_at(st, kw, "missing 'mac' for %s",
                     owner_text(&ctx, owner, sizeof owner));
    }
}

/* sorry ADDRESS mac MAC [port OFPORT]: a real without a weight. */
static void
stmt_sorry(struct dsl_state *st, struct lb_service *svc,
           const struct location *kw, const struct dsl_args *args,
           const struct location *term)
{
    static const char *const keys[] = { "mac", "port", NULL };
    struct lb_real *real = &svc->sorry;
    svc->has_sorry = true;
    real->loc = *kw;
    real->weight = 1;
    if (args->n < 1) {
        dsl_error_at(st, term, "missing address in sorry (expected "
                     "'sorry ADDRESS mac MAC [port OFPORT]')");
        return;
    }
    const struct dsl_arg *addr = &args->v[0];
    real->addr_loc = addr->loc;
    const char *err = lb_parse_addr(addr->text, &real->addr);
    if (err) {
        value_error(st, addr, err, "in sorry", NULL);
    }

    struct option_ctx ctx = { st, keys, "sorry", "mac or port", "sorry",
                              addr->text };
    struct real_aux aux = { real, "in sorry" };
    unsigned int given = parse_options(&ctx, args, 1, term, &aux,
                                       set_real_option);
    if (!(given & (1u << REAL_MAC))) {
        char owner[96];
        dsl_error_at(st, kw, "missing 'mac' for %s",
                     owner_text(&ctx, owner, sizeof owner));
    }
}

/* A timeout in whole seconds for 'context' ("for persistence"); false
 * after an error. */
static bool
get_seconds(struct dsl_state *st, const struct dsl_arg *arg,
            const char *context, uint32_t *out)
{
    const char *err = lb_parse_seconds(arg->text, out);
    if (err) {
        value_error(st, arg, err, context, NULL);
        return false;
    }
    return true;
}

enum { PERS_NETMASK, PERS_PREFIX };

static void
set_persistence_option(struct dsl_state *st, size_t key,
                       const struct dsl_arg *v, void *aux)
{
    struct lb_service *svc = aux;
    const char *err;
    uint32_t n;

    if (svc->persistence_prefix_loc.line) {
        dsl_error_at(st, &v->loc, "persistence takes a netmask or a prefix, "
                     "not both");
        return;
    }
    svc->persistence_prefix_loc = v->loc;
    switch (key) {
    case PERS_NETMASK:
        err = lb_parse_netmask(v->text, &svc->persistence_prefix_len,
                               &svc->persistence_mask_family);
        if (err) {
            value_error(st, v, err, "for netmask", NULL);
        }
        break;
    case PERS_PREFIX:
        if (get_uint(st, v, 1, 128, "for prefix", &n)) {
            svc->persistence_prefix_len = n;
        }
        break;
    }
}

/* persistence TIMEOUT [netmask MASK | prefix LEN] */
static void
stmt_persistence(struct dsl_state *st, struct lb_service *svc,
                 const struct dsl_args *args, const struct location *term)
{
    static const char *const keys[] = { "netmask", "prefix", NULL };
    if (args->n < 1) {
        dsl_error_at(st, term, "missing timeout in persistence (expected "
                     "'persistence TIMEOUT [netmask MASK | prefix LEN]')");
        return;
    }
    svc->persistence_loc = args->v[0].loc;
    get_seconds(st, &args->v[0], "for persistence", &svc->persistence_s);
    struct option_ctx ctx = { st, keys, "persistence", "netmask or prefix",
                              "persistence", NULL };
    parse_options(&ctx, args, 1, term, svc, set_persistence_option);
}

static void
set_stickiness_option(struct dsl_state *st, size_t key,
                      const struct dsl_arg *v, void *aux)
{
    struct lb_service *svc = aux;
    svc->sticky_idle_loc = v->loc;
    get_seconds(st, v, "for idle", &svc->sticky_idle_s);
}

/* stickiness conntrack|learn [idle TIMEOUT] */
static void
stmt_stickiness(struct dsl_state *st, struct lb_service *svc,
                const struct dsl_args *args, const struct location *term)
{
    static const char *const modes[] = { "conntrack", "learn", NULL };
    static const char *const keys[] = { "idle", NULL };
    if (args->n < 1) {
        dsl_error_at(st, term, "missing mode in stickiness (expected "
                     "'stickiness conntrack|learn [idle TIMEOUT]')");
        return;
    }
    svc->stickiness_loc = args->v[0].loc;
    const char *err = lb_parse_stickiness(args->v[0].text, &svc->stickiness);
    if (err) {
        value_error(st, &args->v[0], err, NULL, modes);
    }
    struct option_ctx ctx = { st, keys, "stickiness", "idle", "stickiness",
                              NULL };
    parse_options(&ctx, args, 1, term, svc, set_stickiness_option);
}

static void
stmt_udp_timeout(struct dsl_state *st, struct lb_service *svc,
                 const struct dsl_args *args, const struct location *term)
{
    if (args->n < 1) {
        dsl_error_at(st, term, "missing timeout in udp-timeout");
        return;
    }
    svc->udp_timeout_loc = args->v[0].loc;
    get_seconds(st, &args->v[0], "for udp-timeout", &svc->udp_timeout_s);
    if (args->n > 1) {
        unexpected_extra(st, &args->v[1], "the udp-timeout");
    }
}

static void
set_quorum_option(struct dsl_state *st, size_t key, const struct dsl_arg *v,
                  void *aux)
{
    struct lb_service *svc = aux;
    svc->hysteresis_loc = v->loc;
    get_uint(st, v, 0, UINT32_MAX, "for hysteresis",
             &svc->quorum_hysteresis);
}

/* quorum N [hysteresis M] */
static void
stmt_quorum(struct dsl_state *st, struct lb_service *svc,
            const struct dsl_args *args, const struct location *term)
{
    static const char *const keys[] = { "hysteresis", NULL };
    if (args->n < 1) {
        dsl_error_at(st, term, "missing number in quorum (expected "
                     "'quorum N [hysteresis M]')");
        return;
    }
    svc->quorum_loc = args->v[0].loc;
    get_uint(st, &args->v[0], 1, UINT32_MAX, "for quorum", &svc->quorum);
    struct option_ctx ctx = { st, keys, "quorum", "hysteresis", "quorum",
                              NULL };
    parse_options(&ctx, args, 1, term, svc, set_quorum_option);
}

/* A statement that is only its keyword: inhibit-on-failure; */
static void
stmt_flag(struct dsl_state *st, const char *name, bool *flag,
          struct location *loc, const struct location *kw,
          const struct dsl_args *args)
{
    *flag = true;
    *loc = *kw;
    if (args->n > 0) {
        unexpected_extra(st, &args->v[0], name);
    }
}

enum { CHK_INTERVAL, CHK_TIMEOUT, CHK_RISE, CHK_FALL, CHK_PORT, CHK_PATH,
       CHK_EXPECT, CHK_BODY, CHK_COMMAND, CHK_SOURCE, CHK_SEND, CHK_REPLY };

static void
set_string(char **field, const char *value)
{
    free(*field);
    *field = xstrdup(value);
}

static void
set_check_option(struct dsl_state *st, size_t key, const struct dsl_arg *v,
                 void *aux)
{
    struct lb_check *c = aux;
    const char *err;
    uint32_t n;

    switch (key) {
    case CHK_INTERVAL:
    case CHK_TIMEOUT:
        err = lb_parse_duration_ms(v->text, &n);
        if (err) {
            value_error(st, v, err, key == CHK_INTERVAL ? "for interval"
                                                        : "for timeout", NULL);
        } else if (!n) {
            dsl_error_at(st, &v->loc, "%s must not be 0",
                         key == CHK_INTERVAL ? "interval" : "timeout");
        } else if (key == CHK_INTERVAL) {
            c->interval_ms = n;
        } else {
            c->timeout_ms = n;
        }
        break;
    case CHK_RISE:
    case CHK_FALL:
        if (get_uint(st, v, 1, UINT32_MAX,
                     key == CHK_RISE ? "for rise" : "for fall", &n)) {
            *(key == CHK_RISE ? &c->rise : &c->fall) = n;
        }
        break;
    case CHK_PORT:
        if (get_uint(st, v, 0, 65535, "for the check port", &n)) {
            c->port = n;
        }
        break;
    case CHK_EXPECT:
        if (get_uint(st, v, 100, 599, "for expect", &n)) {
            c->expect_status = n;
        }
        break;
    case CHK_PATH:
        set_string(&c->path, v->text);
        break;
    case CHK_BODY:
        set_string(&c->expect_body, v->text);
        break;
    case CHK_COMMAND:
        set_string(&c->command, v->text);
        break;
    case CHK_SEND:
        set_string(&c->send, v->text);
        break;
    case CHK_REPLY:
        set_string(&c->expect_reply, v->text);
        break;
    case CHK_SOURCE:
        c->source_loc = v->loc;
        err = lb_parse_addr(v->text, &c->source);
        if (err) {
            value_error(st, v, err, "for source", NULL);
        }
        break;
    }
}

static void
stmt_check(struct dsl_state *st, struct lb_service *svc,
           const struct location *kw, const struct dsl_args *args,
           const struct location *term)
{
    static const char *const types[] = { "tcp", "http", "https", "exec",
                                         "udp", NULL };
    static const char *const keys[] = {
        "interval", "timeout", "rise", "fall", "port", "path", "expect",
        "body", "command", "source", "send", "reply", NULL
    };
    struct lb_check *c = &svc->check;
    c->loc = *kw;
    if (args->n < 1) {
        dsl_error_at(st, term, "missing check type (expected one of: tcp, "
                     "http, https, exec, udp)");
        return;
    }
    const char *err = lb_parse_check_type(args->v[0].text, &c->type);
    if (err) {
        value_error(st, &args->v[0], err, NULL, types);
    }
    struct option_ctx ctx = {
        st, keys, "check",
        "interval, timeout, rise, fall, port, path, expect, body, command, "
        "source, send or reply",
        "check", NULL
    };
    parse_options(&ctx, args, 1, term, c, set_check_option);
}

void
dsl_statement(struct dsl_state *st, enum dsl_keyword kw,
              const struct location *kw_loc, struct dsl_args *args,
              bool terminated, const struct location *term)
{
    struct lb_service *svc = current(st);
    const char *name = dsl_keyword_name(kw);

    if (!terminated && !st->unterminated) {
        dsl_error_at(st, term, "expected ';' after %s statement", name);
    }
    st->unterminated = false;
    if (!svc) {
        /* Cannot happen: statements only parse inside a service. */
        dsl_args_free(args);
        return;
    }
    if (kw != DSL_REAL) {
        if (st->seen[kw].line) {
            dsl_error_at(st, kw_loc, "duplicate '%s' in service '%s' (first "
                         "at line %d)", name, svc->name, st->seen[kw].line);
            dsl_args_free(args);
            return;
        }
        st->seen[kw] = *kw_loc;
    }

    switch (kw) {
    case DSL_VIP:
        stmt_vip(st, svc, args, term);
        break;
    case DSL_VIP_MAC:
        stmt_vip_mac(st, svc, args, term);
        break;
    case DSL_SCHEDULER:
        stmt_scheduler(st, svc, args, term);
        break;
    case DSL_REAL:
        stmt_real(st, svc, kw_loc, args, term);
        break;
    case DSL_CHECK:
        stmt_check(st, svc, kw_loc, args, term);
        break;
    case DSL_PERSISTENCE:
        stmt_persistence(st, svc, args, term);
        break;
    case DSL_STICKINESS:
        stmt_stickiness(st, svc, args, term);
        break;
    case DSL_UDP_TIMEOUT:
        stmt_udp_timeout(st, svc, args, term);
        break;
    case DSL_SORRY:
        stmt_sorry(st, svc, kw_loc, args, term);
        break;
    case DSL_QUORUM:
        stmt_quorum(st, svc, args, term);
        break;
    case DSL_INHIBIT:
        stmt_flag(st, name, &svc->inhibit_on_failure, &svc->inhibit_loc,
                  kw_loc, args);
        break;
    case DSL_EXPIRE_NODEST:
        stmt_flag(st, name, &svc->expire_nodest_conn,
                  &svc->expire_nodest_loc, kw_loc, args);
        break;
    case DSL_N_KEYWORDS:
        break;
    }
    dsl_args_free(args);
}

/* --- Entry point -------------------------------------------------------- */

/* Appends the services of 'from' to 'to' (the caller's spec may already
 * hold some) and leaves 'from' empty. */
static void
move_services(struct lb_spec *to, struct lb_spec *from)
{
    for (size_t i = 0; i < from->n_services; i++) {
        *lb_spec_add_service(to) = from->services[i];
    }
    free(from->services);
    lb_spec_init(from);
}

struct half {
    struct dsl_state st;
    struct diag d;              /* Its own: discarded unless clean. */
    const char *text;
    size_t len;
    bool ran;
};

void
dsl_state_init(struct dsl_state *st, struct diag *d, const char *file,
               int line)
{
    memset(st, 0, sizeof *st);
    st->d = d;
    st->file = file;
    lb_spec_init(&st->spec);
    st->svc = -1;
    st->line = line;
    st->col = 1;
}

static void
half_init(struct half *h, const char *file, const char *text, size_t len,
          int line)
{
    memset(h, 0, sizeof *h);
    diag_init(&h->d);
    dsl_state_init(&h->st, &h->d, file, line);
    h->text = text;
    h->len = len;
}

static void *
half_main(void *h_)
{
    struct half *h = h_;
    h->ran = dsl_run(&h->st, h->text, h->len);
    return NULL;
}

static bool
half_clean(const struct half *h)
{
    return h->ran && !h->st.n_errors && !h->d.n_records;
}

static void
half_destroy(struct half *h)
{
    lb_spec_destroy(&h->st.spec);
    diag_destroy(&h->d);
}

/* Parses 'text' of 'file' (interned) as two halves cut at a service
 * boundary, the second in a thread, appending the services to 'spec'.
 * Returns false (and leaves 'spec' as it was) if there is no such cut, no
 * thread, or either half reported anything: the caller then parses the
 * whole text in one piece, so that every diagnostic is exactly that of a
 * one-piece parse. */
static bool
parse_in_halves(const char *file, const char *text, size_t len,
                struct lb_spec *spec)
{
    int line;
    size_t cut = dsl_split_point(text, len, len / 2, &line);
    if (!cut) {
        return false;
    }
    struct half a, b;
    half_init(&a, file, text, cut, 1);
    half_init(&b, file, text + cut, len - cut, line);
    pthread_t thread;
    if (pthread_create(&thread, NULL, half_main, &b)) {
        half_destroy(&a);
        half_destroy(&b);
        return false;
    }
    half_main(&a);
    pthread_join(thread, NULL);
    bool ok = half_clean(&a) && half_clean(&b);
    if (ok) {
        move_services(spec, &a.st.spec);
        move_services(spec, &b.st.spec);
    }
    half_destroy(&a);
    half_destroy(&b);
    return ok;
}

bool
lb_dsl_parse(const char *file, const char *text, size_t len,
             struct lb_spec *spec, struct diag *d)
{
    file = diag_intern_file(d, file);
    dsl_skip_bom(&text, &len);
    if (len >= DSL_PARALLEL_MIN && parse_in_halves(file, text, len, spec)) {
        return true;
    }

    struct dsl_state st;
    dsl_state_init(&st, d, file, 1);
    bool ok = dsl_run(&st, text, len) && !st.n_errors;
    if (ok) {
        move_services(spec, &st.spec);
    }
    lb_spec_destroy(&st.spec);
    return ok;
}
