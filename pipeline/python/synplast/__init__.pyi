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
