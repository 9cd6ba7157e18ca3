/* Private interface between the DSL grammar (scanner.l, parser.y) and its
 * semantic side (dsl_parse.c).
 *
 * The grammar only recognises structure: services, statements made of a
 * keyword, arguments and ';'. What the arguments mean is decided in
 * dsl_parse.c, which turns each statement into spec fields. All reports go
 * through dsl_error() so the generated code never calls into other files of
 * the compiler directly (it is linked as its own library).
 */
#ifndef FLOWLB_DSL_INTERNAL_H
#define FLOWLB_DSL_INTERNAL_H 1

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include "diag.h"
#include "spec.h"

/* A word or a quoted string as the scanner returns it. 'text' is owned. */
struct dsl_word {
    char *text;
    bool quoted;
};

/* One statement argument with where it starts and where it ends (the
 * column just past its last character). */
struct dsl_arg {
    char *text;                 /* Owned. */
    bool quoted;
    struct location loc, end;
};

struct dsl_args {
    struct dsl_arg *v;
    size_t n, allocated;
};

enum dsl_keyword {
    DSL_VIP, DSL_VIP_MAC, DSL_SCHEDULER, DSL_REAL, DSL_CHECK,
    DSL_PERSISTENCE, DSL_STICKINESS, DSL_UDP_TIMEOUT, DSL_SORRY,
    DSL_QUORUM, DSL_INHIBIT, DSL_EXPIRE_NODEST,
    DSL_N_KEYWORDS
};

struct dsl_state {
    struct diag *d;
    const char *file;           /* Interned in 'd'. */
    struct lb_spec spec;        /* Built here, handed over only if clean. */
    size_t n_errors;            /* Errors reported by this parse. */

    /* The service being filled, or -1 between services. */
    long svc;
    /* Per service: where each single-use statement was first seen. */
    struct location seen[DSL_N_KEYWORDS];

    /* An unterminated string swallowed the rest of its line, and with it
     * probably the statement's ';': don't report that twice. */
    bool unterminated;

    /* Scanner position (1-based) of the next character. */
    int line, col;
};

struct location dsl_loc(const struct dsl_state *, int line, int col);
void dsl_error(struct dsl_state *, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void dsl_error_at(struct dsl_state *, const struct location *,
                  const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Returns the offset of the first byte of s[0..n) that is not part of
 * valid UTF-8 (a NUL counts as invalid), or n if all is well. */
size_t dsl_utf8_check(const char *s, size_t n);
/* Columns taken by s[0..n): one per character, tabs included. */
int dsl_columns(const char *s, size_t n);
/* Quotes at most a few dozen bytes of 's' into 'buf' for a message,
 * escaping what is not printable. */
const char *dsl_quote(const char *s, char *buf, size_t size);

/* Grammar actions. Each takes ownership of the words / args it is given. */
void dsl_service_begin(struct dsl_state *, struct dsl_word *name,
                       const struct location *);
void dsl_service_end(struct dsl_state *);
void dsl_statement(struct dsl_state *, enum dsl_keyword,
                   const struct location *kw, struct dsl_args *,
                   bool terminated, const struct location *term);
const char *dsl_service_name(const struct dsl_state *);
const char *dsl_keyword_name(enum dsl_keyword);
extern const char *const dsl_statement_keywords[];

void dsl_args_push(struct dsl_args *, struct dsl_word *,
                   const struct location *loc, const struct location *end);
void dsl_args_free(struct dsl_args *);

/* The parse itself, in scanner.l: scans 'text' and runs the parser.
 * Returns false if the input could not be scanned at all. */
bool dsl_run(struct dsl_state *, const char *text, size_t len);

/* A text this large is parsed in two halves at once, on two CPUs: at
 * 10,000 services x 32 reals, parsing is a third of compiling. */
#define DSL_PARALLEL_MIN (1u << 20)

/* The offset of the first line at or after 'want' that starts a service at
 * the top level of 'text', with its line number in '*line'; 0 if there is
 * none or the text before it is not clean enough to tell (dsl_split.c). */
size_t dsl_split_point(const char *text, size_t len, size_t want, int *line);

/* Calls 'at' with the offset and line of each line of 'text' that starts
 * a service at the top level, in order, until it returns false. Returns
 * true if it stopped there or scanned all of 'text' cleanly (braces
 * balanced), false if it met something it cannot judge (dsl_split.c). */
bool dsl_scan_service_starts(const char *text, size_t len,
                             bool (*at)(void *aux, size_t offset, int line),
                             void *aux);

/* Sets up 'st' for a parse of text that starts at 'line' of 'file'
 * (interned in 'd'), reporting into 'd' (dsl_parse.c). */
void dsl_state_init(struct dsl_state *st, struct diag *d, const char *file,
                    int line);

/* Steps '*text' past a UTF-8 byte order mark, which is not part of the
 * text: every reader of a DSL text counts its offsets after it. */
static inline void
dsl_skip_bom(const char **text, size_t *len)
{
    if (*len >= 3 && !memcmp(*text, "\xef\xbb\xbf", 3)) {
        *text += 3;
        *len -= 3;
    }
}

#endif /* FLOWLB_DSL_INTERNAL_H */
