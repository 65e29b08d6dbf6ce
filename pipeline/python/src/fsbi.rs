//! `synplast.fsbi.simulate`: doublet rules in the fSBI network of Confavreux et al. 2023, in
//! parallel, as the simulator of the `sbi` package (parameters in, metrics out).

use crate::common::{config_error, load, nd_array};
use crate::control::controlled;
use crate::RunError;
use numpy::{PyArray1, PyArrayDyn, PyArrayMethods};
use pyo3::prelude::*;
use synplast::io::npy::shape_text;
use synplast::kinds::rule_filter::candidate::{
    full_params, metric_values, param_names, simulate_candidate, type_names, with_rules,
    METRIC_NAMES,
};
use synplast::kinds::rule_filter::{RuleFilter, RuleFilterConfig};
use synplast::sim::fsbi::ConnType;

/// The names of the metric columns of [`simulate`].
#[pyfunction]
pub fn fsbi_metric_names() -> Vec<&'static str> {
    METRIC_NAMES.to_vec()
}

/// The names of the 24 doublet parameters (`ee_tau_pre` ... `ii_kappa`).
#[pyfunction]
pub fn fsbi_param_names() -> Vec<String> {
    param_names()
}

/// Simulates each row of `params` as the doublet rules of the plastic types of `config` (the
/// text of a `rule_filter` config: its `network`, `types` and `seed`; `rules` is not read) and
/// returns the metrics [n, 36] (float64, columns [`METRIC_NAMES`]). `params` is [n, 24] (all
/// four types in order; the columns of static types must be 0) or [n, 6 k] (only the k types
/// of `types`, in their order). Row i runs with the network seed that `rule_filter` gives its
/// candidate i under the same seed. `threads` workers (None: the pipeline's default); the
/// result does not depend on it. Ctrl-C stops and raises `KeyboardInterrupt`;
/// `progress(done, total, "rules")` as rules finish.
#[pyfunction]
#[pyo3(signature = (params, config, threads=None, progress=None))]
pub fn fsbi_simulate<'py>(
    py: Python<'py>,
    params: &Bound<'py, PyAny>,
    config: &str,
    threads: Option<usize>,
    progress: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let p = nd_array("params", params)?;
    let exp = load(None, Some(config), "<fsbi.simulate>", &[])?;
    let cfg: RuleFilterConfig = exp
        .config::<RuleFilter>()
        .ok_or_else(|| config_error("internal: not a rule_filter config"))?
        .clone();
    let types: Vec<ConnType> = cfg.types.clone();
    let network = cfg.effective_network();
    let width = 6 * types.len();
    if p.shape.len() != 2 || (p.shape[1] != 24 && p.shape[1] != width) {
        return Err(config_error(format!(
            "params: expected shape (n, 24) (all four types) or (n, {width}) (the types {}), got {}",
            type_names(&types),
            shape_text(&p.shape)
        )));
    }
    let n = p.shape[0];
    let cols = p.shape[1];
    let mut rows: Vec<Vec<f64>> = Vec::with_capacity(n);
    for i in 0..n {
        let full = full_params(
            &types,
            &p.data[i * cols..(i + 1) * cols],
            &format!("params[{i}]"),
        )
        .map_err(config_error)?;
        synplast::sim::fsbi::validate(&with_rules(&network, &types, &full))
            .map_err(|(f, m)| config_error(format!("params[{i}]: {f}: {m}")))?;
        rows.push(full);
    }
    let seed = cfg.seed.unwrap_or(0);
    let threads = threads.unwrap_or(0);
    let out = controlled(
        py,
        progress.as_ref(),
        || {},
        |ctl| {
            ctl.progress.start(n, "rules");
            let idx: Vec<usize> = (0..n).collect();
            synplast::parallel::map_on(threads, &idx, |&i| {
                if ctl.stopped() {
                    return Ok::<_, String>(None);
                }
                let r = simulate_candidate(&network, &types, &rows[i], seed, i as u64, || {
                    !ctl.stopped()
                })
                .map_err(|e| format!("rule {i} (row {i} of params): {e}"))?;
                ctl.progress.advance(1);
                Ok(r.map(|m| metric_values(&m)))
            })
        },
    )?;
    let mut data = Vec::with_capacity(n * METRIC_NAMES.len());
    for r in out {
        match r {
            Ok(Some(v)) => data.extend(v),
            // Stopped: `controlled` raised the KeyboardInterrupt already; only a stop that
            // came too late to raise leaves rows unsimulated.
            Ok(None) => return Err(RunError::new_err("stopped before every rule was simulated")),
            Err(e) => return Err(RunError::new_err(e)),
        }
    }
    PyArray1::from_vec(py, data).reshape(vec![n, METRIC_NAMES.len()])
}
