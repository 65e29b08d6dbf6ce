//! Kernel steps with arbitrary floats (NaN and infinities included), sizes and buffer
//! lengths: every kernel must return a value or an error, never panic.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use synplast_kernels::behavior::{
    self, apply_rule, session_gradient_adjoint, session_gradient_forward, session_loss,
    BehaviorNet, Session, Trace,
};
use synplast_kernels::gradient::{
    adjoint_scratch_len, forward_scratch_len, loss_gradient_adjoint, loss_gradient_forward,
    loss_scratch_len, trajectory_loss, Observation, Shape,
};
use synplast_kernels::linear::{
    batch_epoch, batch_epoch_sensitivity, sensitivity_scratch_len, LinearShape, NoPlasticity,
};
use synplast_kernels::prune;
use synplast_kernels::rate::{rate_forward, rate_step, simulate, FixedRateLayer};
use synplast_kernels::reward::{MlpRule, RewardAverage, RewardRule, RewardTaylorRule};
use synplast_kernels::spiking::{
    coba_step, deliver, doublet_post, doublet_pre, fsbi_step, mlp_post, mlp_pre, poisson_next_step,
    traces_update, CobaNeuron, DoubletRule, FsbiNeuron, MlpReadout, PostState, RateChecker,
    SpikeRing, SpikingMlp,
};
use synplast_kernels::{OjaRule, TaylorRule};

fn floats(u: &mut Unstructured<'_>, n: usize) -> Result<Vec<f64>> {
    (0..n).map(|_| u.arbitrary::<f64>()).collect()
}

/// Arbitrary floats, as many as [`len`] gives for `want`.
fn near(u: &mut Unstructured<'_>, want: usize) -> Result<Vec<f64>> {
    let n = len(u, want)?;
    floats(u, n)
}

/// A length near `want`: usually right, sometimes off by a little, to reach the shape checks.
fn len(u: &mut Unstructured<'_>, want: usize) -> Result<usize> {
    Ok(match u.int_in_range(0..=7u8)? {
        0 => want.saturating_sub(1),
        1 => want + 1,
        _ => want,
    })
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let n_in = u.int_in_range(0..=6usize)?;
    let n_out = u.int_in_range(0..=6usize)?;
    let steps = u.int_in_range(0..=5usize)?;
    let mut theta = [0.0; 27];
    for t in theta.iter_mut() {
        *t = u.arbitrary()?;
    }
    let rule = TaylorRule::new(theta);
    let eta: f64 = u.arbitrary()?;
    let mut w = near(u, n_in * n_out)?;
    let x = near(u, n_in)?;
    let mut y = vec![0.0; len(u, n_out)?];
    let _ = rate_forward(&w, &x, &mut y);
    let _ = rate_step(&rule, eta, &mut w, &x, &mut y);
    let _ = rate_step(&OjaRule, eta, &mut w, &x, &mut y);

    let shape = Shape { n_in, n_out, steps };
    let w0 = near(u, n_in * n_out)?;
    let xs = near(u, steps * n_in)?;
    let y_obs = near(u, steps * n_out)?;
    let mask = near(u, n_out)?;
    let obs = Observation {
        x: &xs,
        y_obs: &y_obs,
        mask: &mask,
    };
    let mut grad = vec![0.0; len(u, 27)?];
    if let Ok(l) = loss_scratch_len(shape) {
        let mut s = vec![0.0; len(u, l)?];
        let _ = trajectory_loss(&rule, eta, shape, &w0, &obs, &mut s);
    }
    if let Ok(l) = adjoint_scratch_len(shape) {
        let mut s = vec![0.0; len(u, l)?];
        let _ = loss_gradient_adjoint(&rule, eta, shape, &w0, &obs, &mut s, &mut grad);
    }
    if let Ok(l) = forward_scratch_len(shape, 27) {
        let mut s = vec![0.0; len(u, l)?];
        let mut jtj = vec![0.0; len(u, 27 * 27)?];
        let _ = loss_gradient_forward(
            &rule,
            eta,
            shape,
            &w0,
            &obs,
            &mut s,
            &mut grad,
            Some(&mut jtj),
        );
    }
    if n_in > 0 && n_in * n_out == w0.len() {
        let mut wk = vec![0.0; w0.len()];
        let mut yo = vec![0.0; len(u, steps * n_out)?];
        let _ = simulate(&rule, eta, n_in, &w0, &xs, &mut wk, &mut yo, None);
    }

    let n_samples = u.int_in_range(0..=5usize)?;
    let ls = LinearShape {
        n_in,
        n_out,
        n_samples,
    };
    let xb = near(u, n_samples * n_in)?;
    let mut wb = near(u, n_out * n_in)?;
    let mut lb = near(u, n_out * n_out)?;
    let mut yb = vec![0.0; len(u, n_samples * n_out)?];
    let _ = batch_epoch(&rule, &rule, eta, ls, &xb, &mut wb, &mut lb, &mut yb);
    let _ = batch_epoch(
        &rule,
        &NoPlasticity,
        eta,
        ls,
        &xb,
        &mut wb,
        &mut lb,
        &mut yb,
    );
    if let Ok(l) = sensitivity_scratch_len(ls, 54) {
        let mut sw = vec![0.0; len(u, n_out * n_in * 54)?];
        let mut sl = vec![0.0; len(u, n_out * n_out * 54)?];
        let mut s = vec![0.0; len(u, l)?];
        let _ = batch_epoch_sensitivity(
            &rule, &rule, eta, ls, &xb, &mut wb, &mut lb, &mut sw, &mut sl, &mut s,
        );
    }

    behavior_kernels(u)?;
    prune_kernels(u)?;
    spiking_kernels(u)?;

    let mut fixed = FixedRateLayer::<f32, 3, 2>::new([[u.arbitrary()?; 3]; 2]);
    let xf: [f32; 3] = [u.arbitrary()?, u.arbitrary()?, u.arbitrary()?];
    let _ = fixed.step(&OjaRule, u.arbitrary()?, &xf);
    Ok(())
}

/// The reward rules, the behaving network and its session gradients.
fn behavior_kernels(u: &mut Unstructured<'_>) -> Result<()> {
    let n_in = u.int_in_range(0..=3usize)?;
    let n_h = u.int_in_range(0..=4usize)?;
    let t = u.int_in_range(0..=6usize)?;
    let mut taylor = RewardTaylorRule::<f64>::zeros();
    taylor.write_params(&floats(u, 81)?);
    let mut mlp = MlpRule::<f64, 3>::zeros();
    mlp.write_params(&floats(u, 19)?);
    let net = BehaviorNet {
        eta: u.arbitrary()?,
        readout: u.arbitrary()?,
        w_clip: u.arbitrary()?,
    };
    let z = floats(u, 4)?;
    let _ = taylor.partials(z[0], z[1], z[2], z[3]);
    let _ = mlp.partials(z[0], z[1], z[2], z[3]);
    let mut acc = near(u, 81)?;
    taylor.accumulate_param_gradient(z[0], z[1], z[2], z[3], z[0], &mut acc);
    mlp.accumulate_param_gradient(z[0], z[1], z[2], z[3], z[1], &mut acc);
    let mut avg = RewardAverage::<f64, 3>::new();
    for v in &z {
        let _ = avg.signal(*v);
    }
    let mut w = near(u, n_h * n_in)?;
    let x = near(u, n_in)?;
    let mut h = vec![0.0; len(u, n_h)?];
    let _ = behavior::hidden(&w, &x, &mut h);
    let _ = apply_rule(&taylor, &net, &mut w, &x, &h, z[3]);
    let xs = near(u, t * n_in)?;
    let accept: Vec<bool> = (0..t).map(|_| u.arbitrary()).collect::<Result<_>>()?;
    let rs = near(u, t)?;
    let s = Session {
        x: &xs,
        accept: &accept,
        r: &rs,
    };
    let w0 = near(u, n_h * n_in)?;
    let mut hs = vec![0.0; len(u, t * n_h)?];
    let mut ws = vec![0.0; len(u, t * n_h * n_in)?];
    let mut ps = vec![0.0; len(u, t)?];
    let mut wl = w0.clone();
    let tr = Trace {
        hidden: Some(&mut hs),
        weights: Some(&mut ws),
        p_accept: Some(&mut ps),
    };
    let _ = session_loss(&taylor, &net, &mut wl, &s, &mut h, tr);
    let mut grad = vec![0.0; len(u, 81)?];
    let mut sa = vec![0.0; len(u, behavior::adjoint_scratch_len(n_in, n_h, t))?];
    let _ = session_gradient_adjoint(&taylor, &net, n_h, &w0, &s, &mut sa, &mut grad);
    let mut sf = vec![0.0; len(u, behavior::forward_scratch_len(n_in, n_h, 19))?];
    let mut gm = vec![0.0; len(u, 19)?];
    let mut fisher = vec![0.0; len(u, 19 * 19)?];
    let _ = session_gradient_forward(
        &mlp,
        &net,
        n_h,
        &w0,
        &s,
        &mut sf,
        &mut gm,
        Some(&mut fisher),
    );
    Ok(())
}

/// A small PRNG fed from the fuzz input (pruning draws from a `rand_core` generator).
struct Bytes(u64);
impl prune_rng::RngCore for Bytes {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1);
        self.0 >> 3
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for b in dst {
            *b = self.next_u64() as u8;
        }
    }
}
use synplast::rng::rand_core as prune_rng;

/// Scores, probabilities, rho, sampling, diagonal reset, noise steps, running covariance and
/// the rectified-linear step.
fn prune_kernels(u: &mut Unstructured<'_>) -> Result<()> {
    let n = u.int_in_range(0..=5usize)?;
    let w = near(u, n * n)?;
    let c = near(u, n * n)?;
    let mut diag = vec![0.0; len(u, n)?];
    let mut s = vec![0.0; len(u, n * n)?];
    let _ = prune::score(&w, &c, n, &mut diag, &mut s);
    let mut p = vec![0.0; s.len()];
    let _ = prune::keep_probabilities(&s, u.arbitrary()?, &mut p);
    let _ = prune::rho_for_expected_count(&s, u.arbitrary()?);
    let _ = prune::rho_theory(n, u.arbitrary()?, u.arbitrary::<f64>()?);
    let mut rng = Bytes(u.arbitrary()?);
    let mut out = vec![0.0; len(u, n * n)?];
    let _ = prune::sample_symmetric(&w, &p, n, &mut rng, &mut out);
    let _ = prune::sample_directed(&w, &p, n, &mut rng, &mut out);
    let _ = prune::reset_diagonal(&w, &mut out, n);
    let mut x = near(u, n)?;
    let b = near(u, n)?;
    let mut scratch = vec![0.0; len(u, n)?];
    let _ = prune::euler_maruyama_step(
        &w,
        &b,
        u.arbitrary()?,
        u.arbitrary()?,
        &mut x,
        &mut scratch,
        &mut rng,
    );
    let _ = prune::relu_step(&w, &b, u.arbitrary()?, &mut x, &mut scratch);
    let mut mean = near(u, n)?;
    let mut m2 = near(u, n * n)?;
    let mut count: u64 = u.arbitrary()?;
    let _ = prune::covariance_update(&x, &mut mean, &mut m2, &mut count, &mut scratch);
    let _ = prune::covariance_finish(&m2, count, n, &mut out);
    Ok(())
}

fn indices(u: &mut Unstructured<'_>, n: usize, max: u32) -> Result<Vec<u32>> {
    (0..n).map(|_| u.int_in_range(0..=max)).collect()
}

/// COBA neurons, delivery over arbitrary (possibly inconsistent) rows, doublet updates and
/// traces.
fn spiking_kernels(u: &mut Unstructured<'_>) -> Result<()> {
    let n = u.int_in_range(0..=6usize)?;
    let mut p = CobaNeuron::<f64>::benchmark();
    p.dt = u.arbitrary()?;
    p.drive = u.arbitrary()?;
    let mut v = near(u, n)?;
    let mut ge = near(u, n)?;
    let mut gi = near(u, n)?;
    let mut refr: Vec<u16> = (0..len(u, n)?)
        .map(|_| u.arbitrary())
        .collect::<Result<_>>()?;
    let mut spikes = vec![0u32; len(u, n)?];
    let first: u32 = u.arbitrary()?;
    let _ = coba_step(&p, &mut v, &mut ge, &mut gi, &mut refr, first, &mut spikes);
    let rows = u.int_in_range(0..=4usize)?;
    let syn = u.int_in_range(0..=8usize)?;
    let ptr = indices(u, rows + 1, 9)?;
    let target = indices(u, syn, 7)?;
    let mut w = near(u, syn)?;
    let n_fired = u.int_in_range(0..=3usize)?;
    let fired = indices(u, n_fired, 5)?;
    let _ = deliver(&ptr, &target, &w, &fired, &mut ge);
    let rule = DoubletRule {
        tau_pre: u.arbitrary()?,
        tau_post: u.arbitrary()?,
        alpha: u.arbitrary()?,
        beta: u.arbitrary()?,
        gamma: u.arbitrary()?,
        kappa: u.arbitrary()?,
        eta: u.arbitrary()?,
        w_max: u.arbitrary()?,
    };
    let x = near(u, n)?;
    let _ = doublet_pre(&rule, &ptr, &target, u.arbitrary()?, &mut w, &fired, &x);
    let in_syn = indices(u, syn, 9)?;
    let n_pre = len(u, syn)?;
    let in_pre = indices(u, n_pre, 7)?;
    let _ = doublet_post(
        &rule,
        &ptr,
        &in_syn,
        &in_pre,
        u.arbitrary()?,
        &mut w,
        &fired,
        &x,
    );
    let mut tr = near(u, n)?;
    let _ = traces_update(&mut tr, &fired, u.arbitrary()?, u.arbitrary()?);

    let mut q = FsbiNeuron::<f64>::published();
    q.dt = u.arbitrary()?;
    q.theta_spike = u.arbitrary()?;
    let (mut ga, mut gn, mut gg, mut th) = (near(u, n)?, near(u, n)?, near(u, n)?, near(u, n)?);
    let mut v2 = near(u, n)?;
    let first: u32 = u.arbitrary()?;
    let _ = fsbi_step(
        &q,
        &mut v2,
        &mut ga,
        &mut gn,
        &mut gg,
        &mut th,
        first,
        &mut spikes,
    );
    let cap = u.int_in_range(0..=4usize)?;
    let depth = u.int_in_range(0..=3usize)?;
    let mut slots = vec![0u32; len(u, depth * cap)?];
    let mut counts = vec![0u32; depth];
    if let Ok(mut ring) = SpikeRing::new(&mut slots, &mut counts, cap) {
        let at: usize = u.int_in_range(0..=10)?;
        let _ = ring.push(at, &fired);
        let _ = ring.due(at).len();
        ring.clear(at);
    }
    let mut rng = Bytes(u.arbitrary()?);
    let _ = poisson_next_step(u.arbitrary()?, &mut rng);
    let mut checker = RateChecker {
        tau_ms: u.arbitrary()?,
        max_hz: u.arbitrary()?,
        avg_hz: 0.0,
    };
    let _ = checker.update(
        u.arbitrary::<u16>()? as usize,
        u.arbitrary::<u16>()? as usize,
        u.arbitrary()?,
    );
    let mlp = SpikingMlp::<f64, 2> {
        w1: [[u.arbitrary()?; 6]; 2],
        b1: [u.arbitrary()?; 2],
        w2: [[u.arbitrary()?; 2]; 4],
        b2: [u.arbitrary()?; 4],
    };
    let ro = MlpReadout {
        eta: u.arbitrary()?,
        pre: [u.arbitrary()?; 5],
        post: [u.arbitrary()?; 5],
        w_max: u.arbitrary()?,
    };
    let (x1, x2, vl, ce, ci) = (
        near(u, n)?,
        near(u, n)?,
        near(u, n)?,
        near(u, n)?,
        near(u, n)?,
    );
    let post = PostState {
        x1: &x1,
        x2: &x2,
        v: &vl,
        c_exc: &ce,
        c_inh: &ci,
    };
    let _ = mlp_pre(
        &mlp,
        &ro,
        &ptr,
        &target,
        u.arbitrary()?,
        &mut w,
        &fired,
        &x,
        &post,
    );
    let _ = mlp_post(
        &mlp,
        &ro,
        &ptr,
        &in_syn,
        &in_pre,
        u.arbitrary()?,
        &mut w,
        &fired,
        &x,
        &post,
    );
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
