//! One behavioural session's gradient at the paper's size (240 trials, 2 -> 10 -> 1 network)
//! with the 81-term reward Taylor rule and the 61-parameter MLP rule, against the plain forward
//! simulation of the same session (`session_loss`) in the same run, so the gradient's cost reads
//! as a multiple of a simulation.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use std::time::Duration;
use synplast_benches::values;
use synplast_kernels::behavior::{
    adjoint_scratch_len, forward_scratch_len, session_gradient_adjoint, session_gradient_forward,
    session_loss, BehaviorNet, Session, Trace,
};
use synplast_kernels::reward::{MlpRule, RewardRule, RewardTaylorRule};

const H: usize = 10;
const TRIALS: usize = 240;

/// 240 trials; every fifth trial starts with one rejected presentation (288 presentations,
/// close to a fly's 286), odors alternating, reward signals in [-0.5, 0.5).
fn session() -> (Vec<f64>, Vec<bool>, Vec<f64>) {
    let noise = values(2 * 2 * TRIALS, 7, 0.1);
    let rs = values(2 * TRIALS, 8, 1.0);
    let (mut x, mut accept, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for t in 0..TRIALS {
        let reject_first = t % 5 == 0;
        for k in 0..(1 + usize::from(reject_first)) {
            let odor = (t + k) % 2;
            let i = x.len();
            x.push(if odor == 0 { 0.75 } else { 0.0 } + noise[i % noise.len()]);
            x.push(if odor == 1 { 0.75 } else { 0.0 } + noise[(i + 1) % noise.len()]);
            let acc = !(reject_first && k == 0);
            accept.push(acc);
            r.push(if acc { rs[t] } else { 0.0 });
        }
    }
    (x, accept, r)
}

fn bench_rule<R: RewardRule<f64>>(c: &mut Criterion, name: &str, rule: &R) {
    let mut g = c.benchmark_group("behavior_session");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let (x, accept, r) = session();
    let s = Session {
        x: &x,
        accept: &accept,
        r: &r,
    };
    let net = BehaviorNet {
        eta: 0.5,
        readout: 0.5,
        w_clip: 100.0,
    };
    let w0 = values(2 * H, 3, 0.02);
    let p = rule.n_params();
    g.bench_function(BenchmarkId::new("simulate_baseline", name), |b| {
        let mut w = w0.clone();
        let mut h = [0.0; H];
        b.iter(|| {
            w.copy_from_slice(&w0);
            session_loss(rule, &net, black_box(&mut w), &s, &mut h, Trace::default()).unwrap()
        })
    });
    g.bench_function(BenchmarkId::new("gradient_adjoint", name), |b| {
        let mut scratch = vec![0.0; adjoint_scratch_len(2, H, s.len())];
        let mut grad = vec![0.0; p];
        b.iter(|| {
            session_gradient_adjoint(rule, &net, H, black_box(&w0), &s, &mut scratch, &mut grad)
                .unwrap()
        })
    });
    g.bench_function(BenchmarkId::new("gradient_forward", name), |b| {
        let mut scratch = vec![0.0; forward_scratch_len(2, H, p)];
        let mut grad = vec![0.0; p];
        b.iter(|| {
            session_gradient_forward(
                rule,
                &net,
                H,
                black_box(&w0),
                &s,
                &mut scratch,
                &mut grad,
                None,
            )
            .unwrap()
        })
    });
    g.finish();
}

fn sessions(c: &mut Criterion) {
    let mut taylor = RewardTaylorRule::<f64>::zeros();
    taylor.write_params(&values(81, 11, 0.02));
    taylor.theta[27 + 1] = 1.0; // x*r dominant, as after a fit
    bench_rule(c, "taylor81", &taylor);
    let mut mlp = MlpRule::<f64, 10>::zeros();
    mlp.write_params(&values(61, 12, 0.2));
    bench_rule(c, "mlp10", &mlp);
}

criterion_group!(benches, sessions);
criterion_main!(benches);
