//! Arbitrary bytes as a fly's CSV: parsing must return the presentations or an error naming the
//! file and a line, never panic; parsed data must be consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synplast::kinds::fit_behavior::{parse_fly_csv, reward_signals};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_fly_csv(text, "fly.csv") {
        Ok(c) => {
            assert_eq!(c.odor.len(), c.accept.len());
            assert_eq!(c.odor.len(), c.reward.len());
            assert!(c.trials >= 1 && c.trials <= c.odor.len());
            let r = reward_signals(&c.accept, &c.reward);
            assert!(r.iter().all(|v| v.is_finite()));
        }
        Err(e) => assert!(e.starts_with("fly.csv:"), "{e}"),
    }
});
