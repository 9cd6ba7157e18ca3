/* Solving OVS select-group bucket weights for proportional shares. */
#include "weights.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct indexed {
    double w;
    size_t i;
};

static int
compare_indexed(const void *a_, const void *b_)
{
    const struct indexed *a = a_, *b = b_;
    return a->w < b->w ? -1 : a->w > b->w;
}

/* With X_i = w_i * U_i (U_i uniform on [0,1]), bucket p wins with
 *   P_p = (1/w_p) * integral_0^{w_p} prod_{j != p} min(x / w_j, 1) dx.
 * Sorting w ascending (s_0 <= ... <= s_{n-1}), on the segment
 * (s_{k-1}, s_k] the factors with j >= k are x / s_j and the rest are 1,
 * so each segment integrates in closed form. Logs keep the products of
 * many small weights from underflowing. O(n^2). */
void
weights_shares(const double *w, size_t n, double *share)
{
    struct indexed *s = malloc(n * sizeof *s);
    double *suffix_log = malloc((n + 1) * sizeof *suffix_log);
    double max = 0;
    for (size_t i = 0; i < n; i++) {
        max = w[i] > max ? w[i] : max;
    }
    for (size_t i = 0; i < n; i++) {
        s[i].w = w[i] / max;
        s[i].i = i;
    }
    qsort(s, n, sizeof *s, compare_indexed);
    suffix_log[n] = 0;
    for (size_t k = n; k-- > 0;) {
        suffix_log[k] = suffix_log[k + 1] + log(s[k].w);
    }
    for (size_t p = 0; p < n; p++) {
        double total = 0;
        for (size_t k = 0; k <= p; k++) {
            double m1 = (double) (n - k);          /* exponent m + 1 */
            double lo = k ? s[k - 1].w : 0;
            double hi = s[k].w;
            if (hi <= lo) {
                continue;
            }
            double log_prod = suffix_log[k] - log(s[p].w);
            double term = exp(m1 * log(hi) - log(m1) - log_prod)
                          * (1 - pow(lo / hi, m1));
            total += term;
        }
        share[s[p].i] = total / s[p].w;
    }
    free(s);
    free(suffix_log);
}

/* A few services usually share one weight vector (or few), so remember
 * the last solutions: a 10,000-service spec solves each vector once. */
#define CACHE_SIZE 64
struct cache_entry {
    uint32_t *want;
    uint16_t *out;
    size_t n;
};
static struct cache_entry cache[CACHE_SIZE];
static size_t cache_next;

static bool
cache_lookup(const uint32_t *want, size_t n, uint16_t *out)
{
    for (size_t i = 0; i < CACHE_SIZE; i++) {
        if (cache[i].n == n && !memcmp(cache[i].want, want, n * sizeof *want)) {
            memcpy(out, cache[i].out, n * sizeof *out);
            return true;
        }
    }
    return false;
}

static void
cache_store(const uint32_t *want, size_t n, const uint16_t *out)
{
    struct cache_entry *e = &cache[cache_next];
    cache_next = (cache_next + 1) % CACHE_SIZE;
    free(e->want);
    free(e->out);
    e->n = n;
    e->want = malloc(n * sizeof *want);
    e->out = malloc(n * sizeof *out);
    memcpy(e->want, want, n * sizeof *want);
    memcpy(e->out, out, n * sizeof *out);
}

void
weights_solve(const uint32_t *want, size_t n, uint16_t *out)
{
    bool equal = true;
    for (size_t i = 1; i < n; i++) {
        equal = equal && want[i] == want[0];
    }
    if (equal) {
        for (size_t i = 0; i < n; i++) {
            out[i] = want[i] > WEIGHTS_MAX ? WEIGHTS_MAX : want[i];
        }
        return;
    }
    if (cache_lookup(want, n, out)) {
        return;
    }

    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += want[i];
    }
    double *target = malloc(n * sizeof *target);
    double *w = malloc(n * sizeof *w);
    double *share = malloc(n * sizeof *share);
    for (size_t i = 0; i < n; i++) {
        target[i] = want[i] / sum;
        w[i] = target[i];
    }
    /* Fixed-point iteration: a bucket's share grows with its own weight,
     * so scale each weight by how far its share is from the target. The
     * square root damps oscillation; it converges in tens of steps. */
    for (int iter = 0; iter < 500; iter++) {
        weights_shares(w, n, share);
        double worst = 0;
        for (size_t i = 0; i < n; i++) {
            double err = fabs(share[i] - target[i]) / target[i];
            worst = err > worst ? err : worst;
            w[i] *= sqrt(target[i] / share[i]);
        }
        if (worst < 1e-6) {
            break;
        }
    }
    double max = 0;
    for (size_t i = 0; i < n; i++) {
        max = w[i] > max ? w[i] : max;
    }
    for (size_t i = 0; i < n; i++) {
        long v = lround(w[i] / max * WEIGHTS_MAX);
        out[i] = v < 1 ? 1 : v;
    }
    cache_store(want, n, out);
    free(target);
    free(w);
    free(share);
}
