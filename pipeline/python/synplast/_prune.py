"""``synplast.prune``: noise-driven pruning (Moore & Chaudhuri 2020) of a given matrix, by the
``prune`` kind's own code (``prune_matrix`` in the pipeline), without files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from . import _synplast

RULES = ("noise", "weight", "uniform", "noise_online")
"""The pruning rules: the noise rule with the exact covariance, the two controls (keep
probability proportional to ``|w|``, uniform) and the noise rule with the covariance estimated
from a simulation of the noisy dynamics."""


@dataclass(frozen=True)
class PruneResult:
    """A network pruned by :func:`prune`: the matrix, and what a ``prune`` run's
    ``metrics.json`` reports of that rule (the whole of it is :attr:`metrics`)."""

    rule: str
    """The rule (one of :data:`RULES`)."""
    matrix: np.ndarray
    """The pruned matrix, float64 [n, n]: kept synapses reweighted by ``1/p``, the rest 0, the
    diagonal reset (``A~_ii = A_ii + sum_j |A_ij| - sum_j |A~_ij|``)."""
    rho: float
    """The rate of ``p = min(1, rho s)`` (inf: every synapse with a positive score kept)."""
    expected_fraction: float
    """Expected fraction of the synapses kept."""
    fraction_kept: float
    """Fraction actually kept (pairs in symmetric mode)."""
    eig_rel_err_max: float
    """Largest relative error of the sorted eigenvalues."""
    eig_rel_err_median: float
    """Median relative error of the sorted eigenvalues."""
    quad_ratio_min: float
    """Smallest ``v^T A~ v / v^T A v`` over ``quad_vectors`` random vectors."""
    quad_ratio_max: float
    """Largest such ratio."""
    response_rel_err: float
    """``|x~ - x| / |x|`` of the steady response ``x = -A^-1 b`` to a random input ``b``."""
    n: int
    """Neurons."""
    synapses: int
    """Candidate synapses (pairs in symmetric mode)."""
    target_expected_synapses: float
    """The expected number of synapses kept (every rule the same)."""
    eigenvalues: np.ndarray
    """Eigenvalues of the pruned matrix, sorted as the kind sorts them: float64 ascending for
    symmetric mode, complex128 by real then imaginary part for directed mode."""
    original_eigenvalues: np.ndarray
    """The same of the original matrix."""
    covariance_rel_err_online: Optional[float]
    """Relative Frobenius error of the estimated covariance (``noise_online`` only)."""
    noise_within_eps: Optional[Dict[str, bool]]
    """With ``eps`` and the noise rule: whether every eigenvalue and the quadratic form stayed
    within ``1 +- eps``."""
    metrics: Dict[str, Any]
    """What a run's ``metrics.json`` holds for this rule and network, but ``config_hash``
    (the ratios between rules are null: one rule ran)."""


def _eig(pairs: np.ndarray, symmetric: bool) -> np.ndarray:
    if symmetric:
        return np.ascontiguousarray(pairs[:, 0])
    return pairs[:, 0] + 1j * pairs[:, 1]


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def prune(
    A: np.ndarray,
    sigma: float,
    target_fraction: Optional[float] = None,
    eps: Optional[float] = None,
    seed: int = 0,
    *,
    rule: str = "noise",
    mode: str = "symmetric",
    allow_non_sdd: bool = False,
    dt: Optional[float] = None,
    steps: Optional[int] = None,
    burn_in: Optional[int] = None,
    quad_vectors: int = 200,
    overrides: Sequence[str] = (),
    progress: Optional[Any] = None,
) -> PruneResult:
    """Prune the synapses of the linear network ``dx = A x dt + sigma dW`` (a ``prune`` run on
    ``network: {file: ...}``, one rule).

    ``A`` is the square connectivity matrix with the leak on its diagonal: a numpy array of
    float64 or float32, C-contiguous, finite, checked as the kind checks a matrix file
    (symmetric for ``mode="symmetric"``; symmetric and diagonally dominant for ``eps``, unless
    ``allow_non_sdd``). ``sigma`` is the noise amplitude. Exactly one of ``target_fraction``
    (the expected fraction of synapses kept; rho solved for it) and ``eps`` (the theory's
    ``rho = 8 ln N / (eps^2 sigma^2)``). ``seed`` seeds the sampling as in a run: the same
    matrix, options and seed give the run's pruned matrix for that rule, bit for bit.

    ``rule`` is ``noise`` (keep ``(i, j)`` with ``min(1, rho |w_ij| Var(x_i - sign(w_ij)
    x_j))``, the exact covariance), ``weight`` or ``uniform`` (the controls, at the noise
    rule's expected count) or ``noise_online`` (the covariance estimated from ``steps``
    Euler-Maruyama steps of size ``dt`` after ``burn_in``; defaults 200000 and 0.002 as in a
    config). ``mode`` is ``symmetric`` (one decision a pair) or ``directed``;
    ``quad_vectors`` random vectors measure the quadratic form; ``overrides`` any other
    ``key.path=value`` of a ``prune`` config.

    Raises :class:`ConfigError` with the command line's message for a bad matrix (named
    ``A``) or option, :class:`RunError` when the covariance does not exist (unstable ``A``).
    The GIL is released; ``progress(done, total, "steps")`` and Ctrl-C work during the
    online covariance's simulation.
    """
    if isinstance(overrides, str):
        raise TypeError("overrides must be a sequence of 'key.path=value' strings, not one string")
    config = {
        "name": "prune_matrix",
        "kind": "prune",
        # Never read: the matrix comes from the caller.
        "network": {"file": "A.npy"},
        "prune": {"target_fraction": 0.5},
    }

    def value(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, (np.integer, np.floating, np.bool_)):
            v = v.item()
        return json.dumps(v)

    online = rule == "noise_online"
    opts: List[str] = [
        f"seed={value(seed)}",
        f"sigma={value(sigma)}",
        f"prune.target_fraction={value(target_fraction)}",
        f"prune.eps={value(eps)}",
        f"prune.mode={value(mode)}",
        f"prune.allow_non_sdd={value(allow_non_sdd)}",
        f"quad_vectors={value(quad_vectors)}",
    ]
    if online:
        opts.append('covariance.method="estimated"')
    for k, v in (("dt", dt), ("steps", steps), ("burn_in", burn_in)):
        if v is not None:
            opts.append(f"covariance.{k}={value(v)}")
    opts.extend(str(o) for o in overrides)
    r = _synplast.prune(A, json.dumps(config, indent=2), opts, rule=str(rule), progress=progress)
    metrics = json.loads(r["metrics"])
    symmetric = metrics["mode"] == "symmetric"
    m = metrics[rule]
    cov = metrics.get("covariance_rel_err_online")
    return PruneResult(
        rule=rule,
        matrix=r["matrix"],
        rho=_num(m["rho"]) if m["rho"] is not None else float("inf"),
        expected_fraction=_num(m["expected_fraction"]),
        fraction_kept=_num(m["fraction_kept"]),
        eig_rel_err_max=_num(m["eig_rel_err_max"]),
        eig_rel_err_median=_num(m["eig_rel_err_median"]),
        quad_ratio_min=_num(m["quad_ratio_min"]),
        quad_ratio_max=_num(m["quad_ratio_max"]),
        response_rel_err=_num(m["response_rel_err"]),
        n=int(metrics["n"]),
        synapses=int(metrics["synapses"]),
        target_expected_synapses=_num(metrics["target_expected_synapses"]),
        eigenvalues=_eig(r["eigenvalues"], symmetric),
        original_eigenvalues=_eig(r["original_eigenvalues"], symmetric),
        covariance_rel_err_online=None if cov is None else float(cov),
        noise_within_eps=metrics.get("noise_within_eps"),
        metrics=metrics,
    )
