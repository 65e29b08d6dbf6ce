//! Noise-driven pruning at N = 1000 and N = 4000: scoring every synapse from the weights and the
//! covariance, and turning scores into keep probabilities plus one symmetric sampling with
//! reweighting and the diagonal reset; against one plain pass over the matrix (the sum of
//! `|w|`, the least any O(N^2) kernel must do) in the same run.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::hint::black_box;
use std::time::Duration;
use synplast_benches::values;
use synplast_kernels::prune::{keep_probabilities, reset_diagonal, sample_symmetric, score};

/// A symmetric matrix with off-diagonals from `values` and a dominant diagonal.
fn symmetric(n: usize, seed: u64, diag: f64) -> Vec<f64> {
    let v = values(n * n, seed, 1.0);
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        for j in i + 1..n {
            a[i * n + j] = v[i * n + j];
            a[j * n + i] = v[i * n + j];
        }
        a[i * n + i] = diag;
    }
    a
}

fn pruning(c: &mut Criterion) {
    let mut g = c.benchmark_group("prune");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4));
    for n in [1000usize, 4000] {
        let w = symmetric(n, 1, -(n as f64) / 4.0);
        let cov = symmetric(n, 2, n as f64 / 10.0);
        let mut s = vec![0.0; n * n];
        let mut p = vec![0.0; n * n];
        let mut out = vec![0.0; n * n];
        let mut diag = vec![0.0; n];
        g.throughput(Throughput::Elements((n * n) as u64));
        g.bench_function(BenchmarkId::new("one_pass_baseline", n), |b| {
            b.iter(|| black_box(&w).iter().map(|v| v.abs()).sum::<f64>())
        });
        g.bench_function(BenchmarkId::new("score", n), |b| {
            b.iter(|| score(black_box(&w), black_box(&cov), n, &mut diag, &mut s).unwrap())
        });
        score(&w, &cov, n, &mut diag, &mut s).unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        g.bench_function(BenchmarkId::new("probabilities_sample_reset", n), |b| {
            b.iter(|| {
                keep_probabilities(black_box(&s), 0.01, &mut p).unwrap();
                sample_symmetric(&w, &p, n, &mut rng, &mut out).unwrap();
                reset_diagonal(&w, &mut out, n).unwrap();
            })
        });
    }
    g.finish();
}

criterion_group!(benches, pruning);
criterion_main!(benches);
