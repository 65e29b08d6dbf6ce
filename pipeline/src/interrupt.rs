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

/// Asks the running work to stop at its next safe point, as a first Ctrl-C does (the Python
/// package calls this on `KeyboardInterrupt`, its interpreter keeping the signal handlers).
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Forgets an earlier stop request, so the next run of this process starts (the Python
/// package calls this before each call; the command line runs once per process).
pub fn clear() {
    REQUESTED.store(false, Ordering::SeqCst);
}
