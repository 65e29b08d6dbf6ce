//! A fixed, seedable generator for the kernels' unit tests (an LCG with an output shift:
//! tests need repeatable draws, not statistical quality).

use rand_core::RngCore;

/// `Lcg(seed)`: the same stream for the same seed.
pub(crate) struct Lcg(pub(crate) u64);

impl RngCore for Lcg {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 ^ (self.0 >> 29)
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        dst.iter_mut().for_each(|b| *b = self.next_u64() as u8);
    }
}
