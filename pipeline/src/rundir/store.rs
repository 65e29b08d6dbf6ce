//! The checkpoint store of a run directory, one mechanism for every kind:
//! - **state files** `<name>.state.json`: a kind's whole state between two safe points (an
//!   epoch, an iteration), stamped with the config hash; read back only by `--resume`, removed
//!   when the run has finished;
//! - **records** `<folder>/<key>.json`: one finished unit of work each (a rule, a fly),
//!   stamped with the config hash and the key, kept as part of the run's output; a resumed run
//!   reads them back instead of doing the work again;
//! - **record logs** `<name>.jsonl`: the same stamped records, one JSON line each, appended, for
//!   work with very many units (a rule filter's hundreds of thousands of rules must not be as
//!   many files); one log per writing process (a shard), so no two processes append to one file.
//!
//! Every file is written atomically, so `kill -9` at any moment leaves either the previous
//! version or the new one; a log can end in a torn line, which reading ignores and the next
//! append cuts off.

use crate::error::RunError;
use crate::io::write_atomic;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Seconds between two writes of a state file: `SYNPLAST_CHECKPOINT_SECONDS`, default 2.
pub fn checkpoint_seconds() -> f64 {
    std::env::var("SYNPLAST_CHECKPOINT_SECONDS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .unwrap_or(2.0)
}

/// When a state file is due: at most every [`checkpoint_seconds`], and always when the run is
/// stopping.
#[derive(Debug, Default)]
pub struct Throttle {
    last: Option<Instant>,
}

impl Throttle {
    /// Whether to write now (`stopping`: the run is about to stop); records the write.
    pub fn due(&mut self, stopping: bool) -> bool {
        let due = stopping
            || self
                .last
                .is_none_or(|t| t.elapsed().as_secs_f64() >= checkpoint_seconds());
        if due {
            self.last = Some(Instant::now());
        }
        due
    }
}

#[derive(Serialize, Deserialize)]
struct Stamped<T> {
    config_hash: String,
    key: String,
    value: T,
}

/// The checkpoints of one run directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    hash: String,
    resuming: bool,
}

impl Store {
    /// The store of `dir` for a config with this hash; `resuming` lets state files be read.
    pub fn new(dir: &Path, hash: &str, resuming: bool) -> Self {
        Self {
            dir: dir.to_path_buf(),
            hash: hash.to_string(),
            resuming,
        }
    }

    fn state_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.state.json"))
    }

    fn write<T: Serialize>(&self, path: &Path, key: &str, value: &T) -> Result<(), RunError> {
        let s = Stamped {
            config_hash: self.hash.clone(),
            key: key.to_string(),
            value,
        };
        let bytes = serde_json::to_vec(&s).map_err(|e| RunError::new(e.to_string()))?;
        write_atomic(path, &bytes)
            .map_err(|e| RunError::new(format!("{}: cannot write: {e}", path.display())))
    }

    fn read<T: DeserializeOwned>(&self, path: &Path, key: &str) -> Result<Option<T>, RunError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(RunError::new(format!(
                    "{}: cannot read: {e}",
                    path.display()
                )))
            }
        };
        let s: Stamped<T> = serde_json::from_slice(&bytes).map_err(|e| {
            RunError::new(format!(
                "{}: unreadable checkpoint ({e}); delete it to redo that part",
                path.display()
            ))
        })?;
        if s.config_hash != self.hash || s.key != key {
            return Err(RunError::new(format!(
                "{}: belongs to another config or unit (hash {}, key {}); delete it to redo that part",
                path.display(),
                s.config_hash,
                s.key
            )));
        }
        Ok(Some(s.value))
    }

    /// Saves state `name`.
    pub fn save_state<T: Serialize>(&self, name: &str, state: &T) -> Result<(), RunError> {
        self.write(&self.state_path(name), name, state)
    }

    /// The saved state `name`, when resuming and it exists.
    pub fn state<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, RunError> {
        if !self.resuming {
            return Ok(None);
        }
        self.read(&self.state_path(name), name)
    }

    /// Removes state `name` (the run no longer needs it).
    pub fn remove_state(&self, name: &str) {
        let _ = std::fs::remove_file(self.state_path(name));
    }

    /// Creates the folder of a set of records.
    pub fn record_folder(&self, folder: &str) -> Result<(), RunError> {
        let d = self.dir.join(folder);
        std::fs::create_dir_all(&d).map_err(|e| RunError::new(format!("{}: {e}", d.display())))
    }

    fn record_path(&self, folder: &str, key: &str) -> PathBuf {
        self.dir.join(folder).join(format!("{key}.json"))
    }

    /// Saves record `key` of `folder` (call [`Store::record_folder`] first).
    pub fn save_record<T: Serialize>(
        &self,
        folder: &str,
        key: &str,
        record: &T,
    ) -> Result<(), RunError> {
        self.write(&self.record_path(folder, key), key, record)
    }

    /// Record `key` of `folder`, if it was saved (by this run or the one it resumes).
    pub fn record<T: DeserializeOwned>(
        &self,
        folder: &str,
        key: &str,
    ) -> Result<Option<T>, RunError> {
        self.read(&self.record_path(folder, key), key)
    }
}

/// An append-only log of stamped records, one JSON line each (see the module docs).
#[derive(Debug)]
pub struct RecordLog {
    path: PathBuf,
    hash: String,
    file: std::sync::Mutex<Option<std::fs::File>>,
}

impl Store {
    /// The record log `<name>.jsonl` of this run directory (`name` may contain a folder, which
    /// is created).
    pub fn log(&self, name: &str) -> Result<RecordLog, RunError> {
        let path = self.dir.join(format!("{name}.jsonl"));
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d)
                .map_err(|e| RunError::new(format!("{}: {e}", d.display())))?;
        }
        Ok(RecordLog {
            path,
            hash: self.hash.clone(),
            file: std::sync::Mutex::new(None),
        })
    }
}

impl RecordLog {
    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every complete record in the log, in the order written, as `(key, value)`. A last line
    /// without its newline (the process died while writing it) is ignored; a record of another
    /// config, or a complete line that does not parse, is an error naming the line.
    pub fn read_all<T: DeserializeOwned>(&self) -> Result<Vec<(String, T)>, RunError> {
        read_log(&self.path, &self.hash)
    }

    /// Appends record `key`. Safe from several threads; the line is written with one `write`
    /// call after any torn last line has been cut off.
    pub fn append<T: Serialize>(&self, key: &str, value: &T) -> Result<(), RunError> {
        use std::io::Write;
        let s = Stamped {
            config_hash: self.hash.clone(),
            key: key.to_string(),
            value,
        };
        let mut line = serde_json::to_vec(&s).map_err(|e| RunError::new(e.to_string()))?;
        line.push(b'\n');
        let err = |e: std::io::Error| {
            RunError::new(format!("{}: cannot append: {e}", self.path.display()))
        };
        let mut guard = self
            .file
            .lock()
            .map_err(|_| RunError::new("internal: a record log's lock was poisoned"))?;
        if guard.is_none() {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .read(true)
                .write(true)
                .truncate(false)
                .open(&self.path)
                .map_err(err)?;
            let text = std::fs::read(&self.path).map_err(err)?;
            let complete = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            f.set_len(complete as u64).map_err(err)?;
            *guard = Some(f);
        }
        let f = guard
            .as_mut()
            .ok_or_else(|| RunError::new("internal: log not open"))?;
        use std::io::Seek;
        f.seek(std::io::SeekFrom::End(0)).map_err(err)?;
        f.write_all(&line).map_err(err)?;
        f.flush().map_err(err)
    }
}

/// The complete records of the log at `path` stamped `hash` (see [`RecordLog::read_all`]);
/// none when the file does not exist.
pub fn read_log<T: DeserializeOwned>(
    path: &Path,
    hash: &str,
) -> Result<Vec<(String, T)>, RunError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(RunError::new(format!(
                "{}: cannot read: {e}",
                path.display()
            )))
        }
    };
    let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let mut out = Vec::new();
    for (n, line) in bytes[..complete].split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let s: Stamped<T> = serde_json::from_slice(line).map_err(|e| {
            RunError::new(format!(
                "{}:{}: unreadable record ({e}); delete the line to redo that unit",
                path.display(),
                n + 1
            ))
        })?;
        if s.config_hash != hash {
            return Err(RunError::new(format!(
                "{}:{}: belongs to another config (hash {}); this run's is {hash}",
                path.display(),
                n + 1,
                s.config_hash
            )));
        }
        out.push((s.key, s.value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_log_appends_reads_back_and_survives_a_torn_line() {
        let d = std::env::temp_dir().join(format!("synplast-log-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let s = Store::new(&d, "abc", false);
        let log = s.log("records/shard-0-of-2").unwrap();
        assert!(log.read_all::<u32>().unwrap().is_empty());
        log.append("rule-3", &3u32).unwrap();
        log.append("rule-1", &1u32).unwrap();
        let back: Vec<(String, u32)> = log.read_all().unwrap();
        assert_eq!(back, vec![("rule-3".into(), 3), ("rule-1".into(), 1)]);
        // A process killed mid-line: the torn line is ignored, then cut off by the next append.
        let mut bytes = std::fs::read(log.path()).unwrap();
        bytes.extend_from_slice(b"{\"config_hash\":\"abc\",\"ke");
        std::fs::write(log.path(), &bytes).unwrap();
        let again = s.log("records/shard-0-of-2").unwrap();
        assert_eq!(again.read_all::<u32>().unwrap().len(), 2);
        again.append("rule-5", &5u32).unwrap();
        let keys: Vec<String> = again
            .read_all::<u32>()
            .unwrap()
            .into_iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(keys, ["rule-3", "rule-1", "rule-5"]);
        // Another config's log is refused, naming the line.
        let e = Store::new(&d, "xyz", false)
            .log("records/shard-0-of-2")
            .unwrap()
            .read_all::<u32>()
            .unwrap_err();
        assert!(
            e.message
                .contains("shard-0-of-2.jsonl:1: belongs to another config"),
            "{e}"
        );
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn states_and_records_round_trip_and_check_their_stamp() {
        let d = std::env::temp_dir().join(format!("synplast-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let s = Store::new(&d, "abc", true);
        assert_eq!(s.state::<Vec<f64>>("fit").unwrap(), None);
        s.save_state("fit", &vec![1.0, 0.1 + 0.2]).unwrap();
        assert_eq!(
            s.state::<Vec<f64>>("fit").unwrap(),
            Some(vec![1.0, 0.1 + 0.2])
        );
        // A fresh (not resuming) run never reads state.
        assert_eq!(
            Store::new(&d, "abc", false)
                .state::<Vec<f64>>("fit")
                .unwrap(),
            None
        );
        // Another config's state is an error, not silently reused.
        assert!(Store::new(&d, "xyz", true)
            .state::<Vec<f64>>("fit")
            .is_err());
        s.remove_state("fit");
        assert_eq!(s.state::<Vec<f64>>("fit").unwrap(), None);
        s.record_folder("rules").unwrap();
        s.save_record("rules", "rule-3", &7u32).unwrap();
        assert_eq!(s.record::<u32>("rules", "rule-3").unwrap(), Some(7));
        assert_eq!(s.record::<u32>("rules", "rule-4").unwrap(), None);
        std::fs::write(d.join("rules/rule-4.json"), b"{\"config_hash\":").unwrap();
        assert!(s.record::<u32>("rules", "rule-4").is_err());
        std::fs::remove_dir_all(&d).ok();
    }
}
