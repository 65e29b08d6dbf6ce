//! The plausibility metrics as Confavreux et al. 2023 define them in their code (class
//! `ComputeMetrics` of `fsbi/analyse.py`, github.com/VogelsLab/fSBI at commit d0e64b1; bin
//! sizes and windows from `tasks_configs/bg_IF_EEEIIEII_6pPol.yaml`, thresholds from the
//! "plausible" conditions of `Analysis/Figure 2.ipynb`), computed beside synplast's own
//! ([`super::plausibility`]). Every definition, its source and how it differs from ours is in
//! `docs/spiking_fsbi.md` (section "The paper's plausibility metrics").
//!
//! Inputs are what the paper's simulator records in the scoring window: spike steps of the
//! first `recorded` E and I neurons, and every 100 ms (from the window's first step) the
//! weights of `synapses` sampled synapses per connection type. Steps are 0.1 ms; bins are
//! exact on that grid.

use super::config::{PaperConstraints, SynapseSample};
use crate::config::NonNegative;
use crate::metrics::mean;
use crate::rng::Rng;
use serde::Serialize;

/// Steps of 0.1 ms per second.
pub const STEPS_PER_S: usize = 10_000;
/// `bin_size_small` (1 ms, in steps): `fft` and `std_rate_temporal`.
pub const BIN_SMALL: usize = 10;
/// `bin_size_medium` (10 ms): `auto_cov`.
pub const BIN_MEDIUM: usize = 100;
/// `bin_size_big` (100 ms): the Fano factors.
pub const BIN_BIG: usize = 1000;
/// `int(window_view_auto_cov / bin_size_medium)`: lags `-50..=50` bins (+-0.5 s).
pub const AUTOCOV_LAGS: usize = 50;
/// A neuron whose 10 ms counts have a standard deviation of at most this scores `auto_cov` 1
/// ("tuned so that a spiketrain of 1Hz poisson with bin 10ms ish is not detected").
pub const AUTOCOV_MIN_STD: f64 = 0.05;
/// `n_bins_kl_isi`: edges of the ISI histogram of `kl_isi` (so 99 bins).
pub const KL_EDGES: usize = 100;
/// `isi_lim_kl_isi`: ISIs are clipped to `[0, 1]` s.
pub const KL_ISI_MAX_S: f64 = 1.0;
/// Weights are recorded every 100 ms (the paper's `WeightMonitor(con, file, 0.1)`), in steps.
pub const WEIGHT_EVERY: usize = 1000;

/// Verdicts of one definition: each constraint's name and whether it holds; `plausible` is
/// their conjunction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdicts {
    /// Each constraint: name and whether it holds.
    pub pass: Vec<(String, bool)>,
    /// All hold.
    pub plausible: bool,
}

/// The paper's metrics (named as in `fsbi/analyse.py`) and its verdicts. NaN (written as
/// `null`) where the paper's code gives NaN: a run the rate checker stopped, or no data.
#[derive(Debug, Clone, Serialize)]
pub struct PaperMetrics {
    /// E rate of the recorded neurons (Hz).
    pub rate: f64,
    /// I rate of the recorded neurons (Hz).
    pub rate_i: f64,
    /// Mean CV(ISI) over all recorded E neurons, 0 for a neuron with at most 2 ISIs.
    pub cv_isi: f64,
    /// KL divergence of the pooled ISI histogram from an exponential of the same mean.
    pub kl_isi: f64,
    /// Per 100 ms bin, variance over mean across neurons (0 for at most 3 spikes), averaged.
    #[serde(rename = "spatial_Fano")]
    pub spatial_fano: f64,
    /// Per neuron, variance over mean across 100 ms bins (0 for at most 3 spikes), averaged.
    #[serde(rename = "temporal_Fano")]
    pub temporal_fano: f64,
    /// Mean absolute normalised auto-correlation over +-0.5 s (10 ms bins), 1 for a
    /// near-silent neuron, averaged over neurons.
    pub auto_cov: f64,
    /// Sum of the single-sided DFT amplitudes (without the DC term) of the E population's
    /// mean spike count per 1 ms bin.
    pub fft: f64,
    /// Fraction of sampled weight records at 0 or `w_max`, averaged over plastic types.
    pub w_blow: f64,
    /// Standard deviation over 1 ms bins of the mean spike count per neuron.
    pub std_rate_temporal: f64,
    /// Standard deviation over recorded E neurons of their rates (Hz).
    pub std_rate_spatial: f64,
    /// Standard deviation over recorded E neurons of their CV(ISI) (0s included).
    pub std_cv: f64,
    /// Largest `|2 (end - start) / (end + start)|` of a plastic type's sampled mean weight.
    pub w_creep: f64,
    /// Final mean sampled E->E weight.
    pub weef: f64,
    /// Final mean sampled E->I weight.
    pub weif: f64,
    /// Final mean sampled I->E weight.
    pub wief: f64,
    /// Final mean sampled I->I weight.
    pub wiif: f64,
    /// The paper's verdicts.
    #[serde(flatten)]
    pub verdicts: Verdicts,
}

/// The names of [`PaperMetrics`]' numbers as written (in its field order): the keys of the
/// records' `paper` object.
pub const METRIC_NAMES: [&str; 17] = [
    "rate",
    "rate_i",
    "cv_isi",
    "kl_isi",
    "spatial_Fano",
    "temporal_Fano",
    "auto_cov",
    "fft",
    "w_blow",
    "std_rate_temporal",
    "std_rate_spatial",
    "std_cv",
    "w_creep",
    "weef",
    "weif",
    "wief",
    "wiif",
];

/// What the paper's metrics read from one simulation.
pub struct PaperInput<'a> {
    /// Spike steps (from the window's start) of the recorded E neurons.
    pub exc: &'a [Vec<u32>],
    /// Spike steps of the recorded I neurons.
    pub inh: &'a [Vec<u32>],
    /// The scoring window's length in steps.
    pub window_steps: usize,
    /// Per type (ee, ei, ie, ii): one row of sampled weights per record, every
    /// [`WEIGHT_EVERY`] steps from the window's first step.
    pub weights: [&'a [Vec<f64>]; 4],
    /// Which types learn (only those enter `w_blow`, `w_creep` and the weight bounds).
    pub plastic: [bool; 4],
    /// Upper weight bound.
    pub w_max: f64,
    /// The rate checker stopped the run.
    pub aborted: bool,
}

/// The synapses sampled in a projection of `nnz` synapses (indices into its CSR weights,
/// ordered by presynaptic neuron as Auryn stores them): `equally_spaced` takes
/// `i * nnz / count` for `i < count` (Auryn's `WeightMonitor::add_equally_spaced`, integer
/// division); `random` takes `count` distinct synapses from `rng`. All when `nnz <= count`.
pub fn sampled_synapses(nnz: usize, count: usize, how: SynapseSample, rng: &mut Rng) -> Vec<usize> {
    let k = count.min(nnz);
    match how {
        SynapseSample::EquallySpaced => (0..k as u64)
            .map(|i| (i * nnz as u64 / k as u64) as usize)
            .collect(),
        SynapseSample::Random => rng.choose(nnz, k),
    }
}

/// Population standard deviation (numpy's `np.std`, `ddof = 0`); NaN for no values.
pub fn std(v: &[f64]) -> f64 {
    let m = mean(v);
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
}

/// Spike counts per neuron in bins of `bin` steps, as `numpy.histogram` with the edges
/// `numpy.arange(0, window, bin)`: `ceil(window / bin) - 1` bins, the last closed on the
/// right, so the window's last `bin` (or partial bin) is not counted.
pub fn binned(times: &[Vec<u32>], window_steps: usize, bin: usize) -> Vec<Vec<f64>> {
    let nb = window_steps.div_ceil(bin).saturating_sub(1);
    times
        .iter()
        .map(|t| {
            let mut c = vec![0.0; nb];
            for &s in t {
                let s = s as usize;
                let b = s / bin;
                if b < nb {
                    c[b] += 1.0;
                } else if nb > 0 && s == nb * bin {
                    c[nb - 1] += 1.0;
                }
            }
            c
        })
        .collect()
}

/// CV of each neuron's ISIs (`std / mean`, `ddof = 0`), 0 for a neuron with at most 2 ISIs.
pub fn cvs(times: &[Vec<u32>]) -> Vec<f64> {
    times
        .iter()
        .map(|t| {
            if t.len() > 3 {
                let isi: Vec<f64> = t.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
                std(&isi) / mean(&isi)
            } else {
                0.0
            }
        })
        .collect()
}

/// `compute_fano`: 0 when the counts sum to at most 3, else variance / mean.
pub fn fano(counts: &[f64]) -> f64 {
    if counts.iter().sum::<f64>() <= 3.0 {
        0.0
    } else {
        let m = mean(counts);
        std(counts).powi(2) / m
    }
}

/// `get_autocov` of one neuron's 10 ms counts `x`: 1 when `std(x) <= 0.05` (near silent),
/// else the mean over lags `-L..=L` (`L = min(50, len - 1)`, lag 0 included) of
/// `|r(k)| / r(0)`, `r` the full auto-correlation of `x - mean(x)`.
pub fn auto_cov(x: &[f64]) -> f64 {
    // `np.std(x) > 0.05` is false for NaN (no bins) too.
    let sd = std(x);
    if sd.is_nan() || sd <= AUTOCOV_MIN_STD {
        return 1.0;
    }
    let n = x.len();
    let m = mean(x);
    let lags = AUTOCOV_LAGS.min(n - 1);
    let r = |k: usize| (0..n - k).map(|i| (x[i] - m) * (x[i + k] - m)).sum::<f64>();
    let r0 = r(0);
    let side: f64 = (1..=lags).map(|k| (r(k) / r0).abs()).sum();
    (1.0 + 2.0 * side) / (2 * lags + 1) as f64
}

/// `fft`: `sum_{k=1}^{N/2-1} (2/N) |X_k|`, `X` the DFT of `pop` (`N = pop.len()`), by the
/// direct sum with an exact twiddle table (O(N^2); N = 9999 for 10 s of 1 ms bins).
pub fn fft_amplitude_sum(pop: &[f64]) -> f64 {
    let n = pop.len();
    if n == 0 {
        return f64::NAN;
    }
    let tw: Vec<(f64, f64)> = (0..n)
        .map(|j| {
            let a = std::f64::consts::TAU * j as f64 / n as f64;
            (a.cos(), a.sin())
        })
        .collect();
    let mut total = 0.0;
    for k in 1..n / 2 {
        let (mut re, mut im) = (0.0, 0.0);
        let mut j = 0usize;
        for &x in pop {
            re += x * tw[j].0;
            im -= x * tw[j].1;
            j += k;
            if j >= n {
                j -= n;
            }
        }
        total += 2.0 / n as f64 * re.hypot(im);
    }
    total
}

/// scipy's `rel_entr`: `x ln(x / y)` for `x, y > 0`, 0 for `x = 0, y >= 0`, inf otherwise.
fn rel_entr(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x > 0.0 && y > 0.0 {
        x * (x / y).ln()
    } else if x == 0.0 && y >= 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

/// `kl_isi`: the pooled ISIs (s) clipped to `[0, 1]` in 99 equal bins, as fractions of all
/// ISIs, against the exponential ISI distribution's mass per bin with rate `1 / mean(ISI)`
/// (0.01 Hz when the E rate is at most 0.1 Hz); `|sum rel_entr(p, q)|`.
pub fn kl_isi(isis_s: &[f64], rate_hz: f64) -> f64 {
    let nb = KL_EDGES - 1;
    let step = KL_ISI_MAX_S / nb as f64;
    let edge = |i: usize| {
        if i == nb {
            KL_ISI_MAX_S
        } else {
            i as f64 * step
        }
    };
    let mut h = vec![0.0; nb];
    for &x in isis_s {
        let c = x.clamp(0.0, KL_ISI_MAX_S);
        let mut j = ((c / step).floor() as usize).min(nb - 1);
        // numpy compares with the edges themselves.
        if c < edge(j) {
            j -= 1;
        } else if j + 1 < nb && c >= edge(j + 1) {
            j += 1;
        }
        h[j] += 1.0;
    }
    let lambda = if rate_hz <= 0.1 {
        0.01
    } else {
        1.0 / mean(isis_s)
    };
    let denom = isis_s.len().max(1) as f64;
    let kl: f64 = (0..nb)
        .map(|j| {
            let q = (-lambda * edge(j)).exp() - (-lambda * edge(j + 1)).exp();
            rel_entr(h[j] / denom, q)
        })
        .sum();
    kl.abs()
}

/// `w_blow`: per plastic type, the fraction of its records strictly inside the window (all
/// but the first) that are 0 or `w_max`, averaged over plastic types (0 when none learns;
/// NaN when a plastic type has no such record).
pub fn w_blow(weights: &[&[Vec<f64>]], w_max: f64) -> f64 {
    if weights.is_empty() {
        return 0.0;
    }
    let total: f64 = weights
        .iter()
        .map(|recs| {
            let inner = recs.get(1..).unwrap_or(&[]);
            let n: usize = inner.iter().map(|r| r.len()).sum();
            let at = inner
                .iter()
                .flatten()
                .filter(|w| **w <= 0.0 || **w >= w_max)
                .count();
            at as f64 / n as f64
        })
        .sum();
    total / weights.len() as f64
}

/// `w_creep`: the largest `|2 (end - start) / (end + start)|` over plastic types, `start`
/// and `end` the mean sampled weight of the first and last record, for types with
/// `start + end > 0.1`; 0 when none qualifies, NaN when a type has no record.
pub fn w_creep(weights: &[&[Vec<f64>]]) -> f64 {
    let mut c = 0.0f64;
    for recs in weights {
        let (Some(first), Some(last)) = (recs.first(), recs.last()) else {
            return f64::NAN;
        };
        let (a, b) = (mean(first), mean(last));
        if a + b > 0.1 {
            c = c.max((2.0 * (b - a) / (b + a)).abs());
        }
    }
    c
}

fn inside(x: f64, r: &[NonNegative; 2]) -> bool {
    x >= r[0].0 && x <= r[1].0
}

/// The names of the paper's verdicts in the order [`paper_metrics`] lists them: twelve
/// always, then the final mean weight bound of each plastic type (`weef`, `weif`, `wief`,
/// `wiif`), then `kl_isi` when `c` bounds it.
pub fn verdict_names(c: &PaperConstraints, plastic: [bool; 4]) -> Vec<&'static str> {
    let mut v = vec![
        "rate",
        "cv_isi",
        "spatial_Fano",
        "temporal_Fano",
        "auto_cov",
        "fft",
        "w_blow",
        "std_rate_temporal",
        "std_rate_spatial",
        "std_cv",
        "w_creep",
        "rate_i",
    ];
    for (k, n) in ["weef", "weif", "wief", "wiif"].into_iter().enumerate() {
        if plastic[k] {
            v.push(n);
        }
    }
    if c.kl_isi.is_some() {
        v.push("kl_isi");
    }
    v
}

/// Computes the paper's metrics and its verdicts against `c`.
pub fn paper_metrics(input: &PaperInput, c: &PaperConstraints) -> PaperMetrics {
    let nan = f64::NAN;
    let last_mean = |k: usize| input.weights[k].last().map_or(nan, |r| mean(r));
    let mut m = PaperMetrics {
        rate: nan,
        rate_i: nan,
        cv_isi: nan,
        kl_isi: nan,
        spatial_fano: nan,
        temporal_fano: nan,
        auto_cov: nan,
        fft: nan,
        w_blow: nan,
        std_rate_temporal: nan,
        std_rate_spatial: nan,
        std_cv: nan,
        w_creep: nan,
        weef: nan,
        weif: nan,
        wief: nan,
        wiif: nan,
        verdicts: Verdicts {
            pass: Vec::new(),
            plausible: false,
        },
    };
    if !input.aborted {
        let ls = input.window_steps as f64 / STEPS_PER_S as f64;
        let count = |t: &[Vec<u32>]| t.iter().map(|s| s.len()).sum::<usize>() as f64;
        m.rate = count(input.exc) / input.exc.len() as f64 / ls;
        m.rate_i = count(input.inh) / input.inh.len() as f64 / ls;
        let cv = cvs(input.exc);
        m.cv_isi = mean(&cv);
        m.std_cv = std(&cv);
        let isis: Vec<f64> = input
            .exc
            .iter()
            .flat_map(|t| {
                t.windows(2)
                    .map(|w| (w[1] - w[0]) as f64 / STEPS_PER_S as f64)
            })
            .collect();
        m.kl_isi = kl_isi(&isis, m.rate);
        let big = binned(input.exc, input.window_steps, BIN_BIG);
        let nb = big.first().map_or(0, |c| c.len());
        m.spatial_fano = mean(
            &(0..nb)
                .map(|b| fano(&big.iter().map(|c| c[b]).collect::<Vec<_>>()))
                .collect::<Vec<_>>(),
        );
        m.temporal_fano = mean(&big.iter().map(|c| fano(c)).collect::<Vec<_>>());
        let medium = binned(input.exc, input.window_steps, BIN_MEDIUM);
        m.auto_cov = mean(&medium.iter().map(|c| auto_cov(c)).collect::<Vec<_>>());
        let small = binned(input.exc, input.window_steps, BIN_SMALL);
        let ns = small.first().map_or(0, |c| c.len());
        let pop: Vec<f64> = (0..ns)
            .map(|b| small.iter().map(|c| c[b]).sum::<f64>() / small.len() as f64)
            .collect();
        m.fft = fft_amplitude_sum(&pop);
        m.std_rate_temporal = std(&pop);
        m.std_rate_spatial = std(&input
            .exc
            .iter()
            .map(|t| t.len() as f64 / ls)
            .collect::<Vec<_>>());
        let plastic: Vec<&[Vec<f64>]> = (0..4)
            .filter(|&k| input.plastic[k])
            .map(|k| input.weights[k])
            .collect();
        m.w_blow = w_blow(&plastic, input.w_max);
        m.w_creep = w_creep(&plastic);
        m.weef = last_mean(0);
        m.weif = last_mean(1);
        m.wief = last_mean(2);
        m.wiif = last_mean(3);
    }
    let mut pass: Vec<(String, bool)> = [
        ("rate", m.rate, &c.rate),
        ("cv_isi", m.cv_isi, &c.cv_isi),
        ("spatial_Fano", m.spatial_fano, &c.spatial_fano),
        ("temporal_Fano", m.temporal_fano, &c.temporal_fano),
        ("auto_cov", m.auto_cov, &c.auto_cov),
        ("fft", m.fft, &c.fft),
        ("w_blow", m.w_blow, &c.w_blow),
        (
            "std_rate_temporal",
            m.std_rate_temporal,
            &c.std_rate_temporal,
        ),
        ("std_rate_spatial", m.std_rate_spatial, &c.std_rate_spatial),
        ("std_cv", m.std_cv, &c.std_cv),
        ("w_creep", m.w_creep, &c.w_creep),
        ("rate_i", m.rate_i, &c.rate_i),
    ]
    .iter()
    .map(|(n, x, r)| (n.to_string(), inside(*x, r)))
    .collect();
    let bounds = [
        ("weef", m.weef, &c.weef),
        ("weif", m.weif, &c.weif),
        ("wief", m.wief, &c.wief),
        ("wiif", m.wiif, &c.wiif),
    ];
    for (k, (n, x, r)) in bounds.iter().enumerate() {
        if input.plastic[k] {
            pass.push((n.to_string(), inside(*x, r)));
        }
    }
    if let Some(r) = &c.kl_isi {
        pass.push(("kl_isi".to_string(), inside(m.kl_isi, r)));
    }
    m.verdicts.plausible = pass.iter().all(|p| p.1);
    m.verdicts.pass = pass;
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use synplast_kernels::spiking::poisson_next_step;

    const W10: usize = 10 * STEPS_PER_S; // a 10 s window

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn regular_spiking_has_cv_zero_and_the_paper_counts_too_few_isis_as_zero() {
        // Every 100 ms: 100 spikes, 99 equal ISIs.
        let regular: Vec<u32> = (0..100).map(|i| i * 1000).collect();
        // Silent; one spike; 3 spikes (2 ISIs, irregular): all 0 under the paper's rule.
        let two_isis = vec![0, 100, 500];
        // 4 spikes, ISIs 100, 200, 300 steps: mean 200, std sqrt(20000 / 3), CV sqrt(1/6).
        let three_isis = vec![0, 100, 300, 600];
        let t = vec![regular, vec![], vec![7], two_isis, three_isis];
        let cv = cvs(&t);
        let c = (1.0f64 / 6.0).sqrt();
        assert_eq!(cv[..4], [0.0, 0.0, 0.0, 0.0]);
        assert!(close(cv[4], c, 1e-12), "{}", cv[4]);
        // Averaged over all five recorded neurons, zeros included.
        assert!(close(mean(&cv), c / 5.0, 1e-12));
        // Population std of [0, 0, 0, 0, c]: c sqrt(4/25).
        assert!(close(std(&cv), c * 0.4, 1e-12));
    }

    #[test]
    fn poisson_spiking_has_cv_near_one() {
        // Geometric gaps on the 0.1 ms grid at 20 Hz: 2000 ISIs of an (almost) exponential
        // distribution. The sample CV of n exponential ISIs has standard deviation about
        // 1/sqrt(n) (delta method: Var(s/m) = 1/n for mu = sigma, mu_3 = 2 sigma^3,
        // mu_4 = 9 sigma^4) = 0.022; 0.1 is 4.5 of them. The grid shifts the CV by < 1e-3.
        let mut rng = Rng::new(7);
        let p = 20.0 * 1e-4;
        let mut t = vec![];
        let mut s = 0u64;
        while t.len() < 2001 {
            s += poisson_next_step(p, &mut rng);
            t.push(s as u32);
        }
        let cv = cvs(&[t])[0];
        assert!((cv - 1.0).abs() < 0.1, "CV {cv}");
    }

    #[test]
    fn bins_follow_numpy_arange_edges() {
        // 10 s in 100 ms bins: 100 edges, 99 bins; the last edge (9.9 s) closes bin 98, and
        // a spike after it is not counted.
        let c = binned(
            &[
                vec![0, 999, 1000, 98_999],
                vec![99_000],
                vec![99_001, 99_999],
            ],
            W10,
            BIN_BIG,
        );
        assert_eq!(c[0].len(), 99);
        assert_eq!((c[0][0], c[0][1], c[0][98]), (2.0, 1.0, 1.0));
        assert_eq!(c[0].iter().sum::<f64>(), 4.0);
        assert_eq!((c[1][98], c[1].iter().sum::<f64>()), (1.0, 1.0));
        assert_eq!(c[2].iter().sum::<f64>(), 0.0);
        // A partial last bin: 1.05 s in 100 ms bins has ceil(10.5) = 11 edges, 10 bins.
        assert_eq!(binned(&[vec![]], 10_500, BIN_BIG)[0].len(), 10);
    }

    #[test]
    fn fano_is_zero_for_at_most_three_spikes() {
        assert_eq!(fano(&[0.0, 0.0, 3.0, 0.0]), 0.0);
        // [4, 0]: mean 2, variance 4.
        assert_eq!(fano(&[4.0, 0.0]), 2.0);
        // [1, 2, 3]: mean 2, variance 2/3.
        assert!(close(fano(&[1.0, 2.0, 3.0]), 1.0 / 3.0, 1e-15));
    }

    #[test]
    fn auto_cov_by_hand() {
        // Alternating 1, 0 over 1000 bins: r(k) = (1000 - k) / 4 (-1)^k, so
        // |r(k)| / r(0) = 1 - k / 1000 and the mean over lags -50..=50 is
        // (1 + 2 (50 - 1275 / 1000)) / 101 = 98.45 / 101.
        let x: Vec<f64> = (0..1000).map(|i| ((i + 1) % 2) as f64).collect();
        assert!(
            close(auto_cov(&x), 98.45 / 101.0, 1e-12),
            "{}",
            auto_cov(&x)
        );
        // A near-silent neuron (std of one spike in 999 bins is 0.0316 <= 0.05) and a silent
        // one score 1.
        let mut one = vec![0.0; 999];
        one[500] = 1.0;
        assert_eq!(auto_cov(&one), 1.0);
        assert_eq!(auto_cov(&[0.0; 999]), 1.0);
        // A single burst, 2 spikes in one of 999 bins (std 0.063 > 0.05): r(k) = sum of
        // (x_i - m)(x_{i+k} - m) with m = 2/999; for 0 < k <= 50 two of the 999 - k pairs
        // have one end in the burst, the others give m^2: r(k) = (997 - k) m^2 - 2 (2 - m) m.
        let mut burst = vec![0.0; 999];
        burst[500] = 2.0;
        let m = 2.0 / 999.0;
        let r0: f64 = burst.iter().map(|x| (x - m) * (x - m)).sum();
        let side: f64 = (1..=50)
            .map(|k| ((997 - k) as f64 * m * m - 2.0 * (2.0 - m) * m).abs() / r0)
            .sum();
        assert!(close(auto_cov(&burst), (1.0 + 2.0 * side) / 101.0, 1e-12));
    }

    #[test]
    fn fft_of_a_cosine_is_its_amplitude() {
        // pop_n = 0.3 + 0.02 cos(2 pi 7 n / N): only X_7 (and X_{N-7}) is non-zero beside
        // the DC term, |X_7| = 0.02 N / 2, so the single-sided sum is 0.02.
        for n in [100usize, 999] {
            let pop: Vec<f64> = (0..n)
                .map(|i| 0.3 + 0.02 * (std::f64::consts::TAU * 7.0 * i as f64 / n as f64).cos())
                .collect();
            assert!(close(fft_amplitude_sum(&pop), 0.02, 1e-12));
            assert!(close(fft_amplitude_sum(&vec![0.3; n]), 0.0, 1e-12));
        }
        // Two cosines add.
        let n = 200;
        let pop: Vec<f64> = (0..n)
            .map(|i| {
                let a = std::f64::consts::TAU * i as f64 / n as f64;
                0.05 * (3.0 * a).cos() + 0.01 * (40.0 * a).sin()
            })
            .collect();
        assert!(close(fft_amplitude_sum(&pop), 0.06, 1e-12));
    }

    #[test]
    fn kl_isi_by_hand() {
        // Every ISI 0.5 s: all mass in bin 49 = [49/99, 50/99); the exponential of rate
        // 1 / 0.5 puts e^{-2 49/99} - e^{-2 50/99} there, so KL = -ln of that = 4.9019556...
        let kl = kl_isi(&[0.5; 10], 5.0);
        let q = (-2.0f64 * 49.0 / 99.0).exp() - (-2.0f64 * 50.0 / 99.0).exp();
        assert!(close(kl, -q.ln(), 1e-12));
        assert!(close(kl, 4.901_955_664_564_968, 1e-9));
        // No ISIs and a (near-)silent population: every p is 0, KL 0.
        assert_eq!(kl_isi(&[], 0.0), 0.0);
        // ISIs above 1 s are clipped into the last bin: two 3 s ISIs and rate 1/3 Hz give
        // -ln(e^{-98/297} - e^{-1/3}).
        let q = (-98.0f64 / 297.0).exp() - (-1.0f64 / 3.0).exp();
        assert!(close(kl_isi(&[3.0, 3.0], 2.0), -q.ln(), 1e-12));
        // Rate at most 0.1 Hz: rate 0.01 Hz whatever the ISIs.
        let q = (-0.01f64 * 49.0 / 99.0).exp() - (-0.01f64 * 50.0 / 99.0).exp();
        assert!(close(kl_isi(&[0.5], 0.05), -q.ln(), 1e-12));
    }

    fn rows(v: &[&[f64]]) -> Vec<Vec<f64>> {
        v.iter().map(|r| r.to_vec()).collect()
    }

    #[test]
    fn w_blow_skips_the_first_record_and_creep_compares_first_and_last() {
        // First record (t = 0) all saturated: not counted (the paper keeps t_start < t).
        let a = rows(&[&[0.0, 20.0], &[0.0, 1.0], &[1.0, 1.0]]); // 1 of 4 at a bound
        let b = rows(&[&[1.0, 1.0], &[1.0, 1.0], &[20.0, 20.0]]); // 2 of 4
        assert!(close(w_blow(&[&a, &b], 20.0), (0.25 + 0.5) / 2.0, 1e-15));
        assert_eq!(w_blow(&[], 20.0), 0.0);
        assert!(w_blow(&[&a[..1]], 20.0).is_nan());
        // Means 10 -> 1 (a) and 1 -> 20 (b): |2 (1 - 10) / 11| = 18/11, |2 * 19 / 21| = 38/21.
        assert!(close(w_creep(&[&a, &b]), 38.0 / 21.0, 1e-15));
        // Types with start + end <= 0.1 are ignored.
        let tiny = rows(&[&[0.01, 0.01], &[0.08, 0.08]]);
        assert_eq!(w_creep(&[&tiny]), 0.0);
    }

    fn constant_weights(w: f64) -> Vec<Vec<f64>> {
        vec![vec![w; 4]; 100]
    }

    #[test]
    fn weight_bounds_apply_to_plastic_types_only() {
        let spikes: Vec<Vec<u32>> = (0..10).map(|i| vec![i * 7]).collect();
        let (ee, ei, ie, ii) = (
            constant_weights(0.6),
            constant_weights(0.5),
            constant_weights(4.9),
            constant_weights(7.0),
        );
        let mut input = PaperInput {
            exc: &spikes,
            inh: &spikes,
            window_steps: W10,
            weights: [&ee, &ei, &ie, &ii],
            plastic: [true, true, true, false],
            w_max: 20.0,
            aborted: false,
        };
        let c = PaperConstraints::default();
        let m = paper_metrics(&input, &c);
        assert_eq!((m.weef, m.weif, m.wief, m.wiif), (0.6, 0.5, 4.9, 7.0));
        let verdict =
            |m: &PaperMetrics, n: &str| m.verdicts.pass.iter().find(|p| p.0 == n).map(|p| p.1);
        assert_eq!(verdict(&m, "weef"), Some(false)); // 0.6 > 0.5
        assert_eq!(verdict(&m, "weif"), Some(true)); // bounds inclusive
        assert_eq!(verdict(&m, "wief"), Some(true));
        assert_eq!(verdict(&m, "wiif"), None); // static: not checked (the paper drops it)
        assert_eq!(verdict(&m, "kl_isi"), None); // not among the paper's conditions
        assert!(!m.verdicts.plausible);
        // 10 neurons with one spike each in 10 s: 0.1 Hz.
        assert!(close(m.rate, 0.1, 1e-12));
        assert!(close(m.std_rate_spatial, 0.0, 1e-12));
        assert_eq!(m.w_creep, 0.0);
        assert_eq!(m.w_blow, 0.0);
        // The rate checker stopped the run: every metric NaN, every constraint fails.
        input.aborted = true;
        let m = paper_metrics(&input, &c);
        assert!(m.rate.is_nan() && m.weef.is_nan() && m.auto_cov.is_nan());
        assert!(m.verdicts.pass.iter().all(|p| !p.1));
    }

    #[test]
    fn metric_names_are_the_keys_written() {
        let silent = vec![Vec::new(); 4];
        let w = constant_weights(0.1);
        let input = PaperInput {
            exc: &silent,
            inh: &silent,
            window_steps: W10,
            weights: [&w, &w, &w, &w],
            plastic: [true; 4],
            w_max: 20.0,
            aborted: false,
        };
        let json =
            serde_json::to_value(paper_metrics(&input, &PaperConstraints::default())).unwrap();
        let numbers: Vec<&str> = json
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, v)| v.is_number())
            .map(|(k, _)| k.as_str())
            .collect();
        let mut names = METRIC_NAMES.to_vec();
        names.sort_unstable();
        let mut numbers = numbers;
        numbers.sort_unstable();
        assert_eq!(names, numbers);
    }

    #[test]
    fn verdict_names_are_the_names_of_the_verdicts() {
        let spikes: Vec<Vec<u32>> = (0..10).map(|i| vec![i * 7, i * 7 + 500]).collect();
        let w = constant_weights(0.2);
        for plastic in [[true; 4], [false, true, true, false], [false; 4]] {
            for kl in [None, Some([NonNegative(0.0), NonNegative(0.5)])] {
                let c = PaperConstraints {
                    kl_isi: kl,
                    ..PaperConstraints::default()
                };
                let input = PaperInput {
                    exc: &spikes,
                    inh: &spikes,
                    window_steps: W10,
                    weights: [&w, &w, &w, &w],
                    plastic,
                    w_max: 20.0,
                    aborted: false,
                };
                let m = paper_metrics(&input, &c);
                let names: Vec<&str> = m.verdicts.pass.iter().map(|p| p.0.as_str()).collect();
                assert_eq!(names, verdict_names(&c, plastic));
            }
        }
    }

    #[test]
    fn a_silent_population_under_the_papers_rules() {
        let silent = vec![Vec::new(); 20];
        let w = constant_weights(0.1);
        let input = PaperInput {
            exc: &silent,
            inh: &silent,
            window_steps: W10,
            weights: [&w, &w, &w, &w],
            plastic: [true; 4],
            w_max: 20.0,
            aborted: false,
        };
        let m = paper_metrics(&input, &PaperConstraints::default());
        assert_eq!((m.rate, m.cv_isi, m.std_cv), (0.0, 0.0, 0.0));
        assert_eq!(
            (m.auto_cov, m.spatial_fano, m.temporal_fano),
            (1.0, 0.0, 0.0)
        );
        assert_eq!((m.kl_isi, m.fft, m.std_rate_temporal), (0.0, 0.0, 0.0));
        let failed: Vec<&str> = m
            .verdicts
            .pass
            .iter()
            .filter(|p| !p.1)
            .map(|p| p.0.as_str())
            .collect();
        assert_eq!(
            failed,
            [
                "rate",
                "cv_isi",
                "spatial_Fano",
                "temporal_Fano",
                "auto_cov",
                "rate_i"
            ]
        );
    }

    #[test]
    fn sampled_synapses_are_equally_spaced_or_seeded() {
        let mut rng = Rng::new(1);
        let e = sampled_synapses(1050, 100, SynapseSample::EquallySpaced, &mut rng);
        assert_eq!(e.len(), 100);
        assert_eq!(&e[..4], &[0, 10, 21, 31]); // i * 1050 / 100
        assert_eq!(e[99], 1039);
        assert_eq!(
            sampled_synapses(7, 100, SynapseSample::EquallySpaced, &mut rng),
            (0..7).collect::<Vec<_>>()
        );
        let draw = |seed| sampled_synapses(5000, 100, SynapseSample::Random, &mut Rng::new(seed));
        let a = draw(3);
        assert_eq!(a, draw(3));
        assert_ne!(a, draw(4));
        assert_eq!(a.len(), 100);
        assert!(a.windows(2).all(|w| w[0] < w[1]) && a[99] < 5000);
    }
}
