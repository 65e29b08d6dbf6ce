//! The lock of a run directory: `.synplast.lock`, holding the owner's process id, host and
//! process start time. A second process on a directory in use (two `--resume` at once,
//! `--force` on a running run) is refused at once with exit 2, naming the lock and its holder.
//! A lock whose process is gone (killed with `kill -9`, a crashed node) is stale and taken
//! over: on the same host, the process id no longer runs, or runs with another start time (a
//! reused id). A lock from another host cannot be checked from here and is never taken over.
//!
//! The lock file is created whole or not at all (written to a temporary file unique to this
//! process, then hard-linked into place, which fails if a lock exists), so two processes
//! starting together cannot both win.

use std::path::{Path, PathBuf};

/// The lock file's name.
pub const LOCK_FILE: &str = ".synplast.lock";

/// A held lock; released (the file removed) when dropped.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
    contents: String,
}

/// Who holds a lock, as read from its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Process id.
    pub pid: u32,
    /// Host name.
    pub host: String,
    /// The process's start time (clock ticks after boot, from `/proc/<pid>/stat`), if known.
    pub start: Option<String>,
    /// When the lock was taken (UTC).
    pub since: String,
}

impl Holder {
    fn parse(text: &str) -> Option<Self> {
        let field = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
                .map(str::to_string)
        };
        Some(Self {
            pid: field("pid")?.parse().ok()?,
            host: field("host")?,
            start: field("start").filter(|s| !s.is_empty()),
            since: field("since").unwrap_or_default(),
        })
    }

    fn render(&self) -> String {
        format!(
            "pid={}\nhost={}\nstart={}\nsince={}\n",
            self.pid,
            self.host,
            self.start.as_deref().unwrap_or(""),
            self.since
        )
    }

    /// Whether the holder is gone for certain (same host, process not running or another
    /// process with its id).
    fn is_stale(&self) -> bool {
        if self.host != host_name() || !Path::new("/proc/self").exists() {
            return false;
        }
        match process_start(self.pid) {
            None => true,
            Some(now) => self.start.as_ref().is_some_and(|s| *s != now),
        }
    }
}

/// This machine's host name (`unknown` when it cannot be read).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// The start time of process `pid` (field 22 of `/proc/<pid>/stat`), or `None` if no such
/// process runs (or there is no `/proc`).
fn process_start(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19).map(str::to_string)
}

impl Lock {
    /// Takes the lock of `dir`, or says who holds it: `Err((2, message))`; `Err((1, message))`
    /// when the file system refuses.
    pub fn acquire(dir: &Path) -> Result<Self, (i32, String)> {
        Self::acquire_file(dir, LOCK_FILE)
    }

    /// Takes the lock file `file` in `dir` (a shard's own lock, so the shards of one run
    /// directory run at the same time while each shard runs once), as [`Lock::acquire`].
    pub fn acquire_file(dir: &Path, file: &str) -> Result<Self, (i32, String)> {
        let path = dir.join(file);
        let me = Holder {
            pid: std::process::id(),
            host: host_name(),
            start: process_start(std::process::id()),
            since: super::utc_string(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0),
            ),
        };
        let contents = me.render();
        static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!(".synplast.lock.{}.{serial}.tmp", me.pid));
        std::fs::write(&tmp, &contents)
            .map_err(|e| (1, format!("{}: cannot write: {e}", tmp.display())))?;
        let result = (|| {
            for _ in 0..3 {
                match std::fs::hard_link(&tmp, &path) {
                    Ok(()) => return Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err((1, format!("{}: cannot create: {e}", path.display()))),
                }
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                match Holder::parse(&text) {
                    Some(h) if h.is_stale() => {
                        eprintln!(
                            "synplast: {}: taking over a stale lock (process {} on {} is gone)",
                            path.display(),
                            h.pid,
                            h.host
                        );
                        // Another process may take it over at the same moment: whoever links
                        // first wins, the other finds a live holder on its next try.
                        let _ = std::fs::remove_file(&path);
                    }
                    Some(h) => {
                        let how = if h.host == host_name() {
                            format!("wait for it to finish, or stop it (kill {}) and run `synplast run --resume {}`", h.pid, dir.display())
                        } else {
                            format!("if that process is gone, delete {} and resume", path.display())
                        };
                        return Err((
                            2,
                            format!(
                                "{}: the run directory is in use by process {} on {} (since {}); {how}",
                                path.display(),
                                h.pid,
                                h.host,
                                h.since
                            ),
                        ));
                    }
                    None => {
                        return Err((
                            2,
                            format!(
                                "{}: the run directory is locked and the lock file is unreadable; if no synplast process uses this directory, delete the file",
                                path.display()
                            ),
                        ))
                    }
                }
            }
            Err((
                2,
                format!("{}: could not take the lock (contended)", path.display()),
            ))
        })();
        let _ = std::fs::remove_file(&tmp);
        result.map(|()| Self { path, contents })
    }

    /// Whether `p` is this lock's file (or one of the temporary files of a lock).
    pub fn is_lock_file(&self, p: &Path) -> bool {
        p == self.path
            || p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(".synplast.lock."))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Only remove the file if it is still ours.
        if std::fs::read_to_string(&self.path).is_ok_and(|t| t == self.contents) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("synplast-lock-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn second_acquire_is_refused_and_release_frees_it() {
        let d = tmp("second");
        let a = Lock::acquire(&d).unwrap();
        let e = Lock::acquire(&d).unwrap_err();
        assert_eq!(e.0, 2);
        assert!(e.1.contains(LOCK_FILE) && e.1.contains(&std::process::id().to_string()));
        drop(a);
        assert!(!d.join(LOCK_FILE).exists());
        let _b = Lock::acquire(&d).unwrap();
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn a_lock_of_a_dead_process_is_taken_over() {
        let d = tmp("stale");
        // A process id that does not run: above the kernel's pid_max (4194304 at most).
        let dead = Holder {
            pid: 4_194_305,
            host: host_name(),
            start: Some("1".into()),
            since: "2026-01-01T00:00:00Z".into(),
        };
        std::fs::write(d.join(LOCK_FILE), dead.render()).unwrap();
        let l = Lock::acquire(&d).unwrap();
        let text = std::fs::read_to_string(d.join(LOCK_FILE)).unwrap();
        assert!(text.contains(&format!("pid={}", std::process::id())));
        drop(l);
        // A reused id (this very process, another start time) is stale too.
        let reused = Holder {
            pid: std::process::id(),
            start: Some("0".into()),
            ..dead.clone()
        };
        std::fs::write(d.join(LOCK_FILE), reused.render()).unwrap();
        assert!(Lock::acquire(&d).is_ok());
        // Another host's lock is never taken over.
        let other = Holder {
            host: "elsewhere.invalid".into(),
            ..dead
        };
        std::fs::write(d.join(LOCK_FILE), other.render()).unwrap();
        assert_eq!(Lock::acquire(&d).unwrap_err().0, 2);
        std::fs::remove_dir_all(&d).ok();
    }
}
