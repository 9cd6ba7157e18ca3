/* Reading a spec file and choosing its front end. */
#include "spec.h"

#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Larger specs than this are refused rather than read into memory:
 * 100,000 services of a few reals stay well below it. */
#define SPEC_MAX_BYTES (256u * 1024 * 1024)

static bool
has_suffix(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && !strcmp(s + ls - lx, suffix);
}

void
lb_text_buf_destroy(struct lb_text_buf *buf)
{
    free(buf->data);
    buf->data = NULL;
    buf->allocated = 0;
}

/* Room for 'size' bytes in 'buf'. False (the buffer as it was) if out of
 * memory. */
static bool
buf_reserve(struct lb_text_buf *buf, size_t size)
{
    if (buf->allocated >= size) {
        return true;
    }
    char *bigger = realloc(buf->data, size);
    if (!bigger) {
        return false;
    }
    buf->data = bigger;
    buf->allocated = size;
    return true;
}

void
lb_text_buf_prepare(struct lb_text_buf *buf, size_t size)
{
    if (size && buf_reserve(buf, size)) {
        memset(buf->data, 0, size);
    }
}

/* Reads all of 'path' ("-": standard input) into 'buf' (grown as needed;
 * NUL-terminated, '*lenp' bytes). */
static bool
read_text(const char *path, const char *file, struct diag *d,
          struct lb_text_buf *buf, size_t *lenp)
{
    struct location at_file = { file, 0, 0 };

    FILE *f = !strcmp(path, "-") ? stdin : fopen(path, "rb");
    if (!f) {
        diag_error(d, &at_file, "cannot open: %s", strerror(errno));
        return false;
    }
    /* Sized by the file's length: growing the buffer by doubling copied
     * and faulted in a 21 MB spec about twice over. */
    size_t want = 65536, len = 0;
    struct stat st;
    if (f != stdin && !fstat(fileno(f), &st) && S_ISREG(st.st_mode)
        && st.st_size > 0 && (uint64_t) st.st_size < SPEC_MAX_BYTES) {
        want = st.st_size + 2;          /* + NUL, + 1 to see the end. */
    }
    bool ok = buf_reserve(buf, want);
    while (ok) {
        if (len + 1 >= buf->allocated) {
            if (buf->allocated >= SPEC_MAX_BYTES) {
                diag_error(d, &at_file, "file larger than %u MiB",
                           SPEC_MAX_BYTES >> 20);
                if (f != stdin) {
                    fclose(f);
                }
                return false;
            }
            ok = buf_reserve(buf, 2 * buf->allocated);
            if (!ok) {
                break;
            }
        }
        size_t n = fread(buf->data + len, 1, buf->allocated - len - 1, f);
        if (!n) {
            break;
        }
        len += n;
    }
    /* Under a memory limit (ulimit -v), say so rather than crash. */
    if (!ok) {
        diag_error(d, &at_file, "out of memory reading the file");
        if (f != stdin) {
            fclose(f);
        }
        return false;
    }
    bool read_error = ferror(f);
    int read_errno = read_error ? errno : 0;  /* fread's read(2) set it. */
    if (f != stdin) {
        fclose(f);
    }
    if (read_error) {
        diag_error(d, &at_file, "read error: %s",
                   read_errno ? strerror(read_errno) : "unknown");
        return false;
    }
    buf->data[len] = '\0';
    *lenp = len;
    return true;
}

static bool
is_yaml(const char *path)
{
    return has_suffix(path, ".yaml") || has_suffix(path, ".yml");
}

/* Reads 'path' and parses it with the front end its name asks for; a DSL
 * text with lb_dsl_parse_reusing() if 'memo' is nonnull, else (the
 * compiler: nothing to record) lb_dsl_parse(). */
static bool
load(const char *path, struct lb_spec *spec, struct diag *d,
     const struct lb_spec_lender *lender, struct lb_text_memo *memo,
     size_t *n_reused, struct lb_text_buf *buf)
{
    const char *file = diag_intern_file(d, path);
    struct lb_text_buf own = { NULL, 0 };
    struct lb_text_buf *b = buf ? buf : &own;
    size_t len;
    bool ok = read_text(path, file, d, b, &len);
    if (ok) {
        const char *text = b->data;
        ok = (is_yaml(path) ? lb_yaml_parse(file, text, len, spec, d)
              : memo ? lb_dsl_parse_reusing(file, text, len, spec, d, lender,
                                            memo, n_reused)
              : lb_dsl_parse(file, text, len, spec, d));
        if (ok && memo && memo->n) {
            /* The next load compares with it; 'b' gets the memo's old
             * buffer to read into. */
            lb_text_memo_keep_text(memo, b, len);
        }
    }
    lb_text_buf_destroy(&own);
    return ok && !diag_has_errors(d);
}

bool
lb_spec_load(const char *path, struct lb_spec *spec, struct diag *d)
{
    return load(path, spec, d, NULL, NULL, NULL, NULL);
}

bool
lb_spec_load_weight_edits(const char *path,
                          const struct lb_spec_lender *lender,
                          struct lb_weight_edits *edits,
                          struct lb_text_buf *buf)
{
    if (is_yaml(path) || !lender->spec->n_services) {
        return false;
    }
    struct diag d;
    diag_init(&d);
    struct lb_text_buf own = { NULL, 0 };
    struct lb_text_buf *b = buf ? buf : &own;
    size_t len;
    /* The lender's file name: the edits' locations point to it. */
    const char *file = lender->spec->services[0].loc.file;
    bool ok = (read_text(path, file, &d, b, &len)
               && lb_dsl_weight_edits(file, b->data, len, lender, edits));
    lb_text_buf_destroy(&own);
    diag_destroy(&d);
    return ok;
}

bool
lb_spec_load_reusing(const char *path, struct lb_spec *spec, struct diag *d,
                     const struct lb_spec_lender *lender,
                     struct lb_text_memo *memo, size_t *n_reused,
                     struct lb_text_buf *buf)
{
    *n_reused = 0;
    lb_text_memo_destroy(memo);
    return load(path, spec, d, lender, memo, n_reused, buf);
}
