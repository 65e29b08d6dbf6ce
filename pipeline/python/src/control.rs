//! Long calls under the interpreter's control: the work runs on a worker thread while the
//! calling thread, which holds the GIL for a moment every 100 ms, forwards progress to the
//! caller's callback and turns Ctrl-C (a `KeyboardInterrupt` from the interpreter's signal
//! handler) into a stop request the work sees at its next safe point.

use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;
use synplast::progress::Observer;

/// What the work sees of its caller: a stop flag and the progress counters.
#[derive(Debug, Default)]
pub struct Control {
    stop: AtomicBool,
    /// Units done and in all; [`synplast::progress::Progress`] bars count into it while a
    /// call installs it with [`synplast::progress::observe`].
    pub progress: Arc<Observer>,
}

impl Control {
    /// Whether the caller asked the work to stop (Ctrl-C, or the callback raised).
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// How often the calling thread checks for Ctrl-C and reports progress.
const POLL: Duration = Duration::from_millis(100);

/// Runs `work` on a worker thread, the GIL released, and returns its result. Meanwhile, every
/// 100 ms: a pending `KeyboardInterrupt` (or any exception a signal handler raised) sets the
/// stop flag and calls `on_stop`; the callback `progress(done, total, unit)`, when given, is
/// called whenever the counters changed (and once at the end), and an exception it raises
/// stops the work as Ctrl-C does. After a stop the work is awaited (it ends at its next safe
/// point) and the exception is raised, whatever the work returned.
pub fn controlled<R: Send>(
    py: Python<'_>,
    progress: Option<&Bound<'_, PyAny>>,
    on_stop: impl Fn(),
    work: impl FnOnce(&Control) -> R + Send,
) -> PyResult<R> {
    let ctl = Control::default();
    let (tx, rx) = channel::<R>();
    std::thread::scope(|s| {
        let ctl = &ctl;
        s.spawn(move || {
            let r = work(ctl);
            let _ = tx.send(r);
        });
        let mut pending: Option<PyErr> = None;
        let mut reported: Option<(usize, usize, String)> = None;
        let mut rx: Receiver<R> = rx;
        let mut report = |pending: &mut Option<PyErr>| {
            let Some(cb) = progress else { return };
            let now = ctl.progress.get();
            if pending.is_some() || reported.as_ref() == Some(&now) {
                return;
            }
            let r = cb.call1(now.clone());
            reported = Some(now);
            if let Err(e) = r {
                ctl.stop.store(true, Ordering::SeqCst);
                on_stop();
                *pending = Some(e);
            }
        };
        loop {
            let (got, back) = py.detach(move || {
                let got = rx.recv_timeout(POLL);
                (got, rx)
            });
            rx = back;
            match got {
                Ok(r) => {
                    report(&mut pending);
                    return match pending {
                        Some(e) => Err(e),
                        None => Ok(r),
                    };
                }
                // The worker panicked; the scope's join raises the panic (PanicException).
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(pending.unwrap_or_else(|| {
                        pyo3::exceptions::PyRuntimeError::new_err("the worker thread ended")
                    }))
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            if pending.is_none() {
                if let Err(e) = py.check_signals() {
                    ctl.stop.store(true, Ordering::SeqCst);
                    on_stop();
                    pending = Some(e);
                }
            }
            report(&mut pending);
        }
    })
}
