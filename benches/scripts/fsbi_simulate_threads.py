"""Wall time of `synplast.fsbi.simulate` on the same rules with 1 and 2 threads (issue 14).

    python benches/scripts/fsbi_simulate_threads.py [--rules 8] [--repeats 3]

Draws `--rules` rules from the paper's box prior (numpy, seed 0), simulates them in the default
network (`synplast.fsbi.NETWORK`: 512 E + 128 I, 10 s + 5 s) with one thread and with two,
alternating, `--repeats` times each, and prints every wall time, the median per thread count,
the ratio, and whether the metric arrays are bit-identical. Run it with nothing else on the
machine.
"""

import argparse
import statistics
import time

import numpy as np

import synplast


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rules", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    low, high = np.tile(synplast.fsbi.PRIOR_LOW, 4), np.tile(synplast.fsbi.PRIOR_HIGH, 4)
    params = low + (high - low) * rng.random((args.rules, 24))
    times = {1: [], 2: []}
    out = {}
    for _ in range(args.repeats):
        for threads in (1, 2):
            t0 = time.perf_counter()
            m = synplast.fsbi.simulate(params, seed=args.seed, threads=threads)
            times[threads].append(time.perf_counter() - t0)
            if threads in out:
                assert out[threads].tobytes() == m.tobytes(), "not reproducible"
            out[threads] = m
    same = out[1].tobytes() == out[2].tobytes()
    for threads, ts in times.items():
        print(f"threads={threads}: " + ", ".join(f"{t:.2f}" for t in ts)
              + f" s; median {statistics.median(ts):.2f} s")
    print(f"speed-up 2 threads / 1: {statistics.median(times[1]) / statistics.median(times[2]):.2f}x")
    print(f"identical metrics with 1 and 2 threads: {same}")
    m = out[1]
    print(f"plausible: {int(m[:, synplast.fsbi.METRICS.index('plausible')].sum())} of {args.rules}; "
          f"stopped by the rate checker: {int(m[:, synplast.fsbi.METRICS.index('aborted')].sum())}; "
          f"simulated seconds per rule: "
          + ", ".join(f"{s:g}" for s in m[:, synplast.fsbi.METRICS.index('simulated_s')]))
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
