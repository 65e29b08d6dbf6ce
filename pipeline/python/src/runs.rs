//! `kinds`, `check` and `run`: the command line's registry and run directory from Python.

use crate::common::{config_error, load};
use crate::control::controlled;
use pyo3::prelude::*;
use std::path::PathBuf;
use synplast::kinds::KINDS;
use synplast::rundir::{self, RunOptions};

/// The registered experiment kinds: a list of `(name, about)`.
#[pyfunction]
pub fn kinds() -> Vec<(&'static str, &'static str)> {
    KINDS.iter().map(|k| (k.name(), k.about())).collect()
}

/// Parses and validates a config and checks the data it names, as `synplast check`.
/// Returns `(kind, name)`; raises `ConfigError` with the command line's message.
#[pyfunction]
#[pyo3(signature = (path=None, text=None, name="<dict>", overrides=Vec::new()))]
pub fn check(
    py: Python<'_>,
    path: Option<String>,
    text: Option<String>,
    name: &str,
    overrides: Vec<String>,
) -> PyResult<(String, String)> {
    py.detach(|| {
        let exp = load(path.as_deref(), text.as_deref(), name, &overrides)?;
        exp.check_data().map_err(config_error)?;
        Ok((exp.kind().to_string(), exp.name().to_string()))
    })
}

/// What [`run`] returns: exit code, run directory, error message, summary line.
type RunReturn = (i32, Option<PathBuf>, Option<String>, Option<String>);

/// Runs an experiment into its run directory through the command line's code path, printing
/// nothing. Returns `(exit code, run directory, error, summary)`; raises `ConfigError` for a
/// bad config or data (exit 2 before anything is written). `resume` continues the
/// interrupted run in `out`. Ctrl-C (`KeyboardInterrupt`) stops the run at its next
/// checkpoint, leaving `meta.json` `interrupted`, and is then raised; `progress(done, total,
/// unit)` is called as the run's progress bars advance. `threads` workers for this run
/// (None: `SYNPLAST_THREADS` or every core), as `synplast run --threads`; the bytes do not
/// depend on it.
#[pyfunction]
#[pyo3(signature = (path=None, text=None, name="<dict>", out=None, overrides=Vec::new(), quiet=true, force=false, resume=false, progress=None, threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn run(
    py: Python<'_>,
    path: Option<String>,
    text: Option<String>,
    name: &str,
    out: Option<PathBuf>,
    overrides: Vec<String>,
    quiet: bool,
    force: bool,
    resume: bool,
    progress: Option<Bound<'_, PyAny>>,
    threads: Option<usize>,
) -> PyResult<RunReturn> {
    let mut exp = py.detach(|| -> PyResult<_> {
        let exp = load(path.as_deref(), text.as_deref(), name, &overrides)?;
        exp.check_data().map_err(config_error)?;
        Ok(exp)
    })?;
    exp.resolve();
    let config_file = path.clone().unwrap_or_else(|| name.to_string());
    let mut command: Vec<String> = vec!["python".into(), "synplast.run".into()];
    if resume {
        command.push("--resume".into());
    }
    command.push(config_file.clone());
    command.extend(overrides.iter().cloned());
    let opts = RunOptions {
        out,
        force,
        quiet,
        command,
        config_file,
        resume,
        shard: None,
        merge: false,
        embedded: true,
    };
    synplast::interrupt::clear();
    controlled(py, progress.as_ref(), synplast::interrupt::request, |ctl| {
        synplast::progress::observe(Some(ctl.progress.clone()));
        synplast::parallel::set_threads(threads.unwrap_or(0));
        let o = rundir::run_outcome(&exp, &opts);
        synplast::parallel::set_threads(0);
        synplast::progress::observe(None);
        (o.code, o.dir, o.error, o.summary)
    })
}
