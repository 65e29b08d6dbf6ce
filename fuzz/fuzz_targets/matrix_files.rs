//! Arbitrary bytes as a matrix or array file: `.npy` (any dimension), `.npz` and CSV parsing
//! must return values whose count matches their shape, or an error, never panic or allocate
//! without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synplast::io::npy::{parse_npy, parse_npz};
use synplast::io::{parse_csv_matrix, parse_npy_matrix};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = parse_npy_matrix(data) {
        assert_eq!(m.data.len(), m.rows * m.cols);
    }
    if let Ok(a) = parse_npy(data) {
        assert_eq!(a.data.len(), a.shape.iter().product::<usize>());
    }
    if let Ok(all) = parse_npz(data) {
        for a in all.values() {
            assert_eq!(a.data.len(), a.shape.iter().product::<usize>());
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(m) = parse_csv_matrix(text) {
            assert_eq!(m.data.len(), m.rows * m.cols);
        }
    }
});
