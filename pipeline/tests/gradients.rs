//! Hand-derived trajectory gradients against central finite differences, against each other,
//! and against an independent implementation's test vectors (`tests/data/rate_grad_*.json`,
//! copied from the shared folder's `testdata/`; see `tests/data/README.md`).

mod common;

use proptest::prelude::*;
use std::path::PathBuf;
use synplast::strategies::{taylor_rule, trajectory_case, TrajectoryCase};
use synplast_kernels::gradient::{
    adjoint_scratch_len, forward_scratch_len, loss_gradient_adjoint, loss_gradient_forward,
    loss_scratch_len, trajectory_loss, Shape,
};
use synplast_kernels::TaylorRule;

fn loss(rule: &TaylorRule<f64>, eta: f64, case: &TrajectoryCase) -> f64 {
    let mut s = vec![0.0; loss_scratch_len(case.shape).unwrap()];
    trajectory_loss(rule, eta, case.shape, &case.w0, &case.observation(), &mut s).unwrap()
}

fn adjoint(rule: &TaylorRule<f64>, eta: f64, case: &TrajectoryCase) -> (f64, Vec<f64>) {
    let mut s = vec![0.0; adjoint_scratch_len(case.shape).unwrap()];
    let mut g = vec![0.0; 27];
    let l = loss_gradient_adjoint(
        rule,
        eta,
        case.shape,
        &case.w0,
        &case.observation(),
        &mut s,
        &mut g,
    )
    .unwrap();
    (l, g)
}

fn forward(rule: &TaylorRule<f64>, eta: f64, case: &TrajectoryCase) -> (f64, Vec<f64>, Vec<f64>) {
    let mut s = vec![0.0; forward_scratch_len(case.shape, 27).unwrap()];
    let mut g = vec![0.0; 27];
    let mut jtj = vec![0.0; 27 * 27];
    let l = loss_gradient_forward(
        rule,
        eta,
        case.shape,
        &case.w0,
        &case.observation(),
        &mut s,
        &mut g,
        Some(&mut jtj),
    )
    .unwrap();
    (l, g, jtj)
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// `||a - b|| / ||b||`, with `b` the reference.
fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    norm(&d) / norm(b).max(1e-300)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Central differences with step 1e-5 have truncation error ~1e-10 relative for these
    /// polynomial-sigmoid maps, so a 1e-6 bound on the relative error of the gradient vector
    /// catches any wrong term while leaving room for rounding.
    #[test]
    fn gradients_match_central_differences(
        rule in taylor_rule(0.3),
        case in trajectory_case(5, 4, 8),
        eta in 0.1f64..1.0,
    ) {
        let (la, ga) = adjoint(&rule, eta, &case);
        let (lf, gf, _) = forward(&rule, eta, &case);
        let h = 1e-5;
        let fd: Vec<f64> = (0..27)
            .map(|k| {
                let mut p = rule;
                p.theta[k] += h;
                let mut m = rule;
                m.theta[k] -= h;
                (loss(&p, eta, &case) - loss(&m, eta, &case)) / (2.0 * h)
            })
            .collect();
        prop_assume!(norm(&fd) > 1e-8);
        prop_assert!(rel_err(&ga, &fd) < 1e-6, "adjoint vs fd: {}", rel_err(&ga, &fd));
        prop_assert!(rel_err(&gf, &fd) < 1e-6, "forward vs fd: {}", rel_err(&gf, &fd));
        prop_assert!(rel_err(&ga, &gf) < 1e-12, "adjoint vs forward: {}", rel_err(&ga, &gf));
        let l = loss(&rule, eta, &case);
        prop_assert!((la - l).abs() <= 1e-14 * l.abs() && (lf - l).abs() <= 1e-14 * l.abs());
    }

    /// J^T J from the forward pass is the Gauss-Newton matrix: symmetric, positive
    /// semi-definite, and `theta^T (J^T J) theta = sum_t,i m_i (dy_ti/dtheta . theta)^2`, checked
    /// through finite differences of the activity along a random direction.
    #[test]
    fn gauss_newton_matrix_matches_directional_differences(
        rule in taylor_rule(0.3),
        dir in proptest::array::uniform27(-1.0f64..1.0),
        case in trajectory_case(4, 3, 6),
    ) {
        let (_, _, jtj) = forward(&rule, 0.5, &case);
        for a in 0..27 {
            for b in 0..27 {
                prop_assert!((jtj[a * 27 + b] - jtj[b * 27 + a]).abs() <= 1e-12 * (1.0 + jtj[a * 27 + a].abs()));
            }
        }
        let quad: f64 = (0..27).map(|a| (0..27).map(|b| dir[a] * jtj[a * 27 + b] * dir[b]).sum::<f64>()).sum();
        // Directional derivative of every observed activity by central differences.
        let acts = |r: &TaylorRule<f64>| {
            let Shape { n_in, n_out, steps } = case.shape;
            let mut w = vec![0.0; n_in * n_out];
            let mut y = vec![0.0; steps * n_out];
            synplast_kernels::rate::simulate(r, 0.5, n_in, &case.w0, &case.x, &mut w, &mut y, None).unwrap();
            y
        };
        let h = 1e-6;
        let mut p = rule;
        let mut m = rule;
        for ((pk, mk), dk) in p.theta.iter_mut().zip(m.theta.iter_mut()).zip(dir) {
            *pk += h * dk;
            *mk -= h * dk;
        }
        let (yp, ym) = (acts(&p), acts(&m));
        let n_out = case.shape.n_out;
        let fd_quad: f64 = yp
            .iter()
            .zip(&ym)
            .enumerate()
            .map(|(i, (a, b))| case.mask[i % n_out] * ((a - b) / (2.0 * h)).powi(2))
            .sum();
        prop_assert!(quad >= -1e-12);
        prop_assert!((quad - fd_quad).abs() <= 1e-6 * fd_quad.max(1e-12), "{quad} vs {fd_quad}");
    }
}

fn matrix(v: &serde_json::Value) -> (Vec<f64>, usize) {
    let rows = v.as_array().expect("matrix");
    let cols = rows[0].as_array().expect("row").len();
    let flat = rows
        .iter()
        .flat_map(|r| {
            r.as_array()
                .expect("row")
                .iter()
                .map(|x| x.as_f64().expect("number"))
        })
        .collect();
    (flat, cols)
}

fn vector(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .expect("vector")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn check_vector_file(name: &str) {
    let path: PathBuf = common::data_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let d: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let (x, n_in) = matrix(&d["x"]);
    let (w0, n_in_w) = matrix(&d["W0"]);
    let (y_obs, n_out) = matrix(&d["y_obs"]);
    assert_eq!(n_in, n_in_w);
    let mask = vector(&d["mask"]);
    let theta: Vec<f64> = vector(&d["theta"]);
    let eta = d["eta"].as_f64().expect("eta");
    let shape = Shape {
        n_in,
        n_out,
        steps: x.len() / n_in,
    };
    assert_eq!((shape.n_in, shape.n_out, shape.steps), (8, 6, 20));
    let rule = TaylorRule::new(theta.try_into().expect("27 coefficients"));
    let want_loss = d["loss"].as_f64().expect("loss");
    let want_grad = vector(&d["grad"]);
    let case = TrajectoryCase {
        shape,
        w0,
        x,
        y_obs,
        mask,
    };
    let (la, ga) = adjoint(&rule, eta, &case);
    let (lf, gf, _) = forward(&rule, eta, &case);
    for (what, l, g) in [("adjoint", la, &ga), ("forward", lf, &gf)] {
        assert!(
            (l - want_loss).abs() <= 1e-9 * want_loss.abs(),
            "{name} {what} loss {l} vs {want_loss}"
        );
        for k in 0..27 {
            assert!(
                (g[k] - want_grad[k]).abs() <= 1e-9 * want_grad[k].abs(),
                "{name} {what} grad[{k}] {} vs {}",
                g[k],
                want_grad[k]
            );
        }
    }
}

#[test]
fn reproduces_external_vectors_oja() {
    check_vector_file("rate_grad_oja.json");
}

#[test]
fn reproduces_external_vectors_zeros() {
    check_vector_file("rate_grad_zeros.json");
}

/// The in-repo vectors are the shared folder's, byte for byte, when that folder is here
/// (`SYNPLAST_SHARED` or `shared/` beside the checkout); skipped with a reason otherwise.
#[test]
fn in_repo_vectors_match_the_shared_copy() {
    let shared = common::shared().join("testdata");
    for name in ["rate_grad_zeros.json", "rate_grad_oja.json"] {
        let theirs = shared.join(name);
        let Ok(want) = std::fs::read(&theirs) else {
            common::skip(
                "in_repo_vectors_match_the_shared_copy",
                &format!(
                    "no {} (set SYNPLAST_SHARED or put shared/ beside the checkout)",
                    theirs.display()
                ),
            );
            return;
        };
        let ours = common::data_dir().join(name);
        assert!(
            std::fs::read(&ours).unwrap() == want,
            "{} differs from {}: copy it again and update tests/data/README.md",
            ours.display(),
            theirs.display()
        );
    }
}
