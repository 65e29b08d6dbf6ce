"""Sequential neural posterior estimation over the doublet rule family of Confavreux et al. 2023,
with `synplast.fsbi.simulate` as the simulator of the `sbi` package (truncated sequential NPE:
each round's proposal is the prior restricted to the current posterior's highest-density region
at x_o, as sbi recommends when a posterior leaks out of a box prior).

The prior is the paper's box over the 24 parameters (four connection types, six each: tau_pre,
tau_post in [0.01, 0.1] s; alpha, beta, gamma, kappa in [-2, 2]). A rule's summary is eight of its
plausibility metrics; the observation x_o is a plausible network state chosen inside every
constraint (rates 10 Hz, CV of inter-spike intervals 1, Fano factors 1, no autocovariance, no
saturation, no drift of the mean weights). Each round simulates rules drawn from the current
proposal (the prior first, then the prior truncated to the posterior's 1 - 1e-4 highest-density
region at x_o), trains the posterior on all rounds' simulations, and the last posterior's
samples (restricted to the prior) are simulated once more to count how many are plausible,
against the same count for rules from the prior.

Needs `sbi` (and with it torch): `pip install sbi`, then from the repository root:

    python pipeline/python/examples/sbi_doublet_npe.py --rounds 2 --sims 100

`--small` uses a network of 128 E + 32 I neurons for a quick try. A rule of the default network
(512 E + 128 I, 10 s + 5 s) takes about 2 s of one core; the simulator uses every core
(`--threads`). Rules whose rates ran away are stopped by the rate checker and give NaN
statistics, replaced by a value far outside every plausible range (multi-round NPE needs a
number); they are counted in the output.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

import synplast

STATS = ["rate_exc", "rate_inh", "cv_isi", "fano_spatial", "fano_temporal", "autocov",
         "saturation", "creep"]
X_O = np.array([np.log10(10.0), np.log10(10.0), 1.0, 1.0, 1.0, 0.0, 0.0, 0.0])


INVALID = 5.0
"""Stands in for a statistic a rule does not define (no spikes, a run the rate checker stopped):
far outside the plausible range of every statistic, as sbi asks for multi-round NPE."""


def summaries(metrics: np.ndarray) -> np.ndarray:
    """The eight statistics of each rule, rates on a log10 scale; a silent population's rate
    is -2 (0.01 Hz) and any other undefined statistic is INVALID."""
    cols = [synplast.fsbi.METRICS.index(s) for s in STATS]
    x = metrics[:, cols].copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        x[:, :2] = np.log10(x[:, :2])
    x[:, :2][np.isneginf(x[:, :2])] = -2.0
    x[~np.isfinite(x)] = INVALID
    return x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--sims", type=int, default=100, help="simulations per round")
    ap.add_argument("--check", type=int, default=20, help="posterior samples simulated at the end")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--logs", default=None, help="sbi's tensorboard logs (default: a temp dir)")
    ap.add_argument("--small", action="store_true", help="128 E + 32 I neurons, 1000 inputs")
    args = ap.parse_args()

    import torch
    from sbi.inference import NPE
    from sbi.utils import BoxUniform, RestrictedPrior, get_density_thresholder

    torch.manual_seed(args.seed)
    net = dict(n_exc=128, n_inh=32, inputs=1000, input_p=0.25) if args.small else {}
    low = torch.tensor(np.tile(synplast.fsbi.PRIOR_LOW, 4), dtype=torch.float32)
    high = torch.tensor(np.tile(synplast.fsbi.PRIOR_HIGH, 4), dtype=torch.float32)
    prior = BoxUniform(low=low, high=high)
    x_o = torch.tensor(X_O, dtype=torch.float32)

    def simulator(theta: torch.Tensor, seed: int) -> torch.Tensor:
        t0 = time.monotonic()
        m = synplast.fsbi.simulate(theta.double().numpy(), seed=seed, threads=args.threads, **net)
        x = summaries(m)
        plausible = int(m[:, synplast.fsbi.METRICS.index("plausible")].sum())
        aborted = int(m[:, synplast.fsbi.METRICS.index("aborted")].sum())
        print(f"  simulated {len(m)} rules in {time.monotonic() - t0:.1f} s: {plausible} plausible, "
              f"{aborted} stopped by the rate checker, {int((x == INVALID).any(axis=1).sum())} with "
              f"undefined statistics")
        return torch.tensor(x, dtype=torch.float32), plausible

    # sbi writes tensorboard logs to ./sbi-logs unless given a writer: keep them out of the
    # working directory (a checkout) unless asked for.
    from torch.utils.tensorboard import SummaryWriter
    logs = args.logs or tempfile.mkdtemp(prefix="sbi-logs-")
    inference = NPE(prior=prior, show_progress_bars=False, summary_writer=SummaryWriter(logs))
    proposal = prior
    for r in range(args.rounds):
        t0 = time.monotonic()
        print(f"round {r + 1}: drawing {args.sims} rules from the "
              f"{'prior' if r == 0 else 'prior truncated to the posterior at x_o'}")
        theta = proposal.sample((args.sims,))
        x, _ = simulator(theta, seed=args.seed * 1000 + r)
        density = inference.append_simulations(theta, x).train(force_first_round_loss=True)
        posterior = inference.build_posterior(density).set_default_x(x_o)
        # The support is estimated from 10,000 posterior samples (sbi's default of 1e6 took half
        # an hour here, the posterior leaking far out of the box prior).
        accept = get_density_thresholder(posterior, quantile=1e-4,
                                         num_samples_to_estimate_support=10_000)
        proposal = RestrictedPrior(prior, accept, sample_with="rejection")
        print(f"  round {r + 1} took {time.monotonic() - t0:.1f} s (simulation and training)")

    print(f"checking: {args.check} rules from the last posterior and {args.check} from the prior")
    samples = posterior.sample((args.check,), show_progress_bars=False)
    _, from_posterior = simulator(samples, seed=args.seed * 1000 + 999)
    _, from_prior = simulator(prior.sample((args.check,)), seed=args.seed * 1000 + 999)
    print(f"plausible: {from_posterior} of {args.check} posterior samples, "
          f"{from_prior} of {args.check} prior samples")


if __name__ == "__main__":
    main()
