//! Tests for comparisons across subjects: the exact sign test and the Wilcoxon signed-rank
//! test of paired differences (for example held-out deviance with and without a term, one pair
//! per fly); and Spearman's rank correlation.

/// Exact two-sided sign test: the probability, under a fair coin, of a split of `n` as or more
/// extreme than `k` successes (1 when `n = 0`).
pub fn sign_test_p(k: usize, n: usize) -> f64 {
    if n == 0 {
        return 1.0;
    }
    let lo = k.min(n - k);
    // P(X <= lo) for X ~ Binomial(n, 1/2), by exact log-binomial sums.
    let ln_choose =
        |n: usize, j: usize| -> f64 { (1..=j).map(|i| ((n - j + i) as f64 / i as f64).ln()).sum() };
    let tail: f64 = (0..=lo)
        .map(|j| (ln_choose(n, j) - n as f64 * std::f64::consts::LN_2).exp())
        .sum();
    (2.0 * tail).min(1.0)
}

/// The Wilcoxon signed-rank test of paired differences.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Wilcoxon {
    /// Non-zero differences (zeros are dropped, Wilcoxon's convention).
    pub n: usize,
    /// Sum of the ranks of the positive differences.
    pub w_plus: f64,
    /// Sum of the ranks of the negative differences.
    pub w_minus: f64,
    /// Two-sided p value.
    pub p_two_sided: f64,
    /// Whether `p` is exact (no ties, `n <= 50`) or from the normal approximation (with the
    /// tie correction of the variance and a continuity correction of 0.5).
    pub exact: bool,
}

/// Largest `n` with the exact null distribution.
pub const WILCOXON_EXACT_MAX: usize = 50;

/// Wilcoxon signed-rank test of `diffs` (non-finite values are ignored). With no ties and
/// `n <= 50` the p value is exact, otherwise from the normal approximation; it agrees with
/// `scipy.stats.wilcoxon` (method `exact`, or `approx` with `correction=True`).
pub fn wilcoxon_signed_rank(diffs: &[f64]) -> Wilcoxon {
    let mut d: Vec<f64> = diffs
        .iter()
        .copied()
        .filter(|v| v.is_finite() && *v != 0.0)
        .collect();
    let n = d.len();
    if n == 0 {
        return Wilcoxon {
            n: 0,
            w_plus: 0.0,
            w_minus: 0.0,
            p_two_sided: 1.0,
            exact: true,
        };
    }
    d.sort_by(|a, b| a.abs().total_cmp(&b.abs()));
    // Average ranks of tied magnitudes; tie groups for the variance correction.
    let mut ranks = vec![0.0; n];
    let mut ties = Vec::new();
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && d[j].abs() == d[i].abs() {
            j += 1;
        }
        let r = (i + 1 + j) as f64 / 2.0;
        ranks[i..j].iter_mut().for_each(|v| *v = r);
        if j - i > 1 {
            ties.push((j - i) as f64);
        }
        i = j;
    }
    let w_plus: f64 = d
        .iter()
        .zip(&ranks)
        .filter(|(v, _)| **v > 0.0)
        .map(|(_, r)| r)
        .sum();
    let total = (n * (n + 1)) as f64 / 2.0;
    let w_minus = total - w_plus;
    let exact = ties.is_empty() && n <= WILCOXON_EXACT_MAX;
    let p = if exact {
        // counts[s]: subsets of ranks 1..=n with rank sum s (all 2^n equally likely).
        let max = n * (n + 1) / 2;
        let mut counts = vec![0.0f64; max + 1];
        counts[0] = 1.0;
        for k in 1..=n {
            for s in (k..=max).rev() {
                counts[s] += counts[s - k];
            }
        }
        let all = 2f64.powi(n as i32);
        let w = w_plus.min(w_minus) as usize;
        let tail: f64 = counts[..=w].iter().sum::<f64>() / all;
        (2.0 * tail).min(1.0)
    } else {
        let nf = n as f64;
        let mean = nf * (nf + 1.0) / 4.0;
        let var = nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0
            - ties.iter().map(|t| t * t * t - t).sum::<f64>() / 48.0;
        let dev = (w_plus - mean).abs() - 0.5;
        let z = dev.max(0.0) / var.sqrt();
        libm::erfc(z / std::f64::consts::SQRT_2).min(1.0)
    };
    Wilcoxon {
        n,
        w_plus,
        w_minus,
        p_two_sided: p,
        exact,
    }
}

/// Ranks of `v` from 1, ties given the mean of the ranks they span.
fn average_ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut ranks = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && v[order[j]] == v[order[i]] {
            j += 1;
        }
        let r = (i + 1 + j) as f64 / 2.0;
        for &k in &order[i..j] {
            ranks[k] = r;
        }
        i = j;
    }
    ranks
}

/// Spearman's rank correlation of the pairs `(x[i], y[i])` in which both are finite: the
/// Pearson correlation of their ranks, ties given mean ranks (as `scipy.stats.spearmanr`).
/// NaN with fewer than 3 pairs or when either side is constant.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    let (a, b): (Vec<f64>, Vec<f64>) = x
        .iter()
        .zip(y)
        .filter(|(u, v)| u.is_finite() && v.is_finite())
        .map(|(u, v)| (*u, *v))
        .unzip();
    if a.len() < 3 {
        return f64::NAN;
    }
    let (ra, rb) = (average_ranks(&a), average_ranks(&b));
    // Both rank vectors have the mean (n + 1) / 2.
    let m = (a.len() + 1) as f64 / 2.0;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (p, q) in ra.iter().zip(&rb) {
        sab += (p - m) * (q - m);
        saa += (p - m) * (p - m);
        sbb += (q - m) * (q - m);
    }
    if saa == 0.0 || sbb == 0.0 {
        return f64::NAN;
    }
    sab / (saa * sbb).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_ranks_ties_and_degenerate_cases() {
        // Any increasing map of x gives 1, a decreasing one -1.
        let x = [0.3, -1.0, 2.5, 7.0, 0.0];
        let cube: Vec<f64> = x.iter().map(|v| v * v * v).collect();
        assert_eq!(spearman(&x, &cube), 1.0);
        let neg: Vec<f64> = x.iter().map(|v| -v.exp()).collect();
        assert_eq!(spearman(&x, &neg), -1.0);
        // By hand: ranks of x [1, 2, 3, 4], of y with a tie [1, 2.5, 2.5, 4]; centred
        // [-1.5, -0.5, 0.5, 1.5] and [-1.5, 0, 0, 1.5]: 4.5 / sqrt(5 x 4.5) = 0.948683...
        // (scipy.stats.spearmanr gives 0.9486832980505138).
        let r = spearman(&[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0, 20.0, 40.0]);
        assert!((r - 0.948_683_298_050_513_8).abs() < 1e-15, "{r}");
        assert_eq!(average_ranks(&[5.0, 1.0, 5.0, 5.0]), [3.0, 1.0, 3.0, 3.0]);
        // Pairs with a non-finite side are dropped; too few or constant give NaN.
        let r2 = spearman(
            &[1.0, 2.0, f64::NAN, 3.0, 4.0],
            &[10.0, 20.0, 1.0, 20.0, 40.0],
        );
        assert_eq!(r2, r);
        assert!(spearman(&[1.0, 2.0], &[1.0, 2.0]).is_nan());
        assert!(spearman(&[1.0, 2.0, 3.0], &[4.0, 4.0, 4.0]).is_nan());
    }

    #[test]
    fn sign_test_matches_binomial_tails() {
        // 17 of 18: 2 * (1 + 18) / 2^18.
        assert!((sign_test_p(17, 18) - 2.0 * 19.0 / 262_144.0).abs() < 1e-15);
        assert_eq!(sign_test_p(9, 18), 1.0);
        assert!((sign_test_p(0, 5) - 2.0 / 32.0).abs() < 1e-15);
        assert_eq!(sign_test_p(0, 0), 1.0);
    }

    /// Reference values from scipy.stats.wilcoxon 1.x (computed once, by hand).
    #[test]
    fn wilcoxon_matches_scipy() {
        let p = |d: &[f64]| wilcoxon_signed_rank(d).p_two_sided;
        assert!((p(&[1.0, 2.0, 3.0, 4.0, 5.0]) - 0.0625).abs() < 1e-15);
        assert!((p(&[-1.0, 2.0, 3.0, 4.0, 5.0, 6.0]) - 0.0625).abs() < 1e-15);
        let d = [
            0.5, -1.2, 2.0, 3.1, -0.3, 4.2, 1.1, 0.9, -2.2, 1.7, 0.4, 2.8,
        ];
        assert!((p(&d) - 0.0771484375).abs() < 1e-15);
        // Normal approximation: n = 80 (above the exact limit), and with ties.
        let big: Vec<f64> = (1..=80).map(|k| (k as f64 * 0.37).sin() + 0.3).collect();
        let w = wilcoxon_signed_rank(&big);
        assert!(!w.exact);
        assert!(
            (w.p_two_sided - 0.000_171_351_478_034_095).abs() < 1e-12,
            "{w:?}"
        );
        let tied: Vec<f64> = big.iter().map(|v| (v * 10.0).round() / 10.0).collect();
        let w = wilcoxon_signed_rank(&tied);
        assert_eq!(w.n, 77);
        assert!(
            (w.p_two_sided - 9.503_330_272_998_797e-5).abs() < 1e-12,
            "{w:?}"
        );
        // Symmetric, zeros dropped, nothing to test gives 1.
        let neg: Vec<f64> = d.iter().map(|v| -v).collect();
        assert_eq!(p(&neg), p(&d));
        assert_eq!(wilcoxon_signed_rank(&[0.0, 1.0, 0.0]).n, 1);
        assert_eq!(p(&[]), 1.0);
        assert_eq!(p(&[f64::NAN]), 1.0);
    }
}
