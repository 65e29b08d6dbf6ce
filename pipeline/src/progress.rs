//! A progress bar on stderr, shown only when stderr is a terminal and `--quiet` is not given.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Instant;

/// Thread-safe progress over a known number of units.
pub struct Progress {
    enabled: bool,
    total: usize,
    label: String,
    state: Mutex<(usize, Instant, Option<f64>)>,
}

impl Progress {
    /// A bar for `total` units of `label`; hidden if `quiet` or stderr is not a terminal.
    pub fn new(total: usize, label: &str, quiet: bool) -> Self {
        Self {
            enabled: !quiet && std::io::stderr().is_terminal(),
            total: total.max(1),
            label: label.to_string(),
            state: Mutex::new((0, Instant::now(), None)),
        }
    }

    /// Records `n` more units done, with the latest loss if known.
    pub fn tick(&self, n: usize, loss: Option<f64>) {
        if !self.enabled {
            return;
        }
        let Ok(mut s) = self.state.lock() else { return };
        s.0 += n;
        if loss.is_some() {
            s.2 = loss;
        }
        let frac = s.0 as f64 / self.total as f64;
        let width = 30;
        let filled = ((frac * width as f64) as usize).min(width);
        let elapsed = s.1.elapsed().as_secs_f64();
        let eta = if s.0 > 0 {
            elapsed * (self.total - s.0.min(self.total)) as f64 / s.0 as f64
        } else {
            0.0
        };
        let loss = s.2.map(|l| format!("  loss {l:.3e}")).unwrap_or_default();
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r[{}{}] {}/{} {}{}  {:.0}s left   ",
            "#".repeat(filled),
            ".".repeat(width - filled),
            s.0,
            self.total,
            self.label,
            loss,
            eta
        );
        let _ = err.flush();
    }

    /// Ends the bar's line.
    pub fn finish(&self) {
        if self.enabled {
            eprintln!();
        }
    }
}
