"""synplast for Python: synaptic plasticity rule inference on numpy arrays.

The numerical work, every check and every message come from the Rust pipeline (the same code as
the ``synplast`` command line), through the extension module ``synplast._synplast``.

- :func:`kinds` lists the experiment kinds;
- :func:`check` validates a config (a path or a dict) and the data it names;
- :func:`run` runs a config into a run directory, byte for byte what ``synplast run`` writes;
- :func:`fit_rate` fits a 27-term Taylor rule to recorded activity given as numpy arrays;
- :func:`simulate_rate` simulates the plastic rate layer under a Taylor rule;
- :func:`fit_choices` fits a reward rule to two-choice data (a CSV path, a dict or pandas-like
  table, or a list of per-session tables) and scores it against two nulls;
- :func:`prune` prunes a connectivity matrix by noise-driven covariance (or a control rule) and
  measures what the pruning kept of its spectrum;
- :func:`synplast.fsbi.simulate` simulates doublet rules in the spiking network of
  Confavreux et al. 2023 and returns their plausibility metrics (the ``sbi`` simulator).

Long calls release the GIL, stop on Ctrl-C (``KeyboardInterrupt``) and take an optional
``progress(done, total, unit)`` callback.

A bad config, override or array raises :class:`ConfigError` (a ``ValueError``) with the
message the command line prints; a failure while fitting raises :class:`RunError`.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _synplast
from ._synplast import ConfigError, RunError

__version__: str = _synplast.__version__

TERMS: Tuple[str, ...] = tuple(_synplast.TERMS)
"""The labels of the 27 Taylor terms ``x^a y^b w^c`` in flat order ``9a + 3b + c``."""

__all__ = [
    "ConfigError",
    "RunError",
    "RunResult",
    "RateFit",
    "Progress",
    "kinds",
    "check",
    "run",
    "fit_rate",
    "simulate_rate",
    "ChoiceFit",
    "fit_choices",
    "PruneResult",
    "prune",
    "fsbi",
    "TERMS",
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
    summary: Optional[str] = None
    """The one-line summary the command line prints for a finished run, or None."""


Progress = Callable[[int, int, str], Any]
"""A progress callback: ``progress(done, total, unit)``, e.g. ``(120, 400, "epochs")``. It is
called from the calling thread, with the GIL, at most every 100 ms while the counters move; an
exception it raises stops the call as Ctrl-C does and is raised from it."""


def run(
    config: Config,
    out: Optional[Union[str, "os.PathLike[str]"]] = None,
    overrides: Sequence[str] = (),
    quiet: bool = True,
    force: bool = False,
    resume: bool = False,
    progress: Optional[Progress] = None,
    threads: Optional[int] = None,
) -> RunResult:
    """Run an experiment into a run directory, as ``synplast run``.

    ``config`` is the path of an experiment file or a dict; relative data paths in it are read
    from the working directory, as the command line does. ``out`` is the run directory
    (default ``runs/<name>/<UTC time>-<hash>`` under the working directory); ``force`` replaces
    an earlier run there; ``resume=True`` continues the interrupted run in ``out`` from its
    checkpoints (as ``synplast run --resume``). The directory holds the same bytes as the
    command line's (``meta.json`` apart: times and the command). With ``quiet=False`` the
    summary line and the run directory are printed, as the command line prints them.

    ``progress(done, total, unit)`` is called as the run advances (see :data:`Progress`).
    ``threads`` sets the worker threads of this run (default ``SYNPLAST_THREADS`` or every
    core, as ``synplast run --threads``); the bytes do not depend on it. The GIL is released
    during the run (one run at a time per process: the thread count and the stop request are
    the process's). Ctrl-C (``KeyboardInterrupt``) stops it at its next safe
    point: ``meta.json`` then says ``interrupted``, ``run(config, out=dir, resume=True)``
    finishes it, and the ``KeyboardInterrupt`` is raised.

    Raises :class:`ConfigError` for a bad config, override or data file, or a run directory
    that is refused (nothing written then); returns a :class:`RunResult` otherwise, whose
    ``status`` says whether the run succeeded.
    """
    if resume and out is None:
        raise ConfigError("resume=True needs out, the directory of the interrupted run")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ConfigError(f"threads must be a positive integer or None, got {threads!r}")
    code, d, error, summary = _synplast.run(
        out=None if out is None else os.fspath(out),
        overrides=_overrides(overrides),
        quiet=bool(quiet),
        force=bool(force),
        resume=bool(resume),
        progress=progress,
        threads=threads,
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
    if not quiet:
        if summary is not None:
            print(summary)
            print(f"run directory: {d}")
        elif error is not None:
            print(f"synplast: {error}\nrun directory (partial): {d}", file=sys.stderr)
    return RunResult(dir=d, status=status, metrics=metrics, error=error, summary=summary)


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



def _trainable(terms: Optional[Sequence[str]], mask: Any) -> Optional[List[str]]:
    """The labels of the fitted terms, from ``terms`` (labels) or ``mask`` (booleans)."""
    if terms is not None and mask is not None:
        raise ConfigError("give terms (labels) or mask (booleans), not both")
    if terms is not None:
        if isinstance(terms, str):
            raise TypeError("terms must be a sequence of term labels such as ['x*y', 'y^2*w'], not one string")
        return [str(t) for t in terms]
    if mask is None:
        return None
    m = np.asarray(mask)
    if m.dtype != np.bool_:
        raise ConfigError(f"mask: expected booleans, got dtype {m.dtype}")
    if m.shape not in ((27,), (3, 3, 3)):
        raise ConfigError(
            f"mask: expected shape (3, 3, 3) (index [a, b, c] of x^a y^b w^c) or (27,), got {m.shape}"
        )
    labels = list(TERMS)
    return [labels[k] for k in np.flatnonzero(m.reshape(27))]


def fit_rate(
    x: np.ndarray,
    y: np.ndarray,
    w0: Optional[np.ndarray] = None,
    terms: Optional[Sequence[str]] = None,
    mask: Any = None,
    *,
    epochs: int = 200,
    lr: float = 0.01,
    refine_iterations: int = 100,
    cutoff: Optional[float] = None,
    seed: int = 0,
    eta: float = 1.0,
    l1: float = 0.0,
    progress: Optional[Progress] = None,
) -> RateFit:
    """Fit a 27-term Taylor rule to recorded activity (a recorded ``fit_rate`` experiment).

    The arrays follow the recorded-activity contract: ``x`` [sessions, T, n_in] inputs
    (finite), ``y`` [sessions, T, n_out] recorded rates (NaN: not observed), ``w0``
    [sessions, n_out, n_in] initial weights or None (then fitted with the rule). All are
    float32 or float64 and C-contiguous (read-only arrays are fine). The model is
    ``y_t = sigmoid(W_t x_t)``, ``W_{t+1} = W_t + eta * sum theta[a,b,c] x^a y^b W^c``.

    The fitted terms are all 27 by default; ``terms`` names them (labels of :data:`TERMS`,
    e.g. ``["x*y", "y^2*w"]``) or ``mask`` selects them (booleans, shape (3, 3, 3) indexed
    ``[a, b, c]`` as the ``coeff_mask`` of Mehta et al.'s code, or flat (27,)); the other
    coefficients stay 0.

    Options, as in a config file: ``epochs`` and ``lr`` of full-batch Adam,
    ``refine_iterations`` of Levenberg-Marquardt after it (needs ``l1 = 0``), ``cutoff`` the
    fraction of each session's steps fitted (default all), ``seed``, ``eta`` the plasticity
    rate, ``l1`` the penalty on theta. ``progress(done, total, "epochs")`` is called as the
    fit advances (see :data:`Progress`).

    Raises :class:`ConfigError` (a ``ValueError``) for a bad option or array, with the command
    line's message; :class:`RunError` when the fit fails. The GIL is released during the fit;
    Ctrl-C stops it and raises ``KeyboardInterrupt``.
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
    trainable = _trainable(terms, mask)
    if trainable is not None:
        overrides.append(f"student.trainable={json.dumps(trainable)}")
    # `fit.epochs` is required: the overrides fill it, each checked as on the command line.
    config["fit"] = {"epochs": 1}
    r = _synplast.fit_rate(x, y, w0, json.dumps(config, indent=2), overrides, progress)
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


from . import fsbi  # noqa: E402  (after ConfigError, which it raises)
from ._choices import ChoiceFit, fit_choices  # noqa: E402
from ._prune import PruneResult, prune  # noqa: E402
