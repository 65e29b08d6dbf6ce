//! One candidate doublet rule: its 24 parameters in the fSBI network, its seed, its
//! simulation and its metrics as numbers. Shared by the runs of `rule_filter` and by the
//! Python package's `synplast.fsbi.simulate`, so the two give the same numbers for the same
//! parameters and seed.

use crate::config::Finite;
use crate::sim::fsbi::{simulate, ConnType, FsbiConfig, Plausibility, TYPES};

/// Names of the six parameters of one type's doublet rule, in order (tau in s).
pub const RULE_PARAMS: [&str; 6] = ["tau_pre", "tau_post", "alpha", "beta", "gamma", "kappa"];

/// The 24 parameter names, `<type>_<param>`, in the order of a candidate's parameters
/// (`ee`, `ei`, `ie`, `ii`, each [`RULE_PARAMS`]).
pub fn param_names() -> Vec<String> {
    TYPES
        .iter()
        .flat_map(|t| RULE_PARAMS.iter().map(move |p| format!("{t}_{p}")))
        .collect()
}

/// The network with the doublet rules `p` (24 numbers) on the connection types `types`; the
/// other types are static (their six numbers are not read).
pub fn with_rules(network: &FsbiConfig, types: &[ConnType], p: &[f64]) -> FsbiConfig {
    let mut f = network.clone();
    let rule = |t: ConnType| -> Option<[Finite; 6]> {
        types.contains(&t).then(|| {
            let mut r = [Finite(0.0); 6];
            for (j, v) in r.iter_mut().enumerate() {
                *v = Finite(p[t.index() * 6 + j]);
            }
            r
        })
    };
    f.rules.ee = rule(ConnType::Ee);
    f.rules.ei = rule(ConnType::Ei);
    f.rules.ie = rule(ConnType::Ie);
    f.rules.ii = rule(ConnType::Ii);
    f
}

/// One row of candidate parameters as the 24 of [`param_names`]: `row` holds 24 numbers (all
/// four types; the static types' columns must be 0) or 6 per type of `types` (in their
/// order). Every value must be finite and the plastic types' time constants > 0. `what`
/// names the row in messages (`params[3]`, `samples.npy row 3`).
pub fn full_params(types: &[ConnType], row: &[f64], what: &str) -> Result<Vec<f64>, String> {
    let names = param_names();
    let full = row.len() == 24;
    if !full && row.len() != 6 * types.len() {
        return Err(format!(
            "{what}: expected 24 numbers (all four types) or {} (the types {}), got {}",
            6 * types.len(),
            type_names(types),
            row.len()
        ));
    }
    let mut out = vec![0.0; 24];
    for (j, &v) in row.iter().enumerate() {
        let (t, p) = if full {
            (j / 6, j % 6)
        } else {
            (types[j / 6].index(), j % 6)
        };
        let name = &names[t * 6 + p];
        if !v.is_finite() {
            return Err(format!(
                "{what}, column {j} ({name}): must be finite, got {v}"
            ));
        }
        let plastic = types.iter().any(|x| x.index() == t);
        if !plastic {
            if v != 0.0 {
                return Err(format!(
                    "{what}, column {j} ({name}): is {v}, but {} is static here (types: {}); give 0, or only the plastic types' {} columns",
                    TYPES[t],
                    type_names(types),
                    6 * types.len()
                ));
            }
            continue;
        }
        if p < 2 && v <= 0.0 {
            return Err(format!(
                "{what}, column {j} ({name}): is {v}; time constants (s) must be > 0"
            ));
        }
        out[t * 6 + p] = v;
    }
    Ok(out)
}

/// `ee, ie`: the names of `types`.
pub fn type_names(types: &[ConnType]) -> String {
    types
        .iter()
        .map(|t| t.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The network seed of candidate `k` of a run seeded `seed`: `fnv1a("<seed>/<k>") >> 11`.
pub fn network_seed(seed: u64, k: u64) -> u64 {
    crate::config::fnv1a(format!("{seed}/{k}").as_bytes()) >> 11
}

/// Simulates candidate `k` (network seed [`network_seed`]); `None` when `keep_going` said
/// stop. The network must have passed [`crate::sim::fsbi::validate`] with these rules.
pub fn simulate_candidate(
    network: &FsbiConfig,
    types: &[ConnType],
    p: &[f64],
    seed: u64,
    k: u64,
    keep_going: impl Fn() -> bool,
) -> Result<Option<Plausibility>, String> {
    let f = with_rules(network, types, p);
    simulate(&f, network_seed(seed, k), |_| keep_going())
        .map(|o| o.map(|o| o.metrics))
        .map_err(|e| e.to_string())
}

/// The paper's metrics among [`METRIC_NAMES`] (each with the prefix `paper_` there).
pub use crate::sim::fsbi::paper_metrics::METRIC_NAMES as PAPER_METRICS;

/// Names of [`metric_values`], in order: synplast's metrics (the first 17, as before the
/// paper's were added), then the paper's ([`PAPER_METRICS`], prefixed `paper_`), then each
/// definition's verdict.
pub const METRIC_NAMES: [&str; 36] = [
    "rate_exc",
    "rate_inh",
    "cv_isi",
    "cv_isi_inh",
    "fano_spatial",
    "fano_temporal",
    "autocov",
    "saturation",
    "creep",
    "mean_w_ee",
    "mean_w_ei",
    "mean_w_ie",
    "mean_w_ii",
    "simulated_s",
    "aborted",
    "constraints_met",
    "plausible",
    "paper_rate",
    "paper_rate_i",
    "paper_cv_isi",
    "paper_kl_isi",
    "paper_spatial_Fano",
    "paper_temporal_Fano",
    "paper_auto_cov",
    "paper_fft",
    "paper_w_blow",
    "paper_std_rate_temporal",
    "paper_std_rate_spatial",
    "paper_std_cv",
    "paper_w_creep",
    "paper_weef",
    "paper_weif",
    "paper_wief",
    "paper_wiif",
    "paper_plausible",
    "synplast_plausible",
];

/// A candidate's metrics as numbers, in the order of [`METRIC_NAMES`] (rates in Hz, times in
/// s; `aborted` and the verdicts are 0 or 1; `constraints_met` counts the deciding
/// definition's constraints that hold, `plausible` is its verdict). Statistics with no data
/// (no spikes, an aborted run) are NaN, and so are the paper's metrics and verdict when they
/// were not computed.
pub fn metric_values(m: &Plausibility) -> Vec<f64> {
    metric_values_json(&serde_json::to_value(m).expect("metrics serialise"))
}

/// [`metric_values`] of a record's metrics as stored (the JSON of [`Plausibility`], in which
/// NaN was written as `null`).
pub fn metric_values_json(m: &serde_json::Value) -> Vec<f64> {
    let num = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
    let b = |v: &serde_json::Value| f64::from(u8::from(v.as_bool() == Some(true)));
    let mut v: Vec<f64> = METRIC_NAMES[..9].iter().map(|k| num(&m[*k])).collect();
    v.extend((0..4).map(|t| num(&m["mean_w"][t])));
    v.push(num(&m["simulated_s"]));
    v.push(b(&m["aborted"]));
    let met = m["pass"]
        .as_array()
        .map_or(0, |a| a.iter().filter(|p| p[1] == true).count());
    v.push(met as f64);
    v.push(b(&m["plausible"]));
    let paper = &m["paper"];
    v.extend(PAPER_METRICS.iter().map(|k| num(&paper[*k])));
    v.push(if paper.is_object() {
        b(&paper["plausible"])
    } else {
        f64::NAN
    });
    // synplast's verdict: in `synplast` when the paper's decided, else `plausible` itself.
    v.push(if m["synplast"].is_object() {
        b(&m["synplast"]["plausible"])
    } else {
        b(&m["plausible"])
    });
    v
}

/// Whether a record's metrics (as stored) meet every constraint of `require` (every verdict
/// of its `pass` list when `None`).
pub fn meets(m: &serde_json::Value, require: Option<&[String]>) -> bool {
    let Some(pass) = m["pass"].as_array() else {
        return false;
    };
    pass.iter().all(|p| {
        p[1] == true || require.is_some_and(|r| !r.iter().any(|c| p[0].as_str() == Some(c)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_values_and_the_order_of_types() {
        let names = param_names();
        assert_eq!(names.len(), 24);
        assert_eq!(names[0], "ee_tau_pre");
        assert_eq!(names[6 * 2 + 3], "ie_beta");
        assert_eq!(names[23], "ii_kappa");
        let m = Plausibility {
            aborted: true,
            simulated_s: 2.5,
            rate_exc: 1.0,
            rate_inh: 2.0,
            cv_isi: 3.0,
            cv_isi_inh: 4.0,
            fano_spatial: 5.0,
            fano_temporal: 6.0,
            autocov: 7.0,
            saturation: 8.0,
            creep: 9.0,
            mean_w: [10.0, 11.0, 12.0, 13.0],
            pass: vec![
                ("rate_exc".into(), true),
                ("rate_inh".into(), false),
                ("cv_isi".into(), true),
            ],
            plausible: false,
            paper: None,
            synplast: None,
        };
        let v = metric_values(&m);
        assert_eq!(v.len(), METRIC_NAMES.len());
        // NaN is stored as null and read back as NaN.
        let mut stored = m.clone();
        stored.cv_isi = f64::NAN;
        let json = serde_json::to_value(&stored).unwrap();
        assert!(json["cv_isi"].is_null());
        assert!(metric_values_json(&json)[2].is_nan());
        // Without the paper's metrics: its columns and verdict NaN, synplast's verdict is
        // `plausible`.
        assert!(v[17..35].iter().all(|x| x.is_nan()));
        assert_eq!(v[35], 0.0);
        // With them, read by name; synplast's verdict from `synplast` when the paper decided.
        let mut with_paper = serde_json::to_value(&m).unwrap();
        let paper: serde_json::Map<String, serde_json::Value> = PAPER_METRICS
            .iter()
            .enumerate()
            .map(|(i, k)| (k.to_string(), serde_json::json!(100.0 + i as f64)))
            .chain([("plausible".to_string(), serde_json::json!(true))])
            .collect();
        with_paper["paper"] = serde_json::Value::Object(paper);
        with_paper["synplast"] = serde_json::json!({"pass": [], "plausible": true});
        let w = metric_values_json(&with_paper);
        for (i, k) in PAPER_METRICS.iter().enumerate() {
            let col = METRIC_NAMES
                .iter()
                .position(|n| *n == format!("paper_{k}"))
                .unwrap();
            assert_eq!(w[col], 100.0 + i as f64, "{k}");
        }
        assert_eq!((w[34], w[35]), (1.0, 1.0));
        assert_eq!(
            w[..17].iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            v[..17].iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(!meets(&json, None));
        assert!(meets(&json, Some(&[])));
        assert!(meets(&json, Some(&names(&["rate_exc", "cv_isi"]))));
        assert!(!meets(&json, Some(&names(&["rate_inh"]))));
        let at = |n: &str| v[METRIC_NAMES.iter().position(|x| *x == n).unwrap()];
        assert_eq!(at("cv_isi_inh"), 4.0);
        assert_eq!(at("mean_w_ie"), 12.0);
        assert_eq!(at("simulated_s"), 2.5);
        assert_eq!(at("aborted"), 1.0);
        assert_eq!(at("constraints_met"), 2.0);
        assert_eq!(at("plausible"), 0.0);
    }

    #[test]
    fn static_types_are_not_read() {
        let net: FsbiConfig = serde_json::from_str(
            r#"{"n_exc": 8, "n_inh": 2, "p": 0.1, "w": [0.1, 0.1, 1, 1], "w_max": 20, "inputs": 10,
                "input_p": 0.1, "input_w": 0.1, "input_rate": [5, 15], "delay_ms": 0.8,
                "eta": 0.01, "rules": {}, "learn_s": 0, "score_s": 1}"#,
        )
        .unwrap();
        let mut p = [0.0; 24];
        p[6..12].copy_from_slice(&[0.02, 0.03, 1.0, 2.0, 3.0, 4.0]);
        let f = with_rules(&net, &[ConnType::Ei], &p);
        assert_eq!(f.rules.ee, None);
        assert_eq!(
            f.rules.ei.map(|r| r.map(|v| v.0)),
            Some([0.02, 0.03, 1.0, 2.0, 3.0, 4.0])
        );
        p[0] = f64::NAN; // a static type's numbers are never read
        assert_eq!(with_rules(&net, &[ConnType::Ei], &p), f);
    }
}
