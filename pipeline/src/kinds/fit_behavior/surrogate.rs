//! The no-learning surrogate of a fly (`docs/fit_behavior.md#the-no-learning-surrogate`): the
//! fly's choices redrawn, trial by trial and independently, from its own block-wise choice
//! frequencies, with rewards from the baited task itself. A surrogate fly has the real fly's
//! overall preference in every block but learns nothing from its rewards, so a rule term that
//! "wins" on surrogates as often as on real flies is not evidence of learning (or forgetting).

use super::choices::RecordedChoices;
use super::config::BlockConfig;
use super::model::Baits;
use crate::rng::Rng;

/// The trial ranges `[start, end)` of `blocks` over a session of `trials` trials (the last
/// block also takes any trials past the design's end; empty ranges for blocks past the data).
pub fn block_ranges(blocks: &[BlockConfig], trials: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::with_capacity(blocks.len());
    let mut start = 0usize;
    for (k, b) in blocks.iter().enumerate() {
        let end = if k + 1 == blocks.len() {
            trials
        } else {
            (start + b.trials.get()).min(trials)
        };
        let s = start.min(trials);
        out.push((s, end.max(s)));
        start += b.trials.get();
    }
    out
}

/// The fraction of B choices of `rec` in every block (NaN for a block without trials).
pub fn block_b_fractions(rec: &RecordedChoices, blocks: &[BlockConfig]) -> Vec<f64> {
    block_ranges(blocks, rec.chose_b.len())
        .into_iter()
        .map(|(s, e)| {
            let n = e - s;
            let b = rec.chose_b[s..e].iter().filter(|b| **b).count();
            b as f64 / n as f64
        })
        .collect()
}

/// A surrogate of `rec`: as many trials, each choosing B with the probability of `rec`'s own
/// fraction of B choices in that trial's block, independently of everything before; the reward
/// of a trial is the chosen odor's bait in the baited task of `blocks` ([`Baits`]: at a trial's
/// start each unbaited odor is baited with its block's probability; a bait waits until its odor
/// is chosen). Draws per trial, in order: the baits (A, then B, for unbaited odors), then the
/// choice. The same `rng` state gives the same surrogate.
pub fn block_surrogate(
    rec: &RecordedChoices,
    blocks: &[BlockConfig],
    rng: &mut Rng,
) -> RecordedChoices {
    let t = rec.chose_b.len();
    let fractions = block_b_fractions(rec, blocks);
    let mut out = RecordedChoices {
        session: format!("{}-surrogate", rec.session),
        chose_b: Vec::with_capacity(t),
        reward: Vec::with_capacity(t),
    };
    let mut baits = Baits::default();
    for ((s, e), (block, p_b)) in block_ranges(blocks, t)
        .into_iter()
        .zip(blocks.iter().zip(&fractions))
    {
        let probs = block.reward_probability.map(|p| p.0);
        for _ in s..e {
            baits.assign(probs, rng);
            let b = rng.uniform() < *p_b;
            out.chose_b.push(b);
            out.reward.push(baits.collect(u8::from(b)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::config::default_blocks;
    use super::*;

    /// A 240-trial session choosing B in 25%, 70% and 40% of its three blocks.
    fn fixture(trials: usize) -> RecordedChoices {
        let frac = [0.25, 0.7, 0.4];
        let chose_b: Vec<bool> = (0..trials)
            .map(|t| {
                let (block, k) = ((t / 80).min(2), t % 80);
                (k as f64) < frac[block] * 80.0
            })
            .collect();
        RecordedChoices {
            session: "fixture".into(),
            reward: vec![0.0; chose_b.len()],
            chose_b,
        }
    }

    #[test]
    fn surrogate_is_deterministic_and_keeps_block_frequencies() {
        let blocks = default_blocks();
        let rec = fixture(240);
        assert_eq!(block_b_fractions(&rec, &blocks), vec![0.25, 0.7, 0.4]);
        let master = Rng::new(17);
        let a = block_surrogate(&rec, &blocks, &mut master.substream(3));
        let b = block_surrogate(&rec, &blocks, &mut master.substream(3));
        assert_eq!(a, b, "the same stream gives the same surrogate");
        let c = block_surrogate(&rec, &blocks, &mut master.substream(4));
        assert_ne!(a.chose_b, c.chose_b, "another stream, another surrogate");
        assert_eq!(a.chose_b.len(), 240);
        // Over 200 surrogates each block's B fraction is the fly's to within 0.02 (the
        // standard error of the mean of 200 x 80 draws is below 0.004).
        let n = 200;
        let mut sum = [0.0; 3];
        let mut rewarded_a = [0.0; 3];
        let mut chose_a = [0.0; 3];
        for k in 0..n {
            let s = block_surrogate(&rec, &blocks, &mut master.substream(100 + k));
            for (j, f) in block_b_fractions(&s, &blocks).iter().enumerate() {
                sum[j] += f / n as f64;
            }
            for t in 0..240 {
                assert!(s.reward[t] == 0.0 || s.reward[t] == 1.0);
                if !s.chose_b[t] {
                    chose_a[t / 80] += 1.0;
                    rewarded_a[t / 80] += s.reward[t];
                }
            }
        }
        for (j, want) in [0.25, 0.7, 0.4].iter().enumerate() {
            assert!(
                (sum[j] - want).abs() < 0.02,
                "block {j}: {} vs {want}",
                sum[j]
            );
        }
        // Baiting: a bait waits, so a choice of A after g trials without one is rewarded with
        // 1 - (1 - p)^g, g ~ Geometric(P(A)): E = 1 - p_A (1 - p) / (1 - (1 - p_A)(1 - p)),
        // 0.25, 0.968 and 0.294 here (without baiting: 0.2, 0.9, 0.2).
        let rate: Vec<f64> = (0..3).map(|j| rewarded_a[j] / chose_a[j]).collect();
        // (Block 3 starts with A mostly baited from block 2: a little above 0.294.)
        for (j, want) in [0.25, 0.968, 0.30].iter().enumerate() {
            assert!((rate[j] - want).abs() < 0.03, "block {j}: {rate:?}");
        }
    }

    #[test]
    fn short_sessions_fill_the_blocks_they_reach() {
        let blocks = default_blocks();
        assert_eq!(
            block_ranges(&blocks, 227),
            vec![(0, 80), (80, 160), (160, 227)]
        );
        assert_eq!(block_ranges(&blocks, 15), vec![(0, 15), (15, 15), (15, 15)]);
        assert_eq!(block_ranges(&blocks, 250)[2], (160, 250));
        let rec = fixture(15);
        let s = block_surrogate(&rec, &blocks, &mut Rng::new(1));
        assert_eq!(s.chose_b.len(), 15);
        assert!(block_b_fractions(&rec, &blocks)[1].is_nan());
    }
}
