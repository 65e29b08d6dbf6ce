//! The exact gradient through the whole inner loop of `meta_function` against central finite
//! differences, for the one-neuron and the lateral-layer networks.

use proptest::prelude::*;
use synplast::config::{Count, NonNegative, Positive};
use synplast::kinds::meta_function::{
    inner, inner_with_gradient, make_datasets, MetaLoss, MetaTask, MetaTaskConfig,
};
use synplast::rng::Rng;
use synplast_kernels::linear::LinearShape;

fn task(loss: MetaLoss, n_in: usize, n_out: usize, seed: u64) -> MetaTask {
    let cfg = MetaTaskConfig {
        loss,
        n_in: Count(n_in as u32),
        n_out: Count(n_out as u32),
        variances: (0..n_in)
            .map(|i| NonNegative(1.0 / (1.0 + i as f64)))
            .collect(),
        datasets: Count(1),
        samples: Count(7),
        epochs: Count(12),
        eta: Positive(0.1),
        w0_std: Positive(0.3),
    };
    MetaTask {
        shape: LinearShape {
            n_in,
            n_out,
            n_samples: 7,
        },
        epochs: 12,
        eta: 0.1,
        loss,
        datasets: make_datasets(&cfg, 1, &mut Rng::new(seed)),
    }
}

fn check(task: &MetaTask, theta: &[f64]) -> Result<(), TestCaseError> {
    let ds = &task.datasets[0];
    let (base, grad) = inner_with_gradient(task, ds, theta).unwrap();
    prop_assume!(base.blown_at.is_none());
    let plain = inner(task, ds, theta);
    prop_assert!((plain.loss - base.loss).abs() <= 1e-12 * (1.0 + base.loss));
    // Central differences with Richardson extrapolation (truncation error O(h^4)).
    let central = |k: usize, h: f64| {
        let mut p = theta.to_vec();
        p[k] += h;
        let mut m = theta.to_vec();
        m[k] -= h;
        (inner(task, ds, &p).loss - inner(task, ds, &m).loss) / (2.0 * h)
    };
    let h = 1e-4;
    let fd: Vec<f64> = (0..theta.len())
        .map(|k| (4.0 * central(k, h / 2.0) - central(k, h)) / 3.0)
        .collect();
    let norm = fd.iter().map(|v| v * v).sum::<f64>().sqrt();
    // Skip rules on the edge of blowing up, where the loss is too steep for differences.
    prop_assume!(norm > 1e-6 && norm < 100.0);
    let err = grad
        .iter()
        .zip(&fd)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt()
        / norm;
    prop_assert!(
        err < 1e-6,
        "relative error {err:e}\ngrad {grad:?}\nfd   {fd:?}"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn pc1_gradient_matches_central_differences(
        theta in proptest::collection::vec(-0.5f64..0.5, 27),
        seed in 0u64..1000,
    ) {
        check(&task(MetaLoss::Pc1, 3, 1, seed), &theta)?;
    }

    #[test]
    fn subspace_gradient_matches_central_differences(
        theta in proptest::collection::vec(-0.5f64..0.5, 54),
        seed in 0u64..1000,
    ) {
        check(&task(MetaLoss::Subspace, 4, 3, seed), &theta)?;
    }
}
