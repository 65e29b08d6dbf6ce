//! Deterministic parallel map with a shared work queue.
//!
//! Threads take the next item from an atomic counter as soon as they finish one, so items of
//! very different cost (rules that stop early, rules that run the whole protocol) keep every
//! core busy. Results come back in the order of the items, and each item's result depends only
//! on the item, so the output is the same for any thread count.
//!
//! The thread count is [`threads`]: `synplast run --threads N`, else the `SYNPLAST_THREADS`
//! environment variable, else the machine's available parallelism.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Sets the number of worker threads for this process (0: back to the default).
pub fn set_threads(n: usize) {
    THREADS.store(n, Ordering::SeqCst);
}

/// The number of worker threads: [`set_threads`], else `SYNPLAST_THREADS`, else the
/// available parallelism.
pub fn threads() -> usize {
    match THREADS.load(Ordering::SeqCst) {
        0 => std::env::var("SYNPLAST_THREADS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            }),
        n => n,
    }
}

/// `items.map(f)` on up to [`threads`] scoped threads; results in the order of `items`. A
/// panicking `f` propagates the panic.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    map_on(threads(), items, f)
}

/// [`map`] on up to `threads` threads (0: [`threads`]), for a caller that chooses per call
/// (the Python package's `threads=` argument).
pub fn map_on<T: Sync, R: Send>(threads: usize, items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = match threads {
        0 => self::threads(),
        n => n,
    };
    let threads = threads.min(items.len()).max(1);
    if threads == 1 {
        return items.iter().map(&f).collect();
    }
    let f = &f;
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= items.len() {
                        break;
                    }
                    let r = f(&items[i]);
                    if let Ok(mut v) = slots.lock() {
                        v[i] = Some(r);
                    }
                })
            })
            .collect();
        for h in handles {
            if let Err(p) = h.join() {
                std::panic::resume_unwind(p);
            }
        }
    });
    // Every index was taken by exactly one thread, which stored its result or panicked above
    // (a panic while holding the lock poisons it; its payload was propagated first).
    slots
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_order() {
        let v: Vec<u64> = (0..1000).collect();
        let out = super::map(&v, |x| x * x);
        assert_eq!(out, v.iter().map(|x| x * x).collect::<Vec<_>>());
        assert!(super::map(&Vec::<u8>::new(), |x| *x).is_empty());
    }

    #[test]
    fn uneven_items_keep_every_thread_busy_and_the_order() {
        // Item 0 is slow; with a shared queue the other threads take the rest meanwhile.
        let v: Vec<u64> = (0..64).collect();
        let out = super::map(&v, |&x| {
            if x == 0 {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            (x, std::thread::current().id())
        });
        assert_eq!(out.iter().map(|o| o.0).collect::<Vec<_>>(), v);
    }
}
