"""``synplast.fit_choices``: a reward rule fitted to two-choice data, one row per trial.

The table reaches the pipeline as the CSV text of the choice-data contract
(``session,trial,choice,reward``, DESIGN §6), so it is parsed and checked by the same code as a
``data: {choices: {file: ...}}`` file, and the fit, the scores and the intervals are those of a
``fit_behavior`` choice run (``fit_table`` in the pipeline), without files.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _synplast
from ._synplast import ConfigError

COLUMNS = ("session", "trial", "choice", "reward")
"""The columns of a choice table, in the order of the CSV header."""

Table = Union[str, "os.PathLike[str]", Mapping[str, Any], Any, Sequence[Any]]


@dataclass(frozen=True)
class ChoiceFit:
    """A reward rule fitted to a two-choice table by :func:`fit_choices`.

    Every number is the one a ``fit_behavior`` run with the same options writes into
    ``metrics.json`` (the whole of it is :attr:`metrics`). ``-log P(choice)`` is the
    trial-level marginal likelihood ``P(A) = p_A / (p_A + p_B)`` (``docs/fit_behavior.md``),
    in nats per trial.
    """

    terms: List[str]
    """Labels of the fitted (trainable) parameters: Taylor terms such as ``x*r``, or the MLP
    rule's parameter names."""
    coefficients: np.ndarray
    """The fitted value of each of :attr:`terms` (float64)."""
    stderr: np.ndarray
    """Fisher standard error of each coefficient; NaN where it is not meaningful (the
    direction is not determined by the data, see :attr:`identifiability`)."""
    ci95: np.ndarray
    """95% Fisher interval of each coefficient, [k, 2]; NaN rows where not meaningful."""
    meaningful: np.ndarray
    """Whether each coefficient has a standard error (bool)."""
    bootstrap_ci95: Optional[np.ndarray]
    """2.5 and 97.5 percentiles over the bootstrap refits, [k, 2] (NaN where a refit set gives
    none); None without ``bootstrap``."""
    bootstrap_std: Optional[np.ndarray]
    """Standard deviation over the bootstrap refits; None without ``bootstrap``."""
    param_labels: List[str]
    """Labels of every parameter of the rule (the 81 reward Taylor terms ``x^a y^b w^c r^d``,
    or the MLP's), in the order of :attr:`params`."""
    params: np.ndarray
    """Every parameter of the fitted rule; the untrained ones keep their initial values."""
    identifiability: Dict[str, Any]
    """``fisher_eigenvalues`` (of the observed Fisher matrix over the trainable parameters,
    descending), ``condition_number`` (largest over smallest eigenvalue; inf when the smallest
    is not positive, NaN when the matrix could not be computed) and ``not_meaningful`` (the
    terms without a standard error)."""
    held_in_nll: float
    """Mean ``-log P(choice)`` of the fit over the fitted trials."""
    held_out_nll: float
    """The same over the held-out trials (the rest of each session after ``cutoff``)."""
    null_nll: Dict[str, Tuple[float, float]]
    """``(held-in, held-out)`` mean ``-log P(choice)`` of the nulls: ``theta_zero`` (the same
    network with every coefficient 0) and ``bias_only`` (a fitted constant preference), and of
    the ``reference`` rule when one was given."""
    percent_deviance_vs_theta_zero: float
    """Held-out percent deviance explained against the theta = 0 null."""
    percent_deviance_vs_bias_only: float
    """Held-out percent deviance explained against the bias-only null."""
    aic: float
    """Akaike information criterion of the fit on the fitted trials."""
    bic: float
    """Bayesian information criterion of the fit on the fitted trials."""
    bias_only_p_a: float
    """The bias-only null's constant ``P(A)``."""
    dw_correlation_with_reference: Optional[float]
    """Correlation of the fitted rule's ``dw`` with the reference rule's over the inputs the
    fitted network visits (None without ``reference``)."""
    held_out_sessions: Optional[Dict[str, Any]]
    """Scores on the last ``held_out_sessions`` sessions, left out of the fit (None without)."""
    trial_nll: List[np.ndarray]
    """``-log P(choice)`` of every trial of every fitted session under the fit; the first
    ``fitted_trials[s]`` trials of session ``s`` are the fitted ones."""
    null_trial_nll: List[np.ndarray]
    """The same under the theta = 0 null."""
    bias_trial_nll: List[np.ndarray]
    """The same under the bias-only null."""
    reference_trial_nll: Optional[List[np.ndarray]]
    """The same under the reference rule (None without ``reference``)."""
    fitted_trials: List[int]
    """Trials fitted in each fitted session."""
    loss_history: np.ndarray
    """Mean training loss (choice cross-entropy, without L1) of every Adam epoch."""
    skipped_steps: int
    """Adam steps undone because a session's weights blew up."""
    reverted_epochs: int
    """Epochs undone because they made the loss much worse."""
    metrics: Dict[str, Any]
    """The run's ``metrics.json`` for these options, but ``config_hash``."""
    summary: str
    """The summary the command line prints."""

    def term(self, label: str) -> float:
        """The fitted coefficient of the term ``label`` (e.g. ``"x*r"``)."""
        return float(self.coefficients[self.terms.index(label)])


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _pairs(v: Sequence[Any]) -> np.ndarray:
    return np.array(
        [[_num(p[0]), _num(p[1])] if p is not None else [np.nan, np.nan] for p in v],
        dtype=np.float64,
    ).reshape(len(v), 2)


def _is_table(t: Any) -> bool:
    return isinstance(t, Mapping) or (hasattr(t, "columns") and hasattr(t, "__getitem__"))


def _columns(t: Any, where: str) -> Dict[str, np.ndarray]:
    """The columns of a dict or a pandas-like table as 1-D numpy arrays of one length."""
    names = [str(k) for k in (t.keys() if isinstance(t, Mapping) else t.columns)]
    unknown = [k for k in names if k not in COLUMNS]
    if unknown:
        raise ConfigError(
            f"{where}: unknown column(s) {', '.join(map(repr, unknown))}; "
            f"a choice table has the columns session, trial, choice, reward"
        )
    for need in ("choice", "reward"):
        if need not in names:
            raise ConfigError(f"{where}: missing column `{need}`")
    cols = {k: np.asarray(t[k]) for k in names}
    for k, c in cols.items():
        if c.ndim != 1:
            raise ConfigError(f"{where}: column `{k}` has shape {c.shape}; expected one value a row")
    lengths = {k: len(c) for k, c in cols.items()}
    if len(set(lengths.values())) > 1:
        raise ConfigError(f"{where}: the columns differ in length: {lengths}")
    return cols


def _cell(c: np.ndarray, i: int) -> str:
    v = c[i]
    if c.dtype.kind in "iu":
        return str(int(v))
    return str(v)


def _reward(c: np.ndarray, i: int) -> str:
    v = c[i]
    if c.dtype.kind in "fiub":
        # repr of a Python float reads back to the same double; nan and inf are refused by the
        # parser as on the command line.
        return repr(float(v))
    return str(v)


def _csv(table: Any) -> Tuple[str, List[str]]:
    """A dict/pandas table, or a list of per-session tables, as choice CSV text, and for every
    line after the header where it came from (for messages)."""
    if _is_table(table):
        parts = [(None, _columns(table, "table"))]
    else:
        sessions = list(table)
        if not sessions:
            raise ConfigError("sessions: the list is empty; expected one table per session")
        parts = []
        for s, t in enumerate(sessions):
            if not _is_table(t):
                raise TypeError(
                    f"sessions[{s}]: expected a dict of columns or a table, not {type(t).__name__}"
                )
            cols = _columns(t, f"sessions[{s}]")
            if "session" in cols:
                raise ConfigError(
                    f"sessions[{s}]: has a `session` column; in a list of sessions the position names the session"
                )
            parts.append((str(s), cols))
    lines = ["session,trial,choice,reward"]
    origin: List[str] = []
    for name, cols in parts:
        n = len(cols["choice"])
        counts: Dict[str, int] = {}
        for i in range(n):
            session = name if name is not None else (
                _cell(cols["session"], i) if "session" in cols else "0"
            )
            if any(ch in session for ch in ",\r\n"):
                raise ConfigError(
                    f"table row {i}: session `{session}` holds a comma or a line break; use plainer labels"
                )
            counts[session] = counts.get(session, 0) + 1
            trial = _cell(cols["trial"], i) if "trial" in cols else str(counts[session])
            fields = [session, trial, _cell(cols["choice"], i), _reward(cols["reward"], i)]
            lines.append(",".join(f.replace("\n", " ").replace("\r", " ") for f in fields))
            origin.append(f"row {i}" if name is None else f"sessions[{name}] row {i}")
    return "\n".join(lines) + "\n", origin


def fit_choices(
    table: Table,
    terms: Optional[Sequence[str]] = None,
    *,
    rule: str = "taylor",
    epochs: int = 400,
    lr: float = 0.001,
    l1: float = 0.0,
    cutoff: float = 0.7,
    held_out_sessions: int = 0,
    bootstrap: int = 0,
    reference: Optional[Mapping[str, float]] = None,
    seed: int = 0,
    hidden: int = 10,
    w0_std: float = 0.01,
    odor_scale: float = 0.75,
    noise_std: float = 0.05,
    overrides: Sequence[str] = (),
    progress: Optional[Any] = None,
) -> ChoiceFit:
    """Fit a reward rule to two-choice data (a ``fit_behavior`` run on ``data: choices``).

    ``table`` is one of:

    - the path of a CSV file ``session,trial,choice,reward`` (DESIGN §6), read as the command
      line reads ``data.choices.file``;
    - a dict of columns or a pandas-like table (anything with ``.columns`` and ``[name]``)
      with the columns ``choice`` (``A``/``B`` or ``0``/``1``) and ``reward`` (a number), and
      optionally ``session`` (default one session) and ``trial`` (default 1, 2, ... per
      session in row order); any array-likes, read with ``numpy.asarray``;
    - a list of such tables without ``session``, one per session (named 0, 1, ...).

    A table is written as the CSV text of that contract and parsed by the pipeline, so a bad
    one raises :class:`ConfigError` with the command line's message, naming ``<table>`` and
    its line (line 2 is the first row; the row is appended to the message).

    Options, as in a ``fit_behavior`` config (``experiments/choices_xr_numpy.yaml``), each
    passed as an override so a bad value gets the command line's message: ``terms`` the
    trainable Taylor terms (e.g. ``["1", "r", "x", "x*r"]``; all 81 when None), ``rule``
    (``taylor`` or ``mlp``), ``epochs``, ``lr`` and ``l1`` of Adam, ``cutoff`` the fraction
    of each session's trials fitted (the rest scored), ``held_out_sessions`` (the last ones,
    left out of the fit and scored), ``bootstrap`` refits over resampled sessions,
    ``reference`` a known rule to score beside the fit (``{"x*r": 1.0}``), ``seed`` (the
    synthesised odor inputs and initial weights), ``hidden`` units of the network (0: the
    paper's linear fly network), ``w0_std``, ``odor_scale`` and ``noise_std`` of the inputs;
    ``overrides`` any other ``key.path=value`` of the config (``network.eta=0.25``). The
    defaults are the config's (``epochs`` and ``cutoff``, required there, those of the
    shipped experiment).

    ``progress(done, total, "epochs")`` is called as epochs (and bootstrap refits, counted as
    their epochs) end; the GIL is released during the fit; Ctrl-C stops it between epochs
    and raises ``KeyboardInterrupt``. Same table, options and seed: the same bits, whatever
    the thread count. Raises :class:`RunError` when the fit fails.
    """
    if isinstance(overrides, str):
        raise TypeError("overrides must be a sequence of 'key.path=value' strings, not one string")
    config = {
        "name": "fit_choices",
        "kind": "fit_behavior",
        # Never read: the table comes from the caller.
        "data": {"choices": {"file": "<table>"}},
        "rule": {"kind": "taylor"},
        "fit": {"epochs": 1},
        "evaluation": {"cutoff": 0.5},
    }
    opts: List[Tuple[str, Any]] = [
        ("seed", seed),
        ("network.hidden", hidden),
        ("network.w0_std", w0_std),
        ("input.odor_scale", odor_scale),
        ("input.noise_std", noise_std),
        ("rule.kind", rule),
        ("fit.epochs", epochs),
        ("fit.lr", lr),
        ("fit.l1", l1),
        ("evaluation.cutoff", cutoff),
    ]
    if terms is not None:
        if isinstance(terms, str):
            raise TypeError("terms must be a sequence of term labels such as ['x*r'], not one string")
        opts.append(("rule.trainable", [str(t) for t in terms]))
    if held_out_sessions:
        opts.append(("evaluation.held_out_sessions", held_out_sessions))
    if bootstrap:
        opts.append(("evaluation.bootstrap", bootstrap))
    if reference is not None:
        opts.append(("data.choices.reference", {str(k): float(v) for k, v in reference.items()}))

    def value(v: Any) -> str:
        if isinstance(v, (np.integer, np.floating)):
            v = v.item()
        return json.dumps(v)

    ov = [f"{k}={value(v)}" for k, v in opts] + [str(o) for o in overrides]
    source: Dict[str, Any]
    origin: List[str] = []
    if isinstance(table, (str, os.PathLike)):
        source = {"path": os.fsdecode(table)}
    elif _is_table(table) or isinstance(table, (list, tuple)):
        text, origin = _csv(table)
        source = {"text": text, "name": "<table>"}
    else:
        raise TypeError(
            "table must be a CSV path, a dict of columns or a table, or a list of per-session "
            f"tables, not {type(table).__name__}"
        )
    try:
        r = _synplast.fit_choices(json.dumps(config, indent=2), ov, progress=progress, **source)
    except ConfigError as e:
        m = re.match(r"<table>:(\d+):", str(e))
        if m and 2 <= int(m.group(1)) < len(origin) + 2:
            raise ConfigError(f"{e} ({origin[int(m.group(1)) - 2]} of the table)") from None
        raise
    metrics = json.loads(r["metrics"])
    coef = metrics["coefficients"]
    boot = metrics.get("bootstrap") is not None
    eig = [float(v) for v in metrics["fisher_eigenvalues"]]
    cond = float("nan") if not eig else (eig[0] / eig[-1] if eig[-1] > 0 else float("inf"))
    null_nll = {
        "theta_zero": (_num(metrics["null_theta_zero"]["held_in_nll"]),
                       _num(metrics["null_theta_zero"]["held_out_nll"])),
        "bias_only": (_num(metrics["null_bias_only"]["held_in_nll"]),
                      _num(metrics["null_bias_only"]["held_out_nll"])),
    }
    if metrics.get("reference") is not None:
        null_nll["reference"] = (_num(metrics["reference"]["held_in_nll"]),
                                 _num(metrics["reference"]["held_out_nll"]))
    dw = metrics.get("dw_correlation_with_reference")
    return ChoiceFit(
        terms=[c["term"] for c in coef],
        coefficients=np.array([_num(c["estimate"]) for c in coef], dtype=np.float64),
        stderr=np.array([_num(c["se"]) for c in coef], dtype=np.float64),
        ci95=_pairs([c["ci95"] for c in coef]),
        meaningful=np.array([bool(c["meaningful"]) for c in coef], dtype=bool),
        bootstrap_ci95=_pairs([c["bootstrap_ci95"] for c in coef]) if boot else None,
        bootstrap_std=np.array([_num(c["bootstrap_std"]) for c in coef]) if boot else None,
        param_labels=list(r["param_labels"]),
        params=r["params"],
        identifiability={
            "fisher_eigenvalues": eig,
            "condition_number": cond,
            "not_meaningful": [c["term"] for c in coef if not c["meaningful"]],
        },
        held_in_nll=_num(metrics["fitted"]["held_in_nll"]),
        held_out_nll=_num(metrics["fitted"]["held_out_nll"]),
        null_nll=null_nll,
        percent_deviance_vs_theta_zero=_num(metrics["held_out_percent_deviance_vs_theta_zero"]),
        percent_deviance_vs_bias_only=_num(metrics["held_out_percent_deviance_vs_bias_only"]),
        aic=_num(metrics["aic"]),
        bic=_num(metrics["bic"]),
        bias_only_p_a=_num(metrics["bias_only_p_a"]),
        dw_correlation_with_reference=None if dw is None else float(dw),
        held_out_sessions=metrics.get("held_out_sessions"),
        trial_nll=list(r["trial_nll"]),
        null_trial_nll=list(r["null_trial_nll"]),
        bias_trial_nll=list(r["bias_trial_nll"]),
        reference_trial_nll=None if r["reference_trial_nll"] is None else list(r["reference_trial_nll"]),
        fitted_trials=[int(n) for n in r["fitted_trials"]],
        loss_history=r["loss_history"],
        skipped_steps=int(metrics["skipped_steps"]),
        reverted_epochs=int(metrics["reverted_epochs"]),
        metrics=metrics,
        summary=str(r["summary"]),
    )
