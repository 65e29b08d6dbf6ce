//! Fitting machinery shared by the kinds that fit rules by gradient descent (`fit_rate`,
//! `fit_behavior`, `meta_function`): [`Adam`] with an L1 penalty and a trainable mask, and
//! [`GuardedAdam`], Adam with undo-and-halve and epoch reverts, whose whole state is
//! serialisable so a fit can be checkpointed and resumed to the same bits.

pub mod adam;
pub mod identify;

pub use adam::{l1_subgradient, Adam};
use serde::{Deserialize, Serialize};

/// Which gradient pass a fit uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GradientMethod {
    /// Reverse pass over the stored trajectory.
    #[default]
    Adjoint,
    /// Forward sensitivities.
    Forward,
}

/// Undone steps in a row after which a fit gives up.
pub const MAX_UNDONE: usize = 30;

/// An epoch whose mean loss exceeds this factor times the best epoch's is reverted.
pub const REVERT_FACTOR: f64 = 1.5;

/// Adam that can take back a step.
///
/// - [`GuardedAdam::step`] remembers the parameters and moments before each step.
/// - [`GuardedAdam::undo`]: the loss at the new parameters was not finite (weights blew up
///   under the rule): go back to before the last step, and halve the rate from then on. The
///   moments go back too, unless [`GuardedAdam::keeping_moments`] was asked for (then the
///   undone step's gradient stays in them: `fit_rate`'s behaviour since its first release,
///   kept so its results do not change). Undoing with no step since the last undo (or [`MAX_UNDONE`] undos in
///   a row) is refused: the fit has diverged.
/// - [`GuardedAdam::end_epoch`]: an epoch whose mean loss exceeds [`REVERT_FACTOR`] times the
///   best epoch's goes back to the end of the best epoch, with half the rate.
///
/// The rate of a step is `lr * rate_scale`, with `lr` the caller's schedule (constant or
/// decaying) and `rate_scale = 0.5^(undos + reverts)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardedAdam {
    /// The optimiser.
    pub adam: Adam,
    /// Factor on the scheduled rate, halved by every undo and revert.
    pub rate_scale: f64,
    /// Parameters and optimiser before the last step.
    before: Option<(Vec<f64>, Adam)>,
    /// Steps undone so far.
    pub undone: usize,
    /// Undone steps in a row.
    consecutive: usize,
    /// The best epoch so far: its mean loss, parameters and optimiser.
    best: Option<(f64, Vec<f64>, Adam)>,
    /// Epochs reverted so far.
    pub reverted: usize,
    /// Whether an undo keeps the moments of the undone step.
    #[serde(default)]
    keep_moments: bool,
}

impl GuardedAdam {
    /// For `n` parameters, rate `lr` (Adam's betas 0.9 / 0.999, eps 1e-8), L1 weight `l1`.
    pub fn new(n: usize, lr: f64, l1: f64) -> Self {
        Self {
            adam: Adam::new(n, lr, l1),
            rate_scale: 1.0,
            before: None,
            undone: 0,
            consecutive: 0,
            best: None,
            reverted: 0,
            keep_moments: false,
        }
    }

    /// An undo restores the parameters only; the moments keep the undone step's gradient.
    pub fn keeping_moments(mut self) -> Self {
        self.keep_moments = true;
        self
    }

    /// One Adam step at rate `lr * rate_scale` on the parameters whose `mask` entry is true
    /// (call it after the loss at `params` was finite).
    pub fn step(&mut self, params: &mut [f64], grad: &[f64], mask: &[bool], lr: f64) {
        self.consecutive = 0;
        self.before = Some((params.to_vec(), self.adam.clone()));
        self.adam.lr = lr * self.rate_scale;
        self.adam.step(params, grad, mask);
    }

    /// The loss at `params` was not finite: undoes the last step and halves the rate.
    /// `Err(undone)` when there is no step to undo: the fit has diverged.
    pub fn undo(&mut self, params: &mut [f64]) -> Result<(), usize> {
        self.undone += 1;
        self.consecutive += 1;
        let Some((p, a)) = self
            .before
            .take()
            .filter(|_| self.consecutive <= MAX_UNDONE)
        else {
            return Err(self.undone);
        };
        params.copy_from_slice(&p);
        if !self.keep_moments {
            self.adam = a;
        }
        self.rate_scale *= 0.5;
        Ok(())
    }

    /// Closes an epoch of mean loss `loss`; returns true when it was reverted (`params` set
    /// back to the best epoch's).
    pub fn end_epoch(&mut self, loss: f64, params: &mut [f64]) -> bool {
        match &self.best {
            Some((b, p, a)) if loss > b * REVERT_FACTOR => {
                params.copy_from_slice(p);
                self.adam = a.clone();
                self.rate_scale *= 0.5;
                self.before = None;
                self.reverted += 1;
                true
            }
            Some((b, _, _)) if loss >= *b => false,
            _ => {
                self.best = Some((loss, params.to_vec(), self.adam.clone()));
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undo_restores_parameters_and_moments_and_halves_the_rate() {
        let mut g = GuardedAdam::new(2, 0.1, 0.0);
        let mut p = vec![1.0, -1.0];
        g.step(&mut p, &[1.0, 1.0], &[true, true], 0.1);
        let (p1, a1) = (p.clone(), g.adam.clone());
        g.step(&mut p, &[2.0, -3.0], &[true, true], 0.1);
        assert_ne!(p, p1);
        g.undo(&mut p).unwrap();
        assert_eq!(p, p1);
        assert_eq!(g.adam, a1);
        assert_eq!(g.rate_scale, 0.5);
        // No step since the undo: a second failure means divergence.
        assert_eq!(g.undo(&mut p), Err(2));
        // The next step runs at half the rate.
        let mut q = p.clone();
        g.step(&mut q, &[1.0, 1.0], &[true, true], 0.1);
        assert_eq!(g.adam.lr, 0.05);
    }

    #[test]
    fn keeping_moments_restores_the_parameters_only() {
        let mut g = GuardedAdam::new(1, 0.1, 0.0).keeping_moments();
        let mut p = vec![1.0];
        g.step(&mut p, &[1.0], &[true], 0.1);
        let (p1, a1) = (p.clone(), g.adam.clone());
        g.step(&mut p, &[5.0], &[true], 0.1);
        let a2 = g.adam.clone();
        g.undo(&mut p).unwrap();
        assert_eq!(p, p1);
        assert_eq!(g.adam, a2);
        assert_ne!(g.adam, a1);
    }

    #[test]
    fn a_much_worse_epoch_is_reverted() {
        let mut g = GuardedAdam::new(1, 0.1, 0.0);
        let mut p = vec![0.0];
        assert!(!g.end_epoch(1.0, &mut p));
        g.step(&mut p, &[1.0], &[true], 0.1);
        assert!(!g.end_epoch(1.4, &mut p));
        let moved = p.clone();
        assert!(g.end_epoch(1.6, &mut p));
        assert_eq!(p, vec![0.0]);
        assert_ne!(p, moved);
        assert_eq!((g.reverted, g.rate_scale), (1, 0.5));
    }
}
