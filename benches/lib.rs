//! Criterion benches of the synplast kernels; see `benches/rate.rs`. Run with
//! `cargo bench -p synplast-benches`.
