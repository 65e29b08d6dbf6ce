#!/usr/bin/env python3
"""Write a recorded-activity data set that synplast did not produce: a plastic rate layer under
Oja's rule, from random initial weights, as the `.npz` archive of the recorded-activity contract
(docs/data_contracts.md): `x` [sessions, T, n_in], `y` [sessions, T, n_out] and `w0`
[sessions, n_out, n_in].

The layer is written here in numpy from the equations of docs/fit_rate.md: inputs
x_t ~ N(0, s^2), activity y_t = sigmoid(W_t x_t) with W_t the weights before the t-th update,
then W_{t+1} = W_t + eta * (x_t y_t - y_t^2 W_t) elementwise (Oja's rule, theta[1][1][0] = 1,
theta[0][2][1] = -1), W_0 ~ N(0, (1 / (n_in + n_out))^2) per session. The recording is what a
microscope would give: y_obs = gain * y + offset + N(0, noise^2), with one gain and offset per
neuron (`--affine`; gain 1 and offset 0 otherwise), and a fraction `--missing` of the samples
replaced by NaN (not observed). The archive also holds the true `gain` and `offset` [n_out],
for checking a fit (synplast ignores arrays it does not use).

    python3 scripts/make_recordings.py --out examples/recordings_oja.npz --seed 11
    python3 scripts/make_recordings.py --out examples/recordings_oja_dff.npz --seed 12 --affine

Needs numpy only. The same arguments give the same file.
"""
import argparse

import numpy as np


def sigmoid(u):
    return 1.0 / (1.0 + np.exp(-u))


def session(rng, n_in, n_out, steps, s, eta):
    w = rng.normal(0.0, 1.0 / (n_in + n_out), size=(n_out, n_in))
    w0 = w.copy()
    x = rng.normal(0.0, s, size=(steps, n_in))
    y = np.empty((steps, n_out))
    for t in range(steps):
        yt = sigmoid(w @ x[t])
        y[t] = yt
        w = w + eta * (np.outer(yt, x[t]) - (yt**2)[:, None] * w)
    return x, y, w0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--n-in", type=int, default=10)
    ap.add_argument("--n-out", type=int, default=8)
    ap.add_argument("--input-std", type=float, default=0.5)
    ap.add_argument("--eta", type=float, default=1.0)
    ap.add_argument("--noise", type=float, default=0.002)
    ap.add_argument("--missing", type=float, default=0.05)
    ap.add_argument("--affine", action="store_true", help="per-neuron gain in [0.5, 2] and offset in [-0.5, 0.5]")
    ap.add_argument("--float32", action="store_true", help="write float32 arrays")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    xs, ys, w0s = [], [], []
    for _ in range(a.sessions):
        x, y, w0 = session(rng, a.n_in, a.n_out, a.steps, a.input_std, a.eta)
        xs.append(x)
        ys.append(y)
        w0s.append(w0)
    x, y, w0 = np.stack(xs), np.stack(ys), np.stack(w0s)
    if a.affine:
        gain = rng.uniform(0.5, 2.0, size=a.n_out)
        offset = rng.uniform(-0.5, 0.5, size=a.n_out)
    else:
        gain, offset = np.ones(a.n_out), np.zeros(a.n_out)
    y = gain * y + offset + rng.normal(0.0, a.noise, size=y.shape)
    y[rng.random(y.shape) < a.missing] = np.nan
    dtype = np.float32 if a.float32 else np.float64
    # gain and offset are the truth for checking a fit; synplast reads x, y and w0 only.
    np.savez_compressed(a.out, x=x.astype(dtype), y=y.astype(dtype), w0=w0.astype(dtype),
                        gain=gain, offset=offset)
    print(f"{a.out}: x {x.shape}, y {y.shape} ({np.isnan(y).mean():.1%} missing), w0 {w0.shape}")


if __name__ == "__main__":
    main()
