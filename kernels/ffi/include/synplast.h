/* synplast.h: C ABI of synplast-ffi (static library libsynplast_ffi.a).
 *
 * Every function checks its pointers and sizes and returns SYNPLAST_OK (0) or a negative error
 * code; none allocates, none keeps a pointer after it returns. All matrices are row-major.
 * On a hosted target link with: -lsynplast_ffi -lpthread -ldl -lm
 *
 * Per-call cost and memory (measured with `cargo bench -p synplast-benches --bench rig`):
 *   synplast_rate_step_f32      n_in*n_out rule evaluations; memory: the caller's W, x, y
 *   synplast_coba_step          O(N + spikes * fan-out); memory: the caller's network arrays
 *   synplast_prune_score_f64    O(n^2); n doubles of scratch
 *   synplast_prune_sample_f64   O(n^2) with one uniform draw per pair; n*n doubles of scratch
 */
#ifndef SYNPLAST_H
#define SYNPLAST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SYNPLAST_OK 0
#define SYNPLAST_EBADARG (-1)   /* null pointer, zero or inconsistent size */
#define SYNPLAST_ESHAPE (-2)    /* a buffer length does not match the dimensions */
#define SYNPLAST_ENONFINITE (-3) /* an input or a computed state is NaN or infinite */
#define SYNPLAST_ERANGE (-4)    /* a parameter or an index is out of range */

/* One step of a plastic rate layer: y = sigmoid(W x), then
 * W_ij += eta * sum_{a,b,c} theta[9a+3b+c] x_j^a y_i^b W_ij^c.
 * w: n_out*n_in, x: n_in, y: n_out, theta: 27 (Oja: theta[12] = 1, theta[7] = -1). */
int32_t synplast_rate_step_f32(float *w, size_t n_in, size_t n_out, const float *x, float *y,
                               const float *theta, float eta);

/* A COBA network (Brette et al. 2007 neuron, dt 0.1 ms) with E->E doublet STDP.
 * Neurons 0..n_exc-1 are excitatory, n_exc..n-1 inhibitory. Projections are compressed sparse
 * rows: synapses of presynaptic row i are ptr[i]..ptr[i+1]-1. */
typedef struct {
    uint32_t n, n_exc;
    const uint32_t *ee_ptr, *ee_target;                   /* E->E: n_exc+1 rows; targets < n_exc */
    const uint32_t *ee_in_ptr, *ee_in_syn, *ee_in_pre;    /* E->E by target: n_exc+1 rows */
    const uint32_t *ei_ptr, *ei_target; const float *ei_w; /* E->I: n_exc+1 rows */
    const uint32_t *ia_ptr, *ia_target; const float *ia_w; /* I->all: n-n_exc+1 rows */
    float stdp[8]; /* tau_pre, tau_post (ms), alpha, beta, gamma, kappa, eta, w_max */
} SynplastCobaNet;

typedef struct {
    float *v, *ge, *gi;     /* n each: mV, and conductances in units of the leak */
    uint16_t *refractory;   /* n: steps left */
    float *ee_w;            /* ee_ptr[n_exc] E->E weights (plastic) */
    float *x_pre, *x_post;  /* n_exc traces each */
    uint32_t *spikes;       /* n: receives this step's spiking neurons */
} SynplastCobaState;

/* One 0.1 ms step: neurons, spike delivery, plasticity, traces. *n_spikes receives the count. */
int32_t synplast_coba_step(const SynplastCobaNet *net, const SynplastCobaState *state,
                           uint32_t *n_spikes);

/* Pruning scores out_ij = |w_ij| (C_ii + C_jj - 2 sign(w_ij) C_ij) for n x n w and c.
 * diag: n scratch. */
int32_t synplast_prune_score_f64(const double *w, const double *c, size_t n, double *diag,
                                 double *out);

/* Symmetric pruning: keep pair (i, j) with p = min(1, rho * score), reweight by 1/p, reset the
 * diagonal; out: n*n result, p: n*n scratch (left holding the probabilities), rng_state: a
 * SplitMix64 state the call advances, *kept: the number of kept pairs. */
int32_t synplast_prune_sample_f64(const double *w, const double *scores, size_t n, double rho,
                                  uint64_t *rng_state, double *p, double *out, uint32_t *kept);

#ifdef __cplusplus
}
#endif

#endif /* SYNPLAST_H */
