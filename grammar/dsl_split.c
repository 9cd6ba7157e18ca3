/* Where a DSL text can be cut: at the start of a line that begins a
 * service at the top level. The scan follows the scanner's rules for what
 * hides a brace (comments to the end of the line, strings with backslash
 * escapes that never span lines); anything it is unsure about means "no
 * cut". Its users parse the whole text again in one piece whenever a piece
 * reports anything (dsl_parse.c, dsl_reuse.c), so a cut can only save
 * time, never change a diagnostic. */
#include "dsl_internal.h"

#include <string.h>

static bool
starts_service(const char *p, const char *end)
{
    static const char kw[] = "service";
    size_t n = sizeof kw - 1;
    return (size_t) (end - p) > n && !memcmp(p, kw, n)
           && (p[n] == ' ' || p[n] == '\t');
}

bool
dsl_scan_service_starts(const char *text, size_t len,
                        bool (*at)(void *aux, size_t offset, int line),
                        void *aux)
{
    const char *end = text + len;
    int depth = 0, lines = 1;
    if (starts_service(text, end) && !at(aux, 0, 1)) {
        return true;
    }
    for (const char *p = text; p < end; p++) {
        /* Only these bytes matter; the text is NUL-terminated (spec.h). */
        p += strcspn(p, "\n#\"{}");
        switch (*p) {
        case '\0':
            return p == end && !depth;    /* A NUL inside: not clean. */
        case '\n':
            lines++;
            if (!depth && starts_service(p + 1, end)
                && !at(aux, p + 1 - text, lines)) {
                return true;
            }
            break;
        case '#':
            p = memchr(p, '\n', end - p);
            if (!p) {
                return !depth;  /* A comment ends the text. */
            }
            p--;                /* The newline is counted above. */
            break;
        case '"':
            for (p++; p < end && *p != '"'; p++) {
                if (*p == '\n'
                    || (*p == '\\' && (++p == end || *p == '\n'))) {
                    return false;   /* Unterminated: the parser says so. */
                }
            }
            if (p == end) {
                return false;
            }
            break;
        case '{':
            depth++;
            break;
        case '}':
            if (--depth < 0) {
                return false;
            }
            break;
        }
    }
    return !depth;
}

struct split_point {
    size_t want, found;
    int line;
};

static bool
take_first_after(void *sp_, size_t offset, int line)
{
    struct split_point *sp = sp_;
    if (offset && offset >= sp->want) {
        sp->found = offset;
        sp->line = line;
        return false;
    }
    return true;
}

size_t
dsl_split_point(const char *text, size_t len, size_t want, int *line)
{
    struct split_point sp = { .want = want };
    if (!dsl_scan_service_starts(text, len, take_first_after, &sp)
        || !sp.found) {
        return 0;
    }
    *line = sp.line;
    return sp.found;
}
