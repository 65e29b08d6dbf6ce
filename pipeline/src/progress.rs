//! Progress on stderr unless `--quiet` is given: a bar redrawn in place when stderr is a
//! terminal, and otherwise (a log file, a cluster job) one line every
//! [`set_log_interval`] (10 s by default, `--progress-every S`) with the phase, the count and
//! the time left; and an [`Observer`] that a caller in the same process (the Python package)
//! reads to report progress its own way.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Milliseconds between two progress lines when stderr is not a terminal (0: none).
static LOG_INTERVAL_MS: AtomicU64 = AtomicU64::new(10_000);

/// Sets the time between two progress lines written when stderr is not a terminal
/// (`Duration::ZERO`: none).
pub fn set_log_interval(d: Duration) {
    LOG_INTERVAL_MS.store(d.as_millis() as u64, Ordering::SeqCst);
}

fn log_interval() -> Option<Duration> {
    match LOG_INTERVAL_MS.load(Ordering::SeqCst) {
        0 => None,
        ms => Some(Duration::from_millis(ms)),
    }
}

/// `95 s`, `12 min 5 s`, `2 h 03 min`: a duration as a person reads it.
pub fn human_time(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min {} s", s / 60, s % 60)
    } else {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    }
}

/// Seconds left when `worked` units (done in this process) took `elapsed` and `left` remain.
fn time_left(elapsed: f64, worked: usize, left: usize) -> Option<f64> {
    (worked > 0).then(|| elapsed * left as f64 / worked as f64)
}

/// One progress line of the log mode: `rules (round 2 of 5): 120/300 (40%), 1 min 40 s
/// elapsed, about 2 min 30 s left` (`skipped` of the `done` units were done before).
fn log_line(
    label: &str,
    (done, skipped, total): (usize, usize, usize),
    elapsed: f64,
    loss: Option<f64>,
) -> String {
    let pct = 100.0 * done as f64 / total.max(1) as f64;
    let loss = loss.map(|l| format!(", loss {l:.3e}")).unwrap_or_default();
    let left = match time_left(elapsed, done - skipped.min(done), total - done.min(total)) {
        Some(t) if done < total => format!(", about {} left", human_time(t)),
        _ => String::new(),
    };
    format!(
        "{label}: {done}/{total} ({pct:.0}%){loss}, {} elapsed{left}",
        human_time(elapsed)
    )
}

/// How a [`Progress`] shows itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Nothing (`--quiet`, or counted only into an observer).
    Off,
    /// A bar redrawn in place (stderr is a terminal).
    Bar,
    /// A line every [`log_interval`] (stderr is not a terminal).
    Log(Duration),
}

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
    mode: Mode,
    total: usize,
    label: String,
    state: Mutex<State>,
    observer: Option<Arc<Observer>>,
}

struct State {
    done: usize,
    /// Units among `done` that were already done before (read back on `--resume`): they
    /// took no time, so the time left is estimated from the others.
    skipped: usize,
    start: Instant,
    loss: Option<f64>,
    /// When the last log line was written (the start before the first).
    logged: Instant,
    /// Log lines written.
    lines: usize,
}

impl State {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            done: 0,
            skipped: 0,
            start: now,
            loss: None,
            logged: now,
            lines: 0,
        }
    }
}

impl Progress {
    /// Progress over `total` units of `label`: a bar when stderr is a terminal, a line every
    /// [`set_log_interval`] otherwise, nothing when `quiet`.
    pub fn new(total: usize, label: &str, quiet: bool) -> Self {
        let observer = observer();
        if let Some(o) = &observer {
            o.start(total, label);
        }
        let mode = if quiet {
            Mode::Off
        } else if std::io::stderr().is_terminal() {
            Mode::Bar
        } else {
            log_interval().map_or(Mode::Off, Mode::Log)
        };
        Self {
            observer,
            mode,
            total: total.max(1),
            label: label.to_string(),
            state: Mutex::new(State::new()),
        }
    }

    /// A hidden bar for `total` units of `label` that counts into `observer` (started here),
    /// whatever observer the process has installed: for a caller that reports progress its
    /// own way while other work may run beside it.
    pub fn observed(total: usize, label: &str, observer: Arc<Observer>) -> Self {
        observer.start(total, label);
        Self {
            observer: Some(observer),
            mode: Mode::Off,
            total: total.max(1),
            label: label.to_string(),
            state: Mutex::new(State::new()),
        }
    }

    /// Records `n` units that were already done (read back on `--resume`): they count
    /// towards the total but not towards the time left.
    pub fn skip(&self, n: usize) {
        if let Ok(mut s) = self.state.lock() {
            s.skipped += n;
        }
        self.tick(n, None);
    }

    /// Records `n` more units done, with the latest loss if known.
    pub fn tick(&self, n: usize, loss: Option<f64>) {
        if let Some(o) = &self.observer {
            o.advance(n);
        }
        if self.mode == Mode::Off {
            return;
        }
        let Ok(mut s) = self.state.lock() else { return };
        s.done += n;
        if loss.is_some() {
            s.loss = loss;
        }
        match self.mode {
            Mode::Bar => self.draw(&s),
            Mode::Log(every) if s.logged.elapsed() >= every => {
                eprintln!(
                    "{}",
                    log_line(
                        &self.label,
                        (s.done.min(self.total), s.skipped, self.total),
                        s.start.elapsed().as_secs_f64(),
                        s.loss
                    )
                );
                s.logged = Instant::now();
                s.lines += 1;
            }
            _ => {}
        }
    }

    fn draw(&self, s: &State) {
        let done = s.done.min(self.total);
        let frac = done as f64 / self.total as f64;
        let width = 30;
        let filled = ((frac * width as f64) as usize).min(width);
        let elapsed = s.start.elapsed().as_secs_f64();
        let tail = if done >= self.total {
            format!("done in {}", human_time(elapsed))
        } else {
            time_left(elapsed, done - s.skipped.min(done), self.total - done)
                .map(|t| format!("{} left", human_time(t)))
                .unwrap_or_default()
        };
        let loss = s
            .loss
            .map(|l| format!("  loss {l:.3e}"))
            .unwrap_or_default();
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r[{}{}] {}/{} {}{}  {}   ",
            "#".repeat(filled),
            ".".repeat(width - filled),
            done,
            self.total,
            self.label,
            loss,
            tail
        );
        let _ = err.flush();
    }

    /// Ends the phase. Unless a stop was requested, the bar (or the log, when it wrote a line)
    /// ends at 100%: a phase that ends early (Levenberg-Marquardt converged, a rate checker
    /// stopped a network) has still done its work.
    pub fn finish(&self) {
        if self.mode == Mode::Off {
            return;
        }
        let Ok(mut s) = self.state.lock() else { return };
        let stopped = crate::interrupt::requested();
        if !stopped {
            s.done = self.total;
        }
        match self.mode {
            Mode::Bar => {
                self.draw(&s);
                eprintln!();
            }
            Mode::Log(_) if s.lines > 0 => {
                let elapsed = s.start.elapsed().as_secs_f64();
                if stopped {
                    eprintln!(
                        "{}: stopped at {}/{} after {}",
                        self.label,
                        s.done.min(self.total),
                        self.total,
                        human_time(elapsed)
                    );
                } else {
                    eprintln!("{}: done in {}", self.label, human_time(elapsed));
                }
            }
            _ => {}
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
        assert_eq!(p.mode, Mode::Off);
    }

    #[test]
    fn log_lines_say_the_phase_the_count_and_the_time_left() {
        assert_eq!(
            log_line("rules (round 2 of 5)", (120, 0, 300), 100.0, None),
            "rules (round 2 of 5): 120/300 (40%), 1 min 40 s elapsed, about 2 min 30 s left"
        );
        assert_eq!(
            log_line("epochs", (0, 0, 10), 3.4, Some(0.5)),
            "epochs: 0/10 (0%), loss 5.000e-1, 3 s elapsed"
        );
        assert_eq!(
            log_line("epochs", (10, 0, 10), 7300.0, None),
            "epochs: 10/10 (100%), 2 h 01 min elapsed"
        );
        // Resumed: 100 rules read back, 20 simulated in 40 s, 180 left: 6 min.
        assert_eq!(
            log_line("rules", (120, 100, 300), 40.0, None),
            "rules: 120/300 (40%), 40 s elapsed, about 6 min 0 s left"
        );
        assert_eq!(human_time(59.4), "59 s");
        assert_eq!(human_time(3599.0), "59 min 59 s");
    }
}
