//! Trial-level choices: the hand-derived adjoint gradient of `-log P(choice)` through a whole
//! session against central finite differences, for the tanh network and the linear fly network,
//! with Taylor and MLP rules, with and without clipped weights.

mod common;

use common::*;
use proptest::prelude::*;
use synplast_kernels::behavior::BehaviorNet;
use synplast_kernels::choices::{
    adjoint_scratch_len, choice_gradient_adjoint, choice_loss, loss_scratch_len, Activation,
    ChoiceSession,
};
use synplast_kernels::reward::RewardRule;

const N_IN: usize = 2;

#[derive(Debug, Clone)]
struct Trials {
    x: Vec<f64>,
    chose_b: Vec<bool>,
    r: Vec<f64>,
}

fn trials() -> impl Strategy<Value = Trials> {
    (1usize..40).prop_flat_map(|t| {
        (
            proptest::collection::vec(-1.0f64..1.0, t * 2 * N_IN),
            proptest::collection::vec(any::<bool>(), t),
            proptest::collection::vec(-1.0f64..1.0, t),
        )
            .prop_map(|(x, chose_b, r)| Trials { x, chose_b, r })
    })
}

fn check<R: RewardRule<f64> + Clone>(
    rule: &R,
    act: Activation,
    n_hidden: usize,
    readout: f64,
    w0: &[f64],
    tr: &Trials,
    w_clip: f64,
) -> Result<(), TestCaseError> {
    let net = BehaviorNet {
        eta: 0.5,
        readout,
        w_clip,
    };
    let s = ChoiceSession {
        x: &tr.x,
        chose_b: &tr.chose_b,
        r: &tr.r,
    };
    let n = rule.n_params();
    let mut scratch = vec![f64::NAN; adjoint_scratch_len(N_IN, n_hidden, s.len())];
    let mut g = vec![f64::NAN; n];
    let got = choice_gradient_adjoint(rule, &net, act, n_hidden, w0, &s, &mut scratch, &mut g);
    prop_assume!(got.is_ok());
    let loss = got.unwrap();
    let mut p = vec![0.0; n];
    rule.read_params(&mut p);
    let mut probe = rule.clone();
    let mut loss_at = |q: &[f64]| {
        probe.write_params(q);
        let mut w = w0.to_vec();
        let mut sc = vec![0.0; loss_scratch_len(n_hidden)];
        choice_loss(&probe, &net, act, n_hidden, &mut w, &s, &mut sc, None, None)
            .unwrap_or(f64::NAN)
    };
    prop_assert!((loss_at(&p) - loss).abs() < 1e-14);
    let num = fd(&p, 1e-6, &mut loss_at);
    let num_fine = fd(&p, 2e-7, &mut loss_at);
    prop_assume!(num.iter().all(|v| v.is_finite()));
    // A kink (leaky ReLU, a clipping threshold) within reach of the step shows as a
    // disagreement between two step sizes; central differences are no derivative there.
    prop_assume!(close(&num_fine, &num, 1e-7, 1e-8));
    prop_assert!(
        close(&g, &num, 1e-6, 1e-8),
        "adjoint vs FD: worst {:?}",
        g.iter()
            .zip(&num)
            .enumerate()
            .map(|(k, (a, b))| (k, a - b, *b))
            .max_by(|x, y| x.1.abs().total_cmp(&y.1.abs()))
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn tanh_network_taylor_rule(
        theta in proptest::collection::vec(-0.2f64..0.2, 81),
        w0 in proptest::collection::vec(-0.5f64..0.5, 3 * N_IN),
        tr in trials(),
    ) {
        check(&taylor(&theta), Activation::Tanh, 3, 5.0 / 3.0, &w0, &tr, 100.0)?;
    }

    #[test]
    fn linear_fly_network_taylor_rule(
        theta in proptest::collection::vec(-0.2f64..0.2, 81),
        w0 in proptest::collection::vec(-0.5f64..0.5, N_IN),
        tr in trials(),
    ) {
        check(&taylor(&theta), Activation::Identity, 1, 1.0, &w0, &tr, 100.0)?;
    }

    #[test]
    fn tanh_network_mlp_rule(
        p in proptest::collection::vec(-0.5f64..0.5, 61),
        w0 in proptest::collection::vec(-0.5f64..0.5, 2 * N_IN),
        tr in trials(),
    ) {
        prop_assume!(p[40..50].iter().all(|b| b.abs() > 1e-3));
        check(&mlp(&p), Activation::Tanh, 2, 2.5, &w0, &tr, 100.0)?;
    }

    /// Small `w_clip`: many updates saturate; the derivative through them is 0.
    #[test]
    fn clipped_weights(
        theta in proptest::collection::vec(-1.0f64..1.0, 81),
        w0 in proptest::collection::vec(-0.2f64..0.2, N_IN),
        tr in trials(),
    ) {
        check(&taylor(&theta), Activation::Identity, 1, 1.0, &w0, &tr, 0.3)?;
    }
}

/// Bad sessions are errors, not panics: no trials, wrong lengths, a NaN input.
#[test]
fn bad_sessions_are_errors() {
    let rule = taylor(&[0.1; 81]);
    let net = BehaviorNet {
        eta: 0.5,
        readout: 1.0,
        w_clip: 100.0,
    };
    let w0 = [0.1, -0.1];
    let ok = |x: &[f64], chose_b: &[bool], r: &[f64], scratch: usize| {
        let s = ChoiceSession { x, chose_b, r };
        let mut g = [0.0; 81];
        let mut sc = vec![0.0; scratch];
        choice_gradient_adjoint(
            &rule,
            &net,
            Activation::Identity,
            1,
            &w0,
            &s,
            &mut sc,
            &mut g,
        )
        .is_ok()
    };
    let n = adjoint_scratch_len(N_IN, 1, 2);
    let x = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
    assert!(ok(&x, &[true, false], &[0.0, 1.0], n));
    assert!(!ok(&x[..0], &[], &[], n), "no trials");
    assert!(!ok(&x[..6], &[true, false], &[0.0, 1.0], n), "short inputs");
    assert!(!ok(&x, &[true, false], &[0.0], n), "short rewards");
    assert!(!ok(&x, &[true, false], &[0.0, 1.0], 3), "short scratch");
    let mut xn = x;
    xn[3] = f64::NAN;
    assert!(!ok(&xn, &[true, false], &[0.0, 1.0], n), "NaN input");
}
