//! Arbitrary bytes as an experiment file, then (if it parses) the same bytes' lines as
//! overrides: parsing must return a value or a positioned error, never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = synplast::kinds::parse_bytes(data, "fuzz.yaml");
    match parsed {
        Ok(exp) => {
            let overrides: Vec<String> = String::from_utf8_lossy(data)
                .lines()
                .take(8)
                .map(str::to_string)
                .collect();
            let _ = exp.apply_overrides(&overrides);
        }
        Err(e) => {
            assert!(e.line >= 1 && e.col >= 1);
        }
    }
});
