//! The plausibility metrics of a scoring window and the constraints' verdicts (definitions in
//! the module doc of [`super`] and in `docs/spiking_fsbi.md`).

use super::config::Constraints;
use super::paper_metrics::{PaperMetrics, Verdicts};
use super::{FsbiNetwork, Plasticity};
use crate::metrics::{isi_cvs, mean};
use serde::Serialize;

/// Plausibility metrics and the constraints' verdicts.
#[derive(Debug, Clone, Serialize)]
pub struct Plausibility {
    /// The rate checker stopped the run.
    pub aborted: bool,
    /// Simulated seconds when it stopped (or in all).
    pub simulated_s: f64,
    /// E rate (Hz).
    pub rate_exc: f64,
    /// I rate (Hz).
    pub rate_inh: f64,
    /// Mean CV(ISI), E.
    pub cv_isi: f64,
    /// Mean CV(ISI), I.
    pub cv_isi_inh: f64,
    /// Spatial Fano factor, E.
    pub fano_spatial: f64,
    /// Temporal Fano factor, E.
    pub fano_temporal: f64,
    /// Auto-covariance, E.
    pub autocov: f64,
    /// Fraction of plastic weights at 0 or w_max.
    pub saturation: f64,
    /// Largest relative drift of a plastic type's mean weight over the window.
    pub creep: f64,
    /// Mean weights per type at the end (ee, ei, ie, ii).
    pub mean_w: [f64; 4],
    /// Each constraint: name and whether it holds.
    pub pass: Vec<(String, bool)>,
    /// All hold.
    pub plausible: bool,
    /// The paper's metrics and verdicts (with `plausibility:` set; not written otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paper: Option<PaperMetrics>,
    /// synplast's own verdicts when the paper's decide `pass` and `plausible`
    /// (`plausibility.definition: paper`; not written otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synplast: Option<Verdicts>,
}

fn var_over_mean(c: &[f64]) -> Option<f64> {
    let m = mean(c);
    (m > 0.0).then(|| c.iter().map(|x| (x - m).powi(2)).sum::<f64>() / c.len() as f64 / m)
}

/// Computes the metrics from the scoring window's spike steps (per neuron, relative to the
/// window's start), its length in steps, and the weights.
pub fn plausibility(
    net: &FsbiNetwork,
    times: &[Vec<u32>],
    window_steps: usize,
    w_start: [f64; 4],
    aborted: bool,
    c: &Constraints,
) -> Plausibility {
    let dt = 0.1;
    let secs = window_steps as f64 * dt * 1e-3;
    let ne = net.n_exc;
    let rate = |r: std::ops::Range<usize>| {
        let n = r.len().max(1) as f64;
        times[r].iter().map(|t| t.len()).sum::<usize>() as f64 / n / secs.max(1e-12)
    };
    let cv = |r: std::ops::Range<usize>| mean(&isi_cvs(&times[r]));
    let counts = |bin: usize| -> Vec<Vec<f64>> {
        let nb = (window_steps / bin).max(1);
        times[..ne]
            .iter()
            .map(|t| {
                let mut c = vec![0.0; nb];
                for &s in t {
                    let b = s as usize / bin;
                    if b < nb {
                        c[b] += 1.0;
                    }
                }
                c
            })
            .collect()
    };
    let c100 = counts(1000);
    let fano_temporal = mean(
        &c100
            .iter()
            .filter_map(|c| var_over_mean(c))
            .collect::<Vec<_>>(),
    );
    let nb = c100.first().map(|c| c.len()).unwrap_or(0);
    let fano_spatial = mean(
        &(0..nb)
            .filter_map(|b| var_over_mean(&c100.iter().map(|c| c[b]).collect::<Vec<_>>()))
            .collect::<Vec<_>>(),
    );
    let c10 = counts(100);
    let autocov = mean(
        &c10.iter()
            .filter_map(|c| {
                let m = mean(c);
                let v: f64 = c.iter().map(|x| (x - m).powi(2)).sum();
                (v > 0.0).then(|| {
                    let lags: Vec<f64> = (1..=10)
                        .filter(|&l| l < c.len())
                        .map(|l| {
                            (0..c.len() - l)
                                .map(|i| (c[i] - m) * (c[i + l] - m))
                                .sum::<f64>()
                                / v
                        })
                        .collect();
                    mean(&lags)
                })
            })
            .collect::<Vec<_>>(),
    );
    let mut at_bound = 0usize;
    let mut plastic = 0usize;
    let mut creep = 0.0f64;
    let mut mean_w = [0.0; 4];
    for (k, pr) in net.proj.iter().enumerate() {
        mean_w[k] = net.mean_w(k);
        let w_max = match &pr.plasticity {
            Plasticity::Doublet(r) => Some(r.w_max),
            Plasticity::Mlp(r) => Some(r.w_max),
            Plasticity::Static => None,
        };
        if let Some(w_max) = w_max {
            plastic += pr.csr.w.len();
            at_bound += pr
                .csr
                .w
                .iter()
                .filter(|w| **w <= 0.0 || **w >= w_max)
                .count();
            let (a, b) = (w_start[k], mean_w[k]);
            let d = if a + b > 0.0 {
                (2.0 * (b - a) / (a + b)).abs()
            } else {
                0.0
            };
            creep = creep.max(d);
        }
    }
    let saturation = at_bound as f64 / plastic.max(1) as f64;
    let (re, ri) = (rate(0..ne), rate(ne..net.n));
    let inside = |x: f64, lo: f64, hi: f64| x.is_finite() && x >= lo && x <= hi;
    let pass = vec![
        (
            "rate_exc".to_string(),
            !aborted && inside(re, c.rate[0].0, c.rate[1].0),
        ),
        (
            "rate_inh".to_string(),
            !aborted && inside(ri, c.rate[0].0, c.rate[1].0),
        ),
        (
            "cv_isi".to_string(),
            !aborted && cv(0..ne) >= c.cv_isi_min.0,
        ),
        (
            "fano_spatial".to_string(),
            !aborted && inside(fano_spatial, c.fano[0].0, c.fano[1].0),
        ),
        (
            "fano_temporal".to_string(),
            !aborted && inside(fano_temporal, c.fano[0].0, c.fano[1].0),
        ),
        (
            "autocov".to_string(),
            !aborted && autocov.is_finite() && autocov <= c.autocov_max.0,
        ),
        (
            "saturation".to_string(),
            !aborted && saturation <= c.saturation_max.0,
        ),
        ("creep".to_string(), !aborted && creep <= c.creep_max.0),
        (
            "mean_weights_bounded".to_string(),
            mean_w.iter().all(|w| w.is_finite()),
        ),
    ];
    let plausible = pass.iter().all(|p| p.1);
    Plausibility {
        aborted,
        simulated_s: net.t as f64 * dt * 1e-3,
        rate_exc: re,
        rate_inh: ri,
        cv_isi: cv(0..ne),
        cv_isi_inh: cv(ne..net.n),
        fano_spatial,
        fano_temporal,
        autocov,
        saturation,
        creep,
        mean_w,
        pass,
        plausible,
        paper: None,
        synplast: None,
    }
}
