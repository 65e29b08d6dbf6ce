//! Arbitrary bytes as a matrix file: `.npy` and CSV parsing must return a matrix whose size
//! matches its data, or an error, never panic or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synplast::io::{parse_csv_matrix, parse_npy_matrix};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = parse_npy_matrix(data) {
        assert_eq!(m.data.len(), m.rows * m.cols);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(m) = parse_csv_matrix(text) {
            assert_eq!(m.data.len(), m.rows * m.cols);
        }
    }
});
