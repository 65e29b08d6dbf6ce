#!/usr/bin/env python3
"""Writes the bad recorded-activity files of this corpus (numpy only; run from this folder).
Each one breaks one rule of the recorded-activity contract (docs/data_contracts.md);
EXPECTED.tsv says what synplast must print for it. The choice tables (*.csv) are written by hand.
"""
import io
import zipfile

import numpy as np

rng = np.random.default_rng(0)


def good(sessions=2, steps=6, n_in=3, n_out=2):
    return (rng.normal(0, 0.5, (sessions, steps, n_in)),
            rng.uniform(0.2, 0.8, (sessions, steps, n_out)),
            rng.normal(0, 0.1, (sessions, n_out, n_in)))


def save(name, **arrays):
    np.savez(name, **arrays)


x, y, w0 = good()
save("x_two_dimensional.npz", x=x[0], y=y)
xn = x.copy(); xn[1, 4, 2] = np.nan
save("nan_in_x.npz", x=xn, y=y)
save("session_counts_differ.npz", x=good(sessions=3)[0], y=y)
save("step_counts_differ.npz", x=good(steps=5)[0], y=y)
ye = y.copy(); ye[1] = np.nan
save("empty_session.npz", x=x, y=ye)
yi = y.copy(); yi[0, 2, 1] = np.inf
save("infinite_y.npz", x=x, y=yi)
save("arrays_misnamed.npz", X=x, Y=y)
save("w0_wrong_shape.npz", x=x, y=y, w0=w0[:, :, :2])
save("integer_x.npz", x=np.ones((2, 6, 3), dtype=np.int64), y=y)
save("no_steps.npz", x=x[:, :0], y=y[:, :0])
buf = io.BytesIO()
np.savez(buf, x=x, y=y)
open("truncated.npz", "wb").write(buf.getvalue()[: len(buf.getvalue()) // 2])
open("not_an_archive.npz", "w").write("session,trial,choice,reward\n")
