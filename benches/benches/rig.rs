//! Rig-sized steps of what the C ABI (`kernels/ffi`) exports, each timed per call: a 32 -> 8
//! rate layer in f32 with the 27-term rule (and Oja in closed form as the baseline), one 0.1 ms
//! step of a 100-neuron COBA network with E->E doublet STDP (and without plasticity), and
//! scoring plus sampling of a 64 x 64 matrix (and one plain pass over it).

use criterion::{criterion_group, criterion_main, Criterion};
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::hint::black_box;
use std::time::Duration;
use synplast::kinds::parse_str;
use synplast::kinds::spiking::CobaNetwork;
use synplast::kinds::spiking::Spiking;
use synplast::rng::Rng;
use synplast_benches::values;
use synplast_kernels::prune::{keep_probabilities, reset_diagonal, sample_symmetric, score};
use synplast_kernels::rate::rate_step;
use synplast_kernels::{OjaRule, TaylorRule};

fn coba100(stdp: bool) -> CobaNetwork {
    let text = include_str!("../../experiments/coba_benchmark.yaml")
        .replace("n_exc: 3200", "n_exc: 80")
        .replace("n_inh: 800", "n_inh: 20")
        .replace("p: 0.02", "p: 0.2");
    let Some(mut cfg) = parse_str(&text, "coba100.yaml")
        .ok()
        .and_then(|e| e.config::<Spiking>().cloned())
    else {
        panic!("config parses");
    };
    if !stdp {
        cfg.stdp = None;
    }
    let mut net = CobaNetwork::new(&cfg, &mut Rng::new(1));
    for _ in 0..2000 {
        net.step().expect("step");
    }
    net
}

fn rig(c: &mut Criterion) {
    let mut g = c.benchmark_group("rig");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));

    let w0: Vec<f32> = values(32 * 8, 1, 0.2).iter().map(|v| *v as f32).collect();
    let x: Vec<f32> = values(32, 2, 1.0).iter().map(|v| *v as f32).collect();
    let mut y = [0.0f32; 8];
    let taylor = TaylorRule::<f32>::oja();
    g.bench_function("rate_32x8_f32_taylor27", |b| {
        let mut w = w0.clone();
        b.iter(|| {
            w.copy_from_slice(&w0);
            rate_step(&taylor, 0.01, black_box(&mut w), black_box(&x), &mut y).unwrap()
        })
    });
    g.bench_function("rate_32x8_f32_oja_baseline", |b| {
        let mut w = w0.clone();
        b.iter(|| {
            w.copy_from_slice(&w0);
            rate_step(&OjaRule, 0.01, black_box(&mut w), black_box(&x), &mut y).unwrap()
        })
    });

    let mut net = coba100(true);
    g.bench_function("coba_100_step_stdp", |b| {
        b.iter(|| net.step().unwrap().len())
    });
    let mut net = coba100(false);
    g.bench_function("coba_100_step_no_plasticity", |b| {
        b.iter(|| net.step().unwrap().len())
    });

    let n = 64;
    let mut w = values(n * n, 3, 1.0);
    for i in 0..n {
        for j in 0..i {
            w[i * n + j] = w[j * n + i];
        }
        w[i * n + i] = -(n as f64);
    }
    let mut cov = values(n * n, 4, 0.1);
    for i in 0..n {
        for j in 0..i {
            cov[i * n + j] = cov[j * n + i];
        }
        cov[i * n + i] = 1.0;
    }
    let (mut s, mut p, mut out, mut diag) = (
        vec![0.0; n * n],
        vec![0.0; n * n],
        vec![0.0; n * n],
        vec![0.0; n],
    );
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    g.bench_function("prune_64_score_and_sample", |b| {
        b.iter(|| {
            score(black_box(&w), black_box(&cov), n, &mut diag, &mut s).unwrap();
            keep_probabilities(&s, 0.5, &mut p).unwrap();
            sample_symmetric(&w, &p, n, &mut rng, &mut out).unwrap();
            reset_diagonal(&w, &mut out, n).unwrap();
        })
    });
    g.bench_function("prune_64_one_pass_baseline", |b| {
        b.iter(|| black_box(&w).iter().map(|v| v.abs()).sum::<f64>())
    });
    g.finish();
}

criterion_group!(benches, rig);
criterion_main!(benches);
