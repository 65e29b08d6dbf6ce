//! The run directory, for every kind alike: where a run goes, `--force`, `--resume`, the lock,
//! the `meta.json` lifecycle, exit codes, atomic artifacts and the checkpoint store. This
//! layer names no kind: it runs a [`Job`].
//!
//! A run directory holds `config.yaml` (resolved, seed included), `meta.json` (version, git
//! commit, config hash, command, times, status, timings), `metrics.json` (results only:
//! identical bytes for identical config and seed), the kind's `.npy`, `.csv` and `.svg`
//! artifacts, and while it runs its lock and checkpoints (see [`lock`] and [`store`]).
//!
//! `meta.json`'s `status` goes `running` -> `ok` (exit 0), `failed` (exit 1, with `error`), or
//! `interrupted` (exit 130: Ctrl-C, SIGTERM or SIGHUP; the directory is valid and
//! `synplast run --resume DIR` completes it to the bytes of an uninterrupted run). A process
//! killed outright leaves `running` and a stale lock; `--resume` takes both over.

pub mod lock;
pub mod store;

use crate::error::RunError;
use crate::io::write_atomic;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub use store::{checkpoint_seconds, Store, Throttle};

/// What `synplast run --resume` does for a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// The kind saves its state in the [`Store`] as it goes; a resumed run continues from it.
    Checkpoints,
    /// The kind keeps no intermediate state (its runs are short): a resumed run starts again
    /// from the beginning in the same directory, which gives the same bytes because every
    /// random draw comes from the seed.
    Rerun,
}

/// A unit of work the run directory can run: an experiment, resolved (seed drawn, defaults
/// filled) before it gets here.
pub trait Job {
    /// The experiment's name (the default run directory's parent).
    fn name(&self) -> &str;
    /// The config hash (16 hex digits).
    fn hash(&self) -> String;
    /// The resolved config as YAML.
    fn to_yaml(&self) -> String;
    /// What `--resume` does.
    fn resume(&self) -> Resume;
    /// Whether the kind runs in shards (`--shard`, `synplast merge`).
    fn shards(&self) -> bool {
        false
    }
    /// Runs into `dir`; returns the summary printed on stdout.
    fn run(&self, dir: &RunDir) -> Result<String, RunError>;
}

/// One process's share of a run spread over `count` processes (`--shard I/N`): it does the
/// units whose position in their round is `index` modulo `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: u32,
    /// Shards in all.
    pub count: u32,
}

impl Shard {
    /// `I/N` (`0 <= I < N`), or `auto`: `SLURM_ARRAY_TASK_ID` of `SLURM_ARRAY_TASK_COUNT`
    /// (a job array submitted as `--array=0-(N-1)`; `SLURM_ARRAY_TASK_MIN` is subtracted).
    pub fn parse(s: &str) -> Result<Shard, String> {
        let num = |name: &str, v: &str| -> Result<u32, String> {
            v.trim()
                .parse::<u32>()
                .map_err(|_| format!("--shard: {name} must be a whole number, got `{v}`"))
        };
        let (index, count) = if s == "auto" {
            let var = |k: &str| {
                std::env::var(k).map_err(|_| {
                    format!("--shard auto: {k} is not set (not inside a Slurm job array?)")
                })
            };
            let id = num("SLURM_ARRAY_TASK_ID", &var("SLURM_ARRAY_TASK_ID")?)?;
            let count = num("SLURM_ARRAY_TASK_COUNT", &var("SLURM_ARRAY_TASK_COUNT")?)?;
            let min = match std::env::var("SLURM_ARRAY_TASK_MIN") {
                Ok(v) => num("SLURM_ARRAY_TASK_MIN", &v)?,
                Err(_) => 0,
            };
            (
                id.checked_sub(min)
                    .ok_or("--shard auto: SLURM_ARRAY_TASK_ID below SLURM_ARRAY_TASK_MIN")?,
                count,
            )
        } else {
            let (i, n) = s
                .split_once('/')
                .ok_or_else(|| format!("--shard: expected I/N (e.g. 0/4) or auto, got `{s}`"))?;
            (num("I", i)?, num("N", n)?)
        };
        if count == 0 || count > 1_000_000 || index >= count {
            return Err(format!(
                "--shard: need 0 <= I < N <= 1000000, got {index}/{count}"
            ));
        }
        Ok(Shard { index, count })
    }

    /// `shard-I-of-N`, the name of its record log, lock and meta file.
    pub fn name(&self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }

    /// Whether the unit at position `k` of its round is this shard's.
    pub fn owns(&self, k: u64) -> bool {
        k % u64::from(self.count) == u64::from(self.index)
    }
}

/// Options of `synplast run`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Run directory (default `runs/<name>/<UTC time>-<hash>`).
    pub out: Option<PathBuf>,
    /// Replace an earlier run directory.
    pub force: bool,
    /// No progress bar.
    pub quiet: bool,
    /// The experiment file, for `meta.json`.
    pub config_file: String,
    /// The command line, for `meta.json`.
    pub command: Vec<String>,
    /// Continue the interrupted run in `out` from its checkpoints.
    pub resume: bool,
    /// Do only this shard's share (`--shard I/N`), in the shared directory `out`.
    pub shard: Option<Shard>,
    /// Merge the shards' records in `out` into the run's outputs (`synplast merge DIR`).
    pub merge: bool,
    /// Run inside a host that owns the process (the Python interpreter): its signal handlers
    /// are left alone (the host asks for a stop through [`crate::interrupt::request`]) and
    /// nothing is printed; the summary and the messages are in the [`Outcome`].
    pub embedded: bool,
}

/// How a [`run_outcome`] ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The process exit code (0 ok, 1 failed, 2 refused, 130 interrupted).
    pub code: i32,
    /// The run directory, unless the run was refused before one was chosen.
    pub dir: Option<PathBuf>,
    /// Why the run was refused (exit 2), failed (1) or stopped (130); what was printed.
    pub error: Option<String>,
    /// The one-line summary of a finished run (exit 0).
    pub summary: Option<String>,
}

/// What a kind's run sees of its directory.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    hash: String,
    quiet: bool,
    resuming: bool,
    shard: Option<Shard>,
    merging: bool,
}

impl RunDir {
    /// A run directory at `path` for a config with this hash (for tests and library use; the
    /// command line gets one from [`run`]).
    pub fn new(path: &Path, hash: &str, quiet: bool, resuming: bool) -> Self {
        Self {
            path: path.to_path_buf(),
            hash: hash.to_string(),
            quiet,
            resuming,
            shard: None,
            merging: false,
        }
    }
    /// The same directory for one shard's share of the work.
    pub fn with_shard(mut self, shard: Shard) -> Self {
        self.shard = Some(shard);
        self
    }
    /// The same directory for merging the shards' records into the outputs.
    pub fn for_merge(mut self) -> Self {
        self.merging = true;
        self
    }
    /// This process's shard, when the run is spread over several (`--shard I/N`).
    pub fn shard(&self) -> Option<Shard> {
        self.shard
    }
    /// Whether this is `synplast merge`: write the outputs from the shards' records, simulate
    /// nothing.
    pub fn merging(&self) -> bool {
        self.merging
    }
    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// The config hash.
    pub fn config_hash(&self) -> &str {
        &self.hash
    }
    /// Whether progress output is off.
    pub fn quiet(&self) -> bool {
        self.quiet
    }
    /// Whether this run continues an earlier one (`--resume`).
    pub fn resuming(&self) -> bool {
        self.resuming
    }
    /// Writes an artifact atomically, with the path in the error.
    pub fn put(&self, name: &str, bytes: &[u8]) -> Result<(), RunError> {
        put(&self.path, name, bytes)
    }
    /// Writes a JSON artifact, pretty-printed with a final newline.
    pub fn put_json(&self, name: &str, v: &Value) -> Result<(), RunError> {
        self.put(name, &pretty(v))
    }
    /// The checkpoint store of this run.
    pub fn store(&self) -> Store {
        Store::new(&self.path, &self.hash, self.resuming)
    }
}

/// Writes `bytes` to `dir/name` atomically, with the path in the error.
pub fn put(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), RunError> {
    let p = dir.join(name);
    write_atomic(&p, bytes)
        .map_err(|e| RunError::new(format!("{}: cannot write: {e}", p.display())))
}

/// Pretty JSON with a final newline.
pub fn pretty(v: &Value) -> Vec<u8> {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s.into_bytes()
}

/// UTC date-time of a Unix time, `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, proleptic
/// Gregorian).
pub fn utc_string(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A fresh seed from the clock and process id (used only when the config has none; the seed is
/// then written into `config.yaml` so the run can be repeated).
pub fn draw_seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut bytes = nanos.to_le_bytes().to_vec();
    bytes.extend_from_slice(&std::process::id().to_le_bytes());
    // Keep seeds within 2^53 so every JSON reader holds them exactly.
    crate::config::fnv1a(&bytes) >> 11
}

type Refusal = (i32, String);

/// The directory of a new run (`--out`, or `runs/<name>/<UTC time>-<hash>`).
fn target(job: &dyn Job, opts: &RunOptions, started: u64) -> PathBuf {
    match &opts.out {
        Some(d) => d.clone(),
        None => {
            let stamp = utc_string(started).replace(':', "");
            let hash = job.hash();
            Path::new("runs")
                .join(job.name())
                .join(format!("{stamp}-{}", &hash[..12]))
        }
    }
}

/// Creates (or, with `--force`, empties) the directory of a new run and locks it.
fn prepare_new(dir: &Path, opts: &RunOptions) -> Result<lock::Lock, Refusal> {
    if dir.exists() && !dir.is_dir() {
        return Err((
            2,
            format!("{}: exists and is not a directory", dir.display()),
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        (
            1,
            format!("{}: cannot create run directory: {e}", dir.display()),
        )
    })?;
    let lock = lock::Lock::acquire(dir)?;
    let others: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| (1, format!("{}: cannot read directory: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !lock.is_lock_file(p))
        .collect();
    if !others.is_empty() {
        if !opts.force {
            return Err((
                2,
                format!(
                    "{}: directory exists and is not empty; refusing to overwrite (pass --force to replace an earlier run)",
                    dir.display()
                ),
            ));
        }
        if !dir.join("meta.json").exists() {
            return Err((
                2,
                format!(
                    "{}: not a synplast run directory (no meta.json); --force only replaces earlier runs",
                    dir.display()
                ),
            ));
        }
        // Everything in the directory belongs to the run being replaced.
        for p in others {
            let removed = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            removed.map_err(|e| (1, format!("{}: cannot remove: {e}", p.display())))?;
        }
    }
    Ok(lock)
}

/// A shard's share of a run in the directory the shards share (`--shard I/N`), or the merge of
/// their records (`synplast merge DIR`). A shard takes its own lock (the shards run at the
/// same time), writes `config.yaml` if no shard has yet (else it must be the same config) and
/// its status to `shards/shard-I-of-N.meta.json`; running it again continues from its record
/// log. The merge takes the directory's lock and writes `meta.json` with the outputs.
fn shared_outcome(
    job: &dyn Job,
    opts: &RunOptions,
    started: u64,
    clock: Instant,
    say: &dyn Fn(&str),
) -> Outcome {
    let refused = |code: i32, dir: Option<PathBuf>, msg: String| refusal(say, code, dir, msg);
    let what = if opts.merge { "merge" } else { "--shard" };
    let Some(dir) = opts.out.clone() else {
        return refused(
            2,
            None,
            format!("{what} needs the run directory the shards share (--out DIR)"),
        );
    };
    if !job.shards() {
        return refused(
            2,
            Some(dir),
            format!("{what}: this kind does not run in shards"),
        );
    }
    let shards_dir = dir.join("shards");
    if let Err(e) = std::fs::create_dir_all(&shards_dir) {
        return refused(
            1,
            Some(dir),
            format!("{}: cannot create: {e}", shards_dir.display()),
        );
    }
    let lock = match opts.shard {
        Some(s) => lock::Lock::acquire_file(&shards_dir, &format!("{}.lock", s.name())),
        None => lock::Lock::acquire(&dir),
    };
    let lock = match lock {
        Ok(l) => l,
        Err((code, msg)) => return refused(code, Some(dir), msg),
    };
    let yaml = job.to_yaml();
    match std::fs::read(dir.join("config.yaml")) {
        Ok(b) if b == yaml.as_bytes() => {}
        Ok(_) => {
            return refused(
                2,
                Some(dir.clone()),
                format!(
                    "{}: holds another config (the shards of one run share one config: the same file and overrides)",
                    dir.join("config.yaml").display()
                ),
            )
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !opts.merge => {
            if let Err(e) = put(&dir, "config.yaml", yaml.as_bytes()) {
                return refused(1, Some(dir), e.message);
            }
        }
        Err(e) => {
            return refused(
                2,
                Some(dir.clone()),
                format!("{}: cannot read: {e}", dir.join("config.yaml").display()),
            )
        }
    }
    let meta_name = match opts.shard {
        Some(s) => format!("shards/{}.meta.json", s.name()),
        None => "meta.json".to_string(),
    };
    let mut meta = started_meta(job, opts, started);
    if let Some(s) = opts.shard {
        meta["shard"] = json!(format!("{}/{}", s.index, s.count));
    } else {
        meta["merged"] = json!(true);
    }
    if let Err(e) = put(&dir, &meta_name, &pretty(&meta)) {
        return refused(1, Some(dir), e.message);
    }
    let mut rd = RunDir::new(&dir, &job.hash(), opts.quiet, true);
    rd = match opts.shard {
        Some(s) => rd.with_shard(s),
        None => rd.for_merge(),
    };
    let result = job.run(&rd);
    let interrupted = format!(
        "synplast: interrupted; the shard's records are kept: run the same command again to continue ({})",
        dir.display()
    );
    let failed = |e: &RunError| format!("synplast: {what} failed: {e}");
    conclude(Ending {
        dir,
        meta_name: &meta_name,
        meta,
        result,
        clock,
        opts,
        say,
        interrupted,
        failed: &failed,
        lock,
    })
}

/// `meta.json` (or a shard's meta file) as a run starts: version, commit, config file and
/// hash, command, start time, status `running`.
fn started_meta(job: &dyn Job, opts: &RunOptions, started: u64) -> Value {
    json!({
        "synplast_version": env!("CARGO_PKG_VERSION"),
        "git_commit": option_env!("SYNPLAST_GIT_COMMIT").filter(|s| !s.is_empty()),
        "config_file": opts.config_file,
        "config_hash": job.hash(),
        "command": opts.command,
        "started_utc": utc_string(started),
        "status": "running",
    })
}

/// A run refused (or failing) before it started: says `msg`, the [`Outcome`] with `code`.
fn refusal(say: &dyn Fn(&str), code: i32, dir: Option<PathBuf>, msg: String) -> Outcome {
    say(&format!("synplast: {msg}"));
    Outcome {
        code,
        dir,
        error: Some(msg),
        summary: None,
    }
}

/// How a run ended, for [`conclude`].
struct Ending<'a> {
    dir: PathBuf,
    meta_name: &'a str,
    meta: Value,
    result: Result<String, RunError>,
    clock: Instant,
    opts: &'a RunOptions,
    say: &'a dyn Fn(&str),
    /// What to say when it was stopped.
    interrupted: String,
    /// What to say when it failed.
    failed: &'a dyn Fn(&RunError) -> String,
    lock: lock::Lock,
}

/// Records how a run ended in its meta file (status, end time, duration, error), prints the
/// summary or says what happened, releases the lock; the [`Outcome`].
fn conclude(e: Ending<'_>) -> Outcome {
    let Ending {
        dir,
        meta_name,
        mut meta,
        result,
        clock,
        opts,
        say,
        interrupted,
        failed,
        lock,
    } = e;
    meta["ended_utc"] = json!(utc_string(now_secs()));
    meta["timings"] = json!({ "total_seconds": clock.elapsed().as_secs_f64() });
    let mut error = result.as_ref().err().map(|e| e.message.clone());
    let code = match &result {
        Ok(summary) => {
            meta["status"] = json!("ok");
            meta["summary"] = json!(summary);
            meta.as_object_mut().map(|m| m.remove("error"));
            if !opts.embedded {
                println!("{summary}");
                println!("run directory: {}", dir.display());
            }
            0
        }
        Err(e) if e.interrupted => {
            meta["status"] = json!("interrupted");
            say(&interrupted);
            130
        }
        Err(e) => {
            meta["status"] = json!("failed");
            meta["error"] = json!(e.message);
            say(&failed(e));
            1
        }
    };
    let code = match put(&dir, meta_name, &pretty(&meta)) {
        Ok(()) => code,
        Err(e) => {
            say(&format!("synplast: {e}"));
            error = Some(e.message);
            1
        }
    };
    drop(lock);
    Outcome {
        code,
        dir: Some(dir),
        error,
        summary: result.ok(),
    }
}

/// Checks that `dir` holds an unfinished run of this very job, locks it, and returns its
/// `meta.json`.
fn prepare_resume(job: &dyn Job, dir: &Path) -> Result<(lock::Lock, Value), Refusal> {
    let meta_path = dir.join("meta.json");
    let read = |p: &Path| -> Option<Value> {
        std::fs::read(p)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
    };
    if read(&meta_path).is_none() {
        return Err((
            2,
            format!(
                "{}: not a synplast run directory (no readable meta.json)",
                dir.display()
            ),
        ));
    }
    let lock = lock::Lock::acquire(dir)?;
    // Read again under the lock: the previous holder may have finished meanwhile.
    let meta = read(&meta_path).ok_or((
        2,
        format!(
            "{}: not a synplast run directory (no readable meta.json)",
            dir.display()
        ),
    ))?;
    match meta["status"].as_str() {
        Some("ok") => return Err((2, format!("{}: this run already finished", dir.display()))),
        Some("interrupted" | "running" | "failed") => {}
        other => {
            return Err((
                2,
                format!("{}: unknown status {other:?} in meta.json", dir.display()),
            ))
        }
    }
    if meta["config_hash"].as_str() != Some(job.hash().as_str()) {
        return Err((
            2,
            format!(
                "{}: config.yaml does not match the run's config hash; it was edited",
                dir.display()
            ),
        ));
    }
    Ok((lock, meta))
}

/// Runs a resolved job in its run directory; returns the process exit code.
pub fn run(job: &dyn Job, opts: &RunOptions) -> i32 {
    run_outcome(job, opts).code
}

/// Runs a resolved job in its run directory, as [`run`] (same messages on stdout and stderr);
/// returns the exit code, the directory and the error.
pub fn run_outcome(job: &dyn Job, opts: &RunOptions) -> Outcome {
    let started = now_secs();
    let clock = Instant::now();
    if !opts.embedded {
        crate::interrupt::install();
    }
    let say = |text: &str| {
        if !opts.embedded {
            eprintln!("{text}");
        }
    };
    let refused = |code: i32, dir: Option<PathBuf>, msg: String| refusal(&say, code, dir, msg);
    if opts.shard.is_some() || opts.merge {
        return shared_outcome(job, opts, started, clock, &say);
    }
    let dir = if opts.resume {
        match &opts.out {
            Some(d) => d.clone(),
            None => return refused(2, None, "--resume needs the run directory".into()),
        }
    } else {
        target(job, opts, started)
    };
    let prepared = if opts.resume {
        prepare_resume(job, &dir)
    } else {
        prepare_new(&dir, opts).map(|lock| (lock, started_meta(job, opts, started)))
    };
    let (lock, mut meta) = match prepared {
        Ok(v) => v,
        Err((code, msg)) => return refused(code, Some(dir), msg),
    };
    if opts.resume {
        meta["status"] = json!("running");
        // A failure of an earlier attempt is history now, not this run's state.
        meta.as_object_mut().map(|m| m.remove("error"));
        let mut resumed = meta["resumed_utc"].as_array().cloned().unwrap_or_default();
        resumed.push(json!(utc_string(started)));
        meta["resumed_utc"] = json!(resumed);
        if job.resume() == Resume::Rerun {
            say("synplast: this kind keeps no checkpoints; running it again from the start (same seed, same bytes)");
        }
    }
    let first = if opts.resume {
        put(&dir, "meta.json", &pretty(&meta))
    } else {
        put(&dir, "config.yaml", job.to_yaml().as_bytes())
            .and_then(|_| put(&dir, "meta.json", &pretty(&meta)))
    };
    let rd = RunDir::new(&dir, &job.hash(), opts.quiet, opts.resume);
    let result = first.and_then(|_| job.run(&rd));
    let interrupted = format!(
        "synplast: interrupted; the run directory is valid: {}\ncontinue with: synplast run --resume {}",
        dir.display(),
        dir.display()
    );
    let failed = |e: &RunError| {
        format!(
            "synplast: run failed: {e}\nrun directory (partial): {}",
            dir.display()
        )
    };
    conclude(Ending {
        dir: dir.clone(),
        meta_name: "meta.json",
        meta,
        result,
        clock,
        opts,
        say: &say,
        interrupted,
        failed: &failed,
        lock,
    })
}
