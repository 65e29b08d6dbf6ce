//! Adam optimiser with an optional L1 penalty and a trainable mask.
//!
//! `m <- b1 m + (1 - b1) g`, `v <- b2 v + (1 - b2) g^2`,
//! `theta <- theta - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)` (Kingma & Ba 2015;
//! the same update as optax.adam). The L1 subgradient `l1 * sign(theta)` is added to `g`.

/// `l1 * sign(theta)`, with `sign(0) = 0`: the L1 penalty's subgradient.
pub fn l1_subgradient(theta: f64, l1: f64) -> f64 {
    if theta > 0.0 {
        l1
    } else if theta < 0.0 {
        -l1
    } else {
        0.0
    }
}

/// Adam state for a parameter vector (serialisable, so a fit can be checkpointed).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Adam {
    /// Learning rate.
    pub lr: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Denominator offset.
    pub eps: f64,
    /// L1 penalty weight.
    pub l1: f64,
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
}

impl Adam {
    /// Adam with betas 0.9 / 0.999, eps 1e-8 for `n` parameters.
    pub fn new(n: usize, lr: f64, l1: f64) -> Self {
        Self {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            l1,
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        }
    }

    /// Forgets the moments and the step count (a restart), keeping the rate and the penalty.
    pub fn reset(&mut self) {
        self.m.iter_mut().for_each(|m| *m = 0.0);
        self.v.iter_mut().for_each(|v| *v = 0.0);
        self.t = 0;
    }

    /// One update of the parameters whose `mask` entry is true.
    pub fn step(&mut self, params: &mut [f64], grad: &[f64], mask: &[bool]) {
        self.t = self.t.saturating_add(1);
        let c1 = 1.0 - self.beta1.powi(self.t);
        let c2 = 1.0 - self.beta2.powi(self.t);
        for k in 0..params.len() {
            if !mask[k] {
                continue;
            }
            let g = grad[k] + l1_subgradient(params[k], self.l1);
            self.m[k] = self.beta1 * self.m[k] + (1.0 - self.beta1) * g;
            self.v[k] = self.beta2 * self.v[k] + (1.0 - self.beta2) * g * g;
            let mh = self.m[k] / c1;
            let vh = self.v[k] / c2;
            params[k] -= self.lr * mh / (vh.sqrt() + self.eps);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_by_lr_and_respects_mask() {
        let mut a = Adam::new(3, 0.1, 0.0);
        let mut p = [1.0, 1.0, 1.0];
        a.step(&mut p, &[2.0, -5.0, 1.0], &[true, true, false]);
        assert!((p[0] - 0.9).abs() < 1e-6);
        assert!((p[1] - 1.1).abs() < 1e-6);
        assert_eq!(p[2], 1.0);
    }

    #[test]
    fn reset_makes_the_next_step_a_first_step() {
        let mut a = Adam::new(1, 0.1, 0.0);
        let mut p = [0.0];
        for _ in 0..5 {
            a.step(&mut p, &[1.0], &[true]);
        }
        a.reset();
        let before = p[0];
        a.step(&mut p, &[-3.0], &[true]);
        assert!((p[0] - before - 0.1).abs() < 1e-6, "{} {}", before, p[0]);
    }

    #[test]
    fn minimises_a_quadratic() {
        let mut a = Adam::new(2, 0.05, 0.0);
        let mut p = [3.0, -2.0];
        for _ in 0..2000 {
            let g = [2.0 * (p[0] - 1.0), 2.0 * (p[1] + 0.5)];
            a.step(&mut p, &g, &[true, true]);
        }
        assert!(
            (p[0] - 1.0).abs() < 1e-3 && (p[1] + 0.5).abs() < 1e-3,
            "{p:?}"
        );
    }
}
