//! Stop requests: the first Ctrl-C, SIGTERM (a cluster's `scancel`, a shutdown) or SIGHUP (a
//! closed terminal) asks the run to stop at its next safe point (after its checkpoint is
//! written), so `meta.json` says `interrupted` and `--resume` completes the run; a second one
//! ends the process at once.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Installs the handler for SIGINT, SIGTERM and SIGHUP (once per process; later calls do
/// nothing).
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        if REQUESTED.swap(true, Ordering::SeqCst) {
            eprintln!("\nsynplast: second stop request, exiting now");
            std::process::exit(130);
        }
        eprintln!("\nsynplast: stop requested (Ctrl-C, SIGTERM or SIGHUP); stopping at the next safe point (Ctrl-C again to quit now)");
    });
}

/// Whether a stop was requested.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}
