/* Grammar of the flowlb DSL.
 *
 *     file      := service*
 *     service   := 'service' NAME '{' statement* '}'
 *     statement := KEYWORD argument* ';'
 *
 * The grammar owns the structure; dsl_parse.c owns what each statement's
 * arguments mean (so "unknown keyword 'wieght' in real" and value errors
 * are reported there, with their own locations).
 *
 * Error recovery: a missing ';' before the next statement or '}' is
 * reported and the statement kept (no resynchronisation needed); any other
 * syntax error skips to the next ';' or '}' inside a service, or to the
 * next 'service' at top level, so one run reports many errors. A parse
 * that reported anything never hands out a spec (see dsl_parse.c).
 */
%define api.pure full
%define api.prefix {lb_yy}
%define parse.error custom
%define parse.lac full
/* Only reduce on lookaheads that are really acceptable, so that error
 * recovery after 'service NAME { ... error' discards tokens up to a
 * synchronising one instead of reducing early and losing the service. */
%define lr.default-reduction consistent
%locations
%parse-param {void *scanner} {struct dsl_state *st}
%lex-param {void *scanner}

%code requires {
#include "dsl_internal.h"
}

%code {
#include <stdlib.h>
#include <string.h>

int lb_yylex(LB_YYSTYPE *, LB_YYLTYPE *, void *scanner);
/* The text of the lookahead, still valid when a syntax error is reported
 * (Bison reads one token ahead, never more). */
char *lb_yyget_text(void *scanner);

/* Only used by Bison for "memory exhausted" (syntax errors go through
 * yyreport_syntax_error below). */
static void
lb_yyerror(const LB_YYLTYPE *l, void *scanner, struct dsl_state *st,
           const char *msg)
{
    dsl_error(st, l->first_line, l->first_column, "%s", msg);
}

/* Where a grammar symbol starts / ends (just past its last character). */
static struct location
start_of(const struct dsl_state *st, const LB_YYLTYPE *l)
{
    return dsl_loc(st, l->first_line, l->first_column);
}

static struct location
end_of(const struct dsl_state *st, const LB_YYLTYPE *l)
{
    return dsl_loc(st, l->last_line, l->last_column);
}

static struct dsl_word
keyword_word(const char *s)
{
    struct dsl_word w = { strdup(s), false };
    if (!w.text) {
        abort();
    }
    return w;
}
}

%union {
    struct dsl_word word;
    struct dsl_args args;
    enum dsl_keyword kw;
    bool flag;
}

%token <word> WORD "word" STRING "string"
%token K_SERVICE "service" K_VIP "vip" K_VIP_MAC "vip-mac"
%token K_SCHEDULER "scheduler" K_REAL "real" K_CHECK "check"
%token K_PERSISTENCE "persistence" K_STICKINESS "stickiness"
%token K_UDP_TIMEOUT "udp-timeout" K_SORRY "sorry" K_QUORUM "quorum"
%token K_INHIBIT "inhibit-on-failure" K_EXPIRE_NODEST "expire-nodest-conn"
%nterm <word> name
%nterm <args> args
%nterm <kw> keyword
%nterm <flag> terminator

%destructor { free($$.text); } <word>
%destructor { dsl_args_free(&$$); } <args>

%%

file
    : %empty
    | file item
    ;

item
    : service
    | error
    ;

service
    : head statements '}'               { dsl_service_end(st); }
    | head statements error '}'         { dsl_service_end(st); }
    | head statements error             { dsl_service_end(st); }
    ;

head
    : K_SERVICE name '{'
        {
            struct location loc = start_of(st, &@2);
            dsl_service_begin(st, &$2, &loc);
        }
    ;

/* A service may be named like a keyword ("service check { ... }"). */
name
    : WORD
    | STRING
    | K_SERVICE                         { $$ = keyword_word("service"); }
    | K_VIP                             { $$ = keyword_word("vip"); }
    | K_VIP_MAC                         { $$ = keyword_word("vip-mac"); }
    | K_SCHEDULER                       { $$ = keyword_word("scheduler"); }
    | K_REAL                            { $$ = keyword_word("real"); }
    | K_CHECK                           { $$ = keyword_word("check"); }
    | K_PERSISTENCE                     { $$ = keyword_word("persistence"); }
    | K_STICKINESS                      { $$ = keyword_word("stickiness"); }
    | K_UDP_TIMEOUT                     { $$ = keyword_word("udp-timeout"); }
    | K_SORRY                           { $$ = keyword_word("sorry"); }
    | K_QUORUM                          { $$ = keyword_word("quorum"); }
    | K_INHIBIT                { $$ = keyword_word("inhibit-on-failure"); }
    | K_EXPIRE_NODEST          { $$ = keyword_word("expire-nodest-conn"); }
    ;

statements
    : %empty
    | statements statement
    ;

statement
    : keyword args terminator
        {
            struct location kw = start_of(st, &@1);
            struct location term = start_of(st, &@3);
            dsl_statement(st, $1, &kw, &$2, $3, &term);
        }
    | error ';'
    ;

keyword
    : K_VIP                             { $$ = DSL_VIP; }
    | K_VIP_MAC                         { $$ = DSL_VIP_MAC; }
    | K_SCHEDULER                       { $$ = DSL_SCHEDULER; }
    | K_REAL                            { $$ = DSL_REAL; }
    | K_CHECK                           { $$ = DSL_CHECK; }
    | K_PERSISTENCE                     { $$ = DSL_PERSISTENCE; }
    | K_STICKINESS                      { $$ = DSL_STICKINESS; }
    | K_UDP_TIMEOUT                     { $$ = DSL_UDP_TIMEOUT; }
    | K_SORRY                           { $$ = DSL_SORRY; }
    | K_QUORUM                          { $$ = DSL_QUORUM; }
    | K_INHIBIT                         { $$ = DSL_INHIBIT; }
    | K_EXPIRE_NODEST                   { $$ = DSL_EXPIRE_NODEST; }
    ;

args
    : %empty                            { memset(&$$, 0, sizeof $$); }
    | args WORD
        {
            struct location loc = start_of(st, &@2), end = end_of(st, &@2);
            $$ = $1;
            dsl_args_push(&$$, &$2, &loc, &end);
        }
    | args STRING
        {
            struct location loc = start_of(st, &@2), end = end_of(st, &@2);
            $$ = $1;
            dsl_args_push(&$$, &$2, &loc, &end);
        }
    ;

/* A missing ';' is reported by dsl_statement() at the end of the
 * statement (the empty rule's location), and parsing simply goes on. */
terminator
    : ';'                               { $$ = true; }
    | %empty                            { $$ = false; }
    ;

%%

static bool
expects(const yysymbol_kind_t *expected, int n, yysymbol_kind_t kind)
{
    for (int i = 0; i < n; i++) {
        if (expected[i] == kind) {
            return true;
        }
    }
    return false;
}

/* A token as the user should read it in a message. */
static const char *
display(const struct dsl_state *st, yysymbol_kind_t kind, char *buf,
        size_t size)
{
    switch (kind) {
    case YYSYMBOL_YYEOF:
        return "end of file";
    case YYSYMBOL_WORD:
        return "a word";
    case YYSYMBOL_STRING:
        return "a string";
    default: {
        /* Bison names characters '{' and keywords vip (unquoted). */
        const char *name = yysymbol_name(kind);
        if (name[0] == '\'') {
            return name;
        }
        snprintf(buf, size, "'%s'", name);
        return buf;
    }
    }
}

static int
yyreport_syntax_error(const yypcontext_t *ctx, void *scanner,
                      struct dsl_state *st)
{
    enum { MAX_EXPECTED = 32 };
    yysymbol_kind_t expected[MAX_EXPECTED];
    int n = yypcontext_expected_tokens(ctx, expected, MAX_EXPECTED);
    if (n < 0) {
        n = 0;
    }
    yysymbol_kind_t la = yypcontext_token(ctx);
    const LB_YYLTYPE *l = yypcontext_location(ctx);
    struct location loc = start_of(st, l);
    const char *svc = dsl_service_name(st);
    char buf[64];
    const char *text = la == YYSYMBOL_WORD || la == YYSYMBOL_STRING
                       ? lb_yyget_text(scanner) : "";
    char quoted[64], got_buf[80];
    const char *got = display(st, la, buf, sizeof buf);
    if (la == YYSYMBOL_WORD) {
        snprintf(got_buf, sizeof got_buf, "'%s'",
                 dsl_quote(text, quoted, sizeof quoted));
        got = got_buf;
    } else if (la == YYSYMBOL_STRING) {
        snprintf(got_buf, sizeof got_buf, "string %s",
                 dsl_quote(text, quoted, sizeof quoted));
        got = got_buf;
    }

    if (la == YYSYMBOL_WORD && expects(expected, n, YYSYMBOL_K_VIP)) {
        /* Where a statement starts. */
        const char *hint = diag_closest(text, dsl_statement_keywords);
        if (hint) {
            dsl_error_at(st, &loc, "unknown keyword %s in service '%s' "
                         "(did you mean '%s'?)", got, svc, hint);
        } else {
            dsl_error_at(st, &loc, "unknown keyword %s in service '%s' "
                         "(expected vip, vip-mac, scheduler, real, check, "
                         "persistence, stickiness, udp-timeout, sorry, "
                         "quorum, inhibit-on-failure or expire-nodest-conn)",
                         got, svc);
        }
    } else if (la == YYSYMBOL_WORD && !expects(expected, n, YYSYMBOL_WORD)
               && expects(expected, n, YYSYMBOL_K_SERVICE)) {
        /* Top level. */
        static const char *const top[] = { "service", NULL };
        if (diag_closest(text, top)) {
            dsl_error_at(st, &loc, "unknown keyword %s (did you mean "
                         "'service'?)", got);
        } else {
            dsl_error_at(st, &loc, "unexpected %s, expected 'service'", got);
        }
    } else if (la == YYSYMBOL_K_SERVICE && svc) {
        dsl_error_at(st, &loc, "missing '}' at the end of service '%s'", svc);
    } else if (la == YYSYMBOL_YYEOF && svc) {
        dsl_error_at(st, &loc, "unexpected end of file in service '%s' "
                     "(missing '}')", svc);
    } else if (expects(expected, n, YYSYMBOL_WORD)
               && expects(expected, n, YYSYMBOL_K_SERVICE)) {
        dsl_error_at(st, &loc, "expected a service name, found %s", got);
    } else if (n > 0 && n <= 5) {
        char list[256] = "";
        size_t used = 0;
        for (int i = 0; i < n; i++) {
            char b[64];
            used += snprintf(list + used, sizeof list - used, "%s%s",
                             i == 0 ? "" : i == n - 1 ? " or " : ", ",
                             display(st, expected[i], b, sizeof b));
            if (used >= sizeof list) {
                break;
            }
        }
        dsl_error_at(st, &loc, "unexpected %s, expected %s", got, list);
    } else if (svc) {
        dsl_error_at(st, &loc, "unexpected %s in service '%s'", got, svc);
    } else {
        dsl_error_at(st, &loc, "unexpected %s", got);
    }
    return 0;
}
