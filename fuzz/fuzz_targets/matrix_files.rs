//! Arbitrary bytes as a matrix or array file: `.npy` (any dimension), `.npz` and CSV parsing
//! must return values whose count matches their shape, or an error, never panic or allocate
//! without bound; an archive's `x`, `y`, `w0` go through the recorded-activity checks, which
//! accept only what the contract allows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synplast::io::npy::{parse_npy, parse_npz};
use synplast::io::{parse_csv_matrix, parse_npy_matrix};
use synplast::kinds::fit_rate::recorded::check;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = parse_npy_matrix(data) {
        assert_eq!(m.data.len(), m.rows * m.cols);
    }
    if let Ok(a) = parse_npy(data) {
        assert_eq!(a.data.len(), a.shape.iter().product::<usize>());
    }
    if let Ok(mut all) = parse_npz(data) {
        for a in all.values() {
            assert_eq!(a.data.len(), a.shape.iter().product::<usize>());
        }
        if let (Some(x), Some(y)) = (all.remove("x"), all.remove("y")) {
            if let Ok(r) = check("fuzz".into(), x, y, all.remove("w0")) {
                assert!(r.x.iter().all(|v| v.is_finite()));
                assert!(r.y.iter().all(|v| !v.is_infinite()));
                assert_eq!(r.y.len(), r.sessions * r.steps * r.n_out);
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(m) = parse_csv_matrix(text) {
            assert_eq!(m.data.len(), m.rows * m.cols);
        }
    }
});
