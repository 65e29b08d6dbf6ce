//! One inner simulation of `meta_function` at the shipped sizes (100 samples, 200 epochs):
//! the plain epochs CMA-ES runs (baseline), the fast sensitivity epochs the gradient method
//! runs, and the per-sample reference sensitivity pass, in the same run. `pc1`: 3 inputs, one
//! output, 27 coefficients; `subspace`: 5 inputs, 2 outputs with the lateral layer, 54.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use std::time::Duration;
use synplast_benches::values;
use synplast_kernels::linear::{
    batch_epoch, batch_epoch_sensitivity, batch_epoch_sensitivity_reference,
    sensitivity_scratch_len, LinearShape, NoPlasticity,
};
use synplast_kernels::rule::DifferentiableRule;
use synplast_kernels::TaylorRule;

const EPOCHS: usize = 200;

type Epoch<Rg> = fn(
    &TaylorRule<f64>,
    &Rg,
    f64,
    LinearShape,
    &[f64],
    &mut [f64],
    &mut [f64],
    &mut [f64],
    &mut [f64],
    &mut [f64],
) -> Result<(), synplast_kernels::KernelError>;

fn bench_net<Rg: DifferentiableRule<f64>>(
    c: &mut Criterion,
    name: &str,
    shape: LinearShape,
    lat: &Rg,
) {
    let mut g = c.benchmark_group("meta_inner_simulation");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let x = values(shape.n_samples * shape.n_in, 11, 2.0);
    let w0 = values(shape.n_out * shape.n_in, 12, 0.2);
    let mut theta = [0.0; 27];
    theta[12] = 0.5;
    theta[7] = -0.5;
    let ff = TaylorRule::new(theta);
    let p = 27 + lat.n_params();
    let n_l = shape.n_out * shape.n_out;
    g.bench_function(BenchmarkId::new("plain_baseline", name), |b| {
        let (mut w, mut l) = (w0.clone(), vec![0.0; n_l]);
        let mut y = vec![0.0; shape.n_samples * shape.n_out];
        b.iter(|| {
            w.copy_from_slice(&w0);
            l.iter_mut().for_each(|v| *v = 0.0);
            for _ in 0..EPOCHS {
                batch_epoch(&ff, lat, 0.1, shape, black_box(&x), &mut w, &mut l, &mut y).unwrap();
            }
            w[0]
        })
    });
    let passes: [(&str, Epoch<Rg>); 2] = [
        ("sensitivities", batch_epoch_sensitivity),
        ("sensitivities_reference", batch_epoch_sensitivity_reference),
    ];
    for (label, epoch) in passes {
        g.bench_function(BenchmarkId::new(label, name), |b| {
            let (mut w, mut l) = (w0.clone(), vec![0.0; n_l]);
            let mut sw = vec![0.0; w0.len() * p];
            let mut sl = vec![0.0; n_l * p];
            let mut scratch = vec![0.0; sensitivity_scratch_len(shape, p).unwrap()];
            b.iter(|| {
                w.copy_from_slice(&w0);
                l.iter_mut().for_each(|v| *v = 0.0);
                sw.iter_mut().for_each(|v| *v = 0.0);
                sl.iter_mut().for_each(|v| *v = 0.0);
                for _ in 0..EPOCHS {
                    epoch(
                        &ff,
                        lat,
                        0.1,
                        shape,
                        black_box(&x),
                        &mut w,
                        &mut l,
                        &mut sw,
                        &mut sl,
                        &mut scratch,
                    )
                    .unwrap();
                }
                sw[0]
            })
        });
    }
    g.finish();
}

fn bench(c: &mut Criterion) {
    let pc1 = LinearShape {
        n_in: 3,
        n_out: 1,
        n_samples: 100,
    };
    bench_net(c, "pc1", pc1, &NoPlasticity);
    let mut t = [0.0; 27];
    t[12] = -0.5;
    let subspace = LinearShape {
        n_in: 5,
        n_out: 2,
        n_samples: 100,
    };
    bench_net(c, "subspace", subspace, &TaylorRule::new(t));
}

criterion_group!(benches, bench);
criterion_main!(benches);
