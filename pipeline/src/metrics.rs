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

/// R^2 per column over its non-NaN samples (sklearn semantics per column), then the uniform
/// average over columns with at least two samples (recorded activity with gaps).
#[derive(Debug, Clone)]
pub struct MaskedR2 {
    n: Vec<f64>,
    sum: Vec<f64>,
    sq: Vec<f64>,
    res: Vec<f64>,
}

impl MaskedR2 {
    /// For `cols` neurons.
    pub fn new(cols: usize) -> Self {
        Self {
            n: vec![0.0; cols],
            sum: vec![0.0; cols],
            sq: vec![0.0; cols],
            res: vec![0.0; cols],
        }
    }
    /// Adds one step: recorded (NaN skipped) and predicted.
    pub fn push(&mut self, truth: &[f64], pred: &[f64]) {
        for (k, (&t, &p)) in truth.iter().zip(pred).enumerate() {
            if !t.is_nan() {
                self.n[k] += 1.0;
                self.sum[k] += t;
                self.sq[k] += t * t;
                self.res[k] += (t - p) * (t - p);
            }
        }
    }
    /// The uniform average (NaN when no neuron has two samples).
    pub fn score(&self) -> f64 {
        let (mut total, mut cols) = (0.0, 0usize);
        for k in 0..self.n.len() {
            if self.n[k] >= 2.0 {
                let ss = self.sq[k] - self.sum[k] * self.sum[k] / self.n[k];
                total += if ss > 0.0 {
                    1.0 - self.res[k] / ss
                } else if self.res[k] == 0.0 {
                    1.0
                } else {
                    0.0
                };
                cols += 1;
            }
        }
        total / cols as f64
    }
}

/// The `q`-quantile (`0..=1`) of `v` by linear interpolation between order statistics
/// (numpy's default); NaN when empty.
pub fn percentile(v: &[f64], q: f64) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (s.len() - 1) as f64;
    let (lo, frac) = (pos.floor() as usize, pos - pos.floor());
    let hi = (lo + 1).min(s.len() - 1);
    s[lo] + frac * (s[hi] - s[lo])
}

/// The arithmetic mean; NaN for an empty slice.
pub fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// The median of the values that are not NaN (the mean of the middle two for an even count);
/// NaN when there are none.
pub fn median(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        0.5 * (s[m - 1] + s[m])
    }
}

/// A number for `metrics.json`: `null` when it is NaN or infinite (JSON has no such numbers).
pub fn json_number(v: f64) -> serde_json::Value {
    if v.is_finite() {
        serde_json::json!(v)
    } else {
        serde_json::Value::Null
    }
}

/// The coefficient of variation of the inter-spike intervals of every spike train with at
/// least 3 spikes (spike times in steps), in train order.
pub fn isi_cvs(times: &[Vec<u32>]) -> Vec<f64> {
    times
        .iter()
        .filter(|t| t.len() >= 3)
        .map(|t| {
            let isi: Vec<f64> = t.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
            let m = mean(&isi);
            (isi.iter().map(|x| (x - m).powi(2)).sum::<f64>() / isi.len() as f64).sqrt() / m
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_r2_is_r2_without_gaps_and_skips_nan() {
        let truth = [[1.0, 0.5], [2.0, 0.1], [4.0, 0.9], [3.0, 0.3]];
        let pred = [[1.1, 0.4], [1.8, 0.2], [3.9, 0.8], [3.3, 0.35]];
        let (mut a, mut b) = (R2::new(2), MaskedR2::new(2));
        for (t, p) in truth.iter().zip(&pred) {
            a.push(t, p);
            b.push(t, p);
        }
        assert!((a.score() - b.score()).abs() < 1e-12);
        // A NaN sample is skipped: the same as leaving the row out of that column.
        let mut c = MaskedR2::new(1);
        let mut d = R2::new(1);
        for (k, (t, p)) in truth.iter().zip(&pred).enumerate() {
            if k == 2 {
                c.push(&[f64::NAN], &[p[0]]);
            } else {
                c.push(&[t[0]], &[p[0]]);
                d.push(&[t[0]], &[p[0]]);
            }
        }
        assert!((c.score() - d.score()).abs() < 1e-12);
    }

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

    #[test]
    fn summary_helpers() {
        assert_eq!(median(&[3.0, f64::NAN, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[f64::NAN]).is_nan() && mean(&[]).is_nan());
        assert_eq!(mean(&[1.0, 2.0]), 1.5);
        assert_eq!(json_number(f64::INFINITY), serde_json::Value::Null);
        assert_eq!(json_number(0.5), serde_json::json!(0.5));
        // Intervals 2, 4: mean 3, sd 1. A train with 2 spikes is skipped.
        let cvs = isi_cvs(&[vec![0, 2, 6], vec![1, 5]]);
        assert_eq!(cvs.len(), 1);
        assert!((cvs[0] - 1.0 / 3.0).abs() < 1e-15);
    }
}
