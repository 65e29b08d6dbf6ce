"""The Python package against the pipeline: Oja's rule simulated here in numpy and recovered by
`synplast.fit_rate`, `synplast.run` against the command line's bytes, and bad input raising
with the command line's messages."""
import json
import re
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import synplast
from _cli import cli_binary

ROOT = Path(__file__).resolve().parents[3]
OJA_XY, OJA_YYW = 12, 7  # flat index 9a+3b+c of x*y (a=1,b=1,c=0) and y^2*w (a=0,b=2,c=1)


def simulate_oja(seed=3, sessions=8, steps=200, n_in=10, n_out=8, s=0.5, eta=1.0):
    """A plastic rate layer under Oja's rule, in plain numpy (not synplast):
    y_t = sigmoid(W_t x_t), W_{t+1} = W_t + eta (x_t y_t - y_t^2 W_t) elementwise."""
    rng = np.random.default_rng(seed)
    xs, ys, w0s = [], [], []
    for _ in range(sessions):
        w = rng.normal(0.0, 1.0 / (n_in + n_out), size=(n_out, n_in))
        w0s.append(w.copy())
        x = rng.normal(0.0, s, size=(steps, n_in))
        y = np.empty((steps, n_out))
        for t in range(steps):
            yt = 1.0 / (1.0 + np.exp(-(w @ x[t])))
            y[t] = yt
            w = w + eta * (np.outer(yt, x[t]) - (yt**2)[:, None] * w)
        xs.append(x)
        ys.append(y)
    return np.stack(xs), np.stack(ys), np.stack(w0s)


def test_kinds_lists_fit_rate():
    names = [n for n, _ in synplast.kinds()]
    assert "fit_rate" in names
    assert all(isinstance(a, str) and a for _, a in synplast.kinds())


def test_version_is_the_workspace_version():
    text = (ROOT / "Cargo.toml").read_text()
    ws = text.split("[workspace.package]")[1]
    version = ws.split('version = "')[1].split('"')[0]
    assert synplast.__version__ == version


def test_fit_rate_recovers_oja_simulated_in_numpy():
    x, y, w0 = simulate_oja()
    fit = synplast.fit_rate(x, y, w0, epochs=200, lr=0.01, refine_iterations=100)
    target = np.zeros(27)
    target[OJA_XY], target[OJA_YYW] = 1.0, -1.0
    err = np.abs(fit.theta - target).max()
    print(f"Oja recovery: max |theta - target| = {err:.2e}, x*y = {fit.term('x*y'):.6f}, "
          f"y^2*w = {fit.term('y^2*w'):.6f}")
    assert fit.theta.dtype == np.float64 and fit.theta.shape == (27,)
    assert fit.terms[OJA_XY] == "x*y" and fit.terms[OJA_YYW] == "y^2*w"
    assert err < 0.05
    assert fit.stderr.shape == (27,)
    assert fit.loss_history.ndim == 1 and fit.loss_history[-1] < fit.loss_history[0]
    assert fit.identifiability["terms"] == fit.terms
    assert "condition_number" in fit.identifiability


def test_fit_rate_recovers_oja_from_noisy_gappy_recordings():
    """As a microscope would give it: noise 0.002 and 5% of the samples missing (NaN)."""
    x, y, w0 = simulate_oja(seed=5)
    rng = np.random.default_rng(6)
    y = y + rng.normal(0.0, 0.002, size=y.shape)
    y[rng.random(y.shape) < 0.05] = np.nan
    fit = synplast.fit_rate(x, y, w0, epochs=200, lr=0.01, refine_iterations=100, cutoff=0.7)
    target = np.zeros(27)
    target[OJA_XY], target[OJA_YYW] = 1.0, -1.0
    err = np.abs(fit.theta - target).max()
    print(f"Oja recovery (noise 0.002, 5% NaN): max |theta - target| = {err:.2e}, "
          f"x*y = {fit.term('x*y'):.4f} +- {fit.stderr[OJA_XY]:.4f}, "
          f"y^2*w = {fit.term('y^2*w'):.4f} +- {fit.stderr[OJA_YYW]:.4f}")
    assert err < 0.05
    assert np.isfinite(fit.stderr).all()


def test_fit_rate_float32_and_a_subset_of_terms_by_label_or_mask():
    x, y, w0 = simulate_oja(sessions=2, steps=50)
    fit = synplast.fit_rate(x.astype(np.float32), y.astype(np.float32), w0,
                            terms=["x*y", "y^2*w"], epochs=5, refine_iterations=0)
    others = [k for k in range(27) if k not in (OJA_XY, OJA_YYW)]
    assert np.all(fit.theta[others] == 0.0)
    assert np.all(np.isnan(fit.stderr[others]))
    assert len(fit.identifiability["terms"]) == 2
    # The same terms as the coeff_mask of Mehta et al.'s code: [a, b, c] of x^a y^b w^c.
    mask = np.zeros((3, 3, 3), dtype=bool)
    mask[1, 1, 0] = mask[0, 2, 1] = True
    by_mask = synplast.fit_rate(x.astype(np.float32), y.astype(np.float32), w0, mask=mask,
                                epochs=5, refine_iterations=0)
    assert by_mask.theta.tobytes() == fit.theta.tobytes()
    flat = synplast.fit_rate(x, y, w0, mask=mask.reshape(27), epochs=5, refine_iterations=0)
    assert np.flatnonzero(flat.theta).tolist() == [OJA_YYW, OJA_XY]
    assert synplast.TERMS[OJA_XY] == "x*y" and len(synplast.TERMS) == 27
    with pytest.raises(synplast.ConfigError, match=r"^give terms \(labels\) or mask \(booleans\), not both$"):
        synplast.fit_rate(x, y, w0, terms=["x*y"], mask=mask)
    with pytest.raises(synplast.ConfigError, match=r"^mask: expected shape \(3, 3, 3\)"):
        synplast.fit_rate(x, y, w0, mask=np.ones(26, dtype=bool))
    with pytest.raises(synplast.ConfigError, match=r"^mask: expected booleans, got dtype float64$"):
        synplast.fit_rate(x, y, w0, mask=np.ones(27))


def test_read_only_arrays_are_read():
    """Nothing is written into the caller's arrays, so read-only ones (a memory-mapped
    `numpy.load(..., mmap_mode="r")`) are accepted and give the same fit."""
    x, y, w0 = simulate_oja(sessions=2, steps=40)
    a = synplast.fit_rate(x, y, w0, epochs=5, refine_iterations=0)
    for arr in (x, y, w0):
        arr.setflags(write=False)
    b = synplast.fit_rate(x, y, w0, epochs=5, refine_iterations=0)
    assert a.theta.tobytes() == b.theta.tobytes()
    ys, _ = synplast.simulate_rate(a.theta, x, w0)
    assert np.isfinite(ys).all()


def test_progress_callback_and_stopping_from_it():
    x, y, w0 = simulate_oja(sessions=4, steps=200)
    calls = []
    synplast.fit_rate(x, y, w0, epochs=300, refine_iterations=0,
                      progress=lambda done, total, unit: calls.append((done, total, unit)))
    assert calls, "the callback was never called"
    assert calls[-1] == (300, 300, "epochs")
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))

    class Enough(Exception):
        pass

    def stop(done, total, unit):
        if done > 0:
            raise Enough(f"{done}/{total}")

    with pytest.raises(Enough):
        synplast.fit_rate(x, y, w0, epochs=100000, refine_iterations=0, progress=stop)


def test_ctrl_c_stops_a_long_fit():
    import signal
    import threading
    import time

    x, y, w0 = simulate_oja(sessions=4, steps=200)
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            synplast.fit_rate(x, y, w0, epochs=100000, refine_iterations=0)
    finally:
        timer.cancel()
    # 100000 epochs would take minutes; the stop comes at the next epoch.
    assert time.monotonic() - t0 < 20


def test_fit_rate_is_deterministic():
    x, y, w0 = simulate_oja(sessions=2, steps=40)
    a = synplast.fit_rate(x, y, w0, epochs=10, refine_iterations=5)
    b = synplast.fit_rate(x, y, w0, epochs=10, refine_iterations=5)
    assert a.theta.tobytes() == b.theta.tobytes()


def test_fit_rate_bad_arrays_raise_value_error_with_the_cli_message():
    x, y, w0 = simulate_oja(sessions=2, steps=10)
    with pytest.raises(ValueError, match=r"^x and y: `x` must have 3 dimensions \[sessions, T, n_in\], got shape \(2, 10\)$"):
        synplast.fit_rate(np.ascontiguousarray(x[:, :, 0]), y)
    with pytest.raises(synplast.ConfigError, match=r"^x: unsupported dtype <i8; write float64 or float32$"):
        synplast.fit_rate(x.astype(np.int64), y)
    bad = x.copy()
    bad[1, 3, 2] = np.nan
    with pytest.raises(ValueError, match=r"^x and y: `x` must be finite: x\[1, 3, 2\] = NaN \(a missing input cannot be skipped; drop or fill the step\)$"):
        synplast.fit_rate(bad, y)
    with pytest.raises(ValueError, match=r"^x: the array is not C-contiguous; pass numpy.ascontiguousarray\(x\)$"):
        synplast.fit_rate(x[:, ::2, :], y)
    with pytest.raises(ValueError, match=r"^x and y: `x` has 10 steps per session but `y` has 5"):
        synplast.fit_rate(x, np.ascontiguousarray(y[:, :5]))
    with pytest.raises(ValueError, match=r"^x and y: `w0` must have shape \[sessions, n_out, n_in\] = \(2, 8, 10\), got \(2, 10, 8\)$"):
        synplast.fit_rate(x, y, np.ascontiguousarray(w0.transpose(0, 2, 1)))
    allnan = y.copy()
    allnan[0] = np.nan
    with pytest.raises(ValueError, match=r"^x and y: session 0 of `y` has no observed sample \(all NaN\): remove it$"):
        synplast.fit_rate(x, allnan)
    with pytest.raises(ValueError, match=r"^x: expected a numpy array, got list$"):
        synplast.fit_rate([[[0.0]]], y)


def test_fit_rate_bad_options_raise_config_error():
    x, y, w0 = simulate_oja(sessions=2, steps=10)
    with pytest.raises(synplast.ConfigError, match=r"^<override `fit.epochs=0`>:1:1: fit.epochs: "):
        synplast.fit_rate(x, y, w0, epochs=0)
    with pytest.raises(synplast.ConfigError, match=r"student.trainable"):
        synplast.fit_rate(x, y, w0, terms=["x*q"])
    with pytest.raises(synplast.ConfigError, match=r"evaluation.cutoff"):
        synplast.fit_rate(x, y, w0, cutoff=1.5)


def test_check_path_and_dict():
    os.chdir(ROOT)
    assert synplast.check("experiments/oja_recovery.yaml") == ("fit_rate", "oja_recovery")
    with pytest.raises(synplast.ConfigError) as e:
        synplast.check({"kind": "fit_rate", "name": "a"})
    assert str(e.value) == "<dict>:3:3: student: missing field `student`"
    with pytest.raises(synplast.ConfigError, match=r"^<dict>:\d+:\d+: kind: unknown experiment kind `nope`"):
        synplast.check({"kind": "nope", "name": "a"})
    with pytest.raises(synplast.ConfigError, match=r"^no/such.yaml"):
        synplast.check("no/such.yaml")
    with pytest.raises(TypeError):
        synplast.check(3)


def test_check_reports_bad_data_files_as_the_cli(tmp_path):
    os.chdir(ROOT)
    bad = tmp_path / "x.npy"
    np.save(bad, np.zeros((2, 3), dtype=np.int32))
    with pytest.raises(synplast.ConfigError) as e:
        synplast.check("experiments/oja_from_recordings.yaml",
                       overrides=["data.recorded.file=", f"data.recorded.x={bad}", f"data.recorded.y={bad}"])
    cli = subprocess.run([str(cli_binary()), "check", "experiments/oja_from_recordings.yaml",
                          "data.recorded.file=", f"data.recorded.x={bad}", f"data.recorded.y={bad}"],
                         capture_output=True, text=True)
    assert cli.returncode == 2
    assert cli.stderr.strip() == str(e.value)
    assert "unsupported dtype" in str(e.value)


def test_run_gives_the_cli_bytes(tmp_path):
    os.chdir(ROOT)
    cfg, ov = "experiments/oja_from_recordings.yaml", ["evaluation.bootstrap=0", "fit.epochs=30",
                                                      "fit.refine_iterations=5"]
    r = synplast.run(cfg, out=tmp_path / "py", overrides=ov)
    assert r.status == "ok" and r.error is None
    assert Path(r.dir) == tmp_path / "py"
    subprocess.run([str(cli_binary()), "run", cfg, "--quiet", "--out", str(tmp_path / "cli"), *ov],
                   check=True, capture_output=True)
    py_bytes = (tmp_path / "py" / "metrics.json").read_bytes()
    assert py_bytes == (tmp_path / "cli" / "metrics.json").read_bytes()
    assert r.metrics == json.loads(py_bytes)
    for name in sorted(os.listdir(tmp_path / "cli")):
        if name != "meta.json":
            assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    meta = json.loads((tmp_path / "py" / "meta.json").read_text())
    assert meta["config_hash"] == r.metrics["config_hash"]
    # A dict with the same content gives the same config hash and metrics.
    with pytest.raises(synplast.ConfigError, match="refusing to overwrite"):
        synplast.run(cfg, out=tmp_path / "py", overrides=ov)
    again = synplast.run(cfg, out=tmp_path / "py", overrides=ov, force=True)
    assert (Path(again.dir) / "metrics.json").read_bytes() == py_bytes


def test_run_bad_config_raises_and_writes_nothing(tmp_path):
    os.chdir(ROOT)
    with pytest.raises(synplast.ConfigError, match=r"fit.epochs"):
        synplast.run("experiments/oja_from_recordings.yaml", out=tmp_path / "r",
                     overrides=["fit.epochs=-1"])
    assert not (tmp_path / "r").exists()


def test_simulate_rate_matches_numpy_oja_and_rejects_bad_arrays():
    x, y, w0 = simulate_oja(sessions=2, steps=30, n_in=4, n_out=3)
    theta = np.zeros(27)
    theta[12], theta[7] = 1.0, -1.0  # x*y, y^2*w
    ys, ws = synplast.simulate_rate(theta, x, w0)
    assert ys.shape == (2, 30, 3) and ws.shape == (2, 31, 3, 4)
    np.testing.assert_allclose(ys, y, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ws[:, 0], w0)
    # The same from float32 inputs (converted exactly) and from a list for theta.
    ys32, _ = synplast.simulate_rate(list(theta), x.astype(np.float32), w0.astype(np.float32))
    assert ys32.dtype == np.float64 and np.all(np.isfinite(ys32))
    for args, message in [
        ((np.zeros(26), x, w0), "theta: expected shape (27,)"),
        ((theta, x[0], w0), "x must be [sessions, T, n_in]"),
        ((theta, x, w0[:1]), "w0 must be [sessions, n_out, n_in]"),
        ((theta, np.where(np.arange(4) == 1, np.nan, x), w0), "x must be finite"),
        ((theta, x[:, :, ::2], w0[:, :, :2]), "not C-contiguous"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            synplast.simulate_rate(*args)
    blow_up = np.zeros(27)
    blow_up[2] = 50.0  # w^2: the weights diverge
    with pytest.raises(synplast.RunError, match="session 0"):
        synplast.simulate_rate(blow_up, x, w0 + 1.0)


def test_run_stopped_mid_way_resumes_to_the_bytes_of_a_run_in_one_go(tmp_path, capsys):
    """A stop (here from the progress callback; Ctrl-C works the same) leaves the run
    directory `interrupted`; `resume=True` finishes it with the bytes of an uninterrupted run."""
    os.chdir(ROOT)
    cfg = "experiments/oja_from_recordings.yaml"
    ov = ["evaluation.bootstrap=4", "fit.epochs=40", "fit.refine_iterations=5"]

    class Stop(Exception):
        pass

    def stop_half_way(done, total, unit):
        if done >= total // 2:
            raise Stop()

    with pytest.raises(Stop):
        synplast.run(cfg, out=tmp_path / "a", overrides=ov, progress=stop_half_way)
    meta = json.loads((tmp_path / "a" / "meta.json").read_text())
    assert meta["status"] == "interrupted"
    resumed = synplast.run(cfg, out=tmp_path / "a", overrides=ov, resume=True, quiet=False)
    assert resumed.status == "ok"
    printed = capsys.readouterr().out
    assert resumed.summary and printed.startswith(resumed.summary)
    assert f"run directory: {tmp_path / 'a'}" in printed
    whole = synplast.run(cfg, out=tmp_path / "b", overrides=ov, threads=1)
    assert capsys.readouterr().out == ""  # quiet=True prints nothing
    files = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert Path("bootstrap") in {f.parent for f in files}
    for f in files:
        if f.name != "meta.json":
            assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


SMALL_NET = dict(n_exc=64, n_inh=16, inputs=400, input_p=0.1, learn_s=1, score_s=1)


def prior_draws(n, seed):
    rng = np.random.default_rng(seed)
    low = np.tile(synplast.fsbi.PRIOR_LOW, 4)
    high = np.tile(synplast.fsbi.PRIOR_HIGH, 4)
    return low + (high - low) * rng.random((n, 24))


def test_fsbi_simulate_is_the_same_with_one_thread_and_two():
    params = prior_draws(2, seed=1)
    one = synplast.fsbi.simulate(params, seed=5, threads=1, **SMALL_NET)
    two = synplast.fsbi.simulate(params, seed=5, threads=2, **SMALL_NET)
    assert one.shape == (2, len(synplast.fsbi.METRICS)) and one.dtype == np.float64
    assert one.tobytes() == two.tobytes()
    assert synplast.fsbi.PARAMS[0] == "ee_tau_pre" and len(synplast.fsbi.PARAMS) == 24
    assert synplast.fsbi.METRICS[16] == "plausible" and len(synplast.fsbi.METRICS) == 36
    assert synplast.fsbi.METRICS[17:19] == ("paper_rate", "paper_rate_i")
    # Another seed is another network realisation.
    assert synplast.fsbi.simulate(params, seed=6, threads=1, **SMALL_NET).tobytes() != one.tobytes()
    # Only the plastic types' columns, in their order, give the same as the full 24 with zeros.
    ie = params[:, 12:18]
    full = np.zeros_like(params)
    full[:, 12:18] = ie
    a = synplast.fsbi.simulate(ie, seed=5, types=["ie"], threads=1, **SMALL_NET)
    b = synplast.fsbi.simulate(full, seed=5, types=["ie"], threads=1, **SMALL_NET)
    assert a.tobytes() == b.tobytes()


def test_fsbi_simulate_reproduces_a_rule_filter_run(tmp_path):
    os.chdir(ROOT)
    ov = ["rules=2"] + [f"network.{k}={v}" for k, v in SMALL_NET.items()]
    r = synplast.run("experiments/rule_filter_small.yaml", out=tmp_path / "rf", overrides=ov)
    assert r.status == "ok"
    params = np.load(tmp_path / "rf" / "params.npy")
    m = synplast.fsbi.simulate(params, seed=r.metrics["seed"], **SMALL_NET)
    header = (tmp_path / "rf" / "rules.csv").read_text().splitlines()[0].split(",")
    rows = np.loadtxt(tmp_path / "rf" / "rules.csv", delimiter=",", skiprows=1, ndmin=2)
    for name in ["rate_exc", "rate_inh", "cv_isi", "fano_spatial", "autocov", "creep",
                 "paper_rate", "paper_auto_cov", "paper_w_creep", "paper_weef"]:
        np.testing.assert_array_equal(m[:, synplast.fsbi.METRICS.index(name)],
                                      rows[:, header.index(name)], err_msg=name)
    plausible = m[:, synplast.fsbi.METRICS.index("plausible")]
    np.testing.assert_array_equal(plausible, rows[:, header.index("accepted")])
    # The paper's definition decides by default.
    np.testing.assert_array_equal(plausible, m[:, synplast.fsbi.METRICS.index("paper_plausible")])


def test_rule_filter_runs_candidates_written_by_numpy(tmp_path):
    # Posterior samples from elsewhere (here: numpy draws saved with np.save, float32) as a
    # round's candidates; params.npy and metrics.npy come back row for row, and each row's
    # metrics are those fsbi.simulate gives the same parameters under the same seed.
    os.chdir(ROOT)
    cand = prior_draws(3, seed=4).astype(np.float32)
    np.save(tmp_path / "samples.npy", cand)
    text = (ROOT / "experiments" / "rule_filter_small.yaml").read_text()
    assert "rules: 64\n" in text
    text = text.replace(
        "rules: 64\n",
        f"rounds:\n  - candidates: {{file: {tmp_path / 'samples.npy'}}}\n    require: [rate, rate_i]\n")
    (tmp_path / "c.yaml").write_text(text)
    ov = [f"network.{k}={v}" for k, v in SMALL_NET.items()]
    r = synplast.run(str(tmp_path / "c.yaml"), out=tmp_path / "rf", overrides=ov)
    assert r.status == "ok"
    params = np.load(tmp_path / "rf" / "params.npy")
    metrics = np.load(tmp_path / "rf" / "metrics.npy")
    assert params.dtype == np.float64 and params.shape == (3, 24)
    np.testing.assert_array_equal(params, cand.astype(np.float64))
    names = json.loads((tmp_path / "rf" / "metrics.json").read_text())["metric_names"]
    assert names == list(synplast.fsbi.METRICS) and metrics.shape == (3, len(names))
    again = synplast.fsbi.simulate(params, seed=r.metrics["seed"], threads=1, **SMALL_NET)
    np.testing.assert_array_equal(metrics, again)


def test_fsbi_simulate_bad_input_raises_with_the_message():
    params = prior_draws(1, seed=2)
    cases = [
        ((np.zeros((2, 23)),), {}, r"^params: expected shape \(n, 24\) \(all four types\) or \(n, 24\)"),
        ((np.where(np.arange(24) == 3, np.nan, params),), {}, r"^params\[0\], column 3 \(ee_beta\): must be finite, got NaN$"),
        ((np.where(np.arange(24) == 7, -0.01, params),), {}, r"^params\[0\], column 7 \(ei_tau_post\): is -0.01; time constants \(s\) must be > 0$"),
        ((params,), {"types": ["ee"]}, r"^params\[0\], column 6 \(ei_tau_pre\): is .* but ei is static here \(types: ee\)"),
        ((params,), {"nexc": 10}, r"^fsbi.simulate: nexc: unknown field `nexc`, expected one of n_exc, n_inh, "),
        ((params,), {"n_exc": -3}, r"^fsbi.simulate: n_exc: "),
        ((params,), {"types": ["eee"]}, r"^fsbi.simulate: types"),
        ((params,), {"threads": 0}, r"^threads must be a positive integer or None, got 0$"),
    ]
    for args, kw, message in cases:
        with pytest.raises(synplast.ConfigError, match=message):
            synplast.fsbi.simulate(*args, **{**SMALL_NET, **kw})
    assert synplast.fsbi.simulate(np.zeros((0, 24))).shape == (0, len(synplast.fsbi.METRICS))
