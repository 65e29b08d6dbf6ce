"""Type stub of the `synplast` package (see `__init__.py` for the documentation)."""
import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import fsbi as fsbi

__version__: str

TERMS: Tuple[str, ...]
"""The labels of the 27 Taylor terms, flat order 9a + 3b + c."""

Config = Union[str, os.PathLike[str], Mapping[str, Any]]

Progress = Callable[[int, int, str], Any]
"""progress(done, total, unit), called at most every 100 ms while a long call advances."""

class ConfigError(ValueError):
    """A bad config, override or data (the command line's exit 2), with its message."""

class RunError(RuntimeError):
    """A failure while fitting or running (the command line's exit 1)."""

class RunResult:
    """A finished run."""
    dir: str
    status: str
    metrics: Optional[Dict[str, Any]]
    error: Optional[str]
    summary: Optional[str]

class RateFit:
    """A Taylor rule fitted to recorded activity."""
    theta: np.ndarray
    terms: List[str]
    stderr: np.ndarray
    identifiability: Dict[str, Any]
    loss_history: np.ndarray
    residual_variance: float
    rejected_steps: int
    def term(self, label: str) -> float:
        """The coefficient of the term `label`."""

def kinds() -> List[Tuple[str, str]]:
    """The experiment kinds, as (name, about)."""

def check(config: Config, overrides: Sequence[str] = ...) -> Tuple[str, str]:
    """Validate a config and its data as `synplast check`; returns (kind, name)."""

def run(
    config: Config,
    out: Optional[Union[str, os.PathLike[str]]] = ...,
    overrides: Sequence[str] = ...,
    quiet: bool = ...,
    force: bool = ...,
    resume: bool = ...,
    progress: Optional[Progress] = ...,
    threads: Optional[int] = ...,
) -> RunResult:
    """Run an experiment into a run directory as `synplast run`."""

def fit_rate(
    x: np.ndarray,
    y: np.ndarray,
    w0: Optional[np.ndarray] = ...,
    terms: Optional[Sequence[str]] = ...,
    mask: Optional[np.ndarray] = ...,
    *,
    epochs: int = ...,
    lr: float = ...,
    refine_iterations: int = ...,
    cutoff: Optional[float] = ...,
    seed: int = ...,
    eta: float = ...,
    l1: float = ...,
    progress: Optional[Progress] = ...,
) -> RateFit:
    """Fit a 27-term Taylor rule to recorded activity arrays."""

def simulate_rate(
    theta: Any, x: np.ndarray, w0: np.ndarray, eta: float = ...
) -> Tuple[np.ndarray, np.ndarray]:
    """Simulate the plastic rate layer: returns activity [sessions, T, n_out] and weights
    [sessions, T + 1, n_out, n_in]."""

class ChoiceFit:
    """A reward rule fitted to a two-choice table."""
    terms: List[str]
    coefficients: np.ndarray
    stderr: np.ndarray
    ci95: np.ndarray
    meaningful: np.ndarray
    bootstrap_ci95: Optional[np.ndarray]
    bootstrap_std: Optional[np.ndarray]
    param_labels: List[str]
    params: np.ndarray
    identifiability: Dict[str, Any]
    held_in_nll: float
    held_out_nll: float
    null_nll: Dict[str, Tuple[float, float]]
    percent_deviance_vs_theta_zero: float
    percent_deviance_vs_bias_only: float
    aic: float
    bic: float
    bias_only_p_a: float
    dw_correlation_with_reference: Optional[float]
    held_out_sessions: Optional[Dict[str, Any]]
    trial_nll: List[np.ndarray]
    null_trial_nll: List[np.ndarray]
    bias_trial_nll: List[np.ndarray]
    reference_trial_nll: Optional[List[np.ndarray]]
    fitted_trials: List[int]
    loss_history: np.ndarray
    skipped_steps: int
    reverted_epochs: int
    metrics: Dict[str, Any]
    summary: str
    def term(self, label: str) -> float:
        """The fitted coefficient of the term `label`."""

def fit_choices(
    table: Any,
    terms: Optional[Sequence[str]] = ...,
    *,
    rule: str = ...,
    epochs: int = ...,
    lr: float = ...,
    l1: float = ...,
    cutoff: float = ...,
    held_out_sessions: int = ...,
    bootstrap: int = ...,
    reference: Optional[Mapping[str, float]] = ...,
    seed: int = ...,
    hidden: int = ...,
    w0_std: float = ...,
    odor_scale: float = ...,
    noise_std: float = ...,
    overrides: Sequence[str] = ...,
    progress: Optional[Callable[[int, int, str], Any]] = ...,
) -> ChoiceFit:
    """Fit a reward rule to two-choice data (CSV path, dict or table of columns, or a list of
    per-session tables)."""

class PruneResult:
    """A matrix pruned by one rule, with the run's report numbers."""
    rule: str
    matrix: np.ndarray
    rho: float
    expected_fraction: float
    fraction_kept: float
    eig_rel_err_max: float
    eig_rel_err_median: float
    quad_ratio_min: float
    quad_ratio_max: float
    response_rel_err: float
    n: int
    synapses: int
    target_expected_synapses: float
    eigenvalues: np.ndarray
    original_eigenvalues: np.ndarray
    covariance_rel_err_online: Optional[float]
    noise_within_eps: Optional[Dict[str, bool]]
    metrics: Dict[str, Any]

def prune(
    A: np.ndarray,
    sigma: float,
    target_fraction: Optional[float] = ...,
    eps: Optional[float] = ...,
    seed: int = ...,
    *,
    rule: str = ...,
    mode: str = ...,
    allow_non_sdd: bool = ...,
    dt: Optional[float] = ...,
    steps: Optional[int] = ...,
    burn_in: Optional[int] = ...,
    quad_vectors: int = ...,
    overrides: Sequence[str] = ...,
    progress: Optional[Callable[[int, int, str], Any]] = ...,
) -> PruneResult:
    """Prune a square connectivity matrix by noise-driven covariance (or a control rule)."""
