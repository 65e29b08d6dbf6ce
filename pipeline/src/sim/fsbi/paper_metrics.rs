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
#[path = "paper_metrics_tests.rs"]
mod tests;
