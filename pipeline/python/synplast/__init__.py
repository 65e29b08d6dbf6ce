"""synplast for Python: synaptic plasticity rule inference on numpy arrays.

The numerical work, every check and every message come from the Rust pipeline (the same code as
the ``synplast`` command line), through the extension module ``synplast._synplast``.

- :func:`kinds` lists the experiment kinds;
- :func:`check` validates a config (a path or a dict) and the data it names;
- :func:`run` runs a config into a run directory, byte for byte what ``synplast run`` writes;
- :func:`fit_rate` fits a 27-term Taylor rule to recorded activity given as numpy arrays.

A bad config, override or array raises :class:`ConfigError` (a ``ValueError``) with the
message the command line prints; a failure while fitting raises :class:`RunError`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _synplast
from ._synplast import ConfigError, RunError

__version__: str = _synplast.__version__

__all__ = [
    "ConfigError",
    "RunError",
    "RunResult",
    "RateFit",
    "kinds",
    "check",
    "run",
    "fit_rate",
    "simulate_rate",
    "__version__",
]

Config = Union[str, "os.PathLike[str]", Mapping[str, Any]]


def _source(config: Config) -> Dict[str, Any]:
    """The keyword arguments naming a config for the extension: a path, or a dict as text."""
    if isinstance(config, Mapping):
        try:
            text = json.dumps(config, indent=2, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"<dict>: the config cannot be written as YAML: {e}") from None
        # JSON is YAML: the registry parses it as it parses a file, positions included.
        return {"text": text, "name": "<dict>"}
    if isinstance(config, (str, os.PathLike)):
        return {"path": os.fsdecode(config)}
    raise TypeError(
        f"config must be a path (str or os.PathLike) or a dict, not {type(config).__name__}"
    )


def _overrides(overrides: Sequence[str]) -> List[str]:
    if isinstance(overrides, str):
        raise TypeError("overrides must be a sequence of 'key.path=value' strings, not one string")
    return [str(o) for o in overrides]


def kinds() -> List[Tuple[str, str]]:
    """The experiment kinds of this build, as ``(name, about)`` pairs (``synplast list``)."""
    return list(_synplast.kinds())


def check(config: Config, overrides: Sequence[str] = ()) -> Tuple[str, str]:
    """Validate a config and the data files it names, as ``synplast check``.

    ``config`` is the path of an experiment file or a dict of the same content. ``overrides``
    are ``key.path=value`` strings as on the command line. Returns ``(kind, name)``; raises
    :class:`ConfigError` with the command line's message (``file:line:col: field: problem``).
    """
    return tuple(_synplast.check(overrides=_overrides(overrides), **_source(config)))


@dataclass(frozen=True)
class RunResult:
    """A finished run: its directory, ``meta.json``'s status and the parsed ``metrics.json``."""

    dir: str
    """The run directory."""
    status: str
    """``ok``, ``failed`` or ``interrupted`` (``meta.json``'s ``status``)."""
    metrics: Optional[Dict[str, Any]]
    """The parsed ``metrics.json`` (None when the run failed before writing it)."""
    error: Optional[str] = None
    """Why the run failed (``meta.json``'s ``error``), or None."""


def run(
    config: Config,
    out: Optional[Union[str, "os.PathLike[str]"]] = None,
    overrides: Sequence[str] = (),
    quiet: bool = True,
    force: bool = False,
) -> RunResult:
    """Run an experiment into a run directory, as ``synplast run``.

    ``config`` is the path of an experiment file or a dict; relative data paths in it are read
    from the working directory, as the command line does. ``out`` is the run directory
    (default ``runs/<name>/<UTC time>-<hash>`` under the working directory); ``force`` replaces
    an earlier run there. The directory holds the same bytes as the command line's
    (``meta.json`` apart: times and the command). The GIL is released during the run; Ctrl-C
    does not stop it (the interpreter keeps its own signal handlers).

    Raises :class:`ConfigError` for a bad config, override or data file, or a run directory
    that is refused (nothing written then); returns a :class:`RunResult` otherwise, whose
    ``status`` says whether the run succeeded.
    """
    code, d, error = _synplast.run(
        out=None if out is None else os.fspath(out),
        overrides=_overrides(overrides),
        quiet=bool(quiet),
        force=bool(force),
        **_source(config),
    )
    if code == 2 or d is None:
        raise ConfigError(error or "the run was refused")
    d = os.fspath(d)
    status = "failed"
    try:
        with open(os.path.join(d, "meta.json"), "rb") as f:
            status = json.load(f).get("status", status)
    except (OSError, ValueError):
        pass
    metrics = None
    try:
        with open(os.path.join(d, "metrics.json"), "rb") as f:
            metrics = json.load(f)
    except OSError:
        pass
    return RunResult(dir=d, status=status, metrics=metrics, error=error)


@dataclass(frozen=True)
class RateFit:
    """A Taylor rule fitted to recorded activity by :func:`fit_rate`."""

    theta: np.ndarray
    """The 27 coefficients, float64, flat index ``9a + 3b + c`` of the term ``x^a y^b w^c``."""
    terms: List[str]
    """The 27 term labels (``1``, ``w``, ..., ``x*y``, ``y^2*w``, ...), in the order of ``theta``."""
    stderr: np.ndarray
    """Standard error of each coefficient (NaN: not trainable, or not meaningful)."""
    identifiability: Dict[str, Any]
    """Spectrum of the profiled Gauss-Newton matrix: terms, singular values, condition number,
    least determined directions and a verdict."""
    loss_history: np.ndarray
    """Mean squared error at the start of every Adam epoch, then after every accepted
    Levenberg-Marquardt iteration."""
    residual_variance: float
    """Residual variance behind the standard errors (NaN when not meaningful)."""
    rejected_steps: int
    """Adam steps undone because the weights blew up."""

    def term(self, label: str) -> float:
        """The coefficient of the term ``label`` (e.g. ``"x*y"``)."""
        return float(self.theta[self.terms.index(label)])



def fit_rate(
    x: np.ndarray,
    y: np.ndarray,
    w0: Optional[np.ndarray] = None,
    *,
    epochs: int = 200,
    lr: float = 0.01,
    refine_iterations: int = 100,
    cutoff: Optional[float] = None,
    trainable: Optional[Sequence[str]] = None,
    seed: int = 0,
    eta: float = 1.0,
    l1: float = 0.0,
) -> RateFit:
    """Fit a 27-term Taylor rule to recorded activity (a recorded ``fit_rate`` experiment).

    The arrays follow the recorded-activity contract: ``x`` [sessions, T, n_in] inputs
    (finite), ``y`` [sessions, T, n_out] recorded rates (NaN: not observed), ``w0``
    [sessions, n_out, n_in] initial weights or None (then fitted with the rule). All are
    float32 or float64 and C-contiguous. The model is ``y_t = sigmoid(W_t x_t)``,
    ``W_{t+1} = W_t + eta * sum theta[a,b,c] x^a y^b W^c``.

    Options, as in a config file: ``epochs`` and ``lr`` of full-batch Adam,
    ``refine_iterations`` of Levenberg-Marquardt after it (needs ``l1 = 0``), ``cutoff`` the
    fraction of each session's steps fitted (default all), ``trainable`` the term labels fitted
    (default all 27), ``seed``, ``eta`` the plasticity rate, ``l1`` the penalty on theta.

    Raises :class:`ConfigError` (a ``ValueError``) for a bad option or array, with the command
    line's message; :class:`RunError` when the fit fails. The GIL is released during the fit.
    """
    fit = {"epochs": epochs, "lr": lr, "refine_iterations": refine_iterations, "l1": l1}
    config: Dict[str, Any] = {
        "name": "fit_rate_arrays",
        "kind": "fit_rate",
        "network": {"eta": eta},
        "student": {"init_std": 0.0},
        # Never read: the arrays come from the caller.
        "data": {"recorded": {"x": "x", "y": "y"}},
        "fit": {},
        "evaluation": {},
    }
    overrides = [f"fit.{k}={json.dumps(v)}" for k, v in fit.items()]
    overrides.append(f"seed={json.dumps(seed)}")
    if cutoff is not None:
        overrides.append(f"evaluation.cutoff={json.dumps(cutoff)}")
    if trainable is not None:
        if isinstance(trainable, str):
            raise TypeError("trainable must be a sequence of term labels, not one string")
        overrides.append(f"student.trainable={json.dumps(list(trainable))}")
    # `fit.epochs` is required: the overrides fill it, each checked as on the command line.
    config["fit"] = {"epochs": 1}
    r = _synplast.fit_rate(x, y, w0, json.dumps(config, indent=2), overrides)
    return RateFit(
        theta=r["theta"],
        terms=list(r["terms"]),
        stderr=r["stderr"],
        identifiability=json.loads(r["identifiability"]),
        loss_history=r["loss_history"],
        residual_variance=float(r["residual_variance"]),
        rejected_steps=int(r["rejected_steps"]),
    )


def simulate_rate(
    theta: Any, x: np.ndarray, w0: np.ndarray, eta: float = 1.0
) -> Tuple[np.ndarray, np.ndarray]:
    """Simulate the plastic rate layer of ``fit_rate`` under the 27-term Taylor rule ``theta``.

    ``y_t = sigmoid(W_t x_t)`` (``W_t`` before the t-th update), then
    ``W_{t+1} = W_t + eta * sum theta[a,b,c] x^a y^b W^c`` elementwise. ``theta``: 27 numbers,
    flat index ``9a + 3b + c`` (any sequence); ``x`` [sessions, T, n_in] and ``w0``
    [sessions, n_out, n_in]: float32 or float64, C-contiguous, finite.

    Returns ``(y, w)``: the activity [sessions, T, n_out] and the weights ``W_0 ..= W_T``
    [sessions, T + 1, n_out, n_in], float64. Raises :class:`ConfigError` (a ``ValueError``)
    for bad arrays, :class:`RunError` when the weights blow up. The GIL is released.
    """
    th = np.ascontiguousarray(np.asarray(theta, dtype=np.float64))
    return _synplast.simulate_rate(th, x, w0, float(eta))
