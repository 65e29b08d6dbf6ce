//! Each verdict of a simulation beside its value and its limits, as a person reads them
//! (`E rate 3.54 Hz in [1, 50]: pass`), for the deciding definition and the other one.

use super::config::{Definition, FsbiConfig, PaperConstraints};
use super::plausibility::Plausibility;
use serde::Serialize;

/// One constraint: its name (as in `pass`), what it measures, the value, the inclusive
/// limits and the verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerdictLine {
    /// The constraint's name in `pass`.
    pub name: String,
    /// What it measures, with its unit.
    pub label: &'static str,
    /// The value (NaN when there was none: a run the rate checker stopped).
    pub value: f64,
    /// Lower limit (inclusive).
    pub low: f64,
    /// Upper limit (inclusive; infinite when there is none).
    pub high: f64,
    /// The verdict.
    pub pass: bool,
}

fn label(name: &str) -> &'static str {
    match name {
        "rate" | "rate_exc" => "E rate (Hz)",
        "rate_i" | "rate_inh" => "I rate (Hz)",
        "cv_isi" => "CV ISI",
        "spatial_Fano" | "fano_spatial" => "spatial Fano factor",
        "temporal_Fano" | "fano_temporal" => "temporal Fano factor",
        "auto_cov" | "autocov" => "auto-covariance",
        "fft" => "summed spectrum amplitude",
        "w_blow" | "saturation" => "fraction of weights at a bound",
        "std_rate_temporal" => "std over time of the E rate",
        "std_rate_spatial" => "std over neurons of the rate (Hz)",
        "std_cv" => "std over neurons of CV ISI",
        "w_creep" | "creep" => "weight creep",
        "weef" => "final mean E->E weight",
        "weif" => "final mean E->I weight",
        "wief" => "final mean I->E weight",
        "wiif" => "final mean I->I weight",
        "kl_isi" => "KL(ISI || exponential)",
        "mean_weights_bounded" => "largest final mean weight",
        _ => "",
    }
}

fn paper_range(c: &PaperConstraints, name: &str) -> Option<[f64; 2]> {
    c.ranges()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, r)| [r[0].0, r[1].0])
}

/// synplast's verdicts beside their values and limits.
fn synplast_lines(m: &Plausibility, f: &FsbiConfig, pass: &[(String, bool)]) -> Vec<VerdictLine> {
    let c = &f.constraints;
    let inf = f64::INFINITY;
    pass.iter()
        .map(|(name, ok)| {
            let (value, low, high) = match name.as_str() {
                "rate_exc" => (m.rate_exc, c.rate[0].0, c.rate[1].0),
                "rate_inh" => (m.rate_inh, c.rate[0].0, c.rate[1].0),
                "cv_isi" => (m.cv_isi, c.cv_isi_min.0, inf),
                "fano_spatial" => (m.fano_spatial, c.fano[0].0, c.fano[1].0),
                "fano_temporal" => (m.fano_temporal, c.fano[0].0, c.fano[1].0),
                "autocov" => (m.autocov, -inf, c.autocov_max.0),
                "saturation" => (m.saturation, 0.0, c.saturation_max.0),
                "creep" => (m.creep, 0.0, c.creep_max.0),
                "mean_weights_bounded" => {
                    (m.mean_w.iter().fold(f64::NAN, |a, b| a.max(*b)), -inf, inf)
                }
                _ => (f64::NAN, f64::NAN, f64::NAN),
            };
            VerdictLine {
                name: name.clone(),
                label: label(name),
                value,
                low,
                high,
                pass: *ok,
            }
        })
        .collect()
}

/// The paper's verdicts beside their values and limits.
fn paper_lines(
    m: &Plausibility,
    c: &PaperConstraints,
    pass: &[(String, bool)],
) -> Vec<VerdictLine> {
    let values = serde_json::to_value(&m.paper).unwrap_or_default();
    pass.iter()
        .map(|(name, ok)| {
            let [low, high] = paper_range(c, name).unwrap_or([f64::NAN; 2]);
            VerdictLine {
                name: name.clone(),
                label: label(name),
                value: values[name].as_f64().unwrap_or(f64::NAN),
                low,
                high,
                pass: *ok,
            }
        })
        .collect()
}

/// One definition's name (`paper` or `synplast`) and its verdict lines.
pub type Definitions = (&'static str, Vec<VerdictLine>);

/// The verdicts of `m` (simulated in `f`) with their values and limits: the deciding
/// definition's (in the order of `m.pass`), then the other definition's when it was computed
/// (`None` otherwise), with the name of each definition.
pub fn verdict_lines(m: &Plausibility, f: &FsbiConfig) -> (Definitions, Option<Definitions>) {
    let empty = PaperConstraints::default();
    let pc = f.plausibility.as_ref();
    let paper_c = pc.map_or(&empty, |p| &p.paper);
    match pc.map(|p| p.definition) {
        Some(Definition::Paper) => {
            let ours = m
                .synplast
                .as_ref()
                .map(|v| v.pass.clone())
                .unwrap_or_default();
            (
                ("paper", paper_lines(m, paper_c, &m.pass)),
                Some(("synplast", synplast_lines(m, f, &ours))),
            )
        }
        Some(Definition::Synplast) => {
            let theirs = m
                .paper
                .as_ref()
                .map(|p| p.verdicts.pass.clone())
                .unwrap_or_default();
            (
                ("synplast", synplast_lines(m, f, &m.pass)),
                Some(("paper", paper_lines(m, paper_c, &theirs))),
            )
        }
        None => (("synplast", synplast_lines(m, f, &m.pass)), None),
    }
}

/// A number with 3 significant digits (`3.54`, `0.0123`, `1.2e-5`), `n/a` for NaN.
pub fn short(v: f64) -> String {
    if v.is_nan() {
        return "n/a".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        return format!("{v:.2e}");
    }
    let digits = (2 - a.log10().floor() as i32).max(0) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `E rate (Hz) 3.54 in [1, 50]: pass`, `auto-covariance 0.21 <= 0.1: FAIL`.
pub fn line_text(l: &VerdictLine) -> String {
    let limits = if l.low.is_finite() && l.high.is_finite() {
        format!("in [{}, {}]", short(l.low), short(l.high))
    } else if l.high.is_finite() {
        format!("<= {}", short(l.high))
    } else if l.low.is_finite() {
        format!(">= {}", short(l.low))
    } else {
        "finite".to_string()
    };
    let label = if l.label.is_empty() {
        l.name.as_str()
    } else {
        l.label
    };
    format!(
        "{label} {} {limits}: {}",
        short(l.value),
        if l.pass { "pass" } else { "FAIL" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_lines_read_as_a_person_writes_them() {
        assert_eq!(short(3.5412), "3.54");
        assert_eq!(short(50.0), "50");
        assert_eq!(short(0.012345), "0.0123");
        assert_eq!(short(0.5), "0.5");
        assert_eq!(short(1234.6), "1235");
        assert_eq!(short(1.2e-5), "1.20e-5");
        assert_eq!(short(f64::NAN), "n/a");
        let l = VerdictLine {
            name: "rate".into(),
            label: label("rate"),
            value: 3.5412,
            low: 1.0,
            high: 50.0,
            pass: true,
        };
        assert_eq!(line_text(&l), "E rate (Hz) 3.54 in [1, 50]: pass");
        let l = VerdictLine {
            name: "autocov".into(),
            label: label("autocov"),
            value: 0.2109,
            low: f64::NEG_INFINITY,
            high: 0.1,
            pass: false,
        };
        assert_eq!(line_text(&l), "auto-covariance 0.211 <= 0.1: FAIL");
    }
}
