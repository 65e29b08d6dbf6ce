//! Helpers the kernels' gradient tests share: rules from flat parameters and central
//! differences.
#![allow(dead_code)]

use synplast_kernels::reward::{MlpRule, RewardRule, RewardTaylorRule};

/// The 81-term reward Taylor rule with these coefficients.
pub fn taylor(theta: &[f64]) -> RewardTaylorRule<f64> {
    let mut r = RewardTaylorRule::zeros();
    r.write_params(theta);
    r
}

/// The reward MLP rule with these 61 parameters.
pub fn mlp(p: &[f64]) -> MlpRule<f64, 10> {
    let mut r = MlpRule::zeros();
    r.write_params(p);
    r
}

/// Central differences of `f` at `p` along every coordinate, step `eps`.
pub fn fd(p: &[f64], eps: f64, mut f: impl FnMut(&[f64]) -> f64) -> Vec<f64> {
    let mut q = p.to_vec();
    (0..p.len())
        .map(|k| {
            q[k] = p[k] + eps;
            let up = f(&q);
            q[k] = p[k] - eps;
            let down = f(&q);
            q[k] = p[k];
            (up - down) / (2.0 * eps)
        })
        .collect()
}

/// `|a - b| / |b|` in the Euclidean norm.
pub fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>();
    let den: f64 = b.iter().map(|y| y * y).sum::<f64>();
    num.sqrt() / den.sqrt().max(1e-12)
}

/// `|a - b| <= rel |b| + abs` in the Euclidean norm: `abs` covers the rounding error of central
/// differences (about `1e-16 / eps` per component) when the gradient itself is tiny.
pub fn close(a: &[f64], b: &[f64], rel: f64, abs: f64) -> bool {
    let num: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>();
    let den: f64 = b.iter().map(|y| y * y).sum::<f64>();
    num.sqrt() <= rel * den.sqrt() + abs
}
