//! Criterion benches of the synplast kernels and pipeline, each with its baseline in the same
//! run; see `benches/*.rs`. Run with `cargo bench -p synplast-benches`.

/// Deterministic pseudo-random values in `[-scale/2, scale/2)` (an LCG: benches need fixed
/// inputs, not statistical quality).
pub fn values(n: usize, seed: u64, scale: f64) -> Vec<f64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            scale * (((s >> 11) as f64) / ((1u64 << 53) as f64) - 0.5)
        })
        .collect()
}
