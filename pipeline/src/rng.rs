//! Seeded randomness: xoshiro256++ streams split by `jump()`, Gaussian draws by the polar
//! Box-Muller method using `libm` (pure Rust), so a seed gives the same bits on every platform.

pub use rand_core;
use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// A seeded random stream.
#[derive(Debug, Clone)]
pub struct Rng {
    inner: Xoshiro256PlusPlus,
    spare: Option<f64>,
}

impl Rng {
    /// The master stream of a seed.
    pub fn new(seed: u64) -> Self {
        Self {
            inner: Xoshiro256PlusPlus::seed_from_u64(seed),
            spare: None,
        }
    }

    /// Substream `k` of this stream: the state advanced by `k + 1` jumps of 2^128 draws, so
    /// substreams never overlap in practice. Does not advance `self`.
    pub fn substream(&self, k: u32) -> Self {
        let mut inner = self.inner.clone();
        for _ in 0..=k {
            inner.jump();
        }
        Self { inner, spare: None }
    }

    /// Substreams `start, start + 1, ...` of this stream, each as [`Rng::substream`] gives it,
    /// one jump apart: `n` substreams cost `start + n` jumps in all instead of the
    /// `n (start + n / 2)` of calling `substream` for each.
    pub fn substreams(&self, start: u32) -> impl Iterator<Item = Rng> {
        let mut inner = self.inner.clone();
        for _ in 0..start {
            inner.jump();
        }
        std::iter::from_fn(move || {
            inner.jump();
            Some(Rng {
                inner: inner.clone(),
                spare: None,
            })
        })
    }

    /// A uniform `u64`.
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `0..n` (`n > 0`), by rejection (no modulo bias).
    pub fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let v = self.next_u64();
            if v < zone {
                return (v % n) as usize;
            }
        }
    }

    /// A standard normal draw.
    pub fn normal(&mut self) -> f64 {
        if let Some(s) = self.spare.take() {
            return s;
        }
        loop {
            let u = 2.0 * self.uniform() - 1.0;
            let v = 2.0 * self.uniform() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                let f = libm::sqrt(-2.0 * libm::log(s) / s);
                self.spare = Some(v * f);
                return u * f;
            }
        }
    }

    /// Fills `out` with `N(0, std^2)` draws.
    pub fn fill_normal(&mut self, std: f64, out: &mut [f64]) {
        for o in out {
            *o = std * self.normal();
        }
    }

    /// `k` distinct indices from `0..n`, in increasing order (partial Fisher-Yates).
    pub fn choose(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..n).collect();
        let k = k.min(n);
        for i in 0..k {
            let j = i + self.below(n - i);
            idx.swap(i, j);
        }
        idx.truncate(k);
        idx.sort_unstable();
        idx
    }
}

/// The stream as a `rand_core` generator, so kernels that take one (pruning samples, noise
/// steps) draw from the seeded stream.
impl RngCore for Rng {
    fn next_u32(&mut self) -> u32 {
        (self.inner.next_u64() >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        self.inner.fill_bytes(dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substreams_are_the_substreams() {
        let r = Rng::new(42);
        for (k, mut s) in r.substreams(3).take(4).enumerate() {
            assert_eq!(s.next_u64(), r.substream(3 + k as u32).next_u64());
        }
    }

    #[test]
    fn normal_moments_and_reproducibility() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        let n = 200_000;
        let (mut m, mut v) = (0.0, 0.0);
        for _ in 0..n {
            let x = a.normal();
            assert_eq!(x.to_bits(), b.normal().to_bits());
            m += x;
            v += x * x;
        }
        m /= n as f64;
        v = v / n as f64 - m * m;
        assert!(m.abs() < 0.01, "mean {m}");
        assert!((v - 1.0).abs() < 0.01, "var {v}");
    }

    #[test]
    fn substreams_differ_and_choose_is_a_subset() {
        let r = Rng::new(1);
        assert_ne!(r.substream(0).next_u64(), r.substream(1).next_u64());
        let mut r = r.substream(2);
        let c = r.choose(10, 7);
        assert_eq!(c.len(), 7);
        assert!(c.windows(2).all(|w| w[0] < w[1]) && c.iter().all(|&i| i < 10));
    }
}
