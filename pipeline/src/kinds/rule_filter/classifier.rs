//! The classifier that restricts a round's prior: bagged decision trees (smartcore's CART),
//! seeded, trained on every earlier rule to predict "meets this round's constraints". Its score
//! is the fraction of trees voting yes; the threshold keeps at least `1 - false_negatives` of
//! the earlier rules that met the constraints (sbi's restriction estimator allows 1%), scored
//! out of bag: each earlier rule only by the trees whose bootstrap sample left it out, so the
//! threshold is set on scores like those of new rules. (On in-bag scores deep trees give every
//! training positive a vote near 1, the threshold lands near 1, and the restricted prior drops
//! most good rules it has not seen: 85% of held-out positives in `rule_families_rounds.yaml`.)

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
    /// Per tree, which training rows its bootstrap sample holds.
    in_bag: Vec<Vec<bool>>,
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
    let fitted: Vec<Result<(Tree, Vec<bool>), String>> = crate::parallel::map(&idx, |&t| {
        let mut r = rng.substream(t as u32);
        let rows: Vec<usize> = (0..n)
            .map(|_| ((r.uniform() * n as f64) as usize).min(n - 1))
            .collect();
        let mut bag = vec![false; n];
        for &i in &rows {
            bag[i] = true;
        }
        let ys: Vec<u32> = rows.iter().map(|&i| u32::from(y[i])).collect();
        if ys.iter().all(|v| *v == ys[0]) {
            return Ok((Tree::Constant(ys[0] == 1), bag));
        }
        let xs: Vec<Vec<f64>> = rows.iter().map(|&i| x[i].clone()).collect();
        let m = DenseMatrix::from_2d_vec(&xs).map_err(|e| e.to_string())?;
        let params = DecisionTreeClassifierParameters {
            max_depth: Some(max_depth),
            seed: Some(t as u64),
            ..Default::default()
        };
        Cart::fit(&m, &ys, params)
            .map(|t| (Tree::Fitted(Box::new(t)), bag))
            .map_err(|e| e.to_string())
    });
    let (trees, in_bag) = fitted
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .unzip();
    Ok(Some(Forest {
        trees,
        features,
        in_bag,
    }))
}

impl Forest {
    /// Each tree's vote (0 or 1) on each row of `x`, tree by tree.
    fn votes(&self, x: &[Vec<f64>]) -> Result<Vec<Vec<u32>>, String> {
        if x.is_empty() {
            return Ok(vec![Vec::new(); self.trees.len()]);
        }
        if x.iter().any(|r| r.len() != self.features) {
            return Err("internal: classifier rows of the wrong width".into());
        }
        let m = DenseMatrix::from_2d_vec(&x.to_vec()).map_err(|e| e.to_string())?;
        self.trees
            .iter()
            .map(|t| match t {
                Tree::Fitted(t) => t.predict(&m).map_err(|e| e.to_string()),
                Tree::Constant(yes) => Ok(vec![u32::from(*yes); x.len()]),
            })
            .collect()
    }

    /// The fraction of trees voting "meets the constraints", per row of `x`.
    pub fn score(&self, x: &[Vec<f64>]) -> Result<Vec<f64>, String> {
        let votes = self.votes(x)?;
        let k = self.trees.len() as f64;
        Ok((0..x.len())
            .map(|i| votes.iter().map(|v| f64::from(v[i])).sum::<f64>() / k)
            .collect())
    }

    /// Out-of-bag scores of the training rows `x` (the rows the forest was trained on, in
    /// order): per row, the fraction of yes votes among the trees whose bootstrap sample left
    /// it out; `None` for a row every tree saw (about e^-T of the rows for T trees).
    pub fn oob_scores(&self, x: &[Vec<f64>]) -> Result<Vec<Option<f64>>, String> {
        if self.in_bag.iter().any(|b| b.len() != x.len()) {
            return Err("internal: out-of-bag scores need the training rows".into());
        }
        let votes = self.votes(x)?;
        Ok((0..x.len())
            .map(|i| {
                let (yes, n) = votes
                    .iter()
                    .zip(&self.in_bag)
                    .filter(|(_, bag)| !bag[i])
                    .fold((0u32, 0u32), |(y, n), (v, _)| (y + v[i], n + 1));
                (n > 0).then(|| f64::from(yes) / f64::from(n))
            })
            .collect())
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
        // Out of bag: each training row scored by the trees that did not see it, which is
        // how new rows are scored; in-bag scores of the positives are higher (deep trees
        // remember their training rows), so a threshold on them would be too strict.
        let oob = f.oob_scores(train_x).unwrap();
        assert!(oob.iter().filter(|s| s.is_none()).count() <= 2);
        let oob_pos: Vec<f64> = oob
            .iter()
            .zip(train_y)
            .filter(|(_, y)| **y)
            .filter_map(|(s, _)| *s)
            .collect();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        assert!(
            mean(&oob_pos) < mean(&pos),
            "{} vs {}",
            mean(&oob_pos),
            mean(&pos)
        );
        let t_oob = threshold(&oob_pos, 0.01);
        assert!(t_oob < t, "{t_oob} vs {t}");
        let test_pos: Vec<f64> = a
            .iter()
            .zip(test_y)
            .filter(|(_, y)| **y)
            .map(|(s, _)| *s)
            .collect();
        let kept =
            |t: f64| test_pos.iter().filter(|s| **s >= t).count() as f64 / test_pos.len() as f64;
        assert!(
            kept(t_oob) >= kept(t) && kept(t_oob) > 0.9,
            "{} vs {}",
            kept(t_oob),
            kept(t)
        );
        assert!(f.oob_scores(test_x).is_err());
    }
}
