//! The recorded-activity gradient (`synplast_kernels::recorded`) on a long session: 50 -> 50,
//! T = 100,000 steps, with the checkpointed adjoint (segments of ceil(sqrt(T)) = 317 steps),
//! beside the plain forward simulation of the same session (the floor: the gradient costs two
//! forward passes and one adjoint pass), and at T = 1,000 the checkpointed pass against the
//! stored-trajectory pass (segment = T) to show what recomputation costs. Prints the scratch
//! memory of each.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use std::time::Duration;
use synplast_benches::values;
use synplast_kernels::gradient::Shape;
use synplast_kernels::recorded::{
    recorded_error, recorded_gradient, recorded_scratch_len, Readout, RecordedGradient, Recording,
};
use synplast_kernels::taylor::{TaylorRule, TAYLOR_TERMS};

fn long_sessions(c: &mut Criterion) {
    let mut g = c.benchmark_group("recorded_gradient");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_secs(20));
    let mut theta = [0.0; TAYLOR_TERMS];
    theta
        .iter_mut()
        .zip(values(27, 9, 0.02))
        .for_each(|(t, v)| *t = v);
    theta[12] += 1.0;
    theta[7] -= 1.0;
    let rule = TaylorRule::new(theta);
    let (n_in, n_out) = (50, 50);
    let gain = vec![1.0; n_out];
    let offset = vec![0.0; n_out];
    let readout = Readout {
        gain: &gain,
        offset: &offset,
    };
    for (steps, segments) in [(100_000usize, vec![0usize]), (1_000, vec![0, 1_000])] {
        let shape = Shape { n_in, n_out, steps };
        let w0 = values(n_in * n_out, 3, 0.02);
        let x = values(steps * n_in, 4, 1.0);
        let y: Vec<f64> = values(steps * n_out, 5, 0.2)
            .iter()
            .enumerate()
            .map(|(k, v)| if k % 17 == 0 { f64::NAN } else { v + 0.5 })
            .collect();
        let rec = Recording { x: &x, y_obs: &y };
        for seg in segments {
            let len = recorded_scratch_len(shape, seg).unwrap();
            eprintln!(
                "T = {steps}, segment {}: scratch {:.1} MB (the stored trajectory would be {:.1} MB)",
                if seg == 0 { "auto".to_string() } else { seg.to_string() },
                len as f64 * 8e-6,
                ((steps + 1) * n_in * n_out) as f64 * 8e-6
            );
            let mut scratch = vec![0.0; len];
            let (mut gt, mut gw, mut gg, mut go) = (
                vec![0.0; TAYLOR_TERMS],
                vec![0.0; n_in * n_out],
                vec![0.0; n_out],
                vec![0.0; n_out],
            );
            let name = if seg == 0 {
                "checkpointed"
            } else {
                "stored_trajectory"
            };
            g.bench_function(BenchmarkId::new(name, format!("50x50xT{steps}")), |b| {
                b.iter(|| {
                    recorded_gradient(
                        &rule,
                        1.0,
                        shape,
                        black_box(&w0),
                        &rec,
                        &readout,
                        seg,
                        &mut scratch,
                        RecordedGradient {
                            theta: &mut gt,
                            w0: &mut gw,
                            gain: &mut gg,
                            offset: &mut go,
                        },
                    )
                    .unwrap()
                })
            });
        }
        let mut s = vec![0.0; n_in * n_out + n_out];
        g.bench_function(
            BenchmarkId::new("forward_only_baseline", format!("50x50xT{steps}")),
            |b| {
                b.iter(|| {
                    recorded_error(&rule, 1.0, shape, black_box(&w0), &rec, &readout, &mut s)
                        .unwrap()
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, long_sessions);
criterion_main!(benches);
