//! Config primitives shared by every kind: bounded numbers, the YAML reader with positions,
//! overrides, the name check and the hash. Nothing here names a kind or writes files.
//!
//! A config is read with serde-saphyr into the kind's typed struct, which rejects unknown keys.
//! Every problem becomes a [`ConfigError`] printed as `file:line:col: field: problem`.

pub mod terms;

pub use crate::error::ConfigError;
use crate::yamlpath::{locate, path_at};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Largest accepted input or output count.
pub const MAX_NEURONS: u32 = 100_000;
/// Largest accepted synapse count `n_in * n_out`.
pub const MAX_SYNAPSES: u64 = 10_000_000;
/// Largest accepted number of stored values for a data set (about 4 GiB of `f64`).
pub const MAX_DATA_VALUES: u64 = 500_000_000;

macro_rules! bounded_float {
    ($(#[$doc:meta])* $name:ident, $ok:expr, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
        #[serde(try_from = "f64", into = "f64")]
        pub struct $name(pub f64);
        impl TryFrom<f64> for $name {
            type Error = String;
            fn try_from(v: f64) -> Result<Self, String> {
                let ok: fn(f64) -> bool = $ok;
                if v.is_finite() && ok(v) {
                    Ok(Self(v))
                } else {
                    Err(format!("must be {}, got {}", $what, v))
                }
            }
        }
        impl From<$name> for f64 {
            fn from(v: $name) -> f64 {
                v.0
            }
        }
    };
}

bounded_float!(
    /// A finite number.
    Finite, |_| true, "a finite number");
bounded_float!(
    /// A finite number `> 0`.
    Positive, |v| v > 0.0, "a finite number > 0");
bounded_float!(
    /// A finite number `>= 0`.
    NonNegative, |v| v >= 0.0, "a finite number >= 0");
bounded_float!(
    /// A number in `(0, 1]`.
    Fraction, |v| v > 0.0 && v <= 1.0, "in (0, 1]");

bounded_float!(
    /// A probability in `[0, 1]`.
    Probability, |v| (0.0..=1.0).contains(&v), "in [0, 1]");

/// A count `>= 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct Count(pub u32);

impl TryFrom<u64> for Count {
    type Error = String;
    fn try_from(v: u64) -> Result<Self, String> {
        if v == 0 {
            Err("must be a whole number >= 1, got 0".into())
        } else {
            u32::try_from(v)
                .map(Count)
                .map_err(|_| format!("must be at most {}, got {v}", u32::MAX))
        }
    }
}

impl From<Count> for u64 {
    fn from(v: Count) -> u64 {
        v.0 as u64
    }
}

impl Count {
    /// As `usize`.
    pub fn get(self) -> usize {
        self.0 as usize
    }
}

/// The default Adam learning rate, 1e-3.
pub fn default_lr() -> Positive {
    Positive(1e-3)
}

/// 0, as a default.
pub fn zero_nn() -> NonNegative {
    NonNegative(0.0)
}
/// FNV-1a, 64 bit.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// Parser options: strict, with limits against alias bombs and deep nesting.
pub fn options() -> serde_saphyr::Options {
    let mut o = serde_saphyr::Options::default();
    let mut b = serde_saphyr::Budget::default();
    b.max_depth = 32;
    b.max_nodes = 100_000;
    b.max_aliases = 64;
    b.max_anchors = 64;
    b.max_total_scalar_bytes = 1 << 20;
    b.max_reader_input_bytes = Some(1 << 20);
    o.budget = Some(b);
    o.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    o
}

/// Turns a serde-saphyr error into a positioned [`ConfigError`].
pub fn yaml_error(e: &serde_saphyr::Error, text: &str, file: &str) -> ConfigError {
    let (line, col) = e
        .location()
        .map(|l| (l.line() as usize, l.column() as usize))
        .unwrap_or((1, 1));
    let raw = e.without_snippet().to_string();
    // The message may end with its own " at line X column Y"; we print the position first.
    let problem = match raw.rfind(" at line ") {
        Some(i) => raw[..i].to_string(),
        None => raw,
    };
    // A bad scalar: quote what was written there.
    let is_int = problem.starts_with("invalid u64");
    let is_float =
        problem.starts_with("invalid f64") || problem.starts_with("invalid floating point");
    let problem = if is_int || is_float {
        let written = text
            .lines()
            .nth(line.saturating_sub(1))
            .and_then(|l| l.get(col.saturating_sub(1)..))
            .map(|s| s.split(" #").next().unwrap_or("").trim().to_string())
            .unwrap_or_default();
        let want = if is_int {
            "a non-negative whole number"
        } else {
            "a number"
        };
        format!("expected {want}, got `{written}`")
    } else {
        problem.replacen("value must be", "must be", 1)
    };
    let mut field = path_at(text, line);
    // A missing field is reported at the last key of its mapping: name the field itself.
    if let Some(k) = problem
        .strip_prefix("missing field `")
        .and_then(|s| s.split('`').next())
    {
        field = match field.rsplit_once('.') {
            Some((parent, _)) => format!("{parent}.{k}"),
            None => k.to_string(),
        };
    }
    // For an unknown key, the message names it; make sure the path ends with it.
    if let Some(k) = problem
        .strip_prefix("unknown field `")
        .and_then(|s| s.split('`').next())
    {
        if !field.ends_with(k) {
            field = if field.is_empty() {
                k.to_string()
            } else {
                format!("{field}.{k}")
            };
        }
    }
    // A choice between alternatives (an enum read from a mapping with one key of several) is
    // reported once the mapping is read, at its last key: name and point at the mapping.
    let (mut line, mut col) = (line, col);
    if problem.contains("give exactly one of") {
        while let Some((parent, last)) = field.rsplit_once('.') {
            if !problem.contains(&format!("`{last}`")) {
                break;
            }
            field = parent.to_string();
        }
        if !field.is_empty() {
            (line, col) = locate(text, &field);
        }
    }
    ConfigError {
        file: file.into(),
        line,
        col,
        field,
        problem: problem.trim().to_string(),
    }
}

/// Checks an experiment name: 1 to 100 letters, digits, `_`, `-` or `.`, not starting with `.`.
pub fn validate_name(name: &str) -> Result<(), (String, String)> {
    if name.is_empty()
        || name.len() > 100
        || !name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "_-.".contains(ch))
        || name.starts_with('.')
    {
        return bad(
            "name",
            "must be 1 to 100 letters, digits, `_`, `-` or `.`, not starting with `.`",
        );
    }
    Ok(())
}
/// A validation failure at `field`.
pub fn bad<T>(field: &str, problem: impl Into<String>) -> Result<T, (String, String)> {
    Err((field.to_string(), problem.into()))
}
/// Applies Hydra-style overrides `a.b=value` (value in YAML syntax) in order to a config of
/// type `T`. Each is type-checked on its own, so such an error names the override that caused
/// it; `validate` (range and cross-field checks) runs once all are applied, so their order does
/// not matter.
pub fn apply_overrides<T: Serialize + DeserializeOwned>(
    config: &T,
    overrides: &[String],
    validate: impl Fn(&T) -> Result<(), (String, String)>,
) -> Result<T, ConfigError> {
    let whole = |problem: String| ConfigError {
        file: format!("<overrides `{}`>", overrides.join(" ")),
        line: 1,
        col: 1,
        field: String::new(),
        problem,
    };
    let mut tree = serde_json::to_value(config).map_err(|e| whole(e.to_string()))?;
    for ov in overrides {
        let err = |field: &str, problem: String| ConfigError {
            file: format!("<override `{ov}`>"),
            line: 1,
            col: 1,
            field: field.to_string(),
            problem,
        };
        let (path, raw) = ov
            .split_once('=')
            .ok_or_else(|| err("", "expected key.path=value".into()))?;
        let path = path.trim();
        if path.is_empty() || path.split('.').any(|p| p.is_empty()) {
            return Err(err(path, "empty key in path".into()));
        }
        let value: serde_json::Value = if raw.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_saphyr::from_str_with_options(raw, options())
                .map_err(|e| err(path, format!("value is not YAML: {}", e.without_snippet())))?
        };
        let new_key = set_path(&mut tree, path, value).map_err(|p| err(path, p))?;
        // Type-check this override now, and let the next one see the config as typed (its
        // defaults filled in). A key the config did not hold yet may be an optional field left
        // at its default, or a typo: the typed check tells which.
        let typed: T = serde_json::from_value(tree).map_err(|e| match &new_key {
            Some(k) if e.to_string().contains("unknown field") => {
                err(path, format!("unknown key `{k}`; {e}"))
            }
            _ => err(path, e.to_string()),
        })?;
        tree = serde_json::to_value(&typed).map_err(|e| err(path, e.to_string()))?;
    }
    let out: T = serde_json::from_value(tree).map_err(|e| whole(e.to_string()))?;
    validate(&out).map_err(|(field, problem)| ConfigError {
        field,
        problem,
        ..whole(String::new())
    })?;
    Ok(out)
}

/// Sets `path` in `tree` to `value`, creating missing mappings; returns the first key of the
/// path that the tree did not hold.
fn set_path(
    tree: &mut serde_json::Value,
    path: &str,
    value: serde_json::Value,
) -> Result<Option<String>, String> {
    let parts: Vec<&str> = path.split('.').collect();
    let mut node = tree;
    let mut new_key: Option<String> = None;
    for (i, p) in parts.iter().enumerate() {
        if node.is_null() {
            *node = serde_json::Value::Object(Default::default());
        }
        let map = node
            .as_object_mut()
            .ok_or_else(|| format!("`{}` is not a mapping", parts[..i].join(".")))?;
        let last = i + 1 == parts.len();
        if new_key.is_none() && !map.contains_key(*p) {
            new_key = Some(p.to_string());
        }
        if last {
            map.insert(p.to_string(), value);
            return Ok(new_key);
        }
        node = map.entry(p.to_string()).or_insert(serde_json::Value::Null);
    }
    Ok(new_key)
}

/// Largest experiment file.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

fn document_error(file: &str, problem: String) -> ConfigError {
    ConfigError {
        file: file.to_string(),
        line: 1,
        col: 1,
        field: String::new(),
        problem,
    }
}

/// Reads an experiment file (a regular file of at most 1 MiB).
pub fn read_file(path: &Path) -> Result<Vec<u8>, ConfigError> {
    let file = path.display().to_string();
    let meta = std::fs::metadata(path)
        .map_err(|e| document_error(&file, format!("cannot read file: {e}")))?;
    if !meta.is_file() {
        return Err(document_error(&file, "not a regular file".into()));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(document_error(
            &file,
            format!(
                "file is {} bytes; experiment files are limited to 1 MiB",
                meta.len()
            ),
        ));
    }
    std::fs::read(path).map_err(|e| document_error(&file, format!("cannot read file: {e}")))
}

/// The text of an experiment file's bytes: at most 1 MiB of UTF-8, not blank.
pub fn text_of<'a>(bytes: &'a [u8], file: &str) -> Result<&'a str, ConfigError> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(document_error(
            file,
            format!(
                "file is {} bytes; experiment files are limited to 1 MiB",
                bytes.len()
            ),
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        let line = good.iter().filter(|b| **b == b'\n').count() + 1;
        let col = good.iter().rev().take_while(|b| **b != b'\n').count() + 1;
        ConfigError {
            line,
            col,
            ..document_error(file, "file is not valid UTF-8".into())
        }
    })?;
    if text.trim().is_empty() {
        return Err(document_error(
            file,
            "file is empty; expected a mapping with `kind:` and the experiment's settings".into(),
        ));
    }
    Ok(text)
}

/// The value of `kind:` (`known` lists the kinds, for the message when it is missing).
pub fn kind_of(text: &str, file: &str, known: &str) -> Result<String, ConfigError> {
    #[derive(Deserialize)]
    struct Header {
        kind: Option<String>,
    }
    let header: Header = serde_saphyr::from_str_with_options(text, options())
        .map_err(|e| yaml_error(&e, text, file))?;
    header.kind.ok_or_else(|| ConfigError {
        field: "kind".into(),
        problem: format!("missing field; one of: {known}"),
        ..document_error(file, String::new())
    })
}

/// A problem found after parsing (`field`, `problem`), positioned at the field in `text`.
pub fn positioned(text: &str, file: &str, (field, problem): (String, String)) -> ConfigError {
    let (line, col) = locate(text, &field);
    ConfigError {
        file: file.into(),
        line,
        col,
        field,
        problem,
    }
}

/// Parses `text` into `T` and runs `validate` on it; every error is positioned.
pub fn parse_typed<T: DeserializeOwned>(
    text: &str,
    file: &str,
    validate: impl Fn(&T) -> Result<(), (String, String)>,
) -> Result<T, ConfigError> {
    let c: T = serde_saphyr::from_str_with_options(text, options())
        .map_err(|e| yaml_error(&e, text, file))?;
    validate(&c).map_err(|e| positioned(text, file, e))?;
    Ok(c)
}
