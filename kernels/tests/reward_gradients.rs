//! Reward rules and behaving-network sessions: hand-derived gradients against central finite
//! differences, the adjoint pass against forward sensitivities, and the expected-reward window
//! against a naive reference.

mod common;

use common::*;
use proptest::prelude::*;
use synplast_kernels::behavior::{
    adjoint_scratch_len, forward_scratch_len, session_gradient_adjoint, session_gradient_forward,
    session_loss, BehaviorNet, Session, Trace,
};
use synplast_kernels::reward::{RewardAverage, RewardRule, RewardTaylorRule};

const H: usize = 10;

/// Input partials of a rule against central differences.
fn check_inputs<R: RewardRule<f64>>(rule: &R, z: [f64; 4]) -> Result<(), TestCaseError> {
    let p = rule.partials(z[0], z[1], z[2], z[3]);
    let num = fd(&z, 1e-6, |v| rule.dw(v[0], v[1], v[2], v[3]));
    let got = [p.d_x, p.d_y, p.d_w, p.d_r];
    prop_assert!((p.value - rule.dw(z[0], z[1], z[2], z[3])).abs() < 1e-14);
    for k in 0..4 {
        prop_assert!(
            (got[k] - num[k]).abs() < 1e-7 * (1.0 + num[k].abs()),
            "input {k}: {} vs {}",
            got[k],
            num[k]
        );
    }
    Ok(())
}

/// Parameter gradient of a rule against central differences.
fn check_params<R: RewardRule<f64> + Clone>(rule: &R, z: [f64; 4]) -> Result<(), TestCaseError> {
    let n = rule.n_params();
    let mut p = vec![0.0; n];
    rule.read_params(&mut p);
    let mut got = vec![0.0; n];
    rule.param_gradient(z[0], z[1], z[2], z[3], &mut got);
    let mut probe = rule.clone();
    let num = fd(&p, 1e-6, |q| {
        probe.write_params(q);
        probe.dw(z[0], z[1], z[2], z[3])
    });
    prop_assert!(
        close(&got, &num, 1e-7, 1e-9),
        "rel err {}",
        rel_err(&got, &num)
    );
    Ok(())
}

/// A random session: odor one-hot * 0.75 plus noise, random choices and reward signals.
fn session_strategy() -> impl Strategy<Value = (Vec<f64>, Vec<bool>, Vec<f64>)> {
    (5usize..40).prop_flat_map(|t| {
        (
            proptest::collection::vec((any::<bool>(), -0.1f64..0.1, -0.1f64..0.1), t),
            proptest::collection::vec(any::<bool>(), t),
            proptest::collection::vec(-1.0f64..1.0, t),
        )
            .prop_map(|(odors, accept, r)| {
                let x = odors
                    .iter()
                    .flat_map(|(a, n1, n2)| {
                        if *a {
                            [0.75 + n1, *n2]
                        } else {
                            [*n1, 0.75 + n2]
                        }
                    })
                    .collect();
                (x, accept, r)
            })
    })
}

/// Adjoint against forward sensitivities, and both against central differences of the loss.
fn check_session<R: RewardRule<f64> + Clone>(
    rule: &R,
    w0: &[f64],
    sess: &(Vec<f64>, Vec<bool>, Vec<f64>),
) -> Result<(), TestCaseError> {
    check_session_clip(rule, w0, sess, f64::INFINITY)
}

fn check_session_clip<R: RewardRule<f64> + Clone>(
    rule: &R,
    w0: &[f64],
    sess: &(Vec<f64>, Vec<bool>, Vec<f64>),
    w_clip: f64,
) -> Result<(), TestCaseError> {
    let net = BehaviorNet {
        eta: 0.5,
        readout: 0.5,
        w_clip,
    };
    let s = Session {
        x: &sess.0,
        accept: &sess.1,
        r: &sess.2,
    };
    let n = rule.n_params();
    let mut ga = vec![0.0; n];
    let mut gf = vec![0.0; n];
    let mut sa = vec![0.0; adjoint_scratch_len(2, H, s.len())];
    let mut sf = vec![0.0; forward_scratch_len(2, H, n)];
    let mut w = w0.to_vec();
    let mut h = [0.0; H];
    let l = session_loss(rule, &net, &mut w, &s, &mut h, Trace::default());
    // A random rule may blow the weights up; the kernels report that (tested elsewhere).
    prop_assume!(l.is_ok() && w.iter().all(|v| v.abs() < 10.0));
    let l = l.unwrap();
    let la = session_gradient_adjoint(rule, &net, H, w0, &s, &mut sa, &mut ga).unwrap();
    let lf = session_gradient_forward(rule, &net, H, w0, &s, &mut sf, &mut gf, None).unwrap();
    prop_assert!((la - l).abs() < 1e-14 && (lf - l).abs() < 1e-14);
    prop_assert!(
        rel_err(&ga, &gf) < 1e-10,
        "adjoint vs forward {}",
        rel_err(&ga, &gf)
    );
    let mut p = vec![0.0; n];
    rule.read_params(&mut p);
    let mut probe = rule.clone();
    let mut loss_at = |q: &[f64]| {
        probe.write_params(q);
        let mut w = w0.to_vec();
        let mut h = [0.0; H];
        session_loss(&probe, &net, &mut w, &s, &mut h, Trace::default()).unwrap()
    };
    let num = fd(&p, 1e-6, &mut loss_at);
    // A leaky-ReLU kink or a clipping threshold within reach of the step makes central
    // differences meaningless; such cases show as a disagreement between two step sizes.
    let num_fine = fd(&p, 2e-7, &mut loss_at);
    prop_assume!(close(&num_fine, &num, 1e-7, 1e-8));
    prop_assert!(
        close(&ga, &num, 1e-6, 1e-8),
        "adjoint vs FD {} |g| {} worst {:?}",
        rel_err(&ga, &num),
        ga.iter().map(|v| v * v).sum::<f64>().sqrt(),
        ga.iter()
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
    fn taylor81_partials_match_finite_differences(
        theta in proptest::collection::vec(-1.0f64..1.0, 81),
        z in proptest::array::uniform4(-1.5f64..1.5),
    ) {
        let rule = taylor(&theta);
        check_inputs(&rule, z)?;
        check_params(&rule, z)?;
    }

    #[test]
    fn mlp_partials_match_finite_differences(
        p in proptest::collection::vec(-1.0f64..1.0, 61),
        z in proptest::array::uniform4(-1.5f64..1.5),
    ) {
        // Central differences are only valid away from the leaky ReLU's kink.
        for k in 0..10 {
            let u: f64 = (0..4).map(|m| p[4 * k + m] * z[m]).sum::<f64>() + p[40 + k];
            prop_assume!(u.abs() > 1e-3);
        }
        let rule = mlp(&p);
        check_inputs(&rule, z)?;
        check_params(&rule, z)?;
    }

    #[test]
    fn taylor81_session_gradients_agree(
        theta in proptest::collection::vec(-0.1f64..0.1, 81),
        w0 in proptest::collection::vec(-0.5f64..0.5, 2 * H),
        sess in session_strategy(),
    ) {
        check_session(&taylor(&theta), &w0, &sess)?;
    }

    #[test]
    fn mlp_session_gradients_agree(
        p in proptest::collection::vec(-0.5f64..0.5, 61),
        w0 in proptest::collection::vec(-0.5f64..0.5, 2 * H),
        sess in session_strategy(),
    ) {
        // A hidden unit with zero bias and zero input weights sits on the leaky ReLU's kink
        // at every step, where central differences are not a derivative.
        prop_assume!(p[40..50].iter().all(|b| b.abs() > 1e-3));
        check_session(&mlp(&p), &w0, &sess)?;
    }

    /// With weights saturating at a small `w_clip`, many updates are clipped; both passes
    /// still give the derivative of the loss (clipped updates have derivative 0).
    #[test]
    fn clipped_session_gradients_agree(
        theta in proptest::collection::vec(-1.0f64..1.0, 81),
        w0 in proptest::collection::vec(-0.2f64..0.2, 2 * H),
        sess in session_strategy(),
    ) {
        check_session_clip(&taylor(&theta), &w0, &sess, 0.3)?;
    }

    /// `E[R]` equals the mean of the previous `N` rewards with missing ones counted as 0.
    #[test]
    fn reward_average_matches_naive_window(rewards in proptest::collection::vec(0.0f64..1.0, 0..60)) {
        let mut avg = RewardAverage::<f64, 10>::new();
        for (t, &rew) in rewards.iter().enumerate() {
            let naive: f64 = rewards[t.saturating_sub(10)..t].iter().sum::<f64>() / 10.0;
            prop_assert!((avg.expected() - naive).abs() < 1e-12);
            let r = avg.signal(rew);
            prop_assert!((r - (rew - naive)).abs() < 1e-12);
        }
    }
}

/// The Fisher matrix is the Gauss-Newton matrix: for a direction `v`,
/// `v^T F v = sum_t p_t (1 - p_t) (dz_t . v)^2`, with `dz_t . v` from differences of the logits.
#[test]
fn fisher_matches_directional_differences() {
    let rule = RewardTaylorRule::<f64>::x_r();
    let w0: Vec<f64> = (0..2 * H)
        .map(|k| ((k * 7 % 5) as f64 - 2.0) * 0.1)
        .collect();
    let t = 30;
    let x: Vec<f64> = (0..t)
        .flat_map(|k| if k % 3 == 0 { [0.8, 0.02] } else { [0.01, 0.7] })
        .collect();
    let accept: Vec<bool> = (0..t).map(|k| k % 4 != 1).collect();
    let r: Vec<f64> = (0..t).map(|k| ((k * 5 % 7) as f64 - 3.0) / 4.0).collect();
    let s = Session {
        x: &x,
        accept: &accept,
        r: &r,
    };
    let net = BehaviorNet {
        eta: 0.5,
        readout: 0.5,
        w_clip: f64::INFINITY,
    };
    let mut f = vec![0.0; 81 * 81];
    let mut g = vec![0.0; 81];
    let mut sf = vec![0.0; forward_scratch_len(2, H, 81)];
    session_gradient_forward(&rule, &net, H, &w0, &s, &mut sf, &mut g, Some(&mut f)).unwrap();
    let v: Vec<f64> = (0..81).map(|k| ((k * 13 % 9) as f64 - 4.0) / 9.0).collect();
    let vfv: f64 = (0..81)
        .map(|a| (0..81).map(|b| v[a] * f[a * 81 + b] * v[b]).sum::<f64>())
        .sum();
    let logits = |theta: &[f64]| -> Vec<f64> {
        let rule = taylor(theta);
        let mut p = vec![0.0; t];
        let mut w = w0.clone();
        let mut h = [0.0; H];
        let tr = Trace {
            p_accept: Some(&mut p),
            ..Trace::default()
        };
        session_loss(&rule, &net, &mut w, &s, &mut h, tr).unwrap();
        p.iter().map(|p| (p / (1.0 - p)).ln()).collect()
    };
    let mut base = [0.0; 81];
    rule.read_params(&mut base);
    let eps = 1e-6;
    let up: Vec<f64> = base.iter().zip(&v).map(|(a, b)| a + eps * b).collect();
    let down: Vec<f64> = base.iter().zip(&v).map(|(a, b)| a - eps * b).collect();
    let (zu, zd, z0) = (logits(&up), logits(&down), logits(&base));
    let reference: f64 = (0..t)
        .map(|k| {
            let p = 1.0 / (1.0 + (-z0[k]).exp());
            let d = (zu[k] - zd[k]) / (2.0 * eps);
            p * (1.0 - p) * d * d
        })
        .sum();
    assert!(
        (vfv - reference).abs() < 1e-6 * reference.abs().max(1e-9),
        "{vfv} vs {reference}"
    );
}
