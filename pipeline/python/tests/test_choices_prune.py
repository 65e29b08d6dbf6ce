"""`synplast.fit_choices` and `synplast.prune` against the pipeline: a two-choice agent with the
rule `x*r` simulated here in plain numpy and recovered; the shipped choice table and a matrix
file give the numbers of the command line's runs; bad input raises with the command line's
messages."""
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import synplast
from _cli import cli_binary

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "choices_xr.csv"
BLOCKS = [(80, (0.2, 0.8)), (80, (0.9, 0.1)), (80, (0.2, 0.8))]


def cli_metrics(config, out, overrides=()):
    p = subprocess.run([str(cli_binary()), "run", str(config), "--quiet", "--out", str(out), *overrides],
                       cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    m = json.loads((Path(out) / "metrics.json").read_text())
    del m["config_hash"]
    return m, p.stdout


def simulate_agent(seed=4, sessions=12, theta=1.0, hidden=10):
    """The behaving network of docs/fit_behavior.md on the baited three-block task, in plain
    numpy (not synplast): h = tanh(W x), p = sigmoid(0.5 sum h) for each option, A chosen with
    p_A / (p_A + p_B), then W += 0.5 theta x_chosen r with r = R - mean of the last 10 rewards.
    Returns a dict of columns (session, trial, choice, reward)."""
    rng = np.random.default_rng(seed)
    cols = {"session": [], "trial": [], "choice": [], "reward": []}
    for s in range(sessions):
        w = rng.normal(0.0, 0.01, size=(hidden, 2))
        bait = [False, False]
        rewards = []
        trial = 0
        for n_trials, probs in BLOCKS:
            for _ in range(n_trials):
                trial += 1
                for o in range(2):
                    bait[o] = bait[o] or rng.random() < probs[o]
                x = np.array([[0.75, 0.0], [0.0, 0.75]]) + rng.normal(0.0, 0.05, size=(2, 2))
                p = 1.0 / (1.0 + np.exp(-(5.0 / hidden) * np.tanh(x @ w.T).sum(axis=1)))
                c = int(rng.random() >= p[0] / (p[0] + p[1]))
                reward = 1.0 if bait[c] else 0.0
                bait[c] = False
                r = reward - sum(rewards[-10:]) / 10.0
                rewards.append(reward)
                w = w + 0.5 * theta * x[c][None, :] * r
                cols["session"].append(f"agent{s}")
                cols["trial"].append(trial)
                cols["choice"].append("AB"[c])
                cols["reward"].append(reward)
    return {k: np.asarray(v) for k, v in cols.items()}


def test_fit_choices_recovers_the_rule_of_a_numpy_agent():
    table = simulate_agent()
    fit = synplast.fit_choices(table, ["x*r"], epochs=150, lr=0.01, seed=1,
                               reference={"x*r": 1.0})
    xr, se = fit.term("x*r"), fit.stderr[0]
    print(f"x*r alone: {xr:.4f} +- {se:.4f} (true 1); held-out -log P {fit.held_out_nll:.4f}, "
          f"true rule {fit.null_nll['reference'][1]:.4f}, theta = 0 {fit.null_nll['theta_zero'][1]:.4f}")
    assert fit.terms == ["x*r"] and fit.meaningful.all()
    # The fitted coefficient is a maximum-likelihood estimate on 12 x 168 choices: within 3
    # Fisher standard errors of the truth (and the standard error itself is below 0.1).
    assert se < 0.1 and abs(xr - 1.0) < 3 * se
    assert fit.ci95[0, 0] < 1.0 < fit.ci95[0, 1]
    # It predicts held-out choices as well as the true rule, far better than either null.
    assert abs(fit.held_out_nll - fit.null_nll["reference"][1]) < 0.01
    assert fit.held_out_nll < fit.null_nll["theta_zero"][1] - 0.15
    assert fit.held_out_nll < fit.null_nll["bias_only"][1] - 0.15

    four = synplast.fit_choices(table, ["1", "r", "x", "x*r"], epochs=300, lr=0.01, seed=1,
                                reference={"x*r": 1.0})
    # With the fly terms the coefficients trade off (README: a shallower optimum), but the
    # fitted dw follows the true one over the inputs that occur.
    corr = four.dw_correlation_with_reference
    print(f"four terms: {dict(zip(four.terms, np.round(four.coefficients, 4)))}, dw correlation {corr:.4f}")
    assert corr > 0.95
    assert four.percent_deviance_vs_theta_zero > 20


def test_fit_choices_reads_a_path_a_dict_a_table_and_a_list_of_sessions_alike(tmp_path):
    full = simulate_agent(sessions=3)
    keep = np.isin(full["trial"], np.arange(1, 61))  # 60 trials a session keep this quick
    table = {k: v[keep] for k, v in full.items()}
    path = tmp_path / "t.csv"
    with open(path, "w") as f:
        f.write("session,trial,choice,reward\n")
        for s, t, c, r in zip(*(table[k] for k in ("session", "trial", "choice", "reward"))):
            f.write(f"{s},{t},{c},{r:g}\n")

    class Frame:
        """Just enough of a pandas DataFrame: `.columns` and column access."""

        def __init__(self, d):
            self.d = d
            self.columns = list(d)

        def __getitem__(self, k):
            return list(self.d[k])

    sessions = []
    for name in ("agent0", "agent1", "agent2"):
        m = table["session"] == name
        sessions.append({"choice": (table["choice"][m] == "B").astype(int), "reward": table["reward"][m]})
    opts = dict(terms=["x*r"], epochs=20, lr=0.01, seed=3)
    fits = [synplast.fit_choices(t, **opts) for t in (path, str(path), table, Frame(table), sessions)]
    for f in fits[1:]:
        assert f.coefficients.tobytes() == fits[0].coefficients.tobytes()
        assert f.loss_history.tobytes() == fits[0].loss_history.tobytes()
    assert fits[0].fitted_trials == [42, 42, 42]
    assert [len(v) for v in fits[0].trial_nll] == [60, 60, 60]
    held_in = np.concatenate([v[:n] for v, n in zip(fits[0].trial_nll, fits[0].fitted_trials)])
    assert held_in.mean() == pytest.approx(fits[0].held_in_nll, rel=1e-12)
    # Deterministic: the same call, the same bits.
    again = synplast.fit_choices(table, **opts)
    assert again.metrics == fits[2].metrics


def test_fit_choices_gives_the_numbers_of_the_cli_run(tmp_path):
    """The shipped experiment and its table, with held-out sessions and a bootstrap (fewer
    epochs than shipped, so the debug command line runs it quickly)."""
    ov = ["fit.epochs=12", "evaluation.held_out_sessions=2", "evaluation.bootstrap=2"]
    cli, stdout = cli_metrics(ROOT / "experiments" / "choices_xr_numpy.yaml", tmp_path / "run", ov)
    fit = synplast.fit_choices(EXAMPLE, ["1", "r", "x", "x*r"], epochs=12, lr=0.01, seed=11,
                               held_out_sessions=2, bootstrap=2, reference={"x*r": 1.0})
    assert fit.metrics == {**cli, "experiment": "fit_choices"}
    assert stdout.startswith(fit.summary.replace("fit_choices:", "choices_xr_numpy:", 1))
    coef = cli["coefficients"]
    assert fit.coefficients.tolist() == [c["estimate"] for c in coef]
    nan = float("nan")
    se = np.array([nan if c["se"] is None else c["se"] for c in coef])
    assert np.array_equal(fit.stderr, se, equal_nan=True)  # None (not meaningful): NaN
    assert fit.meaningful.tolist() == [c["meaningful"] for c in coef]
    boot = np.array([c["bootstrap_ci95"] or [nan, nan] for c in coef])
    assert np.array_equal(fit.bootstrap_ci95, boot, equal_nan=True)
    assert fit.held_out_nll == cli["fitted"]["held_out_nll"]
    assert fit.null_nll["bias_only"] == (cli["null_bias_only"]["held_in_nll"], cli["null_bias_only"]["held_out_nll"])
    assert fit.held_out_sessions == cli["held_out_sessions"]
    assert fit.params.tolist() == cli["params"]
    assert fit.param_labels == cli["terms"]
    assert fit.identifiability["fisher_eigenvalues"] == cli["fisher_eigenvalues"]
    loss = np.loadtxt(tmp_path / "run" / "loss.csv", delimiter=",", skiprows=1, ndmin=2)[:, 1]
    assert np.array_equal(loss, fit.loss_history)


def test_fit_choices_progress_and_stopping_from_the_callback():
    table = simulate_agent(sessions=2)
    calls = []
    synplast.fit_choices(table, ["x*r"], epochs=30, bootstrap=2,
                         progress=lambda done, total, unit: calls.append((done, total, unit)))
    assert calls and calls[-1] == (90, 90, "epochs")
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))

    class Enough(Exception):
        pass

    def stop(done, total, unit):
        if done > 0:
            raise Enough()

    with pytest.raises(Enough):
        synplast.fit_choices(table, ["x*r"], epochs=1000000, progress=stop)


def bad_table(**change):
    t = {"session": ["s", "s", "s"], "trial": [1, 2, 3], "choice": ["A", "B", "A"], "reward": [1.0, 0.0, 1.0]}
    t.update(change)
    return t


@pytest.mark.parametrize("table, message", [
    (bad_table(choice=["A", "left", "B"]),
     r"^<table>:3: choice: unknown label `left`; expected A or B \(or 0 or 1\) \(row 1 of the table\)$"),
    (bad_table(reward=[1.0, np.nan, 0.0]), r"^<table>:3: reward: expected a number, got `nan` \(row 1 of the table\)$"),
    (bad_table(reward=["1", "", "0"]), r"^<table>:3: reward: expected a number, got `` \(row 1 of the table\)$"),
    (bad_table(trial=[1, 3, 2]), r"^<table>:4: trial: 2 does not follow trial 3 of session `s`; list each session's trials in order \(row 2 of the table\)$"),
    (bad_table(trial=[1.0, 2.0, 3.0]), r"^<table>:2: trial: expected a whole number, got `1.0` \(row 0 of the table\)$"),
    ({"choice": [], "reward": []}, r"^<table>: no trials \(only a header\)$"),
    (bad_table(odor=["A", "B", "A"]), r"^table: unknown column\(s\) 'odor'; a choice table has the columns session, trial, choice, reward$"),
    ({"choice": ["A"]}, r"^table: missing column `reward`$"),
    (bad_table(reward=[1.0, 0.0]), r"^table: the columns differ in length"),
    (bad_table(reward=np.zeros((3, 1))), r"^table: column `reward` has shape \(3, 1\); expected one value a row$"),
    ([{"choice": ["A"], "reward": [1.0]}, {"choice": ["C"], "reward": [0.0]}],
     r"^<table>:3: choice: unknown label `C`.* \(sessions\[1\] row 0 of the table\)$"),
])
def test_fit_choices_bad_tables_raise_with_the_cli_message(table, message):
    with pytest.raises(synplast.ConfigError, match=message):
        synplast.fit_choices(table, ["x*r"], epochs=1)


def test_fit_choices_bad_files_and_options_raise_as_the_cli(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("session,trial,odor,reward\ns,1,A,1\n")
    with pytest.raises(synplast.ConfigError) as e:
        synplast.fit_choices(bad, epochs=1)
    assert str(e.value) == f"{bad}:1: expected the header `session,trial,choice,reward`, got `session,trial,odor,reward`"
    p = subprocess.run([str(cli_binary()), "check", "experiments/choices_xr_numpy.yaml", f"data.choices.file={bad}"],
                       cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.strip().endswith(str(e.value))
    with pytest.raises(synplast.ConfigError, match=r"cannot read choice data"):
        synplast.fit_choices(tmp_path / "absent.csv")
    with pytest.raises(synplast.ConfigError, match=r"^<override `fit.epochs=0`>:1:1: fit.epochs: "):
        synplast.fit_choices(EXAMPLE, epochs=0)
    with pytest.raises(synplast.ConfigError, match=r"rule.trainable: unknown term `x\*q`"):
        synplast.fit_choices(EXAMPLE, ["x*q"])
    with pytest.raises(synplast.ConfigError, match=r"evaluation: choice data need evaluation.cutoff in \(0, 1\)"):
        synplast.fit_choices(EXAMPLE, cutoff=1.0)
    with pytest.raises(synplast.ConfigError, match=r"evaluation.held_out_sessions is 18 but the table has 18 sessions"):
        synplast.fit_choices(EXAMPLE, held_out_sessions=18)
    with pytest.raises(synplast.ConfigError, match=r"network.w_clp"):
        synplast.fit_choices(EXAMPLE, overrides=["network.w_clp=3"])
    with pytest.raises(TypeError, match="table must be"):
        synplast.fit_choices(3)


def sdd_matrix(n=20, seed=0):
    """A signed symmetric diagonally dominant matrix, in numpy."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n)) * (rng.random((n, n)) < 0.5)
    a = np.triu(a, 1)
    a = a + a.T
    np.fill_diagonal(a, -np.abs(a).sum(axis=1) - 0.5)
    return a


def test_prune_gives_the_numbers_and_matrices_of_the_cli_run(tmp_path):
    a = sdd_matrix()
    np.save(tmp_path / "a.npy", a)
    for name, prune_opts, kw in [
        ("fraction", "  target_fraction: 0.4\n", dict(target_fraction=0.4)),
        ("eps", "  eps: 1.5\n", dict(eps=1.5)),
    ]:
        cfg = tmp_path / f"{name}.yaml"
        cfg.write_text(
            f"name: p\nkind: prune\nseed: 9\nnetwork:\n  file: {tmp_path / 'a.npy'}\nsigma: 0.8\n"
            f"covariance:\n  method: estimated\n  dt: 0.01\n  steps: 4000\n  burn_in: 100\n"
            f"prune:\n{prune_opts}quad_vectors: 30\n")
        cli, _ = cli_metrics(cfg, tmp_path / name)
        for rule in synplast._prune.RULES:
            r = synplast.prune(a, 0.8, seed=9, rule=rule, quad_vectors=30,
                               dt=0.01 if rule == "noise_online" else None,
                               steps=4000 if rule == "noise_online" else None,
                               burn_in=100 if rule == "noise_online" else None, **kw)
            assert r.metrics[rule] == cli[rule], (name, rule)
            want = np.load(tmp_path / name / f"pruned_{rule}.npy")
            assert r.matrix.dtype == np.float64 and np.array_equal(r.matrix, want), (name, rule)
            assert r.fraction_kept == cli[rule]["fraction_kept"]
            assert r.eig_rel_err_max == cli[rule]["eig_rel_err_max"]
            assert r.target_expected_synapses == cli["target_expected_synapses"]
            assert (r.n, r.synapses) == (20, cli["synapses"])
            eig = np.loadtxt(tmp_path / name / "eigenvalues.csv", delimiter=",", skiprows=1)
            col = ["original", "noise", "weight", "uniform", "noise_online"].index(rule) + 1
            assert np.array_equal(r.eigenvalues, eig[:, col])
            assert np.array_equal(r.original_eigenvalues, eig[:, 1])
            if rule == "noise_online":
                assert r.covariance_rel_err_online == cli["covariance_rel_err_online"]
            if name == "eps" and rule == "noise":
                assert r.noise_within_eps == cli["noise_within_eps"]
        print(f"prune ({name}): noise kept {cli['noise']['fraction_kept']:.3f}, eig err max "
              f"noise {cli['noise']['eig_rel_err_max']:.4f}, weight {cli['weight']['eig_rel_err_max']:.4f}, "
              f"uniform {cli['uniform']['eig_rel_err_max']:.4f}")


def test_prune_directed_float32_and_read_only():
    a = sdd_matrix(n=12, seed=2)
    a[0, 5] += 0.3  # not symmetric
    r = synplast.prune(a, 1.0, target_fraction=0.5, mode="directed")
    assert r.eigenvalues.dtype == np.complex128 and r.matrix.shape == (12, 12)
    s = sdd_matrix(n=12, seed=2)
    s32 = s.astype(np.float32)
    s32.setflags(write=False)
    r32 = synplast.prune(s32, 1.0, target_fraction=0.5)
    r64 = synplast.prune(s32.astype(np.float64), 1.0, target_fraction=0.5)
    assert np.array_equal(r32.matrix, r64.matrix)
    # An infinite rho keeps every synapse: the matrix comes back unchanged.
    every = synplast.prune(s, 1.0, target_fraction=1.0)
    assert every.rho == float("inf") and np.array_equal(every.matrix, s)


def test_prune_ctrl_c_and_progress_during_the_online_covariance():
    import signal
    import threading
    import time

    a = sdd_matrix(n=10)
    calls = []
    synplast.prune(a, 1.0, target_fraction=0.5, rule="noise_online", dt=0.01, steps=2000,
                   progress=lambda *c: calls.append(c))
    assert calls[-1] == (101, 101, "steps")
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            synplast.prune(a, 1.0, target_fraction=0.5, rule="noise_online", dt=0.01, steps=100_000_000)
    finally:
        timer.cancel()
    assert time.monotonic() - t0 < 20


def test_prune_bad_matrices_and_options_raise_with_the_cli_message(tmp_path):
    a = sdd_matrix(n=6)
    cases = [
        (np.zeros((3, 4)), {}, r"^A: the matrix is 3 x 4; it must be square$"),
        (np.zeros(4), {}, r"^A: expected a 2-D array, got 1 dimensions$"),
        (a.astype(np.int64), {}, r"^A: unsupported dtype <i8; write float64 or float32$"),
        (np.asfortranarray(a + np.triu(np.ones((6, 6)), 1) * 0.1), {"mode": "directed"},
         r"^A: the array is not C-contiguous; pass numpy.ascontiguousarray\(A\)$"),
        (a.tolist(), {}, r"^A: expected a numpy array, got list$"),
        (np.where(np.eye(6) == 1, np.nan, a), {}, r"^A: entry \(0, 0\) is NaN; every entry must be finite$"),
        (a + np.triu(np.ones((6, 6)), 1) * 0.1, {},
         r"^A: the matrix is not symmetric; symmetric sampling needs A = A\^T \(set prune.mode: directed\)$"),
        (a + 10 * np.eye(6), {"eps": 0.5, "target_fraction": None}, r"^A: row 0 is not diagonally dominant"),
        (a, {"eps": 0.5}, r"prune: give exactly one of `target_fraction` or `eps`"),
        (a, {"target_fraction": None}, r"prune: give exactly one of `target_fraction` or `eps`"),
        (a, {"rule": "magnitude"}, r"^rule: unknown `magnitude`; expected noise, weight, uniform or noise_online$"),
        (a, {"sigma": -1.0}, r"^<override `sigma=-1.0`>:1:1: sigma: "),
        (a, {"dt": 0.01}, r"covariance: dt, steps and burn_in are for method: estimated"),
    ]
    for m, kw, message in cases:
        kw = {"target_fraction": 0.5, **kw}
        sigma = kw.pop("sigma", 1.0)
        with pytest.raises(synplast.ConfigError, match=message):
            synplast.prune(m, sigma, **kw)
    # The command line says the same of the same matrix in a file (its name in place of A).
    bad = a + np.triu(np.ones((6, 6)), 1) * 0.1
    np.save(tmp_path / "bad.npy", bad)
    cfg = tmp_path / "p.yaml"
    cfg.write_text(f"name: p\nkind: prune\nnetwork:\n  file: {tmp_path / 'bad.npy'}\nprune:\n  target_fraction: 0.5\n")
    p = subprocess.run([str(cli_binary()), "check", str(cfg)], capture_output=True, text=True)
    with pytest.raises(synplast.ConfigError) as e:
        synplast.prune(bad, 1.0, target_fraction=0.5)
    assert p.returncode == 2
    assert p.stderr.strip().endswith(str(e.value)[len("A: "):])
    # An unstable network has no stationary covariance: a failure of the run (RunError).
    with pytest.raises(synplast.RunError, match=r"-A is not positive definite"):
        synplast.prune(-a, 1.0, target_fraction=0.5)
