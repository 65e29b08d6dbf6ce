//! Evaluation metrics.

/// Streaming coefficient of determination with sklearn's `r2_score` semantics for
/// multi-output data: one R^2 per column, then the uniform average. A column with zero
/// variance scores 1 if predicted exactly, else 0 (sklearn's `force_finite`).
#[derive(Debug, Clone)]
pub struct R2 {
    n: f64,
    mean: Vec<f64>,
    m2: Vec<f64>,
    ss_res: Vec<f64>,
}

impl R2 {
    /// An accumulator for `cols` columns.
    pub fn new(cols: usize) -> Self {
        Self {
            n: 0.0,
            mean: vec![0.0; cols],
            m2: vec![0.0; cols],
            ss_res: vec![0.0; cols],
        }
    }

    /// Adds one row of true and predicted values (Welford's update for the variance).
    pub fn push(&mut self, truth: &[f64], pred: &[f64]) {
        self.n += 1.0;
        for k in 0..self.mean.len() {
            let t = truth[k];
            let d = t - self.mean[k];
            self.mean[k] += d / self.n;
            self.m2[k] += d * (t - self.mean[k]);
            let r = t - pred[k];
            self.ss_res[k] += r * r;
        }
    }

    /// The uniform average of the per-column R^2.
    pub fn score(&self) -> f64 {
        let cols = self.mean.len();
        if cols == 0 {
            return f64::NAN;
        }
        let s: f64 = (0..cols)
            .map(|k| {
                if self.m2[k] > 0.0 {
                    1.0 - self.ss_res[k] / self.m2[k]
                } else if self.ss_res[k] == 0.0 {
                    1.0
                } else {
                    0.0
                }
            })
            .sum();
        s / cols as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_two_pass_formula() {
        let truth = [[1.0, 5.0], [2.0, 5.0], [4.0, 5.0]];
        let pred = [[1.5, 5.0], [2.0, 5.0], [3.0, 5.0]];
        let mut r = R2::new(2);
        for (t, p) in truth.iter().zip(&pred) {
            r.push(t, p);
        }
        // column 0: mean 7/3, ss_tot = 14/3, ss_res = 1.25; column 1 constant and exact.
        let expect = ((1.0 - 1.25 / (14.0 / 3.0)) + 1.0) / 2.0;
        assert!((r.score() - expect).abs() < 1e-14);
    }
}
