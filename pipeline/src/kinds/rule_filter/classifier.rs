//! The classifier that restricts a round's prior: bagged decision trees (smartcore's CART),
//! seeded, trained on every earlier rule to predict "meets this round's constraints". Its score
//! is the fraction of trees voting yes; the threshold keeps at least `1 - false_negatives` of
//! the earlier rules that met the constraints (sbi's restriction estimator allows 1%).

use crate::rng::Rng;
use serde::Serialize;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::tree::decision_tree_classifier::{
    DecisionTreeClassifier, DecisionTreeClassifierParameters,
};

type Cart = DecisionTreeClassifier<f64, u32, DenseMatrix<f64>, Vec<u32>>;

/// One tree of the ensemble: fitted, or a constant vote when its bootstrap sample held one
/// class only (smartcore refuses to fit one class).
enum Tree {
    Fitted(Box<Cart>),
    Constant(bool),
}

/// A trained ensemble.
pub struct Forest {
    trees: Vec<Tree>,
    features: usize,
}

/// Trains `trees` decision trees (depth at most `max_depth`), each on a bootstrap sample of
/// `(x, y)` drawn from substream `t` of `rng`; `x` holds `rows.len()` rows of `features`
/// numbers. `None` when there is nothing to learn (no rows, or one class only).
pub fn train(
    x: &[Vec<f64>],
    y: &[bool],
    trees: usize,
    max_depth: u16,
    rng: &Rng,
) -> Result<Option<Forest>, String> {
    let n = x.len();
    let features = x.first().map_or(0, |r| r.len());
    if n == 0 || y.iter().all(|v| *v) || y.iter().all(|v| !*v) {
        return Ok(None);
    }
    let idx: Vec<usize> = (0..trees).collect();
    let fitted: Vec<Result<Tree, String>> = crate::parallel::map(&idx, |&t| {
        let mut r = rng.substream(t as u32);
        let rows: Vec<usize> = (0..n)
            .map(|_| ((r.uniform() * n as f64) as usize).min(n - 1))
            .collect();
        let ys: Vec<u32> = rows.iter().map(|&i| u32::from(y[i])).collect();
        if ys.iter().all(|v| *v == ys[0]) {
            return Ok(Tree::Constant(ys[0] == 1));
        }
        let xs: Vec<Vec<f64>> = rows.iter().map(|&i| x[i].clone()).collect();
        let m = DenseMatrix::from_2d_vec(&xs).map_err(|e| e.to_string())?;
        let params = DecisionTreeClassifierParameters {
            max_depth: Some(max_depth),
            seed: Some(t as u64),
            ..Default::default()
        };
        Cart::fit(&m, &ys, params)
            .map(|t| Tree::Fitted(Box::new(t)))
            .map_err(|e| e.to_string())
    });
    let trees = fitted.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Forest { trees, features }))
}

impl Forest {
    /// The fraction of trees voting "meets the constraints", per row of `x`.
    pub fn score(&self, x: &[Vec<f64>]) -> Result<Vec<f64>, String> {
        if x.is_empty() {
            return Ok(Vec::new());
        }
        if x.iter().any(|r| r.len() != self.features) {
            return Err("internal: classifier rows of the wrong width".into());
        }
        let m = DenseMatrix::from_2d_vec(&x.to_vec()).map_err(|e| e.to_string())?;
        let mut votes = vec![0.0; x.len()];
        for t in &self.trees {
            match t {
                Tree::Fitted(t) => {
                    let p = t.predict(&m).map_err(|e| e.to_string())?;
                    for (v, c) in votes.iter_mut().zip(p) {
                        *v += f64::from(c);
                    }
                }
                Tree::Constant(yes) => {
                    if *yes {
                        votes.iter_mut().for_each(|v| *v += 1.0);
                    }
                }
            }
        }
        let k = self.trees.len() as f64;
        Ok(votes.into_iter().map(|v| v / k).collect())
    }
}

/// The largest threshold that keeps at least `1 - false_negatives` of `positive_scores` (a
/// rule is kept when its score is >= the threshold).
pub fn threshold(positive_scores: &[f64], false_negatives: f64) -> f64 {
    let mut s = positive_scores.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return 0.0;
    }
    let drop = ((false_negatives * s.len() as f64).floor() as usize).min(s.len() - 1);
    s[drop]
}

/// How the classifier of a round did, for `metrics.json`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClassifierReport {
    /// The round whose constraints it learned: this round's, or the latest earlier round's
    /// that some earlier rule meets when none meets this round's.
    pub constraints_of_round: usize,
    /// Earlier rules in the training split of the held-out check (the restriction itself is
    /// trained on every earlier rule).
    pub trained_on: usize,
    /// Earlier rules held out for the scores below.
    pub held_out: usize,
    /// Earlier rules meeting the round's constraints (all splits).
    pub positives: usize,
    /// The acceptance threshold on the vote fraction.
    pub threshold: f64,
    /// Fraction of the earlier positives it keeps (>= 1 - false_negatives by construction).
    pub kept_positives: f64,
    /// Held-out accuracy of the check (trees and threshold from the training split).
    pub held_out_accuracy: Option<f64>,
    /// Held-out positives the check rejects, as a fraction of the held-out positives.
    pub held_out_false_negative_rate: Option<f64>,
    /// Fraction of box-prior draws it accepted while drawing this round's candidates.
    pub acceptance_rate: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_keeps_at_least_the_asked_fraction() {
        let s: Vec<f64> = (0..200).map(|i| i as f64 / 200.0).collect();
        let t = threshold(&s, 0.01);
        let kept = s.iter().filter(|v| **v >= t).count();
        assert_eq!(kept, 198);
        assert_eq!(threshold(&s[..50], 0.01), 0.0); // 1% of 50 rounds down: keep all
        assert_eq!(threshold(&[0.7], 0.5), 0.7);
        assert_eq!(threshold(&[], 0.01), 0.0);
    }

    /// A region the trees can learn (x0 + x1 > 1 of the unit square), seeded: the same bits
    /// twice, every training positive kept at the threshold, held-out accuracy well above
    /// chance.
    #[test]
    fn the_forest_learns_a_region_and_is_reproducible() {
        let mut r = Rng::new(3);
        let pts: Vec<Vec<f64>> = (0..600)
            .map(|_| vec![r.uniform(), r.uniform(), r.uniform()])
            .collect();
        let lab: Vec<bool> = pts.iter().map(|p| p[0] + p[1] > 1.0).collect();
        let (train_x, test_x) = pts.split_at(400);
        let (train_y, test_y) = lab.split_at(400);
        let f = train(train_x, train_y, 30, 8, &Rng::new(9))
            .unwrap()
            .unwrap();
        let g = train(train_x, train_y, 30, 8, &Rng::new(9))
            .unwrap()
            .unwrap();
        let (a, b) = (f.score(test_x).unwrap(), g.score(test_x).unwrap());
        assert_eq!(a, b);
        let pos: Vec<f64> = f
            .score(train_x)
            .unwrap()
            .into_iter()
            .zip(train_y)
            .filter(|(_, y)| **y)
            .map(|(s, _)| s)
            .collect();
        let t = threshold(&pos, 0.01);
        assert!(pos.iter().filter(|s| **s >= t).count() as f64 >= 0.99 * pos.len() as f64);
        let correct = a
            .iter()
            .zip(test_y)
            .filter(|(s, y)| (**s >= 0.5) == **y)
            .count();
        assert!(
            correct as f64 / 200.0 > 0.85,
            "accuracy {}",
            correct as f64 / 200.0
        );
        assert!(train(&pts[..3], &[true, true, true], 5, 4, &Rng::new(1))
            .unwrap()
            .is_none());
    }
}
