/* `flowlb import keepalived`: the LVS part of keepalived.conf (virtual
 * servers, virtual server groups, real servers and their checkers) to the
 * spec model.
 *
 * Reading: a tokenizer with line:col locations following keepalived's
 * rules (comments from '#' or '!' to the end of the line, '{' and '}' as
 * tokens, quoted strings with ' or " and shell-like escapes, a trailing
 * backslash continuing the line), then a tree of statements (keyword,
 * arguments, optional block). include directives are followed (relative
 * paths from the including file's directory, glob patterns sorted), with
 * locations in the included files. VRRP and global blocks are skipped.
 *
 * Mapping: see docs/import.md, which lists every keyword and what it
 * becomes. What cannot be carried over faithfully is an error (NAT,
 * tunnels, firewall marks, checkers flowlb does not have, reals whose
 * checkers differ); what loses only a detail is a warning.
 */
#include "import.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "values.h"

static void *
xrealloc(void *p, size_t size)
{
    p = realloc(p, size);
    if (!p) {
        abort();
    }
    return p;
}

static char *
xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p) {
        abort();
    }
    return p;
}

/* --- Statement tree ----------------------------------------------------- */

struct kword {
    char *text;
    struct location loc;
};

struct knode {
    struct kword *w;            /* w[0] is the keyword. */
    size_t n;
    bool block;
    struct location block_loc;  /* Its '{'. */
    struct knode *kids;
    size_t n_kids, allocated_kids;
};

static void
knode_free(struct knode *n)
{
    for (size_t i = 0; i < n->n; i++) {
        free(n->w[i].text);
    }
    free(n->w);
    for (size_t i = 0; i < n->n_kids; i++) {
        knode_free(&n->kids[i]);
    }
    free(n->kids);
}

static struct knode *
knode_add(struct knode *parent)
{
    if (parent->n_kids >= parent->allocated_kids) {
        parent->allocated_kids = parent->allocated_kids
                                 ? 2 * parent->allocated_kids : 8;
        parent->kids = xrealloc(parent->kids, parent->allocated_kids
                                              * sizeof *parent->kids);
    }
    struct knode *n = &parent->kids[parent->n_kids++];
    memset(n, 0, sizeof *n);
    return n;
}

struct ka_state {
    struct diag *d;
    const struct import_options *opts;
    struct lb_spec *spec;
    size_t first;
    size_t errors_before;       /* d->n_errors when the import began. */
    int include_depth;
    size_t n_included;          /* Files read through include, in all. */
    size_t bytes_read;          /* Bytes of every file read, in all. */
    /* Keywords already warned about (one warning per keyword and file). */
    char **warned;
    size_t n_warned;
};

/* Warns about 'kw' once per file: configs repeat the same keyword in every
 * real server, and one warning says it all. */
static void
ka_warn_once(struct ka_state *st, const struct kword *kw, const char *fmt,
             ...) __attribute__((format(printf, 3, 4)));

static void
ka_warn_once(struct ka_state *st, const struct kword *kw, const char *fmt,
             ...)
{
    char *key;
    if (asprintf(&key, "%s\n%s", kw->loc.file ? kw->loc.file : "",
                 kw->text) < 0) {
        abort();
    }
    for (size_t i = 0; i < st->n_warned; i++) {
        if (!strcmp(st->warned[i], key)) {
            free(key);
            return;
        }
    }
    st->warned = xrealloc(st->warned, (st->n_warned + 1) * sizeof *st->warned);
    st->warned[st->n_warned++] = key;
    char *msg;
    va_list args;
    va_start(args, fmt);
    if (vasprintf(&msg, fmt, args) < 0) {
        abort();
    }
    va_end(args);
    diag_warning(st->d, &kw->loc, "%s", msg);
    free(msg);
}

/* --- Tokenizer ---------------------------------------------------------- */

enum ktok { KT_WORD, KT_LBRACE, KT_RBRACE, KT_EOL, KT_EOF };

struct lexer {
    struct ka_state *st;
    const char *file;           /* Interned. */
    const char *p, *end;
    int line, col;
};

static void
advance(struct lexer *lx)
{
    if (*lx->p == '\n') {
        lx->line++;
        lx->col = 1;
    } else if (((unsigned char) *lx->p & 0xc0) != 0x80) {
        lx->col++;
    }
    lx->p++;
}

static int
hexval(int c)
{
    return isdigit(c) ? c - '0' : isxdigit(c) ? tolower(c) - 'a' + 10 : -1;
}

/* Appends the escape after a backslash inside quotes (at lx->p, the char
 * after the backslash) to 'buf'. */
static void
lex_escape(struct lexer *lx, char *buf, size_t *n)
{
    char c = *lx->p;
    advance(lx);
    switch (c) {
    case 'a': buf[(*n)++] = '\a'; return;
    case 'b': buf[(*n)++] = '\b'; return;
    case 'E': buf[(*n)++] = '\033'; return;
    case 'f': buf[(*n)++] = '\f'; return;
    case 'n': buf[(*n)++] = '\n'; return;
    case 'r': buf[(*n)++] = '\r'; return;
    case 't': buf[(*n)++] = '\t'; return;
    case 'v': buf[(*n)++] = '\v'; return;
    case 'x': {
        int v = 0, k = 0;
        while (k < 2 && lx->p < lx->end && hexval((unsigned char) *lx->p) >= 0) {
            v = v * 16 + hexval((unsigned char) *lx->p);
            advance(lx);
            k++;
        }
        buf[(*n)++] = k ? (char) v : 'x';
        return;
    }
    case 'c':
        if (lx->p < lx->end && *lx->p != '\n') {
            buf[(*n)++] = *lx->p & 0x1f;
            advance(lx);
        }
        return;
    default:
        if (c >= '0' && c <= '7') {
            int v = c - '0', k = 1;
            while (k < 3 && lx->p < lx->end && *lx->p >= '0' && *lx->p <= '7') {
                v = v * 8 + (*lx->p - '0');
                advance(lx);
                k++;
            }
            buf[(*n)++] = (char) v;
            return;
        }
        buf[(*n)++] = c;
    }
}

/* Next token; a word's text is malloc'ed into *text. */
static enum ktok
lex(struct lexer *lx, char **text, struct location *loc)
{
    for (;;) {
        while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t'
                                   || *lx->p == '\r' || *lx->p == '\f'
                                   || *lx->p == '\v')) {
            advance(lx);
        }
        if (lx->p < lx->end && *lx->p == '\\' && lx->p + 1 < lx->end
            && (lx->p[1] == '\n'
                || (lx->p[1] == '\r' && lx->p + 2 < lx->end
                    && lx->p[2] == '\n'))) {
            /* A continued line. */
            while (*lx->p != '\n') {
                advance(lx);
            }
            advance(lx);
            continue;
        }
        break;
    }
    loc->file = lx->file;
    loc->line = lx->line;
    loc->col = lx->col;
    if (lx->p >= lx->end) {
        return KT_EOF;
    }
    char c = *lx->p;
    if (c == '#' || c == '!') {
        while (lx->p < lx->end && *lx->p != '\n') {
            advance(lx);
        }
        return lex(lx, text, loc);
    }
    if (c == '\n') {
        advance(lx);
        return KT_EOL;
    }
    if (c == '{' || c == '}') {
        advance(lx);
        return c == '{' ? KT_LBRACE : KT_RBRACE;
    }
    /* A word: up to blank, brace or comment outside quotes. */
    size_t cap = 64, n = 0;
    char *buf = xrealloc(NULL, cap);
    char quote = 0;
    struct location qloc = *loc;
    while (lx->p < lx->end) {
        if (cap - n < 8) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        c = *lx->p;
        if (quote) {
            if (c == '\n') {
                break;
            }
            if (c == quote) {
                quote = 0;
                advance(lx);
            } else if (c == '\\' && lx->p + 1 < lx->end && lx->p[1] != '\n') {
                advance(lx);
                lex_escape(lx, buf, &n);
            } else {
                buf[n++] = c;
                advance(lx);
            }
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '{'
            || c == '}' || c == '#' || c == '!' || c == '\f' || c == '\v') {
            break;
        }
        if (c == '"' || c == '\'') {
            quote = c;
            qloc.line = lx->line;
            qloc.col = lx->col;
            advance(lx);
            continue;
        }
        if (c == '\0') {
            diag_error(lx->st->d, loc, "NUL byte in input");
            advance(lx);
            continue;
        }
        buf[n++] = c;
        advance(lx);
    }
    if (quote) {
        diag_error(lx->st->d, &qloc, "unterminated quoted string");
    }
    buf[n] = '\0';
    *text = buf;
    return KT_WORD;
}

/* --- Parser ------------------------------------------------------------- */

static bool parse_file(struct ka_state *, const char *path,
                       const struct location *from, struct knode *parent);

static bool
is_include(const char *kw)
{
    return !strcmp(kw, "include") || !strcmp(kw, "includer")
           || !strcmp(kw, "includem") || !strcmp(kw, "includew")
           || !strcmp(kw, "includeb") || !strcmp(kw, "includea");
}

/* Bounds on what include may read: files in all, bytes per file. */
#define KA_MAX_INCLUDED 1000
#define KA_MAX_FILE_BYTES (64u * 1024 * 1024)
#define KA_MAX_TOTAL_BYTES (256u * 1024 * 1024)

/* Follows "include PATTERN" given in 'file'. */
static void
do_include(struct ka_state *st, const struct knode *stmt,
           struct knode *parent)
{
    if (stmt->n < 2) {
        diag_error(st->d, &stmt->w[0].loc, "%s needs a file name",
                   stmt->w[0].text);
        return;
    }
    if (st->include_depth >= 16) {
        diag_error(st->d, &stmt->w[0].loc, "includes nested more than 16 deep "
                   "(an include loop?)");
        return;
    }
    /* Depth alone does not bound the work: a file including itself twice
     * is read 2^16 times. */
    if (st->bytes_read > KA_MAX_TOTAL_BYTES) {
        return;                 /* Reported once, by parse_file(). */
    }
    if (st->n_included >= KA_MAX_INCLUDED) {
        diag_error(st->d, &stmt->w[0].loc, "more than %d included files (an "
                   "include loop?)", KA_MAX_INCLUDED);
        return;
    }
    const char *pattern = stmt->w[1].text;
    char *full;
    if (pattern[0] == '/') {
        full = xstrdup(pattern);
    } else {
        const char *file = stmt->w[0].loc.file;
        const char *slash = strrchr(file, '/');
        if (asprintf(&full, "%.*s%s", slash ? (int) (slash - file + 1) : 0,
                     file, pattern) < 0) {
            abort();
        }
    }
    glob_t g;
    int rc = glob(full, GLOB_BRACE, NULL, &g);
    if (rc == GLOB_NOMATCH) {
        diag_warning(st->d, &stmt->w[1].loc, "include '%s' matches no file",
                     full);
    } else if (rc) {
        diag_error(st->d, &stmt->w[1].loc,
                   "include '%s': cannot expand", full);
    } else {
        st->include_depth++;
        for (size_t i = 0; i < g.gl_pathc; i++) {
            if (st->n_included++ >= KA_MAX_INCLUDED) {
                diag_error(st->d, &stmt->w[0].loc,
                           "more than %d included files "
                           "(an include loop?)", KA_MAX_INCLUDED);
                break;
            }
            parse_file(st, g.gl_pathv[i], &stmt->w[1].loc, parent);
        }
        st->include_depth--;
    }
    if (!rc) {
        globfree(&g);
    }
    free(full);
}

/* Parses statements into 'parent' until the '}' that closes it ('open'
 * non-NULL) or the end of the file. */
static void
parse_block(struct lexer *lx, struct knode *parent,
            const struct location *open, int depth)
{
    struct ka_state *st = lx->st;
    struct knode cur;
    memset(&cur, 0, sizeof cur);
    size_t allocated = 0;
    for (;;) {
        char *text = NULL;
        struct location loc;
        enum ktok t = lex(lx, &text, &loc);
        if (t == KT_WORD) {
            if (cur.n >= allocated) {
                allocated = allocated ? 2 * allocated : 8;
                cur.w = xrealloc(cur.w, allocated * sizeof *cur.w);
            }
            cur.w[cur.n].text = text;
            cur.w[cur.n++].loc = loc;
            continue;
        }
        /* The statement so far is complete. */
        struct knode *stmt = NULL;
        if (cur.n) {
            if (is_include(cur.w[0].text)) {
                do_include(st, &cur, parent);
                knode_free(&cur);
            } else {
                stmt = knode_add(parent);
                *stmt = cur;
            }
            memset(&cur, 0, sizeof cur);
            allocated = 0;
        }
        if (t == KT_LBRACE) {
            if (!stmt && parent->n_kids && !parent->kids[parent->n_kids - 1].block
                && t == KT_LBRACE) {
                /* '{' on the line after its keyword. */
                stmt = &parent->kids[parent->n_kids - 1];
            }
            if (!stmt) {
                diag_error(st->d, &loc, "'{' without a keyword before it");
                stmt = knode_add(parent);
                stmt->w = xrealloc(NULL, sizeof *stmt->w);
                stmt->w[0].text = xstrdup("");
                stmt->w[0].loc = loc;
                stmt->n = 1;
            }
            stmt->block = true;
            stmt->block_loc = loc;
            if (depth >= 32) {
                diag_error(st->d, &loc, "blocks nested too deep");
                return;
            }
            /* 'stmt' may move when 'parent' grows: recurse into a copy. */
            size_t idx = stmt - parent->kids;
            struct knode kid = *stmt;
            parse_block(lx, &kid, &loc, depth + 1);
            parent->kids[idx] = kid;
        } else if (t == KT_RBRACE) {
            if (!open) {
                diag_error(st->d, &loc, "unmatched '}'");
                continue;
            }
            return;
        } else if (t == KT_EOF) {
            if (open) {
                diag_error(st->d, open,
                           "missing '}' for the block opened here");
            }
            return;
        }
    }
}

static bool
parse_file(struct ka_state *st, const char *path, const struct location *from,
           struct knode *parent)
{
    struct location loc = { diag_intern_file(st->d, path), 0, 0 };
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (from) {
            diag_error(st->d, from, "cannot open included file %s: %s", path,
                       strerror(errno));
        } else {
            diag_error(st->d, &loc, "cannot open: %s", strerror(errno));
        }
        return false;
    }
    /* Only regular files: "include /dev/zero" (or a FIFO) would never
     * end. */
    struct stat sb;
    if (fstat(fileno(f), &sb) || !S_ISREG(sb.st_mode)) {
        diag_error(st->d, from ? from : &loc,
                   "%s is not a regular file", path);
        fclose(f);
        return false;
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len > KA_MAX_FILE_BYTES) {
            diag_error(st->d, from ? from : &loc, "%s is larger than %u MiB",
                       path, KA_MAX_FILE_BYTES >> 20);
            fclose(f);
            free(text);
            return false;
        }
        if (cap - len < 4096) {
            cap = cap ? 2 * cap : 8192;
            text = xrealloc(text, cap);
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (!got) {
            break;
        }
    }
    fclose(f);
    /* The files included 1000 times over must not add up without end. */
    st->bytes_read += len;
    if (st->bytes_read > KA_MAX_TOTAL_BYTES) {
        diag_error(st->d, from ? from : &loc, "more than %u MiB read with "
                   "the included files (an include loop?)",
                   KA_MAX_TOTAL_BYTES >> 20);
        free(text);
        return false;
    }
    struct lexer lx = { st, loc.file, text, text + len, 1, 1 };
    parse_block(&lx, parent, NULL, 0);
    free(text);
    return true;
}

/* --- Values ------------------------------------------------------------- */

/* keepalived's <TIMER>: seconds, fractions allowed, to milliseconds. */
static const char *
parse_timer(const char *s, uint32_t *ms)
{
    const char *p = s;
    unsigned long long whole = 0;
    if (!isdigit((unsigned char) *p)) {
        return "invalid time (expected seconds, e.g. 3 or 0.5)";
    }
    for (; isdigit((unsigned char) *p); p++) {
        whole = whole * 10 + (*p - '0');
        if (whole > 86400) {
            return "time too large (at most 86400 seconds)";
        }
    }
    unsigned long long frac = 0, scale = 1000;
    if (*p == '.') {
        p++;
        for (; isdigit((unsigned char) *p); p++) {
            if (scale > 1) {
                scale /= 10;
                frac += (*p - '0') * scale;
            }
        }
    }
    if (*p) {
        return "invalid time (expected seconds, e.g. 3 or 0.5)";
    }
    *ms = whole * 1000 + frac;
    return NULL;
}

/* An argument that must be there; reports and returns NULL if not. */
static const struct kword *
arg(struct ka_state *st, const struct knode *n, size_t i, const char *what)
{
    if (n->n > i) {
        return &n->w[i];
    }
    diag_error(st->d, &n->w[0].loc, "%s needs %s", n->w[0].text, what);
    return NULL;
}

/* One setting per line: "path / status_code 200" on one line is refused
 * rather than guessed at. Reports words past the first 'max' ones. */
static bool
no_extra(struct ka_state *st, const struct knode *n, size_t max)
{
    if (n->n <= max) {
        return true;
    }
    diag_error(st->d, &n->w[max].loc, "unexpected '%s' after %s (one setting "
               "per line)", n->w[max].text, n->w[0].text);
    return false;
}

static bool
get_uint(struct ka_state *st, const struct knode *n, uint32_t min,
         uint32_t max, uint32_t *out)
{
    const struct kword *w = arg(st, n, 1, "a number");
    if (!w || !no_extra(st, n, 2)) {
        return false;
    }
    const char *err = lb_parse_uint(w->text, min, max, out);
    if (err) {
        diag_error(st->d, &w->loc,
                   "invalid %s '%s': %s", n->w[0].text, w->text,
                   err);
        return false;
    }
    return true;
}

static bool
get_timer(struct ka_state *st, const struct knode *n, uint32_t *ms)
{
    const struct kword *w = arg(st, n, 1, "a time in seconds");
    if (!w || !no_extra(st, n, 2)) {
        return false;
    }
    const char *err = parse_timer(w->text, ms);
    if (err) {
        diag_error(st->d, &w->loc,
                   "%s '%s' for %s", err, w->text, n->w[0].text);
        return false;
    }
    return true;
}

/* keepalived <BOOL>, absent meaning true. */
static bool
get_bool(struct ka_state *st, const struct knode *n, bool *out)
{
    if (n->n < 2) {
        *out = true;
        return true;
    }
    const char *s = n->w[1].text;
    if (!strcasecmp(s, "on") || !strcasecmp(s, "true")
        || !strcasecmp(s, "yes")) {
        *out = true;
    } else if (!strcasecmp(s, "off") || !strcasecmp(s, "false")
               || !strcasecmp(s, "no")) {
        *out = false;
    } else {
        diag_error(st->d, &n->w[1].loc, "invalid %s '%s' (expected on, off, "
                   "true, false, yes or no)", n->w[0].text, s);
        return false;
    }
    return true;
}

/* --- Forwarding method -------------------------------------------------- */

/* lvs_method / lb_kind: true for DR, else reports. */
static bool
check_method(struct ka_state *st, const struct knode *n, const char *what)
{
    const struct kword *w = arg(st, n, 1, "NAT, DR or TUN");
    if (!w) {
        return false;
    }
    if (!strcasecmp(w->text, "DR")) {
        return true;
    }
    if (!strcasecmp(w->text, "NAT")) {
        diag_error(st->d, &w->loc,
                   "%s uses NAT: flowlb does direct routing only "
                   "(lvs_method DR), where the real holds the VIP itself and "
                   "answers the client directly; NAT is not converted", what);
    } else if (!strcasecmp(w->text, "TUN")) {
        diag_error(st->d, &w->loc,
                   "%s uses tunnelling (TUN): flowlb does direct "
                   "routing only (lvs_method DR), to reals on the same L2 "
                   "segment; tunnelling is not converted", what);
    } else {
        diag_error(st->d, &w->loc, "unknown forwarding method '%s' (expected "
                   "NAT, DR or TUN)", w->text);
    }
    return false;
}

/* --- Checkers ----------------------------------------------------------- */

/* Settings inherited virtual server -> real server -> checker. */
struct ka_defaults {
    bool has_delay_loop, has_timeout, has_retry, has_inhibit;
    uint32_t delay_loop_ms, timeout_ms, retry;
    bool inhibit;
};

/* One real's checker, as flowlb would run it. */
struct ka_check {
    bool present;
    struct lb_check c;
    struct location loc;        /* The checker keyword. */
    char *raw_command;          /* MISC_CHECK before $FLOWLB_REAL. */
    bool has_connect_port;
    uint16_t connect_port;
};

static void
ka_check_destroy(struct ka_check *k)
{
    free(k->c.path);
    free(k->c.expect_body);
    free(k->c.command);
    free(k->c.send);
    free(k->c.expect_reply);
    free(k->raw_command);
}

/* Settings common to every level; true if 'n' was one of them. */
static bool
common_setting(struct ka_state *st, const struct knode *n,
               struct ka_defaults *def)
{
    const char *kw = n->w[0].text;
    uint32_t v;
    if (!strcmp(kw, "delay_loop")) {
        if (get_timer(st, n, &v)) {
            def->has_delay_loop = true;
            def->delay_loop_ms = v;
        }
    } else if (!strcmp(kw, "connect_timeout")) {
        if (get_timer(st, n, &v)) {
            def->has_timeout = true;
            def->timeout_ms = v;
        }
    } else if (!strcmp(kw, "retry") || !strcmp(kw, "nb_get_retry")) {
        if (get_uint(st, n, 0, 1000, &v)) {
            def->has_retry = true;
            def->retry = v;
        }
    } else if (!strcmp(kw, "delay_before_retry")) {
        ka_warn_once(st, &n->w[0], "delay_before_retry is not supported: "
                     "flowlb probes every interval (delay_loop) and counts "
                     "'fall' failures in a row");
    } else if (!strcmp(kw, "warmup")) {
        ka_warn_once(st, &n->w[0], "warmup is ignored (flowlb spreads the "
                     "first probes itself)");
    } else if (!strcmp(kw, "alpha")) {
        ka_warn_once(st, &n->w[0], "alpha is not supported: flowlb's initial "
                     "real state is described in runtime/health.h");
    } else if (!strcmp(kw, "inhibit_on_failure")) {
        bool b;
        if (get_bool(st, n, &b)) {
            def->has_inhibit = true;
            def->inhibit = b;
        }
    } else if (!strcmp(kw, "smtp_alert") || !strcmp(kw, "snmp_name")
               || !strcmp(kw, "log_all_failures")) {
        /* Reporting only. */
    } else {
        return false;
    }
    return true;
}

/* Decodes keepalived's free-form hex string (UDP_CHECK payload) into
 * printable text; NULL (and reports) if it is not printable text. */
static char *
hex_text(struct ka_state *st, const struct knode *n)
{
    char *out = xrealloc(NULL, 2 * n->n + 16);
    size_t len = 0;
    for (size_t i = 1; i < n->n; i++) {
        const char *s = n->w[i].text;
        size_t k = strlen(s);
        /* An odd-length group's first digit is a byte of its own. */
        size_t j = 0;
        if (k % 2) {
            int v = hexval((unsigned char) s[0]);
            if (v < 0) {
                goto bad;
            }
            out = xrealloc(out, len + k + 2);
            out[len++] = v;
            j = 1;
        }
        out = xrealloc(out, len + k + 2);
        for (; j < k; j += 2) {
            int hi = hexval((unsigned char) s[j]);
            int lo = hexval((unsigned char) s[j + 1]);
            if (hi < 0 || lo < 0) {
                goto bad;
            }
            out[len++] = hi * 16 + lo;
        }
    }
    out[len] = '\0';
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char) out[i] < 0x20 || (unsigned char) out[i] >= 0x7f) {
            diag_error(st->d, &n->w[0].loc,
                       "%s is not printable text: flowlb's "
                       "udp check sends and expects text", n->w[0].text);
            free(out);
            return NULL;
        }
    }
    return out;

bad:
    diag_error(st->d, &n->w[0].loc, "%s: invalid hex string (wildcards X are "
               "not supported)", n->w[0].text);
    free(out);
    return NULL;
}

static void
parse_url(struct ka_state *st, const struct knode *url, struct ka_check *k,
          bool *has_status)
{
    for (size_t i = 0; i < url->n_kids; i++) {
        const struct knode *n = &url->kids[i];
        const char *kw = n->w[0].text;
        if (!strcmp(kw, "path")) {
            const struct kword *w = arg(st, n, 1, "a path");
            if (w && no_extra(st, n, 2)) {
                free(k->c.path);
                k->c.path = xstrdup(w->text);
            }
        } else if (!strcmp(kw, "status_code")) {
            const struct kword *w = arg(st, n, 1, "a status code");
            uint32_t v;
            if (!w) {
                continue;
            }
            if (n->n > 2 || strchr(w->text, '-')) {
                /* A list or range: flowlb expects one status. */
                char first[16];
                snprintf(first, sizeof first, "%.*s",
                         (int) strcspn(w->text, "-"), w->text);
                if (!lb_parse_uint(first, 100, 599, &v)) {
                    diag_warning(st->d, &w->loc, "flowlb expects one HTTP "
                                 "status: using %u of the codes given", v);
                    k->c.expect_status = v;
                    *has_status = true;
                    continue;
                }
            }
            const char *err = lb_parse_uint(w->text, 100, 599, &v);
            if (err) {
                diag_error(st->d, &w->loc, "invalid status_code '%s': %s",
                           w->text, err);
            } else {
                k->c.expect_status = v;
                *has_status = true;
            }
        } else if (!strcmp(kw, "digest")) {
            ka_warn_once(st, &n->w[0], "digest is not supported: flowlb "
                         "checks the status (and optionally a body "
                         "substring), not an MD5 of the page");
        } else if (!strcmp(kw, "virtualhost")) {
            ka_warn_once(st, &n->w[0], "virtualhost is not supported: "
                         "flowlb's http check sends no specific Host");
        } else if (!strcmp(kw, "regex")) {
            const struct kword *w = arg(st, n, 1, "a regular expression");
            if (w && !strpbrk(w->text, ".^$*+?()[]{}|\\")) {
                free(k->c.expect_body);
                k->c.expect_body = xstrdup(w->text);
            } else if (w) {
                diag_error(st->d, &w->loc, "regex '%s' is not a plain string: "
                           "flowlb's http check looks for a substring "
                           "(check ... body)", w->text);
            }
        } else if (!strcmp(kw, "regex_no_match") || !strcmp(kw, "regex_options")
                   || !strcmp(kw, "regex_stack")
                   || !strcmp(kw, "regex_min_offset")
                   || !strcmp(kw, "regex_max_offset")) {
            diag_error(st->d, &n->w[0].loc, "%s is not supported", kw);
        } else if (!strcmp(kw, "tls_compliant")) {
            /* No effect on what is checked. */
        } else {
            diag_warning(st->d, &n->w[0].loc, "unknown keyword '%s' in url "
                         "(ignored)", kw);
        }
    }
}

/* Reads checker block 'n' of a real into 'k', with the real's defaults. */
static void
parse_checker(struct ka_state *st, const struct knode *n,
              const struct ka_defaults *real_def, struct ka_check *k)
{
    const char *kw = n->w[0].text;
    struct ka_defaults def = *real_def;
    memset(k, 0, sizeof *k);
    k->present = true;
    k->loc = n->w[0].loc;
    k->c.loc = n->w[0].loc;
    k->c.expect_status = 200;
    k->c.rise = 1;
    uint32_t default_retry = 1;
    bool misc = false, http = false, has_status = false, has_misc_timeout = false;
    uint32_t misc_timeout = 0;
    if (!strcmp(kw, "TCP_CHECK")) {
        k->c.type = LB_CHECK_TCP;
    } else if (!strcmp(kw, "HTTP_GET") || !strcmp(kw, "SSL_GET")) {
        k->c.type = kw[0] == 'H' ? LB_CHECK_HTTP : LB_CHECK_HTTPS;
        http = true;
    } else if (!strcmp(kw, "MISC_CHECK")) {
        k->c.type = LB_CHECK_EXEC;
        misc = true;
        default_retry = 0;
    } else if (!strcmp(kw, "UDP_CHECK")) {
        k->c.type = LB_CHECK_UDP;
    }
    size_t n_urls = 0;
    for (size_t i = 0; i < n->n_kids; i++) {
        const struct knode *s = &n->kids[i];
        const char *skw = s->w[0].text;
        if (common_setting(st, s, &def)) {
            continue;
        }
        if (!strcmp(skw, "connect_port")) {
            uint32_t v;
            if (get_uint(st, s, 1, 65535, &v)) {
                k->has_connect_port = true;
                k->connect_port = v;
            }
        } else if (!strcmp(skw, "connect_ip")) {
            diag_error(st->d, &s->w[0].loc, "connect_ip is not supported: "
                       "flowlb probes each real at its own address");
        } else if (!strcmp(skw, "bindto")) {
            const struct kword *w = arg(st, s, 1, "an address");
            if (w && lb_parse_addr(w->text, &k->c.source)) {
                diag_error(st->d, &w->loc,
                           "invalid bindto address '%s'", w->text);
            }
        } else if (!strcmp(skw, "bind_port") || !strcmp(skw, "bind_if")
                   || !strcmp(skw, "fwmark")) {
            ka_warn_once(st, &s->w[0], "%s is not supported and is ignored",
                         skw);
        } else if (http && !strcmp(skw, "url")) {
            if (++n_urls > 1) {
                diag_error(st->d, &s->w[0].loc, "more than one url: flowlb's "
                           "http check tests one path");
            } else {
                parse_url(st, s, k, &has_status);
            }
        } else if (http && (!strcmp(skw, "http_protocol")
                            || !strcmp(skw, "fast_recovery")
                            || !strcmp(skw, "enable_sni")
                            || !strcmp(skw, "sni_name")
                            || !strcmp(skw, "tls_compliant"))) {
            /* Transport details flowlb chooses itself. */
        } else if (http && !strcmp(skw, "virtualhost")) {
            ka_warn_once(st, &s->w[0], "virtualhost is not supported: "
                         "flowlb's http check sends no specific Host");
        } else if (misc && !strcmp(skw, "misc_path")) {
            const struct kword *w = arg(st, s, 1, "a command");
            if (w) {
                /* Unquoted arguments after the path belong to it. */
                size_t total = 0;
                for (size_t j = 1; j < s->n; j++) {
                    total += strlen(s->w[j].text) + 1;
                }
                char *cmd = xrealloc(NULL, total + 1);
                cmd[0] = '\0';
                for (size_t j = 1; j < s->n; j++) {
                    strcat(cmd, s->w[j].text);
                    if (j + 1 < s->n) {
                        strcat(cmd, " ");
                    }
                }
                free(k->raw_command);
                k->raw_command = cmd;
            }
        } else if (misc && !strcmp(skw, "misc_timeout")) {
            if (get_timer(st, s, &misc_timeout)) {
                has_misc_timeout = true;
            }
        } else if (misc && !strcmp(skw, "misc_dynamic")) {
            ka_warn_once(st, &s->w[0], "misc_dynamic is not supported: the "
                         "exit status only says up (0) or down");
        } else if (misc && !strcmp(skw, "user")) {
            ka_warn_once(st, &s->w[0], "user is not supported: flowlbd runs "
                         "exec checks as its own user");
        } else if (k->c.type == LB_CHECK_UDP && !strcmp(skw, "payload")) {
            free(k->c.send);
            k->c.send = hex_text(st, s);
        } else if (k->c.type == LB_CHECK_UDP && !strcmp(skw, "require_reply")) {
            if (s->n > 1) {
                free(k->c.expect_reply);
                k->c.expect_reply = hex_text(st, s);
                ka_warn_once(st, &s->w[0], "require_reply: flowlb looks for "
                             "the text anywhere in the reply, keepalived at "
                             "its start");
            } else {
                ka_warn_once(st, &s->w[0], "require_reply without data: "
                             "flowlb's udp check also passes when no reply "
                             "and no ICMP unreachable comes back");
            }
        } else if (k->c.type == LB_CHECK_UDP
                   && (!strcmp(skw, "min_reply_length")
                       || !strcmp(skw, "max_reply_length"))) {
            ka_warn_once(st, &s->w[0], "%s is not supported and is ignored",
                         skw);
        } else {
            diag_warning(st->d, &s->w[0].loc, "unknown keyword '%s' in %s "
                         "(ignored)", skw, kw);
        }
    }
    if (misc && !k->raw_command) {
        diag_error(st->d, &n->w[0].loc, "MISC_CHECK without misc_path");
    }
    if (http && !n_urls) {
        diag_warning(st->d, &n->w[0].loc, "%s without url: checking path /",
                     kw);
    }
    if (http && !has_status) {
        ka_warn_once(st, &n->w[0], "%s without status_code accepts any 2xx "
                     "in keepalived; flowlb expects exactly 200", kw);
    }
    k->c.interval_ms = def.has_delay_loop ? def.delay_loop_ms : 60000;
    k->c.timeout_ms = misc ? (has_misc_timeout ? misc_timeout
                                               : k->c.interval_ms)
                           : def.has_timeout ? def.timeout_ms : 5000;
    k->c.fall = (def.has_retry ? def.retry : default_retry) + 1;
    if (!k->c.interval_ms) {
        diag_error(st->d, &n->w[0].loc,
                   "delay_loop 0: flowlb needs an interval");
        k->c.interval_ms = 1000;
    }
    if (!k->c.timeout_ms) {
        diag_error(st->d, &n->w[0].loc, "connect_timeout 0: flowlb needs a "
                   "timeout");
        k->c.timeout_ms = 1;
    }
    if (k->c.timeout_ms > k->c.interval_ms) {
        char t[32], i[32];
        snprintf(t, sizeof t, "%u.%03us", k->c.timeout_ms / 1000,
                 k->c.timeout_ms % 1000);
        snprintf(i, sizeof i, "%u.%03us", k->c.interval_ms / 1000,
                 k->c.interval_ms % 1000);
        diag_warning(st->d, &n->w[0].loc, "%s timeout %s is longer than its "
                     "interval (delay_loop) %s; flowlb needs timeout <= "
                     "interval: using %s", kw, t, i, i);
        k->c.timeout_ms = k->c.interval_ms;
    }
}

/* --- Virtual servers ---------------------------------------------------- */

struct ka_real {
    struct lb_real r;
    uint16_t port;
    bool has_port;
    struct ka_check check;
    bool inhibit;
};

/* A virtual server's body, before it is instantiated per address. */
struct ka_vs {
    enum lb_proto proto;
    enum lb_scheduler scheduler;
    struct location scheduler_loc;
    bool dr;
    uint32_t persistence_s;
    struct location persistence_loc;
    const struct kword *granularity;
    uint32_t quorum, hysteresis;
    bool has_quorum, has_hysteresis;
    struct location quorum_loc, hysteresis_loc;
    bool has_sorry;
    struct lb_real sorry;
    struct ka_real *reals;
    size_t n_reals;
};

/* An address (and port) a virtual server serves. */
struct ka_entry {
    struct lb_addr vip;
    uint16_t port;
    struct location loc;
    /* A firewall mark mapped with --fwmark: prefix and port range. */
    uint32_t mark;
    uint8_t prefix_len;
    uint16_t port_max;
    enum lb_proto proto;
};

/* The entry for firewall mark 'w' ("fwmark N"), if --fwmark maps it;
 * otherwise reports. */
static bool
fwmark_entry(struct ka_state *st, const struct kword *kw,
             const struct kword *num, struct ka_entry *e)
{
    uint32_t mark;
    if (!num || lb_parse_uint(num->text, 1, UINT32_MAX, &mark)) {
        diag_error(st->d, num ? &num->loc : &kw->loc, "fwmark needs a mark "
                   "number (1 to 4294967295)");
        return false;
    }
    const struct import_fwmark *fm = import_find_fwmark(st->opts, mark);
    if (!fm) {
        diag_error(st->d, &kw->loc,
                   "firewall mark %u cannot be imported as it "
                   "is: keepalived.conf does not say which packets carry the "
                   "mark (iptables/nft rules do). Give it with --fwmark "
                   "%u=ADDRESS[/LEN],PROTO,PORT[-PORT], or write the service "
                   "by hand and drop it from the input", (unsigned) mark,
                   (unsigned) mark);
        return false;
    }
    memset(e, 0, sizeof *e);
    e->mark = mark;
    e->vip = fm->vip;
    e->prefix_len = fm->prefix_len;
    e->port = fm->port;
    e->port_max = fm->port_max;
    e->proto = fm->proto;
    e->loc = kw->loc;
    return true;
}

static const char *
parse_port_word(const char *s, uint16_t *port)
{
    uint32_t v;
    if (lb_parse_uint(s, 0, 65535, &v)) {
        return "invalid port (expected 0 to 65535)";
    }
    *port = v;
    return NULL;
}

static void
parse_real(struct ka_state *st, const struct knode *n,
           const struct ka_defaults *vs_def, struct ka_real *real,
           bool vs_dr)
{
    memset(real, 0, sizeof *real);
    real->r.weight = 1;
    real->r.loc = n->w[0].loc;
    const struct kword *a = arg(st, n, 1, "an address");
    if (!a) {
        return;
    }
    real->r.addr_loc = a->loc;
    const char *err = lb_parse_addr(a->text, &real->r.addr);
    if (err) {
        diag_error(st->d, &a->loc, "%s '%s' of real_server", err, a->text);
        return;
    }
    if (n->n > 2) {
        err = parse_port_word(n->w[2].text, &real->port);
        if (err) {
            diag_error(st->d, &n->w[2].loc, "%s: '%s'", err, n->w[2].text);
        }
        real->has_port = true;
    }
    struct ka_defaults def = *vs_def;
    /* A NAT / TUN lvs_method is reported where it is written. */
    (void) vs_dr;
    for (size_t i = 0; i < n->n_kids; i++) {
        const struct knode *s = &n->kids[i];
        const char *kw = s->w[0].text;
        if (common_setting(st, s, &def)) {
            continue;
        }
        if (!strcmp(kw, "weight")) {
            uint32_t w;
            if (get_uint(st, s, 0, 65535, &w)) {
                real->r.weight = w;
                real->r.weight_loc = s->w[1].loc;
            }
        } else if (!strcmp(kw, "lvs_method") || !strcmp(kw, "lb_kind")) {
            char what[96];
            snprintf(what, sizeof what, "real_server %s", a->text);
            check_method(st, s, what);
        } else if (!strcmp(kw, "TCP_CHECK") || !strcmp(kw, "HTTP_GET")
                   || !strcmp(kw, "SSL_GET") || !strcmp(kw, "MISC_CHECK")
                   || !strcmp(kw, "UDP_CHECK")) {
            if (real->check.present) {
                diag_error(st->d, &s->w[0].loc, "second checker for real %s "
                           "(first at line %d): flowlb runs one check per "
                           "service", a->text, real->check.loc.line);
                continue;
            }
            parse_checker(st, s, &def, &real->check);
        } else if (!strcmp(kw, "SMTP_CHECK") || !strcmp(kw, "DNS_CHECK")
                   || !strcmp(kw, "BFD_CHECK") || !strcmp(kw, "PING_CHECK")
                   || !strcmp(kw, "FILE_CHECK")) {
            diag_error(st->d, &s->w[0].loc, "%s is not supported (flowlb has "
                       "TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK and "
                       "UDP_CHECK): replace it, e.g. with a MISC_CHECK "
                       "running a script, before importing", kw);
        } else if (!strcmp(kw, "notify_up") || !strcmp(kw, "notify_down")) {
            ka_warn_once(st, &s->w[0], "%s scripts are not supported (watch "
                         "flowlbd's log or 'flowlb/show' instead)", kw);
        } else if (!strcmp(kw, "uthreshold") || !strcmp(kw, "lthreshold")) {
            ka_warn_once(st, &s->w[0], "%s (connection thresholds) is not "
                         "supported and is ignored", kw);
        } else if (!strcmp(kw, "virtualhost")) {
            ka_warn_once(st, &s->w[0], "virtualhost is not supported: "
                         "flowlb's http check sends no specific Host");
        } else {
            diag_warning(st->d, &s->w[0].loc, "unknown keyword '%s' in "
                         "real_server (ignored)", kw);
        }
    }
    real->inhibit = def.has_inhibit && def.inhibit;
    if (real->check.present && real->check.c.type != LB_CHECK_EXEC) {
        /* keepalived probes connect_port, else the real's port. */
        uint16_t p = real->check.has_connect_port ? real->check.connect_port
                     : real->has_port ? real->port : 0;
        real->check.c.port = p;
    }
}

/* Replaces the real's address in a MISC_CHECK command with $FLOWLB_REAL,
 * so that reals checked by "check.sh 10.0.0.11" / "check.sh 10.0.0.12"
 * share one command. Only whole addresses (not 10.0.0.1 in 10.0.0.11). */
static char *
generic_command(const char *cmd, const char *addr)
{
    size_t alen = strlen(addr);
    size_t cap = strlen(cmd) * 2 + 64, n = 0;
    char *out = xrealloc(NULL, cap);
    for (const char *p = cmd; *p;) {
        bool left = p == cmd || !(isalnum((unsigned char) p[-1])
                                  || p[-1] == '.' || p[-1] == ':');
        if (left && !strncmp(p, addr, alen)
            && !(isalnum((unsigned char) p[alen]) || p[alen] == '.'
                 || p[alen] == ':')) {
            if (cap - n < 32) {
                cap *= 2;
                out = xrealloc(out, cap);
            }
            n += sprintf(out + n, "$FLOWLB_REAL");
            p += alen;
            continue;
        }
        if (cap - n < 32) {
            cap *= 2;
            out = xrealloc(out, cap);
        }
        out[n++] = *p++;
    }
    out[n] = '\0';
    return out;
}

static bool
str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

/* What differs between two checks, or NULL. */
static const char *
check_diff(const struct lb_check *a, const struct lb_check *b)
{
    if (a->type != b->type) return "the checker type";
    if (a->interval_ms != b->interval_ms) return "delay_loop";
    if (a->timeout_ms != b->timeout_ms) return "the timeout";
    if (a->fall != b->fall) return "retry";
    if (a->port != b->port) return "the port probed";
    if (!str_eq(a->path, b->path)) return "the url path";
    if (a->expect_status != b->expect_status) return "status_code";
    if (!str_eq(a->expect_body, b->expect_body)) return "regex";
    if (!str_eq(a->command, b->command)) return "misc_path";
    if (!str_eq(a->send, b->send)) return "payload";
    if (!str_eq(a->expect_reply, b->expect_reply)) return "require_reply";
    if (!lb_addr_equal(&a->source, &b->source)) return "bindto";
    return NULL;
}

static void
copy_check(struct lb_check *dst, const struct lb_check *src)
{
    *dst = *src;
    dst->path = src->path ? xstrdup(src->path) : NULL;
    dst->expect_body = src->expect_body ? xstrdup(src->expect_body) : NULL;
    dst->command = src->command ? xstrdup(src->command) : NULL;
    dst->send = src->send ? xstrdup(src->send) : NULL;
    dst->expect_reply = src->expect_reply ? xstrdup(src->expect_reply) : NULL;
}

static void
vs_destroy(struct ka_vs *vs)
{
    for (size_t i = 0; i < vs->n_reals; i++) {
        ka_check_destroy(&vs->reals[i].check);
    }
    free(vs->reals);
    free(vs->sorry.port);
}

/* Reads the body of virtual_server 'n' into 'vs'. */
static void
parse_vs_body(struct ka_state *st, const struct knode *n, struct ka_vs *vs)
{
    memset(vs, 0, sizeof *vs);
    vs->proto = LB_PROTO_TCP;
    vs->scheduler = LB_SCHED_WLC;    /* keepalived / IPVS default. */
    struct ka_defaults def;
    memset(&def, 0, sizeof def);
    bool method_given = false;
    vs->dr = false;                  /* keepalived's default is NAT. */
    /* Defaults first: keepalived applies them whatever their position. */
    for (size_t i = 0; i < n->n_kids; i++) {
        if (strcmp(n->kids[i].w[0].text, "real_server")) {
            common_setting(st, &n->kids[i], &def);
        }
    }
    for (size_t i = 0; i < n->n_kids; i++) {
        const struct knode *s = &n->kids[i];
        const char *kw = s->w[0].text;
        if (!strcmp(kw, "delay_loop") || !strcmp(kw, "connect_timeout")
            || !strcmp(kw, "retry") || !strcmp(kw, "nb_get_retry")
            || !strcmp(kw, "delay_before_retry") || !strcmp(kw, "warmup")
            || !strcmp(kw, "alpha") || !strcmp(kw, "inhibit_on_failure")
            || !strcmp(kw, "smtp_alert") || !strcmp(kw, "snmp_name")
            || !strcmp(kw, "log_all_failures")) {
            continue;           /* Read above. */
        }
        if (!strcmp(kw, "lb_algo") || !strcmp(kw, "lvs_sched")) {
            const struct kword *w = arg(st, s, 1, "a scheduler");
            if (w && no_extra(st, s, 2)) {
                vs->scheduler_loc = w->loc;
                if (!import_scheduler(w->text, &vs->scheduler)) {
                    diag_error(st->d, &w->loc,
                               "unknown scheduler '%s' (flowlb "
                               "has: %s)", w->text, import_scheduler_list);
                }
            }
        } else if (!strcmp(kw, "lb_kind") || !strcmp(kw, "lvs_method")) {
            vs->dr = check_method(st, s, "the virtual server");
            method_given = true;
        } else if (!strcmp(kw, "protocol")) {
            const struct kword *w = arg(st, s, 1, "TCP or UDP");
            if (!w || !no_extra(st, s, 2)) {
                continue;
            }
            if (!strcasecmp(w->text, "TCP")) {
                vs->proto = LB_PROTO_TCP;
            } else if (!strcasecmp(w->text, "UDP")) {
                vs->proto = LB_PROTO_UDP;
            } else if (!strcasecmp(w->text, "SCTP")) {
                diag_error(st->d, &w->loc, "SCTP is not supported (flowlb "
                           "balances TCP and UDP)");
            } else {
                diag_error(st->d, &w->loc, "unknown protocol '%s' (expected "
                           "TCP or UDP)", w->text);
            }
        } else if (!strcmp(kw, "persistence_timeout")) {
            uint32_t v = 360;   /* keepalived's default: 6 minutes. */
            if (s->n > 1 && !get_uint(st, s, 0, 65535, &v)) {
                continue;
            }
            vs->persistence_s = v;
            vs->persistence_loc = s->w[0].loc;
        } else if (!strcmp(kw, "persistence_granularity")) {
            vs->granularity = arg(st, s, 1, "a netmask");
        } else if (!strcmp(kw, "persistence_engine")) {
            diag_error(st->d, &s->w[0].loc,
                       "persistence_engine is not supported");
        } else if (!strcmp(kw, "quorum") || !strcmp(kw, "hysteresis")) {
            uint32_t v;
            if (get_uint(st, s, 0, UINT32_MAX, &v)) {
                if (kw[0] == 'q') {
                    vs->quorum = v;
                    vs->has_quorum = true;
                    vs->quorum_loc = s->w[0].loc;
                } else {
                    vs->hysteresis = v;
                    vs->has_hysteresis = true;
                    vs->hysteresis_loc = s->w[0].loc;
                }
            }
        } else if (!strcmp(kw, "quorum_up") || !strcmp(kw, "quorum_down")) {
            ka_warn_once(st, &s->w[0], "%s scripts are not supported (flowlb "
                         "withdraws the VIP itself below quorum)", kw);
        } else if (!strcmp(kw, "sorry_server")) {
            const struct kword *a = arg(st, s, 1, "an address");
            if (!a) {
                continue;
            }
            vs->has_sorry = true;
            vs->sorry.loc = s->w[0].loc;
            vs->sorry.addr_loc = a->loc;
            vs->sorry.weight = 1;
            const char *err = lb_parse_addr(a->text, &vs->sorry.addr);
            if (err) {
                diag_error(st->d, &a->loc,
                           "%s '%s' of sorry_server", err, a->text);
                vs->has_sorry = false;
            }
        } else if (!strcmp(kw, "sorry_server_lvs_method")) {
            check_method(st, s, "the sorry server");
        } else if (!strcmp(kw, "sorry_server_inhibit")) {
            ka_warn_once(st, &s->w[0], "sorry_server_inhibit is ignored");
        } else if (!strcmp(kw, "virtualhost")) {
            ka_warn_once(st, &s->w[0], "virtualhost is not supported: "
                         "flowlb's http check sends no specific Host");
        } else if (!strcmp(kw, "ops")) {
            ka_warn_once(st, &s->w[0], "ops (one-packet scheduling) is not "
                         "supported: a UDP flow stays on its real for its "
                         "conntrack lifetime");
        } else if (!strcmp(kw, "ha_suspend") || !strcmp(kw, "omega")
                   || !strcmp(kw, "ip_family") || !strcmp(kw, "net_mask")) {
            /* Nothing flowlb needs. */
        } else if (!strncmp(kw, "flag-", 5) || !strcmp(kw, "sh-port")
                   || !strcmp(kw, "sh-fallback") || !strcmp(kw, "mh-port")
                   || !strcmp(kw, "mh-fallback") || !strcmp(kw, "lb_flags")
                   || !strcmp(kw, "lvs_flags")) {
            ka_warn_once(st, &s->w[0], "scheduler flag %s is not supported "
                         "and is ignored", kw);
        } else if (!strcmp(kw, "real_server")) {
            /* Below, once the method is known. */
        } else {
            diag_warning(st->d, &s->w[0].loc, "unknown keyword '%s' in "
                         "virtual_server (ignored)", kw);
        }
    }
    if (!method_given) {
        diag_error(st->d, &n->w[0].loc,
                   "no lvs_method (lb_kind): keepalived's "
                   "default is NAT, and flowlb does direct routing only; add "
                   "'lb_kind DR' if the reals are set up for direct routing "
                   "(they hold the VIP and answer clients directly)");
        /* Go on as DR to report the rest. */
        vs->dr = true;
    }
    for (size_t i = 0; i < n->n_kids; i++) {
        const struct knode *s = &n->kids[i];
        if (strcmp(s->w[0].text, "real_server")) {
            continue;
        }
        vs->reals = xrealloc(vs->reals, (vs->n_reals + 1) * sizeof *vs->reals);
        parse_real(st, s, &def, &vs->reals[vs->n_reals++], vs->dr);
    }
}

/* Makes one flowlb service of 'vs' on 'e'. */
static void
instantiate(struct ka_state *st, const struct ka_vs *vs,
            const struct ka_entry *e, const char *prefix)
{
    struct lb_service *svc = lb_spec_add_service(st->spec);
    char vip[64];
    lb_addr_format(&e->vip, vip, sizeof vip);
    svc->loc = e->loc;
    svc->has_vip = true;
    svc->vip = e->vip;
    svc->vip_loc = e->loc;
    if (e->mark) {
        /* What --fwmark says the mark selects; its protocol wins. */
        if (asprintf(&svc->name, "%s%sfwmark-%u", prefix ? prefix : "",
                     prefix ? "-" : "", (unsigned) e->mark) < 0) {
            abort();
        }
        svc->proto = e->proto;
        svc->port = e->port;
        svc->port_max = e->port_max;
        svc->vip_prefix_len = e->prefix_len;
    } else {
        svc->name = import_service_name(prefix, vs->proto, &e->vip, e->port);
        svc->proto = vs->proto;
        svc->port = e->port;
        svc->port_max = e->port;
    }
    svc->scheduler = vs->scheduler;
    svc->scheduler_loc = vs->scheduler_loc;
    import_set_vip_mac(st->opts, svc);
    svc->persistence_s = vs->persistence_s;
    svc->persistence_loc = vs->persistence_loc;
    if (vs->granularity && vs->persistence_s) {
        svc->persistence_prefix_loc = vs->granularity->loc;
        const char *err = import_netmask(vs->granularity->text,
                                         e->vip.family,
                                         &svc->persistence_prefix_len);
        if (err) {
            diag_error(st->d, &vs->granularity->loc, "%s: '%s'", err,
                       vs->granularity->text);
        }
    }
    if (!e->mark && !e->port && !vs->persistence_s) {
        diag_warning(st->d, &e->loc, "virtual server without a port and "
                     "without persistence_timeout (keepalived refuses "
                     "this); imported as a service on every %s port",
                     lb_proto_name(vs->proto));
    }

    /* Reals, and the one check they must share. */
    const struct ka_real *ref = NULL;
    size_t n_inhibit = 0;
    for (size_t i = 0; i < vs->n_reals; i++) {
        const struct ka_real *kr = &vs->reals[i];
        if (!kr->r.addr.family) {
            continue;           /* Reported. */
        }
        char a[64];
        lb_addr_format(&kr->r.addr, a, sizeof a);
        if (kr->r.addr.family != e->vip.family) {
            diag_error(st->d, &kr->r.addr_loc,
                       "real %s is not of the VIP %s's "
                       "address family (direct routing keeps the packet as "
                       "it is)", a, vip);
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < svc->n_reals && !dup; j++) {
            if (lb_addr_equal(&svc->reals[j].addr, &kr->r.addr)) {
                diag_error(st->d, &kr->r.addr_loc,
                           "real %s listed twice in the "
                           "virtual server (first at line %d)", a,
                           svc->reals[j].loc.line);
                dup = true;
            }
        }
        if (dup) {
            continue;
        }
        struct lb_real *r = lb_service_add_real(svc);
        *r = kr->r;
        r->port = NULL;
        if (kr->has_port && e->port && kr->port != e->port && !e->mark) {
            diag_warning(st->d, &kr->r.addr_loc, "real %s has port %u but "
                         "the virtual server port is %u: direct routing "
                         "cannot change the port (IPVS ignores it too)", a,
                         (unsigned) kr->port, (unsigned) e->port);
        }
        import_set_mac(st->opts, r, &kr->r.addr_loc, st->d);
        n_inhibit += kr->inhibit;

        if (!kr->check.present) {
            continue;
        }
        struct lb_check c;
        copy_check(&c, &kr->check.c);
        if (c.port == e->port) {
            c.port = 0;
        }
        if (kr->check.raw_command) {
            c.command = generic_command(kr->check.raw_command, a);
        }
        if (!ref) {
            ref = kr;
            svc->check = c;
            continue;
        }
        const char *diff = check_diff(&svc->check, &c);
        if (diff) {
            char ra[64];
            lb_addr_format(&ref->r.addr, ra, sizeof ra);
            diag_error(st->d, &kr->check.loc,
                       "the checker of real %s differs from "
                       "that of real %s (line %d) in %s: flowlb runs one "
                       "check per service, make them the same", a, ra,
                       ref->check.loc.line, diff);
        }
        free(c.path);
        free(c.expect_body);
        free(c.command);
        free(c.send);
        free(c.expect_reply);
    }
    if (ref) {
        for (size_t i = 0; i < vs->n_reals; i++) {
            const struct ka_real *kr = &vs->reals[i];
            if (kr->r.addr.family && !kr->check.present) {
                char a[64];
                lb_addr_format(&kr->r.addr, a, sizeof a);
                diag_warning(st->d, &kr->r.loc, "real %s has no checker but "
                             "others do: flowlb checks every real of the "
                             "service with the same check", a);
            }
        }
    }
    if (n_inhibit && n_inhibit == svc->n_reals) {
        svc->inhibit_on_failure = true;
        svc->inhibit_loc = e->loc;
    } else if (n_inhibit) {
        diag_warning(st->d, &e->loc, "only some reals have "
                     "inhibit_on_failure: flowlb applies it per service, so "
                     "it is left off");
    }

    if (vs->has_sorry) {
        svc->has_sorry = true;
        svc->sorry = vs->sorry;
        svc->sorry.port = NULL;
        if (svc->sorry.addr.family != e->vip.family) {
            diag_error(st->d, &svc->sorry.addr_loc,
                       "sorry_server is not of the "
                       "VIP's address family");
        }
        import_set_mac(st->opts, &svc->sorry, &svc->sorry.addr_loc, st->d);
    }

    /* keepalived's quorum and hysteresis count weight; flowlb's count
     * reals. Exact when the weights are equal. */
    if (vs->has_quorum || vs->has_hysteresis) {
        uint32_t wmin = UINT32_MAX, wmax = 0;
        for (size_t i = 0; i < svc->n_reals; i++) {
            uint32_t w = svc->reals[i].weight;
            if (w) {
                wmin = w < wmin ? w : wmin;
                wmax = w > wmax ? w : wmax;
            }
        }
        if (!wmax) {
            wmin = wmax = 1;
        }
        uint32_t q = vs->has_quorum ? vs->quorum : 1;
        svc->quorum_loc = vs->has_quorum ? vs->quorum_loc
                                         : vs->hysteresis_loc;
        svc->hysteresis_loc = vs->hysteresis_loc;
        svc->quorum = (q + wmax - 1) / wmax;
        svc->quorum_hysteresis = vs->hysteresis / wmax;
        if (wmin != wmax) {
            diag_warning(st->d, &vs->quorum_loc, "keepalived's quorum counts "
                         "weight, flowlb's counts reals: with unequal "
                         "weights, quorum %u is taken as %u real(s) (at the "
                         "largest weight, %u)", q, svc->quorum, wmax);
        }
    }
}

/* The addresses of a virtual_server_group entry "IP[-LAST] [PORT]". */
static void
group_entries(struct ka_state *st, const struct knode *n,
              struct ka_entry **entries, size_t *n_entries)
{
    const struct kword *w = &n->w[0];
    if (!strcmp(w->text, "fwmark")) {
        struct ka_entry e;
        if (fwmark_entry(st, w, n->n > 1 ? &n->w[1] : NULL, &e)) {
            *entries = xrealloc(*entries, (*n_entries + 1) * sizeof **entries);
            (*entries)[(*n_entries)++] = e;
        }
        return;
    }
    uint16_t port = 0;
    if (n->n > 1 && parse_port_word(n->w[1].text, &port)) {
        diag_error(st->d, &n->w[1].loc, "invalid port '%s' in "
                   "virtual_server_group", n->w[1].text);
        return;
    }
    if (n->n > 2) {
        diag_error(st->d, &n->w[2].loc,
                   "unexpected '%s' in virtual_server_group "
                   "entry", n->w[2].text);
        return;
    }
    /* Ranges: a.b.c.d-e, a.b.c.d-a.b.c.e, or a prefix a.b.c.d/nn. */
    char first[64];
    const char *sep = strpbrk(w->text, "-/");
    snprintf(first, sizeof first, "%.*s",
             sep ? (int) (sep - w->text) : (int) strlen(w->text), w->text);
    struct lb_addr a;
    if (lb_parse_addr(first, &a)) {
        diag_error(st->d, &w->loc,
                   "invalid address '%s' in virtual_server_group",
                   w->text);
        return;
    }
    uint64_t count = 1;
    if (sep && a.family == AF_INET) {
        uint32_t base = ntohl(a.v4.s_addr), last;
        if (*sep == '/') {
            uint32_t len;
            if (lb_parse_uint(sep + 1, 0, 32, &len)) {
                diag_error(st->d, &w->loc, "invalid prefix in '%s'", w->text);
                return;
            }
            count = 1ull << (32 - len);
            base &= len ? ~0u << (32 - len) : 0;
        } else {
            struct lb_addr b;
            uint32_t v;
            if (!lb_parse_addr(sep + 1, &b) && b.family == AF_INET) {
                last = ntohl(b.v4.s_addr);
            } else if (!lb_parse_uint(sep + 1, 0, 255, &v)) {
                last = (base & ~0xffu) | v;
            } else {
                diag_error(st->d, &w->loc,
                           "invalid address range '%s'", w->text);
                return;
            }
            if (last < base) {
                diag_error(st->d, &w->loc,
                           "reversed address range '%s'", w->text);
                return;
            }
            count = (uint64_t) last - base + 1;
        }
        if (count > 256) {
            diag_error(st->d, &w->loc, "range '%s' has %llu addresses: flowlb "
                       "makes one service per address and takes at most 256 "
                       "from one range", w->text, (unsigned long long) count);
            return;
        }
        for (uint64_t i = 0; i < count; i++) {
            *entries = xrealloc(*entries, (*n_entries + 1) * sizeof **entries);
            struct ka_entry *e = &(*entries)[(*n_entries)++];
            memset(e, 0, sizeof *e);
            e->vip = a;
            e->vip.v4.s_addr = htonl(base + (uint32_t) i);
            e->port = port;
            e->loc = w->loc;
        }
        return;
    }
    if (sep) {
        diag_error(st->d, &w->loc, "IPv6 address ranges are not supported in "
                   "virtual_server_group ('%s'): list the addresses", w->text);
        return;
    }
    *entries = xrealloc(*entries, (*n_entries + 1) * sizeof **entries);
    struct ka_entry *e = &(*entries)[(*n_entries)++];
    memset(e, 0, sizeof *e);
    e->vip = a;
    e->port = port;
    e->loc = w->loc;
}

static const struct knode *
find_group(const struct knode *top, const char *name)
{
    for (size_t i = 0; i < top->n_kids; i++) {
        const struct knode *n = &top->kids[i];
        if (!strcmp(n->w[0].text, "virtual_server_group") && n->n > 1
            && !strcmp(n->w[1].text, name)) {
            return n;
        }
    }
    return NULL;
}

static void
virtual_server(struct ka_state *st, const struct knode *top,
               const struct knode *n)
{
    const struct kword *a = arg(st, n, 1, "an address, 'fwmark N' or "
                                "'group NAME'");
    if (!a) {
        return;
    }
    if (!n->block) {
        diag_error(st->d, &n->w[0].loc, "virtual_server without a '{' block");
        return;
    }
    struct ka_entry *entries = NULL;
    size_t n_entries = 0;
    const char *prefix = NULL;
    if (!strcmp(a->text, "fwmark")) {
        struct ka_entry e;
        if (!fwmark_entry(st, a, n->n > 2 ? &n->w[2] : NULL, &e)) {
            return;
        }
        entries = xrealloc(NULL, sizeof *entries);
        entries[n_entries++] = e;    } else if (!strcmp(a->text, "group")) {
        const struct kword *g = arg(st, n, 2, "a group name");
        if (!g) {
            return;
        }
        const struct knode *grp = find_group(top, g->text);
        if (!grp) {
            diag_error(st->d, &g->loc,
                       "no virtual_server_group '%s'", g->text);
            return;
        }
        prefix = g->text;
        for (size_t i = 0; i < grp->n_kids; i++) {
            group_entries(st, &grp->kids[i], &entries, &n_entries);
        }
        if (!grp->n_kids) {
            diag_warning(st->d, &grp->w[0].loc, "virtual_server_group '%s' "
                         "is empty", g->text);
        }
    } else {
        struct ka_entry e;
        memset(&e, 0, sizeof e);
        e.loc = a->loc;
        const char *err = lb_parse_addr(a->text, &e.vip);
        if (err) {
            diag_error(st->d, &a->loc,
                       "%s '%s' of virtual_server", err, a->text);
            return;
        }
        if (n->n > 2 && parse_port_word(n->w[2].text, &e.port)) {
            diag_error(st->d, &n->w[2].loc,
                       "invalid port '%s' of virtual_server",
                       n->w[2].text);
            return;
        }
        entries = xrealloc(NULL, sizeof *entries);
        entries[n_entries++] = e;
    }

    struct ka_vs vs;
    parse_vs_body(st, n, &vs);
    for (size_t i = 0; i < n_entries; i++) {
        instantiate(st, &vs, &entries[i], prefix);
    }
    vs_destroy(&vs);
    free(entries);
}

/* Top-level keywords that start something flowlb does not import. */
static bool
is_skipped_top(const char *kw)
{
    static const char *const skipped[] = {
        "global_defs", "vrrp_instance", "vrrp_sync_group", "vrrp_script",
        "vrrp_track_process", "vrrp_track_file", "track_file",
        "static_ipaddress", "static_routes", "static_rules",
        "static_track_group", "linkbeat_interfaces", "bfd_instance", "SSL",
        "garp_group", "net_namespace", "net_namespace_ipvs", "instance",
        "use_pid_dir", "linkbeat_use_polling", "child_wait_time",
        "virtual_server_group", NULL
    };
    for (size_t i = 0; skipped[i]; i++) {
        if (!strcmp(kw, skipped[i])) {
            return true;
        }
    }
    return false;
}

bool
import_keepalived(const char *path, const struct import_options *opts,
                  struct lb_spec *spec, struct diag *d)
{
    struct ka_state st;
    memset(&st, 0, sizeof st);
    st.d = d;
    st.errors_before = d->n_errors;
    st.opts = opts;
    st.spec = spec;
    st.first = spec->n_services;

    struct knode top;
    memset(&top, 0, sizeof top);
    parse_file(&st, path, NULL, &top);
    if (st.d->n_errors == st.errors_before) {
        for (size_t i = 0; i < top.n_kids; i++) {
            const struct knode *n = &top.kids[i];
            const char *kw = n->w[0].text;
            if (kw[0] == '@' || kw[0] == '$' || kw[0] == '~') {
                diag_error(st.d, &n->w[0].loc, "keepalived conditional "
                           "configuration, parameters and sequences ('%s') "
                           "are not supported: expand them first", kw);
            } else if (!strcmp(kw, "virtual_server")) {
                virtual_server(&st, &top, n);
            } else if (!strcmp(kw, "virtual_server_group")) {
                if (n->n < 2) {
                    diag_error(st.d, &n->w[0].loc,
                               "virtual_server_group needs "
                               "a name");
                } else if (find_group(&top, n->w[1].text) != n) {
                    diag_error(st.d, &n->w[1].loc, "virtual_server_group '%s' "
                               "defined twice", n->w[1].text);
                }
            } else if (!is_skipped_top(kw)) {
                diag_warning(d, &n->w[0].loc, "unknown top-level keyword "
                             "'%s' (ignored)", kw);
            }
        }
        if (st.d->n_errors == st.errors_before
            && spec->n_services == st.first) {
            struct location loc = { diag_intern_file(d, path), 0, 0 };
            diag_error(st.d, &loc, "no virtual_server found");
        }
    }
    /* The defaults that depend on the VIP, as the front ends set them. */
    for (size_t i = st.first; i < spec->n_services; i++) {
        lb_service_complete(&spec->services[i]);
    }
    import_unique_names(spec, st.first);
    knode_free(&top);
    for (size_t i = 0; i < st.n_warned; i++) {
        free(st.warned[i]);
    }
    free(st.warned);
    return st.d->n_errors == st.errors_before;
}
