//! Round axis ticks (1, 2 or 5 x 10^k), integer powers of ten on log axes, and their labels.

/// Largest magnitude [`nice_ticks`] works with; larger (and infinite) ends are clamped to it.
const TICK_BIG: f64 = 1e300;
/// Narrowest span [`nice_ticks`] divides, relative to the larger end's magnitude: narrower
/// ranges (float noise around a constant) are widened about their middle.
const TICK_REL_SPAN: f64 = 1e-6;
/// Narrowest absolute span [`nice_ticks`] divides (keeps `10^k` of the step finite).
const TICK_MIN_SPAN: f64 = 1e-290;
/// Tick counts aimed for: at most this many on a linear axis ...
pub(super) const LINEAR_TICKS: usize = 7;
/// ... and at most this many decades labelled on a log axis.
pub(super) const LOG_TICKS: usize = 11;

/// The value `n x 10^e`, parsed from its decimal form so it is the double nearest to it.
fn decimal(n: i64, e: i32) -> f64 {
    format!("{n}e{e}").parse().unwrap_or(0.0)
}

/// `lo <= hi`, both finite and within `±TICK_BIG`, `hi > lo`; NaN ends count as missing.
fn tick_range(lo: f64, hi: f64) -> (f64, f64) {
    let clamp = |v: f64| (!v.is_nan()).then(|| v.clamp(-TICK_BIG, TICK_BIG));
    let (lo, hi) = match (clamp(lo), clamp(hi)) {
        (Some(a), Some(b)) => (a.min(b), a.max(b)),
        (Some(a), None) | (None, Some(a)) => (a, a),
        (None, None) => (0.0, 1.0),
    };
    let (lo, hi) = if lo == hi {
        let half = if lo == 0.0 { 1.0 } else { 0.1 * lo.abs() };
        (lo - half, hi + half)
    } else {
        (lo, hi)
    };
    let min_span = (TICK_REL_SPAN * lo.abs().max(hi.abs())).max(TICK_MIN_SPAN);
    if hi - lo < min_span {
        let mid = lo / 2.0 + hi / 2.0;
        return (mid - min_span / 2.0, mid + min_span / 2.0);
    }
    (lo, hi)
}

/// Round axis ticks covering `[lo, hi]`: consecutive multiples of a step of 1, 2 or 5 x 10^k,
/// the smallest such step giving at most `max_ticks` (taken in `3..=100`) ticks. The first
/// tick is `<= lo` and the last `>= hi`, so an axis drawn from the first to the last tick
/// holds all the data. The ends may come in either order; a NaN end is ignored, an infinite
/// one clamped to ±1e300; an empty range (`lo == hi`) is widened by 10% of its value (to
/// `[-1, 1]` at zero) and one narrower than 1e-6 of its magnitude is widened to that, so there
/// are always at least two distinct ticks. Each tick is the double nearest to its decimal
/// value (`0.3`, not `0.30000000000000004`).
pub fn nice_ticks(lo: f64, hi: f64, max_ticks: usize) -> Vec<f64> {
    let max_ticks = max_ticks.clamp(3, 100) as i64;
    let (lo, hi) = tick_range(lo, hi);
    let raw = (hi - lo) / (max_ticks - 1) as f64;
    // One decade below the step that surely fits, then up through 1, 2, 5 x 10^e.
    let mut e = raw.log10().floor() as i32 - 1;
    loop {
        for m in [1i64, 2, 5] {
            let step = decimal(m, e);
            let at = |k: i64| decimal(k * m, e);
            let mut first = (lo / step).floor() as i64;
            while at(first) > lo {
                first -= 1;
            }
            while at(first + 1) <= lo {
                first += 1;
            }
            let mut last = (hi / step).ceil() as i64;
            while at(last) < hi {
                last += 1;
            }
            while at(last - 1) >= hi {
                last -= 1;
            }
            if last - first < max_ticks {
                return (first..=last).map(at).collect();
            }
        }
        e += 1;
    }
}

/// Integer powers of ten for a log axis over `[lo, hi]` (both `log10` of the data): the
/// exponents of at most `max_ticks` (taken in `3..=100`) ticks, every decade or, over wide
/// ranges, every 2nd, 5th, 10th, ... decade, with the first `<= lo` and the last `>= hi`.
/// A range within one decade is widened to the powers around it (one on each side if the
/// range is a single power). Ends are handled as in [`nice_ticks`].
pub fn log_ticks(lo: f64, hi: f64, max_ticks: usize) -> Vec<i32> {
    let max_ticks = max_ticks.clamp(3, 100) as i64;
    let clamp = |v: f64| (!v.is_nan()).then(|| v.clamp(-400.0, 400.0));
    let (lo, hi) = match (clamp(lo), clamp(hi)) {
        (Some(a), Some(b)) => (a.min(b), a.max(b)),
        (Some(a), None) | (None, Some(a)) => (a, a),
        (None, None) => (0.0, 1.0),
    };
    let (mut a, mut b) = (lo.floor() as i64, hi.ceil() as i64);
    if a == b {
        (a, b) = (a - 1, b + 1);
    }
    let mut scale = 1i64;
    loop {
        for m in [1i64, 2, 5] {
            let d = m * scale;
            let (first, last) = (a.div_euclid(d), (b + d - 1).div_euclid(d));
            if last - first < max_ticks {
                return (first..=last).map(|k| (k * d) as i32).collect();
            }
        }
        scale *= 10;
    }
}

/// The label of the log-axis tick `10^e`: `1e-8`, `1e0`, `1e4`.
pub fn log_tick_label(e: i32) -> String {
    format!("1e{e}")
}

/// The decimal exponent of a finite non-zero `v`: `3` for `1234.5`, `-5` for `2e-5`.
fn exponent(v: f64) -> i32 {
    let s = format!("{:e}", v);
    s.rsplit('e')
        .next()
        .and_then(|e| e.parse().ok())
        .unwrap_or(0)
}

/// Labels for `values` printed to a resolution of `10^res` (the last digit any label shows
/// stands for at least `10^res`), one style for all: fixed-point with the same number of
/// decimals, or, for magnitudes below 1e-3 and for big numbers where it is much shorter, a
/// compact exponent form with the same number of mantissa decimals (`1.5e-7`, `2.0e-7`,
/// `1.0e12`). Zero prints as `0`, non-finite values as Rust prints them.
fn labels_at(values: &[f64], res: i32) -> Vec<String> {
    let finite = || {
        values
            .iter()
            .copied()
            .filter(|v| v.is_finite() && *v != 0.0)
    };
    let Some(e_max) = finite().map(exponent).max() else {
        return values
            .iter()
            .map(|v| {
                if *v == 0.0 {
                    "0".into()
                } else {
                    format!("{v}")
                }
            })
            .collect();
    };
    let fixed_decimals = (-res).clamp(0, 17) as usize;
    let fixed_len = e_max.max(0) as usize + 1 + fixed_decimals + usize::from(fixed_decimals > 0);
    let exp_decimals = finite()
        .map(|v| (exponent(v) - res).clamp(0, 16) as usize)
        .max()
        .unwrap_or(0);
    let exp_len = 1 + exp_decimals + usize::from(exp_decimals > 0) + 1 + e_max.to_string().len();
    let use_exp = e_max <= -4 || (e_max >= 6 && exp_len + 2 <= fixed_len);
    values
        .iter()
        .map(|&v| {
            if !v.is_finite() {
                return format!("{v}");
            }
            let s = if use_exp {
                format!("{v:.exp_decimals$e}")
            } else {
                format!("{v:.fixed_decimals$}")
            };
            if s.parse::<f64>() == Ok(0.0) {
                "0".into()
            } else {
                s
            }
        })
        .collect()
}

/// Labels for the ticks of one axis (as from [`nice_ticks`]: equally spaced, round): each
/// prints its value exactly, without float noise, all in one style and with one number of
/// decimals (see `labels_at`); `0` prints as `0`.
pub fn tick_labels(ticks: &[f64]) -> Vec<String> {
    let finite: Vec<f64> = ticks.iter().copied().filter(|v| v.is_finite()).collect();
    let step = match finite.as_slice() {
        [] => 1.0,
        [v] => v.abs(),
        [a, .., b] => (b - a).abs() / (finite.len() - 1) as f64,
    };
    // A round step is m x 10^e with m in {1, 2, 5}: the nudge keeps 0.0999... in decade -1.
    let res = if step > 0.0 {
        (step.log10() + 1e-6).floor() as i32
    } else {
        0
    };
    labels_at(ticks, res)
}

/// Labels for data values (heat-map cells): three significant digits of the largest
/// magnitude, the same style and decimals for all (see `labels_at`).
pub(super) fn value_labels(values: &[f64]) -> Vec<String> {
    let e_max = values
        .iter()
        .filter(|v| v.is_finite() && **v != 0.0)
        .map(|v| exponent(*v))
        .max()
        .unwrap_or(0);
    labels_at(values, e_max - 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ranges worth a look: the issue's, degenerate ones, tiny and huge magnitudes.
    const HAND_PICKED: &[(f64, f64)] = &[
        (0.0, 16.5),
        (-3801.101, 39.988),
        (1e-9, 3e-7),
        (0.999, 1.001),
        (-5.0, -5.0),
        (0.0, 1e12),
        (0.0, 1.0),
        (0.0, 0.0),
        (0.1, 0.3),
        (0.3, 0.30000000000000004),
        (0.0, 1e-5),
        (-1e-5, 0.0),
        (1.0, 1.0 + 1e-15),
        (std::f64::consts::LN_2, 0.6931471805599454),
        (1e6, 1e6 + 10.0),
        (1e-300, 3e-300),
        (5e-324, 5e-324),
        (-1e300, 1e300),
        (f64::MAX, f64::MAX),
        (f64::MIN, f64::MAX),
        (f64::NEG_INFINITY, f64::INFINITY),
        (f64::NAN, 3.0),
        (f64::NAN, f64::NAN),
        (-2.0, 3.0),
        (7.0, -2.0),
        (-1e-7, -3e-8),
        (99.0, 101.0),
        (1.0, 200.0),
        (123456.0, 123457.0),
    ];

    /// A small deterministic generator (64-bit LCG, top bits) for random ranges.
    struct Lcg(u64);
    impl Lcg {
        fn unit(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
        /// A value of random sign and magnitude 10^[-12, 12) (sometimes exactly 0).
        fn value(&mut self) -> f64 {
            let u = self.unit();
            if u < 0.05 {
                return 0.0;
            }
            let sign = if self.unit() < 0.5 { -1.0 } else { 1.0 };
            sign * 10f64.powf(24.0 * self.unit() - 12.0)
        }
        /// A range: two independent values, or one value and a nearby one.
        fn range(&mut self) -> (f64, f64) {
            let a = self.value();
            let b = if self.unit() < 0.5 {
                self.value()
            } else {
                a + a * 10f64.powf(-8.0 * self.unit()) * (self.unit() - 0.5)
            };
            (a, b)
        }
    }

    fn ranges() -> Vec<(f64, f64)> {
        let mut g = Lcg(0x5eed);
        let mut v = HAND_PICKED.to_vec();
        v.extend((0..5000).map(|_| g.range()));
        v
    }

    /// The invariants of `nice_ticks(lo, hi, max)` and of its labels; panics with the range.
    fn check(lo: f64, hi: f64, max: usize) {
        let t = nice_ticks(lo, hi, max);
        let ctx = format!("({lo:e}, {hi:e}) max {max}: {t:?}");
        assert!(t.len() >= 2 && t.len() <= max.clamp(3, 100), "count {ctx}");
        assert!(t.len() <= 11 || max > 11, "count {ctx}");
        assert!(t.iter().all(|v| v.is_finite()), "finite {ctx}");
        assert!(t.windows(2).all(|w| w[0] < w[1]), "ascending {ctx}");
        // The step: 1, 2 or 5 x 10^k.
        let step = t[1] - t[0];
        let e = (step.log10() + 1e-6).floor();
        let m = step / 10f64.powf(e);
        let n = [1.0, 2.0, 5.0]
            .into_iter()
            .find(|n| (m - n).abs() < 1e-6 * n);
        let n = n.unwrap_or_else(|| panic!("step {step:e} (mantissa {m}) {ctx}"));
        // The exact round step (the difference of two ticks carries their rounding).
        let step: f64 = format!("{n}e{e}").parse().unwrap();
        for (i, v) in t.iter().enumerate() {
            let k = v / step;
            assert!((k - k.round()).abs() < 1e-4, "{v:e} not a multiple {ctx}");
            let want = t[0] + step * i as f64;
            assert!((v - want).abs() <= 1e-6 * step, "spacing at {i} {ctx}");
        }
        // The axis covers the (finite, ordered) range.
        let finite: Vec<f64> = [lo, hi]
            .into_iter()
            .filter(|v| !v.is_nan())
            .map(|v| v.clamp(-1e300, 1e300))
            .collect();
        if let (Some(a), Some(b)) = (
            finite.iter().copied().reduce(f64::min),
            finite.iter().copied().reduce(f64::max),
        ) {
            assert!(t[0] <= a && t[t.len() - 1] >= b, "cover {ctx}");
        }
        // Labels: round, exact, distinct, one style.
        let labels = tick_labels(&t);
        assert_eq!(labels.len(), t.len(), "{ctx}");
        for (l, v) in labels.iter().zip(&t) {
            let back: f64 = l.parse().unwrap_or_else(|_| panic!("label {l:?} {ctx}"));
            assert!(
                (back - v).abs() <= 1e-9 * step,
                "label {l:?} for {v:e} {ctx} {labels:?}"
            );
            assert!(l.len() <= 16, "label {l:?} too long {ctx}");
            if *v == 0.0 {
                assert_eq!(l, "0", "{ctx}");
            }
        }
        for (i, a) in labels.iter().enumerate() {
            assert!(!labels[..i].contains(a), "duplicate {a:?} {ctx} {labels:?}");
        }
        let decimals = |l: &str| {
            let mantissa = l.split('e').next().unwrap_or("");
            mantissa.split('.').nth(1).map_or(0, str::len)
        };
        let nonzero: Vec<&String> = labels.iter().filter(|l| *l != "0").collect();
        assert!(
            nonzero
                .windows(2)
                .all(|w| decimals(w[0]) == decimals(w[1])
                    && w[0].contains('e') == w[1].contains('e')),
            "mixed styles {ctx} {labels:?}"
        );
    }

    #[test]
    fn nice_ticks_are_round_and_cover_the_range() {
        for (lo, hi) in ranges() {
            check(lo, hi, LINEAR_TICKS);
        }
    }

    #[test]
    fn nice_ticks_respect_other_counts() {
        let mut g = Lcg(7);
        for (lo, hi) in ranges().into_iter().take(1000) {
            let max = 3 + (g.unit() * 8.0) as usize;
            check(lo, hi, max);
        }
        check(0.0, 16.5, 0);
        check(0.0, 16.5, usize::MAX);
    }

    #[test]
    fn nice_ticks_use_the_room_they_have() {
        // The smallest fitting step: a step 2.5x smaller would have given > 7 ticks, so at
        // least 4 show.
        for (lo, hi) in ranges() {
            let t = nice_ticks(lo, hi, LINEAR_TICKS);
            assert!(t.len() >= 4, "({lo:e}, {hi:e}): {t:?}");
        }
    }

    #[test]
    fn ticks_and_labels_of_the_issue() {
        let labels = |lo, hi| tick_labels(&nice_ticks(lo, hi, LINEAR_TICKS));
        assert_eq!(labels(0.0, 16.5), ["0", "5", "10", "15", "20"]);
        assert_eq!(
            labels(-3801.101, 39.988),
            ["-4000", "-3000", "-2000", "-1000", "0", "1000"]
        );
        assert_eq!(labels(0.0, 1.0), ["0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        assert_eq!(labels(0.1, 0.3), ["0.10", "0.15", "0.20", "0.25", "0.30"]);
        assert_eq!(
            labels(1e-9, 3e-7),
            ["0", "5.0e-8", "1.0e-7", "1.5e-7", "2.0e-7", "2.5e-7", "3.0e-7"]
        );
        assert_eq!(
            labels(0.0, 1e-5),
            ["0", "2.0e-6", "4.0e-6", "6.0e-6", "8.0e-6", "1.0e-5"]
        );
        assert_eq!(
            labels(0.999, 1.001),
            ["0.9990", "0.9995", "1.0000", "1.0005", "1.0010"]
        );
        assert_eq!(
            labels(-5.0, -5.0),
            ["-5.6", "-5.4", "-5.2", "-5.0", "-4.8", "-4.6", "-4.4"]
        );
        assert_eq!(
            labels(0.0, 1e12),
            ["0", "2.0e11", "4.0e11", "6.0e11", "8.0e11", "1.0e12"]
        );
        assert_eq!(labels(0.0, 0.0), ["-1.0", "-0.5", "0", "0.5", "1.0"]);
        assert_eq!(nice_ticks(0.1, 0.3, LINEAR_TICKS)[4], 0.3);
        assert_eq!(
            tick_labels(&[0.0, 0.1, 0.2, 0.30000000000000004]),
            ["0", "0.1", "0.2", "0.3"]
        );
    }

    #[test]
    fn log_ticks_are_integer_powers() {
        let mut g = Lcg(11);
        let mut cases: Vec<(f64, f64)> = vec![
            (-8.4, -0.1),
            (-0.1, 0.0),
            (0.0, 0.0),
            (2.0, 2.0),
            (0.2, 0.7),
            (-30.0, 5.0),
            (-323.3, 308.2),
            (f64::NAN, 1.5),
            (f64::NEG_INFINITY, f64::INFINITY),
            (3.0, -3.0),
        ];
        cases.extend((0..2000).map(|_| {
            let a = 60.0 * g.unit() - 30.0;
            (a, a + 40.0 * g.unit() * g.unit())
        }));
        for (lo, hi) in cases {
            let e = log_ticks(lo, hi, LOG_TICKS);
            let ctx = format!("({lo}, {hi}): {e:?}");
            assert!(e.len() >= 2 && e.len() <= LOG_TICKS, "count {ctx}");
            assert!(e.windows(2).all(|w| w[0] < w[1]), "ascending {ctx}");
            let d = e[1] - e[0];
            assert!(e.windows(2).all(|w| w[1] - w[0] == d), "spacing {ctx}");
            assert!(
                [1, 2, 5, 10, 20, 50, 100, 200, 500].contains(&d),
                "step {d} {ctx}"
            );
            if !lo.is_nan() && !hi.is_nan() {
                let (a, b) = (lo.min(hi).max(-400.0), hi.max(lo).min(400.0));
                assert!(
                    f64::from(e[0]) <= a && f64::from(e[e.len() - 1]) >= b,
                    "cover {ctx}"
                );
                if b.ceil() - a.floor() <= 10.0 {
                    assert_eq!(d, 1, "every decade {ctx}");
                }
            }
            for &k in &e {
                let l = log_tick_label(k);
                assert_eq!(l, format!("1e{k}"));
                // `1e{k}` is 10^k; where it is a finite double, check its value too.
                let v: f64 = l.parse().unwrap();
                if k.abs() <= 300 {
                    assert!(v > 0.0 && v.is_finite(), "{l}");
                    assert_eq!(v.log10().round(), v.log10(), "{l} is not a power of ten");
                }
            }
        }
        assert_eq!(
            log_ticks(-8.4, -0.1, LOG_TICKS),
            (-9..=0).collect::<Vec<_>>()
        );
        assert_eq!(log_ticks(2.0, 2.0, LOG_TICKS), [1, 2, 3]);
        assert_eq!(log_ticks(0.2, 0.7, LOG_TICKS), [0, 1]);
        assert_eq!(
            log_ticks(-30.0, 5.0, LOG_TICKS),
            [-30, -25, -20, -15, -10, -5, 0, 5]
        );
    }

    #[test]
    fn value_labels_share_decimals() {
        assert_eq!(
            value_labels(&[0.95, 0.5, -0.2]),
            ["0.950", "0.500", "-0.200"]
        );
        assert_eq!(
            value_labels(&[1.234e-4, 5e-6, 0.0]),
            ["1.23e-4", "5.00e-6", "0"]
        );
        assert_eq!(value_labels(&[f64::NAN, 12.345]), ["NaN", "12.3"]);
        assert_eq!(value_labels(&[0.0, 0.0]), ["0", "0"]);
    }
}
