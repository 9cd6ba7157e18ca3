/* Diagnostics: located errors and warnings, queued then printed.
 *
 * Every front end (DSL, YAML) and every later phase reports through one
 * struct diag, so both syntaxes print the same format:
 *     FILE:LINE:COL: error: MESSAGE
 *         source line
 *         ^
 */
#ifndef FLOWLB_DIAG_H
#define FLOWLB_DIAG_H 1

#include <stdbool.h>
#include <stdio.h>

/* A position in a source file. 'file' is owned by the diag's file list
 * (see diag_intern_file) and lives as long as the diag. line and col are
 * 1-based; 0 means unknown. */
struct location {
    const char *file;
    int line;
    int col;
};

/* The same place in a copy of its text that starts 'line_delta' lines
 * further down in 'file'. An unknown location stays unknown. */
static inline void
location_move(struct location *loc, const char *file, int line_delta)
{
    if (loc->line) {
        loc->file = file;
        loc->line += line_delta;
    }
}

enum diag_severity { DIAG_ERROR, DIAG_WARNING };

struct diag_record {
    enum diag_severity severity;
    struct location loc;
    char *message;              /* Owned. */
};

struct diag {
    struct diag_record *records; /* In the order reported. */
    size_t n_records, allocated;
    size_t n_errors, n_warnings;
    char **files;               /* Interned file names, owned. */
    size_t n_files;
};

void diag_init(struct diag *);
void diag_destroy(struct diag *);

/* Returns a copy of 'name' owned by 'd', suitable for struct location. */
const char *diag_intern_file(struct diag *d, const char *name);

void diag_error(struct diag *, const struct location *, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void diag_warning(struct diag *, const struct location *, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline bool diag_has_errors(const struct diag *d)
{
    return d->n_errors > 0;
}

/* Prints every record to 'out' in report order, each followed by its source
 * line and a caret when the file can be read. */
void diag_print(const struct diag *, FILE *out);

/* Returns the closest of 'candidates' (NULL-terminated) to 'word' when it is
 * near enough to be a plausible typo, else NULL. For "did you mean" hints. */
const char *diag_closest(const char *word, const char *const *candidates);

#endif /* FLOWLB_DIAG_H */
