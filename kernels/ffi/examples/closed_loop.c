/* closed_loop.c: a closed-loop rig in miniature, against libsynplast_ffi.a.
 *
 * Each 1 ms tick: read a stimulus (here a deterministic two-tone signal standing in for an ADC),
 * step a plastic 32 -> 8 rate layer with Oja's rule, drive a 100-neuron COBA network with
 * E->E doublet STDP for ten 0.1 ms steps (the layer's output raises the excitatory conductance
 * of the first neurons), and write an output line (a DAC stand-in). At the end, prune a 64 x 64
 * matrix. Everything lives in static or stack memory; the program checks every status code and
 * exits non-zero on any error.
 */
#include "synplast.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define NI 32
#define NO 8
#define N 100
#define NE 80
#define P 64
#define TICKS 2000

static uint64_t lcg = 12345u;
static double uniform01(void) {
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(lcg >> 11) / 9007199254740992.0;
}

/* Fixed-probability CSR projection from rows [0, n_pre) to targets [t0, t0 + n_post). */
static uint32_t build(uint32_t n_pre, uint32_t pre0, uint32_t n_post, uint32_t t0, double p,
                      uint32_t *ptr, uint32_t *target, uint32_t cap) {
    uint32_t k = 0;
    ptr[0] = 0;
    for (uint32_t i = 0; i < n_pre; i++) {
        for (uint32_t j = 0; j < n_post; j++) {
            if (pre0 + i != t0 + j && uniform01() < p && k < cap) target[k++] = t0 + j;
        }
        ptr[i + 1] = k;
    }
    return k;
}

#define CAP 4000
static uint32_t ee_ptr[NE + 1], ee_target[CAP], ee_in_ptr[NE + 1], ee_in_syn[CAP], ee_in_pre[CAP];
static uint32_t ei_ptr[NE + 1], ei_target[CAP], ia_ptr[N - NE + 1], ia_target[CAP];
static float ei_w[CAP], ia_w[CAP], ee_w[CAP];
static float v[N], ge[N], gi[N], x_pre[NE], x_post[NE];
static uint16_t refr[N];
static uint32_t spikes[N];
static double pw[P * P], pc[P * P], ps[P * P], pp[P * P], pout[P * P], pdiag[P];

static int check(int32_t r, const char *what) {
    if (r != SYNPLAST_OK) {
        fprintf(stderr, "closed_loop: %s failed with status %d\n", what, r);
        exit(1);
    }
    return 0;
}

int main(void) {
    /* Network. */
    uint32_t see = build(NE, 0, NE, 0, 0.2, ee_ptr, ee_target, CAP);
    uint32_t sei = build(NE, 0, N - NE, NE, 0.2, ei_ptr, ei_target, CAP);
    uint32_t sia = build(N - NE, NE, N, 0, 0.2, ia_ptr, ia_target, CAP);
    /* E->E incoming index by target. */
    uint32_t count[NE + 1] = {0};
    for (uint32_t k = 0; k < see; k++) count[ee_target[k] + 1]++;
    for (uint32_t t = 0; t < NE; t++) count[t + 1] += count[t];
    for (uint32_t t = 0; t <= NE; t++) ee_in_ptr[t] = count[t];
    for (uint32_t i = 0; i < NE; i++)
        for (uint32_t k = ee_ptr[i]; k < ee_ptr[i + 1]; k++) {
            uint32_t at = count[ee_target[k]]++;
            ee_in_syn[at] = k;
            ee_in_pre[at] = i;
        }
    for (uint32_t k = 0; k < see; k++) ee_w[k] = 0.6f;
    for (uint32_t k = 0; k < sei; k++) ei_w[k] = 0.6f;
    for (uint32_t k = 0; k < sia; k++) ia_w[k] = 6.7f;
    for (int i = 0; i < N; i++) v[i] = -60.0f + 10.0f * (float)uniform01();
    SynplastCobaNet net = {N, NE, ee_ptr, ee_target, ee_in_ptr, ee_in_syn, ee_in_pre,
                           ei_ptr, ei_target, ei_w, ia_ptr, ia_target, ia_w,
                           {20.0f, 20.0f, -0.01f, 0.0f, 1.0f, -1.05f, 0.001f, 1.2f}};
    SynplastCobaState st = {v, ge, gi, refr, ee_w, x_pre, x_post, spikes};

    /* Rate layer with Oja's rule. */
    float w[NO * NI], x[NI], y[NO], theta[27] = {0};
    theta[12] = 1.0f;
    theta[7] = -1.0f;
    for (int k = 0; k < NO * NI; k++) w[k] = 0.1f * (float)(uniform01() - 0.5);

    unsigned long total_spikes = 0;
    for (int tick = 0; tick < TICKS; tick++) {
        for (int j = 0; j < NI; j++) /* read the stimulus */
            x[j] = (float)(0.5 * sin(0.05 * tick + 0.3 * j) + 0.2 * sin(0.013 * tick * (j % 3 + 1)));
        check(synplast_rate_step_f32(w, NI, NO, x, y, theta, 0.01f), "rate step");
        for (int i = 0; i < NO; i++) ge[i] += 0.5f * y[i]; /* layer output drives the network */
        for (int s = 0; s < 10; s++) {
            uint32_t n_spk = 0;
            check(synplast_coba_step(&net, &st, &n_spk), "network step");
            total_spikes += n_spk;
        }
        if (tick % 500 == 0) /* write the output */
            printf("tick %4d  y0 %.4f  spikes so far %lu\n", tick, y[0], total_spikes);
    }
    double mean_w = 0;
    for (uint32_t k = 0; k < see; k++) mean_w += ee_w[k];
    mean_w /= see;

    /* Prune a 64 x 64 symmetric diagonally dominant matrix, with covariance 0.5 * L^-1
     * approximated by 0.5 / diag (enough for a smoke test of the calls). */
    for (int i = 0; i < P; i++)
        for (int j = i + 1; j < P; j++) {
            double val = uniform01() < 0.5 ? uniform01() : 0.0;
            pw[i * P + j] = pw[j * P + i] = val;
        }
    for (int i = 0; i < P; i++) {
        double s = 0;
        for (int j = 0; j < P; j++) if (j != i) s += fabs(pw[i * P + j]);
        pw[i * P + i] = -s - 1.0;
        pc[i * P + i] = 0.5 / (s + 1.0);
    }
    uint64_t rng = 42;
    uint32_t kept = 0;
    check(synplast_prune_score_f64(pw, pc, P, pdiag, ps), "prune score");
    check(synplast_prune_sample_f64(pw, ps, P, 2.0, &rng, pp, pout, &kept), "prune sample");
    /* A bad call must be refused, not crash. */
    if (synplast_prune_score_f64(NULL, pc, P, pdiag, ps) != SYNPLAST_EBADARG) {
        fprintf(stderr, "closed_loop: a null pointer was not refused\n");
        return 1;
    }
    printf("done: %d ticks, %lu spikes (%.2f Hz per neuron), mean E->E weight %.4f, kept %u pairs\n",
           TICKS, total_spikes, total_spikes / (double)N / (TICKS * 1e-3), mean_w, kept);
    if (total_spikes == 0 || kept == 0) return 1;
    return 0;
}
