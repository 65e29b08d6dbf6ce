"""Type stub of the `synplast` package (see `__init__.py` for the documentation)."""
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

__version__: str

Config = Union[str, os.PathLike[str], Mapping[str, Any]]

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
) -> RunResult:
    """Run an experiment into a run directory as `synplast run`."""

def fit_rate(
    x: np.ndarray,
    y: np.ndarray,
    w0: Optional[np.ndarray] = ...,
    *,
    epochs: int = ...,
    lr: float = ...,
    refine_iterations: int = ...,
    cutoff: Optional[float] = ...,
    trainable: Optional[Sequence[str]] = ...,
    seed: int = ...,
    eta: float = ...,
    l1: float = ...,
) -> RateFit:
    """Fit a 27-term Taylor rule to recorded activity arrays."""

def simulate_rate(
    theta: Any, x: np.ndarray, w0: np.ndarray, eta: float = ...
) -> Tuple[np.ndarray, np.ndarray]:
    """Simulate the plastic rate layer: returns activity [sessions, T, n_out] and weights
    [sessions, T + 1, n_out, n_in]."""
