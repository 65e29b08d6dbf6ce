//! Ctrl-C: the first one asks the run to stop at the next epoch boundary (after its
//! checkpoint is written), the second ends the process at once.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Installs the handler (once per process; later calls do nothing).
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        if REQUESTED.swap(true, Ordering::SeqCst) {
            eprintln!("\nsynplast: second interrupt, exiting now");
            std::process::exit(130);
        }
        eprintln!("\nsynplast: interrupt received; stopping after the current epoch (Ctrl-C again to quit now)");
    });
}

/// Whether a stop was requested.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}
