#!/usr/bin/env python3
"""Write a two-choice data set that synplast did not produce: an agent with a known reward rule
on the baited three-block task, as a trial-level table `session,trial,choice,reward`.

The agent is the behaving network of docs/fit_behavior.md, written here in numpy from the
equations: inputs x_A = [0.75, 0] + noise, x_B = [0, 0.75] + noise (noise std 0.05), hidden
h = tanh(W x) with W 10 x 2 (initial W ~ N(0, 0.01^2)), accept probability
p = sigmoid(0.5 * sum(h)). Options are offered one at a time at random until one is accepted,
so A is chosen with probability p_A / (p_A + p_B). After the trial the chosen option's input
drives the rule: W <- W + 0.5 * theta * x_j * r with r = R - E[R], E[R] the mean of the
previous 10 rewards (zeros before that), i.e. the rule `x*r` with coefficient `theta`.
Rewards are baited: a reward assigned to an option waits until that option is chosen.

    python3 scripts/make_choices.py --out examples/choices_xr.csv --seed 7

Needs numpy only. The same seed gives the same file.
"""
import argparse

import numpy as np

BLOCKS = [(80, (0.2, 0.8)), (80, (0.9, 0.1)), (80, (0.2, 0.8))]


def session(rng, theta, hidden=10, scale=0.75, noise=0.05, eta=0.5, w0_std=0.01):
    w = rng.normal(0.0, w0_std, size=(hidden, 2))
    readout = 5.0 / hidden
    rewards = []
    bait = [False, False]
    rows = []
    trial = 0
    for n_trials, (p_a, p_b) in BLOCKS:
        for _ in range(n_trials):
            trial += 1
            for o, p in enumerate((p_a, p_b)):
                bait[o] = bait[o] or rng.random() < p
            x = np.array([[scale, 0.0], [0.0, scale]]) + rng.normal(0.0, noise, size=(2, 2))
            h = np.tanh(x @ w.T)  # 2 x hidden: option A, option B
            p_acc = 1.0 / (1.0 + np.exp(-readout * h.sum(axis=1)))
            chose_b = rng.random() >= p_acc[0] / (p_acc[0] + p_acc[1])
            c = int(chose_b)
            reward = 1.0 if bait[c] else 0.0
            bait[c] = False
            past = rewards[-10:]
            expected = sum(past) / 10.0
            r = reward - expected
            rewards.append(reward)
            w = w + eta * theta * x[c][None, :] * r
            rows.append((trial, "B" if chose_b else "A", reward))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--sessions", type=int, default=18)
    ap.add_argument("--theta", type=float, default=1.0, help="coefficient of the x*r rule")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    with open(a.out, "w") as f:
        f.write("session,trial,choice,reward\n")
        for s in range(a.sessions):
            for trial, choice, reward in session(rng, a.theta):
                f.write(f"s{s + 1:02d},{trial},{choice},{reward:g}\n")


if __name__ == "__main__":
    main()
