//! One step of the COBA benchmark network (3200 E + 800 I, p = 0.02, `docs/coba_benchmark.md`) in its
//! steady state, with E->E doublet STDP and, as the baseline in the same run, without
//! plasticity. A simulated second is 10,000 steps, so the per-step time x 10^4 is the wall time
//! per simulated second of `synplast run experiments/coba_benchmark.yaml`.

use criterion::{criterion_group, criterion_main, Criterion};
use std::time::Duration;
use synplast::kinds::parse_str;
use synplast::kinds::spiking::CobaNetwork;
use synplast::kinds::spiking::Spiking;
use synplast::rng::Rng;

fn network(stdp: bool) -> CobaNetwork {
    let text = include_str!("../../experiments/coba_benchmark.yaml");
    let Some(mut cfg) = parse_str(text, "coba_benchmark.yaml")
        .ok()
        .and_then(|e| e.config::<Spiking>().cloned())
    else {
        panic!("the shipped benchmark config parses");
    };
    if !stdp {
        cfg.stdp = None;
    }
    let mut net = CobaNetwork::new(&cfg, &mut Rng::new(cfg.seed.unwrap_or(0)));
    // 200 ms into the run: past the initial transient.
    for _ in 0..2000 {
        net.step().expect("step");
    }
    net
}

fn steps(c: &mut Criterion) {
    let mut g = c.benchmark_group("coba_step");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4));
    let mut with = network(true);
    g.bench_function("with_stdp", |b| b.iter(|| with.step().expect("step").len()));
    let mut without = network(false);
    g.bench_function("no_plasticity_baseline", |b| {
        b.iter(|| without.step().expect("step").len())
    });
    g.finish();
}

criterion_group!(benches, steps);
criterion_main!(benches);
