//! Spiking kernels against closed forms: the doublet rule's mean drift under independent
//! Poisson trains, a COBA neuron's firing rate under constant conductances, and conductance
//! decay.

use proptest::prelude::*;
use synplast_kernels::spiking::{coba_step, traces_update, CobaNeuron, DoubletRule};

/// xorshift64*: a tiny deterministic generator for the tests.
struct Xs(u64);
impl Xs {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545F4914F6CDD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// One synapse driven by independent Poisson pre and post trains (dt 0.1 ms, 400 s in 20
    /// blocks). The mean drift per second matches
    /// `eta [alpha nu_pre + beta nu_post + nu_pre nu_post (gamma tau_pre + kappa tau_post)]`
    /// within 4 standard errors of the block means plus 1% of the drift's scale (the traces are
    /// sampled on the 0.1 ms grid, which biases them by about dt / (2 tau) <= 0.5%).
    #[test]
    fn doublet_mean_drift_matches_theory(
        alpha in -2.0f64..2.0, beta in -2.0f64..2.0, gamma in -2.0f64..2.0, kappa in -2.0f64..2.0,
        tau_pre in 10.0f64..100.0, tau_post in 10.0f64..100.0,
        nu_pre in 5.0f64..30.0, nu_post in 5.0f64..30.0, seed in 1u64..u64::MAX,
    ) {
        let dt = 0.1; // ms
        let rule = DoubletRule { tau_pre, tau_post, alpha, beta, gamma, kappa, eta: 0.01, w_max: f64::INFINITY };
        let (dpre, dpost) = ((-dt / tau_pre).exp(), (-dt / tau_post).exp());
        let (ppre, ppost) = (nu_pre * dt * 1e-3, nu_post * dt * 1e-3);
        let mut rng = Xs(seed);
        let (mut xpre, mut xpost) = ([0.0f64], [0.0f64]);
        let blocks = 20;
        let steps = 200_000; // 20 s per block
        let mut drifts = Vec::new();
        for _ in 0..blocks {
            // Far from the lower clip, so every update counts.
            let w0 = 1e6;
            let mut w = w0;
            for _ in 0..steps {
                let pre = rng.uniform() < ppre;
                let post = rng.uniform() < ppost;
                if pre {
                    w = rule.on_pre(w, xpost[0]);
                }
                if post {
                    w = rule.on_post(w, xpre[0]);
                }
                traces_update(&mut xpre, if pre { &[0] } else { &[] }, 0, dpre).unwrap();
                traces_update(&mut xpost, if post { &[0] } else { &[] }, 0, dpost).unwrap();
            }
            drifts.push((w - w0) / (steps as f64 * dt * 1e-3));
        }
        let mean = drifts.iter().sum::<f64>() / blocks as f64;
        let var = drifts.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (blocks - 1) as f64;
        let se = (var / blocks as f64).sqrt();
        // Rates in Hz, time constants in s: drift per second.
        let (tp, tq) = (tau_pre * 1e-3, tau_post * 1e-3);
        let want = 0.01 * (alpha * nu_pre + beta * nu_post + nu_pre * nu_post * (gamma * tp + kappa * tq));
        let scale = 0.01 * (alpha.abs() * nu_pre + beta.abs() * nu_post
            + nu_pre * nu_post * (gamma.abs() * tp + kappa.abs() * tq));
        prop_assert!((mean - want).abs() <= 4.0 * se + 0.01 * scale,
            "drift {mean} vs {want} (se {se})");
    }
}

/// Under constant conductances a COBA neuron fires periodically. Its inter-spike interval is
/// exactly that of the Euler recursion `v_{n+1} = v_inf + (1 - k)(v_n - v_inf)`,
/// `k = dt (1 + g_e + g_i) / tau_m`, from reset to the first step above threshold, plus the
/// refractory steps; and within 2% of the continuous-time closed form
/// `t_ref + tau_eff ln((v_reset - v_inf) / (v_th - v_inf))`.
#[test]
fn coba_rate_under_constant_conductances_matches_closed_form() {
    let p = CobaNeuron::<f64>::benchmark();
    for &(g_e, g_i) in &[(0.0, 0.0), (0.3, 0.5), (0.8, 0.2), (0.1, 1.5)] {
        let gsum = 1.0 + g_e + g_i;
        let v_inf = (g_e * p.e_exc + g_i * p.e_inh + p.e_leak + p.drive) / gsum;
        if v_inf <= p.v_th {
            continue; // silent
        }
        // Euler recursion from reset.
        let k = p.dt * gsum / p.tau_m;
        let mut v = p.v_reset;
        let mut n = 0;
        loop {
            v = v_inf + (1.0 - k) * (v - v_inf);
            n += 1;
            if v > p.v_th {
                break;
            }
        }
        let isi_steps = n + p.refractory_steps as usize;
        // Simulate 10 s with the conductances held.
        let (mut vv, mut ge, mut gi, mut r) = ([p.v_reset], [g_e], [g_i], [0u16]);
        let mut s = [0u32];
        let mut times = Vec::new();
        for t in 0..100_000 {
            ge[0] = g_e;
            gi[0] = g_i;
            if coba_step(&p, &mut vv, &mut ge, &mut gi, &mut r, 0, &mut s).unwrap() == 1 {
                times.push(t);
            }
        }
        assert!(times.len() > 10);
        for w in times.windows(2) {
            assert_eq!(w[1] - w[0], isi_steps, "g_e {g_e} g_i {g_i}");
        }
        let tau_eff = p.tau_m / gsum;
        let t_cont = 5.0 + tau_eff * ((p.v_reset - v_inf) / (p.v_th - v_inf)).ln();
        let t_sim = isi_steps as f64 * p.dt;
        assert!(
            (t_sim - t_cont).abs() <= 0.02 * t_cont,
            "g_e {g_e} g_i {g_i}: {t_sim} ms vs {t_cont} ms"
        );
    }
}

/// The fSBI neuron (`docs/spiking_fsbi.md`) under constant conductances: its inter-spike interval matches
/// the continuous closed form `V(t) = V_inf + (V_reset - V_inf) e^{-t G / tau_m}` crossing the
/// decaying threshold `-50 + 100 e^{-t / 5 ms}`, the crossing found by bisection, within 2% + dt.
#[test]
fn fsbi_rate_under_constant_conductances_matches_root_of_closed_form() {
    use synplast_kernels::spiking::{fsbi_step, FsbiNeuron};
    let p = FsbiNeuron::<f64>::published();
    for &(ga, gn, gg) in &[
        (0.3, 0.3, 0.0),
        (1.0, 0.8, 0.2),
        (0.6, 1.5, 0.5),
        (3.0, 2.0, 1.0),
    ] {
        let g = 1.0 + 0.23 * ga + 0.77 * gn + gg;
        let v_inf = (-70.0 + gg * -80.0) / g;
        // Excitation pulls towards 0 mV, inhibition towards -80, the leak towards -70.
        let v = |t: f64| v_inf + (-70.0 - v_inf) * (-t * g / 20.0).exp();
        let f = |t: f64| v(t) - (-50.0 + 100.0 * (-t / 5.0).exp());
        if f(1e4) <= 0.0 {
            // Silent: the simulation must not spike either.
            let (mut vv, mut a, mut n, mut gb, mut th) = ([-70.0], [ga], [gn], [gg], [0.0]);
            let mut s = [0u32];
            for _ in 0..20_000 {
                a[0] = ga;
                n[0] = gn;
                gb[0] = gg;
                assert_eq!(
                    fsbi_step(&p, &mut vv, &mut a, &mut n, &mut gb, &mut th, 0, &mut s).unwrap(),
                    0
                );
            }
            continue;
        }
        let (mut lo, mut hi) = (0.0, 1e4);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if f(mid) > 0.0 {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        let t_cont = hi;
        let (mut vv, mut a, mut n, mut gb, mut th) = ([-70.0], [ga], [gn], [gg], [100.0]);
        let mut s = [0u32];
        let mut times = Vec::new();
        for t in 0..200_000 {
            a[0] = ga;
            n[0] = gn;
            gb[0] = gg;
            if fsbi_step(&p, &mut vv, &mut a, &mut n, &mut gb, &mut th, 0, &mut s).unwrap() == 1 {
                times.push(t);
            }
        }
        assert!(
            times.len() > 5,
            "({ga}, {gn}, {gg}): {} spikes",
            times.len()
        );
        let isi = (times[times.len() - 1] - times[1]) as f64 / (times.len() - 2) as f64 * 0.1;
        assert!(
            (isi - t_cont).abs() <= 0.02 * t_cont + 0.1,
            "({ga}, {gn}, {gg}): {isi} ms vs {t_cont} ms"
        );
    }
}

/// AMPA and GABA conductances decay exactly; NMDA low-passes a held AMPA conductance as
/// `g_N(n) = g_A (1 - (1 - r)^n)`, `r = 1 - e^{-dt / 100 ms}`.
#[test]
fn fsbi_conductances_follow_their_closed_forms() {
    use synplast_kernels::spiking::{fsbi_step, FsbiNeuron};
    let p = FsbiNeuron::<f64>::published();
    let (mut v, mut a, mut n, mut g, mut th) = ([-70.0], [2.0], [0.0], [3.0], [0.0]);
    let mut s = [0u32];
    for _ in 0..1000 {
        fsbi_step(&p, &mut v, &mut a, &mut n, &mut g, &mut th, 0, &mut s).unwrap();
    }
    assert!((a[0] - 2.0 * (-100.0f64 / 5.0).exp()).abs() < 1e-12);
    assert!((g[0] - 3.0 * (-100.0f64 / 10.0).exp()).abs() < 1e-12);
    let r = 1.0 - (-0.1f64 / 100.0).exp();
    let (mut v, mut a, mut n, mut g, mut th) = ([-70.0], [1.5], [0.0], [0.0], [0.0]);
    for _ in 0..500 {
        a[0] = 1.5;
        fsbi_step(&p, &mut v, &mut a, &mut n, &mut g, &mut th, 0, &mut s).unwrap();
    }
    assert!((n[0] - 1.5 * (1.0 - (1.0 - r).powi(500))).abs() < 1e-12);
}
