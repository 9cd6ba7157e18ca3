/* Diagnostics: queue located errors and warnings, print them with the
 * source line and a caret. */
#include "diag.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void *
xrealloc(void *p, size_t size)
{
    p = realloc(p, size);
    if (!p) {
        fprintf(stderr, "flowlb: out of memory\n");
        abort();
    }
    return p;
}

void
diag_init(struct diag *d)
{
    memset(d, 0, sizeof *d);
}

void
diag_destroy(struct diag *d)
{
    if (!d) {
        return;
    }
    for (size_t i = 0; i < d->n_records; i++) {
        free(d->records[i].message);
    }
    free(d->records);
    for (size_t i = 0; i < d->n_files; i++) {
        free(d->files[i]);
    }
    free(d->files);
    memset(d, 0, sizeof *d);
}

const char *
diag_intern_file(struct diag *d, const char *name)
{
    for (size_t i = 0; i < d->n_files; i++) {
        if (!strcmp(d->files[i], name)) {
            return d->files[i];
        }
    }
    d->files = xrealloc(d->files, (d->n_files + 1) * sizeof *d->files);
    d->files[d->n_files] = strdup(name);
    if (!d->files[d->n_files]) {
        abort();
    }
    return d->files[d->n_files++];
}

/* Caps the queue so that a pathological input cannot make us collect
 * millions of records; the count stays exact. */
#define DIAG_MAX_RECORDS 100

/* Messages quote input (names, words): a 10 MB service name must not make
 * a 10 MB error line. Longer messages keep their head and tail (where the
 * "(first defined at ...)" part is), the middle becomes "...". */
#define DIAG_MAX_MESSAGE 1024

static void
elide_middle(char *m)
{
    size_t len = strlen(m);
    if (len <= DIAG_MAX_MESSAGE) {
        return;
    }
    size_t head = DIAG_MAX_MESSAGE / 2, tail = len - DIAG_MAX_MESSAGE / 2 + 8;
    /* Cut between UTF-8 characters, not inside one. */
    while (head > 0 && ((unsigned char) m[head] & 0xc0) == 0x80) {
        head--;
    }
    while (tail < len && ((unsigned char) m[tail] & 0xc0) == 0x80) {
        tail++;
    }
    memcpy(m + head, "...", 3);
    memmove(m + head + 3, m + tail, len - tail + 1);
}

static void
diag_add(struct diag *d, enum diag_severity sev, const struct location *loc,
         const char *fmt, va_list args)
{
    if (sev == DIAG_ERROR) {
        d->n_errors++;
    } else {
        d->n_warnings++;
    }
    if (d->n_records >= DIAG_MAX_RECORDS) {
        return;
    }
    if (d->n_records >= d->allocated) {
        d->allocated = d->allocated ? 2 * d->allocated : 8;
        d->records = xrealloc(d->records, d->allocated * sizeof *d->records);
    }
    struct diag_record *r = &d->records[d->n_records++];
    r->severity = sev;
    if (loc) {
        r->loc = *loc;
    } else {
        memset(&r->loc, 0, sizeof r->loc);
    }
    if (vasprintf(&r->message, fmt, args) < 0) {
        abort();
    }
    elide_middle(r->message);
}

void
diag_error(struct diag *d, const struct location *loc, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    diag_add(d, DIAG_ERROR, loc, fmt, args);
    va_end(args);
}

void
diag_warning(struct diag *d, const struct location *loc, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    diag_add(d, DIAG_WARNING, loc, fmt, args);
    va_end(args);
}

/* The source files diag_print() quotes from, kept open while it runs:
 * records come in roughly increasing line order, so each file is read
 * forward once instead of from its start for every record (100 warnings
 * deep in a 20 MB spec cost seconds that way). */
struct source_reader {
    const char *file;           /* Interned name (diag's files[]). */
    FILE *f;                    /* NULL: cannot be read (e.g. stdin). */
    int line;                   /* Line the stream is at the start of. */
};

#define DIAG_MAX_READERS 8

/* 'file' opened for quoting if it is a regular file, else NULL. A spec
 * read from a FIFO or a pipe was consumed by the read: opening it again
 * would wait for a writer that never comes (without O_NONBLOCK) or read
 * something else. */
static FILE *
open_regular(const char *file)
{
    int fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return NULL;
    }
    struct stat st;
    FILE *f = NULL;
    if (!fstat(fd, &st) && S_ISREG(st.st_mode)) {
        f = fdopen(fd, "rb");
    }
    if (!f) {
        close(fd);
    }
    return f;
}

static struct source_reader *
source_reader_get(struct source_reader *readers, size_t *n, const char *file)
{
    for (size_t i = 0; i < *n; i++) {
        if (!strcmp(readers[i].file, file)) {
            return &readers[i];
        }
    }
    if (*n == DIAG_MAX_READERS) {
        /* Many files: reuse the last slot. */
        if (readers[*n - 1].f) {
            fclose(readers[*n - 1].f);
        }
        --*n;
    }
    struct source_reader *r = &readers[(*n)++];
    r->file = file;
    r->f = open_regular(file);
    r->line = 1;
    return r;
}

/* Prints line 'line' of the reader's file and a caret under column 'col'.
 * Silently does nothing if the file or line cannot be read. Lines are
 * shown up to 160 bytes, so a 10 MB line does not flood the terminal. */
static void
print_source_line(FILE *out, struct source_reader *r, int line, int col)
{
    if (!r->f) {
        return;
    }
    if (line < r->line) {
        rewind(r->f);
        r->line = 1;
    }
    int c;
    while (r->line < line && (c = getc(r->f)) != EOF) {
        if (c == '\n') {
            r->line++;
        }
    }
    if (r->line != line) {
        return;
    }
    char text[161];
    size_t n = 0;
    bool truncated = false;
    while ((c = getc(r->f)) != EOF && c != '\n') {
        if (n < sizeof text - 1) {
            /* Keep the caret aligned: tabs stay tabs, controls become '?'. */
            text[n++] = (c == '\t' || (c >= 0x20 && c != 0x7f)) ? c : '?';
        } else {
            truncated = true;
            break;
        }
    }
    if (c == '\n') {
        r->line++;
    } else if (c != EOF) {
        /* Stopped inside a long line: the stream position is unknown. */
        rewind(r->f);
        r->line = 1;
    }
    text[n] = '\0';
    if (n && text[n - 1] == '\r') {
        text[--n] = '\0';
    }
    fprintf(out, "    %s%s\n    ", text, truncated ? "..." : "");
    for (int i = 1; i < col && (size_t) i <= n; i++) {
        putc(text[i - 1] == '\t' ? '\t' : ' ', out);
    }
    fputs("^\n", out);
}

void
diag_print(const struct diag *d, FILE *out)
{
    struct source_reader readers[DIAG_MAX_READERS];
    size_t n_readers = 0;
    for (size_t i = 0; i < d->n_records; i++) {
        const struct diag_record *r = &d->records[i];
        const char *sev = r->severity == DIAG_ERROR ? "error" : "warning";
        if (r->loc.file && r->loc.line > 0) {
            fprintf(out, "%s:%d:%d: %s: %s\n", r->loc.file, r->loc.line,
                    r->loc.col > 0 ? r->loc.col : 1, sev, r->message);
            print_source_line(out, source_reader_get(readers, &n_readers,
                                                     r->loc.file),
                              r->loc.line, r->loc.col);
        } else if (r->loc.file) {
            fprintf(out, "%s: %s: %s\n", r->loc.file, sev, r->message);
        } else {
            fprintf(out, "flowlb: %s: %s\n", sev, r->message);
        }
    }
    for (size_t i = 0; i < n_readers; i++) {
        if (readers[i].f) {
            fclose(readers[i].f);
        }
    }
    size_t hidden = d->n_errors + d->n_warnings - d->n_records;
    if (hidden) {
        fprintf(out, "flowlb: %zu more diagnostics not shown\n", hidden);
    }
}

/* Levenshtein distance, capped: words are short keywords. */
static size_t
edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) {
        return SIZE_MAX;
    }
    size_t prev[65], cur[65];
    for (size_t j = 0; j <= lb; j++) {
        prev[j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof *prev);
    }
    return prev[lb];
}

const char *
diag_closest(const char *word, const char *const *candidates)
{
    const char *best = NULL;
    size_t best_distance = SIZE_MAX;
    for (size_t i = 0; candidates[i]; i++) {
        size_t dist = edit_distance(word, candidates[i]);
        if (dist < best_distance) {
            best_distance = dist;
            best = candidates[i];
        }
    }
    /* Plausible typo: at most 2 edits, and fewer than half the word. */
    size_t len = strlen(word);
    if (best && best_distance <= 2 && best_distance * 2 < len + 1) {
        return best;
    }
    return NULL;
}
