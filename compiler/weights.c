/* Solving OVS select-group bucket weights for proportional shares. */
#include "weights.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

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

/* Solving for the weights. With Q(x) = prod_j min(x / s_j, 1), the share
 * of the bucket with weight s_i is integral_0^{s_i} Q(x)/x dx, so shares
 * grow with the sorted weights and the share difference between sorted
 * neighbours k-1 and k is the integral over (s_{k-1}, s_k] alone:
 *   D_k = (s_k^c - s_{k-1}^c) / (c * prod_{j>=k} s_j),  c = n - k + 1.
 * Fixing the largest weight at 1 and walking down, each equation gives the
 * next smaller weight exactly:
 *   s_{k-1} = s_k * (1 - c * D_k * prod_{j>=k} (s_j / s_k))^(1/c).
 * (The products are kept as sums of logs: they overflow for large n.) */
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

    struct indexed *sorted = malloc(n * sizeof *sorted);
    double *s = malloc(n * sizeof *s);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += want[i];
        sorted[i].w = want[i];
        sorted[i].i = i;
    }
    qsort(sorted, n, sizeof *sorted, compare_indexed);

    s[n - 1] = 1.0;
    double log_sum = 0;         /* sum_{j >= k} log s_j */
    for (size_t k = n - 1; k > 0; k--) {
        log_sum += log(s[k]);
        double c = (double) (n - k);
        double d = (sorted[k].w - sorted[k - 1].w) / sum;
        double r = c * d * exp(log_sum - c * log(s[k]));
        s[k - 1] = r < 1 ? s[k] * pow(1 - r, 1 / c) : 0;
    }
    for (size_t k = 0; k < n; k++) {
        long v = lround(s[k] * WEIGHTS_MAX);
        out[sorted[k].i] = v < 1 ? 1 : v > WEIGHTS_MAX ? WEIGHTS_MAX : v;
    }
    free(sorted);
    free(s);
}
