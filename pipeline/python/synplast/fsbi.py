"""Doublet rules in the recurrent E/I spiking network of Confavreux et al. 2023 ("fSBI"), as a
simulator for simulation-based inference (the ``sbi`` package).

:func:`simulate` takes candidate rules as rows of parameters and returns their plausibility
metrics as rows of numbers, running the rules in parallel with the GIL released. The network and
the metrics are those of the ``rule_filter`` experiment kind; row ``i`` with seed ``s`` runs in
the network realisation that ``rule_filter`` gives its candidate ``i`` under seed ``s``, so
``simulate(np.load(run / "params.npy"), seed=s)`` reproduces that run's metrics.

- :data:`PARAMS`: the 24 parameter names, ``<type>_<param>`` for the types ``ee``, ``ei``,
  ``ie``, ``ii`` and the doublet parameters ``tau_pre``, ``tau_post`` (s), ``alpha``,
  ``beta``, ``gamma``, ``kappa`` (``dw = eta (alpha + kappa x_post)`` at a presynaptic spike,
  ``dw = eta (beta + gamma x_pre)`` at a postsynaptic one: docs/spiking_fsbi.md);
- :data:`METRICS`: the names of the metric columns;
- :data:`NETWORK`: the default network (the small network of ``rule_filter_small.yaml``);
- :data:`PRIOR_LOW`, :data:`PRIOR_HIGH`: the box prior of the paper for one type's six
  parameters.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np

from . import _synplast

__all__ = ["simulate", "PARAMS", "METRICS", "NETWORK", "TYPES", "PRIOR_LOW", "PRIOR_HIGH"]

PARAMS: Tuple[str, ...] = tuple(_synplast.fsbi_param_names())
"""The 24 doublet parameters, four types (``ee``, ``ei``, ``ie``, ``ii``) of six each."""

METRICS: Tuple[str, ...] = tuple(_synplast.fsbi_metric_names())
"""The metric columns of :func:`simulate` (36). First synplast's own (17): rates (Hz), CV of
inter-spike intervals, Fano factors, autocovariance, the fraction of saturated weights, the drift
("creep") of the mean weights, the four mean weights at the end, the simulated seconds (less than
the protocol when the rate checker stopped the run), ``aborted`` (0/1), ``constraints_met`` (how
many constraints of the deciding definition hold) and ``plausible`` (0/1, the deciding
definition's verdict). Then the paper's metrics as its ``fsbi/analyse.py`` defines them
(``paper_rate`` ... ``paper_wiif``, 17), and each definition's verdict (``paper_plausible``,
``synplast_plausible``). The paper's definition decides unless the config's
``network.plausibility.definition`` is ``synplast`` (docs/spiking_fsbi.md). A statistic with no
data (no spikes, a run stopped early) is NaN."""

TYPES: Tuple[str, ...] = ("ee", "ei", "ie", "ii")
"""The connection types, in the order of :data:`PARAMS`."""

PRIOR_LOW = np.array([0.01, 0.01, -2.0, -2.0, -2.0, -2.0])
"""Lower bounds of the paper's box prior for one type (tau_pre, tau_post, alpha, beta, gamma,
kappa)."""
PRIOR_HIGH = np.array([0.1, 0.1, 2.0, 2.0, 2.0, 2.0])
"""Upper bounds of the paper's box prior for one type."""

NETWORK: Dict[str, Any] = {
    "n_exc": 512,
    "n_inh": 128,
    "p": 0.1,
    "w": [0.1, 0.1, 1.0, 1.0],
    "w_max": 20,
    "inputs": 5000,
    "input_p": 0.05,
    "input_w": 0.075,
    "input_rate": [5, 15],
    "delay_ms": 0.8,
    "eta": 0.01,
    "learn_s": 10,
    "score_s": 5,
}
"""The default network: 512 E + 128 I neurons, 5000 Poisson inputs, 10 s of learning and 5 s
of scoring (about 2 s of wall time per rule on one core). Keyword options of :func:`simulate`
replace its entries; ``constraints`` and ``abort_rate`` are accepted too (docs/spiking_fsbi.md)."""


def simulate(
    params: Any,
    seed: int = 0,
    threads: Optional[int] = None,
    types: Sequence[str] = TYPES,
    progress: Optional[Callable[[int, int, str], Any]] = None,
    **network_options: Any,
) -> np.ndarray:
    """Simulate each row of ``params`` as doublet rules and return its metrics.

    ``params`` is [n, 24] (all four types in the order of :data:`PARAMS`; the columns of types
    not in ``types`` must be 0) or [n, 6 k] (only the k types in ``types``, in that order), any
    array-like of numbers (a torch tensor from ``sbi`` works: it is converted with
    ``numpy.asarray``). Returns float64 [n, len(METRICS)] (columns :data:`METRICS`).

    ``seed`` fixes every random draw of the networks (row ``i`` uses the realisation of
    ``rule_filter``'s candidate ``i``): the same rows and seed give the same bits, with any
    ``threads`` (default: the pipeline's, ``SYNPLAST_THREADS`` or every core). Give each round
    of a sequential inference its own seed if you want fresh network realisations.

    ``network_options`` replace entries of :data:`NETWORK` (``n_exc=256``, ``learn_s=5``, ...).
    ``progress(done, total, "rules")`` is called as rules finish. The GIL is released; Ctrl-C
    stops the simulation and raises ``KeyboardInterrupt``. A bad option or parameter raises
    :class:`synplast.ConfigError` (a ``ValueError``) naming it.
    """
    from . import ConfigError

    p = np.asarray(params, dtype=np.float64)
    if p.ndim == 1:
        p = p[None, :]
    p = np.ascontiguousarray(p)
    if isinstance(types, str):
        raise TypeError("types must be a sequence such as ['ee', 'ie'], not one string")
    types = [str(t) for t in types]
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ConfigError(f"threads must be a positive integer or None, got {threads!r}")
    if p.shape[0] == 0:
        return np.zeros((0, len(METRICS)))
    network = copy.deepcopy(NETWORK)
    network.update(network_options)
    network["rules"] = {}
    config = {
        "name": "fsbi_simulate",
        "kind": "rule_filter",
        "seed": seed,
        "rules": 1,
        "types": types,
        "network": network,
    }
    try:
        text = json.dumps(config, indent=2, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"<fsbi.simulate>: the options cannot be written as a config: {e}") from None
    try:
        return _synplast.fsbi_simulate(p, text, threads, progress)
    except ConfigError as e:
        # The positions would point into the config text built above, not into anything the
        # caller wrote: name the keyword option instead.
        message = re.sub(r"^<fsbi\.simulate>:\d+:\d+: (network\.)?", "fsbi.simulate: ", str(e))
        raise ConfigError(message) from None
