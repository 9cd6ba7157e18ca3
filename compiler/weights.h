/* Bucket weights for OVS select groups with selection_method=hash.
 *
 * OVS picks, for each flow, the live bucket with the highest score
 * (hash(bucket_id, flow) & 0xffff) * weight: the maximum of uniforms scaled
 * by the weights. That is consistent (rendezvous) hashing, but the shares
 * are NOT proportional to the weights (3:1 gives about 83:17). These
 * functions solve for the bucket weights that make the shares proportional
 * to what the operator asked for. */
#ifndef FLOWLB_WEIGHTS_H
#define FLOWLB_WEIGHTS_H 1

#include <stddef.h>
#include <stdint.h>

/* Largest bucket weight produced: scores must fit 32 bits. */
#define WEIGHTS_MAX 65535

/* Given the operator's weights 'want' (all > 0), writes to 'out' the OVS
 * bucket weights (1..WEIGHTS_MAX) whose selection shares are proportional
 * to 'want'. Equal weights are returned unchanged. */
void weights_solve(const uint32_t *want, size_t n, uint16_t *out);

/* The selection probability of each bucket under OVS's scoring for bucket
 * weights 'w' (continuous model: uniform hash). Writes n shares to 'share'.
 * Exposed for tests and the IR dump. */
void weights_shares(const double *w, size_t n, double *share);

#endif /* FLOWLB_WEIGHTS_H */
