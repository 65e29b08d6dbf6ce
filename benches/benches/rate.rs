//! One rate step and one trajectory gradient at the paper's sizes (50 -> 50, 50 steps) and at
//! 100 -> 1000, with baselines in the same run:
//! - the step with the 27-term Taylor rule against the same step with Oja's rule in closed
//!   form (3 flops a synapse) and against `rate_forward` alone (no plasticity);
//! - the adjoint and forward-sensitivity gradients against the plain forward simulation of
//!   the same trajectory, so the gradient's cost reads as a multiple of a simulation.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;
use synplast_benches::values;
use synplast_kernels::gradient::{
    adjoint_scratch_len, forward_scratch_len, loss_gradient_adjoint, loss_gradient_forward,
    loss_scratch_len, trajectory_loss, Observation, Shape,
};
use synplast_kernels::rate::{rate_forward, rate_step};
use synplast_kernels::{OjaRule, TaylorRule};

const SIZES: [(usize, usize); 2] = [(50, 50), (100, 1000)];

fn rate_steps(c: &mut Criterion) {
    let mut g = c.benchmark_group("rate_step");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let taylor = TaylorRule::<f64>::oja();
    for (n_in, n_out) in SIZES {
        let id = format!("{n_in}x{n_out}");
        g.throughput(Throughput::Elements((n_in * n_out) as u64));
        let w0 = values(n_in * n_out, 1, 0.04);
        let x = values(n_in, 2, 1.0);
        let mut y = vec![0.0; n_out];
        g.bench_function(BenchmarkId::new("taylor27", &id), |b| {
            let mut w = w0.clone();
            b.iter(|| {
                w.copy_from_slice(&w0);
                rate_step(&taylor, 1.0, black_box(&mut w), black_box(&x), &mut y).unwrap();
            })
        });
        g.bench_function(BenchmarkId::new("oja_closed_form_baseline", &id), |b| {
            let mut w = w0.clone();
            b.iter(|| {
                w.copy_from_slice(&w0);
                rate_step(&OjaRule, 1.0, black_box(&mut w), black_box(&x), &mut y).unwrap();
            })
        });
        g.bench_function(BenchmarkId::new("forward_only_baseline", &id), |b| {
            b.iter(|| rate_forward(black_box(&w0), black_box(&x), &mut y).unwrap())
        });
    }
    g.finish();
}

fn gradients(c: &mut Criterion) {
    let mut g = c.benchmark_group("trajectory_gradient");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let mut theta = [0.0; 27];
    theta
        .iter_mut()
        .zip(values(27, 9, 0.02))
        .for_each(|(t, v)| *t = v);
    theta[12] += 1.0;
    theta[7] -= 1.0;
    let rule = TaylorRule::new(theta);
    for (n_in, n_out) in SIZES {
        let shape = Shape {
            n_in,
            n_out,
            steps: 50,
        };
        let id = format!("{n_in}x{n_out}x50");
        let w0 = values(n_in * n_out, 3, 2.0 / (n_in + n_out) as f64);
        let x = values(50 * n_in, 4, 1.0);
        let y_obs: Vec<f64> = values(50 * n_out, 5, 0.2).iter().map(|v| v + 0.5).collect();
        let mask = vec![1.0; n_out];
        let obs = Observation {
            x: &x,
            y_obs: &y_obs,
            mask: &mask,
        };
        let mut grad = vec![0.0; 27];
        let mut s = vec![0.0; loss_scratch_len(shape).unwrap()];
        g.bench_function(BenchmarkId::new("simulate_baseline", &id), |b| {
            b.iter(|| trajectory_loss(&rule, 1.0, shape, &w0, black_box(&obs), &mut s).unwrap())
        });
        let mut s = vec![0.0; adjoint_scratch_len(shape).unwrap()];
        g.bench_function(BenchmarkId::new("adjoint", &id), |b| {
            b.iter(|| {
                loss_gradient_adjoint(&rule, 1.0, shape, &w0, black_box(&obs), &mut s, &mut grad)
                    .unwrap()
            })
        });
        let mut s = vec![0.0; forward_scratch_len(shape, 27).unwrap()];
        g.bench_function(BenchmarkId::new("forward_sensitivity", &id), |b| {
            b.iter(|| {
                loss_gradient_forward(
                    &rule,
                    1.0,
                    shape,
                    &w0,
                    black_box(&obs),
                    &mut s,
                    &mut grad,
                    None,
                )
                .unwrap()
            })
        });
    }
    g.finish();
}

/// A rig-sized layer in f32 (32 inputs, 8 outputs, weights inline): one step with the 27-term
/// rule, against Oja's rule in closed form.
fn rig_steps(c: &mut Criterion) {
    use synplast_kernels::rate::FixedRateLayer;
    let mut g = c.benchmark_group("rig_step_f32");
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    let init: [[f32; 32]; 8] =
        core::array::from_fn(|i| core::array::from_fn(|j| ((i * 32 + j) % 7) as f32 * 0.01 - 0.03));
    let x: [f32; 32] = core::array::from_fn(|j| (j % 5) as f32 * 0.2 - 0.4);
    let mut theta = [0.0f32; 27];
    theta[12] = 1.0;
    theta[7] = -1.0;
    let taylor = TaylorRule::new(theta);
    g.bench_function("taylor27/32x8", |b| {
        b.iter(|| {
            let mut layer = FixedRateLayer::new(init);
            layer.step(&taylor, 0.01, black_box(&x)).unwrap()
        })
    });
    g.bench_function("oja_closed_form_baseline/32x8", |b| {
        b.iter(|| {
            let mut layer = FixedRateLayer::new(init);
            layer.step(&OjaRule, 0.01, black_box(&x)).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, rate_steps, gradients, rig_steps);
criterion_main!(benches);
