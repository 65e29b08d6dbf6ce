//! A progress bar on stderr, shown only when stderr is a terminal and `--quiet` is not given,
//! and an [`Observer`] that a caller in the same process (the Python package) reads to report
//! progress its own way.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Progress as counters another thread reads: units done, units in all and their name. Every
/// [`Progress`] bar created while an observer is installed ([`observe`]) resets it and counts
/// into it; code that has no bar counts into it directly ([`Observer::advance`]).
#[derive(Debug, Default)]
pub struct Observer {
    done: AtomicUsize,
    total: AtomicUsize,
    unit: Mutex<String>,
}

impl Observer {
    /// Starts a new count of `total` units named `unit`.
    pub fn start(&self, total: usize, unit: &str) {
        if let Ok(mut u) = self.unit.lock() {
            *u = unit.to_string();
        }
        self.done.store(0, Ordering::SeqCst);
        self.total.store(total, Ordering::SeqCst);
    }

    /// Counts `n` more units done.
    pub fn advance(&self, n: usize) {
        self.done.fetch_add(n, Ordering::SeqCst);
    }

    /// `(done, total, unit)` now.
    pub fn get(&self) -> (usize, usize, String) {
        let unit = self.unit.lock().map(|u| u.clone()).unwrap_or_default();
        (
            self.done.load(Ordering::SeqCst),
            self.total.load(Ordering::SeqCst),
            unit,
        )
    }
}

static OBSERVER: Mutex<Option<Arc<Observer>>> = Mutex::new(None);

/// Installs (`Some`) or removes (`None`) the process's observer of progress bars.
pub fn observe(o: Option<Arc<Observer>>) {
    if let Ok(mut g) = OBSERVER.lock() {
        *g = o;
    }
}

fn observer() -> Option<Arc<Observer>> {
    OBSERVER.lock().ok().and_then(|g| g.clone())
}

/// Thread-safe progress over a known number of units.
pub struct Progress {
    enabled: bool,
    total: usize,
    label: String,
    state: Mutex<(usize, Instant, Option<f64>)>,
    observer: Option<Arc<Observer>>,
}

impl Progress {
    /// A bar for `total` units of `label`; hidden if `quiet` or stderr is not a terminal.
    pub fn new(total: usize, label: &str, quiet: bool) -> Self {
        let observer = observer();
        if let Some(o) = &observer {
            o.start(total, label);
        }
        Self {
            observer,
            enabled: !quiet && std::io::stderr().is_terminal(),
            total: total.max(1),
            label: label.to_string(),
            state: Mutex::new((0, Instant::now(), None)),
        }
    }

    /// A hidden bar for `total` units of `label` that counts into `observer` (started here),
    /// whatever observer the process has installed: for a caller that reports progress its
    /// own way while other work may run beside it.
    pub fn observed(total: usize, label: &str, observer: Arc<Observer>) -> Self {
        observer.start(total, label);
        Self {
            observer: Some(observer),
            enabled: false,
            total: total.max(1),
            label: label.to_string(),
            state: Mutex::new((0, Instant::now(), None)),
        }
    }

    /// Records `n` more units done, with the latest loss if known.
    pub fn tick(&self, n: usize, loss: Option<f64>) {
        if let Some(o) = &self.observer {
            o.advance(n);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_observed_bar_counts_into_its_own_observer() {
        let own = Arc::new(Observer::default());
        own.start(3, "old");
        own.advance(2);
        let p = Progress::observed(10, "epochs", own.clone());
        assert_eq!(own.get(), (0, 10, "epochs".to_string()));
        p.tick(4, Some(0.5));
        p.tick(1, None);
        assert_eq!(own.get(), (5, 10, "epochs".to_string()));
        assert!(!p.enabled);
    }
}
