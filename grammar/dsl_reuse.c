/* Parsing a DSL text again after a small edit: the services whose text did
 * not change are taken from the earlier parse (see spec.h). At 10,000
 * services x 32 reals a whole parse takes about 0.4 s; cutting and hashing
 * the text about 13 ms (3 ms when compared with the earlier text kept),
 * and copying the unchanged services about 20 ms. */
#include "dsl_internal.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* More changed pieces than 1 in this many of a text parsed in two halves
 * (DSL_PARALLEL_MIN): a whole parse, on two CPUs, is faster than parsing
 * them one by one. */
#define REUSE_MIN_SHARE 4

/* 64-bit hash of a piece of text, 8 bytes at a step (MurmurHash64A's
 * mixing). A piece is taken over only if its hash and length both match:
 * two different services' texts agreeing on both is not a practical risk. */
static uint64_t
text_hash(const char *p, size_t n)
{
    const uint64_t m = 0xc6a4a7935bd1e995ULL;
    const int r = 47;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (n * m);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t k;
        memcpy(&k, p + i, 8);
        k *= m;
        k ^= k >> r;
        k *= m;
        h ^= k;
        h *= m;
    }
    uint64_t tail = 0;
    memcpy(&tail, p + i, n - i);
    h ^= tail;
    h *= m;
    h ^= h >> r;
    h *= m;
    h ^= h >> r;
    return h;
}

void
lb_text_memo_destroy(struct lb_text_memo *memo)
{
    free(memo->pieces);
    free(memo->taken_from);
    lb_text_buf_destroy(&memo->text);
    memset(memo, 0, sizeof *memo);
}

void
lb_text_memo_keep_text(struct lb_text_memo *memo, struct lb_text_buf *buf,
                       size_t len)
{
    struct lb_text_buf held = memo->text;
    memo->text = *buf;
    *buf = held;
    memo->text_len = len;
}

void
lb_text_memo_give_buffer(struct lb_text_memo *memo, struct lb_text_buf *buf)
{
    if (memo->text.allocated > buf->allocated) {
        struct lb_text_buf larger = memo->text;
        memo->text = *buf;
        *buf = larger;
        memo->text_len = 0;
    }
}

/* Where each service starts, then its piece of the text. */
struct cuts {
    struct lb_text_piece *pieces;
    size_t *offsets;
    size_t n, allocated;
};

static bool
add_cut(void *cuts_, size_t offset, int line)
{
    struct cuts *c = cuts_;
    if (c->n == c->allocated) {
        c->allocated = c->allocated ? 2 * c->allocated : 64;
        c->pieces = realloc(c->pieces, c->allocated * sizeof *c->pieces);
        c->offsets = realloc(c->offsets, c->allocated * sizeof *c->offsets);
        if (!c->pieces || !c->offsets) {
            abort();
        }
    }
    c->pieces[c->n] = (struct lb_text_piece) { .line = line };
    c->offsets[c->n++] = offset;
    return true;
}

/* Parses a piece of text that starts at 'line' on its own. True if the
 * parse reported nothing and made 'n_services' services; then the first
 * one, if any, is moved to '*svc'. */
static bool
parse_piece(const char *file, const char *text, size_t len, int line,
            size_t n_services, struct lb_service *svc)
{
    struct diag d;
    struct dsl_state st;
    diag_init(&d);
    dsl_state_init(&st, &d, file, line);
    bool ok = (dsl_run(&st, text, len) && !st.n_errors && !d.n_records
               && st.spec.n_services == n_services);
    if (ok && n_services) {
        memcpy(svc, &st.spec.services[0], sizeof *svc);
        st.spec.n_services = 0;     /* Moved to 'svc'. */
    }
    lb_spec_destroy(&st.spec);
    diag_destroy(&d);
    return ok;
}

/* Whether the text before the first service is clean on its own (blanks
 * and comments, as the scanner sees them: valid UTF-8, no NUL...). */
static bool
prelude_clean(const char *file, const char *text, size_t len)
{
    return parse_piece(file, text, len, 1, 0, NULL);
}

/* Cuts 'text' into one piece per service and hashes each. False if it
 * cannot be cut cleanly. */
static bool
cut_text(const char *file, const char *text, size_t len, struct cuts *c)
{
    if (!dsl_scan_service_starts(text, len, add_cut, c) || !c->n
        || !prelude_clean(file, text, c->offsets[0])) {
        return false;
    }
    for (size_t i = 0; i < c->n; i++) {
        size_t end = i + 1 < c->n ? c->offsets[i + 1] : len;
        c->pieces[i].len = end - c->offsets[i];
        c->pieces[i].hash = text_hash(text + c->offsets[i], c->pieces[i].len);
    }
    return true;
}

/* How many bytes 'a' and 'b' have in common at their start, of the first
 * 'n'. A page at a time: memcmp() runs several times faster than the scan
 * and the hash (by hand, at 21 MB: 3 ms against 13 ms). */
static size_t
common_start(const char *a, const char *b, size_t n)
{
    enum { STEP = 4096 };
    size_t i = 0;
    while (i + STEP <= n && !memcmp(a + i, b + i, STEP)) {
        i += STEP;
    }
    while (i < n && a[i] == b[i]) {
        i++;
    }
    return i;
}

/* How many bytes 'a' ('na' bytes) and 'b' ('nb' bytes) have in common at
 * their end, at most 'max'. */
static size_t
common_end(const char *a, size_t na, const char *b, size_t nb, size_t max)
{
    enum { STEP = 4096 };
    size_t i = 0;
    while (i + STEP <= max
           && !memcmp(a + na - i - STEP, b + nb - i - STEP, STEP)) {
        i += STEP;
    }
    while (i < max && a[na - i - 1] == b[nb - i - 1]) {
        i++;
    }
    return i;
}

/* A rescan of the new text from a service start on (cut_text_from()): its
 * cuts, until one falls where the old text had one, in the part both texts
 * end with. From there on the scan would see the same bytes in the same
 * state (at a line start, outside braces) as it did in the old text, so it
 * would cut both the same way. */
struct rescan {
    struct cuts *c;
    size_t base;                /* Where the scan started. */
    int base_line;
    size_t same_from;           /* Where the common end starts. */
    size_t new_len, old_len;
    const size_t *old_offsets;  /* The old text's cuts. */
    size_t n_old, next_old;
    size_t met;                 /* The old cut met, or SIZE_MAX. */
    int met_line;               /* Its line in the new text. */
};

static bool
rescan_at(void *rs_, size_t offset, int line)
{
    struct rescan *rs = rs_;
    size_t at = rs->base + offset;
    int abs_line = rs->base_line + line - 1;
    if (at >= rs->same_from) {
        /* No underflow: the common end is no longer than the old text. */
        size_t old_at = at + rs->old_len - rs->new_len;
        while (rs->next_old < rs->n_old
               && rs->old_offsets[rs->next_old] < old_at) {
            rs->next_old++;
        }
        if (rs->next_old < rs->n_old
            && rs->old_offsets[rs->next_old] == old_at) {
            rs->met = rs->next_old;
            rs->met_line = abs_line;
            return false;
        }
    }
    return add_cut(rs->c, at, abs_line);
}

/* Appends to 'c' a cut at 'offset' whose piece is 'p' (from the memo). */
static void
add_known_cut(struct cuts *c, size_t offset, const struct lb_text_piece *p,
              int line)
{
    add_cut(c, offset, line);
    c->pieces[c->n - 1].len = p->len;
    c->pieces[c->n - 1].hash = p->hash;
}

/* Bytes past the start of a service's text that an edit may reach and
 * still leave it cut where it was: more than its keyword and a blank. */
#define RESCAN_MARGIN 16

/* Cuts 'text' as cut_text() would, from the cuts 'memo' recorded of the
 * text it kept: the pieces before the first byte that differs and after
 * the last are the memo's (moved), and only those between are scanned and
 * hashed. False (with 'c' empty) if the memo kept no text or the edit
 * reaches the text before the first service, or the part scanned is not
 * clean: cut_text() then does it all, as before. */
static bool
cut_text_from(const char *text, size_t len, const struct lb_text_memo *memo,
              struct cuts *c)
{
    if (!memo->text_len || !memo->n) {
        return false;
    }
    const char *old = memo->text.data;
    size_t old_len = memo->text_len;
    dsl_skip_bom(&old, &old_len);
    /* The pieces run from the first service to the end of the text. */
    size_t total = 0;
    for (size_t k = 0; k < memo->n; k++) {
        total += memo->pieces[k].len;
    }
    if (total > old_len) {
        return false;               /* Not the text they were cut from. */
    }
    size_t *old_offsets = malloc(memo->n * sizeof *old_offsets);
    if (!old_offsets) {
        abort();
    }
    old_offsets[0] = old_len - total;
    for (size_t k = 1; k < memo->n; k++) {
        old_offsets[k] = old_offsets[k - 1] + memo->pieces[k - 1].len;
    }

    size_t shorter = len < old_len ? len : old_len;
    size_t same_start = common_start(old, text, shorter);
    size_t same_end = common_end(old, old_len, text, len,
                                 shorter - same_start);
    /* The last service that starts well before the first change. */
    size_t k0 = memo->n;
    for (size_t lo = 0, hi = memo->n; lo < hi;) {
        size_t mid = lo + (hi - lo) / 2;
        if (old_offsets[mid] + RESCAN_MARGIN <= same_start) {
            k0 = mid;
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    bool ok = k0 < memo->n;
    for (size_t k = 0; ok && k < k0; k++) {
        add_known_cut(c, old_offsets[k], &memo->pieces[k],
                      memo->pieces[k].line);
    }
    struct rescan rs = {
        .c = c,
        .base = ok ? old_offsets[k0] : 0,
        .base_line = ok ? memo->pieces[k0].line : 0,
        .same_from = len - same_end,
        .new_len = len,
        .old_len = old_len,
        .old_offsets = old_offsets,
        .n_old = memo->n,
        .next_old = k0,
        .met = SIZE_MAX,
    };
    size_t first_scanned = c->n;
    /* The scan must cut where it starts, as before: else the piece before
     * it grows, and the whole scan finds where to. */
    ok = (ok && dsl_scan_service_starts(text + rs.base, len - rs.base,
                                        rescan_at, &rs)
          && c->n > first_scanned && c->offsets[first_scanned] == rs.base);
    if (ok) {
        size_t scanned_end = (rs.met == SIZE_MAX ? len
                              : old_offsets[rs.met] + len - old_len);
        for (size_t i = first_scanned; i < c->n; i++) {
            size_t end = i + 1 < c->n ? c->offsets[i + 1] : scanned_end;
            c->pieces[i].len = end - c->offsets[i];
            c->pieces[i].hash = text_hash(text + c->offsets[i],
                                          c->pieces[i].len);
        }
        int line_shift = (rs.met == SIZE_MAX ? 0
                          : rs.met_line - memo->pieces[rs.met].line);
        for (size_t k = rs.met; rs.met != SIZE_MAX && k < memo->n; k++) {
            add_known_cut(c, old_offsets[k] + len - old_len,
                          &memo->pieces[k],
                          memo->pieces[k].line + line_shift);
        }
    } else {
        free(c->pieces);
        free(c->offsets);
        memset(c, 0, sizeof *c);
    }
    free(old_offsets);
    return ok;
}

/* The lender's pieces by (hash, length): open addressing, SIZE_MAX = empty
 * slot. */
struct piece_index {
    size_t *slots;
    size_t mask;
};

static void
piece_index_build(struct piece_index *pi, const struct lb_text_memo *memo)
{
    size_t size = 16;
    while (size < 2 * memo->n) {
        size *= 2;
    }
    pi->mask = size - 1;
    pi->slots = malloc(size * sizeof *pi->slots);
    if (!pi->slots) {
        abort();
    }
    memset(pi->slots, 0xff, size * sizeof *pi->slots);
    for (size_t k = 0; k < memo->n; k++) {
        size_t i = memo->pieces[k].hash & pi->mask;
        while (pi->slots[i] != SIZE_MAX) {
            i = (i + 1) & pi->mask;
        }
        pi->slots[i] = k;
    }
}

static size_t
piece_index_find(const struct piece_index *pi, const struct lb_text_memo *memo,
                 const struct lb_text_piece *p)
{
    for (size_t i = p->hash & pi->mask; pi->slots[i] != SIZE_MAX;
         i = (i + 1) & pi->mask) {
        const struct lb_text_piece *q = &memo->pieces[pi->slots[i]];
        if (q->hash == p->hash && q->len == p->len) {
            return pi->slots[i];
        }
    }
    return SIZE_MAX;
}

/* Builds the services of 'c' into 'spec' from the lender and from parses
 * of the pieces that changed. False (with 'spec' left empty) if too much
 * changed or a piece reported anything. */
static bool
assemble(const char *file, const char *text, size_t len,
         const struct cuts *c, const struct lb_spec_lender *lender,
         struct lb_spec *spec, size_t **taken_from, size_t *n_reused)
{
    const struct lb_text_memo *memo = lender->memo;
    struct piece_index pi;
    piece_index_build(&pi, memo);
    size_t *from = malloc(c->n * sizeof *from);
    if (!from) {
        abort();
    }
    size_t n_changed = 0;
    for (size_t i = 0; i < c->n; i++) {
        from[i] = piece_index_find(&pi, memo, &c->pieces[i]);
        n_changed += from[i] == SIZE_MAX;
    }
    free(pi.slots);
    struct lb_service *svcs = NULL;
    bool ok = (len < DSL_PARALLEL_MIN
               || n_changed * REUSE_MIN_SHARE <= c->n);
    if (ok) {
        svcs = calloc(c->n, sizeof *svcs);
        if (!svcs) {
            abort();
        }
    }
    /* The changed pieces first, without the lender's lock. */
    size_t n_parsed = 0;
    for (size_t i = 0; ok && i < c->n; i++) {
        if (from[i] == SIZE_MAX) {
            ok = parse_piece(file, text + c->offsets[i], c->pieces[i].len,
                             c->pieces[i].line, 1, &svcs[i]);
            n_parsed += ok;
        }
    }
    if (!ok) {
        /* What is not built yet is zeroed: freeing it frees nothing. */
        struct lb_spec parsed = { .services = svcs,
                                  .n_services = svcs ? c->n : 0 };
        lb_spec_destroy(&parsed);
        free(from);
        return false;
    }

    /* Where each lent service's reals start among the lender's weights. */
    const struct lb_spec *ls = lender->spec;
    size_t *first_real = NULL;
    if (lender->weights) {
        first_real = malloc((ls->n_services + 1) * sizeof *first_real);
        if (!first_real) {
            abort();
        }
        first_real[0] = 0;
        for (size_t k = 0; k < ls->n_services; k++) {
            first_real[k + 1] = first_real[k] + ls->services[k].n_reals;
        }
    }
    if (lender->mutex) {
        pthread_mutex_lock(lender->mutex);
    }
    for (size_t i = 0; i < c->n; i++) {
        size_t k = from[i];
        if (k == SIZE_MAX) {
            continue;
        }
        struct lb_service *svc = &svcs[i];
        lb_service_clone(svc, &ls->services[k], file,
                         c->pieces[i].line - memo->pieces[k].line);
        for (size_t j = 0; first_real && j < svc->n_reals; j++) {
            svc->reals[j].weight = lender->weights[first_real[k] + j];
        }
    }
    if (lender->mutex) {
        pthread_mutex_unlock(lender->mutex);
    }
    free(first_real);
    *taken_from = from;
    spec->services = svcs;
    spec->n_services = spec->allocated_services = c->n;
    *n_reused = c->n - n_parsed;
    return true;
}

void
lb_weight_edits_destroy(struct lb_weight_edits *e)
{
    for (size_t i = 0; i < e->n; i++) {
        lb_service_destroy(&e->edits[i].svc);
    }
    free(e->edits);
    for (size_t i = 0; i < e->n_added; i++) {
        lb_service_destroy(&e->added[i]);
    }
    free(e->added);
    free(e->added_pieces);
    memset(e, 0, sizeof *e);
}

/* Parses the pieces of 'c' after the lender's last service, each of which
 * must be one service, into 'edits'. */
static bool
parse_appended(const char *file, const char *text, const struct cuts *c,
               size_t first, struct lb_weight_edits *edits)
{
    size_t n = c->n - first;
    if (!n) {
        return true;
    }
    if (edits->n + n > LB_WEIGHT_EDITS_MAX) {
        return false;
    }
    edits->added = calloc(n, sizeof *edits->added);
    edits->added_pieces = malloc(n * sizeof *edits->added_pieces);
    if (!edits->added || !edits->added_pieces) {
        abort();
    }
    for (size_t i = first; i < c->n; i++) {
        const struct lb_text_piece *p = &c->pieces[i];
        if (!parse_piece(file, text + c->offsets[i], p->len, p->line, 1,
                         &edits->added[edits->n_added])) {
            return false;
        }
        edits->added_pieces[edits->n_added++] = *p;
    }
    return true;
}

bool
lb_dsl_weight_edits(const char *file, const char *text, size_t len,
                    const struct lb_spec_lender *lender,
                    struct lb_weight_edits *edits)
{
    memset(edits, 0, sizeof *edits);
    const struct lb_text_memo *memo = lender->memo;
    const struct lb_spec *ls = lender->spec;
    if (!memo || !memo->n || memo->n != ls->n_services) {
        return false;
    }
    edits->text_len = len;
    dsl_skip_bom(&text, &len);
    struct cuts c = { 0 };
    edits->compared = cut_text_from(text, len, memo, &c);
    bool ok = ((edits->compared || cut_text(file, text, len, &c))
               && c.n >= memo->n);
    /* Every service where it was; the changed ones parsed (no lock). */
    size_t allocated = 0;
    for (size_t i = 0; ok && i < memo->n; i++) {
        const struct lb_text_piece *p = &c.pieces[i], *q = &memo->pieces[i];
        if (p->line != q->line) {
            ok = false;
        } else if (p->hash != q->hash || p->len != q->len) {
            if (edits->n == LB_WEIGHT_EDITS_MAX) {
                ok = false;
                break;
            }
            if (edits->n == allocated) {
                allocated = allocated ? 2 * allocated : 8;
                edits->edits = realloc(edits->edits,
                                       allocated * sizeof *edits->edits);
                if (!edits->edits) {
                    abort();
                }
            }
            struct lb_weight_edit *e = &edits->edits[edits->n];
            memset(e, 0, sizeof *e);
            e->service = i;
            e->piece = *p;
            ok = parse_piece(file, text + c.offsets[i], p->len, p->line, 1,
                             &e->svc);
            edits->n += ok;
        }
    }
    /* Services after the last one: added. */
    ok = ok && parse_appended(file, text, &c, memo->n, edits);
    if (ok && edits->n) {
        if (lender->mutex) {
            pthread_mutex_lock(lender->mutex);
        }
        for (size_t k = 0; ok && k < edits->n; k++) {
            const struct lb_weight_edit *e = &edits->edits[k];
            ok = lb_service_equal_but_weights(&ls->services[e->service],
                                              &e->svc);
        }
        if (lender->mutex) {
            pthread_mutex_unlock(lender->mutex);
        }
    }
    free(c.pieces);
    free(c.offsets);
    if (!ok) {
        lb_weight_edits_destroy(edits);
    }
    return ok;
}

bool
lb_dsl_parse_reusing(const char *file, const char *text, size_t len,
                     struct lb_spec *spec, struct diag *d,
                     const struct lb_spec_lender *lender,
                     struct lb_text_memo *memo, size_t *n_reused)
{
    *n_reused = 0;
    lb_text_memo_destroy(memo);
    file = diag_intern_file(d, file);
    /* Offsets below are past a byte order mark, as lb_dsl_parse() reads. */
    const char *t = text;
    size_t n = len;
    dsl_skip_bom(&t, &n);
    struct cuts c = { 0 };
    size_t *taken_from = NULL;
    bool compared = (lender && lender->memo
                     && cut_text_from(t, n, lender->memo, &c));
    bool cut = compared || cut_text(file, t, n, &c);
    bool done = (cut && lender && lender->memo->n
                 && lender->memo->n == lender->spec->n_services
                 && assemble(file, t, n, &c, lender, spec, &taken_from,
                             n_reused));
    bool ok = done || lb_dsl_parse(file, text, len, spec, d);
    if (ok && cut && spec->n_services == c.n) {
        memo->pieces = c.pieces;    /* One service per piece: recorded. */
        memo->n = c.n;
        memo->taken_from = taken_from;
        memo->compared = compared;
        c.pieces = NULL;
        taken_from = NULL;
    }
    free(taken_from);
    free(c.pieces);
    free(c.offsets);
    return ok;
}
