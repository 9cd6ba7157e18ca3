/* Where a large DSL text can be cut in two for two parsers: at the start of
 * a line that begins a service at the top level. The scan follows the
 * scanner's rules for what hides a brace (comments to the end of the line,
 * strings with backslash escapes that never span lines); anything it is
 * unsure about means "no cut", and dsl_parse.c parses the whole text again
 * in one piece whenever a half reports anything, so a cut can only save
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

size_t
dsl_split_point(const char *text, size_t len, size_t want, int *line)
{
    const char *end = text + len;
    int depth = 0, lines = 1;
    for (const char *p = text; p < end; p++) {
        switch (*p) {
        case '\n':
            lines++;
            if (p + 1 - text >= (ptrdiff_t) want && !depth
                && starts_service(p + 1, end)) {
                *line = lines;
                return p + 1 - text;
            }
            break;
        case '#':
            p = memchr(p, '\n', end - p);
            if (!p) {
                return 0;
            }
            p--;                /* The newline is counted above. */
            break;
        case '"':
            for (p++; p < end && *p != '"'; p++) {
                if (*p == '\n' || (*p == '\\' && (++p == end || *p == '\n'))) {
                    return 0;   /* Unterminated: the parser reports it. */
                }
            }
            if (p == end) {
                return 0;
            }
            break;
        case '{':
            depth++;
            break;
        case '}':
            if (--depth < 0) {
                return 0;
            }
            break;
        }
    }
    return 0;
}
